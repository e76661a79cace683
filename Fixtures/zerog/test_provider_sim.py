#!/usr/bin/env python3
"""End-to-end check of provider_sim.py against a devchain with the 0G contracts.

Run from the repository root:
  .venv/bin/python Fixtures/zerog/test_provider_sim.py [-v]

Prints one line per check and "N passed, M failed"; exits non-zero on failure.
The session token, the SSE parsing, the token counts and the expected fees are
all computed here independently of the simulator (mirroring PROTOCOL.md §3.2).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
from decimal import ROUND_HALF_EVEN, Decimal
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import eth_abi  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.messages import encode_defunct  # noqa: E402
from eth_utils import function_signature_to_4byte_selector as selector, keccak, to_checksum_address  # noqa: E402

from chain import Chain  # noqa: E402
import world  # noqa: E402
from testkit import ROOT, Proc, check, counts, eq, log, make_token, ok, request  # noqa: E402

PY = sys.executable
E18 = 10 ** 18

# prices (neuron per token) of the two simulated providers
PRICE_A = (10 ** 15, 2 * 10 ** 15)
PRICE_B = (3 * 10 ** 14, 7 * 10 ** 14)
MODEL_A = "sim/echo-8b"
MODEL_B = "sim/echo-b"

ACCOUNT_T = "(address,address,uint256,uint256,uint256,(uint256,uint256,uint256,bool)[],string,bool,uint256,uint256,uint256)"
LEDGER_T = "(address,uint256,uint256,string)"

T0 = time.monotonic()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------------------
# HTTP helpers

def post_json(base, path, obj, auth=None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(obj).encode()
    h = {"Authorization": auth} if auth else {}
    return request(base, "POST", path, body, h) + (body,)


def parse_sse(raw: bytes) -> list:
    """Return the list of data payloads (parsed JSON, or the string '[DONE]')."""
    out = []
    text = raw.decode("utf-8")
    ok(text.endswith("\n\n"), "SSE stream must end with a blank line")
    for block in text.split("\n\n")[:-1]:
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith(":")]
        data = "\n".join(ln[5:].lstrip(" ") if ln.startswith("data:") else "" for ln in lines)
        out.append("[DONE]" if data == "[DONE]" else json.loads(data))
    return out


# --------------------------------------------------------------------------------------
# 0G helpers (independent of the simulator)

def raw_auth(payload: bytes) -> str:
    return "Bearer app-sk-" + base64.b64encode(payload).decode()


def count_words(s: str) -> int:
    return len(s.split())


def chat_usage(messages: list, reply_words: int) -> tuple[int, int]:
    pt = sum(count_words(m.get("content") or "") + 3 for m in messages)
    return pt, reply_words


def fee(pt: int, ct: int, prices: tuple[int, int]) -> int:
    return pt * prices[0] + ct * prices[1]


def to_0g(n: int) -> str:
    return str((Decimal(n) / Decimal(E18)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN))


class Env:
    pass


ENV = Env()


def get_account(user: str, provider: str) -> dict:
    data = ENV.chain.call(ENV.dep["inference"], selector("getAccount(address,address)")
                          + eth_abi.encode(["address", "address"], [user, provider]))
    (a,) = eth_abi.decode([ACCOUNT_T], bytes(data))
    return {"nonce": a[2], "balance": a[3], "pendingRefund": a[4], "acknowledged": a[7], "generation": a[9],
            "revokedBitmap": a[10]}


def get_ledger(user: str) -> dict:
    data = ENV.chain.call(ENV.dep["ledger"], selector("getLedger(address)") + eth_abi.encode(["address"], [user]))
    (l,) = eth_abi.decode([LEDGER_T], bytes(data))
    return {"available": l[1], "total": l[2]}


def send(key: str, to: str, sig: str, types: list, values: list, value: int = 0):
    data = selector(sig) + (eth_abi.encode(types, values) if types else b"")
    rcpt = ENV.chain.send(key, to, data=data, value=value)
    st = rcpt.get("status")
    ok(st in (1, "0x1", True), f"{sig} failed: {rcpt}")
    return rcpt


def fund_user(key: str, deposit: int, transfers: list[tuple[str, int]]):
    send(key, ENV.dep["ledger"], "depositFund()", [], [], value=deposit)
    for provider, amount in transfers:
        send(key, ENV.dep["ledger"], "transferFund(address,string,uint256)", ["address", "string", "uint256"],
             [provider, ENV.dep["serviceName"], amount])


def sim_state(base: str) -> dict:
    st, _, body = request(base, "GET", "/__sim/state")
    eq(st, 200, "state status")
    return json.loads(body)


def set_fault(base: str, **kw):
    st, _, body = request(base, "POST", "/__sim/faults", json.dumps(kw).encode())
    eq(st, 200, f"set fault {kw}: {body!r}")


def verify_signature(base: str, chat_id: str, req_body: bytes, resp_body: bytes, model: str, tee: str,
                     expect_valid: bool = True):
    st, _, body = request(base, "GET", f"/v1/proxy/signature/{chat_id}?model={model}")
    eq(st, 200, f"signature status ({body!r})")
    sig = json.loads(body)
    eq(set(sig), {"text", "signature", "signing_address", "signing_algo"}, "signature keys")
    eq(sig["signing_algo"], "ecdsa", "signing_algo")
    eq(sig["signing_address"].lower(), tee.lower(), "signing_address")
    want = hashlib.sha256(req_body).hexdigest() + ":" + hashlib.sha256(resp_body).hexdigest()
    eq(sig["text"], want, "signature text = sha256(req):sha256(resp)")
    raw = bytes.fromhex(sig["signature"][2:])
    eq(len(raw), 65, "signature length")
    ok(raw[64] in (27, 28), "signature v 27/28")
    rec = Account.recover_message(encode_defunct(text=sig["text"]), signature=raw)
    if expect_valid:
        eq(rec.lower(), tee.lower(), "recovered signer")
    else:
        ok(rec.lower() != tee.lower(), "badsig must not recover to the TEE signer")


def unsettled(base: str, user: str) -> int:
    return int(sim_state(base)["unsettled"].get(user, "0"))


# --------------------------------------------------------------------------------------

def setup():
    t = time.monotonic()
    ENV.devchain = Proc([PY, "Fixtures/devchain/devchain.py", "--port", "0", "--exit-with-parent"], "DEVCHAIN READY")
    info = ENV.devchain.ready
    ENV.rpc = info["rpc"]
    ENV.accounts = info["accounts"]
    ENV.chain = Chain(ENV.rpc)
    log(f"devchain ready in {time.monotonic() - t:.2f}s at {ENV.rpc} (chain {info['chainId']})")

    keys = [a["privateKey"] for a in ENV.accounts]
    ENV.deployer, ENV.pkey_a, ENV.user_key, ENV.user2_key, ENV.pkey_b, ENV.user5_key, ENV.user6_key = keys[:7]
    ENV.tee_key_a = "0x" + keccak(text="provider_sim test tee A").hex()
    ENV.tee_key_b = "0x" + keccak(text="provider_sim test tee B").hex()
    ENV.provider_a = Account.from_key(ENV.pkey_a).address
    ENV.provider_b = Account.from_key(ENV.pkey_b).address
    ENV.user = Account.from_key(ENV.user_key).address
    ENV.user2 = Account.from_key(ENV.user2_key).address
    ENV.user5 = Account.from_key(ENV.user5_key).address
    ENV.user6 = Account.from_key(ENV.user6_key).address
    ENV.tee_a = Account.from_key(ENV.tee_key_a).address
    ENV.tee_b = Account.from_key(ENV.tee_key_b).address

    t = time.monotonic()
    ENV.dep = world.deploy(ENV.chain, ENV.deployer)
    log(f"deployed in {time.monotonic() - t:.2f}s: {ENV.dep}")

    ENV.port_a, ENV.port_b = free_port(), free_port()
    t = time.monotonic()
    world.register_service(ENV.chain, ENV.dep, ENV.pkey_a, f"http://127.0.0.1:{ENV.port_a}", MODEL_A,
                           PRICE_A[0], PRICE_A[1], ENV.tee_a, owner_key=ENV.deployer)
    world.register_service(ENV.chain, ENV.dep, ENV.pkey_b, f"http://127.0.0.1:{ENV.port_b}", MODEL_B,
                           PRICE_B[0], PRICE_B[1], ENV.tee_b, owner_key=ENV.deployer)
    fund_user(ENV.user_key, 10 * E18, [(ENV.provider_a, 2 * E18), (ENV.provider_b, 2 * E18)])
    fund_user(ENV.user2_key, 3 * E18, [(ENV.provider_a, 1 * E18)])
    fund_user(ENV.user5_key, 3 * E18, [(ENV.provider_a, 1 * E18)])
    log(f"services registered and users funded in {time.monotonic() - t:.2f}s")

    t = time.monotonic()
    ENV.sim_a = Proc([PY, "Fixtures/zerog/provider_sim.py", "--rpc", ENV.rpc, "--inference", ENV.dep["inference"],
                      "--provider-key", ENV.pkey_a, "--tee-key", ENV.tee_key_a, "--port", str(ENV.port_a),
                      "--settle-interval", "0", "--cache-seconds", "0.5", "--exit-with-parent"], "PROVIDER READY")
    ENV.a = ENV.sim_a.ready["url"]
    log(f"sim A ready in {time.monotonic() - t:.2f}s: {ENV.sim_a.ready}")
    t = time.monotonic()
    ENV.sim_b = Proc([PY, "Fixtures/zerog/provider_sim.py", "--rpc", ENV.rpc, "--inference", ENV.dep["inference"],
                      "--provider-key", ENV.pkey_b, "--tee-key", ENV.tee_key_b, "--port", str(ENV.port_b),
                      "--settle-interval", "1.0", "--tokens-per-second", "20", "--min-locked-neuron", "0",
                      "--exit-with-parent"], "PROVIDER READY")
    ENV.b = ENV.sim_b.ready["url"]
    log(f"sim B ready in {time.monotonic() - t:.2f}s: {ENV.sim_b.ready}")
    ENV.expected_a = {}  # user -> expected unsettled fee at sim A (independently computed)


def add_expected(user: str, amount: int):
    ENV.expected_a[user] = ENV.expected_a.get(user, 0) + amount


def tok(key=None, provider=None, **kw):
    return make_token(key or ENV.user_key, provider or ENV.provider_a, **kw)


def run_checks():
    A = lambda: ENV.a  # noqa: E731

    @check("READY line fields")
    def _():
        r = ENV.sim_a.ready
        eq(set(r), {"url", "provider", "teeSigner", "model"}, "READY keys")
        eq(r["url"], f"http://127.0.0.1:{ENV.port_a}", "url")
        eq(r["provider"], ENV.provider_a, "provider")
        eq(r["teeSigner"], ENV.tee_a, "teeSigner")
        eq(r["model"], MODEL_A, "model from chain")

    @check("GET /v1/models shape and on-chain prices")
    def _():
        st, _, body = request(A(), "GET", "/v1/models")
        eq(st, 200, "status")
        m = json.loads(body)
        eq(m["object"], "list", "object")
        d = m["data"][0]
        eq((d["id"], d["object"], d["owned_by"]), (MODEL_A, "model", ENV.provider_a), "model fields")
        ok(isinstance(d["created"], int), "created int")
        eq(d["pricing"], {"prompt": str(PRICE_A[0]), "completion": str(PRICE_A[1])}, "pricing")
        eq(d["verifiability"], "TeeML", "verifiability")
        eq(d["tee_attested"], True, "tee_attested")

    @check("GET /v1/quote report_data binds the TEE signer; compose hash matches event log")
    def _():
        st, _, body = request(A(), "GET", "/v1/quote")
        eq(st, 200, "status")
        q = json.loads(body)
        ok({"quote", "event_log", "report_data", "vm_config", "tcb_info"} <= set(q), "quote keys")
        rd = base64.b64decode(q["report_data"])
        eq(len(rd), 64, "report_data length")
        eq(rd.rstrip(b"\0").decode(), "0x" + ENV.tee_a[2:].lower(), "report_data signer")
        tcb = json.loads(q["tcb_info"])
        ev = [e for e in json.loads(q["event_log"]) if e["event"] == "compose-hash"][0]
        eq(ev["event_payload"], hashlib.sha256(tcb["app_compose"].encode()).hexdigest(), "compose hash")

    # ---- chat JSON
    @check("chat JSON: answer, usage, ZG-Res-Key, signature over sha256(req):sha256(resp), billing")
    def _():
        msgs = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hello there  world"}]
        body = json.dumps({"model": MODEL_A, "messages": msgs, "temperature": 0}).encode()
        st, h, resp, _ = post_json(A(), "/v1/proxy/chat/completions", None, auth=tok(), raw=body)
        eq(st, 200, f"status ({resp!r})")
        key = h.get("zg-res-key")
        ok(key and re.fullmatch(r"[0-9a-f-]{36}", key), f"ZG-Res-Key uuid: {key}")
        ok(h["content-type"].startswith("application/json"), "content-type")
        c = json.loads(resp)
        eq(c["id"], "chatcmpl-" + key, "id matches ZG-Res-Key")
        eq(c["object"], "chat.completion", "object")
        eq(c["model"], MODEL_A, "model")
        ok(isinstance(c["created"], int), "created")
        eq(c["choices"][0]["message"]["content"], "Echo: hello there world", "content")
        eq(c["choices"][0]["message"]["role"], "assistant", "role")
        eq(c["choices"][0]["finish_reason"], "stop", "finish_reason")
        pt, ct = chat_usage(msgs, 4)
        eq(c["usage"], {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                        "prompt_tokens_details": {"cached_tokens": 0}}, "usage")
        verify_signature(A(), key, body, resp, MODEL_A, ENV.tee_a)
        add_expected(ENV.user, fee(pt, ct, PRICE_A))
        eq(unsettled(A(), ENV.user), ENV.expected_a[ENV.user], "unsettled after one request")

    @check("signature route: unknown id -> 404 {error}; chatcmpl- prefix and upper case accepted")
    def _():
        st, _, body = request(A(), "GET", "/v1/proxy/signature/00000000-0000-0000-0000-000000000000?model=x")
        eq(st, 404, "status")
        eq(json.loads(body), {"error": "prepare HTTP request: Chat id not found or expired, chat_id_not_found"},
           "error body")
        st, h, resp, _ = post_json(A(), "/v1/proxy/embeddings", {"input": "sig forms"}, auth=tok())
        add_expected(ENV.user, fee(2, 0, PRICE_A))
        key = h["zg-res-key"]
        for form in (key.upper(), "chatcmpl-" + key):
            st, _, body = request(A(), "GET", f"/v1/proxy/signature/{form}")
            eq(st, 200, f"signature via {form}")

    @check("keep-alive: JSON, stream, JSON on one connection; latency without Nagle stalls")
    def _():
        u = urlsplit(A())
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        auth = tok()
        times = []
        for i in range(12):
            stream = i % 3 == 1
            body = json.dumps({"messages": [{"role": "user", "content": f"k {i}"}], "stream": stream}).encode()
            t = time.monotonic()
            c.request("POST", "/v1/proxy/chat/completions", body, {"Authorization": auth,
                                                                   "Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            times.append(time.monotonic() - t)
            eq(r.status, 200, f"request {i}")
            if stream:
                eq(parse_sse(data)[-1], "[DONE]", "stream complete")
            else:
                eq(json.loads(data)["choices"][0]["message"]["content"], f"Echo: k {i}", "content")
            add_expected(ENV.user, fee(5, 3, PRICE_A))
        sock_id = id(c.sock)
        c.request("GET", "/v1/models")
        c.getresponse().read()
        eq(id(c.sock), sock_id, "same socket reused")
        c.close()
        times.sort()
        log(f"    keep-alive chat latency: median {times[len(times) // 2] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")
        ok(times[len(times) // 2] < 0.035, f"median latency {times[len(times) // 2] * 1000:.1f} ms")
        eq(unsettled(A(), ENV.user), ENV.expected_a[ENV.user], "billed")

    @check("concurrency: 16 parallel requests (8 streams) all answered and billed exactly")
    def _():
        errors = []

        def one(i):
            try:
                st, h, resp, _ = post_json(A(), "/v1/proxy/chat/completions",
                                           {"messages": [{"role": "user", "content": "par"}], "stream": i % 2 == 0},
                                           auth=tok())
                if st != 200:
                    errors.append((i, st, resp))
            except Exception as e:  # noqa: BLE001
                errors.append((i, e))

        ths = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        t = time.monotonic()
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        log(f"    16 parallel requests in {(time.monotonic() - t) * 1000:.0f} ms")
        eq(errors, [], "errors")
        add_expected(ENV.user, 16 * fee(4, 2, PRICE_A))
        eq(unsettled(A(), ENV.user), ENV.expected_a[ENV.user], "billed")

    @check("state: last request body and headers as received")
    def _():
        ENV.last_chat_body = json.dumps({"model": MODEL_A, "messages": [{"role": "user", "content": "state ü"}],
                                         "x_extra": {"keep": [1, 2.5, None]}}, ensure_ascii=False).encode()
        st, _, _, _ = post_json(A(), "/v1/proxy/chat/completions", None, auth=tok(), raw=ENV.last_chat_body)
        eq(st, 200, "status")
        add_expected(ENV.user, fee(5, 3, PRICE_A))
        s = sim_state(A())
        lr = s["lastRequest"]
        eq(lr["body"].encode(), ENV.last_chat_body, "body")
        eq(lr["bodySha256"], hashlib.sha256(ENV.last_chat_body).hexdigest(), "bodySha256")
        ok(lr["headers"].get("Authorization", "").startswith("Bearer app-sk-"), "Authorization header recorded")
        eq(lr["path"], "/v1/proxy/chat/completions", "path")
        ok(s["requestCount"] >= 1, "requestCount")

    @check("chat: /v1/proxy/v1/chat/completions alias, n=2, max_tokens truncation -> length")
    def _():
        msgs = [{"role": "user", "content": "one two three four five six"}]
        body = {"model": MODEL_A, "messages": msgs, "max_tokens": 3, "n": 2}
        st, h, resp, raw = post_json(A(), "/v1/proxy/v1/chat/completions", body, auth=tok())
        eq(st, 200, f"status {resp!r}")
        c = json.loads(resp)
        eq(len(c["choices"]), 2, "n choices")
        eq([ch["message"]["content"] for ch in c["choices"]], ["Echo: one two"] * 2, "truncated")
        eq([ch["finish_reason"] for ch in c["choices"]], ["length"] * 2, "finish")
        pt, _ = chat_usage(msgs, 0)
        eq((c["usage"]["prompt_tokens"], c["usage"]["completion_tokens"]), (pt, 6), "usage")
        add_expected(ENV.user, fee(pt, 6, PRICE_A))
        # max_completion_tokens wins over max_tokens
        body = {"messages": msgs, "max_tokens": 5, "max_completion_tokens": 2}
        st, h, resp, raw = post_json(A(), "/v1/proxy/chat/completions", body, auth=tok())
        c = json.loads(resp)
        eq(c["choices"][0]["message"]["content"], "Echo: one", "max_completion_tokens")
        eq(c["model"], MODEL_A, "missing model field -> service model")
        add_expected(ENV.user, fee(pt, 2, PRICE_A))
        eq(unsettled(A(), ENV.user), ENV.expected_a[ENV.user], "unsettled")

    def stream_check(include_usage: bool | None):
        msgs = [{"role": "user", "content": "stream me some words"}]
        body = {"model": MODEL_A, "messages": msgs, "stream": True}
        if include_usage is not None:
            body["stream_options"] = {"include_usage": include_usage}
        raw = json.dumps(body).encode()
        st, h, resp, _ = post_json(A(), "/v1/proxy/chat/completions", None, auth=tok(), raw=raw)
        eq(st, 200, f"status {resp!r}")
        ok(h["content-type"].startswith("text/event-stream"), "content-type")
        key = h["zg-res-key"]
        events = parse_sse(resp)
        eq(events[-1], "[DONE]", "last event")
        chunks = events[:-1]
        for c in chunks:
            eq(c["id"], "chatcmpl-" + key, "chunk id")
            eq(c["object"], "chat.completion.chunk", "chunk object")
            eq(c["model"], MODEL_A, "chunk model")
        eq(len({c["created"] for c in chunks}), 1, "same created")
        words = ["Echo:", "stream", "me", "some", "words"]
        pt, ct = chat_usage(msgs, len(words))
        if include_usage:
            *content, finish, usage = chunks
            for c in content + [finish]:
                ok("usage" in c and c["usage"] is None, "usage: null on every other chunk")
            eq(usage["choices"], [], "usage chunk has no choices")
            eq(usage["usage"], {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                                "prompt_tokens_details": {"cached_tokens": 0}}, "usage")
        else:
            *content, finish = chunks
            for c in chunks:
                ok("usage" not in c, "no usage key without include_usage")
        eq(len(content), len(words), "one chunk per word")
        eq(content[0]["choices"][0]["delta"].get("role"), "assistant", "role in first delta")
        ok(all("role" not in c["choices"][0]["delta"] for c in content[1:]), "role only first")
        eq("".join(c["choices"][0]["delta"]["content"] for c in content), " ".join(words), "content")
        eq(finish["choices"][0]["finish_reason"], "stop", "finish chunk")
        eq(finish["choices"][0]["delta"], {}, "finish delta")
        verify_signature(A(), key, raw, resp, MODEL_A, ENV.tee_a)
        add_expected(ENV.user, fee(pt, ct, PRICE_A))
        eq(unsettled(A(), ENV.user), ENV.expected_a[ENV.user], "streams billed")

    @check("stream without stream_options: no usage anywhere, signature over raw SSE bytes")
    def _():
        stream_check(None)

    @check("stream with include_usage=false: no usage chunk")
    def _():
        stream_check(False)

    @check("stream with include_usage=true: usage null on chunks, usage chunk before [DONE]")
    def _():
        stream_check(True)

    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
             {"type": "function", "function": {"name": "other"}}]

    @check("tool call (JSON): first tool, arguments {\"echo\": msg}, finish tool_calls")
    def _():
        msg = "please use the tool for Zürich"
        st, h, resp, _ = post_json(A(), "/v1/proxy/chat/completions",
                                   {"model": MODEL_A, "messages": [{"role": "user", "content": msg}], "tools": tools},
                                   auth=tok())
        eq(st, 200, "status")
        ch = json.loads(resp)["choices"][0]
        eq(ch["finish_reason"], "tool_calls", "finish")
        tc = ch["message"]["tool_calls"]
        eq(len(tc), 1, "one call")
        ok(tc[0]["id"].startswith("call_"), "id")
        eq(tc[0]["type"], "function", "type")
        eq(tc[0]["function"]["name"], "lookup", "name")
        eq(json.loads(tc[0]["function"]["arguments"]), {"echo": msg}, "arguments")
        u = json.loads(resp)["usage"]
        add_expected(ENV.user, fee(u["prompt_tokens"], u["completion_tokens"], PRICE_A))
        eq(u["prompt_tokens"], count_words(msg) + 3, "prompt tokens")
        eq(u["completion_tokens"], len(tc[0]["function"]["arguments"].split()), "completion tokens = arg words")

    @check("tool call (stream): fragments at index 0, id/type/name only on the first")
    def _():
        msg = "Use the tool with several words in here"
        body = {"model": MODEL_A, "messages": [{"role": "user", "content": msg}], "tools": tools, "stream": True,
                "stream_options": {"include_usage": True}}
        raw = json.dumps(body).encode()
        st, h, resp, _ = post_json(A(), "/v1/proxy/chat/completions", None, auth=tok(), raw=raw)
        eq(st, 200, "status")
        ev = parse_sse(resp)
        eq(ev[-1], "[DONE]", "DONE")
        *deltas, finish, usage = ev[:-1]
        ok(len(deltas) >= 3, f"several fragments ({len(deltas)})")
        args = ""
        for i, c in enumerate(deltas):
            tcs = c["choices"][0]["delta"]["tool_calls"]
            eq(len(tcs), 1, "one tool call per delta")
            t = tcs[0]
            eq(t["index"], 0, "index 0")
            if i == 0:
                ok(t["id"].startswith("call_"), "id on first")
                eq(t["type"], "function", "type on first")
                eq(t["function"]["name"], "lookup", "name on first")
                eq(c["choices"][0]["delta"].get("role"), "assistant", "role on first")
            else:
                ok("id" not in t and "type" not in t and "name" not in t["function"], "only arguments later")
            args += t["function"]["arguments"]
        eq(json.loads(args), {"echo": msg}, "arguments concatenate")
        eq(finish["choices"][0]["finish_reason"], "tool_calls", "finish")
        eq(usage["usage"]["completion_tokens"], len(deltas), "completion tokens = fragments")
        verify_signature(A(), h["zg-res-key"], raw, resp, MODEL_A, ENV.tee_a)
        add_expected(ENV.user, fee(usage["usage"]["prompt_tokens"], len(deltas), PRICE_A))
        eq(unsettled(A(), ENV.user), ENV.expected_a[ENV.user], "billed")

    @check("legacy /completions and /embeddings (float and base64), billed")
    def _():
        st, h, resp, raw = post_json(A(), "/v1/proxy/completions", {"model": MODEL_A, "prompt": "say this please"},
                                     auth=tok())
        eq(st, 200, f"status {resp!r}")
        c = json.loads(resp)
        eq((c["object"], c["id"]), ("text_completion", "cmpl-" + h["zg-res-key"]), "object/id")
        eq(c["choices"][0]["text"], "Echo: say this please", "text")
        eq((c["usage"]["prompt_tokens"], c["usage"]["completion_tokens"]), (3, 4), "usage")
        verify_signature(A(), h["zg-res-key"], raw, resp, MODEL_A, ENV.tee_a)
        add_expected(ENV.user, fee(3, 4, PRICE_A))
        st, h, resp, raw = post_json(A(), "/v1/proxy/embeddings", {"model": MODEL_A, "input": ["a b", "c"]},
                                     auth=tok())
        eq(st, 200, f"status {resp!r}")
        e = json.loads(resp)
        eq(len(e["data"]), 2, "two vectors")
        eq(len(e["data"][0]["embedding"]), 8, "8 floats")
        eq(e["usage"], {"prompt_tokens": 3, "total_tokens": 3}, "usage")
        ok(h.get("zg-res-key"), "ZG-Res-Key on embeddings")
        add_expected(ENV.user, fee(3, 0, PRICE_A))
        st, h, resp2, _ = post_json(A(), "/v1/proxy/embeddings",
                                    {"model": MODEL_A, "input": "a b", "encoding_format": "base64"}, auth=tok())
        import struct
        vec = struct.unpack("<8f", base64.b64decode(json.loads(resp2)["data"][0]["embedding"]))
        ok(all(abs(x - y) < 1e-6 for x, y in zip(vec, e["data"][0]["embedding"])), "base64 == float vector")
        add_expected(ENV.user, fee(2, 0, PRICE_A))
        eq(unsettled(A(), ENV.user), ENV.expected_a[ENV.user], "billed")

    # ---- gate errors
    def expect_error(auth, want: str, status: int = 400, body=None, path="/v1/proxy/chat/completions"):
        b = body if body is not None else {"model": MODEL_A, "messages": [{"role": "user", "content": "x"}]}
        h = {"Authorization": auth} if auth is not None else {}
        st, _, resp = request(A(), "POST", path, json.dumps(b).encode(), h)
        eq(st, status, f"status ({resp!r})")
        err = json.loads(resp)
        eq(set(err), {"error"}, "error body shape")
        eq(err["error"], want, "error text")

    acct_a = lambda: get_account(ENV.user, ENV.provider_a)  # noqa: E731
    other_key = "0x" + keccak(text="someone else").hex()
    now_ms = lambda: int(time.time() * 1000)  # noqa: E731
    PREFIX_ERR = ("validate session: missing or invalid Authorization header, must be "
                  "Bearer app-sk-<base64(rawMessage:signature)>")

    @check("token error 1: missing header / wrong prefix")
    def _():
        expect_error(None, PREFIX_ERR)
        expect_error("Bearer sk-abcdef", PREFIX_ERR)
        expect_error(tok().replace("Bearer ", "bearer "), PREFIX_ERR)

    @check("token error 2: bad base64, no '|', bad JSON")
    def _():
        expect_error("Bearer app-sk-***", "validate session: invalid base64 in Authorization header: "
                                          "illegal base64 data at input byte 0")
        expect_error(raw_auth(b'{"address":"0x1"}'),
                     "validate session: invalid Authorization payload, expect base64(rawMessage:signature)")
        st, _, resp = request(A(), "POST", "/v1/proxy/chat/completions", b"{}", {"Authorization": raw_auth(b"{not json|0x12")})
        eq(st, 400, "status")
        ok(json.loads(resp)["error"].startswith("validate session: invalid session token format in Authorization: "),
           f"bad JSON text: {resp!r}")

    @check("token error 3: other provider (checked before expiry and signature)")
    def _():
        t = make_token(ENV.user_key, ENV.provider_b, sign_key=other_key, expires_at=now_ms() - 60_000,
                       timestamp=now_ms() - 120_000)
        expect_error(t, "validate session: session token is for different provider")
        # provider compared case-insensitively
        ok_auth = make_token(ENV.user_key, ENV.provider_a.lower())
        st, _, resp, _ = post_json(A(), "/v1/proxy/embeddings", {"input": "x"}, auth=ok_auth)
        eq(st, 200, f"lowercase provider accepted ({resp!r})")
        add_expected(ENV.user, fee(1, 0, PRICE_A))

    @check("token error 4: ephemeral rules (tokenId 255 needs expiresAt, <= 24 h)")
    def _():
        expect_error(tok(expires_at=0), "validate session: ephemeral token must have an expiration time")
        ts = now_ms()
        expect_error(tok(timestamp=ts, expires_at=ts + 86_400_000 + 1),
                     "validate session: ephemeral token duration cannot exceed 24 hours")
        st, _, resp, _ = post_json(A(), "/v1/proxy/embeddings", {"input": "x"},
                                   auth=tok(timestamp=ts, expires_at=ts + 86_400_000))
        eq(st, 200, f"exactly 24 h accepted ({resp!r})")
        add_expected(ENV.user, fee(1, 0, PRICE_A))
        st, _, resp, _ = post_json(A(), "/v1/proxy/embeddings", {"input": "x"}, auth=tok(token_id=3, expires_at=0))
        eq(st, 200, f"persistent token without expiry accepted ({resp!r})")
        add_expected(ENV.user, fee(1, 0, PRICE_A))

    @check("token error 5: expired (checked before generation and signature)")
    def _():
        expect_error(tok(timestamp=now_ms() - 7_200_000, expires_at=now_ms() - 2000),
                     "validate session: session token expired")
        expect_error(tok(timestamp=now_ms() - 7_200_000, expires_at=now_ms() - 2000, sign_key=other_key,
                         generation=5), "validate session: session token expired")

    @check("token error 6: generation after revokeAllTokens (old -> revoked, new -> future)")
    def _():
        g0 = acct_a()["generation"]
        send(ENV.user_key, ENV.dep["inference"], "revokeAllTokens(address)", ["address"], [ENV.provider_a])
        g1 = acct_a()["generation"]
        eq(g1, g0 + 1, "on-chain generation incremented")
        time.sleep(0.7)  # sim cache is 0.5 s
        expect_error(tok(generation=g0), "validate session: session token has been revoked (generation expired)")
        expect_error(tok(generation=g0, sign_key=other_key),
                     "validate session: session token has been revoked (generation expired)")
        expect_error(tok(generation=g1 + 1), "validate session: invalid session token (future generation)")
        st, _, resp, _ = post_json(A(), "/v1/proxy/embeddings", {"input": "x"}, auth=tok(generation=g1))
        eq(st, 200, f"current generation accepted ({resp!r})")
        add_expected(ENV.user, fee(1, 0, PRICE_A))
        ENV.gen = g1

    @check("token error 7: revoked tokenId bit (persistent ids only)")
    def _():
        send(ENV.user_key, ENV.dep["inference"], "revokeToken(address,uint8)", ["address", "uint8"],
             [ENV.provider_a, 7])
        ok((acct_a()["revokedBitmap"] >> 7) & 1, "bit 7 set on chain")
        time.sleep(0.7)
        expect_error(tok(generation=ENV.gen, token_id=7, expires_at=0), "validate session: session token has been revoked")
        expect_error(tok(generation=ENV.gen, token_id=7, sign_key=other_key),
                     "validate session: session token has been revoked")
        for tid in (6, 8, 255):
            st, _, resp, _ = post_json(A(), "/v1/proxy/embeddings", {"input": "x"}, auth=tok(generation=ENV.gen, token_id=tid))
            eq(st, 200, f"tokenId {tid} accepted ({resp!r})")
            add_expected(ENV.user, fee(1, 0, PRICE_A))

    @check("token error 8: wrong signer / bad signature encodings")
    def _():
        expect_error(tok(generation=ENV.gen, sign_key=other_key),
                     "validate session: signature verification failed: address mismatch")
        expect_error(tok(generation=ENV.gen, v_offset=27),
                     "validate session: failed to recover public key from signature: invalid signature recovery id")
        raw = json.dumps({"address": ENV.user, "provider": ENV.provider_a, "timestamp": now_ms(),
                          "expiresAt": now_ms() + 60000, "nonce": "n", "generation": ENV.gen,
                          "tokenId": 255}, separators=(",", ":")).encode()
        expect_error(raw_auth(raw + b"|abcd"), "validate session: invalid signature format: hex string without 0x prefix")
        expect_error(raw_auth(raw + b"|0x" + b"00" * 64), "validate session: invalid signature length")
        # the signature covers the exact bytes: re-serialising the JSON (spaces) breaks it
        good = base64.b64decode(tok(generation=ENV.gen)[len("Bearer app-sk-"):])
        tj, sig = good.split(b"|", 1)
        spaced = json.dumps(json.loads(tj)).encode()
        expect_error(raw_auth(spaced + b"|" + sig), "validate session: signature verification failed: address mismatch")

    @check("model mismatch -> 400 model not supported")
    def _():
        expect_error(tok(generation=ENV.gen),
                     f"prepare HTTP request: enforce configured model: model not supported: requested 'gpt-4o', "
                     f"only '{MODEL_A}' is available for this service",
                     body={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})

    @check("no sub-account -> account not exist")
    def _():
        st, _, resp = request(A(), "POST", "/v1/proxy/chat/completions",
                              json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(),
                              {"Authorization": make_token(ENV.user6_key, ENV.provider_a)})
        eq(st, 400, "status")
        ok(json.loads(resp)["error"].startswith(
            "validate request: get account from contract, account not exist"), f"text {resp!r}")

    @check("unsupported endpoint -> 400 endpoint not supported")
    def _():
        expect_error(tok(generation=ENV.gen), "unsupported endpoint: endpoint not supported",
                     path="/v1/proxy/images/generations")

    # ---- unsettled fee
    @check("GET /v1/user/{addr}/unsettledfee: own -> exact metered total; other user -> 403; bad token -> 400")
    def _():
        auth = tok(generation=ENV.gen)
        st, _, resp = request(A(), "GET", f"/v1/user/{ENV.user}/unsettledfee", headers={"Authorization": auth})
        eq(st, 200, f"status {resp!r}")
        eq(json.loads(resp), {"userAddress": ENV.user, "unsettledFee": str(ENV.expected_a[ENV.user])}, "body")
        st, _, resp = request(A(), "GET", f"/v1/user/{ENV.user.lower()}/unsettledfee", headers={"Authorization": auth})
        eq(st, 200, "lowercase path address")
        st, _, resp = request(A(), "GET", f"/v1/user/{ENV.user2}/unsettledfee", headers={"Authorization": auth})
        eq(st, 403, "other user")
        eq(json.loads(resp), {"error": "you can only query your own unsettled fee"}, "403 body")
        st, _, resp = request(A(), "GET", f"/v1/user/{ENV.user}/unsettledfee", headers={"Authorization": "x"})
        eq(st, 400, "bad token")
        eq(json.loads(resp)["error"], "Provider: " + PREFIX_ERR, "bad token text")

    # ---- insufficient balance
    @check("insufficient balance: exact text after re-sync; a top-up is seen at once")
    def _():
        t2 = make_token(ENV.user2_key, ENV.provider_a)
        msgs = [{"role": "user", "content": "spend a little"}]
        st, _, resp, _ = post_json(A(), "/v1/proxy/chat/completions", {"messages": msgs}, auth=t2)
        eq(st, 200, f"first request passes with locked == 1 0G ({resp!r})")
        pt, ct = chat_usage(msgs, 4)
        f1 = fee(pt, ct, PRICE_A)
        add_expected(ENV.user2, f1)
        locked = 10 ** 18
        want = (f"validate request: insufficient balance: your locked balance is {to_0g(locked)} 0G, but the required "
                f"minimum is {to_0g(f1 + E18)} 0G (breakdown: minimum reserve 1.000000 0G + unsettled fees "
                f"{to_0g(f1)} 0G + current request fee 0.000000 0G). Please add more funds with: 0g-compute-cli "
                f"transfer-fund --provider {ENV.provider_a} --amount <amount>")
        st, _, resp, _ = post_json(A(), "/v1/proxy/chat/completions", {"messages": msgs}, auth=t2)
        eq(st, 400, "status")
        eq(json.loads(resp), {"error": want}, "insufficient balance text")
        # top up (existing sub-account: any amount), then the very next request passes (re-sync before refusing)
        send(ENV.user2_key, ENV.dep["ledger"], "transferFund(address,string,uint256)",
             ["address", "string", "uint256"], [ENV.provider_a, ENV.dep["serviceName"], E18 // 2])
        st, _, resp, _ = post_json(A(), "/v1/proxy/chat/completions", {"messages": msgs}, auth=t2)
        eq(st, 200, f"after top-up ({resp!r})")
        add_expected(ENV.user2, f1)

    # ---- faults
    def chat_once(content="fault test", stream=False, auth=None):
        body = {"model": MODEL_A, "messages": [{"role": "user", "content": content}], "stream": stream}
        return post_json(A(), "/v1/proxy/chat/completions", body, auth=auth or tok(generation=ENV.gen))

    def expect_billed(before: int, content: str, billed: bool):
        pt, ct = chat_usage([{"content": content}], 1 + count_words(content))
        f = fee(pt, ct, PRICE_A) if billed else 0
        if billed:
            add_expected(ENV.user, f)
        eq(unsettled(A(), ENV.user), before + f, "billing after fault")

    @check("fault 5xx (count 1): 503 exact body, not billed, then back to normal")
    def _():
        before = unsettled(A(), ENV.user)
        set_fault(A(), mode="5xx", count=1)
        st, h, resp, _ = chat_once()
        eq(st, 503, "status")
        eq(json.loads(resp), {"error": "Provider proxy: handle proxied service, service unavailable"}, "body")
        ok("zg-res-key" not in h, "no ZG-Res-Key on 503")
        expect_billed(before, "fault test", False)
        eq(sim_state(A())["faults"]["mode"], "none", "count exhausted -> none")
        st, _, _, _ = chat_once()
        eq(st, 200, "normal after count")
        expect_billed(before, "fault test", True)

    @check("fault with match: only a request whose body contains the text is faulted")
    def _():
        before = unsettled(A(), ENV.user)
        set_fault(A(), mode="5xx", count=1, match="only-this-one")
        st, _, _, _ = chat_once()
        eq(st, 200, "a request without the text passes, the fault kept")
        expect_billed(before, "fault test", True)
        eq(sim_state(A())["faults"]["mode"], "5xx", "still set")
        st, _, _, _ = chat_once(content="only-this-one")
        eq(st, 503, "the matching request is faulted")
        eq(sim_state(A())["faults"]["mode"], "none", "count exhausted -> none")

    @check("fault slow: response head delayed by delayMs")
    def _():
        set_fault(A(), mode="slow", delayMs=800, count=1)
        t = time.monotonic()
        st, _, _, _ = chat_once()
        dt = time.monotonic() - t
        eq(st, 200, "status")
        ok(dt >= 0.8, f"took {dt:.3f}s")
        add_expected(ENV.user, fee(*chat_usage([{"content": "fault test"}], 3), PRICE_A))
        t = time.monotonic()
        chat_once()
        ok(time.monotonic() - t < 0.5, "fast again")
        add_expected(ENV.user, fee(*chat_usage([{"content": "fault test"}], 3), PRICE_A))
        eq(unsettled(A(), ENV.user), ENV.expected_a[ENV.user], "billed")

    @check("fault drop (JSON): connection closed without a response, not billed")
    def _():
        before = unsettled(A(), ENV.user)
        set_fault(A(), mode="drop", count=1)
        try:
            st, _, resp, _ = chat_once()
            raise AssertionError(f"expected a dropped connection, got {st} {resp!r}")
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
            pass
        expect_billed(before, "fault test", False)

    @check("fault drop (stream): 2 chunks then the connection closes, not billed")
    def _():
        before = unsettled(A(), ENV.user)
        set_fault(A(), mode="drop", count=1)
        u = urlsplit(A())
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        body = json.dumps({"model": MODEL_A, "messages": [{"role": "user", "content": "a b c d e f"}],
                           "stream": True}).encode()
        c.request("POST", "/v1/proxy/chat/completions", body,
                  {"Authorization": tok(generation=ENV.gen), "Content-Type": "application/json"})
        r = c.getresponse()
        eq(r.status, 200, "status")
        try:
            data = r.read()
            raise AssertionError(f"expected an incomplete read, got {len(data)} bytes")
        except http.client.IncompleteRead as e:
            got = parse_sse(e.partial)
            eq(len(got), 2, "2 chunks before the drop")
        expect_billed(before, "", False)

    @check("fault badsig: signature text right, signer wrong")
    def _():
        set_fault(A(), mode="badsig", count=1)
        st, h, resp, raw = chat_once()
        eq(st, 200, "status")
        verify_signature(A(), h["zg-res-key"], raw, resp, MODEL_A, ENV.tee_a, expect_valid=False)
        add_expected(ENV.user, fee(*chat_usage([{"content": "fault test"}], 3), PRICE_A))
        st, h, resp, raw = chat_once()
        verify_signature(A(), h["zg-res-key"], raw, resp, MODEL_A, ENV.tee_a, expect_valid=True)
        add_expected(ENV.user, fee(*chat_usage([{"content": "fault test"}], 3), PRICE_A))

    @check("fault mode without count stays on until set to none; unknown mode -> 400")
    def _():
        set_fault(A(), mode="5xx")
        eq(chat_once()[0], 503, "1st")
        eq(chat_once()[0], 503, "2nd")
        set_fault(A(), mode="none")
        eq(chat_once()[0], 200, "after none")
        add_expected(ENV.user, fee(*chat_usage([{"content": "fault test"}], 3), PRICE_A))
        st, _, _ = request(A(), "POST", "/__sim/faults", b'{"mode":"explode"}')
        eq(st, 400, "unknown mode")

    # ---- settlement
    @check("settlement: sim totals == independently metered fees; on-chain account and ledger move exactly")
    def _():
        eq(sim_state(A())["unsettled"], {u: str(v) for u, v in ENV.expected_a.items()}, "sim unsettled == expected")
        before = {u: (get_account(u, ENV.provider_a), get_ledger(u)) for u in ENV.expected_a}
        pbal = ENV.chain.balance(ENV.provider_a)
        t = time.monotonic()
        st, _, resp = request(A(), "POST", "/__sim/settle", b"")
        dt = time.monotonic() - t
        eq(st, 200, f"status {resp!r}")
        r = json.loads(resp)
        eq(r["settled"], {u: str(v) for u, v in ENV.expected_a.items()}, "settled this round")
        eq(r["unsettled"], {}, "nothing left unsettled")
        total = 0
        for u, want in ENV.expected_a.items():
            acc0, led0 = before[u]
            acc1, led1 = get_account(u, ENV.provider_a), get_ledger(u)
            eq(acc0["balance"] - acc1["balance"], want, f"account balance delta {u}")
            eq(led0["total"] - led1["total"], want, f"ledger totalBalance delta {u}")
            eq(led0["available"], led1["available"], f"ledger available unchanged {u}")
            ok(acc1["nonce"] > acc0["nonce"], "on-chain nonce advanced")
            eq(str(acc1["nonce"]), sim_state(A())["lastNonce"][u], "sim nonce == chain nonce")
            total += want
        gained = ENV.chain.balance(ENV.provider_a) - pbal
        ok(total - 10 ** 16 < gained <= total, f"provider wallet gained the fees minus gas ({gained} vs {total})")
        log(f"    settle round for {len(ENV.expected_a)} users took {dt * 1000:.0f} ms")
        st, _, resp = request(A(), "GET", f"/v1/user/{ENV.user}/unsettledfee",
                              headers={"Authorization": tok(generation=ENV.gen)})
        eq(json.loads(resp)["unsettledFee"], "0", "unsettledfee after settlement")
        ENV.settled_a = dict(ENV.expected_a)
        ENV.expected_a = {}

    @check("settlement again: nonce = max(chain+1, previous+1); empty round settles nothing")
    def _():
        st, _, resp, _ = chat_once("after settle")
        eq(st, 200, "status")
        f = fee(*chat_usage([{"content": "after settle"}], 3), PRICE_A)
        n0 = get_account(ENV.user, ENV.provider_a)["nonce"]
        st, _, resp = request(A(), "POST", "/__sim/settle", b"")
        eq(json.loads(resp)["settled"], {ENV.user: str(f)}, "settled")
        eq(get_account(ENV.user, ENV.provider_a)["nonce"], n0 + 1, "nonce + 1")
        st, _, resp = request(A(), "POST", "/__sim/settle", b"")
        eq(json.loads(resp)["settled"], {}, "empty round")
        s = sim_state(A())
        eq(s["settled"][ENV.user], str(ENV.settled_a[ENV.user] + f), "settled total per user")
        ok(all(x["status"] == "SUCCESS" for x in s["settlements"]), "all SUCCESS")

    @check("at-risk settlement: unsettled > half the locked balance settles at once (interval 0)")
    def _():
        words600 = " ".join(["w"] * 600)
        t5 = make_token(ENV.user5_key, ENV.provider_a)
        msgs = [{"role": "user", "content": words600}]
        acc0 = get_account(ENV.user5, ENV.provider_a)
        st, _, resp, _ = post_json(A(), "/v1/proxy/chat/completions", {"messages": msgs, "max_tokens": 1}, auth=t5)
        eq(st, 200, f"status {resp!r}")
        f = fee(603, 1, PRICE_A)
        ok(f * 2 > acc0["balance"], "fee is > half of the locked balance")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if get_account(ENV.user5, ENV.provider_a)["balance"] == acc0["balance"] - f:
                break
            time.sleep(0.1)
        eq(get_account(ENV.user5, ENV.provider_a)["balance"], acc0["balance"] - f, "settled without being asked")

    @check("unregistered provider: sim starts with --model; gate says service missing; /v1/models still answers")
    def _():
        key_c = ENV.accounts[7]["privateKey"]
        prov_c = Account.from_key(key_c).address
        t = time.monotonic()
        sim_c = Proc([PY, "Fixtures/zerog/provider_sim.py", "--rpc", ENV.rpc, "--inference", ENV.dep["inference"],
                      "--provider-key", key_c, "--tee-key", ENV.tee_key_a, "--model", "late-model",
                      "--exit-with-parent"], "PROVIDER READY")
        try:
            log(f"    sim C ready in {(time.monotonic() - t) * 1000:.0f} ms")
            eq(sim_c.ready["model"], "late-model", "model from --model")
            C = sim_c.ready["url"]
            st, _, resp, _ = post_json(C, "/v1/proxy/chat/completions",
                                       {"messages": [{"role": "user", "content": "x"}]},
                                       auth=make_token(ENV.user_key, prov_c))
            eq(st, 400, "status")
            ok(json.loads(resp)["error"].startswith("validate request: get service from context"), f"{resp!r}")
            st, _, resp = request(C, "GET", "/v1/models")
            eq((st, json.loads(resp)["data"][0]["id"]), (200, "late-model"), "models")
        finally:
            sim_c.stop()
        p = subprocess.run([PY, "Fixtures/zerog/provider_sim.py", "--rpc", ENV.rpc, "--inference", ENV.dep["inference"],
                            "--provider-key", key_c, "--tee-key", ENV.tee_key_a], cwd=ROOT, capture_output=True,
                           text=True, timeout=30)
        eq(p.returncode, 2, "without --model and without a service it exits 2")
        eq(p.stdout, "", "no READY line")

    # ---- sim B: pacing, client disconnect, periodic settlement
    @check("sim B: --tokens-per-second paces chunks; client disconnect still billed in full; periodic settlement")
    def _():
        B = ENV.b
        words = "one two three four five six seven eight nine ten"
        msgs = [{"role": "user", "content": words}]
        body = json.dumps({"model": MODEL_B, "messages": msgs, "stream": True}).encode()
        t = time.monotonic()
        st, h, resp, _ = post_json(B, "/v1/proxy/chat/completions", None,
                                   auth=make_token(ENV.user_key, ENV.provider_b), raw=body)
        dt = time.monotonic() - t
        eq(st, 200, f"status {resp!r}")
        n_events = len(parse_sse(resp))
        ok(dt >= (n_events - 1) / 20 * 0.9, f"paced: {n_events} events in {dt:.2f}s")
        verify_signature(B, h["zg-res-key"], body, resp, MODEL_B, ENV.tee_b)
        pt, ct = chat_usage(msgs, 11)
        f_full = fee(pt, ct, PRICE_B)
        # disconnect after the first event
        u = urlsplit(B)
        s = socket.create_connection((u.hostname, u.port))
        req = (f"POST /v1/proxy/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Authorization: {make_token(ENV.user_key, ENV.provider_b)}\r\nContent-Length: {len(body)}\r\n\r\n")
        s.sendall(req.encode() + body)
        got = b""
        while b"data:" not in got:
            got += s.recv(4096)
        s.close()
        deadline = time.monotonic() + 10
        acc0 = ENV.acc_b0
        while time.monotonic() < deadline:
            acc = get_account(ENV.user, ENV.provider_b)
            st_b = sim_state(B)
            if acc0["balance"] - acc["balance"] == 2 * f_full and not st_b["unsettled"]:
                break
            time.sleep(0.2)
        eq(st_b["billedCount"], 2, "both streams billed")
        eq(st_b["settled"].get(ENV.user), str(2 * f_full), "sim B settled both in full")
        eq(acc0["balance"] - get_account(ENV.user, ENV.provider_b)["balance"], 2 * f_full,
           "periodic settlement moved exactly the fees")


def main() -> int:
    t = time.monotonic()
    try:
        setup()
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed (setup)")
        return 1
    setup_s = time.monotonic() - t
    try:
        ENV.acc_b0 = get_account(ENV.user, ENV.provider_b)
        run_checks()
    finally:
        for p in ("sim_a", "sim_b", "devchain"):
            if hasattr(ENV, p):
                getattr(ENV, p).stop()
    passed, failed = counts()
    total = time.monotonic() - T0
    print(f"setup {setup_s:.2f}s, checks {total - setup_s:.2f}s, total {total:.2f}s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
