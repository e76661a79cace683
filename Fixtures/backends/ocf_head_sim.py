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
import hashlib
import json
import logging
import os
import random
import re
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Fixtures/, for simkit

import simkit  # noqa: E402  (Fixtures/simkit.py: server, admin routes, request log, faults)

log = logging.getLogger("ocf_head_sim")

# ======================================================================================
# OpenAI answer generation and streaming: the OpenAI-compatible simulator's (workers behind an
# OCF head run vLLM/SGLang, which speak OpenAI).

from openai_sim import (  # noqa: E402  (this script's folder is on sys.path when run)
    FLAVORS,
    ApiError,
    BUILDERS,
    oai_error,
    stream_events,
)

# Like openai_sim's, plus the Connection header the head sends
SSE_HEADERS = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"),
               ("Connection", "keep-alive"), ("X-Accel-Buffering", "no")]

# ======================================================================================
# Faults (the request log, the faults' bookkeeping and the /__sim/ routes are simkit's)

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

class Handler(simkit.SimHandler):
    server_version = "ocf-head-sim/1.0"
    server_header = False  # the Go head sends no Server header
    json_type = "application/json; charset=utf-8"
    args: argparse.Namespace
    state: simkit.SimState
    table: Table
    routed: dict[str, int] = {}
    last_node: str | None = None

    def do_PUT(self) -> None:
        self._dispatch("PUT")

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
            self.state.request_log.record(method, self.path, route_key, self.headers, body)
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
        fault = self.state.faults.take(body)
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
        error = oai_error(500, fault.get("message") or "simulated worker failure mid-stream", "server_error",
                          flavor=flavor).body
        stream_events(self, 200, events, SSE_HEADERS + extra, tps, fault, error)

    # ---- admin (/__sim/state, /__sim/faults and /__sim/reset are simkit.SimHandler._admin's)

    def admin_state(self) -> dict:
        st = self.state.snapshot()
        with self.state.lock:
            st.update({"routed": dict(Handler.routed), "lastNode": Handler.last_node})
        st.update({"shape": self.args.shape, "models": self.args.model_list,
                   "peers": [{"id": p.id, "kind": p.kind, "connected": p.connected, "models": p.models}
                             for p in self.table.snapshot()]})
        return st

    def admin_faults(self) -> simkit.FaultSwitch:
        return self.state.faults

    def admin_reset(self) -> None:
        self.state.reset()
        with self.state.lock:
            Handler.routed = {}
            Handler.last_node = None

    def admin_route(self, method: str, path: str, body: bytes) -> bool:
        if path != "/__sim/peers" or method != "POST":
            return False
        try:
            req = json.loads(body or b"{}")
            action = req.get("action")
            if action == "add" and isinstance(req.get("model"), str):
                p = self.table.add_worker(req["model"])
                self.send_json(200, {"peerId": p.id, "model": req["model"]})
                return True
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
        return True


def main(argv: list[str] | None = None) -> int:
    simkit.exit_on_signals()

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

    simkit.setup_process("ocf_head_sim", args.verbose, args.exit_with_parent)

    Handler.args = args
    Handler.state = simkit.SimState(FAULT_MODES)
    Handler.table = Table(args)
    server = simkit.Server((args.host, args.port), Handler)
    url = simkit.url_of(server, args.host)
    ready = {"url": url, "baseUrl": url + "/v1/service/llm/v1", "shape": args.shape, "models": args.model_list}
    ready.update(Handler.table.info)
    simkit.announce_ready("OCF", ready)
    log.info("head serving %s (%s shape) on %s", ", ".join(args.model_list), args.shape, url)
    simkit.serve(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
