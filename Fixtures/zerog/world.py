#!/usr/bin/env python3
"""Deploy the Vyper 0G contracts (LedgerManager + InferenceServing) on a chain.

    from world import deploy, register_service
    d = deploy(chain, deployer_key, lock_time=86400)
    # {"ledger": "0x..", "inference": "0x..", "owner": "0x..", "serviceName": "inference-v1.0"}
    register_service(chain, d, provider_key, "http://127.0.0.1:9000", "qwen-test",
                     input_price=1, output_price=2, tee_signer=tee_addr, owner_key=deployer_key)

CLI (prints one JSON line):
    python Fixtures/zerog/world.py deploy --rpc URL --key 0x.. [--lock-time N]
    python Fixtures/zerog/world.py register-service --rpc URL --deployment JSON --key 0xPROVIDER
        --url U --model M --input-price N --output-price N --tee-signer 0x.. [--owner-key 0x..]
    python Fixtures/zerog/world.py deploy-artifact --rpc URL --key 0x.. --name TestStore

Also a small ABI helper, Contract, used by the tests and usable by other fixtures.
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import eth_abi  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402

from chain import Chain, RevertError, address_of  # noqa: E402

BUILD_DIR = HERE.parent / "contracts" / "build"
ONE_0G = 10**18
MIN_PROVIDER_STAKE = 100 * ONE_0G
SERVICE_TYPE = "inference"
SERVICE_VERSION = "v1.0"


# ---------------------------------------------------------------------- ABI helper

def abi_type(param):
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


def signature(item):
    return f"{item['name']}({','.join(abi_type(p) for p in item.get('inputs', []))})"


def _to_abi(param, value):
    """Python value -> eth_abi value (structs may be dicts)."""
    t = param["type"]
    if t.startswith("tuple"):
        if t.endswith("]"):
            inner = dict(param, type=t[:t.rindex("[")])
            return [_to_abi(inner, v) for v in value]
        comps = param["components"]
        if isinstance(value, dict):
            return tuple(_to_abi(c, value[c["name"]]) for c in comps)
        return tuple(_to_abi(c, v) for c, v in zip(comps, value))
    if t.endswith("]"):
        inner = dict(param, type=t[:t.rindex("[")])
        return [_to_abi(inner, v) for v in value]
    if t == "address" and isinstance(value, str):
        return to_checksum_address(value)
    if t.startswith("bytes") and isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return value


def _from_abi(param, value):
    """eth_abi value -> Python value (structs become dicts keyed by field name)."""
    t = param["type"]
    if t.endswith("]"):
        inner = dict(param, type=t[:t.rindex("[")])
        return [_from_abi(inner, v) for v in value]
    if t == "tuple":
        return {c["name"]: _from_abi(c, v) for c, v in zip(param["components"], value)}
    if t == "address":
        return to_checksum_address(value)
    return value


class Contract:
    """Encode/decode calls, errors and events for one deployed contract."""

    def __init__(self, chain, address, abi):
        self.chain = chain
        self.address = to_checksum_address(address)
        self.abi = abi
        self.functions = {i["name"]: i for i in abi if i["type"] == "function"}
        self.errors = {}
        for i in abi:
            if i["type"] == "error":
                self.errors[keccak(text=signature(i))[:4]] = i
        self.events = {}
        for i in abi:
            if i["type"] == "event":
                self.events[keccak(text=signature(i))] = i

    @classmethod
    def from_artifact(cls, chain, address, name):
        return cls(chain, address, load_artifact(name)["abi"])

    def encode(self, fn, *args):
        item = self.functions[fn]
        inputs = item["inputs"]
        if len(args) != len(inputs):
            raise TypeError(f"{fn} takes {len(inputs)} arguments, got {len(args)}")
        types = [abi_type(p) for p in inputs]
        values = [_to_abi(p, a) for p, a in zip(inputs, args)]
        return keccak(text=signature(item))[:4] + eth_abi.encode(types, values)

    def decode(self, fn, data):
        outputs = self.functions[fn]["outputs"]
        values = eth_abi.decode([abi_type(p) for p in outputs], data)
        out = [_from_abi(p, v) for p, v in zip(outputs, values)]
        return out[0] if len(out) == 1 else tuple(out)

    def call(self, fn, *args, block="latest", sender=None, value=0):
        data = self.chain.call(self.address, self.encode(fn, *args), block=block, sender=sender, value=value)
        return self.decode(fn, data)

    def transact(self, key, fn, *args, value=0, gas=None):
        return self.chain.send(key, self.address, self.encode(fn, *args), value=value, gas=gas)

    def decode_error(self, data):
        """(name, {arg: value}) for a known custom error, ("Error", {"reason": s}) for
        Error(string), or None."""
        data = bytes(data or b"")
        if data[:4] == bytes.fromhex("08c379a0"):
            return "Error", {"reason": eth_abi.decode(["string"], data[4:])[0]}
        item = self.errors.get(data[:4])
        if item is None:
            return None
        values = eth_abi.decode([abi_type(p) for p in item["inputs"]], data[4:])
        return item["name"], {p["name"]: _from_abi(p, v) for p, v in zip(item["inputs"], values)}

    def decode_logs(self, receipt, name=None):
        """Decoded events of this contract in a receipt: [{"event": name, **args}]."""
        out = []
        for log in receipt.get("logs", []):
            if to_checksum_address(log["address"]) != self.address or not log["topics"]:
                continue
            item = self.events.get(bytes.fromhex(log["topics"][0][2:]))
            if item is None or (name and item["name"] != name):
                continue
            indexed = [p for p in item["inputs"] if p.get("indexed")]
            plain = [p for p in item["inputs"] if not p.get("indexed")]
            args = {}
            for p, topic in zip(indexed, log["topics"][1:]):
                raw = bytes.fromhex(topic[2:])
                args[p["name"]] = _from_abi(p, eth_abi.decode([abi_type(p)], raw)[0])
            data = bytes.fromhex(log["data"][2:])
            for p, v in zip(plain, eth_abi.decode([abi_type(p) for p in plain], data)):
                args[p["name"]] = _from_abi(p, v)
            out.append(dict(args, event=item["name"]))
        return out


def describe_revert(err, names=("LedgerManager", "InferenceServing", "TestStore")):
    """A readable form of a RevertError, decoding custom errors with the artifacts' ABIs."""
    for name in names:
        decoded = Contract(None, "0x" + "00" * 20, load_artifact(name)["abi"]).decode_error(err.data)
        if decoded:
            args = ", ".join(f"{k}={v}" for k, v in decoded[1].items())
            return f"{err.message}: {decoded[0]}({args})"
    return str(err)


