"""What the fixture simulators share: their HTTP server, admin routes, request log and faults.

The simulated upstreams (backends/openai_sim.py, backends/ocf_head_sim.py, backends/replicate_sim.py
and zerog/provider_sim.py) speak different APIs but need the same things around them: an HTTP/1.1
server on loopback that writes its own response heads, a request log and injected faults behind
/__sim/state, /__sim/faults and /__sim/reset, and the same process life: one `<NAME> READY {json}`
line on stdout, logs on stderr, exit on SIGTERM even when started with signals blocked, and exit
when the parent dies (--exit-with-parent). Each simulator used to carry its own copy of all of that.
They keep only what they answer; the rest is here, once.

Standard library only. The simulators are run as scripts (`python Fixtures/backends/openai_sim.py`,
from any working directory), so each puts this folder on sys.path relative to its own file:

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Fixtures/
    import simkit
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The log format names the simulator (see setup_process), so the logger's own name never shows.
log = logging.getLogger("simkit")


def cjson(obj: Any) -> bytes:
    """Compact JSON, UTF-8 (not ASCII-escaped)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def fold_headers(headers: Any) -> dict[str, str]:
    """Request headers as one dict; a repeated header's values are joined with ", "."""
    out: dict[str, str] = {}
    for k, v in headers.items():
        out[k] = out[k] + ", " + v if k in out else v
    return out


# ======================================================================================
# Request log and faults (GET /__sim/state, POST /__sim/faults, POST /__sim/reset)

class RequestLog:
    """Counts requests per route and keeps the last 20 as received."""

    def __init__(self, lock: threading.RLock):
        self.lock = lock
        self.reset()

    def record(self, method: str, raw_path: str, route: str, headers: Any, body: bytes) -> dict:
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if body else None
        except ValueError:
            parsed = None
        entry = {"method": method, "path": raw_path, "route": route, "headers": fold_headers(headers),
                 "headerList": [[k, v] for k, v in headers.items()], "body": text, "json": parsed,
                 "bodySha256": hashlib.sha256(body).hexdigest(), "time": time.time()}
        with self.lock:
            self.requests += 1
            self.by_route[f"{method} {route}"] = self.by_route.get(f"{method} {route}", 0) + 1
            self.last_request = entry
            self.recent.append(entry)
            del self.recent[:-20]
        return entry

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.by_route: dict[str, int] = {}
            self.last_request: dict | None = None
            self.recent: list[dict] = []

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "byRoute": dict(self.by_route), "lastRequest": self.last_request,
                    "recentRequests": list(self.recent)}


class FaultSwitch:
    """The fault set by POST /__sim/faults: {"mode", "count"?, ...the mode's own keys}.

    It applies to the next `count` requests the simulator chooses to apply it to (take()), or to
    all of them without a count, until it is set to "none". With "match" (a string) it applies
    only to requests whose body contains it, so a test sharing a simulator with others can fault
    its own request and no one else's. `defaults` are keys every fault has (after mode and
    count), with the default where the request leaves them out or empty.
    """

    def __init__(self, modes: tuple[str, ...], lock: threading.RLock, defaults: dict | None = None):
        self.modes = modes
        self.lock = lock
        self.defaults = dict(defaults or {})
        self.reset()

    def _none(self) -> dict:
        return {"mode": "none", "count": None, **self.defaults}

    def set(self, req: Any) -> dict:
        """Validates and sets a fault; ValueError says what is wrong (answered as 400)."""
        if not isinstance(req, dict):
            raise ValueError("expected a JSON object")
        mode = req.get("mode", "none")
        if mode not in self.modes:
            raise ValueError(f"unknown fault mode {mode!r}; one of {', '.join(self.modes)}")
        count = req.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ValueError("count must be a positive integer")
        match = req.get("match")
        if match is not None and (not isinstance(match, str) or not match):
            raise ValueError("match must be a non-empty string")
        f = {k: v for k, v in req.items() if k not in ("mode", "count", *self.defaults)}
        f["mode"] = mode
        f["count"] = count if mode != "none" else None
        for k, v in self.defaults.items():
            f[k] = req.get(k) or v
        with self.lock:
            self.current = f
        return dict(f)

    def take(self, body: bytes = b"") -> dict:
        """The fault for this request, whose body is `body` (mode "none" when there is none or
        its "match" is not in the body); uses up one of its count."""
        with self.lock:
            f = dict(self.current)
            if f["mode"] == "none":
                return f
            match = f.get("match")
            if match is not None and match.encode("utf-8") not in body:
                return self._none()
            self.applied += 1
            if f.get("count") is not None:
                left = f["count"] - 1
                self.current = self._none() if left <= 0 else dict(self.current, count=left)
            return f

    def reset(self) -> None:
        with self.lock:
            self.current = self._none()
            self.applied = 0

    def snapshot(self) -> dict:
        with self.lock:
            return {"faults": dict(self.current), "faultsApplied": self.applied}


class SimState:
    """Request log, faults and the count of clients that hung up mid-stream, under one lock."""

    def __init__(self, fault_modes: tuple[str, ...]):
        self.lock = threading.RLock()
        self.request_log = RequestLog(self.lock)
        self.faults = FaultSwitch(fault_modes, self.lock)
        self.disconnects = 0

    def count_disconnect(self) -> None:
        with self.lock:
            self.disconnects += 1

    def reset(self) -> None:
        with self.lock:
            self.request_log.reset()
            self.faults.reset()
            self.disconnects = 0

    def snapshot(self) -> dict:
        with self.lock:
            return {**self.request_log.snapshot(), **self.faults.snapshot(), "disconnects": self.disconnects}


