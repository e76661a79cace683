#!/usr/bin/env python3
"""Simulated 0G Compute inference provider (the provider broker), for tests.

An HTTP server on loopback that behaves like the 0G provider broker (G3 era):
app-sk session tokens, the provider-side gate, OpenAI-style answers (JSON and
SSE), ZG-Res-Key + TEE response signatures, /unsettledfee, /v1/models,
/v1/quote and TEE settlement on chain (EIP-712 TEESettlement ->
settleFeesWithTEE). All cryptography uses eth-account, independently of the
Swift client under test.

Usage:
  .venv/bin/python Fixtures/zerog/provider_sim.py --rpc URL --inference 0x... \
      --provider-key 0x... --tee-key 0x... [--model NAME] [--port 0] \
      [--host 127.0.0.1] [--settle-interval 2.0] \
      [--min-locked-neuron 1000000000000000000] [--tokens-per-second 0] \
      [--cache-seconds 2.0] [--exit-with-parent]

On ready it prints one stdout line:
  PROVIDER READY {"url":"http://127.0.0.1:PORT","provider":"0x…","teeSigner":"0x…","model":"…"}
Everything else goes to stderr.

Error texts follow the Go broker (0gfoundation/0g-serving-broker, api/inference):
session errors are "validate session: <msg>", gate errors "validate request:
<msg>", every error body is {"error":"…"} with status 400 (the broker's
default, also for a missing/invalid token), except 403 on another user's
/unsettledfee, 404 for an unknown signature, 503 for the 5xx fault.

Routes (relative to the base url):
  POST /v1/proxy/chat/completions (also /v1/proxy/v1/...), /v1/proxy/completions, /v1/proxy/embeddings
  GET  /v1/proxy/signature/{chatID}[?model=m]   {text, signature, signing_address, signing_algo}
  GET  /v1/user/{addr}/unsettledfee             {userAddress, unsettledFee}
  GET  /v1/models, GET /v1/quote
Admin:
  GET  /__sim/state      unsettled/settled per user (decimal strings), counts, last/recent requests, faults
  POST /__sim/faults     {"mode": none|slow|5xx|drop|badsig, "count": N?, "delayMs": ms?, "match": text?}
  POST /__sim/settle     settle now -> {"settled": {user: neuron}, "totalSettled": {...}, "unsettled": {...}}
  POST /__sim/reset      clear request log and faults (not money)

Answers: "Echo: <last user message>" cut to max_completion_tokens/max_tokens words
(finish_reason "length"). prompt_tokens = words of every message content + 3 per
message (legacy completions: words of the prompt; embeddings: words of the inputs),
completion_tokens = words generated (tool calls: whitespace-separated fragments of
the arguments JSON) x n. fee = prompt_tokens*inputPrice + completion_tokens*outputPrice.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import logging
import os
import re
import struct
import sys
import threading
import time
import uuid
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Fixtures/, for simkit

import eth_abi  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.messages import encode_defunct, encode_typed_data  # noqa: E402
from eth_utils import function_signature_to_4byte_selector, is_hex_address, keccak, to_checksum_address  # noqa: E402

import simkit  # noqa: E402  (Fixtures/simkit.py: server, admin routes, faults)
from chain import Chain  # noqa: E402  (Fixtures/zerog/chain.py)
from simkit import cjson  # noqa: E402

try:  # RevertError is raised by Chain.call on a revert
    from chain import RevertError  # noqa: E402
except ImportError:  # pragma: no cover
    class RevertError(Exception):  # type: ignore[no-redef]
        pass

log = logging.getLogger("provider_sim")

# --------------------------------------------------------------------------------------
# Contract ABI (the real InferenceServing ABI types)

SERVICE_T = "(address,string,string,uint256,uint256,uint256,string,string,string,address,bool)"
ACCOUNT_T = "(address,address,uint256,uint256,uint256,(uint256,uint256,uint256,bool)[],string,bool,uint256,uint256,uint256)"
SETTLEMENT_T = "(address,address,uint256,bytes32,uint256,bytes)[]"

SEL_GET_SERVICE = function_signature_to_4byte_selector("getService(address)")
SEL_GET_ACCOUNT = function_signature_to_4byte_selector("getAccount(address,address)")
SEL_SETTLE = function_signature_to_4byte_selector(f"settleFeesWithTEE({SETTLEMENT_T})")
assert SEL_GET_SERVICE.hex() == "15a52302"
assert SEL_GET_ACCOUNT.hex() == "fd590847"
assert SEL_SETTLE.hex() == "8be74119"

TOPIC_TEE_SETTLEMENT_RESULT = keccak(text="TEESettlementResult(address,uint8,uint256)")
assert TOPIC_TEE_SETTLEMENT_RESULT.hex() == "1f69e5b87fd0ce34b3760ba6e5d8aa95a36e316c3ba44e1e65a9d0eb9e96d0bf"

SETTLEMENT_STATUS = {0: "SUCCESS", 1: "PARTIAL", 2: "PROVIDER_MISMATCH", 3: "NO_TEE_SIGNER",
                     4: "INVALID_NONCE", 5: "INVALID_SIGNATURE"}
TEE_BATCH_SIZE = 50

EPHEMERAL_TOKEN_ID = 255
EPHEMERAL_MAX_MS = 24 * 60 * 60 * 1000
AUTH_PREFIX = "Bearer app-sk-"

# A fixed "wrong" key for the badsig fault.
BAD_SIGNER_KEY = keccak(text="zgproxy provider_sim bad signer")

FAULT_MODES = ("none", "slow", "5xx", "drop", "badsig")


class GateError(Exception):
    """An error answered to the client as {"error": text}."""

    def __init__(self, text: str, status: int = 400):
        super().__init__(text)
        self.text = text
        self.status = status


def to_0g(neuron: int) -> str:
    """Neuron -> 0G with 6 decimals, like big.Float.Text('f', 6) in the broker."""
    return str((Decimal(neuron) / Decimal(10) ** 18).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN))


def sha256hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def words(text: str) -> list[str]:
    return text.split()


def content_text(content: Any) -> str:
    """Text of an OpenAI message content: string, or list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, dict) and isinstance(p.get("text"), str):
                parts.append(p["text"])
        return " ".join(parts)
    return ""