def load_artifact(name):
    with open(BUILD_DIR / f"{name}.json") as f:
        return json.load(f)


def deploy_artifact(chain, key, name, ctor_args_encoded=b""):
    art = load_artifact(name)
    return chain.deploy(key, art["bytecode"], ctor_args_encoded)


# ---------------------------------------------------------------------- deployment

def contracts(chain, deployment):
    """(LedgerManager, InferenceServing) Contract helpers for a deployment dict."""
    return (Contract.from_artifact(chain, deployment["ledger"], "LedgerManager"),
            Contract.from_artifact(chain, deployment["inference"], "InferenceServing"))


def deploy(chain, deployer_key, lock_time=86400):
    """Deploy LedgerManager and InferenceServing, initialize and wire them.

    The deployer becomes the owner of both. lock_time must be within
    [3600, 604800] (the contract reverts LockTimeOutOfRange otherwise).
    Returns {"ledger", "inference", "owner", "serviceName"}.
    """
    owner = address_of(deployer_key)
    ledger = Contract.from_artifact(chain, deploy_artifact(chain, deployer_key, "LedgerManager"), "LedgerManager")
    ledger.transact(deployer_key, "initialize", owner)
    inference = Contract.from_artifact(chain, deploy_artifact(chain, deployer_key, "InferenceServing"),
                                       "InferenceServing")
    inference.transact(deployer_key, "initialize", int(lock_time), ledger.address, owner)
    ledger.transact(deployer_key, "registerService", SERVICE_TYPE, SERVICE_VERSION, inference.address,
                    "Inference service (Vyper test double)")
    info = ledger.call("getServiceInfo", inference.address)
    return {
        "ledger": ledger.address,
        "inference": inference.address,
        "owner": owner,
        "serviceName": info["fullName"],
    }


