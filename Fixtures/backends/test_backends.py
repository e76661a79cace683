#!/usr/bin/env python3
"""Self-test of the backend simulators (openai_sim, ocf_head_sim, replicate_sim).

Run from the repository root:
  .venv/bin/python Fixtures/backends/test_backends.py [-v] [-k substring]

Starts every simulator on a free port, checks the documented wire shapes with httpx and the
openai SDK, prints one line per test and "N passed, M failed"; exits non-zero on failure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from typing import Any, Callable

import httpx
import openai

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
VERBOSE = "-v" in sys.argv
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None

KEY = "sk-test-0123456789abcdef"
RTOKEN = "r8_testtoken"
OCF_MODELS = ["swiss-ai/Apertus-8B", "sim/echo-70b"]
REP_MODEL = "meta/meta-llama-3-8b-instruct"
REP_PLAIN = "acme/plain-llm"

PROCS: list[subprocess.Popen] = []


def log(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)


def start(script: str, *args: str, prefix: str, preexec: Callable[[], None] | None = None) -> tuple[subprocess.Popen, dict]:
    p = subprocess.Popen([PY, os.path.join(HERE, script), "--exit-with-parent", *args], stdout=subprocess.PIPE,
                         stderr=None if VERBOSE else subprocess.DEVNULL, preexec_fn=preexec)
    PROCS.append(p)
    return p, {"_prefix": prefix, "_proc": p}


def wait_ready(p: subprocess.Popen, prefix: str, timeout: float = 15.0) -> dict:
    assert p.stdout is not None
    deadline = time.time() + timeout
    buf = b""
    while time.time() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.1)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            if b"\n" in buf:
                line = buf.split(b"\n", 1)[0].decode()
                assert line.startswith(prefix + " READY "), f"bad ready line {line!r}"
                return json.loads(line[len(prefix) + 7:])
    raise RuntimeError(f"{prefix} did not become ready: {buf!r}")


# --------------------------------------------------------------------------------------
# start everything in parallel

_specs = {
    "oa": ("openai_sim.py", ["--api-key", KEY, "--models", "sim/a,org/model-b"], "OPENAI"),
    "oa_strict": ("openai_sim.py", ["--no-stream-options", "--models", "sim/a"], "OPENAI"),
    "oa_vllm": ("openai_sim.py", ["--flavor", "vllm", "--models", "sim/v", "--api-key", KEY], "OPENAI"),
    "ocf": ("ocf_head_sim.py", ["--models", ",".join(OCF_MODELS), "--wildcard", "--catch-all"], "OCF"),
    "ocf_legacy": ("ocf_head_sim.py", ["--shape", "legacy", "--models", "sim/legacy"], "OCF"),
    "rep": ("replicate_sim.py", ["--token", RTOKEN, "--models", REP_MODEL, "--no-stream-models", REP_PLAIN,
                                 "--processing-seconds", "0.3", "--stream-origin", "separate"], "REPLICATE"),
}
_started = {k: start(s, *a, prefix=pfx)[0] for k, (s, a, pfx) in _specs.items()}
SIM: dict[str, dict] = {k: wait_ready(p, _specs[k][2]) for k, p in _started.items()}

# --------------------------------------------------------------------------------------
# tiny test runner

TESTS: list[tuple[str, Callable[[], None]]] = []


def test(fn: Callable[[], None]) -> Callable[[], None]:
    TESTS.append((fn.__name__, fn))
    return fn


def eq(a: Any, b: Any, what: str = "") -> None:
    assert a == b, f"{what}: {a!r} != {b!r}"


http = httpx.Client(timeout=10.0)


def oa_client(key: str = KEY, base: str | None = None, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=base or SIM["oa"]["baseUrl"], max_retries=0, timeout=10.0, **kw)


def admin(sim: str, path: str, body: Any = None) -> dict:
    url = SIM[sim]["url"] + path
    r = http.post(url, json=body) if body is not None else http.get(url)
    r.raise_for_status()
    return r.json()


def sse_data(url: str, body: dict, headers: dict | None = None) -> tuple[httpx.Response, list[str], list[str]]:
    """POST and return (response, data payloads, comment lines) of an OpenAI-style SSE stream."""
    datas, comments = [], []
    with http.stream("POST", url, json=body, headers=headers or {}) as r:
        buf: list[str] = []
        for line in r.iter_lines():
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("data:"):
                buf.append(line[5:].removeprefix(" "))
            elif line == "" and buf:
                datas.append("\n".join(buf))
                buf = []
        if buf:
            datas.append("\n".join(buf))
    return r, datas, comments


AUTH = {"Authorization": f"Bearer {KEY}"}
MSG = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello big world"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "w",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
         {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}]

# ======================================================================================
# openai_sim


@test
def openai_models() -> None:
    c = oa_client()
    models = c.models.list()
    eq([m.id for m in models.data], ["sim/a", "org/model-b"], "ids")
    raw = http.get(SIM["oa"]["baseUrl"] + "/models", headers=AUTH).json()
    eq(raw["object"], "list", "object")
    for m in raw["data"]:
        assert isinstance(m["created"], int) and not isinstance(m["created"], bool), m
        eq(m["object"], "model", "model object")
        assert isinstance(m["owned_by"], str) and m["owned_by"], m
    eq(c.models.retrieve("org/model-b").id, "org/model-b", "retrieve with slash")
    try:
        c.models.retrieve("nope")
        raise AssertionError("expected 404")
    except openai.NotFoundError as e:
        eq(e.code, "model_not_found", "code")


@test
def openai_auth_errors() -> None:
    r = http.get(SIM["oa"]["baseUrl"] + "/models")
    eq(r.status_code, 401, "missing key status")
    err = r.json()["error"]
    eq(sorted(err), ["code", "message", "param", "type"], "envelope keys")
    try:
        oa_client(key="sk-wrong-key-123456").models.list()
        raise AssertionError("expected 401")
    except openai.AuthenticationError as e:
        eq(e.code, "invalid_api_key", "code")
        assert "sk-" in e.message and "wrong-key" not in e.message, e.message  # masked


@test
def openai_chat_json() -> None:
    raw = oa_client().chat.completions.with_raw_response.create(model="sim/a", messages=MSG)
    assert raw.headers.get("x-request-id", "").startswith("req_"), raw.headers
    r = raw.parse()
    eq(r.object, "chat.completion", "object")
    assert r.id.startswith("chatcmpl-"), r.id
    eq(r.choices[0].message.content, "Echo: hello big world", "content")
    eq(r.choices[0].finish_reason, "stop", "finish")
    eq((r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens), (5, 4, 9), "usage")
    r2 = oa_client().chat.completions.create(model="sim/a", messages=MSG, max_tokens=2, n=2)
    eq([c.message.content for c in r2.choices], ["Echo: hello"] * 2, "truncated n=2")
    eq(r2.choices[1].finish_reason, "length", "finish length")
    eq(r2.usage.completion_tokens, 4, "n x tokens")


@test
def openai_stream_without_usage() -> None:
    r, datas, _ = sse_data(SIM["oa"]["baseUrl"] + "/chat/completions",
                           {"model": "sim/a", "messages": MSG, "stream": True}, AUTH)
    assert r.headers["content-type"].startswith("text/event-stream"), r.headers
    eq(datas[-1], "[DONE]", "last")
    chunks = [json.loads(d) for d in datas[:-1]]
    assert all("usage" not in c for c in chunks), "usage key must be absent without include_usage"
    eq(len({c["id"] for c in chunks}), 1, "same id")
    eq(len({c["created"] for c in chunks}), 1, "same created")
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    eq(chunks[0]["choices"][0]["delta"].get("role"), "assistant", "role first")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    eq(text, "Echo: hello big world", "text")
    eq(chunks[-1]["choices"][0]["finish_reason"], "stop", "finish")
    eq(chunks[-1]["choices"][0]["delta"], {}, "finish delta")


@test
def openai_stream_with_usage() -> None:
    r, datas, _ = sse_data(SIM["oa"]["baseUrl"] + "/chat/completions",
                           {"model": "sim/a", "messages": MSG, "stream": True,
                            "stream_options": {"include_usage": True}}, AUTH)
    eq(datas[-1], "[DONE]", "last")
    chunks = [json.loads(d) for d in datas[:-1]]
    for c in chunks[:-1]:
        assert "usage" in c and c["usage"] is None, c
    last = chunks[-1]
    eq(last["choices"], [], "usage chunk choices")
    eq((last["usage"]["prompt_tokens"], last["usage"]["completion_tokens"], last["usage"]["total_tokens"]),
       (5, 4, 9), "usage")
    # and through the SDK
    s = oa_client().chat.completions.create(model="sim/a", messages=MSG, stream=True,
                                            stream_options={"include_usage": True})
    got = list(s)
    eq(got[-1].usage.total_tokens, 9, "sdk usage")
    eq("".join(c.choices[0].delta.content or "" for c in got if c.choices), "Echo: hello big world", "sdk text")


@test
def openai_tools() -> None:
    c = oa_client()
    r = c.chat.completions.create(model="sim/a", tools=TOOLS,
                                  messages=[{"role": "user", "content": "Please use the tool for Paris"}])
    eq(r.choices[0].finish_reason, "tool_calls", "finish")
    tc = r.choices[0].message.tool_calls
    eq(len(tc), 1, "one call")
    eq(tc[0].function.name, "get_weather", "name")
    eq(json.loads(tc[0].function.arguments), {"city": "Please use the tool for Paris"}, "args")
    # no trigger -> text; tool_choice none -> text
    r = c.chat.completions.create(model="sim/a", tools=TOOLS, messages=[{"role": "user", "content": "hi"}])
    eq(r.choices[0].message.tool_calls, None, "no call")
    r = c.chat.completions.create(model="sim/a", tools=TOOLS, tool_choice="none",
                                  messages=[{"role": "user", "content": "use the tool"}])
    eq(r.choices[0].message.content, "Echo: use the tool", "tool_choice none")
    # streamed parallel calls: indices 0 and 1, id/type/name on the first fragment only
    _, datas, _ = sse_data(SIM["oa"]["baseUrl"] + "/chat/completions",
                           {"model": "sim/a", "tools": TOOLS, "stream": True,
                            "messages": [{"role": "user", "content": "use all tools now"}]}, AUTH)
    chunks = [json.loads(d) for d in datas[:-1]]
    calls: dict[int, dict] = {}
    for ch in chunks:
        for t in ch["choices"][0]["delta"].get("tool_calls") or []:
            assert "index" in t, t
            slot = calls.setdefault(t["index"], {"id": None, "name": None, "args": "", "heads": 0})
            if "id" in t:
                slot["heads"] += 1
                slot["id"], slot["name"] = t["id"], t["function"]["name"]
                eq(t["type"], "function", "type")
            slot["args"] += t["function"].get("arguments", "")
    eq(sorted(calls), [0, 1], "indices")
    eq([calls[i]["name"] for i in (0, 1)], ["get_weather", "get_time"], "names")
    eq([calls[i]["heads"] for i in (0, 1)], [1, 1], "one head each")
    eq(json.loads(calls[1]["args"]), {"input": "use all tools now"}, "args 1")
    eq(chunks[-1]["choices"][0]["finish_reason"], "tool_calls", "finish")
    # a tool result as the last message -> text answer
    r = c.chat.completions.create(model="sim/a", tools=TOOLS, messages=[
        {"role": "user", "content": "use the tool"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                                               "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])
    eq(r.choices[0].finish_reason, "stop", "after tool result")


@test
def openai_completions_and_embeddings() -> None:
    c = oa_client()
    r = c.completions.create(model="sim/a", prompt="one two three")
    eq(r.choices[0].text, "Echo: one two three", "text")
    eq((r.usage.prompt_tokens, r.usage.completion_tokens), (3, 4), "usage")
    _, datas, _ = sse_data(SIM["oa"]["baseUrl"] + "/completions",
                           {"model": "sim/a", "prompt": "a b", "stream": True,
                            "stream_options": {"include_usage": True}}, AUTH)
    chunks = [json.loads(d) for d in datas[:-1]]
    eq(datas[-1], "[DONE]", "done")
    eq("".join(ch["choices"][0]["text"] for ch in chunks if ch["choices"]), "Echo: a b", "stream text")
    eq(chunks[-1]["usage"]["completion_tokens"], 3, "usage")
    e = c.embeddings.create(model="sim/a", input=["x y", "z"], dimensions=12, encoding_format="float")
    eq([len(d.embedding) for d in e.data], [12, 12], "dims")
    eq(e.usage.prompt_tokens, 3, "embedding usage")
    raw = http.post(SIM["oa"]["baseUrl"] + "/embeddings", headers=AUTH,
                    json={"model": "sim/a", "input": "x y", "encoding_format": "base64"}).json()
    vec = struct.unpack("<16f", base64.b64decode(raw["data"][0]["embedding"]))
    assert all(abs(a - b) < 1e-5 for a, b in zip(vec, e.data[0].embedding)), "base64 = float32 of the same vector"


@test
def openai_request_errors() -> None:
    url = SIM["oa"]["baseUrl"] + "/chat/completions"
    r = http.post(url, headers=AUTH, json={"model": "gpt-nope", "messages": MSG})
    eq(r.status_code, 404, "status")
    eq(r.json(), {"error": {"message": "The model `gpt-nope` does not exist or you do not have access to it.",
                            "type": "invalid_request_error", "param": None, "code": "model_not_found"}}, "envelope")
    r = http.post(url, headers=AUTH, json={"model": "sim/a", "messages": MSG, "stream_options": {"include_usage": True}})
    eq(r.status_code, 400, "stream_options without stream")
    eq(r.json()["error"]["param"], "stream_options", "param")
    r = http.post(url, headers={**AUTH, "content-type": "application/json"}, content=b"{not json")
    eq(r.status_code, 400, "bad json")
    r = http.post(url, headers=AUTH, json={"model": "sim/a"})
    eq((r.status_code, r.json()["error"]["code"]), (400, "missing_required_parameter"), "no messages")


@test
def openai_state_records_request() -> None:
    admin("oa", "/__sim/reset", {})
    body = {"model": "sim/a", "messages": MSG, "metadata": {"k": "v"}, "prompt_cache_key": "pck", "user": "u1"}
    raw = json.dumps(body, separators=(",", ":"))
    http.post(SIM["oa"]["baseUrl"] + "/chat/completions", content=raw,
              headers={**AUTH, "Content-Type": "application/json", "X-Custom-Trace": "abc", "OpenAI-Beta": "x=1"})
    st = admin("oa", "/__sim/state")
    eq(st["requests"], 1, "count")
    eq(st["lastRequest"]["body"], raw, "body byte-exact")
    eq(st["lastRequest"]["json"], body, "parsed body")
    eq(st["lastRequest"]["headers"]["X-Custom-Trace"], "abc", "custom header")
    eq(st["lastRequest"]["headers"]["OpenAI-Beta"], "x=1", "beta header")
    eq(st["byRoute"], {"POST /v1/chat/completions": 1}, "byRoute")


@test
def openai_faults() -> None:
    c = oa_client()
    admin("oa", "/__sim/faults", {"mode": "429", "count": 1, "retryAfter": 2})
    try:
        c.chat.completions.create(model="sim/a", messages=MSG)
        raise AssertionError("expected 429")
    except openai.RateLimitError as e:
        eq(e.code, "rate_limit_exceeded", "code")
        eq(e.response.headers.get("retry-after"), "2", "retry-after")
        eq(e.response.headers.get("retry-after-ms"), "2000", "retry-after-ms")
    c.chat.completions.create(model="sim/a", messages=MSG)  # count consumed
    admin("oa", "/__sim/faults", {"mode": "429", "count": 1, "code": "insufficient_quota", "shouldRetry": False})
    r = http.post(SIM["oa"]["baseUrl"] + "/chat/completions", headers=AUTH, json={"model": "sim/a", "messages": MSG})
    eq((r.status_code, r.json()["error"]["code"], r.headers.get("x-should-retry")), (429, "insufficient_quota", "false"), "quota")
    admin("oa", "/__sim/faults", {"mode": "5xx", "count": 1, "status": 503})
    try:
        c.chat.completions.create(model="sim/a", messages=MSG)
        raise AssertionError("expected 503")
    except openai.InternalServerError as e:
        eq(e.status_code, 503, "status")
        eq(e.body["type"] if isinstance(e.body, dict) else None, "server_error", "type")
    admin("oa", "/__sim/faults", {"mode": "drop", "count": 1})
    try:
        c.chat.completions.create(model="sim/a", messages=MSG)
        raise AssertionError("expected a connection error")
    except openai.APIConnectionError:
        pass
    admin("oa", "/__sim/faults", {"mode": "drop", "count": 1})
    try:
        _, datas, _ = sse_data(SIM["oa"]["baseUrl"] + "/chat/completions",
                               {"model": "sim/a", "messages": MSG, "stream": True,
                                "stream_options": {"include_usage": True}}, AUTH)
        eq(len(datas), 2, "2 events then cut")
    except httpx.RemoteProtocolError:
        pass  # an incomplete chunked body is reported as an error, which is also fine
    admin("oa", "/__sim/faults", {"mode": "midstream_error", "count": 1})
    try:
        for _ in c.chat.completions.create(model="sim/a", messages=MSG, stream=True):
            pass
        raise AssertionError("expected APIError mid-stream")
    except openai.APIError as e:
        assert "server had an error" in e.message, e.message
    admin("oa", "/__sim/faults", {"mode": "slow", "count": 1, "delayMs": 300})
    t0 = time.monotonic()
    c.chat.completions.create(model="sim/a", messages=MSG)
    assert time.monotonic() - t0 >= 0.28, "slow fault"
    admin("oa", "/__sim/faults", {"mode": "stall", "count": 1, "delayMs": 300})
    gaps, last = [], time.monotonic()
    for _ in c.chat.completions.create(model="sim/a", messages=MSG, stream=True):
        now = time.monotonic()
        gaps.append(now - last)
        last = now
    assert max(gaps[1:]) >= 0.25, gaps
    eq(admin("oa", "/__sim/state")["faults"]["mode"], "none", "faults back to none")
    r = http.post(SIM["oa"]["url"] + "/__sim/faults", json={"mode": "bogus"})
    eq(r.status_code, 400, "bad mode")


@test
def openai_strict_server_rejects_stream_options() -> None:
    url = SIM["oa_strict"]["baseUrl"] + "/chat/completions"
    r = http.post(url, json={"model": "sim/a", "messages": MSG, "stream": True,
                             "stream_options": {"include_usage": True}})
    eq(r.status_code, 400, "status")
    eq(r.json()["error"]["message"], "Unrecognized request argument supplied: stream_options", "message")
    _, datas, _ = sse_data(url, {"model": "sim/a", "messages": MSG, "stream": True})
    eq(datas[-1], "[DONE]", "works without stream_options")
    assert all("usage" not in json.loads(d) for d in datas[:-1])
    eq(admin("oa_strict", "/__sim/state")["streamOptions"], False, "state flag")


@test
def openai_vllm_flavor() -> None:
    base = SIM["oa_vllm"]["baseUrl"]
    r = http.post(base + "/chat/completions", json={"model": "sim/v", "messages": MSG})
    eq((r.status_code, r.json()), (401, {"error": "Unauthorized"}), "vllm 401")
    r = http.post(base + "/chat/completions", headers=AUTH, json={"model": "x", "messages": MSG})
    eq(r.status_code, 404, "status")
    eq(r.json()["error"]["code"], 404, "integer code")
    _, datas, _ = sse_data(base + "/chat/completions", {"model": "sim/v", "messages": MSG, "stream": True,
                                                        "stream_options": {"include_usage": True}}, AUTH)
    chunks = [json.loads(d) for d in datas[:-1]]
    assert all("usage" not in c for c in chunks[:-1]), "vLLM puts no usage key on ordinary chunks"
    eq((chunks[-1]["choices"], chunks[-1]["usage"]["total_tokens"]), ([], 9), "final usage chunk")


# ======================================================================================
# ocf_head_sim

@test
def ocf_health_and_table() -> None:
    o = SIM["ocf"]
    eq(http.get(o["url"] + "/v1/health").json(), {"status": "ok"}, "health")
    table = http.get(o["url"] + "/v1/dnt/table").json()
    assert isinstance(table, dict) and "peers" not in table
    for key, peer in table.items():
        eq(key, "/" + peer["id"], "key")
        eq(peer["connected"], True, "connected only")
    assert "/" + o["disconnectedPeer"] not in table, "disconnected peer listed"
    head = table["/" + o["headPeer"]]
    eq(head["service"], None, "head service null")
    worker = table["/" + o["peers"][OCF_MODELS[0]][0]]
    for f in ("id", "latency", "privileged", "owner", "provider_id", "current_offering", "available_offering", "role",
              "status", "last_seen", "version", "public_address", "public_port", "relay_peer", "connected", "load",
              "hardware", "service"):
        assert f in worker, f
    svc = worker["service"][0]
    eq((svc["name"], svc["identity_group"]), ("llm", ["model=" + OCF_MODELS[0]]), "service")
    eq(sorted(svc), ["hardware", "host", "identity_group", "name", "port", "status"], "service keys")
    eq(table["/" + o["followerPeer"]]["service"], [], "follower")
    eq(table["/" + o["nonLlmPeer"]]["service"][0]["name"], "diffusion", "non-llm")
    # model ids as the notes define them
    models = set()
    for peer in table.values():
        for s in peer.get("service") or []:
            if s["name"] == "llm":
                models |= {g[6:] for g in s.get("identity_group") or [] if g.startswith("model=")}
    eq(models, set(OCF_MODELS) | {"*"}, "models (plus the wildcard)")
    groups = [s["identity_group"] for p in table.values() for s in p.get("service") or []]
    assert ["all"] in groups and [] in groups, groups
    allp = http.get(o["url"] + "/v1/dnt/peers").json()
    assert "/" + o["disconnectedPeer"] in allp and allp["/" + o["disconnectedPeer"]]["connected"] is False


@test
def ocf_legacy_table() -> None:
    o = SIM["ocf_legacy"]
    t = http.get(o["url"] + "/v1/dnt/table").json()
    eq(list(t), ["peers"], "wrapper")
    ids = [p["peer_id"] for p in t["peers"]]
    assert o["peers"]["sim/legacy"][0] in ids and o["disconnectedPeer"] not in ids, ids
    assert all("id" not in p for p in t["peers"])
    c = oa_client(key="unused", base=o["baseUrl"])
    eq(c.chat.completions.create(model="sim/legacy", messages=MSG).choices[0].message.content,
       "Echo: hello big world", "legacy routing")
    r, datas, comments = sse_data(o["baseUrl"] + "/chat/completions", {"model": "sim/legacy", "messages": MSG,
                                                                       "stream": True})
    eq((datas[-1], comments), ("[DONE]", []), "no head comment in legacy")


@test
def ocf_chat_routing() -> None:
    o = SIM["ocf"]
    admin("ocf", "/__sim/reset", {})
    c = oa_client(key="unused", base=o["baseUrl"])
    for m in OCF_MODELS:
        raw = c.chat.completions.with_raw_response.create(model=m, messages=MSG)
        eq(raw.headers["x-computing-node"], o["peers"][m][0], f"node for {m}")
        r = raw.parse()
        eq((r.model, r.choices[0].message.content, r.usage.total_tokens), (m, "Echo: hello big world", 9), "answer")
    st = admin("ocf", "/__sim/state")
    eq(st["routed"], {o["peers"][m][0]: 1 for m in OCF_MODELS}, "routed")
    eq(st["lastRequest"]["json"]["model"], OCF_MODELS[1], "last body")
    # completions through the head
    r = c.completions.create(model=OCF_MODELS[0], prompt="p q")
    eq(r.choices[0].text, "Echo: p q", "completions")
    # identity group header routes without the body's model
    r = http.post(o["baseUrl"] + "/chat/completions", headers={"X-Otela-Identity-Group": "model=" + OCF_MODELS[1]},
                  json={"model": OCF_MODELS[1], "messages": MSG})
    eq(r.headers["x-computing-node"], o["peers"][OCF_MODELS[1]][0], "header routing")


@test
def ocf_streaming() -> None:
    o = SIM["ocf"]
    node = o["peers"][OCF_MODELS[0]][0]
    for usage in (False, True):
        body: dict = {"model": OCF_MODELS[0], "messages": MSG, "stream": True}
        if usage:
            body["stream_options"] = {"include_usage": True}
        r, datas, comments = sse_data(o["baseUrl"] + "/chat/completions", body)
        eq(r.headers["x-computing-node"], node, "node")
        assert r.headers["content-type"].startswith("text/event-stream")
        eq(datas[-1], "[DONE]", "done")
        chunks = [json.loads(d) for d in datas[:-1]]
        eq("".join(ch["choices"][0]["delta"].get("content") or "" for ch in chunks if ch["choices"]),
           "Echo: hello big world", "text")
        if usage:
            eq((chunks[-1]["choices"], chunks[-1]["usage"]["total_tokens"]), ([], 9), "usage chunk")
            assert all(ch["usage"] is None for ch in chunks[:-1])
        else:
            assert all("usage" not in ch for ch in chunks)
        eq(len(comments), 1, "head timing comment after [DONE]")
    s = oa_client(key="unused", base=o["baseUrl"]).chat.completions.create(
        model=OCF_MODELS[0], messages=MSG, stream=True, stream_options={"include_usage": True})
    eq(list(s)[-1].usage.completion_tokens, 4, "sdk stream through the head")


@test
def ocf_errors() -> None:
    o = SIM["ocf"]
    url = o["baseUrl"] + "/chat/completions"
    r = http.post(url, json={"model": "not-served", "messages": MSG})
    eq((r.status_code, r.json()), (503, {"error": "No provider found for the requested service."}), "no match")
    assert "x-computing-node" not in r.headers
    r = http.post(url, json={"model": o["disconnectedModel"], "messages": MSG})
    eq(r.status_code, 503, "disconnected peer is not routed")
    r = http.post(o["url"] + "/v1/service/nosuch/v1/chat/completions", json={"model": OCF_MODELS[0]})
    eq((r.status_code, r.json()), (400, {"error": "no providers found"}), "unknown service")
    r = http.post(url, headers={"X-Otela-Fallback": "1"}, json={"model": "not-served", "messages": MSG})
    eq((r.status_code, r.headers["x-computing-node"]), (200, o["wildcardPeer"]), "wildcard fallback")
    r = http.post(url, headers={"X-Otela-Fallback": "2", "X-Otela-Identity-Group": "team=x"},
                  json={"model": "not-served", "messages": MSG})
    eq((r.status_code, r.headers["x-computing-node"]), (200, o["catchAllPeer"]), "catch-all fallback")
    admin("ocf", "/__sim/faults", {"mode": "5xx", "count": 1})
    r = http.post(url, json={"model": OCF_MODELS[0], "messages": MSG})
    eq((r.status_code, r.json(), r.headers.get("retry-after")),
       (503, {"error": "Service degraded, try again later"}, "5"), "degraded")
    admin("ocf", "/__sim/faults", {"mode": "unreachable", "count": 1})
    r = http.post(url, json={"model": OCF_MODELS[0], "messages": MSG})
    eq((r.status_code, r.json()), (502, {"error": "all workers unreachable for service llm"}), "unreachable")
    admin("ocf", "/__sim/faults", {"mode": "429", "count": 1})
    r = http.post(url, json={"model": OCF_MODELS[0], "messages": MSG})
    eq((r.status_code, r.json()["error"]["code"], r.headers["x-computing-node"]),
       (429, "rate_limit_exceeded", o["peers"][OCF_MODELS[0]][0]), "worker 429 passed through")
    r = http.post(url, json={"model": OCF_MODELS[0], "messages": []})
    eq((r.status_code, r.json()["error"]["code"]), (400, "empty_array"), "worker validation error")
    r = http.post(o["url"] + "/v1/service/llm/v1/nope", json={"model": OCF_MODELS[0]})
    eq((r.status_code, r.json()), (404, {"detail": "Not Found"}), "worker 404")


@test
def ocf_runtime_peers() -> None:
    o = SIM["ocf"]
    added = admin("ocf", "/__sim/peers", {"action": "add", "model": "sim/new"})
    table = http.get(o["url"] + "/v1/dnt/table").json()
    assert "/" + added["peerId"] in table
    r = http.post(o["baseUrl"] + "/chat/completions", json={"model": "sim/new", "messages": MSG})
    eq(r.headers["x-computing-node"], added["peerId"], "routes to the new peer")
    admin("ocf", "/__sim/peers", {"action": "disconnect", "peerId": added["peerId"]})
    assert "/" + added["peerId"] not in http.get(o["url"] + "/v1/dnt/table").json()
    r = http.post(o["baseUrl"] + "/chat/completions", json={"model": "sim/new", "messages": MSG})
    eq(r.status_code, 503, "after disconnect")


# ======================================================================================
# replicate_sim

RAUTH = {"Authorization": f"Bearer {RTOKEN}"}


def rurl(path: str) -> str:
    return SIM["rep"]["url"] + path


def rcreate(inp: dict, stream: bool = False, model: str = REP_MODEL, headers: dict | None = None) -> httpx.Response:
    body: dict = {"input": inp}
    if stream:
        body["stream"] = True
    return http.post(rurl(f"/v1/models/{model}/predictions"), json=body, headers={**RAUTH, **(headers or {})})


def poll(p: dict, timeout: float = 5.0) -> dict:
    assert p["urls"]["get"].startswith(SIM["rep"]["url"] + "/"), "get url on the API origin"
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = http.get(p["urls"]["get"], headers=RAUTH).json()
        if p["status"] in ("succeeded", "failed", "canceled"):
            return p
        time.sleep(0.05)
    raise AssertionError(f"prediction did not finish: {p}")


def replicate_events(url: str) -> list[dict]:
    """Parse like replicate-python's EventSource.Decoder."""
    out: list[dict] = []
    ev: dict = {"event": None, "data": [], "id": None}
    with http.stream("GET", url, headers={"Accept": "text/event-stream", "Cache-Control": "no-store"}) as r:
        assert r.headers["content-type"].partition(";")[0] == "text/event-stream", r.headers
        for line in r.iter_lines():
            if not line:
                if ev["event"] is not None and ev["id"] is not None:
                    out.append({"event": ev["event"], "data": "\n".join(ev["data"]), "id": ev["id"]})
                ev = {"event": None, "data": [], "id": ev["id"]}
                if out and out[-1]["event"] == "done":
                    break
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                ev["event"] = value
            elif field == "data":
                ev["data"].append(value)
            elif field == "id":
                ev["id"] = value
    return out


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@test
def replicate_create_and_poll() -> None:
    r = rcreate({"prompt": "tell me a story", "system_prompt": "be nice", "max_tokens": 64, "temperature": 0.5})
    eq(r.status_code, 201, "status")
    p = r.json()
    for f in ("id", "model", "version", "status", "input", "output", "logs", "error", "metrics", "created_at",
              "started_at", "completed_at", "urls"):
        assert f in p, f
    eq((p["status"], p["model"], p["output"]), ("starting", REP_MODEL, None), "fresh")
    eq(p["input"]["system_prompt"], "be nice", "input echoed")
    assert ISO.match(p["created_at"]), p["created_at"]
    eq(sorted(p["urls"]), ["cancel", "get", "web"], "no stream url unless asked")
    done = poll(p)
    eq(done["status"], "succeeded", "status")
    eq("".join(done["output"]), "Echo: tell me a story", "output")
    eq(done["output"][0], "Echo:", "pieces")
    assert ISO.match(done["started_at"]) and ISO.match(done["completed_at"])
    m = done["metrics"]
    eq((m["input_token_count"], m["output_token_count"]), (6, 5), "token counts")
    for f in ("predict_time", "total_time", "tokens_per_second", "time_to_first_token"):
        assert isinstance(m[f], (int, float)), f
    assert 0.15 < m["total_time"] < 2.0, m


