#!/usr/bin/env python3
"""Fixed-rate (open-loop) HTTP/1.1 load generator for POST requests.

Debian ships wrk but not wrk2, and wrk is closed-loop (each connection waits for its answer
before sending again), so it cannot hold a fixed rate. This asyncio client schedules request i
at t0 + i/rate whatever happened before, sends it on a free keep-alive connection (opening one
if fewer than --max-conns are open, else queueing), and measures latency from the *scheduled*
send time, so queueing behind a slow answer counts (no coordinated omission).

Bounded: --duration seconds of sending, then at most --drain seconds to collect answers.
Prints one line `RATEJSON {...}` (latencies in ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        i = lower.find(b"content-length:")
        if i >= 0:
            n = int(lower[i + 15:lower.index(b"\r\n", i)])
            await self.reader.readexactly(n)
        elif b"transfer-encoding: chunked" in lower:
            while True:
                line = await self.reader.readuntil(b"\r\n")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            raise ConnectionError("response without length")
        if b"connection: close" in lower:
            raise ConnectionResetError("server closed")
        return status


async def run(args) -> dict:
    headers = [f"POST {args.path} HTTP/1.1", f"Host: {args.host}:{args.port}", "Content-Type: application/json",
               f"Content-Length: {len(args.body.encode())}"]
    if args.auth:
        headers.append(f"Authorization: {args.auth}")
    request = ("\r\n".join(headers) + "\r\n\r\n").encode() + args.body.encode()
    idle: list[Conn] = []
    waiters: list[asyncio.Future] = []
    opened = 0
    lat: list[float] = []
    errors: dict[str, int] = {}
    statuses: dict[int, int] = {}
    loop = asyncio.get_running_loop()

    async def get_conn() -> Conn:
        nonlocal opened
        if idle:
            return idle.pop()
        if opened < args.max_conns:
            opened += 1
            try:
                r, w = await asyncio.open_connection(args.host, args.port)
            except Exception:
                opened -= 1
                raise
            return Conn(r, w)
        fut = loop.create_future()
        waiters.append(fut)
        return await fut

    def put_conn(c: Conn) -> None:
        while waiters:
            fut = waiters.pop(0)
            if not fut.done():
                fut.set_result(c)
                return
        idle.append(c)

    async def one(scheduled: float) -> None:
        nonlocal opened
        try:
            c = await get_conn()
        except Exception as e:  # noqa: BLE001
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            return
        try:
            status = await c.exchange(request)
            lat.append((time.monotonic() - scheduled) * 1000.0)
            statuses[status] = statuses.get(status, 0) + 1
            put_conn(c)
        except Exception as e:  # noqa: BLE001
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            opened -= 1
            c.writer.close()

    tasks = set()
    t0 = time.monotonic() + 0.05
    n = int(args.rate * args.duration)
    late = 0
    for i in range(n):
        at = t0 + i / args.rate
        wait = at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.005:
            late += 1
        t = asyncio.create_task(one(at))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    sent_wall = time.monotonic() - t0
    if tasks:
        done, pending = await asyncio.wait(tasks, timeout=args.drain)
        for t in pending:
            t.cancel()
        unfinished = len(pending)
    else:
        unfinished = 0
    for c in idle:
        c.writer.close()

    def r(v):
        return None if v is None else round(v, 3)

    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return {
        "label": args.label, "target_rps": args.rate, "scheduled": n, "completed": len(lat), "ok": ok,
        "achieved_rps": round(len(lat) / sent_wall, 1) if sent_wall > 0 else None, "late_sends": late,
        "unfinished": unfinished, "errors": errors, "statuses": {str(k): v for k, v in statuses.items()},
        "conns": opened, "p50": r(pct(lat, 50)), "p90": r(pct(lat, 90)), "p99": r(pct(lat, 99)),
        "p999": r(pct(lat, 99.9)), "max": r(max(lat) if lat else None),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--body", required=True)
    ap.add_argument("--auth", default="")
    ap.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    ap.add_argument("--drain", type=float, default=10.0, help="seconds to wait for the last answers")
    ap.add_argument("--max-conns", type=int, default=64)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("loadgen: loopback targets only", file=sys.stderr)
        return 2
    out = asyncio.run(run(args))
    print("RATEJSON " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