def register_service(chain, deployment, provider_key, url, model, input_price, output_price, tee_signer,
                     verifiability="TeeML", additional_info="{}", service_type="chatbot",
                     acknowledge=True, owner_key=None):
    """addOrUpdateService from the provider (staking 100 0G the first time), then,
    if acknowledge, acknowledgeTEESignerByOwner from owner_key. Returns getService()."""
    _, inference = contracts(chain, deployment)
    provider = address_of(provider_key)
    params = {
        "serviceType": service_type,
        "url": url,
        "model": model,
        "verifiability": verifiability,
        "inputPrice": int(input_price),
        "outputPrice": int(output_price),
        "additionalInfo": additional_info,
        "teeSignerAddress": to_checksum_address(tee_signer),
    }
    exists = inference.call("serviceExists", provider)
    inference.transact(provider_key, "addOrUpdateService", params, value=0 if exists else MIN_PROVIDER_STAKE)
    if acknowledge:
        if owner_key is None:
            raise ValueError("acknowledge=True needs owner_key (the deployer's key)")
        inference.transact(owner_key, "acknowledgeTEESignerByOwner", provider)
    return inference.call("getService", provider)


# ---------------------------------------------------------------------- CLI

def _main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("deploy", help="deploy LedgerManager + InferenceServing")
    d.add_argument("--rpc", required=True)
    d.add_argument("--key", required=True, help="deployer (owner) private key")
    d.add_argument("--lock-time", type=int, default=86400)

    r = sub.add_parser("register-service", help="add a provider service and acknowledge its TEE signer")
    r.add_argument("--rpc", required=True)
    r.add_argument("--deployment", required=True, help="the JSON printed by `deploy`")
    r.add_argument("--key", required=True, help="provider private key")
    r.add_argument("--url", required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--input-price", type=int, required=True)
    r.add_argument("--output-price", type=int, required=True)
    r.add_argument("--tee-signer", required=True)
    r.add_argument("--verifiability", default="TeeML")
    r.add_argument("--additional-info", default="{}")
    r.add_argument("--service-type", default="chatbot")
    r.add_argument("--owner-key", help="owner key; without it the signer is not acknowledged")

    a = sub.add_parser("deploy-artifact", help="deploy one build/<Name>.json with no constructor args")
    a.add_argument("--rpc", required=True)
    a.add_argument("--key", required=True)
    a.add_argument("--name", required=True)

    args = ap.parse_args(argv)
    chain = Chain(args.rpc)
    try:
        if args.cmd == "deploy":
            out = deploy(chain, args.key, lock_time=args.lock_time)
        elif args.cmd == "register-service":
            svc = register_service(
                chain, json.loads(args.deployment), args.key, args.url, args.model, args.input_price,
                args.output_price, args.tee_signer, verifiability=args.verifiability,
                additional_info=args.additional_info, service_type=args.service_type,
                acknowledge=args.owner_key is not None, owner_key=args.owner_key)
            out = svc
        else:
            out = {"address": deploy_artifact(chain, args.key, args.name)}
    except RevertError as e:
        print(f"error: {describe_revert(e)}", file=sys.stderr)
        return 1
    print(json.dumps(out, separators=(",", ":")))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