@test
def replicate_prefer_wait() -> None:
    t0 = time.monotonic()
    p = rcreate({"prompt": "quick one", "max_new_tokens": 2}, headers={"Prefer": "wait"}).json()
    eq((p["status"], p["output"]), ("succeeded", ["Echo:", " quick"]), "sync answer, max_new_tokens")
    assert time.monotonic() - t0 < 2.0
    admin("rep", "/__sim/faults", {"mode": "slow", "count": 1, "delayMs": 1500})
    t0 = time.monotonic()
    r = rcreate({"prompt": "cold boot"}, headers={"Prefer": "wait=1"})
    waited = time.monotonic() - t0
    p = r.json()
    eq((r.status_code, p["status"]), (201, "starting"), "partial prediction after the wait")
    assert 0.9 < waited < 1.6, waited
    eq(poll(p)["status"], "succeeded", "then polled to the end")


@test
def replicate_streaming() -> None:
    p = rcreate({"prompt": "line one\nline two"}, stream=True).json()
    su = p["urls"]["stream"]
    assert su.startswith(SIM["rep"]["streamUrl"] + "/") and SIM["rep"]["streamUrl"] != SIM["rep"]["url"], su
    evs = replicate_events(su)
    assert all(e["id"] for e in evs)
    eq(len({e["id"] for e in evs}), len(evs), "distinct ids")
    kinds = [e["event"] for e in evs]
    eq((kinds[-1], evs[-1]["data"]), ("done", "{}"), "done event")
    assert "logs" in kinds
    out = [e["data"] for e in evs if e["event"] == "output"]
    eq("".join(out), "Echo: line one\nline two", "joined output")
    assert "\nline" in out, out  # a multi-line piece arrived as two data: lines
    final = http.get(p["urls"]["get"], headers=RAUTH).json()
    eq((final["status"], final["output"]), ("succeeded", out), "poll agrees")
    # a late subscriber gets the replay
    evs2 = replicate_events(su)
    eq([e["data"] for e in evs2 if e["event"] == "output"], out, "replay")
    # models without streaming: no urls.stream even when asked
    p = rcreate({"prompt": "x"}, stream=True, model=REP_PLAIN).json()
    assert "stream" not in p["urls"], p["urls"]


