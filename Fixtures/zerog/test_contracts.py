#!/usr/bin/env python3
"""Checks of the Vyper 0G contracts (LedgerManager, InferenceServing, TestStore)
against a devchain. Plain Python: prints one line per check, then
"N passed, M failed", and exits non-zero on any failure.

    .venv/bin/python Fixtures/zerog/test_contracts.py            # starts Fixtures/devchain/devchain.py
    .venv/bin/python Fixtures/zerog/test_contracts.py --rpc URL --key 0x..   # an existing node;
                                                             # --key: a funded account (repeatable)
    ... -k settle        # only checks whose name contains "settle"
"""

import argparse
import json
import os
import select
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from eth_account import Account  # noqa: E402
from eth_account.messages import encode_typed_data  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402

from chain import Chain, RevertError, address_of  # noqa: E402
import world  # noqa: E402
from world import Contract, contracts, deploy, load_artifact, register_service  # noqa: E402

ONE = 10**18
ZERO_ADDR = "0x0000000000000000000000000000000000000000"
LOCK_TIME = 86400
REAL_ABI_DIR = Path(os.environ.get("ZG_REAL_ABI_DIR", "/work/shared/0g/abi"))
SERVICE_COUNT = 60

# ---------------------------------------------------------------------- tiny framework

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


class CheckFailed(AssertionError):
    pass


def ok(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def expect_revert(contract, fn_call, error, args=None):
    """Run fn_call(); it must revert with custom error `error` (and `args`, a dict, if given)."""
    try:
        fn_call()
    except RevertError as e:
        decoded = contract.decode_error(e.data)
        if decoded is None:
            raise CheckFailed(f"expected {error}, got undecodable revert data 0x{e.data.hex()}")
        name, got = decoded
        eq(name, error, "revert error")
        if args is not None:
            for k, v in args.items():
                eq(got.get(k), v, f"{error}.{k}")
        return got
    raise CheckFailed(f"expected revert {error}, but the call succeeded")


# ---------------------------------------------------------------------- environment

class Env:
    chain = None
    funders = []
    dep = None
    ledger = None
    inference = None
    owner_key = None
    service_name = None
    _funder_i = 0


ENV = Env()


def start_devchain():
    script = ROOT / "Fixtures" / "devchain" / "devchain.py"
    if not script.exists():
        raise SystemExit(f"{script} does not exist; pass --rpc URL --key 0x.. to use another node")
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0", "--exit-with-parent"],
                            stdout=subprocess.PIPE, stderr=None, text=True, cwd=str(ROOT))
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.5)
        if r:
            line = proc.stdout.readline()
            if line.startswith("DEVCHAIN READY "):
                break
            if not line:
                break
        if proc.poll() is not None:
            break
    if not line.startswith("DEVCHAIN READY "):
        proc.kill()
        raise SystemExit(f"devchain did not start (last line: {line!r})")
    info = json.loads(line[len("DEVCHAIN READY "):])
    return proc, info


def fresh_key(fund=50 * ONE):
    """A new random account, funded from one of the node's accounts."""
    acct = Account.create()
    if fund:
        funder = ENV.funders[ENV._funder_i % len(ENV.funders)]
        ENV._funder_i += 1
        ENV.chain.send(funder, acct.address, b"", value=fund, gas=21000)
    return "0x" + acct.key.hex().removeprefix("0x")


def gas_cost(receipt):
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


def ledger_of(user):
    return ENV.ledger.call("getLedger", user)


def account_of(user, provider):
    return ENV.inference.call("getAccount", user, provider)


def new_service(acknowledge=True, model="test-model", tee_key=None):
    """A fresh provider with a registered (and by default acknowledged) service."""
    pkey = fresh_key(fund=120 * ONE)
    tee = Account.create() if tee_key is None else Account.from_key(tee_key)
    register_service(ENV.chain, ENV.dep, pkey, "http://127.0.0.1:1/p", model, 10**9, 2 * 10**9, tee.address,
                     acknowledge=acknowledge, owner_key=ENV.owner_key)
    return pkey, address_of(pkey), tee


def funded_user(deposit=10 * ONE, transfers=()):
    ukey = fresh_key(fund=deposit + 5 * ONE)
    ENV.ledger.transact(ukey, "depositFund", value=deposit)
    for provider, amount in transfers:
        ENV.ledger.transact(ukey, "transferFund", provider, ENV.service_name, amount)
    return ukey, address_of(ukey)


def sign_settlement(tee_key, user, provider, total_fee, nonce, requests_hash=None):
    requests_hash = requests_hash if requests_hash is not None else keccak(text=f"{user}{nonce}")
    msg = encode_typed_data(full_message={
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "TEESettlement": [
                {"name": "requestsHash", "type": "bytes32"},
                {"name": "nonce", "type": "uint256"},
                {"name": "provider", "type": "address"},
                {"name": "user", "type": "address"},
                {"name": "totalFee", "type": "uint256"},
            ],
        },
        "primaryType": "TEESettlement",
        "domain": {"name": "0G Inference Serving", "version": "1", "chainId": ENV.chain.chain_id,
                   "verifyingContract": ENV.inference.address},
        "message": {"requestsHash": requests_hash, "nonce": nonce, "provider": provider, "user": user,
                    "totalFee": total_fee},
    })
    sig = Account.sign_message(msg, tee_key).signature
    return {"user": user, "provider": provider, "totalFee": total_fee, "requestsHash": requests_hash,
            "nonce": nonce, "signature": bytes(sig)}


# ---------------------------------------------------------------------- ABI checks

def _norm_params(ps):
    out = []
    for p in ps:
        d = (p.get("name", ""), p["type"], bool(p.get("indexed", False)))
        if "components" in p:
            d += (_norm_params(p["components"]),)
        out.append(d)
    return tuple(out)


def _norm(item):
    t = item["type"]
    return (
        t,
        item.get("name", ""),
        _norm_params(item.get("inputs", [])),
        _norm_params(item.get("outputs", [])) if t == "function" else None,
        item.get("stateMutability") if t in ("function", "receive", "fallback", "constructor") else None,
        bool(item.get("anonymous", False)),
    )


def abi_differences(name):
    real = json.loads((REAL_ABI_DIR / f"{name}.json").read_text())
    if isinstance(real, dict):
        real = real["abi"]
    mine = {(i["type"], i.get("name", "")): _norm(i) for i in load_artifact(name)["abi"]}
    problems = []
    for item in real:
        key = (item["type"], item.get("name", ""))
        if key not in mine:
            problems.append(f"missing {key[0]} {key[1]}")
        elif mine[key] != _norm(item):
            problems.append(f"different {key[0]} {key[1]}: real {_norm(item)} vs ours {mine[key]}")
    return problems


