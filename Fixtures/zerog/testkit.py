"""The little check runner and helpers shared by test_provider_sim.py and test_sandbox.py.

Both end-to-end checks are plain scripts (no pytest): each check runs at once through @check,
prints one PASS/FAIL line and is counted for the closing "N passed, M failed". Both start
fixtures that announce themselves with a `MARKER {json}` line (Proc), call them over HTTP
(request) and sign app-sk session tokens (make_token). Those pieces used to be copied from one
script into the other; they live here once. What each script checks stays in the script.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import subprocess
import sys
import threading
import time
import traceback
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VERBOSE = "-v" in sys.argv

# (name, passed, detail, seconds) of every check so far
RESULTS: list[tuple[str, bool, str, float]] = []


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def fail(name: str, e: BaseException, seconds: float = 0.0) -> None:
    """Records and prints a failed check (with the traceback under -v)."""
    detail = f"{type(e).__name__}: {e}"
    RESULTS.append((name, False, detail, seconds))
    print(f"FAIL {name}: {detail}", flush=True)
    if VERBOSE:
        traceback.print_exc()


def check(name: str):
    """Decorator: run a check at once, record pass/fail and its time."""
    def deco(fn):
        t = time.monotonic()
        try:
            fn()
            RESULTS.append((name, True, "", time.monotonic() - t))
            print(f"PASS {name} ({(time.monotonic() - t) * 1000:.0f} ms)", flush=True)
        except Exception as e:  # noqa: BLE001
            fail(name, e, time.monotonic() - t)
        return fn
    return deco


def counts() -> tuple[int, int]:
    """(passed, failed) so far."""
    passed = sum(1 for r in RESULTS if r[1])
    return passed, len(RESULTS) - passed


def eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: expected {b!r}, got {a!r}")


def ok(cond, what):
    if not cond:
        raise AssertionError(what)


# --------------------------------------------------------------------------------------
# processes

class Proc:
    """A process (run from the repository root) whose stdout is scanned for `MARKER {json}`;
    stderr is collected (and echoed under -v)."""

    def __init__(self, args: list[str], marker: str, timeout: float = 90, **popen):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  **popen)
        self.stderr_lines: list[str] = []
        self.ready = None
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            r, _, _ = select.select([self.p.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                self.stop()
                raise RuntimeError(f"{marker} not seen within {timeout}s; stderr:\n" + self.stderr_text())
            line = self.p.stdout.readline()
            if not line:
                time.sleep(0.2)
                raise RuntimeError(f"process exited ({self.p.poll()}) before {marker}; stderr:\n"
                                   + self.stderr_text())
            if line.startswith(marker + " "):
                self.ready = json.loads(line[len(marker) + 1:])
                break
        self.startup = time.monotonic() - self.t0

    def _drain(self):
        for line in self.p.stderr:
            self.stderr_lines.append(line)
            if VERBOSE:
                sys.stderr.write("    | " + line)

    def stderr_text(self, n: int = 30) -> str:
        return "".join(self.stderr_lines[-n:])

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)


# --------------------------------------------------------------------------------------
# HTTP and 0G session tokens (independent of the simulator)

def request(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 30):
    """(status, {lower-case header: value}, body) of one request on a fresh connection."""
    u = urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def make_token(key: str, provider: str, *, generation: int = 0, token_id: int = 255,
               expires_at: int | None = None, timestamp: int | None = None, address: str | None = None,
               sign_key: str | None = None, v_offset: int = 0, nonce: str | None = None) -> str:
    """Authorization header exactly as PROTOCOL.md §3.2 (JSON.stringify key order)."""
    acct = Account.from_key(key)
    now_ms = int(time.time() * 1000)
    ts = now_ms if timestamp is None else timestamp
    exp = (ts + 3600 * 1000) if expires_at is None else expires_at
    obj = {"address": address or acct.address, "provider": provider, "timestamp": ts, "expiresAt": exp,
           "nonce": nonce or f"{now_ms}-{os.urandom(4).hex()}".ljust(32, "0"), "generation": generation,
           "tokenId": token_id}
    raw = json.dumps(obj, separators=(",", ":")).encode()
    h = keccak(raw)
    sig = bytearray(Account.sign_message(encode_defunct(primitive=h), sign_key or key).signature)
    ok(sig[64] in (27, 28), "eth-account signature v must be 27/28")
    sig[64] -= v_offset
    return "Bearer app-sk-" + base64.b64encode(raw + b"|" + ("0x" + bytes(sig).hex()).encode()).decode()
