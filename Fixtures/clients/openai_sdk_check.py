#!/usr/bin/env python3
"""Client-side conformance check for zgproxy's OpenAI-compatible API.

Runs named checks against a running gateway with the official `openai` SDK
(sync and async), LangChain's `ChatOpenAI` and raw httpx, and prints one line
per check followed by a summary line `N passed, M failed`.

    .venv/bin/python Fixtures/clients/openai_sdk_check.py \
        --base-url http://127.0.0.1:3911/v1 --api-key sk-zg-sandbox \
        --model qwen-2.5-7b-instruct [--other-model llama-3.3-70b-instruct] \
        [--only models,chat_sync,...]

Exit code: 0 if every selected check passed, 1 otherwise (2 for bad usage).
Wire expectations follow /work/shared/reference/gateway-notes.md section 4.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import openai
from openai import AsyncOpenAI, OpenAI

TIMEOUT = 30.0  # seconds, per request
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")

LOOKUP_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look something up.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "what to look up"}},
            "required": ["query"],
        },
    },
}


class CheckFailed(Exception):
    """An expectation of a check did not hold."""


def expect(cond: Any, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


@dataclass
class Ctx:
    base_url: str
    api_key: str
    model: str
    other_model: str | None

    # -- client factories (one fresh client per use keeps checks independent)
    def client(self, *, api_key: str | None = None, max_retries: int = 0) -> OpenAI:
        return OpenAI(base_url=self.base_url, api_key=api_key or self.api_key,
                      max_retries=max_retries, timeout=TIMEOUT)

    def async_client(self, *, max_retries: int = 0) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=self.base_url, api_key=self.api_key,
                           max_retries=max_retries, timeout=TIMEOUT)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url.rstrip("/") + "/", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {self.api_key}"})

    def messages(self, text: str = "Hello") -> list[dict[str, str]]:
        return [{"role": "user", "content": text}]


# --------------------------------------------------------------------------
# helpers

def check_usage(usage: Any, where: str) -> None:
    expect(usage is not None, f"{where}: usage missing")
    for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = getattr(usage, field, None)
        expect(isinstance(value, int) and not isinstance(value, bool),
               f"{where}: usage.{field} is {value!r}, want int")
    expect(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens,
           f"{where}: usage total {usage.total_tokens} != prompt {usage.prompt_tokens}"
           f" + completion {usage.completion_tokens}")


# Set by --backend: "zerog" (0G providers: ZG-Res-Key and a 0x provider address) or "endpoint"
# (another backend: x-zgproxy-provider names the endpoint).
BACKEND = "zerog"


def check_gateway_headers(headers: Any, where: str) -> str:
    """Checks x-request-id and x-zgproxy-provider (and ZG-Res-Key for 0G); returns the provider."""
    expect(headers.get("x-request-id"), f"{where}: header x-request-id missing")
    provider = headers.get("x-zgproxy-provider") or ""
    if BACKEND == "zerog":
        expect(headers.get("zg-res-key"), f"{where}: header ZG-Res-Key missing")
        expect(ADDRESS_RE.match(provider),
               f"{where}: header x-zgproxy-provider is {provider!r}, want a 0x address")
    else:
        expect(provider, f"{where}: header x-zgproxy-provider missing")
    return provider


def check_envelope(response: Any, where: str, *, code: str | None = None,
                   code_is_string: bool = False) -> dict[str, Any]:
    """The body must be {"error": {"message", "type", "param", "code"}}."""
    try:
        body = json.loads(response.content)
    except ValueError:
        raise CheckFailed(f"{where}: body is not JSON: {response.content[:200]!r}")
    expect(isinstance(body, dict) and isinstance(body.get("error"), dict),
           f"{where}: body is not an error envelope: {str(body)[:200]}")
    err = body["error"]
    missing = [k for k in ("message", "type", "param", "code") if k not in err]
    expect(not missing, f"{where}: error object lacks {missing}: {err}")
    expect(isinstance(err["message"], str) and err["message"],
           f"{where}: error.message is {err['message']!r}")
    expect(isinstance(err["type"], str), f"{where}: error.type is {err['type']!r}")
    expect(err["param"] is None or isinstance(err["param"], str),
           f"{where}: error.param is {err['param']!r}, want string or null")
    expect(err["code"] is None or isinstance(err["code"], str),
           f"{where}: error.code is {err['code']!r}, want string or null")
    if code_is_string:
        expect(isinstance(err["code"], str), f"{where}: error.code is {err['code']!r}, want a string")
    if code is not None:
        expect(err["code"] == code, f"{where}: error.code is {err['code']!r}, want {code!r}")
    return err


def expect_raises(exc_type: type[openai.APIStatusError], where: str,
                  fn: Callable[[], Any]) -> openai.APIStatusError:
    try:
        fn()
    except exc_type as e:
        return e
    except openai.APIStatusError as e:
        raise CheckFailed(f"{where}: got {type(e).__name__} ({e.status_code}), want {exc_type.__name__}")
    raise CheckFailed(f"{where}: no error raised, want {exc_type.__name__}")


def sse_events(text: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order (comments and other fields skipped)."""
    events, current = [], []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line == "":
            if current:
                events.append("\n".join(current))
                current = []
        elif line.startswith("data:"):
            data = line[5:]
            current.append(data[1:] if data.startswith(" ") else data)
    if current:
        events.append("\n".join(current))
    return events