@check
def abi_ledger_manager_matches_deployed():
    eq(abi_differences("LedgerManager"), [], "LedgerManager ABI differences")


@check
def abi_inference_serving_matches_deployed():
    eq(abi_differences("InferenceServing"), [], "InferenceServing ABI differences")


@check
def abi_selectors_and_topics_from_protocol():
    ids = {}
    for n in ("LedgerManager", "InferenceServing"):
        ids.update({k: v[2:] for k, v in load_artifact(n)["methodIdentifiers"].items()})
    expected = {
        "addLedger(string)": "c5e53f7e", "depositFund()": "8d0d8cb6", "depositFundFor(address)": "f585f3ea",
        "refund(uint256)": "278ecde1", "transferFund(address,string,uint256)": "2ba43b82",
        "retrieveFund(address[],string)": "31404a19", "deleteLedger()": "410b3815",
        "getLedger(address)": "f7cd6af9", "getAllLedgers(uint256,uint256)": "987086f0",
        "getLedgerProviders(address,string)": "aef42173", "getServiceInfo(address)": "e032f732",
        "getServiceAddressByName(string)": "b8d5e581", "getAllActiveServices()": "9ade3972",
        "MIN_ACCOUNT_BALANCE()": "ac30b622", "MIN_TRANSFER_AMOUNT()": "3c3dbbc7",
        "getAllServices(uint256,uint256)": "a09cfca9", "getService(address)": "15a52302",
        "getAccount(address,address)": "fd590847", "accountExists(address,address)": "147500e3",
        "getAccountsByUser(address,uint256,uint256)": "4fe63f4d",
        "getPendingRefund(address,address)": "264173d6", "lockTime()": "0d668087",
        "acknowledgeTEESigner(address,bool)": "7ff6fc1c", "revokeToken(address,uint8)": "1d07cb97",
        "revokeTokens(address,uint8[])": "17c30a03", "revokeAllTokens(address)": "cab33d8f",
        "isTokenRevoked(address,address,uint8)": "405a85e8",
        "addAccount(address,address,string)": "e50688f9", "depositFund(address,address,uint256)": "745e87f7",
        "acknowledgeTEESignerByOwner(address)": "b2394d09", "revokeTEESignerAcknowledgement(address)": "ddf96abd",
        "settleFeesWithTEE((address,address,uint256,bytes32,uint256,bytes)[])": "8be74119",
        "LedgerNotExists(address)": "7d2d536b", "InsufficientAvailableBalance(uint256,uint256)": "adb9e043",
        "MinimumDepositRequired(uint256,uint256)": "54443ec4", "LedgerExists(address)": "cde58aa1",
        "ZeroAmountNotAllowed()": "0f43956a", "AccountNotExists(address,address)": "08ca03ac",
        "ServiceNotExist(address)": "098eda7e", "CannotRevokeWithNonZeroBalance(address,address,uint256)": "faa23877",
        "DirectDepositsDisabled()": "0f3342be", "TooManyProvidersForService(uint256,uint256)": "e9499337",
    }
    bad = {k: (ids.get(k), v) for k, v in expected.items() if ids.get(k) != v}
    eq(bad, {}, "selectors (ours, PROTOCOL.md)")
    topics = {
        "BalanceUpdated(address,address,uint256,uint256)": "526824944047da5b81071fb6349412005c5da81380b336103fbe5dd34556c776",
        "RefundRequested(address,address,uint256,uint256)": "54377dfdebf06f6df53fbda737d2dcd7e141f95bbfb0c1223437e856b9de3ac3",
        "TEESettlementResult(address,uint8,uint256)": "1f69e5b87fd0ce34b3760ba6e5d8aa95a36e316c3ba44e1e65a9d0eb9e96d0bf",
        "FundSpent(address,address,uint256)": "6f81b9cf4ed9328799879be7651da4420ab1bc260b34ea71f72e9659aa548e68",
    }
    events = set()
    for n in ("LedgerManager", "InferenceServing"):
        for i in load_artifact(n)["abi"]:
            if i["type"] == "event":
                events.add(keccak(text=world.signature(i)).hex())
    eq({t for t in topics.values() if t not in events}, set(), "event topics missing")


@check
def abi_test_store():
    art = load_artifact("TestStore")
    ids = art["methodIdentifiers"]
    for sig in ("set(uint256,string)", "get()", "deposit()", "TooLarge(uint256,uint256)"):
        ok(sig in ids, f"TestStore lacks {sig}")
    ev = [i for i in art["abi"] if i["type"] == "event" and i["name"] == "Stored"][0]
    eq(_norm_params(ev["inputs"]), (("who", "address", True), ("value", "uint256", False), ("note", "string", False)),
       "Stored event")


# ---------------------------------------------------------------------- deployment

@check
def deploy_wires_ledger_and_inference():
    eq(ENV.service_name, "inference-v1.0", "serviceName")
    info = ENV.ledger.call("getServiceInfo", ENV.inference.address)
    eq(info["fullName"], "inference-v1.0", "fullName")
    eq(info["serviceAddress"], ENV.inference.address, "serviceAddress")
    eq(info["serviceContract"], ENV.inference.address, "serviceContract")
    eq(info["serviceType"], "inference", "serviceType")
    eq(info["version"], "v1.0", "version")
    eq(ENV.ledger.call("getServiceAddressByName", "inference-v1.0"), ENV.inference.address, "by name")
    active = ENV.ledger.call("getAllActiveServices")
    eq([s["fullName"] for s in active], ["inference-v1.0"], "active services")
    eq(ENV.inference.call("lockTime"), LOCK_TIME, "lockTime")
    eq(ENV.inference.call("ledgerAddress"), ENV.ledger.address, "ledgerAddress")
    eq(ENV.inference.call("owner"), ENV.dep["owner"], "inference owner")
    eq(ENV.ledger.call("owner"), ENV.dep["owner"], "ledger owner")
    eq(ENV.ledger.call("initialized"), True, "initialized")
    eq(ENV.inference.call("supportsInterface", bytes.fromhex("01ffc9a7")), True, "ERC165")


