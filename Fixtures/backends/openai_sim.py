#!/usr/bin/env python3
"""Simulated OpenAI-compatible provider (what OpenAI, Groq or vLLM look like), for tests.

Standard library only. Deterministic answers: "Echo: <last user message>".

Usage:
  .venv/bin/python Fixtures/backends/openai_sim.py [--port 0] [--host 127.0.0.1]
      [--models m1,m2] [--api-key KEY] [--tokens-per-second N] [--no-stream-options]
      [--flavor openai|vllm] [--obfuscation] [--exit-with-parent] [--verbose]

On ready it prints one stdout line (everything else goes to stderr):
  OPENAI READY {"url":"http://127.0.0.1:PORT","baseUrl":"http://127.0.0.1:PORT/v1","models":[...],
                "apiKey":"KEY"|null,"flavor":"openai","streamOptions":true}

Routes (all under /v1; with --api-key every one needs `Authorization: Bearer KEY`):
  GET  /v1/models, GET /v1/models/{id}       (ids may contain '/')
  POST /v1/chat/completions                  JSON or SSE (stream: true)
  POST /v1/completions                       legacy completions, JSON or SSE
  POST /v1/embeddings                        deterministic vectors (float or base64)
Admin (never authenticated, never counted):
  GET  /__sim/state    {"requests", "byRoute", "lastRequest", "recentRequests", "faults", ...}
  POST /__sim/faults   {"mode": "none|slow|stall|5xx|429|drop|midstream_error", "count": N?,
                        "delayMs": ms?, "status": 5xx?, "retryAfter": s?, "code": "..."?}
  POST /__sim/reset    clear the request log and the faults

Wire behaviour (reference notes §4):
  * Errors are {"error":{"message","type","param","code"}} with `code` a string or null
    (--flavor vllm: vLLM's shapes instead, i.e. integer `code`, and {"error":"Unauthorized"} on 401).
  * SSE: `data: <json>\\n\\n` per event, one socket write per event, `data: [DONE]\\n\\n` at the end.
    With stream_options.include_usage every chunk has "usage": null and one extra chunk with
    "choices": [] and the totals comes just before [DONE]; without it there is no usage key at all
    (--flavor vllm: no "usage" key on ordinary chunks, only the final usage chunk).
  * Tool calls when `tools` is given and the last message is a user message containing
    "use the tool" (first tool) or "use all tools" (every tool, parallel, indices 0..k-1;
    only the first if parallel_tool_calls is false); also when tool_choice is "required" or names
    a function. Never when tool_choice is "none". finish_reason "tool_calls".
  * Token counts are whitespace-separated words: prompt_tokens = words of all message contents
    (legacy: of the prompt; embeddings: of the inputs), completion_tokens = words generated
    ("Echo:" counts as one) per choice x n; tool calls count the words of the arguments JSON.
    max_completion_tokens/max_tokens cut the answer (finish_reason "length"); `stop` cuts at the
    first stop string.
  * --no-stream-options: a strict server that rejects any body containing "stream_options" with
    400 "Unrecognized request argument supplied: stream_options". Without it, stream_options on
    a non-streaming request is rejected like OpenAI does.
  * --tokens-per-second N paces SSE events (1/N s apart) and delays JSON answers by
    completion_tokens/N s.

Faults apply to POST inference routes, after authentication and validation, to the next `count`
requests (or all, without count): slow = wait delayMs before the response head; stall = (SSE)
send the head and 2 events, then wait delayMs, then the rest (JSON: like slow); 5xx = status
(default 500) with a server_error envelope; 429 = rate_limit_exceeded (or `code`:
"insufficient_quota") with retry-after / retry-after-ms; drop = JSON: close without an answer,
SSE: close after 2 events (no usage, no [DONE]); midstream_error = SSE: 2 events, then
`data: {"error":{...}}` and the end of the stream (JSON: like 5xx).
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
import struct
import sys
import time
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Fixtures/, for simkit

import simkit  # noqa: E402  (Fixtures/simkit.py: server, admin routes, request log, faults)
from simkit import cjson  # noqa: E402

log = logging.getLogger("openai_sim")

# ======================================================================================
# OpenAI answer generation (ocf_head_sim.py imports it for its workers)

FLAVORS = ("openai", "vllm")
SYSTEM_FINGERPRINT = "fp_sim0001"


class ApiError(Exception):
    """An error answered with a JSON body."""

    def __init__(self, status: int, body: Any, headers: list[tuple[str, str]] | None = None):
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body
        self.headers = headers or []


_VLLM_TYPES = {400: "BadRequestError", 401: "AuthenticationError", 404: "NotFoundError",
               429: "RateLimitError", 500: "InternalServerError", 503: "ServiceUnavailableError"}


def oai_error(status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
              code: str | None = None, flavor: str = "openai",
              headers: list[tuple[str, str]] | None = None) -> ApiError:
    if flavor == "vllm":  # vLLM: integer code = HTTP status, type = exception class name
        return ApiError(status, {"error": {"message": message, "type": _VLLM_TYPES.get(status, "BadRequestError"),
                                           "param": param, "code": status}}, headers)
    return ApiError(status, {"error": {"message": message, "type": type_, "param": param, "code": code}}, headers)


def words(text: str) -> list[str]:
    return text.split()


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for p in content:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, dict):
                for key in ("text", "content"):
                    if isinstance(p.get(key), str):
                        out.append(p[key])
                        break
        return " ".join(out)
    return ""


def usage_obj(prompt_tokens: int, completion_tokens: int, flavor: str, chat: bool = True) -> dict:
    u: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}
    if flavor == "vllm":
        u["prompt_tokens_details"] = None
    elif chat:
        u["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        u["completion_tokens_details"] = {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    return u


def int_field(body: dict, *keys: str) -> int | None:
    for key in keys:
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
            return v
    return None


def n_of(body: dict) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 16 else 1


def stops_of(body: dict) -> list[str]:
    s = body.get("stop")
    if isinstance(s, str) and s:
        return [s]
    if isinstance(s, list):
        return [x for x in s if isinstance(x, str) and x]
    return []


def answer_pieces(text: str, limit: int | None, stops: list[str]) -> tuple[list[str], str]:
    """"Echo: <text>" as word pieces ("Echo:", " w1", " w2", ...) and the finish reason."""
    full = "Echo: " + " ".join(words(text)) if words(text) else "Echo:"
    finish = "stop"
    cut = min([full.find(s) for s in stops if s in full] or [-1]) if stops else -1
    if cut >= 0:
        full = full[:cut]
    pieces = re.findall(r"\s*\S+", full)
    if limit is not None and len(pieces) > limit:
        pieces, finish = pieces[:limit], "length"
    return pieces, finish


def tool_functions(tools: Any) -> list[tuple[str, dict]]:
    out = []
    if not isinstance(tools, list):
        return out
    for t in tools:
        if not isinstance(t, dict):
            continue
        fn = t.get("function") if isinstance(t.get("function"), dict) else t  # also flat {name, parameters}
        name = fn.get("name")
        if isinstance(name, str) and name:
            params = fn.get("parameters") or fn.get("input_schema") or {}
            out.append((name, params if isinstance(params, dict) else {}))
    return out


def plan_tool_calls(body: dict, last_user: str, last_role: Any) -> list[tuple[str, str]]:
    """[(function name, arguments JSON)] the simulated model decides to call."""
    fns = tool_functions(body.get("tools"))
    choice = body.get("tool_choice")
    if not fns or choice == "none":
        return []
    lower = last_user.lower()
    chosen: list[tuple[str, dict]] = []
    if isinstance(choice, dict):
        want = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else choice.get("name")
        chosen = [f for f in fns if f[0] == want][:1] or fns[:1]
    elif last_role == "user" and "use all tools" in lower:
        chosen = fns if body.get("parallel_tool_calls") is not False else fns[:1]
    elif last_role == "user" and "use the tool" in lower:
        chosen = fns[:1]
    elif choice == "required":
        chosen = fns[:1]
    calls = []
    for name, params in chosen:
        props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
        key = next(iter(props), "input")
        calls.append((name, json.dumps({key: last_user}, ensure_ascii=False)))
    return calls


def sse(obj: Any) -> bytes:
    return b"data: " + cjson(obj) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


class Answer:
    def __init__(self, prompt_tokens: int, completion_tokens: int, body: bytes | None = None,
                 events: list[bytes] | None = None):
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.body = body
        self.events = events


def _obfuscation() -> str:
    return secrets.token_urlsafe(12)[: 1 + secrets.randbelow(12)]


def _interleave(per_choice: list[list[dict]]) -> list[tuple[int, dict]]:
    out = []
    for k in range(max(len(x) for x in per_choice)):
        for i, seq in enumerate(per_choice):
            if k < len(seq):
                out.append((i, seq[k]))
    return out


def stream_flags(body: dict) -> tuple[bool, bool, bool]:
    stream = body.get("stream") is True
    so = body.get("stream_options")
    include_usage = stream and isinstance(so, dict) and so.get("include_usage") is True
    obfuscate = not (isinstance(so, dict) and so.get("include_obfuscation") is False)
    return stream, include_usage, obfuscate


def build_chat(body: dict, model: str, flavor: str, obfuscation: bool = False) -> Answer:
    messages = body.get("messages")
    if messages is None:
        raise oai_error(400, "Missing required parameter: 'messages'.", param="messages",
                        code="missing_required_parameter", flavor=flavor)
    if not isinstance(messages, list):
        raise oai_error(400, "Invalid type for 'messages': expected an array.", param="messages",
                        code="invalid_type", flavor=flavor)
    if not messages:
        raise oai_error(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                        "but got an empty array instead.", param="messages", code="empty_array", flavor=flavor)
    prompt_tokens = 0
    last_user = ""
    for m in messages:
        if not isinstance(m, dict):
            raise oai_error(400, "Invalid type for 'messages[0]': expected an object.", param="messages",
                            code="invalid_type", flavor=flavor)
        prompt_tokens += len(words(content_text(m.get("content"))))
        if m.get("role") == "user":
            last_user = content_text(m.get("content"))
    last_role = messages[-1].get("role")
    n = n_of(body)
    stream, include_usage, obfuscate = stream_flags(body)
    obfuscate = obfuscate and obfuscation and flavor == "openai"
    cid = "chatcmpl-" + (uuid.uuid4().hex if flavor == "vllm" else secrets.token_urlsafe(21).replace("-", "x").replace("_", "y"))
    created = int(time.time())

    calls = plan_tool_calls(body, last_user, last_role)
    if calls:
        finish = "tool_calls"
        per_choice_tokens = sum(len(words(args)) for _, args in calls)
        call_ids = [["call_" + secrets.token_hex(12) for _ in calls] for _ in range(n)]
        pieces: list[str] = []
    else:
        pieces, finish = answer_pieces(last_user, int_field(body, "max_completion_tokens", "max_tokens"), stops_of(body))
        per_choice_tokens = len(pieces)
    completion_tokens = per_choice_tokens * n
    usage = usage_obj(prompt_tokens, completion_tokens, flavor)

    if not stream:
        choices = []
        for i in range(n):
            if flavor == "vllm":
                msg: dict[str, Any] = {"role": "assistant", "reasoning_content": None,
                                       "content": None if calls else "".join(pieces), "tool_calls": []}
            else:
                msg = {"role": "assistant", "content": None if calls else "".join(pieces), "refusal": None,
                       "annotations": []}
            if calls:
                msg["tool_calls"] = [{"id": call_ids[i][j], "type": "function",
                                      "function": {"name": name, "arguments": args}}
                                     for j, (name, args) in enumerate(calls)]
            ch: dict[str, Any] = {"index": i, "message": msg, "logprobs": None, "finish_reason": finish}
            if flavor == "vllm":
                ch["stop_reason"] = None
            choices.append(ch)
        obj: dict[str, Any] = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                               "choices": choices, "usage": usage}
        if flavor == "openai":
            obj["service_tier"] = "default"
            obj["system_fingerprint"] = SYSTEM_FINGERPRINT
        else:
            obj["prompt_logprobs"] = None
        return Answer(prompt_tokens, completion_tokens, body=cjson(obj))

    def chunk(choices: list, final_usage: dict | None = None) -> bytes:
        obj: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
        if flavor == "openai":
            obj["service_tier"] = "default"
            obj["system_fingerprint"] = SYSTEM_FINGERPRINT
        obj["choices"] = choices
        if include_usage and (flavor == "openai" or final_usage is not None):
            obj["usage"] = final_usage
        if obfuscate:
            obj["obfuscation"] = _obfuscation()
        return sse(obj)

    per_choice: list[list[dict]] = []
    for i in range(n):
        deltas: list[dict] = []
        if calls:
            for j, (name, args) in enumerate(calls):
                head = {"index": j, "id": call_ids[i][j], "type": "function",
                        "function": {"name": name, "arguments": ""}}
                if j == 0:
                    d: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [head]}
                    if flavor == "openai":
                        d["refusal"] = None
                    deltas.append(d)
                else:
                    deltas.append({"tool_calls": [head]})
                for frag in re.findall(r"\S+\s*", args):
                    deltas.append({"tool_calls": [{"index": j, "function": {"arguments": frag}}]})
        else:
            first: dict[str, Any] = {"role": "assistant", "content": ""}
            if flavor == "openai":
                first["refusal"] = None
            deltas.append(first)
            deltas += [{"content": p} for p in pieces]
        per_choice.append(deltas)

    events = []
    for i, delta in _interleave(per_choice):
        events.append(chunk([{"index": i, "delta": delta, "logprobs": None, "finish_reason": None}]))
    for i in range(n):
        fin: dict[str, Any] = {"index": i, "delta": {}, "logprobs": None, "finish_reason": finish}
        if flavor == "vllm":
            fin["stop_reason"] = None
        events.append(chunk([fin]))
    if include_usage:
        events.append(chunk([], usage))
    events.append(SSE_DONE)
    return Answer(prompt_tokens, completion_tokens, events=events)


def build_completion(body: dict, model: str, flavor: str, obfuscation: bool = False) -> Answer:
    prompt = body.get("prompt")
    if prompt is None:
        raise oai_error(400, "Missing required parameter: 'prompt'.", param="prompt",
                        code="missing_required_parameter", flavor=flavor)
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = prompt
    elif isinstance(prompt, list) and prompt:  # token arrays
        prompts = [json.dumps(prompt)]
    else:
        raise oai_error(400, "Invalid type for 'prompt': expected a string or an array.", param="prompt",
                        code="invalid_type", flavor=flavor)
    prompt_tokens = sum(len(words(p)) for p in prompts)
    pieces, finish = answer_pieces(prompts[-1], int_field(body, "max_tokens"), stops_of(body))
    if body.get("echo") is True:
        pieces = [prompts[-1]] + pieces
    n = n_of(body)
    completion_tokens = len(pieces) * n
    usage = usage_obj(prompt_tokens, completion_tokens, flavor, chat=False)
    cid = ("cmpl-" + uuid.uuid4().hex) if flavor == "vllm" else "cmpl-" + secrets.token_hex(14)
    created = int(time.time())
    stream, include_usage, _ = stream_flags(body)
    if not stream:
        obj: dict[str, Any] = {"id": cid, "object": "text_completion", "created": created, "model": model,
                               "choices": [{"text": "".join(pieces), "index": i, "logprobs": None,
                                            "finish_reason": finish} for i in range(n)],
                               "usage": usage}
        if flavor == "openai":
            obj["system_fingerprint"] = SYSTEM_FINGERPRINT
        return Answer(prompt_tokens, completion_tokens, body=cjson(obj))

    def chunk(choices: list, final_usage: dict | None = None) -> bytes:
        obj: dict[str, Any] = {"id": cid, "object": "text_completion", "created": created, "model": model,
                               "choices": choices}
        if flavor == "openai":
            obj["system_fingerprint"] = SYSTEM_FINGERPRINT
        if include_usage and (flavor == "openai" or final_usage is not None):
            obj["usage"] = final_usage
        return sse(obj)

    events = []
    for i, piece in _interleave([[{"text": p} for p in pieces] for _ in range(n)]):
        events.append(chunk([{"text": piece["text"], "index": i, "logprobs": None, "finish_reason": None}]))
    for i in range(n):
        events.append(chunk([{"text": "", "index": i, "logprobs": None, "finish_reason": finish}]))
    if include_usage:
        events.append(chunk([], usage))
    events.append(SSE_DONE)
    return Answer(prompt_tokens, completion_tokens, events=events)


def embedding_vector(text: str, dims: int) -> list[float]:
    out: list[float] = []
    counter = 0
    while len(out) < dims:
        h = hashlib.sha256(f"{counter}:{text}".encode("utf-8")).digest()
        out += [round(int.from_bytes(h[4 * i:4 * i + 4], "big") / 2 ** 32 * 2 - 1, 6) for i in range(8)]
        counter += 1
    return out[:dims]


def build_embeddings(body: dict, model: str, flavor: str, obfuscation: bool = False) -> Answer:
    inp = body.get("input")
    if inp is None:
        raise oai_error(400, "Missing required parameter: 'input'.", param="input",
                        code="missing_required_parameter", flavor=flavor)
    if isinstance(inp, str):
        inputs = [inp]
    elif isinstance(inp, list) and inp and all(isinstance(x, str) for x in inp):
        inputs = inp
    elif isinstance(inp, list) and inp:
        inputs = [json.dumps(x) for x in inp] if isinstance(inp[0], list) else [json.dumps(inp)]
    else:
        raise oai_error(400, "'$.input' is invalid. Please check the API reference: "
                        "https://platform.openai.com/docs/api-reference.", param=None, flavor=flavor)
    dims = int_field(body, "dimensions") or 16
    prompt_tokens = sum(len(words(x)) for x in inputs)
    b64 = body.get("encoding_format") == "base64"
    data = []
    for i, x in enumerate(inputs):
        vec = embedding_vector(x, dims)
        emb: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if b64 else vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    obj = {"object": "list", "data": data, "model": model,
           "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}
    return Answer(prompt_tokens, 0, body=cjson(obj))


BUILDERS = {"/v1/chat/completions": build_chat, "/v1/completions": build_completion,
            "/v1/embeddings": build_embeddings}

# ======================================================================================
# Faults (the request log, the faults' bookkeeping and the /__sim/ routes are simkit's)

FAULT_MODES = ("none", "slow", "stall", "5xx", "429", "drop", "midstream_error")

SSE_HEADERS = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"),
               ("X-Accel-Buffering", "no")]


def stream_events(h: simkit.SimHandler, status: int, events: list[bytes], headers: list[tuple[str, str]],
                  tps: float, fault: dict, error: Any) -> None:
    """SSE answer of h (whose h.state is a simkit.SimState): one socket write per event, 1/tps s apart
    (comment events are not paced), with the stream faults after 2 events: drop = close the
    connection, midstream_error = `error` as the last event, stall = wait delayMs.
    ocf_head_sim's workers stream with it too."""
    mode = fault.get("mode", "none")
    delay = 1.0 / tps if tps > 0 else 0.0
    try:
        chunked = h.begin_stream(status, headers)
        for i, ev in enumerate(events):
            if i == 2 and mode == "drop":
                log.info("drop fault: closing the stream after 2 events")
                h.abort()
                return
            if i == 2 and mode == "midstream_error":
                h.wfile.write(simkit.chunk(sse(error), chunked, last=True))
                h.wfile.flush()
                h.close_connection = True
                return
            if i == 2 and mode == "stall":
                time.sleep(max(0.0, float(fault.get("delayMs") or 0)) / 1000.0)
            if i > 0 and delay and not ev.startswith(b":"):
                time.sleep(delay)
            h.wfile.write(simkit.chunk(ev, chunked, last=i == len(events) - 1))
            h.wfile.flush()
    except OSError:
        h.close_connection = True
        h.state.count_disconnect()
        log.info("client went away mid-stream")