def accumulate_tool_calls(deltas: list[Any]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for d in deltas:
        call = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
        if d.id:
            call["id"] = d.id
        if d.function is not None:
            if d.function.name:
                call["name"] += d.function.name
            if d.function.arguments:
                call["arguments"] += d.function.arguments
    return calls


# --------------------------------------------------------------------------
# checks

CHECKS: dict[str, Callable[[Ctx], None]] = {}


def check(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    CHECKS[fn.__name__.removeprefix("check_")] = fn
    return fn


@check
def check_models(ctx: Ctx) -> None:
    """models.list() lists MODEL (int created, owned_by); retrieve works; unknown id -> 404."""
    client = ctx.client()
    models = {m.id: m for m in client.models.list()}
    expect(ctx.model in models, f"{ctx.model} not in models.list(): {sorted(models)}")
    m = models[ctx.model]
    expect(m.object == "model", f"object is {m.object!r}")
    expect(isinstance(m.created, int) and not isinstance(m.created, bool),
           f"created is {m.created!r}, want int")
    expect(isinstance(m.owned_by, str) and m.owned_by, f"owned_by is {m.owned_by!r}")
    r = client.models.retrieve(ctx.model)
    expect(r.id == ctx.model, f"retrieve returned id {r.id!r}")
    expect(isinstance(r.created, int), f"retrieve: created is {r.created!r}")
    e = expect_raises(openai.NotFoundError, "retrieve('no-such-model')",
                      lambda: client.models.retrieve("no-such-model"))
    check_envelope(e.response, "retrieve('no-such-model')")


@check
def check_chat_sync(ctx: Ctx) -> None:
    """Non-streaming chat: content, usage, and gateway headers via with_raw_response."""
    client = ctx.client()
    raw = client.chat.completions.with_raw_response.create(model=ctx.model, messages=ctx.messages())
    check_gateway_headers(raw.headers, "chat")
    resp = raw.parse()
    expect(resp.object == "chat.completion", f"object is {resp.object!r}")
    expect(resp.choices, "no choices")
    expect(resp.choices[0].message.content, "empty content")
    check_usage(resp.usage, "chat")


@check
def check_chat_async(ctx: Ctx) -> None:
    """AsyncOpenAI: 5 concurrent non-streaming chats via asyncio.gather, all succeed."""

    async def run() -> list[Any]:
        async with ctx.async_client() as client:
            return await asyncio.gather(*[
                client.chat.completions.with_raw_response.create(
                    model=ctx.model, messages=ctx.messages(f"Hello number {i}"))
                for i in range(5)
            ], return_exceptions=True)

    results = asyncio.run(run())
    errors = [f"#{i}: {type(r).__name__}: {r}" for i, r in enumerate(results) if isinstance(r, BaseException)]
    expect(not errors, f"{len(errors)}/5 failed: {'; '.join(errors)}")
    request_ids = set()
    for i, raw in enumerate(results):
        check_gateway_headers(raw.headers, f"request #{i}")
        request_ids.add(raw.headers.get("x-request-id"))
        resp = raw.parse()
        expect(resp.choices and resp.choices[0].message.content, f"request #{i}: empty content")
        check_usage(resp.usage, f"request #{i}")
    expect(len(request_ids) == 5, f"x-request-id not unique across 5 requests: {request_ids}")


@check
def check_stream_without_usage(ctx: Ctx) -> None:
    """stream=True without stream_options: no chunk carries usage; raw SSE has no "usage" and ends with [DONE]."""
    client = ctx.client()
    text, n = "", 0
    for chunk in client.chat.completions.create(model=ctx.model, messages=ctx.messages(), stream=True):
        n += 1
        expect(chunk.usage is None, f"chunk {n} has usage {chunk.usage} although include_usage was not asked")
        expect(chunk.choices, f"chunk {n} has empty choices although include_usage was not asked")
        text += chunk.choices[0].delta.content or ""
    expect(n > 0, "no chunks")
    expect(text, "concatenated content is empty")

    body = {"model": ctx.model, "messages": ctx.messages(), "stream": True}
    with ctx.http() as http, http.stream("POST", "chat/completions", json=body) as r:
        raw = r.read().decode()
        expect(r.status_code == 200, f"raw SSE: status {r.status_code}: {raw[:200]}")
        ctype = r.headers.get("content-type", "")
        expect(ctype.startswith("text/event-stream"), f"raw SSE: content-type {ctype!r}")
    expect('"usage"' not in raw, "raw SSE contains a \"usage\" key: "
           + next((e for e in sse_events(raw) if '"usage"' in e), "")[:200])
    events = sse_events(raw)
    expect(events and events[-1] == "[DONE]", f"raw SSE last event is {events[-1:]!r}, want [DONE]")
    expect(raw.rstrip().endswith("data: [DONE]"), f"raw SSE does not end with 'data: [DONE]': {raw[-80:]!r}")
    for e in events[:-1]:
        obj = json.loads(e)
        expect("usage" not in obj, f"raw SSE event has a usage key: {e[:200]}")


@check
def check_stream_with_usage(ctx: Ctx) -> None:
    """stream_options.include_usage: the last chunk has empty choices and usage; others usage None."""
    client = ctx.client()
    chunks = list(client.chat.completions.create(
        model=ctx.model, messages=ctx.messages(), stream=True,
        stream_options={"include_usage": True}))
    expect(len(chunks) >= 2, f"only {len(chunks)} chunk(s)")
    last = chunks[-1]
    expect(last.choices == [], f"last chunk has choices {last.choices}")
    check_usage(last.usage, "last chunk")
    for i, c in enumerate(chunks[:-1]):
        expect(c.usage is None, f"chunk {i} (not last) has usage {c.usage}")
        expect(c.choices, f"chunk {i} (not last) has empty choices")
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    expect(text, "concatenated content is empty")
    expect(len({c.id for c in chunks}) == 1, "chunk ids differ")


@check
def check_tools(ctx: Ctx) -> None:
    """A `lookup` tool + "please use the tool now": tool_calls non-streaming and streaming."""
    client = ctx.client()
    msgs = ctx.messages("please use the tool now")
    resp = client.chat.completions.create(model=ctx.model, messages=msgs, tools=[LOOKUP_TOOL])
    choice = resp.choices[0]
    expect(choice.finish_reason == "tool_calls", f"finish_reason is {choice.finish_reason!r}")
    calls = choice.message.tool_calls or []
    expect(calls, "message.tool_calls is empty")
    expect(calls[0].type == "function", f"tool_calls[0].type is {calls[0].type!r}")
    expect(calls[0].id, "tool_calls[0].id is empty")
    expect(calls[0].function.name == "lookup", f"tool name is {calls[0].function.name!r}")
    try:
        args = json.loads(calls[0].function.arguments)
    except ValueError:
        raise CheckFailed(f"arguments not JSON: {calls[0].function.arguments!r}")

    deltas, finish = [], None
    for chunk in client.chat.completions.create(model=ctx.model, messages=msgs, tools=[LOOKUP_TOOL], stream=True):
        for c in chunk.choices:
            deltas.extend(c.delta.tool_calls or [])
            finish = c.finish_reason or finish
    expect(deltas, "stream: no tool_call deltas")
    acc = accumulate_tool_calls(deltas)
    expect(len(acc) == 1, f"stream: {len(acc)} tool calls accumulated, want 1")
    call = next(iter(acc.values()))
    expect(call["id"], "stream: tool call has no id")
    expect(call["name"] == "lookup", f"stream: tool name is {call['name']!r}")
    try:
        stream_args = json.loads(call["arguments"])
    except ValueError:
        raise CheckFailed(f"stream: arguments not JSON: {call['arguments']!r}")
    expect(stream_args == args, f"stream arguments {stream_args} != non-stream {args}")
    expect(finish == "tool_calls", f"stream: finish_reason is {finish!r}")


@check
def check_passthrough_fields(ctx: Ctx) -> None:
    """Extra request fields (seed, temperature, top_p, user, n, stop, metadata, response_format) are accepted."""
    client = ctx.client()
    resp = client.chat.completions.create(
        model=ctx.model, messages=ctx.messages(),
        seed=42, temperature=0.2, top_p=0.9, user="conformance-check", n=1,
        stop=["\n\n\n"], metadata={"suite": "openai_sdk_check"},
        response_format={"type": "text"})
    expect(resp.choices and resp.choices[0].message.content, "empty content")


@check
def check_errors(ctx: Ctx) -> None:
    """Error statuses, SDK exception types, and the {"error":{message,type,param,code}} envelope."""
    msgs = ctx.messages()
    # wrong key
    bad = ctx.client(api_key="sk-definitely-wrong")
    e = expect_raises(openai.AuthenticationError, "wrong key",
                      lambda: bad.chat.completions.create(model=ctx.model, messages=msgs))
    expect(e.status_code == 401, f"wrong key: status {e.status_code}")
    expect(e.code == "invalid_api_key", f"wrong key: code {e.code!r}")
    check_envelope(e.response, "wrong key", code="invalid_api_key")

    client = ctx.client()
    # unknown model
    e = expect_raises(openai.NotFoundError, "unknown model",
                      lambda: client.chat.completions.create(model="no-such-model", messages=msgs))
    expect(e.code == "model_not_found", f"unknown model: code {e.code!r}")
    check_envelope(e.response, "unknown model", code="model_not_found")

    # missing messages (bypass the SDK's typed signature)
    e = expect_raises(openai.BadRequestError, "missing messages",
                      lambda: client.post("/chat/completions", cast_to=object, body={"model": ctx.model}))
    check_envelope(e.response, "missing messages")

    with ctx.http() as http:
        # body that is not JSON
        r = http.post("chat/completions", content=b"{bad", headers={"Content-Type": "application/json"})
        expect(r.status_code == 400, f"non-JSON body: status {r.status_code}, want 400")
        check_envelope(r, "non-JSON body", code_is_string=True)

        # 40 MB body
        huge = json.dumps({"model": ctx.model,
                           "messages": [{"role": "user", "content": "x" * (40 * 1024 * 1024)}]}).encode()
        try:
            r = http.post("chat/completions", content=huge, headers={"Content-Type": "application/json"})
        except httpx.TransportError as exc:
            raise CheckFailed(f"40 MB body: transport error instead of a 413 response: {type(exc).__name__}: {exc}")
        expect(r.status_code == 413, f"40 MB body: status {r.status_code}, want 413")
        check_envelope(r, "40 MB body")


@check
def check_legacy_completions(ctx: Ctx) -> None:
    """Legacy /v1/completions returns text and usage."""
    client = ctx.client()
    resp = client.completions.create(model=ctx.model, prompt="Say hi")
    expect(resp.choices, "no choices")
    expect(resp.choices[0].text, "empty text")
    check_usage(resp.usage, "completions")


@check
def check_embeddings(ctx: Ctx) -> None:
    """/v1/embeddings returns 2 vectors, both with the SDK default (base64) and encoding_format=float."""
    client = ctx.client()
    for fmt in (openai.omit, "float"):
        label = "default encoding" if fmt is openai.omit else "encoding_format=float"
        resp = client.embeddings.create(model=ctx.model, input=["a", "b"], encoding_format=fmt)
        expect(len(resp.data) == 2, f"{label}: {len(resp.data)} vectors, want 2")
        for i, d in enumerate(resp.data):
            expect(d.index == i, f"{label}: data[{i}].index is {d.index}")
            expect(isinstance(d.embedding, list) and d.embedding
                   and all(isinstance(x, float) for x in d.embedding),
                   f"{label}: data[{i}].embedding is not a non-empty float list: {str(d.embedding)[:80]}")
        expect(len(resp.data[0].embedding) == len(resp.data[1].embedding), f"{label}: dimensions differ")


@check
def check_langchain_chat(ctx: Ctx) -> None:
    """LangChain ChatOpenAI: invoke, stream, and stream_usage=True aggregate usage_metadata."""
    from langchain_openai import ChatOpenAI

    def llm(**kw: Any) -> Any:
        return ChatOpenAI(model=ctx.model, base_url=ctx.base_url, api_key=ctx.api_key,
                          max_retries=0, timeout=TIMEOUT, **kw)

    msg = llm().invoke("hello")
    expect(isinstance(msg.content, str) and msg.content, f"invoke: content is {msg.content!r}")

    chunks = list(llm().stream("hello"))
    expect(chunks, "stream: no chunks")
    text = "".join(c.content for c in chunks if isinstance(c.content, str))
    expect(text, "stream: concatenated content is empty")

    agg = None
    for c in llm(stream_usage=True).stream("hello"):
        agg = c if agg is None else agg + c
    expect(agg is not None, "stream_usage: no chunks")
    expect(agg.content, "stream_usage: aggregate content is empty")
    um = agg.usage_metadata
    expect(um, f"stream_usage: aggregate usage_metadata is {um!r}")
    expect(um.get("input_tokens", 0) > 0 and um.get("output_tokens", 0) > 0
           and um.get("total_tokens") == um["input_tokens"] + um["output_tokens"],
           f"stream_usage: usage_metadata {um}")


@check
def check_other_model(ctx: Ctx) -> None:
    """A chat to --other-model works and is served by a different provider than MODEL."""
    expect(ctx.other_model, "needs --other-model")
    client = ctx.client()
    raw = client.chat.completions.with_raw_response.create(model=ctx.model, messages=ctx.messages())
    p1 = check_gateway_headers(raw.headers, ctx.model)
    raw2 = client.chat.completions.with_raw_response.create(model=ctx.other_model, messages=ctx.messages())
    p2 = check_gateway_headers(raw2.headers, ctx.other_model)
    resp = raw2.parse()
    expect(resp.choices and resp.choices[0].message.content, f"{ctx.other_model}: empty content")
    expect(p1.lower() != p2.lower(), f"both models served by provider {p1}")


@check
def check_responses_json(ctx: Ctx) -> None:
    """POST /responses (n8n's default): a completed response with output_text and usage."""
    resp = ctx.client().responses.create(model=ctx.model, input="hello responses", instructions="be brief")
    expect(resp.status == "completed", f"status {resp.status}")
    expect(resp.output_text, "empty output_text")
    expect(resp.usage and resp.usage.input_tokens > 0 and resp.usage.output_tokens > 0, f"usage {resp.usage}")
    expect(resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens, "total != input + output")


@check
def check_responses_stream(ctx: Ctx) -> None:
    """Streamed /responses: created → output_text deltas → completed, text matches, usage on completed."""
    stream = ctx.client().responses.create(
        model=ctx.model, input=[{"role": "user", "content": [{"type": "input_text", "text": "stream words please"}]}], stream=True)
    types, text, final = [], "", None
    for event in stream:
        types.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    expect(types[:2] == ["response.created", "response.in_progress"], f"first events {types[:2]}")
    expect(types[-1] == "response.completed", f"last event {types[-1]}")
    expect(final is not None and final.output_text == text and text, f"text {text!r} vs {final and final.output_text!r}")
    expect(final.usage and final.usage.output_tokens > 0, "no usage on response.completed")


@check
def check_responses_tools(ctx: Ctx) -> None:
    """Function tools in the flat Responses shape come back as function_call items, streamed or not."""
    tools = [{"type": "function", "name": "lookup", "description": "Look something up",
              "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}]
    resp = ctx.client().responses.create(model=ctx.model, input="please use the tool now", tools=tools)
    calls = [item for item in resp.output if item.type == "function_call"]
    expect(len(calls) == 1 and calls[0].name == "lookup", f"output {resp.output}")
    json.loads(calls[0].arguments)
    with ctx.client().responses.stream(model=ctx.model, input="please use the tool now", tools=tools) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    streamed = [item for item in final.output if item.type == "function_call"]
    expect(len(streamed) == 1 and streamed[0].arguments == calls[0].arguments, f"streamed output {final.output}")


@check
def check_langchain_responses(ctx: Ctx) -> None:
    """LangChain's ChatOpenAI with use_responses_api (what n8n's OpenAI node does): invoke and stream."""
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=ctx.model, base_url=ctx.base_url, api_key=ctx.api_key, use_responses_api=True,
                     max_retries=0, timeout=TIMEOUT)
    message = llm.invoke("hello langchain")
    expect(message.text, "empty content")
    expect(message.usage_metadata and message.usage_metadata["output_tokens"] > 0, f"usage {message.usage_metadata}")
    chunks = list(llm.stream("hello langchain stream"))
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    expect(total.text, "empty streamed content")


@check
def check_cursor_hybrid(ctx: Ctx) -> None:
    """Cursor's agent-mode body (Responses-style input, flat tools) on /chat/completions gets chat answers."""
    body = {"model": ctx.model, "input": [{"role": "user", "content": "please use the tool now"}],
            "tools": [{"name": "lookup", "description": "Look something up", "input_schema": {"type": "object"}}]}
    with ctx.http() as http:
        plain = http.post("chat/completions", json=body)
        expect(plain.status_code == 200, f"status {plain.status_code}: {plain.text[:200]}")
        choice = plain.json()["choices"][0]
        expect(choice["finish_reason"] == "tool_calls", f"finish_reason {choice['finish_reason']}")
        expect(choice["message"]["tool_calls"][0]["function"]["name"] == "lookup", "no lookup call")
        streamed = http.post("chat/completions", json={**body, "stream": True,
                                                        "input": [{"role": "user", "content": "hybrid stream"}]})
        events = sse_events(streamed.text)
        expect(events and events[-1] == "[DONE]", "stream does not end with [DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        expect(all(c["object"] == "chat.completion.chunk" for c in chunks), "not chat chunks")


# --------------------------------------------------------------------------
# runner

def run_one(name: str, fn: Callable[[Ctx], None], ctx: Ctx) -> bool:
    start = time.perf_counter()
    try:
        fn(ctx)
    except CheckFailed as e:
        reason = str(e)
    except Exception as e:  # any other exception fails this check only
        reason = f"{type(e).__name__}: {e}"
    else:
        print(f"ok   {name} ({(time.perf_counter() - start) * 1000:.0f} ms)", flush=True)
        return True
    reason = " ".join(reason.split())
    if len(reason) > 500:
        reason = reason[:500] + "..."
    print(f"FAIL {name}: {reason}", flush=True)
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:3911/v1")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--other-model", help="a model served by a different provider (enables other_model)")
    ap.add_argument("--only", help="comma-separated check names; available: " + ", ".join(CHECKS))
    ap.add_argument("--list", action="store_true", help="list checks and exit")
    ap.add_argument("--backend", choices=["zerog", "endpoint"], default="zerog",
                    help="what serves MODEL: 0G providers, or another backend endpoint")
    args = ap.parse_args(argv)
    global BACKEND
    BACKEND = args.backend

    if args.list:
        for name, fn in CHECKS.items():
            print(f"{name:22} {fn.__doc__}")
        return 0

    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in CHECKS]
        if unknown:
            ap.error(f"unknown check(s): {', '.join(unknown)}; available: {', '.join(CHECKS)}")
        if "other_model" in names and not args.other_model:
            ap.error("other_model needs --other-model")
    else:
        names = [n for n in CHECKS if n != "other_model" or args.other_model]

    ctx = Ctx(base_url=args.base_url.rstrip("/"), api_key=args.api_key,
              model=args.model, other_model=args.other_model)
    passed = failed = 0
    for name in names:
        if run_one(name, CHECKS[name], ctx):
            passed += 1
        else:
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