@check
def constants_have_real_values():
    L, I = ENV.ledger, ENV.inference
    eq(L.call("MIN_ACCOUNT_BALANCE"), 3 * ONE, "MIN_ACCOUNT_BALANCE")
    eq(L.call("MIN_TRANSFER_AMOUNT"), ONE, "MIN_TRANSFER_AMOUNT")
    eq(L.call("MAX_PROVIDERS_PER_BATCH"), 20, "MAX_PROVIDERS_PER_BATCH")
    eq(L.call("MAX_PROVIDERS_PER_USER_PER_SERVICE"), 50, "MAX_PROVIDERS_PER_USER_PER_SERVICE")
    eq(L.call("MAX_ADDITIONAL_INFO_LENGTH"), 4096, "MAX_ADDITIONAL_INFO_LENGTH")
    eq(L.call("MAX_SERVICES"), 500, "MAX_SERVICES")
    eq(I.call("MIN_PROVIDER_STAKE"), 100 * ONE, "MIN_PROVIDER_STAKE")
    eq(I.call("MIN_LOCKTIME"), 3600, "MIN_LOCKTIME")
    eq(I.call("MAX_LOCKTIME"), 7 * 86400, "MAX_LOCKTIME")


@check
def initialize_once_and_lock_time_range():
    I, L = ENV.inference, ENV.ledger
    expect_revert(I, lambda: I.transact(ENV.owner_key, "initialize", LOCK_TIME, L.address, ENV.dep["owner"]),
                  "AlreadyInitialized")
    expect_revert(L, lambda: L.transact(ENV.owner_key, "initialize", ENV.dep["owner"]), "AlreadyInitialized")
    expect_revert(I, lambda: I.transact(ENV.owner_key, "updateLockTime", 60), "LockTimeOutOfRange",
                  {"lockTime": 60, "min": 3600, "max": 604800})
    # a fresh deployment with an out-of-range lock time fails
    try:
        deploy(ENV.chain, ENV.owner_key, lock_time=10)
        raise CheckFailed("deploy with lock_time=10 succeeded")
    except RevertError as e:
        eq(ENV.inference.decode_error(e.data)[0], "LockTimeOutOfRange", "error")


# ---------------------------------------------------------------------- minimums & errors

