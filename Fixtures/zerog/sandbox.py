#!/usr/bin/env python3
"""A complete local 0G Compute world in one command: chain, contracts, providers, wallet.

Used by the Swift tests and as the offline sandbox of the README:

    .venv/bin/python Fixtures/zerog/sandbox.py [--rpc URL] [--chain-id 16602]
        [--providers SPEC ...] [--extra-services N] [--wallet-key 0x..]
        [--fund-ledger 10] [--fund-providers 2] [--lock-time 3600]
        [--settle-interval 2.0] [--tokens-per-second 0] [--block-time 0]
        [--accounts 10] [--owner-key 0x..] [--exit-with-parent] [--quiet]

What it does, in order:
  1. starts Fixtures/devchain/devchain.py (unless --rpc names a running chain);
  2. deploys LedgerManager + InferenceServing with world.deploy, devchain account 0
     (or --owner-key) being deployer, owner and funder of everything below;
  3. for each --providers SPEC (default: qwen-2.5-7b-instruct:1:2,
     llama-3.3-70b-instruct:3:6, qwen-2.5-7b-instruct:2:2) funds a fresh provider key
     (keccak256("zgproxy sandbox provider <i>"), i from 0) with 101 0G, registers its
     chatbot service (stake 100 0G) with TEE signer keccak256("zgproxy sandbox tee <i>"),
     and has the owner acknowledge that signer (unless flag u);
  4. registers --extra-services N more services with no simulator behind them
     (url http://127.0.0.1:9/unused, model extra-model-<K>, K from 1, keys
     keccak256("zgproxy sandbox extra provider <K>") / "... extra tee <K>"), acknowledged;
  5. funds the demo wallet (--wallet-key, default keccak256("zgproxy sandbox wallet"))
     with 1000 0G, creates its ledger with depositFund(--fund-ledger 0G) and moves
     --fund-providers 0G into the sub-account of every usable simulated provider
     (transferFund with getServiceInfo(inference).fullName);
  6. starts one Fixtures/zerog/provider_sim.py per SPEC, in parallel.

SPEC is MODEL:INPUT_PRICE:OUTPUT_PRICE[:FLAGS]. Prices are neuron per token in units
of 1e9 neuron (gwei), decimals allowed ("0.5" -> 500000000). MODEL may itself contain
colons (the prices are taken from the right). FLAGS is a run of letters:
  u   the owner does not acknowledge the TEE signer: the service is listed but unusable
      (the wallet gets no sub-account there).
  s   (TargetSeparated) is NOT supported: provider_sim signs response signatures and
      settlements with its one --tee-key, so a separate TargetTeeAddress could not be
      honoured. The sandbox refuses the flag.
Services of simulated providers carry additionalInfo
{"TargetSeparated":false,"TEEVerifier":"dstack","ProviderType":"decentralized"}.

Chain transactions after the deployment are signed here and sent in JSON-RPC batches
(nonces tracked locally, gas estimated once per call shape), in three dependent rounds:
fund / register + deposit / acknowledge + transferFund. On the devchain in automine mode
every transaction is its own block, and blocks are >= 1 s apart, so the chain clock runs
ahead of the wall clock by about one second per transaction sent at start-up.

When everything serves, one line goes to stdout:

  SANDBOX READY {"rpc":"http://127.0.0.1:PORT","chainId":16602,
    "ledger":"0x..","inference":"0x..","serviceName":"inference-v1.0","lockTime":3600,
    "owner":{"address":"0x..","privateKey":"0x.."},
    "wallet":{"address":"0x..","privateKey":"0x.."},
    "providers":[{"provider":"0x..","url":"http://127.0.0.1:P","model":"qwen-2.5-7b-instruct",
                  "teeSigner":"0x..","inputPrice":"1000000000","outputPrice":"2000000000",
                  "usable":true,"simulator":true,"providerKey":"0x..","teeKey":"0x..","pid":N}],
    "extraServices":0,
    "spareAccounts":[{"address":"0x..","privateKey":"0x.."}],
    "devchainPid":N|null,"pid":N,"startupSeconds":2.1}

(inputPrice/outputPrice are decimal strings in neuron; spareAccounts are the devchain
accounts the sandbox did not use.) Without --quiet a short human summary goes to
stderr, and the children's logs are forwarded to stderr with a [name] prefix; with
--quiet they are dropped (the tail is still shown when a child fails).

It then runs until SIGTERM / SIGINT, or until its parent dies (--exit-with-parent),
and stops its children (simulators, then the devchain) on the way out: exit code 0.
If the devchain dies it stops the rest and exits 1; a simulator dying is only reported.
Start-up failures print "sandbox: error: ..." on stderr and exit 1 (children stopped).
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from decimal import Decimal, InvalidOperation

T_START = time.monotonic()

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PY = sys.executable
DEVCHAIN = os.path.join(ROOT, "Fixtures", "devchain", "devchain.py")
PROVIDER_SIM = os.path.join(HERE, "provider_sim.py")

E18 = 10 ** 18
GWEI = 10 ** 9
DEFAULT_PROVIDERS = ["qwen-2.5-7b-instruct:1:2", "llama-3.3-70b-instruct:3:6", "qwen-2.5-7b-instruct:2:2"]
PROVIDER_FUNDING = 101 * E18          # 100 0G stake + gas
WALLET_FUNDING = 1000 * E18
EXTRA_URL = "http://127.0.0.1:9/unused"
SIM_ADDITIONAL_INFO = json.dumps({"TargetSeparated": False, "TEEVerifier": "dstack",
                                  "ProviderType": "decentralized"}, separators=(",", ":"))
DEVCHAIN_KEY_SEED = "zgproxy devchain account "
KNOWN_FLAGS = {"u": "unacknowledged TEE signer (unusable)"}
READY_TIMEOUT = 60.0


class Shutdown(Exception):
    """Raised in the main thread by SIGTERM / SIGINT (and by the parent watch)."""


class SandboxError(Exception):
    pass


STOPPING = threading.Event()      # set once shutdown has begun: further signals are ignored
_OUT_LOCK = threading.Lock()


def err(text: str) -> None:
    """Write to stderr, never failing (the reader may be gone)."""
    with _OUT_LOCK:
        try:
            sys.stderr.write(text if text.endswith("\n") else text + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _on_signal(signum, _frame):
    if STOPPING.is_set():
        return
    STOPPING.set()
    raise Shutdown(signal.Signals(signum).name)


# ------------------------------------------------------------------------------ arguments

class ProviderSpec:
    def __init__(self, index: int, model: str, input_price: int, output_price: int, flags: str, text: str):
        self.index = index
        self.model = model
        self.input_price = input_price
        self.output_price = output_price
        self.flags = flags
        self.text = text

    @property
    def usable(self) -> bool:
        return "u" not in self.flags


def _gwei_to_neuron(text: str, spec: str) -> int:
    try:
        v = Decimal(text) * GWEI
    except InvalidOperation:
        raise ValueError(f"provider spec {spec!r}: price {text!r} is not a number") from None
    if v < 0 or v != v.to_integral_value():
        raise ValueError(f"provider spec {spec!r}: price {text!r} gwei is not a whole, non-negative neuron amount")
    return int(v)


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
        return True
    except InvalidOperation:
        return False


def parse_provider_spec(index: int, spec: str) -> ProviderSpec:
    parts = spec.split(":")
    flags = ""
    if len(parts) >= 4 and not _is_number(parts[-1]):
        flags = parts.pop()
    if len(parts) < 3:
        raise ValueError(f"provider spec {spec!r}: expected MODEL:INPUT_PRICE_GWEI:OUTPUT_PRICE_GWEI[:FLAGS]")
    model = ":".join(parts[:-2])
    if not model:
        raise ValueError(f"provider spec {spec!r}: empty model")
    inp = _gwei_to_neuron(parts[-2], spec)
    out = _gwei_to_neuron(parts[-1], spec)
    for f in flags:
        if f == "s":
            raise ValueError(
                f"provider spec {spec!r}: flag 's' (TargetSeparated with a separate TargetTeeAddress) is not "
                "supported: provider_sim signs response signatures and settlements with its single --tee-key")
        if f not in KNOWN_FLAGS:
            raise ValueError(f"provider spec {spec!r}: unknown flag {f!r} (known: "
                             + ", ".join(f"{k} = {v}" for k, v in KNOWN_FLAGS.items()) + ")")
    return ProviderSpec(index, model, inp, out, flags, spec)


def _zero_g(text: str) -> int:
    try:
        v = Decimal(text) * E18
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of 0G") from None
    if v < 0 or v != v.to_integral_value():
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative amount of 0G (18 decimals at most)")
    return int(v)


def _key(text: str) -> str:
    h = text[2:] if text.lower().startswith("0x") else text
    try:
        if len(h) != 64:
            raise ValueError
        bytes.fromhex(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a 32-byte hex private key") from None
    return "0x" + h.lower()


def _non_negative_int(text: str) -> int:
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def _non_negative_float(text: str) -> float:
    v = float(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="sandbox.py",
        description="Start a local 0G world (devchain, contracts, simulated providers, funded wallet).",
        epilog="SPEC = MODEL:INPUT_PRICE_GWEI:OUTPUT_PRICE_GWEI[:FLAGS], FLAGS: u = unacknowledged "
               "TEE signer. Default providers: " + " ".join(DEFAULT_PROVIDERS))
    ap.add_argument("--rpc", help="use this running chain instead of starting a devchain")
    ap.add_argument("--chain-id", type=int, default=None,
                    help="chain id of the devchain (default 16602); with --rpc, the expected id")
    ap.add_argument("--providers", action="append", metavar="SPEC", default=None,
                    help="a simulated provider (repeatable)")
    ap.add_argument("--extra-services", type=_non_negative_int, default=0, metavar="N",
                    help="N more acknowledged services without a simulator (catalog paging)")
    ap.add_argument("--wallet-key", type=_key, help="demo wallet key (default: keccak(\"zgproxy sandbox wallet\"))")
    ap.add_argument("--fund-ledger", type=_zero_g, default=10 * E18, metavar="0G",
                    help="depositFund into the wallet's ledger (0 = no ledger; else >= 3). Default 10")
    ap.add_argument("--fund-providers", type=_zero_g, default=2 * E18, metavar="0G",
                    help="transferFund to each usable simulated provider (0 = none; else >= 1). Default 2")
    ap.add_argument("--lock-time", type=int, default=3600, help="contract refund lock time, s (3600..604800)")
    ap.add_argument("--settle-interval", type=_non_negative_float, default=2.0,
                    help="simulators' settlement interval, s (0 = on demand only)")
    ap.add_argument("--tokens-per-second", type=_non_negative_float, default=0.0,
                    help="simulators' stream pacing (0 = instant)")
    ap.add_argument("--block-time", type=_non_negative_float, default=0.0,
                    help="devchain block time, s (0 = a block per transaction)")
    ap.add_argument("--accounts", type=int, default=10, help="devchain accounts (default 10)")
    ap.add_argument("--owner-key", type=_key,
                    help="owner/deployer/funder key (default: devchain account 0; needed with --rpc on a "
                         "chain that is not a devchain)")
    ap.add_argument("--exit-with-parent", action="store_true", help="exit when the parent process dies")
    ap.add_argument("--quiet", action="store_true", help="no summary, no child logs on stderr")
    args = ap.parse_args(argv)

    specs = args.providers if args.providers is not None else list(DEFAULT_PROVIDERS)
    try:
        args.specs = [parse_provider_spec(i, s) for i, s in enumerate(specs)]
    except ValueError as e:
        ap.error(str(e))
    if not 3600 <= args.lock_time <= 604800:
        ap.error("--lock-time must be within 3600..604800 (the contract reverts otherwise)")
    if 0 < args.fund_ledger < 3 * E18:
        ap.error("--fund-ledger must be 0 or at least 3 0G (MIN_ACCOUNT_BALANCE)")
    if 0 < args.fund_providers < E18:
        ap.error("--fund-providers must be 0 or at least 1 0G (MIN_TRANSFER_AMOUNT)")
    usable = sum(1 for s in args.specs if s.usable)
    if args.fund_providers and usable:
        if args.fund_ledger == 0:
            ap.error("--fund-providers needs a ledger: pass --fund-ledger > 0 or --fund-providers 0")
        if args.fund_providers * usable > args.fund_ledger:
            ap.error(f"--fund-providers x {usable} usable providers exceeds --fund-ledger")
    if args.accounts < 1:
        ap.error("--accounts must be >= 1")
    if args.rpc and args.block_time:
        ap.error("--block-time applies to the devchain the sandbox starts, not to --rpc")
    return args


# ------------------------------------------------------------------------------ children

class Child:
    """A child process whose stdout is scanned for a READY marker and whose stderr is
    forwarded (prefixed) or only kept as a tail."""

    def __init__(self, name: str, argv: list[str], marker: str, quiet: bool):
        self.name = name
        self.marker = marker
        self.quiet = quiet
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.ready: dict | None = None
        self.ready_event = threading.Event()
        self.expected_exit = False
        self.p = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.p.pid
        self._out = threading.Thread(target=self._read_stdout, daemon=True, name=f"{name}-out")
        self._err = threading.Thread(target=self._read_stderr, daemon=True, name=f"{name}-err")
        self._out.start()
        self._err.start()

    def _read_stdout(self):
        prefix = self.marker + " "
        try:
            for line in self.p.stdout:
                if self.ready is None and line.startswith(prefix):
                    try:
                        self.ready = json.loads(line[len(prefix):])
                    except ValueError:
                        self.tail.append(f"(bad {self.marker} line) {line}")
                    self.ready_event.set()
                else:
                    self.tail.append(line)
        except (OSError, ValueError):
            pass
        self.ready_event.set()  # EOF: wake up waiters

    def _read_stderr(self):
        try:
            for line in self.p.stderr:
                self.tail.append(line)
                if not self.quiet:
                    err(f"[{self.name}] {line.rstrip()}")
        except (OSError, ValueError):
            pass

    def wait_ready(self, deadline: float) -> dict:
        while True:
            if self.ready is not None:
                return self.ready
            left = deadline - time.monotonic()
            if left <= 0:
                raise SandboxError(f"{self.name}: no {self.marker} line within {READY_TIMEOUT:.0f} s"
                                   + self.tail_text())
            if self.ready_event.wait(min(left, 0.1)) and self.ready is None:
                # EOF on stdout without the marker: the process is exiting
                try:
                    self.p.wait(2)
                except subprocess.TimeoutExpired:
                    pass
                self._err.join(1)
                raise SandboxError(f"{self.name} exited (code {self.p.poll()}) before {self.marker}"
                                   + self.tail_text())

    def tail_text(self) -> str:
        lines = [ln.rstrip() for ln in list(self.tail)[-20:]]
        return ("; its last output:\n    " + "\n    ".join(lines)) if lines else ""

    def alive(self) -> bool:
        return self.p.poll() is None

    def terminate(self):
        self.expected_exit = True
        if self.p.poll() is None:
            try:
                self.p.terminate()
            except ProcessLookupError:
                pass

    def wait_or_kill(self, timeout: float):
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                self.p.kill()
            except ProcessLookupError:
                pass
            self.p.wait(5)


def stop_children(groups: list[list[Child]]):
    """Stops children group by group (each group in parallel), SIGTERM then SIGKILL."""
    for group in groups:
        for c in group:
            c.terminate()
        deadline = time.monotonic() + 5
        for c in group:
            c.wait_or_kill(max(0.1, deadline - time.monotonic()))


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all bound at once, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def watch_parent():
    ppid = os.getppid()

    def run():
        while True:
            time.sleep(0.2)
            if os.getppid() != ppid:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=run, daemon=True, name="parent-watch").start()


# ------------------------------------------------------------------------------ batched transactions

class BatchRPC:
    """JSON-RPC 2.0 batches over one keep-alive connection."""

    def __init__(self, url: str, timeout: float = 120.0):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
        self.https = u.scheme == "https"
        self.path = (u.path or "/") + (("?" + u.query) if u.query else "")
        self.timeout = timeout
        self.conn = None
        self.ids = 0

    def _connect(self):
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        c = cls(self.host, self.port, timeout=self.timeout)
        c.connect()
        try:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return c

    def call(self, calls: list[tuple[str, list]], chunk: int = 100) -> list[tuple[object, dict | None]]:
        """[(method, params)] -> [(result, error)] in order."""
        out = []
        for i in range(0, len(calls), chunk):
            part = calls[i:i + chunk]
            reqs = []
            for method, params in part:
                self.ids += 1
                reqs.append({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params})
            body = json.dumps(reqs).encode()
            for attempt in range(2):
                try:
                    if self.conn is None:
                        self.conn = self._connect()
                    self.conn.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
                    resp = self.conn.getresponse()
                    raw = resp.read()
                    break
                except (http.client.HTTPException, OSError):
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
                    if attempt == 1:
                        raise
            answers = json.loads(raw)
            if isinstance(answers, dict):  # a whole-batch error
                raise SandboxError(f"batch request failed: {answers.get('error')}")
            by_id = {a.get("id"): a for a in answers}
            for r in reqs:
                a = by_id.get(r["id"], {"error": {"code": -32603, "message": "no answer in batch"}})
                out.append((a.get("result"), a.get("error")))
        return out

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class TxRound:
    """Transactions signed here and sent together; receipts checked at the end.

    Nonces are tracked locally (first read with eth_getTransactionCount "pending"),
    fees fixed for the round (2 x base fee + tip), and gas estimated once per
    (to, selector, calldata length, value>0) shape with a 30% margin."""

    def __init__(self, ctx, label: str):
        self.ctx = ctx
        self.label = label
        self.items: list[dict] = []
        self.max_fee, self.tip = ctx.chain.fees()

    def add(self, key: str, to: str, data: bytes = b"", value: int = 0, what: str = "", gas: int | None = None):
        self.items.append({"key": key, "sender": self.ctx.address_of(key), "to": to, "data": bytes(data),
                           "value": int(value), "what": what, "gas": gas})

    def run(self):
        if not self.items:
            return []
        ctx = self.ctx
        t0 = time.monotonic()
        # nonces of senders not seen before
        senders = sorted({it["sender"] for it in self.items} - set(ctx.nonces))
        if senders:
            res = ctx.batch.call([("eth_getTransactionCount", [s, "pending"]) for s in senders])
            for s, (r, e) in zip(senders, res):
                if e:
                    raise SandboxError(f"eth_getTransactionCount {s}: {e}")
                ctx.nonces[s] = int(r, 16)
        # gas: one estimate per shape
        shapes = {}
        for it in self.items:
            if it["gas"] is None:
                shape = (it["to"], it["data"][:4], len(it["data"]), it["value"] > 0)
                it["shape"] = shape
                if shape not in ctx.gas_cache and shape not in shapes:
                    shapes[shape] = it
        if shapes:
            reqs = []
            for it in shapes.values():
                tx = {"from": it["sender"], "to": it["to"], "data": "0x" + it["data"].hex(), "value": hex(it["value"])}
                reqs.append(("eth_estimateGas", [tx, "pending"]))
            for (shape, it), (r, e) in zip(shapes.items(), ctx.batch.call(reqs)):
                if e:
                    raise SandboxError(f"{self.label}: estimating {it['what']} failed: {self._describe_error(e)}")
                est = int(r, 16)
                ctx.gas_cache[shape] = est + est * 3 // 10 + 20_000
        # sign
        raws = []
        for it in self.items:
            gas = it["gas"] if it["gas"] is not None else ctx.gas_cache[it["shape"]]
            nonce = ctx.nonces[it["sender"]]
            ctx.nonces[it["sender"]] = nonce + 1
            tx = {"type": 2, "chainId": ctx.chain.chain_id, "nonce": nonce, "to": it["to"], "value": it["value"],
                  "data": it["data"], "gas": gas, "maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.tip}
            signed = ctx.account(it["key"]).sign_transaction(tx)
            it["hash"] = "0x" + bytes(signed.hash).hex()
            it["gas_used_limit"] = gas
            raws.append(("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()]))
        t_signed = time.monotonic()
        for it, (r, e) in zip(self.items, ctx.batch.call(raws)):
            if e and "already known" not in str(e.get("message", "")):
                # later transactions of the same sender fail with "nonce too high": resync them
                ctx.nonces.clear()
                raise SandboxError(f"{self.label}: sending {it['what']} failed: {e.get('message')}")
        t_sent = time.monotonic()
        # receipts
        pending = list(self.items)
        deadline = time.monotonic() + 120
        delay = 0.02
        while pending:
            res = ctx.batch.call([("eth_getTransactionReceipt", [it["hash"]]) for it in pending])
            still = []
            for it, (r, e) in zip(pending, res):
                if e:
                    raise SandboxError(f"{self.label}: receipt of {it['what']}: {e}")
                if r is None:
                    still.append(it)
                    continue
                if int(r.get("status", "0x1"), 16) != 1:
                    raise SandboxError(f"{self.label}: {it['what']} reverted: {self._replay(it, r)}")
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    raise SandboxError(f"{self.label}: no receipt for {len(pending)} transactions")
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        ctx.timings.append((self.label, len(self.items), time.monotonic() - t0,
                            t_signed - t0, t_sent - t_signed))
        return self.items

    def _describe_error(self, e: dict) -> str:
        data = e.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return self.ctx.describe(bytes.fromhex(data[2:]), e.get("message", ""))
        return str(e.get("message"))

    def _replay(self, it: dict, receipt: dict) -> str:
        block = int(receipt["blockNumber"], 16)
        tx = {"from": it["sender"], "to": it["to"], "data": "0x" + it["data"].hex(), "value": hex(it["value"]),
              "gas": hex(it["gas_used_limit"])}
        (r, e), = self.ctx.batch.call([("eth_call", [tx, hex(max(block - 1, 0))])])
        if e:
            return self._describe_error(e)
        if int(receipt.get("gasUsed", "0x0"), 16) >= it["gas_used_limit"]:
            return f"out of gas (limit {it['gas_used_limit']})"
        return "no revert data"


# ------------------------------------------------------------------------------ the sandbox

class Context:
    def __init__(self, chain, batch, world_mod, account_cls):
        self.chain = chain
        self.batch = batch
        self.world = world_mod
        self.Account = account_cls
        self.nonces: dict[str, int] = {}
        self.gas_cache: dict = {}
        self.timings: list = []
        self._accounts: dict = {}

    def account(self, key):
        a = self._accounts.get(key)
        if a is None:
            a = self._accounts[key] = self.Account.from_key(key)
        return a

    def address_of(self, key):
        return self.account(key).address

    def describe(self, data: bytes, message: str) -> str:
        from chain import RevertError
        return self.world.describe_revert(RevertError(data, message or "execution reverted"))


def derived_key(text: str) -> str:
    from eth_utils import keccak
    return "0x" + keccak(text=text).hex()


def devchain_accounts(chain, count_hint: int):
    """The devchain's deterministic accounts present on this chain ([{address, privateKey}])."""
    from eth_account import Account
    try:
        listed = {a.lower() for a in (chain.rpc("eth_accounts", []) or [])}
    except Exception:  # noqa: BLE001 - not every node has it
        listed = set()
    out = []
    for i in range(max(count_hint, len(listed))):
        key = derived_key(DEVCHAIN_KEY_SEED + str(i))
        addr = Account.from_key(key).address
        if addr.lower() in listed:
            out.append({"address": addr, "privateKey": key})
    return out


