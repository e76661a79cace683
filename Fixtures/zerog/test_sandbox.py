#!/usr/bin/env python3
"""End-to-end check of sandbox.py (the one-command local 0G world).

Run from the repository root:
  .venv/bin/python Fixtures/zerog/test_sandbox.py [-v]

Starts the sandbox several ways (defaults; 55 extra services + an unusable provider;
--rpc on an external devchain; --exit-with-parent under a parent that gets killed;
bad arguments), checks the READY line, the on-chain world via eth_call, the
simulators with app-sk tokens built here, and that stopping the sandbox leaves no
child process behind. Prints one line per check and "N passed, M failed"; exits
non-zero on failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402

from chain import Chain, RevertError  # noqa: E402
import world  # noqa: E402
from testkit import ROOT, Proc, check, counts, eq, fail, log, make_token, ok, request  # noqa: E402

PY = sys.executable
SANDBOX = os.path.join(HERE, "sandbox.py")
E18 = 10 ** 18
GWEI = 10 ** 9
EXTRA_URL = "http://127.0.0.1:9/unused"

TIMINGS: list[str] = []


# --------------------------------------------------------------------------------------
# processes

def proc_stat(pid: int):
    """(state, ppid) of a process, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def gone(pid: int) -> bool:
    st = proc_stat(pid)
    return st is None or st[0] in ("Z", "X")


def descendants(pid: int) -> set[int]:
    """All live descendants of pid (scan of /proc)."""
    parent_of = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[0] not in ("Z", "X"):
                parent_of[int(d)] = st[1]
    out, frontier = set(), {pid}
    while frontier:
        nxt = {c for c, pp in parent_of.items() if pp in frontier and c not in out}
        out |= nxt
        frontier = nxt
    return out


def parent_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def processes_mentioning(text: str) -> list[int]:
    """Orphaned processes whose command line holds `text`.

    Only orphans (re-parented to init) count: every sandbox deploys to the same deterministic
    addresses, so other sandboxes running at the same time (other tests) would otherwise match.
    """
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmd and not gone(int(d)) and parent_pid(int(d)) == 1:
            out.append(int(d))
    return out


