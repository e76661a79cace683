#!/usr/bin/env python3
"""Simulated Replicate predictions API (official language models), for tests.

Standard library only. Output is "Echo: <prompt>" split into word pieces ("Echo:", " w1", "\\nw2", …;
joined they give the text back).

Usage:
  .venv/bin/python Fixtures/backends/replicate_sim.py [--port 0] [--host 127.0.0.1]
      [--token TOKEN] [--models owner/name,…] [--no-stream-models owner/name,…]
      [--processing-seconds 0.3] [--tokens-per-second N] [--stream-origin same|separate]
      [--exit-with-parent] [--verbose]

On ready it prints one stdout line (everything else goes to stderr):
  REPLICATE READY {"url":"http://127.0.0.1:PORT","streamUrl":"http://127.0.0.1:PORT2"|same,
                   "models":[...],"noStreamModels":[...],"token":"TOKEN"|null,"processingSeconds":0.3}

Routes (with --token every /v1 route except the stream URLs needs `Authorization: Bearer TOKEN`
or `Authorization: Token TOKEN`):
  POST /v1/models/{owner}/{name}/predictions   create; body {"input": {...}, "stream": bool?, "webhook"?…}
                                               `Prefer: wait` (60 s) or `Prefer: wait=N` (1..60) holds
                                               the answer until the prediction ends or N s pass.
                                               201 + the prediction either way.
  POST /v1/predictions                         create by {"version": <64-hex or dp-… id>, "input": …}
  GET  /v1/predictions/{id}                    poll
  GET  /v1/predictions                         {"previous":null,"next":null,"results":[…]}
  POST /v1/predictions/{id}/cancel             200 + the prediction (canceled, or unchanged if ended)
  GET  /v1/models/{owner}/{name}               model with latest_version.openapi_schema (Input)
  GET  /v1/models                              {"previous":null,"next":null,"results":[…]}
  GET  <urls.stream> = <streamUrl>/v1/streams/{token}   text/event-stream, no auth needed:
         event: output / id: … / data: <plain text; one data: line per line of text>
         event: logs   / data: <log text>
         event: error  / data: {"detail": "<message>"}        (on failure, before done)
         event: done   / data: {}  |  {"reason":"canceled"}  |  {"reason":"error"}
       Every event has an `id:` ("<created ms>:<seq>"); Last-Event-ID resumes after that seq.
       A stream opened late replays every event so far, then follows live.

Prediction object: id, model, version, input, logs, output (null, then the array of pieces so far),
data_removed, error, status (starting → processing → succeeded|failed|canceled), created_at,
started_at, completed_at (ISO 8601 with microseconds and Z; null until set), urls {cancel, get,
stream (only when the model streams and "stream": true was asked), web}, metrics ({} until the end;
then predict_time and total_time, plus input_token_count, output_token_count, tokens_per_second,
time_to_first_token when succeeded). Token counts are whitespace-separated words: input =
prompt + system_prompt, output = pieces generated.

Inputs (Llama style): prompt (required), system_prompt, max_tokens | max_new_tokens (cut the output),
min_tokens, temperature, top_p, top_k, presence_penalty, frequency_penalty, stop_sequences
(comma-separated; output is cut at the first one), seed, prompt_template. Unknown keys are ignored.

Timing: the prediction is "starting" for min(0.1, S/4) s (+ the slow fault's delayMs), then
"processing" with the pieces spread over the rest of S = --processing-seconds (or 1/N s apart
with --tokens-per-second N, whichever is longer), then "succeeded".

Errors: RFC 7807 problem details, Content-Type application/problem+json,
{"type","title","status","detail","instance"}: 401 bad/missing token, 404 unknown model /
prediction / stream, 422 invalid input (plus "invalid_fields"), 400 unparsable body.
Admin (no auth):
  GET  /__sim/state   requests, byRoute, lastRequest (body + headers), recentRequests,
                      predictionsCreated, predictions [{id, model, status, stream}], faults
  POST /__sim/faults  {"mode":"none|fail|slow|5xx|429|drop","count":N?,"delayMs":ms?,"status":5xx?,
                       "message":"…"?,"atPiece":k?} — applies to prediction creates:
                      fail = the prediction ends "failed" with `error` = message after atPiece pieces
                      (default half); slow = stays "starting" delayMs longer (cold boot, default 1000);
                      5xx = problem details with status (default 503); 429 = throttled + Retry-After;
                      drop = connection closed without an answer.
  POST /__sim/reset   clear request log, faults and predictions
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Fixtures/, for simkit

import simkit  # noqa: E402  (Fixtures/simkit.py: server, admin routes, request log, faults)
from simkit import cjson  # noqa: E402

log = logging.getLogger("replicate_sim")

FAULT_MODES = ("none", "fail", "slow", "5xx", "429", "drop")
TERMINAL = ("succeeded", "failed", "canceled")


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id(nbytes: int = 16) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=").lower()


def version_hash(model: str) -> str:
    return hashlib.sha256(("replicate-sim:" + model).encode()).hexdigest()


def dp_version(model: str) -> str:
    return "dp-" + hashlib.md5(("replicate-sim:" + model).encode()).hexdigest()


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, extra: dict | None = None,
                 headers: list[tuple[str, str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or []


# ======================================================================================
# Input validation and output planning

INT_INPUTS = ("max_tokens", "max_new_tokens", "min_tokens", "min_new_tokens", "top_k", "seed")
NUM_INPUTS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "length_penalty")
STR_INPUTS = ("system_prompt", "stop_sequences", "prompt_template")


def json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def validate_input(inp: Any) -> None:
    bad: list[dict] = []
    if not isinstance(inp, dict):
        bad.append({"type": "required", "field": "input", "description": "input is required"})
    else:
        p = inp.get("prompt")
        if p is None:
            bad.append({"type": "required", "field": "input", "description": "prompt is required"})
        elif not isinstance(p, str):
            bad.append({"type": "invalid_type", "field": "input.prompt",
                        "description": f"Invalid type. Expected: string, given: {json_type(p)}"})
        for k in INT_INPUTS:
            v = inp.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                bad.append({"type": "invalid_type", "field": f"input.{k}",
                            "description": f"Invalid type. Expected: integer, given: {json_type(v)}"})
        for k in NUM_INPUTS:
            v = inp.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                bad.append({"type": "invalid_type", "field": f"input.{k}",
                            "description": f"Invalid type. Expected: number, given: {json_type(v)}"})
        for k in STR_INPUTS:
            v = inp.get(k)
            if v is not None and not isinstance(v, str):
                bad.append({"type": "invalid_type", "field": f"input.{k}",
                            "description": f"Invalid type. Expected: string, given: {json_type(v)}"})
        t = inp.get("top_p")
        if isinstance(t, (int, float)) and not isinstance(t, bool) and not 0 <= t <= 1:
            bad.append({"type": "number_lte", "field": "input.top_p", "description": "Must be less than or equal to 1"})
        for k in ("max_tokens", "max_new_tokens"):
            v = inp.get(k)
            if isinstance(v, int) and not isinstance(v, bool) and v < 1:
                bad.append({"type": "number_gte", "field": f"input.{k}", "description": "Must be greater than or equal to 1"})
    if bad:
        detail = "".join(f"- {b['field']}: {b['description']}\n" for b in bad)
        raise Problem(422, "Input validation failed", detail, {"invalid_fields": bad})


def plan_output(inp: dict) -> tuple[list[str], int]:
    prompt = inp.get("prompt") or ""
    text = ("Echo: " + prompt.strip()) if prompt.strip() else "Echo:"
    stops = [s for s in (inp.get("stop_sequences") or "").split(",") if s]
    cuts = [text.find(s) for s in stops if s in text]
    if cuts:
        text = text[:min(cuts)]
    pieces = re.findall(r"\s*\S+", text)
    limit = inp.get("max_tokens") if inp.get("max_tokens") is not None else inp.get("max_new_tokens")
    if isinstance(limit, int) and limit >= 1:
        pieces = pieces[:limit]
    input_tokens = len(prompt.split()) + len((inp.get("system_prompt") or "").split())
    return pieces, input_tokens


# ======================================================================================
# Predictions

class Prediction:
    def __init__(self, sim: "Sim", model: str, version: str, inp: dict, stream: bool, fault: dict):
        self.sim = sim
        self.id = new_id()
        self.model = model
        self.version = version
        self.input = inp
        self.stream_token = new_id(20) if stream else None
        self.status = "starting"
        self.output: list[str] | None = None
        self.logs = ""
        self.error: str | None = None
        self.created = time.time()
        self.started: float | None = None
        self.completed: float | None = None
        self.first_token: float | None = None
        self.pieces, self.input_tokens = plan_output(inp)
        self.events: list[tuple[str, str]] = []  # (event, data)
        self.fault = fault
        self.cond = threading.Condition(sim.lock)

    # -- under sim.lock
    def _emit(self, event: str, data: str) -> None:
        self.events.append((event, data))
        self.cond.notify_all()

    def _metrics(self) -> dict:
        if self.completed is None:
            return {}
        m: dict[str, Any] = {"predict_time": round(self.completed - (self.started or self.completed), 6),
                             "total_time": round(self.completed - self.created, 6)}
        if self.status == "succeeded":
            out = len(self.output or [])
            m.update({"input_token_count": self.input_tokens, "output_token_count": out,
                      "tokens_per_second": round(out / m["predict_time"], 3) if m["predict_time"] > 0 else 0.0,
                      "time_to_first_token": round((self.first_token or self.completed) - (self.started or self.created), 6)})
        return m

    def to_json(self) -> dict:
        base = self.sim.base_url
        urls: dict[str, str] = {"cancel": f"{base}/v1/predictions/{self.id}/cancel",
                                "get": f"{base}/v1/predictions/{self.id}"}
        if self.stream_token:
            urls["stream"] = f"{self.sim.stream_base}/v1/streams/{self.stream_token}"
        urls["web"] = f"https://replicate.com/p/{self.id}"
        return {"id": self.id, "model": self.model, "version": self.version, "input": self.input,
                "logs": self.logs, "output": list(self.output) if self.output is not None else None,
                "data_removed": False, "error": self.error, "status": self.status,
                "created_at": iso(self.created), "started_at": iso(self.started),
                "completed_at": iso(self.completed), "urls": urls, "metrics": self._metrics()}

    def cancel(self) -> None:
        with self.cond:
            if self.status in TERMINAL:
                return
            self.status = "canceled"
            self.completed = time.time()
            self._emit("done", '{"reason":"canceled"}')

    # -- the model run, on its own thread
    def run(self, processing_seconds: float, tps: float) -> None:
        start_delay = min(0.1, processing_seconds / 4)
        if self.fault.get("mode") == "slow":
            start_delay += float(self.fault.get("delayMs", 1000) or 0) / 1000.0
        n = max(1, len(self.pieces))
        gen_time = max(processing_seconds - min(0.1, processing_seconds / 4), n / tps if tps > 0 else 0.0)
        interval = gen_time / n
        fail_at = None
        if self.fault.get("mode") == "fail":
            fail_at = int(self.fault.get("atPiece", len(self.pieces) // 2))
        with self.cond:
            deadline = self.created + start_delay
            while self.status == "starting" and time.time() < deadline:
                self.cond.wait(deadline - time.time())
            if self.status in TERMINAL:
                return
            self.status = "processing"
            self.started = time.time()
            seed = self.input.get("seed") if isinstance(self.input.get("seed"), int) else 1234
            lines = f"Random seed used: `{seed}`\nNote: Random seed will not impact output if greedy decoding is used.\n"
            self.logs += lines
            self._emit("logs", lines.rstrip("\n"))
            for i, piece in enumerate(self.pieces + [None]):  # type: ignore[operator]
                if fail_at is not None and i == fail_at:
                    msg = self.fault.get("message") or "Prediction failed: simulated model error (CUDA out of memory)"
                    self.status = "failed"
                    self.error = msg
                    self.completed = time.time()
                    self.logs += msg + "\n"
                    self._emit("error", json.dumps({"detail": msg}))
                    self._emit("done", '{"reason":"error"}')
                    return
                if piece is None:
                    break
                deadline = time.time() + interval
                while self.status == "processing" and time.time() < deadline:
                    self.cond.wait(deadline - time.time())
                if self.status in TERMINAL:
                    return
                if self.output is None:
                    self.output = []
                    self.first_token = time.time()
                self.output.append(piece)
                self._emit("output", piece)
            self.status = "succeeded"
            self.completed = time.time()
            if self.output is None:
                self.output = []
            self._emit("done", "{}")


class Sim:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.lock = threading.RLock()
        self.base_url = ""
        self.stream_base = ""
        self.predictions: dict[str, Prediction] = {}
        self.by_stream: dict[str, Prediction] = {}
        self.created = 0
        self.request_log = simkit.RequestLog(self.lock)
        self.faults = simkit.FaultSwitch(FAULT_MODES, self.lock)

    def create(self, model: str, version: str, inp: dict, stream: bool, fault: dict) -> Prediction:
        p = Prediction(self, model, version, inp, stream, fault)
        with self.lock:
            self.predictions[p.id] = p
            if p.stream_token:
                self.by_stream[p.stream_token] = p
            self.created += 1
        threading.Thread(target=p.run, args=(self.args.processing_seconds, self.args.tokens_per_second),
                         daemon=True, name="pred-" + p.id).start()
        return p

    def reset(self) -> None:
        with self.lock:
            for p in self.predictions.values():
                if p.status not in TERMINAL:
                    p.cancel()
            self.predictions.clear()
            self.by_stream.clear()
            self.created = 0
            self.request_log.reset()
            self.faults.reset()

    def state(self) -> dict:
        with self.lock:
            return {**self.request_log.snapshot(), **self.faults.snapshot(), "predictionsCreated": self.created,
                    "predictions": [{"id": p.id, "model": p.model, "status": p.status,
                                     "stream": p.stream_token is not None} for p in self.predictions.values()],
                    "models": self.args.model_list, "noStreamModels": self.args.no_stream_list}


# ======================================================================================
# HTTP

class Handler(simkit.SimHandler):
    server_version = "replicate-sim/1.0"
    sim: Sim
    streams_only = False  # True on the separate stream origin

    def send_problem(self, e: Problem) -> None:
        body = {"type": "about:blank", "title": e.title, "status": e.status, "detail": e.detail,
                "instance": urlsplit(self.path).path}
        body.update(e.extra)
        self.send_bytes(e.status, cjson(body), content_type="application/problem+json", extra=e.headers)

    def _dispatch(self, method: str) -> None:
        try:
            body = self.read_body() if method in ("POST", "DELETE") else b""
            path = urlsplit(self.path).path.rstrip("/") or "/"
            if path.startswith("/__sim/") and not self.streams_only:
                self._admin(method, path, body)
                return
            route = re.sub(r"^/v1/predictions/[^/]+", "/v1/predictions/{id}", path)
            route = re.sub(r"^/v1/streams/[^/]+", "/v1/streams/{token}", route)
            route = re.sub(r"^/v1/models/[^/]+/[^/]+", "/v1/models/{owner}/{name}", route)
            self.sim.request_log.record(method, self.path, route, self.headers, body)
            m = re.fullmatch(r"/v1/streams/([^/]+)", path)
            if m and method == "GET":
                self._stream(m.group(1))
                return
            if self.streams_only:
                raise Problem(404, "Not found", "The requested resource could not be found.")
            self._api(method, path, body)
        except Problem as e:
            try:
                self.send_problem(e)
            except OSError:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("internal error on %s %s", method, self.path)
            try:
                self.send_problem(Problem(500, "Internal Server Error", "internal simulator error"))
            except OSError:
                self.close_connection = True

    def _check_auth(self) -> None:
        token = self.sim.args.token
        if not token:
            return
        auth = (self.headers.get("Authorization") or "").strip()
        scheme, _, given = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or given.strip() != token:
            raise Problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    def _model_json(self, model: str) -> dict:
        owner, name = model.split("/", 1)
        props: dict[str, Any] = {
            "prompt": {"type": "string", "title": "Prompt", "x-order": 0},
            "system_prompt": {"type": "string", "title": "System Prompt", "default": "You are a helpful assistant",
                              "x-order": 1},
            "max_tokens": {"type": "integer", "title": "Max Tokens", "default": 512, "x-order": 2},
            "max_new_tokens": {"type": "integer", "title": "Max New Tokens", "x-order": 3},
            "min_tokens": {"type": "integer", "title": "Min Tokens", "default": 0, "x-order": 4},
            "temperature": {"type": "number", "title": "Temperature", "default": 0.6, "x-order": 5},
            "top_p": {"type": "number", "title": "Top P", "default": 0.9, "maximum": 1, "minimum": 0, "x-order": 6},
            "top_k": {"type": "integer", "title": "Top K", "default": 50, "x-order": 7},
            "presence_penalty": {"type": "number", "title": "Presence Penalty", "default": 0, "x-order": 8},
            "frequency_penalty": {"type": "number", "title": "Frequency Penalty", "default": 0, "x-order": 9},
            "stop_sequences": {"type": "string", "title": "Stop Sequences", "x-order": 10,
                               "description": "A comma-separated list of sequences to stop generation at."},
            "seed": {"type": "integer", "title": "Seed", "x-order": 11},
            "prompt_template": {"type": "string", "title": "Prompt Template", "x-order": 12,
                                "default": "{prompt}"},
        }
        output: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "title": "Output"}
        if model not in self.sim.args.no_stream_list:
            output.update({"x-cog-array-type": "iterator", "x-cog-array-display": "concatenate"})
        return {"url": f"https://replicate.com/{model}", "owner": owner, "name": name,
                "description": f"Simulated language model {model}", "visibility": "public", "github_url": None,
                "paper_url": None, "license_url": None, "run_count": 0, "cover_image_url": None,
                "default_example": None, "is_official": True,
                "latest_version": {"id": version_hash(model), "created_at": iso(1700000000.0), "cog_version": "0.9.4",
                                   "openapi_schema": {"openapi": "3.0.2", "components": {"schemas": {
                                       "Input": {"type": "object", "title": "Input", "required": ["prompt"],
                                                 "properties": props},
                                       "Output": output}}}}}

    def _api(self, method: str, path: str, body: bytes) -> None:
        sim = self.sim
        self._check_auth()
        m = re.fullmatch(r"/v1/models/([^/]+)/([^/]+)/predictions", path)
        if m and method == "POST":
            model = f"{m.group(1)}/{m.group(2)}"
            if model not in sim.args.all_models:
                raise Problem(404, "Not found", f"Model {model} not found. The requested resource could not be found.")
            self._create(model, dp_version(model), body)
            return
        if path == "/v1/predictions" and method == "POST":
            req = self._parse(body)
            version = req.get("version")
            if isinstance(version, str) and ":" in version:
                version = version.split(":", 1)[1]
            model = next((mm for mm in sim.args.all_models if version in (version_hash(mm), dp_version(mm))), None)
            if model is None:
                raise Problem(422, "Invalid version or not permitted",
                              "The specified version does not exist (or perhaps you don't have permission to use it?)")
            self._create(model, version, body)
            return
        if path == "/v1/predictions" and method == "GET":
            with sim.lock:
                results = [p.to_json() for p in reversed(list(sim.predictions.values()))]
            self.send_json(200, {"previous": None, "next": None, "results": results})
            return
        m = re.fullmatch(r"/v1/predictions/([^/]+)(/cancel)?", path)
        if m:
            with sim.lock:
                p = sim.predictions.get(m.group(1))
            if p is None:
                raise Problem(404, "Not found", "The requested resource could not be found.")
            if m.group(2) and method == "POST":
                p.cancel()
            elif m.group(2) or method != "GET":
                raise Problem(405, "Method not allowed", f"Method \"{method}\" not allowed.")
            with sim.lock:
                self.send_json(200, p.to_json())
            return
        if path == "/v1/models" and method == "GET":
            self.send_json(200, {"previous": None, "next": None,
                                 "results": [self._model_json(mm) for mm in sim.args.all_models]})
            return
        m = re.fullmatch(r"/v1/models/([^/]+)/([^/]+)", path)
        if m and method == "GET":
            model = f"{m.group(1)}/{m.group(2)}"
            if model not in sim.args.all_models:
                raise Problem(404, "Not found", "The requested resource could not be found.")
            self.send_json(200, self._model_json(model))
            return
        raise Problem(404, "Not found", "The requested resource could not be found.")

    def _parse(self, body: bytes) -> dict:
        try:
            req = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError) as e:
            raise Problem(400, "Invalid request", f"Could not parse the request body as JSON: {e}")
        if not isinstance(req, dict):
            raise Problem(400, "Invalid request", "The request body must be a JSON object")
        return req

    def _prefer_wait(self) -> float | None:
        for part in (self.headers.get("Prefer") or "").split(","):
            part = part.strip().lower()
            if part == "wait":
                return 60.0
            if part.startswith("wait="):
                try:
                    return float(min(60, max(1, int(part[5:]))))
                except ValueError:
                    return 60.0
        return None

    def _create(self, model: str, version: str, body: bytes) -> None:
        sim = self.sim
        req = self._parse(body)
        inp = req.get("input")
        validate_input(inp)
        fault = sim.faults.take(body)
        mode = fault["mode"]
        if mode != "none":
            log.info("fault %s applied to a create for %s", mode, model)
        if mode == "5xx":
            status = int(fault.get("status") or 503)
            raise Problem(status, self.responses.get(status, ("Server Error",))[0],
                          fault.get("message") or "The service is temporarily unavailable. Please try again.")
        if mode == "429":
            ra = str(fault.get("retryAfter", 1))
            raise Problem(429, "Request was throttled.", f"Request was throttled. Expected available in {ra} second.",
                          headers=[("Retry-After", ra)])
        if mode == "drop":
            self.abort()
            return
        stream = req.get("stream") is True and model not in sim.args.no_stream_list
        p = sim.create(model, version, dict(inp), stream, fault)
        wait = self._prefer_wait()
        if wait is not None:
            deadline = time.time() + wait
            with p.cond:
                while p.status not in TERMINAL and time.time() < deadline:
                    p.cond.wait(min(1.0, deadline - time.time()))
        with sim.lock:
            obj = p.to_json()
        self.send_json(201, obj)

    # ---- SSE stream

    def _stream(self, token: str) -> None:
        sim = self.sim
        with sim.lock:
            p = sim.by_stream.get(token)
        if p is None:
            raise Problem(404, "Not found", "The requested stream could not be found.")
        start = 0
        last = self.headers.get("Last-Event-ID")
        if last and ":" in last:
            try:
                start = int(last.rsplit(":", 1)[1]) + 1
            except ValueError:
                start = 0
        base_ms = int(p.created * 1000)
        try:
            chunked = self.begin_stream(200, [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                                              ("X-Accel-Buffering", "no")])
            idx = start
            while True:
                with p.cond:
                    while idx >= len(p.events):
                        p.cond.wait(1.0)
                    batch = p.events[idx:]
                finished = False
                for k, (event, data) in enumerate(batch):
                    seq = idx + k
                    ev = f"event: {event}\nid: {base_ms}:{seq}\n" + "".join(
                        f"data: {line}\n" for line in data.split("\n")) + "\n"
                    if event == "done":
                        finished = True
                    self.wfile.write(simkit.chunk(ev.encode("utf-8"), chunked, last=finished))
                    self.wfile.flush()
                    if finished:
                        return
                idx += len(batch)
        except OSError:
            self.close_connection = True
            log.info("stream client went away")

    # ---- admin (the routes are simkit.SimHandler._admin's)

    def admin_state(self) -> dict:
        return self.sim.state()

    def admin_faults(self) -> simkit.FaultSwitch:
        return self.sim.faults

    def admin_reset(self) -> None:
        self.sim.reset()


class StreamHandler(Handler):
    streams_only = True


def main(argv: list[str] | None = None) -> int:
    simkit.exit_on_signals()

    p = argparse.ArgumentParser(description="Simulated Replicate predictions API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default=None, help="required API token (Bearer or Token); default: no auth")
    p.add_argument("--models", default="meta/meta-llama-3-8b-instruct,meta/meta-llama-3-70b-instruct",
                   help="official models that stream")
    p.add_argument("--no-stream-models", default="", help="official models without streaming (no urls.stream)")
    p.add_argument("--processing-seconds", type=float, default=0.3, help="how long a prediction takes")
    p.add_argument("--tokens-per-second", type=float, default=0.0, help="output pacing; 0 = spread over the run")
    p.add_argument("--stream-origin", choices=("same", "separate"), default="same",
                   help="serve urls.stream from this server or from a second port (another origin)")
    p.add_argument("--exit-with-parent", action="store_true")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    args.no_stream_list = [m.strip() for m in args.no_stream_models.split(",") if m.strip()]
    args.all_models = args.model_list + [m for m in args.no_stream_list if m not in args.model_list]
    for m in args.all_models:
        if m.count("/") != 1:
            p.error(f"model {m!r} is not owner/name")
    args.processing_seconds = max(0.0, args.processing_seconds)

    simkit.setup_process("replicate_sim", args.verbose, args.exit_with_parent)

    sim = Sim(args)
    Handler.sim = sim
    server = simkit.Server((args.host, args.port), Handler)
    sim.base_url = simkit.url_of(server, args.host)
    sim.stream_base = sim.base_url
    if args.stream_origin == "separate":
        sserver = simkit.Server((args.host, 0), StreamHandler)
        sim.stream_base = simkit.url_of(sserver, args.host)
        threading.Thread(target=sserver.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    ready = {"url": sim.base_url, "streamUrl": sim.stream_base, "models": args.model_list,
             "noStreamModels": args.no_stream_list, "token": args.token,
             "processingSeconds": args.processing_seconds}
    simkit.announce_ready("REPLICATE", ready)
    log.info("serving %s on %s", ", ".join(args.all_models), sim.base_url)
    simkit.serve(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
