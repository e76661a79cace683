#!/usr/bin/env python3
"""Simulated OCF / OpenTela head node (with its llm workers), for tests.

Standard library only. Mirrors ResearchComputer/OpenTela's head (reference notes §5.1):
the DNT table, routing by identity group, the `{"error":"<string>"}` errors, X-Computing-Node.
The workers behind it answer like vLLM/OpenAI: "Echo: <last user message>".

Usage:
  .venv/bin/python Fixtures/backends/ocf_head_sim.py [--port 0] [--host 127.0.0.1]
      [--models m1,m2] [--shape current|legacy] [--replicas 1] [--wildcard] [--catch-all]
      [--tokens-per-second N] [--flavor openai|vllm] [--exit-with-parent] [--verbose]

On ready it prints one stdout line (everything else goes to stderr):
  OCF READY {"url":"http://127.0.0.1:PORT","baseUrl":"http://127.0.0.1:PORT/v1/service/llm/v1",
             "shape":"current","models":[...],"peers":{"<model>":["12D3KooW…"],…},"headPeer":"…",
             "disconnectedPeer":"…","disconnectedModel":"…","nonLlmPeer":"…","nonLlmService":"…",
             "followerPeer":"…","emptyGroupPeer":"…","wildcardPeer":"…"|null,"catchAllPeer":"…"|null}

DNT table (GET /v1/dnt/table), only peers with connected == true:
  current: {"/<peerId>": Peer, …} — Peer as in the notes (id, latency, privileged, owner, provider_id,
           current_offering, available_offering, role, status, last_seen, version, public_address,
           public_port, relay_peer, connected, load, hardware, labels, service[]).
  legacy:  {"peers": [Peer with "peer_id" instead of "id", no owner/provider_id/labels/load]}.
  Peers: the head itself (Go nil slices: "service": null, "role": null, …); one worker per model and
  replica with one service {"name":"llm", …, "identity_group":["model=<name>"]}; a multi-node
  follower with "service": []; a worker whose llm service has an empty identity_group (never
  selected); a worker offering only a non-llm service ("diffusion", model=stabilityai/sdxl); a
  disconnected llm worker (model "sim/offline-model") that is absent from the table; with
  --wildcard a worker with ["model=*"], with --catch-all one with ["all"].

Routes:
  GET  /v1/dnt/table                 the table above
  GET  /v1/dnt/peers                 every peer, disconnected ones too (current shape: keyed map)
  GET  /v1/dnt/peers_status          [{"id","connectedness"}]
  GET  /v1/health                    {"status":"ok"}
  ANY  /v1/service/<service>/<path>  routed like the head: body "model" (or X-Otela-Identity-Group:
                                     key=value) against identity groups; X-Otela-Fallback 0|1|2 adds
                                     the wildcard / catch-all tiers; a random candidate in the best tier.
       The chosen llm worker serves POST /v1/chat/completions, /v1/completions, /v1/embeddings,
       GET /v1/models and GET /health (else 404 {"detail":"Not Found"}), with the response header
       X-Computing-Node: <peerId>. SSE is flushed per event; in the current shape the head appends
       the comment line ": otela-head-first-byte=<s>" after the worker's stream (after [DONE]).
  Errors are {"error":"<string>"} (not OpenAI envelopes):
       400 "no providers found"                          no connected peer offers <service>
       503 "No provider found for the requested service." providers exist, none matches the model
       503 "Service degraded, try again later" + Retry-After: 5   (5xx fault)
       502 "all workers unreachable for service <name>"  (unreachable fault; also any non-llm
                                                           service, whose workers are not simulated)
  Errors produced by a worker (bad body, 429 fault, model not served by a header-routed worker)
  are the worker's own OpenAI/vLLM envelopes, passed through with X-Computing-Node.
Admin:
  GET  /__sim/state    requests, byRoute, lastRequest (body + headers as received), recentRequests,
                       routed {peerId: n}, lastNode, faults
  POST /__sim/faults   {"mode":"none|slow|stall|5xx|429|drop|midstream_error|unreachable",
                        "count":N?, "delayMs":ms?}
  POST /__sim/peers    {"action":"add","model":M} | {"action":"connect"|"disconnect"|"remove","peerId":P}
  POST /__sim/reset    clear the request log, routing counts and faults
Faults apply to routed requests (after candidate selection; the 5xx and unreachable faults are
answered by the head, the others by the worker): see openai_sim.py for slow/stall/429/drop/
midstream_error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import random
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("ocf_head_sim")

# ======================================================================================
# OpenAI answer generation: the same as the OpenAI-compatible simulator's (workers behind an
# OCF head run vLLM/SGLang, which speak OpenAI).

from openai_sim import (  # noqa: E402  (this script's folder is on sys.path when run)
    FLAVORS,
    SYSTEM_FINGERPRINT,
    ApiError,
    oai_error,
    cjson,
    words,
    content_text,
    usage_obj,
    int_field,
    n_of,
    stops_of,
    answer_pieces,
    tool_functions,
    plan_tool_calls,
    sse,
    Answer,
    stream_flags,
    build_chat,
    build_completion,
    embedding_vector,
    build_embeddings,
    BUILDERS,
)


# ======================================================================================
# Simulator state: request log and faults

FAULT_MODES = ("none", "slow", "stall", "5xx", "429", "drop", "midstream_error")


class SimState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.by_route: dict[str, int] = {}
        self.last_request: dict | None = None
        self.recent: list[dict] = []
        self.faults: dict[str, Any] = {"mode": "none", "count": None}
        self.faults_applied = 0
        self.disconnects = 0

    def record(self, method: str, raw_path: str, route: str, headers: Any, body: bytes) -> dict:
        hdrs: dict[str, str] = {}
        for k, v in headers.items():
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if body else None
        except ValueError:
            parsed = None
        entry = {"method": method, "path": raw_path, "route": route, "headers": hdrs,
                 "headerList": [[k, v] for k, v in headers.items()], "body": text, "json": parsed,
                 "bodySha256": hashlib.sha256(body).hexdigest(), "time": time.time()}
        with self.lock:
            self.requests += 1
            self.by_route[f"{method} {route}"] = self.by_route.get(f"{method} {route}", 0) + 1
            self.last_request = entry
            self.recent.append(entry)
            del self.recent[:-20]
        return entry

    def set_faults(self, req: Any) -> dict:
        if not isinstance(req, dict):
            raise ValueError("expected a JSON object")
        mode = req.get("mode", "none")
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {', '.join(FAULT_MODES)}")
        count = req.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ValueError("count must be a positive integer")
        f = {k: v for k, v in req.items() if k not in ("mode", "count")}
        f["mode"] = mode
        f["count"] = count if mode != "none" else None
        with self.lock:
            self.faults = f
        return dict(f)

    def take_fault(self) -> dict:
        with self.lock:
            f = dict(self.faults)
            if f["mode"] == "none":
                return f
            self.faults_applied += 1
            if f.get("count") is not None:
                left = f["count"] - 1
                self.faults = {"mode": "none", "count": None} if left <= 0 else dict(self.faults, count=left)
            return f

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.by_route = {}
            self.last_request = None
            self.recent = []
            self.faults = {"mode": "none", "count": None}
            self.faults_applied = 0
            self.disconnects = 0

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "byRoute": dict(self.by_route), "lastRequest": self.last_request,
                    "recentRequests": list(self.recent), "faults": dict(self.faults),
                    "faultsApplied": self.faults_applied, "disconnects": self.disconnects}


FAULT_MODES = ("none", "slow", "stall", "5xx", "429", "drop", "midstream_error", "unreachable")

# ======================================================================================
# The peer table

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return out


def peer_id(seed: str) -> str:
    """A libp2p-looking Ed25519 peer id, deterministic per seed."""
    return "12D3KooW" + b58(hashlib.sha256(("ocf-sim:" + seed).encode()).digest()).ljust(44, "1")[:44]


GPU_HW = {"gpus": [{"name": "GH200", "total_memory": 97871, "used_memory": 0}], "host_memory": 0,
          "host_memory_bandwidth": 0, "host_memory_used": 0}


class PeerRec:
    def __init__(self, pid: str, kind: str, services: list | None, connected: bool = True,
                 models: list[str] | None = None, role: list[str] | None = None, labels: dict | None = None):
        self.id = pid
        self.kind = kind
        self.services = services
        self.connected = connected
        self.models = models or []
        self.role = role
        self.labels = labels
        self.last_seen = int(time.time())

    def current(self) -> dict:
        if self.kind == "head":  # the head's own entry: Go nil slices marshal as null
            return {"id": self.id, "latency": 0, "privileged": False, "owner": "", "current_offering": None,
                    "role": None, "status": "", "available_offering": None, "service": None,
                    "last_seen": self.last_seen, "version": "v0.0.6", "public_address": "127.0.0.1",
                    "hardware": {"gpus": None, "host_memory": 0, "host_memory_bandwidth": 0, "host_memory_used": 0},
                    "connected": self.connected, "load": None}
        owner = b58(hashlib.sha256(("owner:" + self.id).encode()).digest())
        p = {"id": self.id, "latency": 0, "privileged": False, "owner": owner,
             "provider_id": "otela-" + owner[:8], "current_offering": [], "available_offering": [],
             "role": self.role if self.role is not None else ["worker"],
             "status": "ready" if self.connected else "disconnected", "last_seen": self.last_seen,
             "version": "v0.0.6", "public_address": "", "public_port": "43905", "relay_peer": "",
             "connected": self.connected, "load": [0], "hardware": GPU_HW}
        if self.labels is not None:
            p["labels"] = self.labels
        p["service"] = self.services
        return p

    def legacy(self) -> dict:
        return {"peer_id": self.id, "latency": 0, "privileged": False, "current_offering": [],
                "role": self.role if self.role is not None else (["head"] if self.kind == "head" else ["worker"]),
                "status": "connected" if self.connected else "disconnected", "available_offering": [],
                "service": self.services if self.services is not None else [], "last_seen": self.last_seen,
                "version": "0.0.1", "public_address": "", "hardware": GPU_HW, "connected": self.connected}


def llm_service(groups: list[str] | None) -> dict:
    return {"name": "llm", "hardware": GPU_HW, "status": "connected", "host": "localhost", "port": "8080",
            "identity_group": groups}


class Table:
    def __init__(self, args: argparse.Namespace):
        self.lock = threading.Lock()
        self.peers: dict[str, PeerRec] = {}
        self.counter = 0
        self.info: dict[str, Any] = {"peers": {}}
        head = self._add(PeerRec(peer_id("head"), "head", None))
        self.info["headPeer"] = head.id
        for m in args.model_list:
            for r in range(args.replicas):
                self.add_worker(m, seed=f"worker:{m}:{r}")
        self.info["followerPeer"] = self._add(PeerRec(peer_id("follower"), "follower", [])).id
        self.info["emptyGroupPeer"] = self._add(PeerRec(peer_id("empty-group"), "worker", [llm_service([])])).id
        self.info["nonLlmService"] = "diffusion"
        self.info["nonLlmPeer"] = self._add(PeerRec(peer_id("diffusion"), "worker", [
            {"name": "diffusion", "hardware": GPU_HW, "status": "connected", "host": "localhost", "port": "7860",
             "identity_group": ["model=stabilityai/sdxl"]}])).id
        self.info["disconnectedModel"] = "sim/offline-model"
        self.info["disconnectedPeer"] = self._add(PeerRec(
            peer_id("offline"), "worker", [llm_service(["model=sim/offline-model"])], connected=False,
            models=["sim/offline-model"])).id
        self.info["wildcardPeer"] = self._add(PeerRec(peer_id("wildcard"), "worker", [llm_service(["model=*"])])).id \
            if args.wildcard else None
        self.info["catchAllPeer"] = self._add(PeerRec(peer_id("catch-all"), "worker", [llm_service(["all"])])).id \
            if args.catch_all else None

    def _add(self, p: PeerRec) -> PeerRec:
        self.peers[p.id] = p
        return p

    def add_worker(self, model: str, seed: str | None = None) -> PeerRec:
        with self.lock:
            self.counter += 1
            p = PeerRec(peer_id(seed or f"added:{model}:{self.counter}:{time.time()}"), "worker",
                        [llm_service([f"model={model}"])], models=[model],
                        labels={"served_model_name": model, "worker_group_id": "wg-" + hashlib.sha1(model.encode()).hexdigest()[:8],
                                "framework": "vllm"})
            self.peers[p.id] = p
            self.info["peers"].setdefault(model, []).append(p.id)
            return p

    def snapshot(self) -> list[PeerRec]:
        with self.lock:
            return list(self.peers.values())

    def get(self, pid: str) -> PeerRec | None:
        with self.lock:
            return self.peers.get(pid)


def select_candidates(peers: list[PeerRec], service: str, match: Any, fallback: int) -> list[str]:
    """selectCandidates from OpenTela's proxy_handler.go: exact > wildcard "*" > catch-all "all"."""
    exact, wild, catch_all = [], [], []
    for p in peers:
        if not p.connected:
            continue
        for s in p.services or []:
            if s.get("name") != service:
                continue
            best = 0
            for ig in s.get("identity_group") or []:
                if ig == "all":
                    best = max(best, 1)
                    continue
                if "=" not in ig:
                    continue
                k, v = ig.split("=", 1)
                if v == "*":
                    if isinstance(match, dict) and k in match:
                        best = max(best, 2)
                    continue
                if isinstance(match, dict) and isinstance(match.get(k), str) and match[k] == v:
                    best = 3
                    break
            if best == 3:
                exact.append(p.id)
            elif best == 2:
                wild.append(p.id)
            elif best == 1:
                catch_all.append(p.id)
            if best > 0:
                break
    cands = exact
    if not cands and fallback >= 1:
        cands = wild
    if not cands and fallback >= 2:
        cands = catch_all
    return cands


