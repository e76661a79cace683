#!/usr/bin/env python3
"""A JSON-RPC relay that misbehaves on purpose, for testing client retries and timeouts.

It forwards POSTs to an upstream node, but first answers the next N requests with a fault
chosen at runtime:

    POST /__faults {"status": 429, "count": 2, "retryAfter": 0}   # HTTP 429 twice
    POST /__faults {"status": 503, "count": 1}                       # one 503
    POST /__faults {"delayMs": 2000, "count": 1}                     # one slow answer
    GET  /__stats                                                    # {"requests": n, "faulted": m}

Start: rpcfaults.py --upstream URL [--port 0] [--exit-with-parent]; prints
`RPCFAULTS READY {"url": "http://127.0.0.1:PORT"}`.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.fault = None
        self.remaining = 0
        self.requests = 0
        self.faulted = 0

    def take(self):
        with self.lock:
            self.requests += 1
            if self.remaining > 0 and self.fault is not None:
                self.remaining -= 1
                self.faulted += 1
                return dict(self.fault)
            return None


def make_handler(upstream, state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            for name, value in headers:
                head += f"{name}: {value}\r\n"
            self.wfile.write(head.encode() + b"\r\n" + data)
            self.wfile.flush()

        def do_GET(self):
            if self.path == "/__stats":
                with state.lock:
                    self.reply(200, {"requests": state.requests, "faulted": state.faulted})
            else:
                self.reply(404, {"error": "not found"})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/__faults":
                spec = json.loads(body or b"{}")
                with state.lock:
                    state.fault = spec
                    state.remaining = int(spec.get("count", 1))
                    state.requests = 0
                    state.faulted = 0
                self.reply(200, {"ok": True})
                return
            fault = state.take()
            if fault:
                if fault.get("delayMs"):
                    time.sleep(fault["delayMs"] / 1000)
                status = fault.get("status")
                if status:
                    headers = [("Retry-After", str(fault["retryAfter"]))] if "retryAfter" in fault else []
                    self.reply(status, {"error": f"injected {status}"}, headers)
                    return
            request = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                self.reply(200, response.read())

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-with-parent", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.upstream, State()))
    server.daemon_threads = True
    if args.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.2)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    print("RPCFAULTS READY " + json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    # A parent that spawned this process from a thread with these signals blocked (Swift's
    # Foundation.Process on Linux does) leaves them blocked here too; SIGTERM would then never stop it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    sys.exit(main())
