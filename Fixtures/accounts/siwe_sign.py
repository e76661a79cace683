#!/usr/bin/env python3
"""Signs Sign-In with Ethereum (EIP-4361) messages with eth-account, for the Swift tests.

zgproxy verifies SIWE signatures with its own secp256k1/keccak code, and the Swift tests sign
with that same code; this process gives them signatures from an independent implementation
(eth-account), so a bug shared by signer and verifier cannot pass unnoticed.

Protocol: one JSON object per line on stdin, {"message": "<text>", "key": "0x<64 hex>"};
one line per input on stdout, {"signature": "0x<130 hex>", "address": "<EIP-55>"}, flushed,
until EOF. The signature is EIP-191 personal_sign, r||s||v with v = 27 or 28. A line that
cannot be signed gets {"error": "..."}; blank lines are skipped.

    .venv/bin/python Fixtures/accounts/siwe_sign.py [--selftest]
"""
import json
import sys

from eth_account import Account
from eth_account.messages import encode_defunct


def sign(message: str, key: str) -> dict:
    signed = Account.sign_message(encode_defunct(text=message), private_key=key)
    return {"signature": "0x" + bytes(signed.signature).hex(), "address": Account.from_key(key).address}


def handle(line: str) -> dict:
    try:
        request = json.loads(line)
        return sign(request["message"], request["key"])
    except Exception as e:  # answer every line, so the caller never waits forever
        return {"error": f"{type(e).__name__}: {e}"}


def selftest() -> None:
    key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    address = Account.from_key(key).address
    message = (
        f"localhost:3911 wants you to sign in with your Ethereum account:\n{address}\n\n"
        "Sign in to zgproxy.\n\nURI: http://localhost:3911/login\nVersion: 1\nChain ID: 16601\n"
        "Nonce: 32891756abcdef01\nIssued At: 2025-01-01T00:00:00Z"
    )
    answer = handle(json.dumps({"message": message, "key": key}))
    sig = bytes.fromhex(answer["signature"][2:])
    assert len(sig) == 65 and sig[64] in (27, 28), answer
    assert answer["address"] == address, answer
    recovered = Account.recover_message(encode_defunct(text=message), signature=sig)
    assert recovered == address, (recovered, address)
    assert "error" in handle('{"message": "x"}')
    print("siwe_sign selftest ok")


def main() -> None:
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    if sys.argv[1:]:
        sys.exit(f"usage: {sys.argv[0]} [--selftest]")
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(handle(line)), flush=True)


if __name__ == "__main__":
    main()