def gwei_text(neuron: int) -> str:
    d = Decimal(neuron) / GWEI
    return (f"{d:f}".rstrip("0").rstrip(".") if "." in f"{d:f}" else f"{d:f}")


def zero_g_text(neuron: int) -> str:
    d = Decimal(neuron) / E18
    s = f"{d:f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def run(args) -> int:
    groups: list[list[Child]] = [[], []]     # [simulators], [devchain]: stopped in this order
    devchain_child: Child | None = None
    chain = None
    batch = None
    try:
        # 1. chain (the devchain imports py-evm for ~0.7 s: start it before our own heavy imports)
        if not args.rpc:
            argv = [PY, DEVCHAIN, "--port", "0", "--exit-with-parent", "--chain-id", str(args.chain_id or 16602),
                    "--accounts", str(args.accounts)]
            if args.block_time:
                argv += ["--block-time", repr(args.block_time)]
            devchain_child = Child("devchain", argv, "DEVCHAIN READY", args.quiet)
            groups[1].append(devchain_child)

        sys.path.insert(0, HERE)
        from eth_account import Account  # noqa: E402
        import world  # noqa: E402
        from chain import Chain, RevertError  # noqa: E402
        t_imports = time.monotonic()

        if devchain_child is not None:
            info = devchain_child.wait_ready(time.monotonic() + READY_TIMEOUT)
            rpc = info["rpc"]
            all_accounts = [{"address": a["address"], "privateKey": a["privateKey"]} for a in info["accounts"]]
        else:
            rpc = args.rpc
        t_chain = time.monotonic()
        chain = Chain(rpc)
        if args.rpc:
            if args.chain_id is not None and chain.chain_id != args.chain_id:
                raise SandboxError(f"{rpc} has chain id {chain.chain_id}, not {args.chain_id}")
            all_accounts = devchain_accounts(chain, args.accounts)
        batch = BatchRPC(rpc)
        ctx = Context(chain, batch, world, Account)

        if args.owner_key:
            owner_key = args.owner_key
        elif all_accounts:
            owner_key = all_accounts[0]["privateKey"]
        else:
            raise SandboxError(f"{rpc} has none of the devchain's accounts: pass --owner-key (a funded key)")
        owner = Account.from_key(owner_key).address
        wallet_key = args.wallet_key or derived_key("zgproxy sandbox wallet")
        wallet = Account.from_key(wallet_key).address
        used = {owner.lower(), wallet.lower()}
        spare = [a for a in all_accounts if a["address"].lower() not in used]

        specs = args.specs
        n_extra = args.extra_services
        need = (len(specs) + n_extra) * PROVIDER_FUNDING + max(WALLET_FUNDING, args.fund_ledger + 10 * E18) + E18
        have = chain.balance(owner)
        if have < need:
            raise SandboxError(f"owner {owner} has {zero_g_text(have)} 0G, the sandbox needs about "
                               f"{zero_g_text(need)} 0G")

        # 2. contracts
        t0 = time.monotonic()
        try:
            dep = world.deploy(chain, owner_key, lock_time=args.lock_time)
        except RevertError as e:
            raise SandboxError(f"deployment failed: {world.describe_revert(e)}") from None
        t_deploy = time.monotonic() - t0
        ledger_c, inference_c = world.contracts(chain, dep)
        service_name = dep["serviceName"]

        # keys and ports
        providers = []
        ports = free_ports(len(specs))
        for spec, port in zip(specs, ports):
            pkey = derived_key(f"zgproxy sandbox provider {spec.index}")
            tkey = derived_key(f"zgproxy sandbox tee {spec.index}")
            providers.append({"spec": spec, "providerKey": pkey, "teeKey": tkey,
                              "provider": Account.from_key(pkey).address,
                              "teeSigner": Account.from_key(tkey).address,
                              "url": f"http://127.0.0.1:{port}", "port": port})
        extras = []
        for k in range(1, n_extra + 1):
            pkey = derived_key(f"zgproxy sandbox extra provider {k}")
            tkey = derived_key(f"zgproxy sandbox extra tee {k}")
            extras.append({"providerKey": pkey, "teeKey": tkey, "provider": Account.from_key(pkey).address,
                           "teeSigner": Account.from_key(tkey).address, "model": f"extra-model-{k}"})

        def service_params(url, model, inp, out, tee, info):
            return {"serviceType": "chatbot", "url": url, "model": model, "verifiability": "TeeML",
                    "inputPrice": int(inp), "outputPrice": int(out), "additionalInfo": info,
                    "teeSignerAddress": tee}

        t0 = time.monotonic()
        # round 1: owner funds every provider key and the wallet
        r1 = TxRound(ctx, "fund")
        for p in providers + extras:
            r1.add(owner_key, p["provider"], value=PROVIDER_FUNDING, gas=21_000, what=f"funding {p['provider']}")
        wallet_funding = max(WALLET_FUNDING, args.fund_ledger + 10 * E18)
        r1.add(owner_key, wallet, value=wallet_funding, gas=21_000, what=f"funding the wallet {wallet}")
        r1.run()

        # round 2: every provider registers (stake 100 0G); the wallet creates its ledger
        r2 = TxRound(ctx, "register")
        for p in providers:
            s = p["spec"]
            data = inference_c.encode("addOrUpdateService", service_params(
                p["url"], s.model, s.input_price, s.output_price, p["teeSigner"], SIM_ADDITIONAL_INFO))
            r2.add(p["providerKey"], inference_c.address, data, value=world.MIN_PROVIDER_STAKE,
                   what=f"addOrUpdateService of {s.model} ({p['provider']})")
        for x in extras:
            data = inference_c.encode("addOrUpdateService", service_params(
                EXTRA_URL, x["model"], GWEI, 2 * GWEI, x["teeSigner"], "{}"))
            r2.add(x["providerKey"], inference_c.address, data, value=world.MIN_PROVIDER_STAKE,
                   what=f"addOrUpdateService of {x['model']} ({x['provider']})")
        if args.fund_ledger:
            r2.add(wallet_key, ledger_c.address, ledger_c.encode("depositFund"), value=args.fund_ledger,
                   what="depositFund of the wallet")
        r2.run()

        # round 3: the owner acknowledges TEE signers; the wallet funds the usable simulated providers
        r3 = TxRound(ctx, "acknowledge+transfer")
        for p in providers:
            if p["spec"].usable:
                r3.add(owner_key, inference_c.address, inference_c.encode("acknowledgeTEESignerByOwner", p["provider"]),
                       what=f"acknowledgeTEESignerByOwner({p['provider']})")
        for x in extras:
            r3.add(owner_key, inference_c.address, inference_c.encode("acknowledgeTEESignerByOwner", x["provider"]),
                   what=f"acknowledgeTEESignerByOwner({x['provider']})")
        if args.fund_ledger and args.fund_providers:
            for p in providers:
                if p["spec"].usable:
                    r3.add(wallet_key, ledger_c.address,
                           ledger_c.encode("transferFund", p["provider"], service_name, args.fund_providers),
                           what=f"transferFund to {p['provider']}")
        r3.run()
        t_setup = time.monotonic() - t0

        # 3. simulators, in parallel (re-tried on another port if theirs got taken)
        t0 = time.monotonic()
        sims: dict[int, Child] = {}

        def start_sim(p):
            argv = [PY, PROVIDER_SIM, "--rpc", rpc, "--inference", dep["inference"],
                    "--provider-key", p["providerKey"], "--tee-key", p["teeKey"], "--port", str(p["port"]),
                    "--settle-interval", repr(args.settle_interval),
                    "--tokens-per-second", repr(args.tokens_per_second), "--exit-with-parent"]
            c = Child(f"sim {p['spec'].index} {p['spec'].model}@{p['port']}", argv, "PROVIDER READY", args.quiet)
            groups[0].append(c)
            return c

        for i, p in enumerate(providers):
            sims[i] = start_sim(p)
        deadline = time.monotonic() + READY_TIMEOUT
        for i, p in enumerate(providers):
            for attempt in range(3):
                try:
                    ready = sims[i].wait_ready(deadline)
                    break
                except SandboxError:
                    c = sims[i]
                    if attempt == 2 or "Address already in use" not in "".join(c.tail):
                        raise
                    groups[0].remove(c)
                    p["port"] = free_ports(1)[0]
                    p["url"] = f"http://127.0.0.1:{p['port']}"
                    s = p["spec"]
                    inference_c.transact(p["providerKey"], "addOrUpdateService", service_params(
                        p["url"], s.model, s.input_price, s.output_price, p["teeSigner"], SIM_ADDITIONAL_INFO))
                    sims[i] = start_sim(p)
            if ready["url"] != p["url"] or ready["provider"].lower() != p["provider"].lower():
                raise SandboxError(f"simulator {i} READY does not match its service: {ready}")
        t_sims = time.monotonic() - t0

        total = time.monotonic() - T_START
        out = {
            "rpc": rpc,
            "chainId": chain.chain_id,
            "ledger": dep["ledger"],
            "inference": dep["inference"],
            "serviceName": service_name,
            "lockTime": args.lock_time,
            "owner": {"address": owner, "privateKey": owner_key},
            "wallet": {"address": wallet, "privateKey": wallet_key},
            "providers": [{
                "provider": p["provider"], "url": p["url"], "model": p["spec"].model, "teeSigner": p["teeSigner"],
                "inputPrice": str(p["spec"].input_price), "outputPrice": str(p["spec"].output_price),
                "usable": p["spec"].usable, "simulator": True,
                "providerKey": p["providerKey"], "teeKey": p["teeKey"], "pid": sims[i].pid,
            } for i, p in enumerate(providers)],
            "extraServices": n_extra,
            "spareAccounts": spare,
            "devchainPid": devchain_child.pid if devchain_child else None,
            "pid": os.getpid(),
            "startupSeconds": round(total, 3),
        }
        with _OUT_LOCK:
            sys.stdout.write("SANDBOX READY " + json.dumps(out, separators=(",", ":")) + "\n")
            sys.stdout.flush()

        if not args.quiet:
            lines = [f"zgproxy sandbox ready in {total:.1f} s "
                     f"(imports {t_imports - T_START:.1f} s, chain {t_chain - T_START:.1f} s, deploy {t_deploy:.2f} s, "
                     f"{sum(t[1] for t in ctx.timings)} txs {t_setup:.2f} s, simulators {t_sims:.1f} s)"]
            lines.append("  rounds     " + ", ".join(f"{label} {n} txs {secs:.2f} s (signing {sign:.2f} s)"
                                                  for label, n, secs, sign, _ in ctx.timings))
            chain_where = f"devchain pid {devchain_child.pid}" if devchain_child else "external"
            lines.append(f"  chain      {rpc}  chain id {chain.chain_id} ({chain_where})")
            lines.append(f"  contracts  LedgerManager {dep['ledger']}  InferenceServing {dep['inference']}")
            lines.append(f"             service name {service_name}, lock time {args.lock_time} s")
            lines.append(f"  owner      {owner}  key {owner_key}")
            funds = (f"ledger {zero_g_text(args.fund_ledger)} 0G, {zero_g_text(args.fund_providers)} 0G per usable provider"
                     if args.fund_ledger else "no ledger")
            lines.append(f"  wallet     {wallet}  key {wallet_key}  ({funds})")
            for i, p in enumerate(providers):
                s = p["spec"]
                lines.append(f"  provider   {s.model:<28} {p['url']:<24} {p['provider']}  "
                             f"in {gwei_text(s.input_price)} / out {gwei_text(s.output_price)} gwei per token"
                             + ("" if s.usable else "  UNUSABLE (signer not acknowledged)")
                             + f"  [sim pid {sims[i].pid}]")
            if n_extra:
                lines.append(f"  + {n_extra} extra services without a simulator (extra-model-1..{n_extra})")
            lines.append(f"  {len(spare)} spare funded accounts in the READY line. Stop with Ctrl-C.")
            err("\n".join(lines))

        # 4. run until told to stop
        reported = set()
        while True:
            time.sleep(0.2)
            if devchain_child is not None and not devchain_child.alive():
                err(f"sandbox: the devchain exited (code {devchain_child.p.poll()}); stopping"
                    + devchain_child.tail_text())
                STOPPING.set()
                return 1
            for c in groups[0]:
                if c.pid not in reported and not c.alive():
                    reported.add(c.pid)
                    err(f"sandbox: {c.name} (pid {c.pid}) exited with code {c.p.poll()}" + c.tail_text())
    except Shutdown:
        return 0
    except SandboxError as e:
        err(f"sandbox: error: {e}")
        return 1
    except Exception as e:  # noqa: BLE001
        import traceback
        err("sandbox: error: " + "".join(traceback.format_exception(e)).rstrip())
        return 1
    finally:
        STOPPING.set()
        stop_children(groups)
        if batch is not None:
            batch.close()
        if chain is not None:
            chain.close()


def main(argv=None) -> int:
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    args = parse_args(argv)
    if args.exit_with_parent:
        watch_parent()
    return run(args)


if __name__ == "__main__":
    # A parent that spawned this process from a thread with these signals blocked (Swift's
    # Foundation.Process on Linux does) leaves them blocked here too; SIGTERM would then never stop it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    sys.exit(main())