@test
def replicate_cancel() -> None:
    p = rcreate({"prompt": "a long answer " * 20}, stream=True).json()
    c = http.post(p["urls"]["cancel"], headers=RAUTH)
    eq((c.status_code, c.json()["status"]), (200, "canceled"), "cancel")
    assert c.json()["completed_at"]
    evs = replicate_events(p["urls"]["stream"])
    eq((evs[-1]["event"], json.loads(evs[-1]["data"])), ("done", {"reason": "canceled"}), "done reason")
    eq(http.get(p["urls"]["get"], headers=RAUTH).json()["status"], "canceled", "poll")
    eq(http.post(p["urls"]["cancel"], headers=RAUTH).json()["status"], "canceled", "cancel again")


@test
def replicate_failure_fault() -> None:
    admin("rep", "/__sim/faults", {"mode": "fail", "count": 1, "message": "boom: CUDA OOM"})
    p = rcreate({"prompt": "one two three four"}, stream=True).json()
    evs = replicate_events(p["urls"]["stream"])
    kinds = [e["event"] for e in evs]
    eq(kinds[-2:], ["error", "done"], "error then done")
    eq(json.loads(evs[-2]["data"]), {"detail": "boom: CUDA OOM"}, "error data is JSON")
    eq(json.loads(evs[-1]["data"]), {"reason": "error"}, "done reason")
    f = poll(p)
    eq((f["status"], f["error"]), ("failed", "boom: CUDA OOM"), "failed prediction")
    eq(admin("rep", "/__sim/state")["faults"]["mode"], "none", "count consumed")