def wait_gone(pids, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = [p for p in pids if not gone(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if not gone(p)]
    return left


def expected_children(ready: dict) -> set[int]:
    pids = {p["pid"] for p in ready["providers"]}
    if ready.get("devchainPid"):
        pids.add(ready["devchainPid"])
    return pids


# --------------------------------------------------------------------------------------
# HTTP + 0G helpers (independent of the sandbox and the simulator)

def chat(base: str, key: str, provider: str, model: str, text: str = "hello sandbox"):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": text}]}).encode()
    return request(base, "POST", "/v1/proxy/chat/completions", body,
                   {"Authorization": make_token(key, provider)})


def expect_chat_ok(base: str, key: str, provider: str, model: str):
    st, hdr, body = chat(base, key, provider, model)
    eq(st, 200, f"chat status at {base} ({body[:300]!r})")
    obj = json.loads(body)
    eq(obj["choices"][0]["message"]["content"], "Echo: hello sandbox", "answer")
    ok(obj["usage"]["prompt_tokens"] > 0 and obj["usage"]["completion_tokens"] > 0, "usage counted")
    ok(hdr.get("zg-res-key"), "ZG-Res-Key header")


def expect_chat_error(base: str, key: str, provider: str, model: str, fragment: str):
    st, _, body = chat(base, key, provider, model)
    eq(st, 400, f"chat status at {base} ({body[:300]!r})")
    msg = json.loads(body).get("error", "")
    ok(fragment in msg, f"error {msg!r} should mention {fragment!r}")


class World:
    """eth_call views over a sandbox's contracts."""

    def __init__(self, ready: dict):
        self.r = ready
        self.chain = Chain(ready["rpc"])
        dep = {"ledger": ready["ledger"], "inference": ready["inference"]}
        self.ledger, self.inference = world.contracts(self.chain, dep)

    def all_services(self) -> tuple[list[dict], list[int]]:
        """Pages through getAllServices(offset, 50); returns (services, page sizes)."""
        out, pages, offset = [], [], 0
        while True:
            services, total = self.inference.call("getAllServices", offset, 50)
            pages.append(len(services))
            out.extend(services)
            offset += len(services)
            if offset >= total or not services:
                return out, pages + [total]

    def ledger_of(self, user: str):
        return self.ledger.call("getLedger", user)

    def account(self, user: str, provider: str):
        return self.inference.call("getAccount", user, provider)

    def fund(self, key: str, deposit: int, transfers: list[tuple[str, int]]):
        self.ledger.transact(key, "depositFund", value=deposit)
        for provider, amount in transfers:
            self.ledger.transact(key, "transferFund", provider, self.r["serviceName"], amount)

    def close(self):
        self.chain.close()


def check_stop(name: str, proc: Proc, sig: int, extra_gone=()):
    """Send sig to the sandbox; it exits 0 and every child is gone."""
    ready = proc.ready
    expected = expected_children(ready)
    seen = descendants(proc.p.pid)

    @check(f"{name}: the READY pids are the sandbox's live children")
    def _():
        eq(ready["pid"], proc.p.pid, "pid")
        ok(expected <= seen, f"READY pids {sorted(expected)} not all among the descendants {sorted(seen)}")
        eq(len(seen), len(expected), f"descendants {sorted(seen)} vs READY pids {sorted(expected)}")

    t = time.monotonic()
    proc.p.send_signal(sig)
    try:
        code = proc.p.wait(15)
    except subprocess.TimeoutExpired:
        code = None
    stop_s = time.monotonic() - t
    TIMINGS.append(f"{name}: stop after {signal.Signals(sig).name} {stop_s:.2f}s")

    @check(f"{name}: {signal.Signals(sig).name} stops the sandbox with exit code 0 ({stop_s:.2f}s)")
    def _():
        eq(code, 0, "exit code" + ("" if code == 0 else "; stderr:\n" + proc.stderr_text()))

    @check(f"{name}: no child process left")
    def _():
        left = wait_gone(seen | expected | set(extra_gone), 5)
        eq(left, [], "processes still alive")
        stray = processes_mentioning(ready["inference"])  # the simulators' command lines hold it
        eq(stray, [], "orphaned processes still mentioning the inference contract")
    if proc.p.poll() is None:
        proc.p.kill()


def ready_shape(r: dict):
    for k in ("rpc", "chainId", "ledger", "inference", "serviceName", "owner", "wallet", "providers",
              "extraServices", "spareAccounts"):
        ok(k in r, f"READY lacks {k}")
    ok(isinstance(r["chainId"], int), "chainId is a number")
    for k in ("owner", "wallet"):
        eq(set(r[k]) >= {"address", "privateKey"}, True, f"{k} keys")
        eq(Account.from_key(r[k]["privateKey"]).address, r[k]["address"], f"{k} key matches address")
    for p in r["providers"]:
        for k in ("provider", "url", "model", "teeSigner", "inputPrice", "outputPrice", "usable", "simulator"):
            ok(k in p, f"provider lacks {k}")
        ok(isinstance(p["inputPrice"], str) and p["inputPrice"].isdigit(), "inputPrice is a decimal string")
        ok(isinstance(p["outputPrice"], str) and p["outputPrice"].isdigit(), "outputPrice is a decimal string")
        eq(p["simulator"], True, "simulator")
        eq(Account.from_key(p["providerKey"]).address, p["provider"], "providerKey")
        eq(Account.from_key(p["teeKey"]).address, p["teeSigner"], "teeKey")
    for a in r["spareAccounts"]:
        eq(Account.from_key(a["privateKey"]).address, a["address"], "spare key matches address")
        ok(a["address"] not in (r["owner"]["address"], r["wallet"]["address"]), "spare is neither owner nor wallet")


# --------------------------------------------------------------------------------------
# scenarios

def scenario_defaults():
    log("== defaults")
    try:
        sb = Proc([PY, SANDBOX, "--exit-with-parent"], "SANDBOX READY")
    except Exception as e:  # noqa: BLE001
        check("defaults: the sandbox starts")(lambda: (_ for _ in ()).throw(e))
        return
    r = sb.ready
    TIMINGS.append(f"defaults: READY after {sb.startup:.2f}s (sandbox says {r.get('startupSeconds')}s)")
    w = World(r)
    try:
        @check(f"defaults: READY in {sb.startup:.2f}s (< 8 s), shape and values")
        def _():
            ready_shape(r)
            ok(sb.startup < 8, f"start-up took {sb.startup:.2f}s")
            eq(r["chainId"], 16602, "chainId")
            eq(r["serviceName"], "inference-v1.0", "serviceName")
            eq(r["extraServices"], 0, "extraServices")
            eq(len(r["spareAccounts"]), 9, "spare accounts (10 devchain accounts - owner)")
            eq([(p["model"], p["inputPrice"], p["outputPrice"], p["usable"]) for p in r["providers"]],
               [("qwen-2.5-7b-instruct", str(1 * GWEI), str(2 * GWEI), True),
                ("llama-3.3-70b-instruct", str(3 * GWEI), str(6 * GWEI), True),
                ("qwen-2.5-7b-instruct", str(2 * GWEI), str(2 * GWEI), True)], "providers")
            eq(r["owner"]["address"], "0xf35f733433659A493ee8f7BF8F0b1Ee98CB82EEA", "owner = devchain account 0")
            eq(r["wallet"]["privateKey"], "0x" + keccak(text="zgproxy sandbox wallet").hex(), "wallet key")
            for i, p in enumerate(r["providers"]):
                eq(p["providerKey"], "0x" + keccak(text=f"zgproxy sandbox provider {i}").hex(), "provider key")
                eq(p["teeKey"], "0x" + keccak(text=f"zgproxy sandbox tee {i}").hex(), "tee key")

        @check("defaults: the human summary is on stderr")
        def _():
            text = sb.stderr_text(200)
            ok("zgproxy sandbox ready" in text, "summary line")
            ok(r["rpc"] in text and r["wallet"]["address"] in text, "summary names the rpc and the wallet")

        @check("defaults: contracts (lockTime 3600, service name from the ledger, owner)")
        def _():
            eq(w.inference.call("lockTime"), 3600, "lockTime")
            eq(w.ledger.call("getServiceInfo", r["inference"])["fullName"], r["serviceName"], "fullName")
            eq(w.chain.chain_id, r["chainId"], "eth_chainId")

        @check("defaults: getAllServices lists the three providers as in READY, acknowledged")
        def _():
            services, pages = w.all_services()
            eq(pages, [3, 3], "pages + total")
            by = {s["provider"]: s for s in services}
            for p in r["providers"]:
                s = by[p["provider"]]
                eq((s["url"], s["model"], str(s["inputPrice"]), str(s["outputPrice"]), s["teeSignerAddress"],
                    s["teeSignerAcknowledged"], s["serviceType"], s["verifiability"]),
                   (p["url"], p["model"], p["inputPrice"], p["outputPrice"], p["teeSigner"], True, "chatbot", "TeeML"),
                   f"service of {p['provider']}")
                eq(json.loads(s["additionalInfo"]).get("TargetSeparated"), False, "additionalInfo")

        @check("defaults: the wallet's ledger holds 10 0G, 6 0G moved to 3 sub-accounts of 2 0G")
        def _():
            led = w.ledger_of(r["wallet"]["address"])
            eq((led["totalBalance"], led["availableBalance"]), (10 * E18, 4 * E18), "ledger total/available")
            eq(set(w.ledger.call("getLedgerProviders", r["wallet"]["address"], r["serviceName"])),
               {p["provider"] for p in r["providers"]}, "ledger providers")
            for p in r["providers"]:
                a = w.account(r["wallet"]["address"], p["provider"])
                eq((a["balance"], a["pendingRefund"], a["acknowledged"], a["generation"]),
                   (2 * E18, 0, True, 0), f"sub-account at {p['provider']}")

        @check("defaults: native balances (wallet ~990 0G, providers staked, spare accounts funded)")
        def _():
            bal = w.chain.balance(r["wallet"]["address"])
            ok(989 * E18 < bal <= 990 * E18, f"wallet balance {bal}")
            for p in r["providers"]:
                b = w.chain.balance(p["provider"])
                ok(0 < b <= E18, f"provider {p['provider']} has {b} after the 100 0G stake")
            for a in r["spareAccounts"]:
                ok(w.chain.balance(a["address"]) >= 1000 * E18, f"spare {a['address']} funded")

        @check("defaults: each simulator answers a chat request with an app-sk token")
        def _():
            for p in r["providers"]:
                expect_chat_ok(p["url"], r["wallet"]["privateKey"], p["provider"], p["model"])

        @check("defaults: a spare account becomes a second wallet")
        def _():
            spare = r["spareAccounts"][0]
            p = r["providers"][1]
            w.fund(spare["privateKey"], 3 * E18, [(p["provider"], E18 * 3 // 2)])
            expect_chat_ok(p["url"], spare["privateKey"], p["provider"], p["model"])
    finally:
        w.close()
    check_stop("defaults", sb, signal.SIGTERM)


def scenario_extra():
    log("== extra services + unusable provider")
    args = [PY, SANDBOX, "--extra-services", "55", "--providers", "qwen-2.5-7b-instruct:1:2",
            "--providers", "m2:1:1:u", "--quiet", "--exit-with-parent"]
    try:
        sb = Proc(args, "SANDBOX READY")
    except Exception as e:  # noqa: BLE001
        check("extra: the sandbox starts")(lambda: (_ for _ in ()).throw(e))
        return
    r = sb.ready
    TIMINGS.append(f"extra(55): READY after {sb.startup:.2f}s (sandbox says {r.get('startupSeconds')}s)")
    w = World(r)
    qwen, m2 = r["providers"]
    try:
        @check(f"extra: READY in {sb.startup:.2f}s, two providers, m2 unusable, 55 extra services")
        def _():
            ready_shape(r)
            eq(r["extraServices"], 55, "extraServices")
            eq([(p["model"], p["inputPrice"], p["outputPrice"], p["usable"]) for p in r["providers"]],
               [("qwen-2.5-7b-instruct", str(GWEI), str(2 * GWEI), True), ("m2", str(GWEI), str(GWEI), False)],
               "providers")
            ok(sb.startup < 30, f"start-up took {sb.startup:.2f}s")

        @check("extra: --quiet keeps stderr empty")
        def _():
            eq(sb.stderr_text(), "", "stderr")

        @check("extra: getAllServices pages 50 + 7 = 57 distinct services")
        def _():
            services, pages = w.all_services()
            eq(pages, [50, 7, 57], "page sizes + total")
            addrs = [s["provider"] for s in services]
            eq(len(set(addrs)), 57, "distinct providers")
            by = {s["provider"]: s for s in services}
            eq(by[qwen["provider"]]["teeSignerAcknowledged"], True, "qwen acknowledged")
            eq(by[m2["provider"]]["teeSignerAcknowledged"], False, "m2 not acknowledged")
            eq(by[m2["provider"]]["url"], m2["url"], "m2 url")
            extras = [s for s in services if s["provider"] not in (qwen["provider"], m2["provider"])]
            eq(sorted(s["model"] for s in extras), sorted(f"extra-model-{k}" for k in range(1, 56)), "extra models")
            ok(all(s["url"] == EXTRA_URL and s["teeSignerAcknowledged"] for s in extras),
               "extras: unused url, acknowledged")

        @check("extra: the ledger funds only the usable simulated provider (10 total, 8 available)")
        def _():
            wallet = r["wallet"]["address"]
            led = w.ledger_of(wallet)
            eq((led["totalBalance"], led["availableBalance"]), (10 * E18, 8 * E18), "ledger")
            eq(w.ledger.call("getLedgerProviders", wallet, r["serviceName"]), [qwen["provider"]], "ledger providers")
            eq(w.account(wallet, qwen["provider"])["balance"], 2 * E18, "qwen sub-account")
            eq(w.inference.call("accountExists", wallet, m2["provider"]), False, "no m2 sub-account")

        @check("extra: the qwen simulator answers; m2 refuses (no sub-account, then signer not acknowledged)")
        def _():
            expect_chat_ok(qwen["url"], r["wallet"]["privateKey"], qwen["provider"], qwen["model"])
            expect_chat_error(m2["url"], r["wallet"]["privateKey"], m2["provider"], m2["model"], "account not exist")
            spare = r["spareAccounts"][0]["privateKey"]
            w.fund(spare, 3 * E18, [(m2["provider"], E18)])
            expect_chat_error(m2["url"], spare, m2["provider"], m2["model"], "service not acknowledge the tee signer")
    finally:
        w.close()
    check_stop("extra", sb, signal.SIGINT)


def scenario_rpc():
    log("== --rpc on an external devchain")
    try:
        dc = Proc([PY, "Fixtures/devchain/devchain.py", "--port", "0", "--exit-with-parent"], "DEVCHAIN READY")
    except Exception as e:  # noqa: BLE001
        check("rpc: devchain starts")(lambda: (_ for _ in ()).throw(e))
        return
    rpc = dc.ready["rpc"]
    try:
        @check("rpc: a wrong --chain-id is refused (exit 1, message)")
        def _():
            p = subprocess.run([PY, SANDBOX, "--rpc", rpc, "--chain-id", "1", "--quiet"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
            eq(p.returncode, 1, "exit code")
            ok("chain id 16602, not 1" in p.stderr, f"stderr: {p.stderr!r}")
            eq(p.stdout, "", "stdout")

        wallet_key = "0x" + keccak(text="test_sandbox custom wallet").hex()
        try:
            sb = Proc([PY, SANDBOX, "--rpc", rpc, "--providers", "sim/x:0.5:1.5", "--fund-ledger", "5",
                       "--fund-providers", "0", "--wallet-key", wallet_key, "--quiet", "--exit-with-parent"],
                      "SANDBOX READY")
        except Exception as e:  # noqa: BLE001
            check("rpc: the sandbox starts")(lambda: (_ for _ in ()).throw(e))
            return
        r = sb.ready
        TIMINGS.append(f"rpc: READY after {sb.startup:.2f}s")
        w = World(r)
        try:
            @check("rpc: READY uses the given chain, wallet key and decimal gwei prices")
            def _():
                ready_shape(r)
                eq(r["rpc"], rpc, "rpc")
                eq(r["devchainPid"], None, "devchainPid")
                eq(r["wallet"]["privateKey"], wallet_key, "wallet key")
                eq((r["providers"][0]["inputPrice"], r["providers"][0]["outputPrice"]),
                   (str(5 * 10 ** 8), str(15 * 10 ** 8)), "prices")
                eq([a["address"] for a in r["spareAccounts"]], [a["address"] for a in dc.ready["accounts"][1:]],
                   "spare accounts = devchain accounts 1..9")

            @check("rpc: ledger of 5 0G without sub-accounts; the simulator refuses (no sub-account)")
            def _():
                led = w.ledger_of(r["wallet"]["address"])
                eq((led["totalBalance"], led["availableBalance"]), (5 * E18, 5 * E18), "ledger")
                p = r["providers"][0]
                expect_chat_error(p["url"], wallet_key, p["provider"], p["model"], "account not exist")
        finally:
            w.close()
        check_stop("rpc", sb, signal.SIGTERM)

        @check("rpc: the external devchain still runs")
        def _():
            ok(dc.p.poll() is None, "devchain alive")
            c = Chain(rpc)
            ok(c.block_number() > 0, "answers")
            c.close()
    finally:
        dc.stop()


WRAPPER = r"""
import subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
for line in p.stdout:
    sys.stdout.write(line); sys.stdout.flush()
    if line.startswith("SANDBOX READY "):
        break
time.sleep(3600)
"""


def scenario_parent_dies():
    log("== --exit-with-parent")
    try:
        wrapper = Proc([PY, "-c", WRAPPER, PY, SANDBOX, "--providers", "p:1:1", "--quiet", "--exit-with-parent",
                        "--fund-ledger", "0", "--fund-providers", "0"], "SANDBOX READY")
    except Exception as e:  # noqa: BLE001
        check("parent: the sandbox starts under a wrapper")(lambda: (_ for _ in ()).throw(e))
        return
    r = wrapper.ready
    pids = expected_children(r) | {r["pid"]} | descendants(r["pid"])
    t = time.monotonic()
    wrapper.p.kill()
    wrapper.p.wait(5)

    @check("parent: killing the parent (SIGKILL) stops the sandbox and all its children")
    def _():
        left = wait_gone(pids, 10)
        TIMINGS.append(f"parent: everything gone {time.monotonic() - t:.2f}s after the parent's SIGKILL")
        eq(left, [], "processes still alive")
        eq(processes_mentioning(r["inference"]), [], "orphaned processes still mentioning the inference contract")


def scenario_bad_args():
    log("== bad arguments")

    @check("args: flag s is refused with an explanation; no process left")
    def _():
        p = subprocess.run([PY, SANDBOX, "--providers", "a:1:2:s"], cwd=ROOT, capture_output=True, text=True,
                           timeout=30)
        eq(p.returncode, 2, "exit code")
        ok("not supported" in p.stderr, p.stderr)
        eq(p.stdout, "", "stdout")

    @check("args: bad prices, unknown flags and too small funding are refused")
    def _():
        for argv, frag in ((["--providers", "a:x:2"], "not a number"), (["--providers", "a:1:2:z"], "unknown flag"),
                           (["--fund-ledger", "2"], "at least 3"), (["--fund-providers", "0.5"], "at least 1"),
                           (["--fund-ledger", "3"], "exceeds --fund-ledger"), (["--lock-time", "60"], "3600")):
            p = subprocess.run([PY, SANDBOX] + argv, cwd=ROOT, capture_output=True, text=True, timeout=30)
            eq(p.returncode, 2, f"exit code for {argv}")
            ok(frag in p.stderr, f"{argv}: {p.stderr!r}")


def main() -> int:
    t0 = time.monotonic()
    for scenario in (scenario_bad_args, scenario_defaults, scenario_extra, scenario_rpc, scenario_parent_dies):
        try:
            scenario()
        except Exception as e:  # noqa: BLE001
            fail(scenario.__name__, e)
    for t in TIMINGS:
        print("timing " + t)
    passed, failed = counts()
    print(f"total {time.monotonic() - t0:.2f}s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
