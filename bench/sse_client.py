#!/usr/bin/env python3
"""Concurrent SSE streaming client: opens N streams, measures TTFB and per-chunk delivery delay.

Python asyncio over raw sockets (one connection per stream, HTTP/1.1, chunked decoding done
here). Streams are opened at --ramp-per-s (so listen backlogs do not drop SYNs), and all are
bounded by --timeout seconds overall: a stream not finished by then counts as incomplete.

Per stream it records
  ttfb_head   send -> first response byte (status line);
  ttfb_data   send -> first `data:` event;
  per chunk   delivery = receive time - the emission time the fake upstream wrote into the
              chunk ("system_fingerprint":"t<monotonic ns>"; CLOCK_MONOTONIC is shared by all
              processes), i.e. how long the chunk spent between the upstream's write() and the
              client's read, whatever sits in between;
  gaps        inter-arrival time of consecutive content chunks.
A chunk "held back" is one delivered later than --gap-ms after emission: it was not forwarded
as it arrived (it waited for the next chunk or for a buffer to fill).

Prints one line `SSEJSON {...}` with the aggregates (times in ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time

FP = re.compile(rb'"system_fingerprint":"t(\d+)"')


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


class Stats:
    def __init__(self) -> None:
        self.open = 0
        self.max_open = 0
        self.ttfb_head: list[float] = []
        self.ttfb_data: list[float] = []
        self.delivery: list[float] = []
        self.gaps: list[float] = []
        self.events = 0
        self.heartbeats = 0
        self.completed = 0
        self.failed = 0
        self.statuses: dict[str, int] = {}
        self.errors: dict[str, int] = {}


async def one_stream(host: str, port: int, request: bytes, st: Stats, deadline: float) -> None:
    t_send = time.monotonic_ns()
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        st.open += 1
        st.max_open = max(st.max_open, st.open)
        t_send = time.monotonic_ns()
        writer.write(request)
        buf = bytearray()
        # --- head
        while b"\r\n\r\n" not in buf:
            data = await asyncio.wait_for(reader.read(65536), timeout=max(0.01, deadline - time.monotonic()))
            if not data:
                raise ConnectionError("closed before the head")
            if not buf:
                st.ttfb_head.append((time.monotonic_ns() - t_send) / 1e6)
            buf += data
        end = buf.index(b"\r\n\r\n")
        head = bytes(buf[:end]).decode("latin-1")
        del buf[:end + 4]
        status = head.split(" ", 2)[1]
        st.statuses[status] = st.statuses.get(status, 0) + 1
        lower = head.lower()
        chunked = "transfer-encoding: chunked" in lower
        if status != "200":
            # An error answer (JSON with Content-Length): keep its message, do not wait for [DONE].
            length = 0
            for line in lower.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            while len(buf) < length:
                data = await asyncio.wait_for(reader.read(65536), timeout=max(0.01, deadline - time.monotonic()))
                if not data:
                    break
                buf += data
            text = bytes(buf[:length or len(buf)]).decode("utf-8", "replace")
            m = re.search(r'"message"\s*:\s*"([^"]{0,160})', text)
            key = f"HTTP {status}: {m.group(1) if m else text[:160]}"
            st.errors[key] = st.errors.get(key, 0) + 1
            st.failed += 1
            return
        # --- body: de-chunk incrementally, split SSE events on blank lines
        raw = buf  # undecoded bytes
        body = bytearray()
        first_data = True
        last_arrival = None
        done = False
        eof = False
        while not done:
            # decode what we have
            if chunked:
                while True:
                    nl = raw.find(b"\r\n")
                    if nl < 0:
                        break
                    size = int(bytes(raw[:nl]).split(b";")[0] or b"0", 16)
                    if size == 0:
                        done = True
                        break
                    if len(raw) < nl + 2 + size + 2:
                        break
                    body += raw[nl + 2:nl + 2 + size]
                    del raw[:nl + 2 + size + 2]
            else:
                body += raw
                raw.clear()
            now = time.monotonic_ns()
            while True:
                sep = body.find(b"\n\n")
                if sep < 0:
                    break
                ev = bytes(body[:sep])
                del body[:sep + 2]
                if ev.startswith(b":"):
                    st.heartbeats += 1
                    continue
                st.events += 1
                if first_data:
                    st.ttfb_data.append((now - t_send) / 1e6)
                    first_data = False
                m = FP.search(ev)
                if m:
                    st.delivery.append((now - int(m.group(1))) / 1e6)
                    if last_arrival is not None:
                        st.gaps.append((now - last_arrival) / 1e6)
                    last_arrival = now
                if ev.strip() == b"data: [DONE]":
                    done = True
            if done or eof:
                break
            data = await asyncio.wait_for(reader.read(65536), timeout=max(0.01, deadline - time.monotonic()))
            if not data:
                eof = True
                if chunked:
                    break
            raw += data
        if done:
            st.completed += 1
        else:
            st.failed += 1
            st.errors["ended early"] = st.errors.get("ended early", 0) + 1
    except asyncio.TimeoutError:
        st.failed += 1
        st.errors["overall timeout"] = st.errors.get("overall timeout", 0) + 1
    except Exception as e:  # noqa: BLE001
        st.failed += 1
        key = type(e).__name__
        st.errors[key] = st.errors.get(key, 0) + 1
    finally:
        if writer is not None:
            st.open -= 1
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except Exception:  # noqa: BLE001
                pass


async def run(args) -> dict:
    headers = [f"POST {args.path} HTTP/1.1", f"Host: {args.host}:{args.port}", "Content-Type: application/json",
               "Accept: text/event-stream", f"Content-Length: {len(args.body.encode())}"]
    if args.auth:
        headers.append(f"Authorization: {args.auth}")
    request = ("\r\n".join(headers) + "\r\n\r\n").encode() + args.body.encode()
    st = Stats()
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    tasks = []
    interval = 1.0 / args.ramp_per_s if args.ramp_per_s > 0 else 0.0
    for i in range(args.streams):
        if interval:
            wait = t0 + i * interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        if time.monotonic() >= deadline:
            break
        tasks.append(asyncio.create_task(one_stream(args.host, args.port, request, st, deadline)))
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    held = sum(1 for d in st.delivery if d > args.gap_ms) if args.gap_ms else None

    def r(v):
        return None if v is None else round(v, 3)

    return {
        "label": args.label, "streams": args.streams, "started": len(tasks), "completed": st.completed,
        "failed": st.failed, "errors": st.errors, "statuses": st.statuses, "max_open": st.max_open,
        "wall_s": round(wall, 2), "events": st.events, "heartbeats": st.heartbeats,
        "chunks_timed": len(st.delivery), "expected_chunks": args.expect_chunks * args.streams if args.expect_chunks else None,
        "ttfb_head_p50": r(pct(st.ttfb_head, 50)), "ttfb_head_p99": r(pct(st.ttfb_head, 99)),
        "ttfb_data_p50": r(pct(st.ttfb_data, 50)), "ttfb_data_p99": r(pct(st.ttfb_data, 99)),
        "ttfb_data_max": r(max(st.ttfb_data) if st.ttfb_data else None),
        "delivery_p50": r(pct(st.delivery, 50)), "delivery_p99": r(pct(st.delivery, 99)),
        "delivery_max": r(max(st.delivery) if st.delivery else None),
        "gap_p50": r(pct(st.gaps, 50)), "gap_p99": r(pct(st.gaps, 99)),
        "held_back": held,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--body", required=True)
    ap.add_argument("--auth", default="")
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--ramp-per-s", type=float, default=1000.0, help="stream opening rate (0 = all at once)")
    ap.add_argument("--timeout", type=float, default=60.0, help="overall bound, seconds")
    ap.add_argument("--gap-ms", type=float, default=0.0, help="the upstream's chunk gap (for held_back)")
    ap.add_argument("--expect-chunks", type=int, default=0, help="timed chunks per stream the upstream sends")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("sse_client: loopback targets only", file=sys.stderr)
        return 2
    out = asyncio.run(run(args))
    print("SSEJSON " + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