@test
def replicate_errors() -> None:
    def problem(r: httpx.Response, status: int) -> dict:
        eq(r.status_code, status, "status")
        eq(r.headers["content-type"], "application/problem+json", "content type")
        b = r.json()
        for f in ("type", "title", "status", "detail", "instance"):
            assert f in b, f
        eq(b["status"], status, "status field")
        return b
    body = {"input": {"prompt": "x"}}
    path = f"/v1/models/{REP_MODEL}/predictions"
    problem(http.post(rurl(path), json=body), 401)
    problem(http.post(rurl(path), json=body, headers={"Authorization": "Bearer wrong"}), 401)
    eq(http.post(rurl(path), json=body, headers={"Authorization": f"Token {RTOKEN}"}).status_code, 201, "Token scheme")
    problem(http.post(rurl("/v1/models/meta/nope/predictions"), json=body, headers=RAUTH), 404)
    b = problem(http.post(rurl(path), json={"input": {"max_tokens": 5}}, headers=RAUTH), 422)
    eq(b["invalid_fields"][0]["description"], "prompt is required", "422 field")
    problem(http.post(rurl(path), json={"input": {"prompt": "x", "temperature": "hot"}}, headers=RAUTH), 422)
    problem(http.get(rurl("/v1/predictions/doesnotexist"), headers=RAUTH), 404)
    admin("rep", "/__sim/faults", {"mode": "5xx", "count": 1})
    problem(http.post(rurl(path), json=body, headers=RAUTH), 503)
    admin("rep", "/__sim/faults", {"mode": "429", "count": 1, "retryAfter": 3})
    eq(problem(http.post(rurl(path), json=body, headers=RAUTH), 429)["title"], "Request was throttled.", "429")