@check
def ledger_minimums_and_errors():
    L = ENV.ledger
    ukey = fresh_key(fund=30 * ONE)
    user = address_of(ukey)
    expect_revert(L, lambda: L.call("getLedger", user), "LedgerNotExists", {"user": user})
    expect_revert(L, lambda: L.transact(ukey, "addLedger", "", value=3 * ONE - 1), "MinimumDepositRequired",
                  {"provided": 3 * ONE - 1, "required": 3 * ONE})
    expect_revert(L, lambda: L.transact(ukey, "depositFund", value=0), "ZeroAmountNotAllowed")
    expect_revert(L, lambda: L.transact(ukey, "depositFund", value=ONE), "MinimumDepositRequired",
                  {"provided": ONE, "required": 3 * ONE})
    expect_revert(L, lambda: L.transact(ukey, "addLedger", "x" * 4097, value=3 * ONE), "AdditionalInfoTooLong",
                  {"length": 4097, "max": 4096})
    r = L.transact(ukey, "addLedger", "hello", value=3 * ONE)
    eq(int(r["status"], 16), 1, "addLedger status")
    led = ledger_of(user)
    eq((led["user"], led["availableBalance"], led["totalBalance"], led["additionalInfo"]),
       (user, 3 * ONE, 3 * ONE, "hello"), "ledger")
    expect_revert(L, lambda: L.transact(ukey, "addLedger", "", value=3 * ONE), "LedgerExists", {"user": user})
    # deposits of any size once the ledger exists
    L.transact(ukey, "depositFund", value=1)
    eq(ledger_of(user)["availableBalance"], 3 * ONE + 1, "after 1 neuron deposit")
    # refund must leave 0 or >= 3 0G
    expect_revert(L, lambda: L.transact(ukey, "refund", 2 * ONE), "MinimumDepositRequired",
                  {"provided": ONE + 1, "required": 3 * ONE})
    expect_revert(L, lambda: L.transact(ukey, "refund", 4 * ONE), "InsufficientBalance", {"user": user})
    # transfers
    pkey, provider, _ = new_service()
    expect_revert(L, lambda: L.transact(ukey, "transferFund", provider, ENV.service_name, ONE // 2),
                  "MinimumDepositRequired", {"provided": ONE // 2, "required": ONE})
    expect_revert(L, lambda: L.transact(ukey, "transferFund", provider, "inference-v9", ONE), "ServiceNotFound",
                  {"serviceAddress": ZERO_ADDR})
    expect_revert(L, lambda: L.transact(ukey, "transferFund", provider, ENV.service_name, 5 * ONE),
                  "InsufficientAvailableBalance", {"available": 3 * ONE + 1, "required": 5 * ONE})
    expect_revert(L, lambda: L.transact(ukey, "retrieveFund", [provider] * 21, ENV.service_name),
                  "TooManyProviders", {"requested": 21, "maximum": 20})
    # a user cannot be its own provider: the serving contract refuses, the ledger reports CallFailed
    expect_revert(L, lambda: L.transact(ukey, "transferFund", user, ENV.service_name, ONE), "CallFailed")
    # only serving contracts may spend
    expect_revert(L, lambda: L.transact(ukey, "spendFund", user, 1), "CallerNotRegisteredService",
                  {"caller": user})
    # plain value transfers are refused
    expect_revert(L, lambda: ENV.chain.send(ukey, L.address, b"", value=ONE), "DirectDepositsDisabled")
    expect_revert(L, lambda: ENV.chain.send(ukey, ENV.inference.address, b"", value=ONE), "DirectDepositsDisabled")
    # deleteLedger needs a zero total
    expect_revert(L, lambda: L.transact(ukey, "deleteLedger"), "MustWithdrawAllFundsFirst",
                  {"remainingBalance": 3 * ONE + 1})
    # refund everything deletes the ledger and pays the wallet
    before = ENV.chain.balance(user)
    r = L.transact(ukey, "refund", 3 * ONE + 1)
    eq(ENV.chain.balance(user), before + 3 * ONE + 1 - gas_cost(r), "wallet after full refund")
    expect_revert(L, lambda: L.call("getLedger", user), "LedgerNotExists", {"user": user})
    # owner-only registry
    expect_revert(L, lambda: L.transact(ukey, "registerService", "x", "v1", user, ""), "Error",
                  {"reason": "Ownable: caller is not the owner"})


@check
def serving_errors():
    I = ENV.inference
    ukey = fresh_key(fund=5 * ONE)
    user = address_of(ukey)
    pkey, provider, tee = new_service()
    expect_revert(I, lambda: I.call("getAccount", user, provider), "AccountNotExists",
                  {"user": user, "provider": provider})
    expect_revert(I, lambda: I.call("getPendingRefund", user, provider), "AccountNotExists")
    eq(I.call("accountExists", user, provider), False, "accountExists")
    expect_revert(I, lambda: I.call("getService", user), "ServiceNotExist", {"provider": user})
    eq(I.call("serviceExists", user), False, "serviceExists")
    expect_revert(I, lambda: I.call("getAllServices", 0, 51), "LimitTooLarge", {"limit": 51, "max": 50})
    expect_revert(I, lambda: I.call("getAccountsByUser", user, 0, 51), "LimitTooLarge", {"limit": 51, "max": 50})
    expect_revert(I, lambda: I.transact(ukey, "acknowledgeTEESigner", provider, True), "AccountNotExists")
    expect_revert(I, lambda: I.transact(ukey, "revokeToken", provider, 1), "AccountNotExists")
    expect_revert(I, lambda: I.transact(ukey, "addAccount", user, provider, "", value=ONE), "CallerNotLedger",
                  {"caller": user})
    expect_revert(I, lambda: I.transact(ukey, "requestRefundAll", user, provider), "CallerNotLedger")
    expect_revert(I, lambda: I.transact(ukey, "acknowledgeTEESignerByOwner", provider), "Error",
                  {"reason": "Ownable: caller is not the owner"})
    expect_revert(I, lambda: I.transact(pkey, "settleFeesWithTEE", []), "NoSettlementsProvided")
    s = sign_settlement(tee.key, user, provider, 1, 1)
    expect_revert(I, lambda: I.transact(pkey, "settleFeesWithTEE", [s] * 51), "TooManySettlements",
                  {"count": 51, "max": 50})


@check
def provider_stake_and_acknowledgement_reset():
    I = ENV.inference
    pkey = fresh_key(fund=250 * ONE)
    provider = address_of(pkey)
    tee = Account.create()
    params = {"serviceType": "chatbot", "url": "http://a", "model": "m1", "verifiability": "TeeML",
              "inputPrice": 1, "outputPrice": 2, "additionalInfo": "{}", "teeSignerAddress": tee.address}
    expect_revert(I, lambda: I.transact(pkey, "addOrUpdateService", params, value=99 * ONE), "InsufficientStake",
                  {"provided": 99 * ONE, "required": 100 * ONE})
    expect_revert(I, lambda: I.transact(pkey, "addOrUpdateService", dict(params, additionalInfo="x" * 4097),
                                        value=100 * ONE), "AdditionalInfoTooLong")
    before = ENV.chain.balance(provider)
    r = I.transact(pkey, "addOrUpdateService", params, value=100 * ONE)
    eq(ENV.chain.balance(provider), before - 100 * ONE - gas_cost(r), "stake paid")
    eq([e["event"] for e in I.decode_logs(r)], ["ProviderStaked", "ServiceUpdated"], "events")
    svc = I.call("getService", provider)
    eq((svc["provider"], svc["model"], svc["teeSignerAddress"], svc["teeSignerAcknowledged"]),
       (provider, "m1", tee.address, False), "new service")
    expect_revert(I, lambda: I.transact(pkey, "addOrUpdateService", params, value=1), "CannotAddStakeWhenUpdating")
    r = I.transact(ENV.owner_key, "acknowledgeTEESignerByOwner", provider)
    eq(I.decode_logs(r), [{"event": "ProviderTEESignerAcknowledged", "provider": provider,
                           "teeSignerAddress": tee.address, "acknowledged": True}], "ack event")
    eq(I.call("getService", provider)["teeSignerAcknowledged"], True, "acknowledged")
    # price / URL change keeps the acknowledgement
    I.transact(pkey, "addOrUpdateService", dict(params, url="http://b", inputPrice=5, outputPrice=6))
    svc = I.call("getService", provider)
    eq((svc["url"], svc["inputPrice"], svc["outputPrice"], svc["teeSignerAcknowledged"]),
       ("http://b", 5, 6, True), "after price change")
    # each critical field resets it
    for field, value in (("model", "m2"), ("serviceType", "text-to-image"), ("verifiability", "OpML"),
                         ("additionalInfo", '{"a":1}'), ("teeSignerAddress", Account.create().address)):
        I.transact(ENV.owner_key, "acknowledgeTEESignerByOwner", provider)
        params = dict(params, url="http://b", inputPrice=5, outputPrice=6, **{field: value})
        I.transact(pkey, "addOrUpdateService", params)
        eq(I.call("getService", provider)["teeSignerAcknowledged"], False, f"ack after {field} change")
    I.transact(ENV.owner_key, "acknowledgeTEESignerByOwner", provider)
    I.transact(ENV.owner_key, "revokeTEESignerAcknowledgement", provider)
    eq(I.call("getService", provider)["teeSignerAcknowledged"], False, "revoked by owner")
    expect_revert(I, lambda: I.transact(ENV.owner_key, "acknowledgeTEESignerByOwner", ENV.dep["owner"]),
                  "ServiceNotExist")
    # removal returns the stake
    before = ENV.chain.balance(provider)
    r = I.transact(pkey, "removeService")
    eq(ENV.chain.balance(provider), before + 100 * ONE - gas_cost(r), "stake returned")
    eq([e["event"] for e in I.decode_logs(r)], ["ProviderStakeReturned", "ServiceRemoved"], "remove events")
    eq(I.call("serviceExists", provider), False, "removed")
    expect_revert(I, lambda: I.transact(pkey, "removeService"), "ServiceNotExist", {"provider": provider})


# ---------------------------------------------------------------------- sub-accounts & refunds

@check
def transfer_creates_acknowledged_sub_account():
    L, I = ENV.ledger, ENV.inference
    _, provider, _ = new_service()
    ukey, user = funded_user(10 * ONE)
    r = L.transact(ukey, "transferFund", provider, ENV.service_name, 2 * ONE)
    ev = I.decode_logs(r, "BalanceUpdated")
    eq(ev, [{"event": "BalanceUpdated", "user": user, "provider": provider, "amount": 2 * ONE,
             "pendingRefund": 0}], "BalanceUpdated")
    acc = account_of(user, provider)
    eq((acc["user"], acc["provider"], acc["balance"], acc["pendingRefund"], acc["acknowledged"], acc["nonce"],
        acc["refunds"], acc["validRefundsLength"], acc["generation"], acc["revokedBitmap"]),
       (user, provider, 2 * ONE, 0, True, 0, [], 0, 0, 0), "new account")
    led = ledger_of(user)
    eq((led["availableBalance"], led["totalBalance"]), (8 * ONE, 10 * ONE), "ledger after transfer")
    eq(L.call("getLedgerProviders", user, ENV.service_name), [provider], "getLedgerProviders")
    accs, total = I.call("getAccountsByUser", user, 0, 0)
    eq((total, [a["provider"] for a in accs]), (1, [provider]), "getAccountsByUser")
    accs, total = I.call("getAccountsByProvider", provider, 0, 50)
    eq((total, [a["user"] for a in accs]), (1, [user]), "getAccountsByProvider")
    batch = I.call("getBatchAccountsByUsers", [user, ZERO_ADDR], sender=provider)
    eq((batch[0]["user"], batch[0]["balance"], batch[1]["user"], batch[1]["balance"]),
       (user, 2 * ONE, ZERO_ADDR, 0), "getBatchAccountsByUsers (missing -> empty)")
    expect_revert(I, lambda: I.call("getBatchAccountsByUsers", [user] * 33, sender=provider), "BatchSizeTooLarge",
                  {"size": 33, "max": 32})
    # the user may revoke the acknowledgement only with a zero balance
    expect_revert(I, lambda: I.transact(ukey, "acknowledgeTEESigner", provider, False),
                  "CannotRevokeWithNonZeroBalance", {"user": user, "provider": provider, "balance": 2 * ONE})
    I.transact(ukey, "acknowledgeTEESigner", provider, True)
    # an existing sub-account takes any amount, no minimum
    L.transact(ukey, "transferFund", provider, ENV.service_name, 1)
    eq(account_of(user, provider)["balance"], 2 * ONE + 1, "small top-up")


@check
def refund_and_retrieve_two_phase_flow():
    L, I = ENV.ledger, ENV.inference
    _, p1, _ = new_service()
    _, p2, _ = new_service()
    ukey, user = funded_user(10 * ONE, [(p1, 3 * ONE), (p2, ONE)])
    eq(ledger_of(user)["availableBalance"], 6 * ONE, "available after transfers")
    r = L.transact(ukey, "retrieveFund", [p1, p2], ENV.service_name)
    reqs = I.decode_logs(r, "RefundRequested")
    eq([(e["provider"], e["index"]) for e in reqs], [(p1, 0), (p2, 0)], "RefundRequested events")
    block_ts = int(ENV.chain.get_block(int(r["blockNumber"], 16))["timestamp"], 16)
    acc = account_of(user, p1)
    eq((acc["balance"], acc["pendingRefund"], acc["validRefundsLength"]), (3 * ONE, 3 * ONE, 1), "p1 pending")
    eq(acc["refunds"], [{"index": 0, "amount": 3 * ONE, "createdAt": block_ts, "processed": False}], "refunds")
    eq(I.call("getPendingRefund", user, p2), ONE, "p2 pending")
    led = ledger_of(user)
    eq((led["availableBalance"], led["totalBalance"]), (6 * ONE, 10 * ONE), "ledger unchanged in phase 1")
    # calling again before lockTime adds nothing
    L.transact(ukey, "retrieveFund", [p1, p2], ENV.service_name)
    eq(account_of(user, p1)["validRefundsLength"], 1, "no second refund")
    eq(ledger_of(user)["availableBalance"], 6 * ONE, "still locked")
    # after lockTime the refunds come back
    ENV.chain.increase_time(LOCK_TIME + 1)
    r = L.transact(ukey, "retrieveFund", [p1, p2], ENV.service_name)
    led = ledger_of(user)
    eq((led["availableBalance"], led["totalBalance"]), (10 * ONE, 10 * ONE), "ledger after phase 2")
    acc = account_of(user, p1)
    eq((acc["balance"], acc["pendingRefund"], acc["validRefundsLength"]), (0, 0, 0), "p1 emptied")
    bal = [e for e in I.decode_logs(r, "BalanceUpdated")]
    eq([(e["provider"], e["amount"], e["pendingRefund"]) for e in bal], [(p1, 0, 0), (p2, 0, 0)],
       "BalanceUpdated on processRefund")
    I.transact(ukey, "revokeAllTokens", p1)                              # generation 1
    # the wallet gets everything back; the ledger and its sub-accounts are deleted
    before = ENV.chain.balance(user)
    r = L.transact(ukey, "refund", 10 * ONE)
    eq(ENV.chain.balance(user), before + 10 * ONE - gas_cost(r), "wallet")
    expect_revert(L, lambda: L.call("getLedger", user), "LedgerNotExists")
    eq(I.call("accountExists", user, p1), False, "sub-account deleted with the ledger")
    eq([e["event"] for e in I.decode_logs(r)], ["AccountDeleted", "AccountDeleted"], "AccountDeleted events")
    eq(L.call("getLedgerProviders", user, ENV.service_name), [], "no providers left")
    # a re-created sub-account keeps its generation (and nonce): old tokens stay revoked
    L.transact(ukey, "depositFund", value=3 * ONE)
    L.transact(ukey, "transferFund", p1, ENV.service_name, ONE)
    acc = account_of(user, p1)
    eq((acc["balance"], acc["generation"], acc["refunds"], acc["acknowledged"]), (ONE, 1, [], True),
       "re-created account")


@check
def retrieve_rerequests_what_is_left_after_partial_maturity():
    L, I = ENV.ledger, ENV.inference
    _, p, _ = new_service()
    ukey, user = funded_user(10 * ONE, [(p, 4 * ONE)])
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)              # refund #0: 4
    L.transact(ukey, "transferFund", p, ENV.service_name, ONE)           # cancels 1 of it
    acc = account_of(user, p)
    eq((acc["balance"], acc["pendingRefund"], acc["refunds"][0]["amount"]), (4 * ONE, 3 * ONE, 3 * ONE),
       "partially cancelled")
    eq(ledger_of(user)["availableBalance"], 6 * ONE, "cancel takes nothing from the ledger")
    ENV.chain.increase_time(LOCK_TIME + 1)
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)              # 3 back, 1 re-requested
    acc = account_of(user, p)
    eq((acc["balance"], acc["pendingRefund"], acc["validRefundsLength"], acc["refunds"][0]["amount"]),
       (ONE, ONE, 1, ONE), "re-requested the rest")
    eq(ledger_of(user)["availableBalance"], 9 * ONE, "matured part returned")


@check
def transfer_cancels_pending_refunds_newest_first():
    L, I = ENV.ledger, ENV.inference
    _, p, _ = new_service()
    ukey, user = funded_user(20 * ONE, [(p, 4 * ONE)])
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)               # R0 = 4
    L.transact(ukey, "transferFund", p, ENV.service_name, ONE)            # R0 = 3
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)               # R1 = 1
    acc = account_of(user, p)
    eq([r["amount"] for r in acc["refunds"]], [3 * ONE, ONE], "two refunds")
    L.transact(ukey, "transferFund", p, ENV.service_name, ONE // 2)       # newest first: R1 = 0.5
    acc = account_of(user, p)
    eq([r["amount"] for r in acc["refunds"][:acc["validRefundsLength"]]], [3 * ONE, ONE // 2], "newest first")
    eq(acc["pendingRefund"], 3 * ONE + ONE // 2, "pendingRefund")
    avail = ledger_of(user)["availableBalance"]
    L.transact(ukey, "transferFund", p, ENV.service_name, 5 * ONE)        # cancels 3.5, takes 1.5
    acc = account_of(user, p)
    eq((acc["balance"], acc["pendingRefund"], acc["validRefundsLength"]), (4 * ONE + 3 * ONE // 2, 0, 0),
       "all refunds cancelled")
    eq(ledger_of(user)["availableBalance"], avail - 3 * ONE // 2, "only the remainder left the ledger")


@check
def too_many_refunds():
    L, I = ENV.ledger, ENV.inference
    _, p, _ = new_service()
    ukey, user = funded_user(10 * ONE, [(p, 2 * ONE)])
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)
    amount = ONE // 10
    for _ in range(4):       # each small transfer partly cancels the newest refund, retrieve adds one
        L.transact(ukey, "transferFund", p, ENV.service_name, amount)
        L.transact(ukey, "retrieveFund", [p], ENV.service_name)
        amount //= 2
    acc = account_of(user, p)
    eq(acc["validRefundsLength"], 5, "five live refunds")
    eq(acc["pendingRefund"], sum(r["amount"] for r in acc["refunds"][:5]), "pendingRefund = sum")
    eq([r["index"] for r in acc["refunds"]], [0, 1, 2, 3, 4], "indexes")
    L.transact(ukey, "transferFund", p, ENV.service_name, amount)
    # raised by InferenceServing.requestRefundAll and bubbled up through the ledger
    expect_revert(I, lambda: L.transact(ukey, "retrieveFund", [p], ENV.service_name), "TooManyRefunds",
                  {"user": user, "provider": p})


# ---------------------------------------------------------------------- services paging

@check
def get_all_services_pages_like_the_real_contract():
    I = ENV.inference
    _, start_total = I.call("getAllServices", 0, 1)
    need = max(0, SERVICE_COUNT - start_total)
    funder = ENV.funders[0]
    keys = [Account.create() for _ in range(need)]
    for a in keys:
        ENV.chain.send(funder, a.address, b"", value=101 * ONE, gas=21000)
    for i, a in enumerate(keys):
        params = {"serviceType": "chatbot", "url": f"http://127.0.0.1:{10000 + i}", "model": f"model-{i}",
                  "verifiability": "TeeML", "inputPrice": i, "outputPrice": 2 * i, "additionalInfo": "{}",
                  "teeSignerAddress": a.address}
        I.transact(a.key, "addOrUpdateService", params, value=100 * ONE, gas=1_500_000)
    page1, total = I.call("getAllServices", 0, 0)
    ok(total >= SERVICE_COUNT, f"total {total} < {SERVICE_COUNT}")
    eq(len(page1), 50, "limit 0 means 50")
    page2, total2 = I.call("getAllServices", 50, 50)
    eq(total2, total, "total stable")
    eq(len(page2), total - 50, "second page")
    page3, _ = I.call("getAllServices", total, 10)
    eq(page3, [], "past the end")
    small, _ = I.call("getAllServices", 3, 2)
    eq([s["provider"] for s in small], [s["provider"] for s in page1[3:5]], "offset/limit")
    providers = [s["provider"] for s in page1 + page2]
    eq(len(set(providers)), total, "no duplicates across pages")
    if need:
        eq(providers[-need:], [a.address for a in keys], "registration order")
        eq(page2[-1]["model"], f"model-{need - 1}", "fields decoded")
    expect_revert(I, lambda: I.call("getAllServices", 0, 51), "LimitTooLarge", {"limit": 51, "max": 50})


@check
def fifty_providers_per_user_per_service():
    # needs >= 51 services: runs after the paging check registered 60
    L, I = ENV.ledger, ENV.inference
    services, total = I.call("getAllServices", 0, 50)
    more, _ = I.call("getAllServices", 50, 50)
    providers = [s["provider"] for s in services + more][:51]
    ok(len(providers) == 51, f"need 51 services, have {total}")
    ukey, user = funded_user(60 * ONE)
    for p in providers[:50]:
        L.transact(ukey, "transferFund", p, ENV.service_name, ONE, gas=600_000)
    eq(len(L.call("getLedgerProviders", user, ENV.service_name)), 50, "50 providers")
    expect_revert(L, lambda: L.transact(ukey, "transferFund", providers[50], ENV.service_name, ONE),
                  "TooManyProvidersForService", {"current": 50, "maximum": 50})
    accs, n = I.call("getAccountsByUser", user, 0, 0)
    eq((n, len(accs)), (50, 50), "getAccountsByUser first page")
    accs, n = I.call("getAccountsByUser", user, 48, 10)
    eq([a["provider"] for a in accs], providers[48:50], "getAccountsByUser offset")
    expect_revert(L, lambda: L.transact(ukey, "retrieveFund", providers[:21], ENV.service_name),
                  "TooManyProviders", {"requested": 21, "maximum": 20})
    L.transact(ukey, "retrieveFund", providers[:20], ENV.service_name)
    eq(I.call("getPendingRefund", user, providers[19]), ONE, "20 refunds requested in one call")


# ---------------------------------------------------------------------- tokens

@check
def token_revocation_bitmap_and_generation():
    I = ENV.inference
    _, p, _ = new_service()
    ukey, user = funded_user(5 * ONE, [(p, ONE)])
    r = I.transact(ukey, "revokeToken", p, 3)
    eq(I.decode_logs(r), [{"event": "TokenRevoked", "user": user, "provider": p, "tokenId": 3}], "event")
    eq(I.call("isTokenRevoked", user, p, 3), True, "3 revoked")
    eq(I.call("isTokenRevoked", user, p, 4), False, "4 not revoked")
    r = I.transact(ukey, "revokeTokens", p, [0, 200, 255])
    eq(I.decode_logs(r), [{"event": "TokensRevoked", "user": user, "provider": p, "tokenIds": [0, 200, 255]}],
       "TokensRevoked")
    acc = account_of(user, p)
    eq(acc["revokedBitmap"], (1 << 3) | 1 | (1 << 200) | (1 << 255), "bitmap")
    eq(acc["generation"], 0, "generation")
    r = I.transact(ukey, "revokeAllTokens", p)
    eq(I.decode_logs(r), [{"event": "AllTokensRevoked", "user": user, "provider": p, "newGeneration": 1}],
       "AllTokensRevoked")
    acc = account_of(user, p)
    eq((acc["generation"], acc["revokedBitmap"]), (1, 0), "after revokeAll")
    eq(I.call("isTokenRevoked", user, p, 3), False, "bitmap cleared")
    I.transact(ukey, "revokeAllTokens", p)
    eq(account_of(user, p)["generation"], 2, "generation 2")
    expect_revert(I, lambda: I.call("isTokenRevoked", p, user, 0), "AccountNotExists")


# ---------------------------------------------------------------------- settlement

@check
def settlement_moves_balances():
    L, I = ENV.ledger, ENV.inference
    tee = Account.create()
    pkey, p, _ = new_service(tee_key=tee.key)
    ukey, user = funded_user(10 * ONE, [(p, 2 * ONE)])
    fee = 3 * ONE // 10
    s = sign_settlement(tee.key, user, p, fee, 1)
    failed, reasons, partial, amounts = I.call("previewSettlementResults", [s], sender=p)
    eq((failed, reasons, partial, amounts), ([], [], [], []), "preview: clean")
    eq(I.call("settleFeesWithTEE", [s], sender=p), [0], "eth_call statuses")
    ledger_before = ledger_of(user)
    p_before = ENV.chain.balance(p)
    r = I.transact(pkey, "settleFeesWithTEE", [s])
    eq(ENV.chain.balance(p), p_before + fee - gas_cost(r), "provider paid")
    acc = account_of(user, p)
    eq((acc["balance"], acc["nonce"]), (2 * ONE - fee, 1), "account after settlement")
    led = ledger_of(user)
    eq(led["totalBalance"], ledger_before["totalBalance"] - fee, "ledger total down")
    eq(led["availableBalance"], ledger_before["availableBalance"], "ledger available unchanged")
    eq(I.decode_logs(r), [
        {"event": "BalanceUpdated", "user": user, "provider": p, "amount": 2 * ONE - fee, "pendingRefund": 0},
        {"event": "TEESettlementResult", "user": user, "status": 0, "unsettledAmount": 0},
    ], "inference events")
    eq(L.decode_logs(r), [{"event": "FundSpent", "user": user, "service": I.address, "amount": fee}], "FundSpent")
    # replay: same nonce
    r = I.transact(pkey, "settleFeesWithTEE", [s])
    eq(I.decode_logs(r, "TEESettlementResult")[0]["status"], 4, "INVALID_NONCE")
    eq(account_of(user, p)["balance"], 2 * ONE - fee, "unchanged by replay")


@check
def settlement_status_codes_in_one_batch():
    I = ENV.inference
    tee = Account.create()
    pkey, p, _ = new_service(tee_key=tee.key)
    u1key, u1 = funded_user(10 * ONE, [(p, ONE)])
    u2key, u2 = funded_user(10 * ONE, [(p, ONE)])
    u3key, u3 = funded_user(10 * ONE, [(p, ONE)])
    stranger = Account.create().address
    good = sign_settlement(tee.key, u1, p, ONE // 10, 5)
    bad_sig = sign_settlement(Account.create().key, u2, p, ONE // 10, 1)
    mismatch = dict(sign_settlement(tee.key, u3, p, ONE // 10, 1), provider=stranger)
    too_much = sign_settlement(tee.key, u3, p, 3 * ONE, 2)
    no_account = sign_settlement(tee.key, stranger, p, 1, 1)
    batch = [good, bad_sig, mismatch, too_much, no_account]
    failed, reasons, partial, amounts = I.call("previewSettlementResults", batch, sender=p)
    eq(list(zip(failed, reasons)), [(u2, 5), (u3, 2), (stranger, 5)], "preview failures")
    eq(list(zip(partial, amounts)), [(u3, 2 * ONE)], "preview partial")
    p_before = ENV.chain.balance(p)
    r = I.transact(pkey, "settleFeesWithTEE", batch)
    results = [(e["user"], e["status"], e["unsettledAmount"]) for e in I.decode_logs(r, "TEESettlementResult")]
    eq(results, [(u1, 0, 0), (u2, 5, ONE // 10), (u3, 2, ONE // 10), (u3, 1, 2 * ONE), (stranger, 5, 1)],
       "statuses")
    eq(ENV.chain.balance(p), p_before + ONE // 10 + ONE - gas_cost(r), "provider paid good + partial")
    eq(account_of(u3, p)["balance"], 0, "partial drains the account")
    eq(account_of(u3, p)["nonce"], 2, "partial advances the nonce")
    eq(account_of(u2, p)["nonce"], 0, "bad signature leaves the nonce")
    eq(ledger_of(u3)["totalBalance"], 9 * ONE, "ledger total of u3")
    # a wrong signature length or a high-s signature is INVALID_SIGNATURE
    s = sign_settlement(tee.key, u1, p, 1, 6)
    short = dict(s, signature=s["signature"][:64])
    sig = s["signature"]
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = sig[:32] + (n - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big") + bytes([55 - sig[64]])
    r = I.transact(pkey, "settleFeesWithTEE", [short, dict(s, signature=high_s)])
    eq([e["status"] for e in I.decode_logs(r, "TEESettlementResult")], [5, 5], "malformed signatures")
    # service signer not acknowledged -> NO_TEE_SIGNER
    I.transact(ENV.owner_key, "revokeTEESignerAcknowledgement", p)
    r = I.transact(pkey, "settleFeesWithTEE", [s])
    eq(I.decode_logs(r, "TEESettlementResult")[0]["status"], 3, "NO_TEE_SIGNER")
    I.transact(ENV.owner_key, "acknowledgeTEESignerByOwner", p)
    r = I.transact(pkey, "settleFeesWithTEE", [s])
    eq(I.decode_logs(r, "TEESettlementResult")[0]["status"], 0, "works again")


@check
def settlement_takes_from_pending_refunds_newest_first():
    L, I = ENV.ledger, ENV.inference
    tee = Account.create()
    pkey, p, _ = new_service(tee_key=tee.key)
    ukey, user = funded_user(10 * ONE, [(p, 4 * ONE)])
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)            # R0 = 4
    L.transact(ukey, "transferFund", p, ENV.service_name, ONE)         # R0 = 3
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)            # R1 = 1; locked part 0
    s = sign_settlement(tee.key, user, p, 3 * ONE // 2, 1)              # 1.5: all of R1, 0.5 of R0
    r = I.transact(pkey, "settleFeesWithTEE", [s])
    eq(I.decode_logs(r, "TEESettlementResult")[0]["status"], 0, "SUCCESS")
    acc = account_of(user, p)
    eq((acc["balance"], acc["pendingRefund"], acc["validRefundsLength"]), (5 * ONE // 2, 5 * ONE // 2, 1),
       "account")
    eq(acc["refunds"][0]["amount"], 5 * ONE // 2, "R0 reduced")
    eq(acc["refunds"][1]["amount"], 0, "R1 consumed")


@check
def no_settlement_without_user_acknowledgement():
    L, I = ENV.ledger, ENV.inference
    tee = Account.create()
    pkey, p, _ = new_service(tee_key=tee.key)
    ukey, user = funded_user(10 * ONE, [(p, ONE)])
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)
    ENV.chain.increase_time(LOCK_TIME + 1)
    L.transact(ukey, "retrieveFund", [p], ENV.service_name)            # balance -> 0
    I.transact(ukey, "acknowledgeTEESigner", p, False)                 # allowed at zero balance
    eq(account_of(user, p)["acknowledged"], False, "user revoked")
    s = sign_settlement(tee.key, user, p, 1, 1)
    r = I.transact(pkey, "settleFeesWithTEE", [s])
    eq(I.decode_logs(r, "TEESettlementResult")[0]["status"], 3, "NO_TEE_SIGNER")
    L.transact(ukey, "transferFund", p, ENV.service_name, ONE)         # deposit re-acknowledges
    eq(account_of(user, p)["acknowledged"], True, "re-acknowledged by transferFund")


# ---------------------------------------------------------------------- TestStore

@check
def test_store_contract():
    addr = world.deploy_artifact(ENV.chain, ENV.funders[0], "TestStore")
    c = Contract.from_artifact(ENV.chain, addr, "TestStore")
    ukey = fresh_key(fund=5 * ONE)
    user = address_of(ukey)
    r = c.transact(ukey, "set", 42, "hello")
    eq(c.decode_logs(r), [{"event": "Stored", "who": user, "value": 42, "note": "hello"}], "Stored")
    eq(c.call("get"), (42, "hello"), "get")
    c.transact(ukey, "deposit", value=ONE)
    eq(c.call("balances", user), ONE, "balances")
    eq(c.call("balanceOf", user), ONE, "balanceOf")
    eq(ENV.chain.balance(addr), ONE, "contract balance")
    expect_revert(c, lambda: c.transact(ukey, "setChecked", 1001), "TooLarge", {"value": 1001, "limit": 1000})
    expect_revert(c, lambda: c.call("checkLimit", 5000), "TooLarge", {"value": 5000, "limit": 1000})
    c.transact(ukey, "setChecked", 1000)
    eq(c.call("value"), 1000, "setChecked")
    try:
        c.transact(ukey, "fail", True)
        raise CheckFailed("fail(true) succeeded")
    except RevertError as e:
        eq(e.reason, "TestStore: failed on purpose", "Error(string) reason")
    # a mined failing transaction (explicit gas skips the estimate) also raises, with the data
    try:
        c.transact(ukey, "setChecked", 2000, gas=100_000)
        raise CheckFailed("mined revert not reported")
    except RevertError as e:
        eq(c.decode_error(e.data), ("TooLarge", {"value": 2000, "limit": 1000}), "replayed revert data")
        eq(int(e.receipt["status"], 16), 0, "receipt status")


# ---------------------------------------------------------------------- invariants (last)

def _all_pages(contract, fn, *args):
    out, offset = [], 0
    while True:
        page, total = contract.call(fn, *args, offset, 50)
        out += page
        offset += 50
        if offset >= total:
            return out


@check
def money_is_conserved():
    """After everything above: ETH held by each contract equals what its books say."""
    L, I = ENV.ledger, ENV.inference
    ledgers = _all_pages(L, "getAllLedgers")
    accounts = _all_pages(I, "getAllAccounts")
    services = _all_pages(I, "getAllServices")
    ok(len(accounts) > 50 and len(ledgers) > 10, "expected the earlier checks to leave many accounts")
    eq(ENV.chain.balance(L.address), sum(l["availableBalance"] for l in ledgers), "ledger ETH = sum(available)")
    eq(ENV.chain.balance(I.address), sum(a["balance"] for a in accounts) + 100 * ONE * len(services),
       "inference ETH = sum(sub-account balances) + stakes")
    locked = {}
    for a in accounts:
        locked[a["user"]] = locked.get(a["user"], 0) + a["balance"]
        eq(a["pendingRefund"], sum(r["amount"] for r in a["refunds"][:a["validRefundsLength"]]),
           f"pendingRefund of {a['user']}/{a['provider']}")
    for l in ledgers:
        eq(l["totalBalance"] - l["availableBalance"], locked.get(l["user"], 0), f"locked funds of {l['user']}")


# ---------------------------------------------------------------------- main

def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpc", help="use this node instead of starting the devchain")
    ap.add_argument("--key", action="append", default=[], help="funded private key (with --rpc; repeatable)")
    ap.add_argument("-k", dest="filter", help="run only checks whose name contains this")
    args = ap.parse_args(argv)

    proc = None
    t0 = time.monotonic()
    if args.rpc:
        if not args.key:
            raise SystemExit("--rpc needs at least one --key")
        rpc, keys = args.rpc, args.key
    else:
        proc, info = start_devchain()
        rpc, keys = info["rpc"], [a["privateKey"] for a in info["accounts"]]
    t_node = time.monotonic() - t0
    passed = failed = 0
    try:
        ENV.chain = Chain(rpc)
        ENV.funders = keys[1:] or keys
        ENV.owner_key = keys[0]
        t1 = time.monotonic()
        ENV.dep = deploy(ENV.chain, ENV.owner_key, lock_time=LOCK_TIME)
        t_deploy = time.monotonic() - t1
        ENV.ledger, ENV.inference = contracts(ENV.chain, ENV.dep)
        ENV.service_name = ENV.dep["serviceName"]
        print(f"node ready in {t_node:.2f}s, deploy took {t_deploy:.2f}s: {json.dumps(ENV.dep)}")
        for fn in CHECKS:
            if args.filter and args.filter not in fn.__name__:
                continue
            t = time.monotonic()
            try:
                fn()
                passed += 1
                print(f"PASS {fn.__name__} ({time.monotonic() - t:.2f}s)")
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"FAIL {fn.__name__} ({time.monotonic() - t:.2f}s): {e}")
                if not isinstance(e, CheckFailed):
                    traceback.print_exc()
    finally:
        if ENV.chain:
            ENV.chain.close()
        if proc:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"{passed} passed, {failed} failed ({time.monotonic() - t0:.1f}s total)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
