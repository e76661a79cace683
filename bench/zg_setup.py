#!/usr/bin/env python3
"""0G helpers for the benchmark (run with the project's .venv: eth-account, eth-utils).

  zg_setup.py token --key 0xUSER --provider 0xPROVIDER
      prints an `Authorization` header value (`Bearer app-sk-…`) the simulated provider
      accepts, built like Fixtures/zerog/test_provider_sim.py's make_token (PROTOCOL.md §3.2:
      JSON.stringify key order, EIP-191 signature over keccak256 of the raw token bytes).

  zg_setup.py register-fake --sandbox FILE --url http://127.0.0.1:PORT --model NAME [--spare N]
      registers one more 0G provider service on the sandbox's chain whose URL is a
      zero-latency fake (nginx / fake_sse.py answering /v1/proxy/chat/completions), so that
      zgproxy's 0G backend (catalog, session token, metering, usage recording) can be measured
      against the same zero-latency upstream as nginx. The provider key is the N-th spare devchain
      account of the sandbox, counted from the end (use a different N per fake provider); the owner acknowledges its TEE signer, and the sandbox wallet
      moves 2 0G into the provider sub-account. Prints {"provider": "0x…"}.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "Fixtures", "zerog")
sys.path.insert(0, FIXTURES)

from eth_account import Account  # noqa: E402
from eth_account.messages import encode_defunct  # noqa: E402
from eth_utils import keccak  # noqa: E402

E18 = 10 ** 18
SIM_ADDITIONAL_INFO = json.dumps({"TargetSeparated": False, "TEEVerifier": "dstack",
                                  "ProviderType": "decentralized"}, separators=(",", ":"))


def make_token(key: str, provider: str, lifetime_s: int = 3600) -> str:
    acct = Account.from_key(key)
    now_ms = int(time.time() * 1000)
    obj = {"address": acct.address, "provider": provider, "timestamp": now_ms,
           "expiresAt": now_ms + lifetime_s * 1000,
           "nonce": f"{now_ms}-{os.urandom(4).hex()}".ljust(32, "0"), "generation": 0, "tokenId": 255}
    raw = json.dumps(obj, separators=(",", ":")).encode()
    sig = Account.sign_message(encode_defunct(primitive=keccak(raw)), key).signature
    return "Bearer app-sk-" + base64.b64encode(raw + b"|" + ("0x" + bytes(sig).hex()).encode()).decode()


def register_fake(sandbox: dict, url: str, model: str, spare_index: int = 1) -> dict:
    import world  # Fixtures/zerog/world.py
    from chain import Chain

    chain = Chain(sandbox["rpc"])
    deployment = {"ledger": sandbox["ledger"], "inference": sandbox["inference"],
                  "owner": sandbox["owner"]["address"], "serviceName": sandbox["serviceName"]}
    spare = sandbox.get("spareAccounts") or []
    if len(spare) < spare_index:
        raise SystemExit(f"register-fake: the sandbox has fewer than {spare_index} spare devchain accounts")
    provider_key = spare[-spare_index]["privateKey"]
    tee = Account.from_key("0x" + keccak(text="zgproxy bench fake tee").hex()).address
    world.register_service(chain, deployment, provider_key, url, model, input_price=10 ** 9, output_price=2 * 10 ** 9,
                           tee_signer=tee, additional_info=SIM_ADDITIONAL_INFO, acknowledge=True,
                           owner_key=sandbox["owner"]["privateKey"])
    provider = Account.from_key(provider_key).address
    ledger, _ = world.contracts(chain, deployment)
    ledger.transact(sandbox["wallet"]["privateKey"], "transferFund", provider, sandbox["serviceName"], 2 * E18)
    return {"provider": provider}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("token")
    t.add_argument("--key", required=True)
    t.add_argument("--provider", required=True)
    r = sub.add_parser("register-fake")
    r.add_argument("--sandbox", required=True, help="file holding the SANDBOX READY JSON")
    r.add_argument("--url", required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--spare", type=int, default=1, help="use the N-th spare devchain account from the end (1..)")
    args = ap.parse_args()
    if args.cmd == "token":
        print(make_token(args.key, args.provider))
    else:
        with open(args.sandbox) as f:
            sandbox = json.load(f)
        print(json.dumps(register_fake(sandbox, args.url, args.model, args.spare)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