@test
def replicate_models_versions_state() -> None:
    admin("rep", "/__sim/reset", {})
    m = http.get(rurl(f"/v1/models/{REP_MODEL}"), headers=RAUTH).json()
    props = m["latest_version"]["openapi_schema"]["components"]["schemas"]["Input"]["properties"]
    assert {"prompt", "system_prompt", "max_tokens", "stop_sequences", "prompt_template"} <= set(props)
    vid = m["latest_version"]["id"]
    r = http.post(rurl("/v1/predictions"), headers={**RAUTH, "Prefer": "wait", "X-Trace": "t1"},
                  json={"version": vid, "input": {"prompt": "a,b stop here", "stop_sequences": "stop"}})
    p = r.json()
    eq((r.status_code, p["status"], "".join(p["output"])), (201, "succeeded", "Echo: a,b"), "by version, stop seq")
    st = admin("rep", "/__sim/state")
    eq(st["predictionsCreated"], 1, "created")
    eq(st["lastRequest"]["headers"]["X-Trace"], "t1", "header recorded")
    eq(st["lastRequest"]["json"]["input"]["stop_sequences"], "stop", "body recorded")


# ======================================================================================
# process behaviour

@test
def sigterm_works_with_blocked_signals() -> None:
    def block() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    for script, prefix in (("openai_sim.py", "OPENAI"), ("ocf_head_sim.py", "OCF"), ("replicate_sim.py", "REPLICATE")):
        p, _ = start(script, prefix=prefix, preexec=block)
        wait_ready(p, prefix)
        p.terminate()
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError(f"{script} ignored SIGTERM")


# ======================================================================================

def main() -> int:
    t_start = time.monotonic()
    passed = failed = 0
    for name, fn in TESTS:
        if ONLY and ONLY not in name:
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"ok    {name} ({time.monotonic() - t0:.2f}s)", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL  {name}: {type(e).__name__}: {e}", flush=True)
            if VERBOSE:
                traceback.print_exc()
    print(f"{passed} passed, {failed} failed ({time.monotonic() - t_start:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.terminate()
        for p in PROCS:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
    sys.exit(rc)