# --------------------------------------------------------------------------------------
# Session token (Authorization: Bearer app-sk-…) – mirrors ValidateSession in the Go broker

class _NotInt:
    def __init__(self, s: str):
        self.s = s


_TOKEN_FIELDS = {  # json key -> (go type name, kind, bits)
    "address": ("string", "str", 0),
    "provider": ("string", "str", 0),
    "timestamp": ("int64", "int", 64),
    "expiresAt": ("int64", "int", 64),
    "nonce": ("string", "str", 0),
    "generation": ("uint64", "uint", 64),
    "tokenId": ("uint8", "uint", 8),
}


def _go_json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, _NotInt)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def parse_session_token(raw: bytes) -> dict:
    """Decode the token JSON the way Go's json.Unmarshal into SessionToken does:
    missing fields are zero values, keys match case-insensitively, type errors fail."""
    def bad_const(c: str):
        raise ValueError(f"invalid character '{c[0]}' looking for beginning of value")

    try:
        text = raw.decode("utf-8", errors="replace")
        obj = json.loads(text, parse_float=_NotInt, parse_constant=bad_const)
    except ValueError as e:
        raise GateError(f"validate session: invalid session token format in Authorization: {e}")
    if not isinstance(obj, dict):
        raise GateError("validate session: invalid session token format in Authorization: "
                        f"json: cannot unmarshal {_go_json_type(obj)} into Go value of type ctrl.SessionToken")
    tok: dict[str, Any] = {"address": "", "provider": "", "timestamp": 0, "expiresAt": 0, "nonce": "",
                           "generation": 0, "tokenId": 0}
    lower = {k.lower(): k for k in _TOKEN_FIELDS}
    for key, value in obj.items():
        field = key if key in _TOKEN_FIELDS else lower.get(key.lower())
        if field is None or value is None:
            continue
        gotype, kind, bits = _TOKEN_FIELDS[field]
        err = (f"validate session: invalid session token format in Authorization: json: cannot unmarshal "
               f"{_go_json_type(value)} into Go struct field SessionToken.{field} of type {gotype}")
        if kind == "str":
            if not isinstance(value, str):
                raise GateError(err)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, _NotInt)):
                raise GateError(err)
            if isinstance(value, _NotInt):
                raise GateError(f"validate session: invalid session token format in Authorization: json: cannot "
                                f"unmarshal number {value.s} into Go struct field SessionToken.{field} of type {gotype}")
            lo, hi = (0, 2 ** bits - 1) if kind == "uint" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            if not lo <= value <= hi:
                raise GateError(f"validate session: invalid session token format in Authorization: json: cannot "
                                f"unmarshal number {value} into Go struct field SessionToken.{field} of type {gotype}")
        tok[field] = value
    return tok


def _go_hex_decode(s: str) -> bytes:
    """go-ethereum hexutil.Decode semantics."""
    if s == "":
        raise ValueError("empty hex string")
    if not (s.startswith("0x") or s.startswith("0X")):
        raise ValueError("hex string without 0x prefix")
    body = s[2:]
    if len(body) % 2 == 1:
        raise ValueError("hex string of odd length")
    if not re.fullmatch(r"[0-9a-fA-F]*", body):
        raise ValueError("invalid hex string")
    return bytes.fromhex(body)