def fallback_level(h: str | None) -> int:
    try:
        v = int(h or "0")
    except ValueError:
        return 0
    return v if 0 <= v <= 2 else 0


# ======================================================================================
# HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ocf-head-sim/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # TCP_NODELAY
    timeout = 300
    args: argparse.Namespace
    state: SimState
    table: Table
    routed: dict[str, int] = {}
    last_node: str | None = None

    def log_message(self, fmt: str, *a: Any) -> None:
        log.debug("%s %s", self.address_string(), fmt % a)

    def _head_bytes(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(usegmt=True)}"]
        lines += [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_bytes(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8",
                   extra: list[tuple[str, str]] | None = None) -> None:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))] + (extra or [])
        if self.close_connection:
            headers.append(("Connection", "close"))
        self.wfile.write(self._head_bytes(status, headers) + body)
        self.wfile.flush()

    def send_json(self, status: int, obj: Any, extra: list[tuple[str, str]] | None = None) -> None:
        self.send_bytes(status, cjson(obj), extra=extra)

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
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_events(self, status: int, events: list[bytes], extra: list[tuple[str, str]], tps: float,
                    fault: dict) -> None:
        """SSE answer: chunked transfer encoding, one socket write per event."""
        mode = fault.get("mode", "none")
        chunked = self.request_version != "HTTP/1.0"
        headers = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"),
                   ("Connection", "keep-alive"), ("X-Accel-Buffering", "no")] + extra
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers = [h for h in headers if h[0] != "Connection"] + [("Connection", "close")]
            self.close_connection = True
        delay = 1.0 / tps if tps > 0 else 0.0
        try:
            self.wfile.write(self._head_bytes(status, headers))
            self.wfile.flush()
            for i, ev in enumerate(events):
                if i == 2 and mode == "drop":
                    log.info("drop fault: closing the stream after 2 events")
                    self.abort()
                    return
                if i == 2 and mode == "midstream_error":
                    err = oai_error(500, fault.get("message") or "simulated worker failure mid-stream",
                                    "server_error", flavor=self.args.flavor).body
                    ev = b"data: " + cjson(err) + b"\n\n"
                    self.wfile.write((b"%x\r\n" % len(ev) + ev + b"\r\n0\r\n\r\n") if chunked else ev)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if i == 2 and mode == "stall":
                    time.sleep(max(0.0, float(fault.get("delayMs") or 0)) / 1000.0)
                if i > 0 and delay and not ev.startswith(b":"):
                    time.sleep(delay)
                data = ev
                if chunked:
                    data = b"%x\r\n" % len(ev) + ev + b"\r\n"
                    if i == len(events) - 1:
                        data += b"0\r\n\r\n"
                self.wfile.write(data)
                self.wfile.flush()
        except OSError:
            self.close_connection = True
            with self.state.lock:
                self.state.disconnects += 1
            log.info("client went away mid-stream")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def _dispatch(self, method: str) -> None:
        try:
            body = self.read_body() if method in ("POST", "PUT", "DELETE", "PATCH") else b""
            path = urlsplit(self.path).path
            if path.startswith("/__sim/"):
                self._admin(method, path, body)
                return
            m = re.fullmatch(r"/v1/service/([^/]+)(/.*)?", path)
            route_key = f"/v1/service/{m.group(1)}{m.group(2) or ''}" if m else path
            self.state.record(method, self.path, route_key, self.headers, body)
            if m:
                self._service(method, m.group(1), m.group(2) or "/", body)
            elif method == "GET" and path == "/v1/dnt/table":
                self._table(connected_only=True)
            elif method == "GET" and path == "/v1/dnt/peers":
                self._table(connected_only=False)
            elif method == "GET" and path == "/v1/dnt/peers_status":
                self.send_json(200, [{"id": p.id, "connectedness": "connected" if p.connected else "disconnected"}
                                     for p in self.table.snapshot()])
            elif method == "GET" and path == "/v1/health":
                self.send_json(200, {"status": "ok"})
            else:
                self.send_bytes(404, b"404 page not found", content_type="text/plain")  # gin's default
        except ApiError as e:
            self.send_json(e.status, e.body, extra=e.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("internal error on %s %s", method, self.path)
            try:
                self.send_json(500, {"error": "internal simulator error"})
            except OSError:
                self.close_connection = True

    def _table(self, connected_only: bool) -> None:
        peers = [p for p in self.table.snapshot() if p.connected or not connected_only]
        if self.args.shape == "legacy":
            self.send_json(200, {"peers": [p.legacy() for p in peers]})
        else:
            self.send_json(200, {"/" + p.id: p.current() for p in peers})

    # ---- /v1/service/<service>/<path>

    def _service(self, method: str, service: str, path: str, body: bytes) -> None:
        peers = self.table.snapshot()
        if not any(p.connected and any(s.get("name") == service for s in p.services or []) for p in peers):
            raise ApiError(400, {"error": "no providers found"})
        match: Any = None
        igh = self.headers.get("X-Otela-Identity-Group") or ""
        if "=" in igh:
            k, v = igh.split("=", 1)
            match = {k: v}
        else:
            try:
                match = json.loads(body) if body else None
            except ValueError:
                match = None
        cands = select_candidates(peers, service, match, fallback_level(self.headers.get("X-Otela-Fallback")))
        if not cands:
            raise ApiError(503, {"error": "No provider found for the requested service."})
        fault = self.state.take_fault()
        mode = fault["mode"]
        if mode != "none":
            log.info("fault %s applied to %s %s", mode, service, path)
        if mode == "5xx":
            raise ApiError(503, {"error": "Service degraded, try again later"}, [("Retry-After", "5")])
        if mode == "unreachable" or service != "llm":
            raise ApiError(502, {"error": "all workers unreachable for service " + service})
        node = random.choice(cands)
        with self.state.lock:
            Handler.routed[node] = Handler.routed.get(node, 0) + 1
            Handler.last_node = node
        extra = [("X-Computing-Node", node)]
        if self.args.shape == "current":
            extra.append(("Server-Timing", "head_recv;dur=0.1, head_dnt;dur=0.1, head_peer_select;dur=0.0"))
        try:
            self._worker(method, node, path, body, fault, extra)
        except ApiError as e:  # the worker's own error, passed through by the head
            raise ApiError(e.status, e.body, e.headers + extra)

    def _worker(self, method: str, node: str, path: str, body: bytes, fault: dict,
                extra: list[tuple[str, str]]) -> None:
        """A vLLM-like worker behind the head."""
        args = self.args
        flavor = args.flavor
        peer = self.table.get(node)
        served = peer.models if peer else []
        route = path.rstrip("/") or "/"
        if method == "GET" and route == "/health":
            self.send_bytes(200, b"", extra=extra)
            return
        if method == "GET" and route == "/v1/models":
            data = [{"id": m, "object": "model", "created": args.created, "owned_by": "vllm"} for m in served]
            self.send_json(200, {"object": "list", "data": data}, extra=extra)
            return
        builder = BUILDERS.get(route)
        if builder is None or method != "POST":
            raise ApiError(404, {"detail": "Not Found"})
        try:
            req = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            req = None
        if not isinstance(req, dict):
            raise oai_error(400, "Invalid JSON body", flavor=flavor)
        model = req.get("model")
        if not isinstance(model, str) or not model:
            raise oai_error(400, "you must provide a model parameter", flavor=flavor)
        if served and model not in served:
            raise oai_error(404, f"The model `{model}` does not exist.", param="model", code="model_not_found",
                            flavor=flavor)
        answer = builder(req, model, flavor, False)
        mode = fault["mode"]
        if mode in ("slow", "stall") and (mode == "slow" or answer.events is None):
            time.sleep(max(0.0, float(fault.get("delayMs") or 0)) / 1000.0)
        elif mode == "midstream_error" and answer.events is None:
            raise oai_error(500, fault.get("message") or "simulated worker failure", "server_error", flavor=flavor)
        elif mode == "429":
            raise oai_error(429, "Rate limit exceeded, please retry later.", "rate_limit_exceeded",
                            code="rate_limit_exceeded", flavor=flavor,
                            headers=[("Retry-After", str(fault.get("retryAfter", 1)))])
        elif mode == "drop" and answer.events is None:
            self.abort()
            return
        tps = args.tokens_per_second
        if answer.events is None:
            if tps > 0 and answer.completion_tokens:
                time.sleep(answer.completion_tokens / tps)
            self.send_bytes(200, answer.body or b"{}", extra=extra)
            return
        events = list(answer.events)
        if args.shape == "current":  # the head's timing comment after the worker's body
            events.append(b": otela-head-first-byte=0.001\n\n")
        self.send_events(200, events, extra, tps, fault)

    # ---- admin

    def _admin(self, method: str, path: str, body: bytes) -> None:
        if path == "/__sim/state" and method == "GET":
            st = self.state.snapshot()
            with self.state.lock:
                st.update({"routed": dict(Handler.routed), "lastNode": Handler.last_node})
            st.update({"shape": self.args.shape, "models": self.args.model_list,
                       "peers": [{"id": p.id, "kind": p.kind, "connected": p.connected, "models": p.models}
                                 for p in self.table.snapshot()]})
            self.send_json(200, st)
        elif path == "/__sim/faults" and method == "POST":
            try:
                f = self.state.set_faults(json.loads(body or b"{}"))
            except ValueError as e:
                self.send_json(400, {"error": str(e)})
                return
            log.info("faults set to %s", f)
            self.send_json(200, {"faults": f})
        elif path == "/__sim/peers" and method == "POST":
            try:
                req = json.loads(body or b"{}")
                action = req.get("action")
                if action == "add" and isinstance(req.get("model"), str):
                    p = self.table.add_worker(req["model"])
                    self.send_json(200, {"peerId": p.id, "model": req["model"]})
                    return
                p = self.table.get(str(req.get("peerId")))
                if p is None:
                    raise ValueError("unknown peerId")
                with self.table.lock:
                    if action == "connect":
                        p.connected = True
                    elif action == "disconnect":
                        p.connected = False
                    elif action == "remove":
                        del self.table.peers[p.id]
                    else:
                        raise ValueError("action must be add, connect, disconnect or remove")
                self.send_json(200, {"peerId": p.id, "action": action})
            except (ValueError, AttributeError) as e:
                self.send_json(400, {"error": str(e)})
        elif path == "/__sim/reset" and method == "POST":
            self.state.reset()
            with self.state.lock:
                Handler.routed = {}
                Handler.last_node = None
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": "unknown admin route"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def watch_parent() -> None:
    ppid = os.getppid()
    while True:
        time.sleep(0.2)
        if os.getppid() != ppid:
            log.info("parent %d gone; exiting", ppid)
            os._exit(0)


def main(argv: list[str] | None = None) -> int:
    # A parent that spawned us with these signals blocked (Swift's Foundation.Process on Linux
    # does) leaves them blocked here too; SIGTERM would then never stop us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, lambda *_: os._exit(0))

    p = argparse.ArgumentParser(description="Simulated OCF/OpenTela head node")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--models", default="swiss-ai/Apertus-8B,sim/echo-70b", help="comma-separated model names")
    p.add_argument("--shape", choices=("current", "legacy"), default="current", help="DNT table shape")
    p.add_argument("--replicas", type=int, default=1, help="workers per model")
    p.add_argument("--wildcard", action="store_true", help="add a worker with identity_group [\"model=*\"]")
    p.add_argument("--catch-all", action="store_true", help="add a worker with identity_group [\"all\"]")
    p.add_argument("--tokens-per-second", type=float, default=0.0, help="pacing; 0 = instant")
    p.add_argument("--flavor", choices=FLAVORS, default="openai", help="wire details of the workers' answers")
    p.add_argument("--created", type=int, default=1700000000)
    p.add_argument("--exit-with-parent", action="store_true")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    args.replicas = max(1, args.replicas)

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s ocf_head_sim %(levelname)s %(message)s")
    if args.exit_with_parent:
        threading.Thread(target=watch_parent, daemon=True).start()

    Handler.args = args
    Handler.state = SimState()
    Handler.table = Table(args)
    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    url = f"http://{host}:{port}"
    ready = {"url": url, "baseUrl": url + "/v1/service/llm/v1", "shape": args.shape, "models": args.model_list}
    ready.update(Handler.table.info)
    sys.stdout.write("OCF READY " + json.dumps(ready, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    log.info("head serving %s (%s shape) on %s", ", ".join(args.model_list), args.shape, url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