# ======================================================================================
# HTTP

class Handler(simkit.SimHandler):
    server_version = "openai-sim/1.0"
    args: argparse.Namespace
    state: simkit.SimState

    def cors_headers(self) -> list[tuple[str, str]]:
        return [("Access-Control-Allow-Origin", "*")]

    # ---- dispatch

    def do_OPTIONS(self) -> None:
        self.wfile.write(self._head_bytes(204, [
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
            ("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, OpenAI-Organization"),
            ("Content-Length", "0")]))

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        try:
            body = self.read_body() if method in ("POST", "PUT", "DELETE") else b""
            path = urlsplit(self.path).path
            if path.startswith("/__sim/"):
                self._admin(method, path, body)
                return
            route = path.rstrip("/") or "/"
            route_key = route if not route.startswith("/v1/models/") else "/v1/models/{id}"
            self.state.request_log.record(method, self.path, route_key, self.headers, body)
            self._api(method, route, body)
        except ApiError as e:
            self.send_json(e.status, e.body, extra=e.headers or [("x-request-id", "req_" + uuid.uuid4().hex)])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("internal error on %s %s", method, self.path)
            try:
                self.send_json(500, {"error": {"message": "internal simulator error", "type": "server_error",
                                               "param": None, "code": None}})
            except OSError:
                self.close_connection = True

    def _err(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
             code: str | None = None, headers: list[tuple[str, str]] | None = None) -> ApiError:
        return oai_error(status, message, type_, param, code, flavor=self.args.flavor, headers=headers)

    def _check_auth(self) -> None:
        key = self.args.api_key
        if not key:
            return
        auth = self.headers.get("Authorization") or ""
        if self.args.flavor == "vllm":
            if auth != f"Bearer {key}":
                raise ApiError(401, {"error": "Unauthorized"})
            return
        if not auth.strip():
            raise self._err(401, "You didn't provide an API key. You need to provide your API key in an "
                            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the "
                            "password field (with blank username) if you're accessing the API from your browser and "
                            "are prompted for a username. You can obtain an API key from "
                            "https://platform.openai.com/account/api-keys.")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else auth.strip()
        if given != key:
            masked = (given[:3] + "*" * max(0, len(given) - 7) + given[-4:]) if len(given) > 7 else "*" * len(given)
            raise self._err(401, f"Incorrect API key provided: {masked}. You can find your API key at "
                            "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    def _common_headers(self) -> list[tuple[str, str]]:
        h = [("x-request-id", "req_" + uuid.uuid4().hex), ("x-sim-upstream", "openai_sim")]
        if self.args.flavor == "openai":
            h += [("openai-organization", "sim-org"), ("openai-processing-ms", "1"), ("openai-version", "2020-10-01"),
                  ("x-ratelimit-limit-requests", "10000"), ("x-ratelimit-remaining-requests", "9999"),
                  ("x-ratelimit-reset-requests", "6ms"), ("x-ratelimit-limit-tokens", "200000"),
                  ("x-ratelimit-remaining-tokens", "199990"), ("x-ratelimit-reset-tokens", "3ms")]
        return h

    def _model_obj(self, i: int, mid: str) -> dict:
        if self.args.flavor == "vllm":
            return {"id": mid, "object": "model", "created": self.args.created + i, "owned_by": "vllm",
                    "root": mid, "parent": None, "max_model_len": 8192, "permission": []}
        return {"id": mid, "object": "model", "created": self.args.created + i, "owned_by": self.args.owned_by}

    def _api(self, method: str, route: str, body: bytes) -> None:
        args = self.args
        if not route.startswith("/v1/") and route != "/v1":
            raise self._err(404, f"Invalid URL ({method} {route})")
        self._check_auth()
        if method == "GET" and route == "/v1/models":
            self.send_json(200, {"object": "list", "data": [self._model_obj(i, m) for i, m in enumerate(args.model_list)]},
                           extra=self._common_headers())
            return
        if method == "GET" and route.startswith("/v1/models/"):
            mid = unquote(route[len("/v1/models/"):])
            if mid not in args.model_list:
                raise self._err(404, f"The model '{mid}' does not exist", param="model", code="model_not_found")
            i = args.model_list.index(mid)
            self.send_json(200, self._model_obj(i, mid), extra=self._common_headers())
            return
        builder = BUILDERS.get(route)
        if builder is None or method != "POST":
            raise self._err(404, f"Invalid URL ({method} {route})")
        try:
            req = json.loads(body.decode("utf-8")) if body.strip() else None
        except (UnicodeDecodeError, ValueError):
            req = None
            bad = True
        else:
            bad = not isinstance(req, dict)
        if bad or req is None:
            raise self._err(400, "We could not parse the JSON body of your request. (HINT: This likely means you "
                            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what "
                            "was sent was not valid JSON. If you have trouble figuring out how to fix this, please "
                            "contact us through our help center at help.openai.com.)")
        model = req.get("model")
        if not isinstance(model, str) or not model:
            raise self._err(400, "you must provide a model parameter")
        if model not in args.model_list:
            raise self._err(404, f"The model `{model}` does not exist or you do not have access to it.",
                            code="model_not_found")
        if "stream_options" in req and args.no_stream_options:
            raise self._err(400, "Unrecognized request argument supplied: stream_options")
        if req.get("stream_options") is not None and req.get("stream") is not True and builder is not build_embeddings:
            if args.flavor == "vllm":
                raise self._err(400, "Stream options can only be defined when `stream=True`.")
            raise self._err(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                            param="stream_options")
        answer = builder(req, model, args.flavor, args.obfuscation)

        fault = self.state.faults.take(body)
        mode = fault["mode"]
        if mode != "none":
            log.info("fault %s applied to %s", mode, route)
        if mode in ("slow", "stall") and (mode == "slow" or answer.events is None):
            time.sleep(max(0.0, float(fault.get("delayMs") or 0)) / 1000.0)
        elif mode == "5xx" or (mode == "midstream_error" and answer.events is None):
            status = int(fault.get("status") or 500)
            msg = fault.get("message") or ("The engine is currently overloaded, please try again later."
                                           if status == 503 else
                                           "The server had an error while processing your request. Sorry about that!")
            raise self._err(status, msg, type_="server_error", headers=self._common_headers())
        elif mode == "429":
            ra = float(fault.get("retryAfter", 1) or 0)
            hdrs = self._common_headers() + [("retry-after", str(int(ra) if ra == int(ra) else ra)),
                                             ("retry-after-ms", str(int(ra * 1000)))]
            hdrs = [(k, "0") if k == "x-ratelimit-remaining-requests" else (k, v) for k, v in hdrs]
            if "shouldRetry" in fault:
                hdrs.append(("x-should-retry", "true" if fault["shouldRetry"] else "false"))
            if fault.get("code") == "insufficient_quota":
                raise self._err(429, "You exceeded your current quota, please check your plan and billing details. "
                                "For more information on this error, read the docs: "
                                "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                                type_="insufficient_quota", code="insufficient_quota", headers=hdrs)
            raise self._err(429, f"Rate limit reached for {model} in organization sim-org on requests per min (RPM): "
                            "Limit 3, Used 3, Requested 1. Please try again in 1s.", type_="requests",
                            code=fault.get("code") or "rate_limit_exceeded", headers=hdrs)
        elif mode == "drop" and answer.events is None:
            log.info("drop fault: closing without an answer")
            self.abort()
            return

        tps = args.tokens_per_second
        if answer.events is None:
            if tps > 0 and answer.completion_tokens:
                time.sleep(answer.completion_tokens / tps)
            self.send_bytes(200, answer.body or b"{}", extra=self._common_headers())
            return
        error = {"error": {"message": fault.get("message") or
                           "The server had an error while processing your request. Sorry about that!",
                           "type": "server_error", "param": None, "code": None}}
        stream_events(self, 200, answer.events, SSE_HEADERS + self._common_headers() + self.cors_headers(), tps,
                      fault, error)

    # ---- admin (the routes are simkit.SimHandler._admin's)

    def admin_state(self) -> dict:
        st = self.state.snapshot()
        st.update({"models": self.args.model_list, "flavor": self.args.flavor,
                   "streamOptions": not self.args.no_stream_options})
        return st

    def admin_faults(self) -> simkit.FaultSwitch:
        return self.state.faults

    def admin_reset(self) -> None:
        self.state.reset()


def main(argv: list[str] | None = None) -> int:
    simkit.exit_on_signals()

    p = argparse.ArgumentParser(description="Simulated OpenAI-compatible provider")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--models", default="sim/echo-8b,sim/echo-70b", help="comma-separated served model ids")
    p.add_argument("--api-key", default=None, help="required Bearer key (default: no auth)")
    p.add_argument("--tokens-per-second", type=float, default=0.0, help="pacing; 0 = instant")
    p.add_argument("--no-stream-options", action="store_true", help="reject bodies with stream_options (400)")
    p.add_argument("--flavor", choices=FLAVORS, default="openai", help="wire details of OpenAI or of vLLM")
    p.add_argument("--obfuscation", action="store_true",
                   help="add OpenAI's random 'obfuscation' field to chunks (unless include_obfuscation: false)")
    p.add_argument("--owned-by", default="openai-sim")
    p.add_argument("--created", type=int, default=1700000000, help="'created' of the first model")
    p.add_argument("--exit-with-parent", action="store_true")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]

    simkit.setup_process("openai_sim", args.verbose, args.exit_with_parent)

    Handler.args = args
    Handler.state = simkit.SimState(FAULT_MODES)
    server = simkit.Server((args.host, args.port), Handler)
    url = simkit.url_of(server, args.host)
    ready = {"url": url, "baseUrl": url + "/v1", "models": args.model_list, "apiKey": args.api_key,
             "flavor": args.flavor, "streamOptions": not args.no_stream_options}
    simkit.announce_ready("OPENAI", ready)
    log.info("serving %s on %s", ", ".join(args.model_list), url)
    simkit.serve(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