def _go_base64_decode(s: str) -> bytes:
    """encoding/base64 StdEncoding.DecodeString (strict padding; CR/LF ignored)."""
    s2 = s.replace("\r", "").replace("\n", "")
    m = re.search(r"[^A-Za-z0-9+/=]", s2)
    if m:
        raise ValueError(f"illegal base64 data at input byte {m.start()}")
    try:
        return base64.b64decode(s2, validate=True)
    except (binascii.Error, ValueError):
        # padding problems: report the position after the last full quantum, as Go roughly does
        pos = len(s2.rstrip("=")) if "=" in s2 else (len(s2) // 4) * 4
        raise ValueError(f"illegal base64 data at input byte {pos}")


# --------------------------------------------------------------------------------------
# The simulator state

class Sim:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rpc_url = args.rpc
        self.inference = to_checksum_address(args.inference)
        self.provider_acct = Account.from_key(args.provider_key)
        self.tee_acct = Account.from_key(args.tee_key)
        self.bad_acct = Account.from_key(BAD_SIGNER_KEY)
        self.provider = self.provider_acct.address
        self.tee_signer = self.tee_acct.address
        self.min_locked = int(args.min_locked_neuron)
        self.cache_seconds = float(args.cache_seconds)
        self.tps = float(args.tokens_per_second)

        self._read_chain = Chain(self.rpc_url)
        self._settle_chain = Chain(self.rpc_url)
        self.chain_id = self._read_chain.chain_id

        self.lock = threading.RLock()            # guards everything below
        self.unsettled: dict[str, list[list]] = {}   # user -> [[chatId, fee], ...]
        self.settled_total: dict[str, int] = {}
        self.last_nonce: dict[str, int] = {}
        self.signatures: dict[str, dict] = {}
        self.settlements: list[dict] = []
        self.request_count = 0
        # Streams whose client went away before the end (the gateway must cancel upstream).
        self.disconnects = 0
        self.billed_count = 0
        self.last_request: dict | None = None
        self.recent_requests: list[dict] = []
        self.faults = simkit.FaultSwitch(FAULT_MODES, self.lock, defaults={"delayMs": 0})
        self._service_cache: tuple[float, dict] | None = None
        self._account_cache: dict[str, tuple[float, dict | None]] = {}
        self._recover_cache: dict[bytes, str] = {}

        self.settle_lock = threading.Lock()
        self.settle_event = threading.Event()
        self.stopping = threading.Event()

    # ---- chain access: one shared Chain for reads (Chain is thread-safe), one for settlement
    # transactions (used under settle_lock only), so a slow receipt never blocks request handling.

    def chain(self) -> Chain:
        return self._read_chain

    def settle_chain(self) -> Chain:
        return self._settle_chain

    def fetch_service(self) -> dict:
        data = self.chain().call(self.inference, SEL_GET_SERVICE + eth_abi.encode(["address"], [self.provider]))
        (s,) = eth_abi.decode([SERVICE_T], bytes(data))
        return {
            "provider": to_checksum_address(s[0]), "serviceType": s[1], "url": s[2],
            "inputPrice": int(s[3]), "outputPrice": int(s[4]), "updatedAt": int(s[5]),
            "model": s[6], "verifiability": s[7], "additionalInfo": s[8],
            "teeSignerAddress": to_checksum_address(s[9]), "teeSignerAcknowledged": bool(s[10]),
        }

    def service(self, fresh: bool = False) -> dict:
        now = time.monotonic()
        with self.lock:
            c = self._service_cache
        if not fresh and c and now - c[0] < self.cache_seconds:
            return c[1]
        svc = self.fetch_service()
        with self.lock:
            self._service_cache = (time.monotonic(), svc)
        return svc

    def service_or_none(self) -> dict | None:
        try:
            return self.service()
        except RevertError:
            return None

    def fetch_account(self, user: str, chain: Chain | None = None) -> dict | None:
        try:
            data = (chain or self.chain()).call(self.inference,
                                     SEL_GET_ACCOUNT + eth_abi.encode(["address", "address"], [user, self.provider]))
        except RevertError:
            return None
        (a,) = eth_abi.decode([ACCOUNT_T], bytes(data))
        return {
            "user": to_checksum_address(a[0]), "provider": to_checksum_address(a[1]), "nonce": int(a[2]),
            "balance": int(a[3]), "pendingRefund": int(a[4]),
            "refunds": [{"index": int(r[0]), "amount": int(r[1]), "createdAt": int(r[2]), "processed": bool(r[3])}
                        for r in a[5]],
            "additionalInfo": a[6], "acknowledged": bool(a[7]), "validRefundsLength": int(a[8]),
            "generation": int(a[9]), "revokedBitmap": int(a[10]),
        }

    def account(self, user: str, fresh: bool = False) -> dict | None:
        now = time.monotonic()
        with self.lock:
            c = self._account_cache.get(user)
        if not fresh and c and now - c[0] < self.cache_seconds:
            return c[1]
        acc = self.fetch_account(user)
        with self.lock:
            self._account_cache[user] = (time.monotonic(), acc)
        return acc

    def invalidate_account(self, user: str) -> None:
        with self.lock:
            self._account_cache.pop(user, None)

    # ---- money

    def unsettled_of(self, user: str) -> int:
        with self.lock:
            return sum(fee for _, fee in self.unsettled.get(user, []))

    def bill(self, user: str, chat_id: str, prompt_tokens: int, completion_tokens: int, svc: dict) -> int:
        fee = prompt_tokens * svc["inputPrice"] + completion_tokens * svc["outputPrice"]
        with self.lock:
            self.unsettled.setdefault(user, []).append([chat_id, fee])
            self.billed_count += 1
            unsettled = sum(f for _, f in self.unsettled[user])
            c = self._account_cache.get(user)
        log.info("billed %s chat=%s prompt=%d completion=%d fee=%d unsettled=%d",
                 user, chat_id, prompt_tokens, completion_tokens, fee, unsettled)
        acc = c[1] if c else None
        if acc is not None:
            locked = acc["balance"] - acc["pendingRefund"]
            if unsettled * 2 > locked:
                log.info("unsettled fee of %s exceeds half the locked balance: settling now", user)
                self.settle_event.set()
        return fee

    def store_signature(self, chat_id: str, req_body: bytes, resp_body: bytes, bad: bool) -> None:
        text = sha256hex(req_body) + ":" + sha256hex(resp_body)
        signer = self.bad_acct if bad else self.tee_acct
        sig = signer.sign_message(encode_defunct(text=text)).signature
        entry = {"text": text, "signature": "0x" + bytes(sig).hex(), "signing_address": self.tee_signer,
                 "signing_algo": "ecdsa"}
        with self.lock:
            self.signatures[chat_id.lower()] = entry
            if len(self.signatures) > 20000:
                for k in list(self.signatures)[:5000]:
                    del self.signatures[k]

    # ---- session validation (order of the Go broker's ValidateSession)

    def validate_session(self, auth: str | None) -> str:
        if not auth or not auth.startswith(AUTH_PREFIX):
            raise GateError("validate session: missing or invalid Authorization header, must be "
                            "Bearer app-sk-<base64(rawMessage:signature)>")
        enc = auth[len(AUTH_PREFIX):]
        try:
            decoded = _go_base64_decode(enc)
        except ValueError as e:
            raise GateError(f"validate session: invalid base64 in Authorization header: {e}")
        if b"|" not in decoded:
            raise GateError("validate session: invalid Authorization payload, expect base64(rawMessage:signature)")
        token_raw, sig_raw = decoded.split(b"|", 1)
        tok = parse_session_token(token_raw)
        address = tok["address"]

        if tok["provider"].lower() != self.provider.lower():
            raise GateError("validate session: session token is for different provider")

        if tok["tokenId"] == EPHEMERAL_TOKEN_ID:
            if tok["expiresAt"] == 0:
                raise GateError("validate session: ephemeral token must have an expiration time")
            if tok["expiresAt"] - tok["timestamp"] > EPHEMERAL_MAX_MS:
                raise GateError("validate session: ephemeral token duration cannot exceed 24 hours")

        if tok["expiresAt"] > 0 and int(time.time()) > tok["expiresAt"] // 1000:
            raise GateError("validate session: session token expired")

        # generation / bitmap against the on-chain account (a missing account passes)
        acc = self.account(to_checksum_address(address)) if is_hex_address(address) else None
        if acc is not None:
            if tok["generation"] < acc["generation"]:
                raise GateError("validate session: session token has been revoked (generation expired)")
            if tok["generation"] > acc["generation"]:
                raise GateError("validate session: invalid session token (future generation)")
            if tok["tokenId"] != EPHEMERAL_TOKEN_ID and (acc["revokedBitmap"] >> tok["tokenId"]) & 1:
                raise GateError("validate session: session token has been revoked")

        # signature: EIP-191 over the 32-byte keccak of the raw token bytes, v = 27/28
        sig_str = sig_raw.decode("utf-8", errors="replace")
        try:
            sig = _go_hex_decode(sig_str)
        except ValueError as e:
            raise GateError(f"validate session: invalid signature format: {e}")
        if len(sig) != 65:
            raise GateError("validate session: invalid signature length")
        v = sig[64]
        if v not in (27, 28):
            raise GateError("validate session: failed to recover public key from signature: "
                            "invalid signature recovery id")
        r = int.from_bytes(sig[0:32], "big")
        s = int.from_bytes(sig[32:64], "big")
        cache_key = keccak(token_raw + b"|" + sig)  # like the broker: cache the (pure) signature check
        with self.lock:
            recovered = self._recover_cache.get(cache_key)
        if recovered is None:
            try:
                recovered = Account.recover_message(encode_defunct(primitive=keccak(token_raw)), vrs=(v, r, s))
            except Exception as e:  # invalid r/s
                raise GateError(f"validate session: failed to recover public key from signature: {e}")
            with self.lock:
                if len(self._recover_cache) > 4096:
                    self._recover_cache.clear()
                self._recover_cache[cache_key] = recovered
        if recovered.lower() != address.lower():
            raise GateError("validate session: signature verification failed: address mismatch")
        return address

    # ---- the provider-side gate after the session

    def check_gate(self, user: str, svc: dict) -> dict:
        acc = self.account(user)
        if acc is None:
            acc = self.account(user, fresh=True)
        if acc is None:
            raise GateError("validate request: get account from contract, account not exist: "
                            f"execution reverted: AccountNotExists({user}, {self.provider})")
        if not acc["acknowledged"]:
            raise GateError("validate request: user not acknowledge the provider, please use "
                            "acknowledgeProviderSigner function in sdk first, it will take effect in 2 minutes")
        if not svc["teeSignerAcknowledged"]:
            raise GateError("validate request: service not acknowledge the tee signer")

        def sufficient(a: dict) -> tuple[bool, int, int]:
            locked = a["balance"] - a["pendingRefund"]
            unsettled = self.unsettled_of(user)
            return locked >= unsettled + self.min_locked, locked, unsettled

        ok, _, _ = sufficient(acc)
        if ok:
            return acc
        acc = self.account(user, fresh=True)  # re-sync from chain once, like the broker
        if acc is None:
            raise GateError("validate request: get account from contract, account not exist: "
                            f"execution reverted: AccountNotExists({user}, {self.provider})")
        ok, locked, unsettled = sufficient(acc)
        if ok:
            return acc
        total = unsettled + self.min_locked
        raise GateError(
            f"validate request: insufficient balance: your locked balance is {to_0g(locked)} 0G, but the required "
            f"minimum is {to_0g(total)} 0G (breakdown: minimum reserve {to_0g(self.min_locked)} 0G + unsettled fees "
            f"{to_0g(unsettled)} 0G + current request fee {to_0g(0)} 0G). Please add more funds with: "
            f"0g-compute-cli transfer-fund --provider {self.provider} --amount <amount>")

    # ---- settlement

    def settle_all(self) -> dict[str, int]:
        with self.settle_lock:
            return self._settle_all_locked()

    def _settle_all_locked(self) -> dict[str, int]:
        with self.lock:
            snapshot = {u: [list(r) for r in recs] for u, recs in self.unsettled.items() if recs}
        settled_now: dict[str, int] = {}
        if not snapshot:
            return settled_now
        items = []  # (user, records, totalFee, requestsHash, nonce, signature)
        for user, recs in snapshot.items():
            zero = [r for r in recs if r[1] == 0]
            if zero:  # zero-fee requests need no settlement
                self._remove_records(user, [r[0] for r in zero])
                recs = [r for r in recs if r[1] != 0]
            if not recs:
                continue
            acc = self.fetch_account(user, self.settle_chain())
            if acc is None:
                log.warning("settlement: account %s does not exist; keeping %d unsettled requests", user, len(recs))
                continue
            # a shortfall would settle partially: settle only the requests within the balance
            budget = acc["balance"]
            chosen, total = [], 0
            for r in recs:
                if total + r[1] > budget:
                    break
                chosen.append(r)
                total += r[1]
            if not chosen:
                log.warning("settlement: balance of %s (%d) below the oldest request's fee; skipping", user, budget)
                continue
            with self.lock:
                nonce = max(acc["nonce"] + 1, self.last_nonce.get(user, 0) + 1)
            requests_hash = keccak(b"".join(r[0].encode("utf-8") for r in chosen))
            sig = self.sign_settlement(requests_hash, nonce, user, total)
            items.append((user, chosen, total, requests_hash, nonce, sig))
        for i in range(0, len(items), TEE_BATCH_SIZE):
            settled_now.update(self._send_settlements(items[i:i + TEE_BATCH_SIZE]))
        return settled_now

    def sign_settlement(self, requests_hash: bytes, nonce: int, user: str, total_fee: int) -> bytes:
        typed = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
                ],
                "TEESettlement": [
                    {"name": "requestsHash", "type": "bytes32"}, {"name": "nonce", "type": "uint256"},
                    {"name": "provider", "type": "address"}, {"name": "user", "type": "address"},
                    {"name": "totalFee", "type": "uint256"},
                ],
            },
            "primaryType": "TEESettlement",
            "domain": {"name": "0G Inference Serving", "version": "1", "chainId": self.chain_id,
                       "verifyingContract": self.inference},
            "message": {"requestsHash": requests_hash, "nonce": nonce, "provider": self.provider,
                        "user": user, "totalFee": total_fee},
        }
        return bytes(self.tee_acct.sign_message(encode_typed_data(full_message=typed)).signature)

    def _send_settlements(self, items: list) -> dict[str, int]:
        entries = [(user, self.provider, total, rh, nonce, sig) for user, _, total, rh, nonce, sig in items]
        data = SEL_SETTLE + eth_abi.encode([SETTLEMENT_T], [entries])
        t0 = time.monotonic()
        try:
            receipt = self.settle_chain().send(self.args.provider_key, self.inference, data=data)
        except Exception as e:
            log.error("settleFeesWithTEE failed: %s", e)
            self._record_settlements(items, None, "send failed: %s" % e, {})
            return {}
        status = receipt.get("status")
        ok_tx = status in (1, "0x1", True)
        tx_hash = receipt.get("transactionHash")
        if isinstance(tx_hash, (bytes, bytearray)):
            tx_hash = "0x" + bytes(tx_hash).hex()
        results = {}
        if ok_tx:
            for lg in receipt.get("logs", []) or []:
                topics = [_hexbytes(t) for t in lg.get("topics", [])]
                if not topics or topics[0] != TOPIC_TEE_SETTLEMENT_RESULT:
                    continue
                if _hexbytes(lg.get("address", "0x")).hex().lower() != self.inference[2:].lower():
                    continue
                user = to_checksum_address(topics[1][-20:])
                st, unsettled_amount = eth_abi.decode(["uint8", "uint256"], _hexbytes(lg.get("data", "0x")))
                results[user] = (int(st), int(unsettled_amount))
        log.info("settleFeesWithTEE tx=%s status=%s users=%d results=%s (%.0f ms)", tx_hash, status, len(items),
                 {u: SETTLEMENT_STATUS.get(s, s) for u, (s, _) in results.items()}, (time.monotonic() - t0) * 1000)
        settled = self._record_settlements(items, tx_hash, None if ok_tx else "transaction reverted", results)
        return settled

    def _record_settlements(self, items: list, tx_hash: str | None, error: str | None,
                            results: dict[str, tuple[int, int]]) -> dict[str, int]:
        settled: dict[str, int] = {}
        for user, recs, total, rh, nonce, _sig in items:
            if error is not None:
                outcome, amount = error, 0
            else:
                st, unsettled_amount = results.get(user, (0, 0))  # no event = full success
                if st == 0:
                    outcome, amount = "SUCCESS", total
                elif st == 1:
                    outcome, amount = "PARTIAL", total - unsettled_amount
                else:
                    outcome, amount = SETTLEMENT_STATUS.get(st, str(st)), 0
            if error is None and outcome in ("SUCCESS", "PARTIAL"):
                with self.lock:
                    self.last_nonce[user] = max(self.last_nonce.get(user, 0), nonce)
                    self.settled_total[user] = self.settled_total.get(user, 0) + amount
                self._remove_records(user, [r[0] for r in recs])
                if outcome == "PARTIAL" and total - amount > 0:
                    with self.lock:  # keep what could not be charged as unsettled
                        self.unsettled.setdefault(user, []).append(["partial-remainder-%d" % nonce, total - amount])
                settled[user] = amount
            self.invalidate_account(user)
            with self.lock:
                self.settlements.append({
                    "user": user, "totalFee": str(total), "settled": str(amount), "nonce": str(nonce),
                    "requestsHash": "0x" + rh.hex(), "chatIds": [r[0] for r in recs], "status": outcome,
                    "txHash": tx_hash, "time": time.time(),
                })
                del self.settlements[:-200]
        return settled

    def _remove_records(self, user: str, chat_ids: list[str]) -> None:
        ids = set(chat_ids)
        with self.lock:
            recs = [r for r in self.unsettled.get(user, []) if r[0] not in ids]
            if recs:
                self.unsettled[user] = recs
            else:
                self.unsettled.pop(user, None)

    def settlement_loop(self) -> None:
        interval = float(self.args.settle_interval)
        while not self.stopping.is_set():
            if interval > 0:
                self.settle_event.wait(interval)
            else:
                self.settle_event.wait()
            self.settle_event.clear()
            if self.stopping.is_set():
                return
            try:
                self.settle_all()
            except Exception:
                log.exception("settlement round failed")

    # ---- admin

    def state(self) -> dict:
        with self.lock:
            unsettled = {u: str(sum(f for _, f in recs)) for u, recs in self.unsettled.items() if recs}
            return {
                "provider": self.provider, "teeSigner": self.tee_signer, "inference": self.inference,
                "chainId": self.chain_id, "model": self.args.model,
                "unsettled": unsettled,
                "unsettledRequests": {u: [[cid, str(f)] for cid, f in recs] for u, recs in self.unsettled.items()},
                "settled": {u: str(v) for u, v in self.settled_total.items()},
                "lastNonce": {u: str(v) for u, v in self.last_nonce.items()},
                "requestCount": self.request_count, "billedCount": self.billed_count,
                "disconnects": self.disconnects,
                "lastRequest": self.last_request, "recentRequests": list(self.recent_requests),
                "faults": dict(self.faults.current), "settlements": list(self.settlements[-50:]),
                "signatureCount": len(self.signatures),
            }