# ======================================================================================
# HTTP

def chunk(data: bytes, chunked: bool, last: bool = False) -> bytes:
    """`data` as written to a streamed response: one chunk (plus the terminating one when last)."""
    if not chunked:
        return data
    out = b"%x\r\n" % len(data) + data + b"\r\n"
    return out + b"0\r\n\r\n" if last else out


class SimHandler(BaseHTTPRequestHandler):
    """Base of the simulators' request handlers: response heads written by hand (so streams can be
    flushed per event), keep-alive, chunked request bodies, and the common /__sim/ admin routes.

    A subclass implements _dispatch(method) and the admin_* hooks; do_GET, do_POST and do_DELETE
    call _dispatch (a subclass adds the other methods it serves).
    """

    protocol_version = "HTTP/1.1"
    sys_version = ""
    disable_nagle_algorithm = True  # TCP_NODELAY
    timeout = 300  # idle keep-alive connections
    json_type = "application/json"  # the Content-Type of send_bytes unless given
    server_header = True  # send "Server: <server_version>"

    def log_message(self, fmt: str, *a: Any) -> None:
        log.debug("%s %s", self.address_string(), fmt % a)

    # ---- low-level I/O

    def _head_bytes(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(usegmt=True)}"]
        if self.server_header:
            lines.append(f"Server: {self.server_version}")
        lines += [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def cors_headers(self) -> list[tuple[str, str]]:
        """Headers added after the others to every answer (none unless a subclass says so)."""
        return []

    def send_bytes(self, status: int, body: bytes, content_type: str | None = None,
                   extra: list[tuple[str, str]] | None = None) -> None:
        headers = [("Content-Type", content_type or self.json_type), ("Content-Length", str(len(body)))]
        headers += (extra or []) + self.cors_headers()
        if self.close_connection:
            headers.append(("Connection", "close"))
        self.wfile.write(self._head_bytes(status, headers) + body)
        self.wfile.flush()

    def send_json(self, status: int, obj: Any, extra: list[tuple[str, str]] | None = None) -> None:
        self.send_bytes(status, cjson(obj), extra=extra)

    def begin_stream(self, status: int, headers: list[tuple[str, str]]) -> bool:
        """Writes the head of a streamed answer: chunked on HTTP/1.1, else closed at the end.
        Returns whether the body is chunked (see chunk())."""
        chunked = self.request_version != "HTTP/1.0"
        if chunked:
            headers = headers + [("Transfer-Encoding", "chunked")]
        else:
            headers = [h for h in headers if h[0] != "Connection"] + [("Connection", "close")]
            self.close_connection = True
        self.wfile.write(self._head_bytes(status, headers))
        self.wfile.flush()
        return chunked

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def abort(self) -> None:
        """Closes the connection at once, whatever was sent (the "drop" faults)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- dispatch

    def _dispatch(self, method: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- admin: /__sim/state, /__sim/faults, /__sim/reset and a simulator's own routes

    def admin_state(self) -> dict:
        raise NotImplementedError

    def admin_faults(self) -> FaultSwitch:
        raise NotImplementedError

    def admin_reset(self) -> None:
        raise NotImplementedError

    def admin_route(self, method: str, path: str, body: bytes) -> bool:
        """A simulator's own admin route; False when `path` is none of them (404)."""
        return False

    def _admin(self, method: str, path: str, body: bytes) -> None:
        if path == "/__sim/state" and method == "GET":
            self.send_json(200, self.admin_state())
        elif path == "/__sim/faults" and method == "POST":
            try:
                f = self.admin_faults().set(json.loads(body or b"{}"))
            except ValueError as e:
                self.send_json(400, {"error": str(e)})
                return
            log.info("faults set to %s", f)
            self.send_json(200, {"faults": f})
        elif path == "/__sim/reset" and method == "POST":
            self.admin_reset()
            self.send_json(200, {"ok": True})
        elif not self.admin_route(method, path, body):
            self.send_json(404, {"error": "unknown admin route"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def url_of(server: ThreadingHTTPServer, host: str) -> str:
    """http://HOST:PORT of a listening server (a wildcard host is announced as 127.0.0.1)."""
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{host}:{server.server_address[1]}"


# ======================================================================================
# Process life

def exit_on_signals(hup: bool = True) -> None:
    """Exit 0 on SIGTERM (and SIGHUP), even when started with those signals blocked."""
    # A parent that spawned us with these signals blocked (Swift's Foundation.Process on Linux
    # does) leaves them blocked here too; SIGTERM would then never stop us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if hup:
        signal.signal(signal.SIGHUP, lambda *_: os._exit(0))


def watch_parent(interval: float = 0.2) -> None:
    ppid = os.getppid()
    while True:
        time.sleep(interval)
        if os.getppid() != ppid:
            log.info("parent %d gone; exiting", ppid)
            os._exit(0)


def setup_process(name: str, verbose: bool, exit_with_parent: bool, parent_poll: float = 0.2) -> None:
    """Logs to stderr as "<time> NAME LEVEL message"; with exit_with_parent, exits when the parent does
    (checked every parent_poll seconds)."""
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if verbose else logging.INFO,
                        format=f"%(asctime)s {name} %(levelname)s %(message)s")
    if exit_with_parent:
        threading.Thread(target=watch_parent, args=(parent_poll,), daemon=True).start()


def announce_ready(prefix: str, ready: dict) -> None:
    """The one stdout line a test waits for: `PREFIX READY {json}`."""
    sys.stdout.write(f"{prefix} READY " + json.dumps(ready, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def serve(server: ThreadingHTTPServer) -> None:
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
