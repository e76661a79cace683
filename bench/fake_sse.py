#!/usr/bin/env python3
"""Zero-latency fake OpenAI upstream for streaming (and JSON) benchmarks.

A single-threaded asyncio server on loopback, written against the raw transport (no HTTP
framework) so it stays cheap at 1,000 concurrent streams.

  POST /v1/chat/completions            (the OpenAI shape: direct, nginx relay, LiteLLM)
  POST /v1/proxy/chat/completions      (the 0G provider shape: zgproxy's 0G backend)
  POST /v1/proxy/v1/chat/completions

With "stream": true in the body it answers an SSE stream of --chunks chat.completion.chunk
events, --gap-ms apart on an absolute schedule (chunk k at t0 + k*gap), then a finish chunk,
a usage chunk when the body asked for stream_options.include_usage (every chunk then carries
"usage":null, like OpenAI), and [DONE]. Each chunk carries its emission time
(time.monotonic_ns(), CLOCK_MONOTONIC, shared by every process on the machine) in
"system_fingerprint":"t<ns>", so a client can measure how long each chunk took to reach it.
Without "stream": true it answers the canned chat.completion JSON of nginx.

Prints "FAKE READY <port>" on stdout when listening. Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

CANNED = (b'{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model",'
          b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! This is a canned answer from '
          b'the benchmark upstream.","refusal":null},"logprobs":null,"finish_reason":"stop"}],'
          b'"usage":{"prompt_tokens":12,"completion_tokens":11,"total_tokens":23,'
          b'"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_bench"}')

ROUTES = {b"/v1/chat/completions", b"/v1/proxy/chat/completions", b"/v1/proxy/v1/chat/completions"}


def chunk_frame(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


class Handler(asyncio.Protocol):
    chunks = 30
    gap = 0.1
    streams_open = 0
    streams_max = 0
    streams_total = 0

    def __init__(self) -> None:
        self.buf = bytearray()
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        self.closed = True

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        self.buf += data
        self.next_request()

    def next_request(self) -> None:
        while not self.busy and not self.closed:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            lines = head.split(b"\r\n")
            try:
                method, path, _version = lines[0].split(b" ", 2)
            except ValueError:
                self.transport.close()
                return
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value.strip())
                elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                    self.reply(411, b'{"error":"chunked request bodies are not supported"}')
                    self.transport.close()
                    return
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            path = path.split(b"?", 1)[0]
            if method != b"POST" or path not in ROUTES:
                self.reply(404, b'{"error":"not found"}')
                continue
            compact = body.replace(b" ", b"")
            if b'"stream":true' in compact:
                usage = b'"include_usage":true' in compact
                self.busy = True
                asyncio.get_running_loop().create_task(self.stream(usage))
                return
            self.reply(200, CANNED, extra=b"ZG-Res-Key: bench-fake\r\n")

    def reply(self, status: int, body: bytes, extra: bytes = b"") -> None:
        reason = {200: b"OK", 404: b"Not Found", 411: b"Length Required"}.get(status, b"OK")
        self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
                             % (status, reason, len(body), extra, body))

    async def stream(self, usage: bool) -> None:
        cls = Handler
        cls.streams_open += 1
        cls.streams_total += 1
        cls.streams_max = max(cls.streams_max, cls.streams_open)
        t = self.transport
        try:
            t.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                    b"ZG-Res-Key: bench-fake\r\nTransfer-Encoding: chunked\r\n\r\n")
            tail = b',"usage":null}' if usage else b"}"
            start = time.monotonic()
            for k in range(cls.chunks):
                if k:
                    delay = start + k * cls.gap - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if self.closed:
                    return
                delta = b'{"role":"assistant","content":"tok"}' if k == 0 else b'{"content":" tok"}'
                ev = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
                      b'"model":"bench-model","system_fingerprint":"t%d","choices":[{"index":0,"delta":%s,'
                      b'"logprobs":null,"finish_reason":null}]%s\n\n' % (time.monotonic_ns(), delta, tail))
                t.write(chunk_frame(ev))
            out = [b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
                   b'"model":"bench-model","system_fingerprint":"t%d","choices":[{"index":0,"delta":{},'
                   b'"logprobs":null,"finish_reason":"stop"}]%s\n\n' % (time.monotonic_ns(), tail)]
            if usage:
                out.append(b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
                           b'"model":"bench-model","choices":[],"usage":{"prompt_tokens":12,'
                           b'"completion_tokens":%d,"total_tokens":%d}}\n\n' % (cls.chunks, cls.chunks + 12))
            out.append(b"data: [DONE]\n\n")
            t.write(b"".join(chunk_frame(e) for e in out) + b"0\r\n\r\n")
        finally:
            cls.streams_open -= 1
            self.busy = False
        if not self.closed:
            self.next_request()


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--chunks", type=int, default=30, help="content chunks per stream")
    ap.add_argument("--gap-ms", type=float, default=100.0, help="gap between chunks")
    args = ap.parse_args()
    Handler.chunks = args.chunks
    Handler.gap = args.gap_ms / 1000.0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Handler, "127.0.0.1", args.port, backlog=4096, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    print(f"FAKE READY {port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    print(f"fake_sse: streams total={Handler.streams_total} max concurrent={Handler.streams_max}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