def _hexbytes(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if hasattr(v, "hex") and not isinstance(v, str):
        return bytes(v)
    s = str(v)
    if s.startswith("0x") or s.startswith("0X"):
        s = s[2:]
    return bytes.fromhex(s)


# --------------------------------------------------------------------------------------
# Answer generation

def usage_obj(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens, "prompt_tokens_details": {"cached_tokens": 0}}


def max_tokens_of(body: dict) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
            return v
    return None


def n_of(body: dict) -> int:
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 16:
        return n
    return 1


def reply_words(text: str, limit: int | None) -> tuple[list[str], str]:
    w = ["Echo:"] + words(text)
    if limit is not None and len(w) > limit:
        return w[:limit], "length"
    return w, "stop"


def first_tool_name(tools: Any) -> str | None:
    if not isinstance(tools, list) or not tools:
        return None
    t = tools[0]
    if not isinstance(t, dict):
        return None
    fn = t.get("function")
    if isinstance(fn, dict) and isinstance(fn.get("name"), str):
        return fn["name"]
    if isinstance(t.get("name"), str):
        return t["name"]
    return None


def sse(obj: Any) -> bytes:
    return b"data: " + cjson(obj) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


class Answer:
    """A generated answer: either a JSON body or a list of SSE events."""

    def __init__(self, chat_id: str, prompt_tokens: int, completion_tokens: int,
                 body: bytes | None = None, events: list[bytes] | None = None):
        self.chat_id = chat_id
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.body = body
        self.events = events


def build_chat(body: dict, model: str, chat_uuid: str) -> Answer:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise GateError("invalid request: 'messages' must be an array")
    prompt_tokens = 0
    last_user = ""
    for m in messages:
        if not isinstance(m, dict):
            continue
        text = content_text(m.get("content"))
        prompt_tokens += len(words(text)) + 3
        if m.get("role") == "user":
            last_user = text
    cid = "chatcmpl-" + chat_uuid
    created = int(time.time())
    n = n_of(body)
    stream = body.get("stream") is True
    so = body.get("stream_options")
    include_usage = stream and isinstance(so, dict) and so.get("include_usage") is True
    tool_name = first_tool_name(body.get("tools"))
    use_tool = (tool_name is not None and "use the tool" in last_user.lower()
                and body.get("tool_choice") != "none")

    if use_tool:
        args_json = json.dumps({"echo": last_user}, ensure_ascii=False)
        frags = re.findall(r"\S+\s*", args_json)
        per_choice = len(frags)
        call_ids = ["call_" + uuid.uuid4().hex[:24] for _ in range(n)]
        finish = "tool_calls"
    else:
        rw, finish = reply_words(last_user, max_tokens_of(body))
        per_choice = len(rw)
        text = " ".join(rw)
    completion_tokens = per_choice * n
    usage = usage_obj(prompt_tokens, completion_tokens)

    if not stream:
        choices = []
        for i in range(n):
            if use_tool:
                msg = {"role": "assistant", "content": None, "refusal": None,
                       "tool_calls": [{"id": call_ids[i], "type": "function",
                                       "function": {"name": tool_name, "arguments": args_json}}]}
            else:
                msg = {"role": "assistant", "content": text, "refusal": None}
            choices.append({"index": i, "message": msg, "logprobs": None, "finish_reason": finish})
        obj = {"id": cid, "object": "chat.completion", "created": created, "model": model,
               "choices": choices, "usage": usage}
        return Answer(chat_uuid, prompt_tokens, completion_tokens, body=cjson(obj))

    def chunk(choices: list, usage_val: Any = None) -> bytes:
        obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices}
        if include_usage:
            obj["usage"] = usage_val
        return sse(obj)

    events = []
    for k in range(per_choice):
        for i in range(n):
            if use_tool:
                if k == 0:
                    delta = {"role": "assistant", "content": None,
                             "tool_calls": [{"index": 0, "id": call_ids[i], "type": "function",
                                             "function": {"name": tool_name, "arguments": frags[0]}}]}
                else:
                    delta = {"tool_calls": [{"index": 0, "function": {"arguments": frags[k]}}]}
            else:
                piece = rw[k] if k == 0 else " " + rw[k]
                delta = {"role": "assistant", "content": piece} if k == 0 else {"content": piece}
            events.append(chunk([{"index": i, "delta": delta, "logprobs": None, "finish_reason": None}]))
    for i in range(n):
        events.append(chunk([{"index": i, "delta": {}, "logprobs": None, "finish_reason": finish}]))
    if include_usage:
        events.append(chunk([], usage))
    events.append(SSE_DONE)
    return Answer(chat_uuid, prompt_tokens, completion_tokens, events=events)


def build_completion(body: dict, model: str, chat_uuid: str) -> Answer:
    prompt = body.get("prompt", "")
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        prompts = prompt or [""]
    elif isinstance(prompt, list):  # token arrays
        prompts = [json.dumps(prompt)]
    else:
        raise GateError("invalid request: 'prompt' must be a string or an array")
    prompt_tokens = sum(len(words(p)) for p in prompts)
    rw, finish = reply_words(prompts[-1], max_tokens_of(body))
    n = n_of(body)
    completion_tokens = len(rw) * n
    text = " ".join(rw)
    cid = "cmpl-" + chat_uuid
    created = int(time.time())
    usage = usage_obj(prompt_tokens, completion_tokens)
    stream = body.get("stream") is True
    so = body.get("stream_options")
    include_usage = stream and isinstance(so, dict) and so.get("include_usage") is True
    if not stream:
        obj = {"id": cid, "object": "text_completion", "created": created, "model": model,
               "choices": [{"text": text, "index": i, "logprobs": None, "finish_reason": finish} for i in range(n)],
               "usage": usage}
        return Answer(chat_uuid, prompt_tokens, completion_tokens, body=cjson(obj))

    def chunk(choices: list, usage_val: Any = None) -> bytes:
        obj = {"id": cid, "object": "text_completion", "created": created, "model": model, "choices": choices}
        if include_usage:
            obj["usage"] = usage_val
        return sse(obj)

    events = []
    for k, w in enumerate(rw):
        for i in range(n):
            events.append(chunk([{"text": w if k == 0 else " " + w, "index": i, "logprobs": None,
                                  "finish_reason": None}]))
    for i in range(n):
        events.append(chunk([{"text": "", "index": i, "logprobs": None, "finish_reason": finish}]))
    if include_usage:
        events.append(chunk([], usage))
    events.append(SSE_DONE)
    return Answer(chat_uuid, prompt_tokens, completion_tokens, events=events)


def embedding_vector(text: str) -> list[float]:
    h = hashlib.sha256(text.encode("utf-8")).digest()
    return [round(int.from_bytes(h[4 * i:4 * i + 4], "big") / 2 ** 32 * 2 - 1, 6) for i in range(8)]


def build_embeddings(body: dict, model: str, chat_uuid: str) -> Answer:
    inp = body.get("input")
    if isinstance(inp, str):
        inputs = [inp]
    elif isinstance(inp, list) and inp and all(isinstance(x, str) for x in inp):
        inputs = inp
    elif isinstance(inp, list) and inp:  # token arrays
        inputs = [x if isinstance(x, str) else json.dumps(x) for x in inp] if isinstance(inp[0], list) \
            else [json.dumps(inp)]
    else:
        raise GateError("invalid request: 'input' must be a string or an array")
    prompt_tokens = sum(len(words(x)) for x in inputs)
    b64 = body.get("encoding_format") == "base64"
    data = []
    for i, x in enumerate(inputs):
        vec = embedding_vector(x)
        emb: Any = base64.b64encode(struct.pack("<8f", *vec)).decode() if b64 else vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    obj = {"object": "list", "data": data, "model": model,
           "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}
    return Answer(chat_uuid, prompt_tokens, 0, body=cjson(obj))


BILLED_ROUTES = {
    "/chat/completions": build_chat,
    "/completions": build_completion,
    "/embeddings": build_embeddings,
}


# --------------------------------------------------------------------------------------
# HTTP

class Handler(simkit.SimHandler):
    server_version = "zg-provider-sim/1.0"
    json_type = "application/json; charset=utf-8"
    sim: Sim  # set on the class at start-up

    def cors_headers(self) -> list[tuple[str, str]]:
        return [("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Expose-Headers", "ZG-Res-Key, Provider, Retry-After")]

    def send_error_json(self, e: GateError) -> None:
        self.send_json(e.status, {"error": e.text})

    # ---- dispatch

    def do_OPTIONS(self) -> None:
        headers = self.cors_headers() + [
            ("Access-Control-Allow-Methods", "POST, OPTIONS, GET, PUT, DELETE, PATCH"),
            ("Access-Control-Allow-Headers", "Content-Type, Authorization, Accept, Origin"),
            ("Content-Length", "0")]
        self.wfile.write(self._head_bytes(204, headers))

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        body = self.read_body() if method in ("POST", "PUT", "DELETE") else b""
        parts = urlsplit(self.path)
        path = parts.path
        try:
            if path.startswith("/v1/proxy"):
                self._proxy(method, path, parts.query, body)
            elif method == "GET" and path == "/v1/models":
                self._models()
            elif method == "GET" and path == "/v1/quote":
                self._quote()
            elif method == "GET" and re.fullmatch(r"/v1/user/[^/]+/unsettledfee", path):
                self._unsettled_fee(path.split("/")[3])
            elif path.startswith("/__sim/"):
                self._admin(method, path, body)
            else:
                self.send_json(404, {"error": "404 page not found"})
        except GateError as e:
            self.send_error_json(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("internal error on %s %s", method, self.path)
            try:
                self.send_json(500, {"error": "Internal Server Error"})
            except OSError:
                self.close_connection = True

    # ---- /v1/proxy

    def _proxy(self, method: str, path: str, query: str, body: bytes) -> None:
        sim = self.sim
        route = path[len("/v1/proxy"):]
        if route == "/v1" or route.startswith("/v1/"):  # the broker collapses a redundant /v1
            route = route[3:] or "/"
        if route != "/":
            route = route.rstrip("/")

        if route.lower().startswith("/signature/") and method == "GET":
            chat_id = route[len("/signature/"):].lower()
            for prefix in ("chatcmpl-", "cmpl-"):
                if chat_id.startswith(prefix):
                    chat_id = chat_id[len(prefix):]
            with sim.lock:
                entry = sim.signatures.get(chat_id)
            if entry is None:
                raise GateError("prepare HTTP request: Chat id not found or expired, chat_id_not_found", 404)
            self.send_json(200, entry)
            return

        builder = BILLED_ROUTES.get(route)
        if builder is None or method != "POST":
            raise GateError("unsupported endpoint: endpoint not supported")

        self._record_request(method, path, body)

        user = sim.validate_session(self.headers.get("Authorization"))
        user = to_checksum_address(user)

        try:
            svc = sim.service(fresh=False)
        except RevertError as e:
            raise GateError(f"validate request: get service from context: {e}")
        model = sim.args.model or svc["model"]
        try:
            req = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError) as e:
            raise GateError(f"invalid request body: {e}")
        if not isinstance(req, dict):
            raise GateError("invalid request body: expected a JSON object")
        req_model = req.get("model")
        if req_model is not None:
            if not isinstance(req_model, str):
                raise GateError("prepare HTTP request: enforce configured model: invalid model type in request "
                                f"(expected string), configured model is: {model}")
            if req_model != model:
                raise GateError(f"prepare HTTP request: enforce configured model: model not supported: requested "
                                f"'{req_model}', only '{model}' is available for this service")

        sim.check_gate(user, svc)

        chat_uuid = str(uuid.uuid4())
        answer = builder(req, model, chat_uuid)

        fault = sim.faults.take(body)
        mode = fault["mode"]
        if mode != "none":
            log.info("fault %s applied to %s (chat %s)", mode, route, chat_uuid)
        if mode == "slow":
            time.sleep(max(0, float(fault.get("delayMs") or 0)) / 1000.0)
        elif mode == "5xx":
            self.send_json(503, {"error": "Provider proxy: handle proxied service, service unavailable"})
            return
        elif mode == "drop" and answer.events is None:
            self.close_connection = True  # close without any response
            return
        bad = mode == "badsig"

        extra = [("ZG-Res-Key", chat_uuid), ("Provider", sim.provider), ("X-Accel-Buffering", "no")]
        if answer.events is None:
            assert answer.body is not None
            sim.bill(user, chat_uuid, answer.prompt_tokens, answer.completion_tokens, svc)
            sim.store_signature(chat_uuid, body, answer.body, bad)
            self.send_bytes(200, answer.body, extra=extra)
            return
        self._stream(answer, body, user, svc, extra, drop=(mode == "drop"), bad=bad)

    def _stream(self, answer: Answer, req_body: bytes, user: str, svc: dict, extra: list[tuple[str, str]],
                drop: bool, bad: bool) -> None:
        sim = self.sim
        events = answer.events or []
        headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")] + extra + self.cors_headers()
        delay = 1.0 / sim.tps if sim.tps > 0 else 0.0
        connected, chunked = True, False
        try:
            chunked = self.begin_stream(200, headers)
        except OSError:
            connected = False
        full = b"".join(events)
        for i, ev in enumerate(events):
            if drop and i == 2:
                log.info("drop fault: closing stream %s after 2 chunks", answer.chat_id)
                self.abort()
                return
            if i > 0 and delay:
                time.sleep(delay)
            last = i == len(events) - 1
            if last:  # bill and sign before the final event, so both are there when the client sees [DONE]
                sim.bill(user, answer.chat_id, answer.prompt_tokens, answer.completion_tokens, svc)
                sim.store_signature(answer.chat_id, req_body, full, bad)
            if not connected:
                continue
            try:
                self.wfile.write(simkit.chunk(ev, chunked, last))
                self.wfile.flush()
            except OSError:
                connected = False
                self.close_connection = True
                with sim.lock:
                    sim.disconnects += 1
                log.info("client disconnected from stream %s; generating to the end for billing", answer.chat_id)

    def _record_request(self, method: str, path: str, body: bytes) -> None:
        sim = self.sim
        entry = {"method": method, "path": self.path, "headers": simkit.fold_headers(self.headers),
                 "body": body.decode("utf-8", errors="replace"), "bodySha256": sha256hex(body),
                 "time": time.time()}
        with sim.lock:
            sim.request_count += 1
            sim.last_request = entry
            sim.recent_requests.append(entry)
            del sim.recent_requests[:-20]

    # ---- other provider routes

    def _models(self) -> None:
        sim = self.sim
        svc = sim.service_or_none() or {"model": "", "updatedAt": 0, "serviceType": "chatbot", "inputPrice": 0,
                                        "outputPrice": 0, "verifiability": ""}
        self.send_json(200, {"object": "list", "data": [{
            "id": sim.args.model or svc["model"], "object": "model", "created": svc["updatedAt"],
            "owned_by": sim.provider, "type": svc["serviceType"],
            "pricing": {"prompt": str(svc["inputPrice"]), "completion": str(svc["outputPrice"])},
            "verifiability": svc["verifiability"], "tee_attested": True,
        }]})

    def _quote(self) -> None:
        sim = self.sim
        signer_lower = "0x" + sim.tee_signer[2:].lower()
        report_data = base64.b64encode(signer_lower.encode().ljust(64, b"\0")).decode()
        app_compose = json.dumps({
            "manifest_version": 2, "name": "zg-provider-sim", "runner": "docker-compose",
            "docker_compose_file": "services:\n  broker:\n    image: ghcr.io/0glabs/0g-serving-broker:sim\n",
        })
        compose_hash = sha256hex(app_compose.encode())
        event_log = [
            {"imr": 3, "event_type": 134217729, "digest": sha256hex(b"app-id"), "event": "app-id",
             "event_payload": sha256hex(sim.provider.encode())[:40]},
            {"imr": 3, "event_type": 134217729, "digest": sha256hex(compose_hash.encode()), "event": "compose-hash",
             "event_payload": compose_hash},
        ]
        quote = (sha256hex(b"quote:" + sim.tee_signer.encode()) * 8)
        body = cjson({
            "quote": quote, "event_log": json.dumps(event_log), "report_data": report_data,
            "vm_config": "{}", "tcb_info": json.dumps({"app_compose": app_compose, "compose_hash": compose_hash}),
        })
        qsig = sim.tee_acct.sign_message(encode_defunct(primitive=body)).signature
        self.send_bytes(200, body, content_type="text/plain; charset=utf-8",
                        extra=[("ZG-Quote-Signature", "0x" + bytes(qsig).hex())])

    def _unsettled_fee(self, requested: str) -> None:
        sim = self.sim
        try:
            authed = sim.validate_session(self.headers.get("Authorization"))
        except GateError as e:
            raise GateError("Provider: " + e.text, e.status)
        if authed.lower() != requested.lower():
            raise GateError("you can only query your own unsettled fee", 403)
        self.send_json(200, {"userAddress": authed, "unsettledFee": str(sim.unsettled_of(to_checksum_address(authed)))})

    # ---- admin (/__sim/state, /__sim/faults and /__sim/reset are simkit.SimHandler._admin's)

    def admin_state(self) -> dict:
        return self.sim.state()

    def admin_faults(self) -> simkit.FaultSwitch:
        return self.sim.faults

    def admin_reset(self) -> None:  # the request log and faults; not money
        sim = self.sim
        with sim.lock:
            sim.request_count = 0
            sim.last_request = None
            sim.recent_requests = []
            sim.faults.reset()

    def admin_route(self, method: str, path: str, body: bytes) -> bool:
        if path != "/__sim/settle" or method != "POST":
            return False
        settled = self.sim.settle_all()
        st = self.sim.state()
        self.send_json(200, {"settled": {u: str(v) for u, v in settled.items()},
                             "totalSettled": st["settled"], "unsettled": st["unsettled"]})
        return True


class Server(simkit.Server):
    request_queue_size = 64


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Simulated 0G inference provider broker")
    p.add_argument("--rpc", required=True)
    p.add_argument("--inference", required=True, help="InferenceServing contract address")
    p.add_argument("--provider-key", required=True)
    p.add_argument("--tee-key", required=True)
    p.add_argument("--model", default=None, help="served model (default: the on-chain service model)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--settle-interval", type=float, default=2.0, help="seconds; 0 = only on demand/at risk")
    p.add_argument("--min-locked-neuron", type=int, default=10 ** 18)
    p.add_argument("--tokens-per-second", type=float, default=0.0, help="stream pacing; 0 = instant")
    p.add_argument("--cache-seconds", type=float, default=2.0, help="service/account cache lifetime")
    p.add_argument("--exit-with-parent", action="store_true")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)

    simkit.setup_process("provider_sim", args.verbose, args.exit_with_parent, parent_poll=0.5)

    sim = Sim(args)
    try:
        svc = sim.service(fresh=True)
    except RevertError:
        svc = None
    if svc is None:
        if not args.model:
            log.error("no service registered on chain for %s and no --model given", sim.provider)
            return 2
        log.warning("no service registered on chain for %s yet; serving --model %s", sim.provider, args.model)
    else:
        if svc["teeSignerAddress"].lower() != sim.tee_signer.lower():
            log.warning("on-chain teeSignerAddress %s differs from --tee-key address %s",
                        svc["teeSignerAddress"], sim.tee_signer)
    model = args.model or (svc["model"] if svc else "")

    Handler.sim = sim
    server = Server((args.host, args.port), Handler)
    threading.Thread(target=sim.settlement_loop, daemon=True, name="settlement").start()
    ready = {"url": simkit.url_of(server, args.host), "provider": sim.provider, "teeSigner": sim.tee_signer,
             "model": model}
    simkit.announce_ready("PROVIDER", ready)
    log.info("serving %s for provider %s (tee %s) on chain %d", model, sim.provider, sim.tee_signer, sim.chain_id)
    try:
        simkit.serve(server)
    finally:
        sim.stopping.set()
        sim.settle_event.set()
    return 0


if __name__ == "__main__":
    simkit.exit_on_signals(hup=False)
    sys.exit(main())
