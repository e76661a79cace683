#!/usr/bin/env python3
"""Generate JSON test vectors for zgproxy's hand-written Ethereum primitives.

Run from the repository root:

    .venv/bin/python Fixtures/vectors/generate.py

Every value is produced (or cross-checked) with independent, widely used Python
implementations: eth-hash (pycryptodome keccak), rlp, eth-abi, eth-keys and
eth-account.  All randomness comes from random.Random instances with fixed seeds,
so re-running the script rewrites byte-identical files.

Conventions in every output file:
  * byte strings are lowercase "0x"-prefixed hex;
  * integers that can exceed 2^53 are decimal strings;
  * addresses are EIP-55 checksummed unless a field says otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import sys
from decimal import Decimal, localcontext

import rlp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.grammar import BasicType, TupleType, parse as parse_abi_type
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_hash.auto import keccak
from eth_keys import KeyAPI
from eth_utils import (
    abi_to_signature,
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    to_checksum_address,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ABI_DIR = os.environ.get("ZG_ABI_DIR", "/work/shared/0g/abi")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
UINT256_MAX = 2**256 - 1
KEYS = KeyAPI()

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def hx(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def unhx(s: str) -> bytes:
    assert s.startswith("0x")
    return bytes.fromhex(s[2:])


def k256(b: bytes) -> bytes:
    return keccak(bytes(b))


def word(i: int) -> bytes:
    return i.to_bytes(32, "big")


def rand_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def rand_address(rng: random.Random) -> str:
    return to_checksum_address(rand_bytes(rng, 20))


def rand_privkey(rng: random.Random) -> bytes:
    return (rng.randrange(1, SECP256K1_N)).to_bytes(32, "big")


def write_json(name: str, obj) -> None:
    path = os.path.join(HERE, name)
    text = json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {name}: {len(text.encode('utf-8'))} bytes")


# sanity checks of the reference implementations themselves
assert k256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
assert k256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


# ---------------------------------------------------------------------------
# 1. keccak.json
# ---------------------------------------------------------------------------


def gen_keccak():
    rng = random.Random(0x6B656363)  # "kecc"
    vectors = []

    def add(data: bytes):
        vectors.append({"input": hx(data), "hash": hx(k256(data))})

    msg448 = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
    msg896 = (
        b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
        b"ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
    )
    assert len(msg448) == 56 and len(msg896) == 112
    for m in (b"", b"abc", msg448, msg896,
              b"The quick brown fox jumps over the lazy dog",
              b"The quick brown fox jumps over the lazy dog."):
        add(m)
    # Known answers (Keccak-256 as used by Ethereum, not FIPS SHA3-256).
    assert vectors[0]["hash"] == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert vectors[4]["hash"] == "0x4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"

    # every length 0...300 of pattern byte[i] = i & 0xff (crosses 136, 272)
    for n in range(0, 301):
        add(bytes(i & 0xFF for i in range(n)))

    # 1000 random inputs; lengths: half uniform in 0...2000, half uniform in
    # 0...400 (keeps the file small while still covering multi-block inputs)
    for i in range(1000):
        n = rng.randint(0, 2000) if i % 2 == 0 else rng.randint(0, 400)
        add(rand_bytes(rng, n))

    repeated = []
    for byte, count in ((0x61, 1_000_000), (0x00, 1_000_000), (0xFF, 1_000_000),
                        (0x00, 135), (0x00, 136), (0x00, 137), (0x01, 271),
                        (0x01, 272), (0x01, 273), (0x80, 100_000)):
        repeated.append({"byte": hx(bytes([byte])), "count": count,
                         "hash": hx(k256(bytes([byte]) * count))})

    write_json("keccak.json", {
        "notes": "Keccak-256 (original padding 0x01, Ethereum), NOT FIPS-202 SHA3-256. "
                 "'vectors' lists (input, hash); inputs of length 0...300 use the pattern byte[i] = i & 0xff. "
                 "'repeated' entries hash `count` copies of `byte`.",
        "vectors": vectors,
        "repeated": repeated,
    })


# ---------------------------------------------------------------------------
# 2. rlp.json
# ---------------------------------------------------------------------------


def rlp_value_json(v):
    if isinstance(v, (bytes, bytearray)):
        return hx(v)
    assert isinstance(v, list)
    return [rlp_value_json(x) for x in v]


def int_to_min_bytes(i: int) -> bytes:
    return b"" if i == 0 else i.to_bytes((i.bit_length() + 7) // 8, "big")


def gen_rlp():
    rng = random.Random(0x726C70)  # "rlp"
    valid = []

    def add(name, value, integer=None):
        enc = rlp.encode(value)
        assert rlp.decode(enc, strict=True) == value, name
        entry = {"name": name, "value": rlp_value_json(value), "encoded": hx(enc)}
        if integer is not None:
            entry["integer"] = str(integer)
            assert enc == rlp.encode(integer)  # pyrlp's own integer sedes agrees
        valid.append(entry)

    add("empty string", b"")
    add("single byte 0x00", b"\x00")
    add("single byte 0x01", b"\x01")
    add("single byte 0x7f", b"\x7f")
    add("single byte 0x80", b"\x80")
    add("single byte 0xff", b"\xff")
    add("two bytes 0x0000", b"\x00\x00")
    add("string 'dog'", b"dog")
    add("string 55 bytes", b"L" * 55)
    add("string 56 bytes", b"L" * 56)
    add("string 255 bytes", bytes(i & 0xFF for i in range(255)))
    add("string 256 bytes", bytes(i & 0xFF for i in range(256)))
    add("string 1024 bytes", rand_bytes(rng, 1024))
    add("string 70000 bytes", bytes((i * 7 + 1) & 0xFF for i in range(70000)))
    add("empty list", [])
    add("list of empty list", [[]])
    add("list [cat, dog]", [b"cat", b"dog"])
    add("set theoretic 3", [[], [[]], [[], [[]]]])
    add("nested empty lists depth 8", [[[[[[[[]]]]]]]])
    add("list with single-byte and empty items", [b"\x00", b"", b"\x7f", b"\x80", []])
    # list payload exactly 55 and 56 bytes
    l55 = [b"a" * 54]
    l56 = [b"a" * 55]
    assert len(rlp.encode(l55)) == 1 + 55 and len(rlp.encode(l56)) == 2 + 56
    add("list payload 55 bytes", l55)
    add("list payload 56 bytes", l56)
    l55b = [b"\x01"] * 55
    l56b = [b"\x01"] * 56
    add("list of 55 single bytes (payload 55)", l55b)
    add("list of 56 single bytes (payload 56)", l56b)
    add("list payload 300 bytes (2-byte length)", [b"\x02"] * 300)
    add("list with 1024-byte string inside", [b"x", rand_bytes(rng, 1024), [b"y"]])
    for i in (0, 1, 15, 127, 128, 255, 256, 1024, 0xFFFFFF, 2**32, 2**53, 2**64 - 1, 2**64,
              2**128 + 7, 2**255, UINT256_MAX, 10**18, 3 * 10**18):
        add(f"integer {i}", int_to_min_bytes(i), integer=i)
    add("integers in a list", [int_to_min_bytes(x) for x in (0, 1, 127, 128, 2**64 - 1)])

    def rand_item(depth):
        if depth >= 3 or rng.random() < 0.45:
            r = rng.random()
            if r < 0.15:
                n = 0
            elif r < 0.45:
                n = 1
            elif r < 0.93:
                n = rng.randint(2, 40)
            else:
                n = rng.randint(50, 120)
            return rand_bytes(rng, n)
        return [rand_item(depth + 1) for _ in range(rng.randint(0, 5))]

    for i in range(200):
        item = rand_item(0) if i % 4 else [rand_item(1) for _ in range(rng.randint(1, 5))]
        add(f"random {i}", item)

    invalid_candidates = [
        ("non-canonical single byte 0x00", bytes([0x81, 0x00]), "single byte < 0x80 must encode as itself"),
        ("non-canonical single byte 0x7f", bytes([0x81, 0x7F]), "single byte < 0x80 must encode as itself"),
        ("non-canonical single byte in list", bytes([0xC2, 0x81, 0x05]), "single byte < 0x80 must encode as itself"),
        ("long string form for 1 byte", bytes([0xB8, 0x01, 0x61]), "long-form length used for < 56 bytes"),
        ("long string form for 55 bytes", bytes([0xB8, 0x37]) + b"a" * 55, "long-form length used for < 56 bytes"),
        ("long string form with length 0", bytes([0xB8, 0x00]), "long-form length used for < 56 bytes / leading zero"),
        ("long list form for short list", bytes([0xF8, 0x01, 0x80]), "long-form length used for < 56 bytes"),
        ("long list form for 55-byte list", bytes([0xF8, 0x37]) + b"\x01" * 55, "long-form length used for < 56 bytes"),
        ("string length with leading zero byte", bytes([0xB9, 0x00, 0x38]) + b"a" * 56, "length has leading zero bytes"),
        ("list length with leading zero byte", bytes([0xF9, 0x00, 0x38]) + b"\x01" * 56, "length has leading zero bytes"),
        ("empty input", b"", "no item"),
        ("truncated short string", bytes([0x83, 0x61, 0x62]), "payload shorter than declared"),
        ("truncated long string", bytes([0xB8, 0x38]) + b"a" * 55, "payload shorter than declared"),
        ("truncated length field", bytes([0xB9, 0x01]), "length field truncated"),
        ("truncated list", bytes([0xC3, 0x80, 0x80]), "payload shorter than declared"),
        ("truncated long list", bytes([0xF8, 0x38]) + b"\x01" * 55, "payload shorter than declared"),
        ("trailing byte after string", bytes([0x80, 0x00]), "trailing bytes after the item"),
        ("trailing byte after single byte", bytes([0x01, 0x02]), "trailing bytes after the item"),
        ("trailing bytes after list", bytes([0xC0, 0xC0]), "trailing bytes after the item"),
        ("list item overruns list payload", bytes([0xC2, 0x83, 0x61, 0x62, 0x63]), "list payload length mismatch"),
        ("list payload longer than its items", bytes([0xC3, 0x80, 0x80]) + b"", "list payload length mismatch"),
        ("list declares 1 byte but item needs 2", bytes([0xC1, 0x81, 0x80]), "list payload length mismatch"),
        ("string length overflows (8 x 0xff)", bytes([0xBF]) + b"\xff" * 8, "length overflows / exceeds input"),
        ("list length overflows (8 x 0xff)", bytes([0xFF]) + b"\xff" * 8, "length overflows / exceeds input"),
        ("string length 2^63 with payload", bytes([0xBF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + b"a", "length overflows / exceeds input"),
        ("string length 2^32", bytes([0xBC, 0x01, 0x00, 0x00, 0x00, 0x00]), "length exceeds input"),
    ]
    invalid = []
    for name, b, reason in invalid_candidates:
        try:
            rlp.decode(b, strict=True)
        except rlp.exceptions.DecodingError:
            invalid.append({"name": name, "encoded": hx(b), "reason": reason})
        else:
            raise AssertionError(f"rlp invalid vector {name!r} decoded successfully")

    write_json("rlp.json", {
        "notes": "value: byte string as 0x-hex, or a JSON array of values (nested lists). "
                 "Entries with 'integer' encode that unsigned integer as its minimal big-endian bytes (0 -> empty string). "
                 "Every 'invalid' entry is rejected by pyrlp rlp.decode(b, strict=True).",
        "valid": valid,
        "invalid": invalid,
    })


# ---------------------------------------------------------------------------
# ABI helpers (shared by abi.json, selectors.json)
# ---------------------------------------------------------------------------


def load_abi(name):
    with open(os.path.join(ABI_DIR, f"{name}.json"), encoding="utf-8") as f:
        data = json.load(f)
    return data["abi"] if isinstance(data, dict) else data


def canonical_type(param) -> str:
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(canonical_type(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


def signature_of(entry) -> str:
    return entry["name"] + "(" + ",".join(canonical_type(p) for p in entry.get("inputs", [])) + ")"


def collect_structs(abis):
    """Map struct name -> canonical tuple type string, from internalType 'struct X'/'struct X[]'."""
    structs = {}

    def visit(p):
        it = p.get("internalType", "")
        if p["type"].startswith("tuple") and it.startswith("struct "):
            name = it[len("struct "):].split("[")[0].split(".")[-1]
            t = canonical_type(dict(p, type="tuple"))
            assert structs.get(name, t) == t, f"conflicting struct {name}"
            structs[name] = t
        for c in p.get("components", []):
            visit(c)

    for abi in abis:
        for e in abi:
            for p in e.get("inputs", []) + e.get("outputs", []):
                visit(p)
    return structs


def to_abi_json(t, v):
    if isinstance(t, str):
        t = parse_abi_type(t)
    if t.is_array:
        return [to_abi_json(t.item_type, x) for x in v]
    if isinstance(t, TupleType):
        assert len(t.components) == len(v)
        return [to_abi_json(c, x) for c, x in zip(t.components, v)]
    assert isinstance(t, BasicType)
    if t.base in ("uint", "int"):
        return str(int(v))
    if t.base == "address":
        return to_checksum_address(v)
    if t.base == "bool":
        assert isinstance(v, bool)
        return v
    if t.base == "bytes":
        return hx(v)
    if t.base == "string":
        return v
    raise ValueError(t)


SAMPLE_STRINGS = ["", "a", "inference-v1.0", "chatbot", "héllo wörld", "中文字符", "emoji 🚀🌍",
                  "x" * 31, "y" * 32, "z" * 33, "https://provider.example.org:8443"]


def sample_value(t, rng):
    if isinstance(t, str):
        t = parse_abi_type(t)
    if t.is_array:
        dim = t.arrlist[-1]
        n = dim[0] if dim else rng.randint(0, 3)
        return [sample_value(t.item_type, rng) for _ in range(n)]
    if isinstance(t, TupleType):
        return [sample_value(c, rng) for c in t.components]
    b = t.base
    if b == "uint":
        bits = t.sub
        return rng.choice([0, 1, 2**bits - 1, rng.getrandbits(bits)])
    if b == "int":
        bits = t.sub
        return rng.choice([0, -1, 1, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1,
                           rng.getrandbits(bits) - 2 ** (bits - 1)])
    if b == "address":
        return rand_address(rng)
    if b == "bool":
        return rng.random() < 0.5
    if b == "bytes":
        return rand_bytes(rng, t.sub if t.sub else rng.choice([0, 1, 32, 33, 65]))
    if b == "string":
        return rng.choice(SAMPLE_STRINGS)
    raise ValueError(t)


def check_abi_roundtrip(types, values, encoded):
    decoded = abi_decode(types, encoded)
    assert [to_abi_json(t, v) for t, v in zip(types, decoded)] == \
        [to_abi_json(t, v) for t, v in zip(types, values)], types


# ---------------------------------------------------------------------------
# 3. abi.json
# ---------------------------------------------------------------------------

# sample functions' arguments that a zgproxy user actually sends
LEDGER_MAINNET = "0x2dE54c845Cd948B72D2e32e39586fe89607074E3"
INFERENCE_MAINNET = "0x47340d900bdFec2BD393c626E12ea0656F938d84"


def gen_abi():
    rng = random.Random(0x616269)  # "abi"
    ledger_abi = load_abi("LedgerManager")
    inference_abi = load_abi("InferenceServing")
    structs = collect_structs([ledger_abi, inference_abi])
    for s in ("Service", "Account", "Refund", "Ledger", "ServiceInfo", "TEESettlementData", "ServiceParams"):
        assert s in structs, s

    cases = []
    names = set()

    def case(name, types, values):
        assert name not in names, name
        names.add(name)
        enc = abi_encode(types, values)
        check_abi_roundtrip(types, values, enc)
        cases.append({"name": name, "types": list(types),
                      "values": [to_abi_json(t, v) for t, v in zip(types, values)],
                      "encoded": hx(enc)})

    # --- elementary types
    for bits in range(8, 257, 8):
        for label, v in (("0", 0), ("1", 1), ("max", 2**bits - 1)):
            case(f"uint{bits} {label}", [f"uint{bits}"], [v])
    for bits in range(8, 257, 8):
        vals = [-(2 ** (bits - 1)), -1, 0, 1, 2 ** (bits - 1) - 1]
        case(f"int{bits} min,-1,0,1,max", [f"int{bits}"] * 5, vals)
    case("int256 negatives", ["int256"] * 6,
         [-1, -2, -255, -256, -(10**18), -(2**255) + 1])
    case("int256 min", ["int256"], [-(2**255)])
    case("int8 -128 and -1 with uint8 255", ["int8", "int8", "uint8"], [-128, -1, 255])
    case("address zero", ["address"], ["0x" + "00" * 20])
    case("address max", ["address"], ["0x" + "ff" * 20])
    case("addresses 0G contracts", ["address", "address"], [LEDGER_MAINNET, INFERENCE_MAINNET])
    case("bool false,true", ["bool", "bool"], [False, True])
    for n in (1, 2, 4, 8, 16, 20, 31, 32):
        case(f"bytes{n}", [f"bytes{n}"], [rand_bytes(rng, n)])
    case("bytes32 zero", ["bytes32"], [b"\x00" * 32])
    case("bytes32 keccak('abc')", ["bytes32"], [k256(b"abc")])
    for n in (0, 1, 31, 32, 33, 64, 65, 1000):
        case(f"bytes length {n}", ["bytes"], [rand_bytes(rng, n)])
    for label, s in (("empty", ""), ("ascii a", "a"), ("31 chars", "q" * 31), ("32 chars", "q" * 32),
                     ("33 chars", "q" * 33), ("unicode", "héllo wörld — 中文 — emoji 🚀🌍 — ÄÖÜß"),
                     ("long 600 chars", "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ")
                                                for _ in range(600))),
                     ("json", '{"address":"0xabc","nonce":"1","tokenId":255}')):
        case(f"string {label}", ["string"], [s])

    # --- arrays
    case("uint8[] empty", ["uint8[]"], [[]])
    case("uint8[] token ids", ["uint8[]"], [[0, 1, 2, 254, 255]])
    case("uint256[] mixed", ["uint256[]"], [[0, 1, UINT256_MAX, 10**18]])
    case("address[] empty", ["address[]"], [[]])
    case("address[] three", ["address[]"], [[rand_address(rng) for _ in range(3)]])
    case("uint256[3] static", ["uint256[3]"], [[1, 2, 3]])
    case("bool[2] static", ["bool[2]"], [[True, False]])
    case("string[] empty", ["string[]"], [[]])
    case("string[] mixed", ["string[]"], [["", "a", "q" * 33, "中文"]])
    case("string[2] fixed of dynamic", ["string[2]"], [["first", ""]])
    case("bytes[] mixed", ["bytes[]"], [[b"", b"\x01", rand_bytes(rng, 40)]])
    case("uint256[][] nested", ["uint256[][]"], [[[1, 2], [], [3]]])
    case("uint256[][] empty outer", ["uint256[][]"], [[]])
    case("string[][] nested", ["string[][]"], [[["a", "b"], [], ["", "long " * 10]]])
    case("uint256[2][] static in dynamic", ["uint256[2][]"], [[[1, 2], [3, 4], [5, 6]]])
    case("uint256[][2] dynamic in static", ["uint256[][2]"], [[[1], [2, 3]]])
    case("address[][] nested", ["address[][]"], [[[rand_address(rng)], [rand_address(rng), rand_address(rng)]]])

    # --- tuples
    case("tuple static (uint256,bool,address)", ["(uint256,bool,address)"], [[7, True, rand_address(rng)]])
    case("tuple (address,string)", ["(address,string)"], [[rand_address(rng), "inference-v1.0"]])
    case("tuple (uint256,bytes,bool)", ["(uint256,bytes,bool)"], [[5, rand_bytes(rng, 37), False]])
    case("tuple nested (string,(uint256,string[]))", ["(string,(uint256,string[]))"],
         [["outer", [9, ["x", "", "yz"]]]])
    case("tuple empty strings", ["(string,string,string)"], [["", "", ""]])
    case("(address,string)[] empty", ["(address,string)[]"], [[]])
    case("(address,string)[] one", ["(address,string)[]"], [[[rand_address(rng), "one"]]])
    case("(address,string)[] three", ["(address,string)[]"],
         [[[rand_address(rng), s] for s in ("", "two", "three " * 12)]])
    case("(uint256,bool)[2] static tuple array", ["(uint256,bool)[2]"], [[[1, True], [2, False]]])
    case("(uint256,string)[2] dynamic tuple fixed array", ["(uint256,string)[2]"], [[[1, "a"], [2, ""]]])
    case("multiple params mixed", ["uint256", "string", "address[]", "bool", "bytes", "bytes32"],
         [42, "mixed", [rand_address(rng), rand_address(rng)], True, b"\xde\xad\xbe\xef", k256(b"x")])

    # --- 0G structs, type strings built from the ABI JSON
    S = structs
    user = to_checksum_address("0x" + "c0ffee" + "00" * 17)
    providers = [rand_address(rng) for _ in range(4)]
    tee_signers = [rand_address(rng) for _ in range(4)]
    models = ["phala/gpt-oss-120b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "qwen/qwen-2.5-7b-instruct",
              "openai/whisper-large-v3"]
    stypes = ["chatbot", "chatbot", "chatbot", "speech-to-text"]

    def additional_info(i):
        return json.dumps({"VerifierURL": "", "TargetSeparated": bool(i % 2), "TEEVerifier": "dstack",
                           "TargetTeeAddress": tee_signers[i] if i % 2 else "",
                           "ImageName": "", "ImageDigest": "", "ProviderType": "decentralized"},
                          separators=(",", ":"))

    def service(i):
        # Service field order is checked against the ABI below.
        return [providers[i], stypes[i], f"https://compute-{i}.provider.example:8443",
                50_000_000_000 * (i + 1), 100_000_000_000 * (i + 1), 1_760_000_000 + 3600 * i,
                models[i], "TeeML", additional_info(i), tee_signers[i], i != 2]

    def refund(j):
        return [j, 10**18 * (j + 1) // 2, 1_765_000_000 + 86400 * j, j == 0]

    def account(i, nref):
        refs = [refund(j) for j in range(nref)]
        pending = sum(r[1] for r in refs if not r[3])
        return [user, providers[i], 12 + i, 5 * 10**18 + i, pending, refs,
                "" if i % 2 == 0 else '{"note":"sub-account"}', True, nref, i, (1 << 255) | (1 << 3) | 1 if i else 0]

    def ledger(i):
        return [user if i == 0 else rand_address(rng), 7 * 10**18 - i, 10 * 10**18 + i, "" if i == 0 else f"info {i}"]

    def service_info(i):
        return [[INFERENCE_MAINNET, rand_address(rng)][i % 2], [INFERENCE_MAINNET, rand_address(rng)][i % 2],
                ["inference", "fine-tuning"][i % 2], "v1.0", ["inference-v1.0", "fine-tuning-v1.0"][i % 2],
                ["Inference serving", "Fine-tuning serving — beta"][i % 2], i == 0, 1_750_000_000 + i]

    def tee_settlement(i):
        return [user, providers[i], 123_456_789_000 * (i + 1), k256(b"requests %d" % i), 100 + i,
                rand_bytes(rng, 65)]

    def service_params(i):
        return [stypes[i], f"https://compute-{i}.provider.example:8443", models[i], "TeeML",
                50_000_000_000, 100_000_000_000, additional_info(i), tee_signers[i]]

    # verify our value layouts match the ABI component types
    for sname, fn in (("Service", service), ("Account", lambda i: account(i, 1)), ("Refund", refund),
                      ("Ledger", ledger), ("ServiceInfo", service_info),
                      ("TEESettlementData", tee_settlement), ("ServiceParams", service_params)):
        abi_encode([S[sname]], [fn(0)])  # raises if shapes/types disagree

    case("0G Service (getService return)", [S["Service"]], [service(0)])
    case("0G Service unacknowledged", [S["Service"]], [service(2)])
    case("0G Service[] empty + total (getAllServices return)", [S["Service"] + "[]", "uint256"], [[], 0])
    case("0G Service[] one + total (getAllServices return)", [S["Service"] + "[]", "uint256"], [[service(0)], 1])
    case("0G Service[] four + total (getAllServices return)", [S["Service"] + "[]", "uint256"],
         [[service(i) for i in range(4)], 57])
    for nref in (0, 1, 3):
        case(f"0G Account with {nref} refunds (getAccount return)", [S["Account"]], [account(nref % 4, nref)])
    case("0G Account[] empty + total (getAccountsByUser return)", [S["Account"] + "[]", "uint256"], [[], 0])
    case("0G Account[] + total (getAccountsByUser return)", [S["Account"] + "[]", "uint256"],
         [[account(0, 0), account(1, 3), account(2, 1)], 3])
    case("0G Refund[]", [S["Refund"] + "[]"], [[refund(j) for j in range(3)]])
    case("0G Ledger (getLedger return)", [S["Ledger"]], [ledger(0)])
    case("0G Ledger[] + total (getAllLedgers return)", [S["Ledger"] + "[]", "uint256"],
         [[ledger(0), ledger(1)], 2])
    case("0G ServiceInfo (getServiceInfo return)", [S["ServiceInfo"]], [service_info(0)])
    case("0G ServiceInfo[] (getAllActiveServices return)", [S["ServiceInfo"] + "[]"],
         [[service_info(0), service_info(1)]])
    case("0G ServiceInfo[] empty", [S["ServiceInfo"] + "[]"], [[]])
    case("0G TEESettlementData[]", [S["TEESettlementData"] + "[]"], [[tee_settlement(i) for i in range(2)]])
    case("0G ServiceParams", [S["ServiceParams"]], [service_params(0)])
    case("0G getRecommendedService return (string,address)", ["string", "address"], ["v1.0", INFERENCE_MAINNET])
    case("0G getLedgerProviders return (address[])", ["address[]"], [providers[:3]])
    case("0G previewSettlementResults return", ["address[]", "uint8[]", "address[]", "uint256[]"],
         [[providers[0]], [4], [providers[1]], [777]])

    # --- calls: every function of both ABIs
    user_facing = {
        "LedgerManager": {"addLedger", "depositFund", "depositFundFor", "refund", "transferFund", "retrieveFund",
                          "deleteLedger", "updateAdditionalInfo", "getLedger", "getAllLedgers",
                          "getLedgerProviders", "getServiceInfo", "getServiceAddressByName",
                          "getAllActiveServices", "getRecommendedService", "getAllVersions",
                          "isRecommendedVersion", "MIN_ACCOUNT_BALANCE", "MIN_TRANSFER_AMOUNT"},
        "InferenceServing": {"getAllServices", "getService", "serviceExists", "getAccount", "accountExists",
                             "getAccountsByUser", "getPendingRefund", "lockTime", "acknowledgeTEESigner",
                             "revokeToken", "revokeTokens", "revokeAllTokens", "isTokenRevoked"},
    }
    p0, p1, p2 = providers[0], providers[1], providers[2]
    overrides = {
        ("LedgerManager", "addLedger"): [[""], ['{"source":"zgproxy"}']],
        ("LedgerManager", "depositFundFor"): [[user]],
        ("LedgerManager", "refund"): [[10**18], [UINT256_MAX]],
        ("LedgerManager", "transferFund"): [[p0, "inference-v1.0", 10**18], [p1, "inference-v1.0", 2 * 10**18 + 1]],
        ("LedgerManager", "retrieveFund"): [[[p0], "inference-v1.0"], [[p0, p1, p2], "inference-v1.0"],
                                            [[], "inference-v1.0"]],
        ("LedgerManager", "updateAdditionalInfo"): [["hello"]],
        ("LedgerManager", "getLedger"): [[user]],
        ("LedgerManager", "getAllLedgers"): [[0, 50]],
        ("LedgerManager", "getLedgerProviders"): [[user, "inference-v1.0"]],
        ("LedgerManager", "getServiceInfo"): [[INFERENCE_MAINNET]],
        ("LedgerManager", "getServiceAddressByName"): [["inference-v1.0"]],
        ("LedgerManager", "getRecommendedService"): [["inference"]],
        ("LedgerManager", "getAllVersions"): [["inference"]],
        ("LedgerManager", "isRecommendedVersion"): [["inference", "v1.0"]],
        ("InferenceServing", "getAllServices"): [[0, 50], [50, 50], [0, 0]],
        ("InferenceServing", "getService"): [[p0]],
        ("InferenceServing", "serviceExists"): [[p0]],
        ("InferenceServing", "getAccount"): [[user, p0]],
        ("InferenceServing", "accountExists"): [[user, p0]],
        ("InferenceServing", "getAccountsByUser"): [[user, 0, 50], [user, 50, 50]],
        ("InferenceServing", "getPendingRefund"): [[user, p0]],
        ("InferenceServing", "acknowledgeTEESigner"): [[p0, True], [p0, False]],
        ("InferenceServing", "revokeToken"): [[p0, 0], [p0, 254]],
        ("InferenceServing", "revokeTokens"): [[p0, [0, 1, 2]], [p0, []]],
        ("InferenceServing", "revokeAllTokens"): [[p0]],
        ("InferenceServing", "isTokenRevoked"): [[user, p0, 7]],
        ("InferenceServing", "addOrUpdateService"): [[service_params(0)]],
        ("InferenceServing", "settleFeesWithTEE"): [[[tee_settlement(0), tee_settlement(1)]]],
        ("InferenceServing", "previewSettlementResults"): [[[tee_settlement(2)]]],
    }
    calls = []
    for cname, abi in (("LedgerManager", ledger_abi), ("InferenceServing", inference_abi)):
        for e in abi:
            if e["type"] != "function":
                continue
            sig = signature_of(e)
            assert sig == abi_to_signature(e), (sig, abi_to_signature(e))
            sel = k256(sig.encode())[:4]
            assert sel == function_abi_to_4byte_selector(e)
            types = [canonical_type(p) for p in e["inputs"]]
            out_types = [canonical_type(p) for p in e.get("outputs", [])]
            arg_sets = overrides.get((cname, e["name"])) or [[sample_value(t, rng) for t in types]]
            for args in arg_sets:
                data = sel + abi_encode(types, args)
                check_abi_roundtrip(types, args, data[4:])
                calls.append({
                    "contract": cname,
                    "function": e["name"],
                    "stateMutability": e["stateMutability"],
                    "userFacing": e["name"] in user_facing[cname],
                    "signature": sig,
                    "selector": hx(sel),
                    "types": types,
                    "outputTypes": out_types,
                    "args": [to_abi_json(t, a) for t, a in zip(types, args)],
                    "calldata": hx(data),
                })
    for cname, names_ in user_facing.items():
        have = {c["function"] for c in calls if c["contract"] == cname}
        assert names_ <= have, names_ - have
    assert any(c["signature"] == "getAllServices(uint256,uint256)" and c["selector"] == "0xa09cfca9" for c in calls)

    # --- decode failures
    W = word
    valid_service = abi_encode([S["Service"]], [service(0)])
    valid_account = abi_encode([S["Account"]], [account(1, 3)])
    valid_services = abi_encode([S["Service"] + "[]", "uint256"], [[service(0), service(1)], 2])
    candidates = [
        ("string offset points past end", ["string"], W(0x40) + W(0), "offset beyond data"),
        ("bytes offset points far past end", ["bytes"], W(0x1000), "offset beyond data"),
        ("tuple offset points past end", ["(uint256,string)"], W(0x1000), "offset beyond data"),
        ("offset 2^255", ["string"], W(2**255), "offset beyond data"),
        ("uint256[] length larger than data", ["uint256[]"], W(0x20) + W(5) + W(1) + W(2), "array length exceeds data"),
        ("address[] length 2^255", ["address[]"], W(0x20) + W(2**255), "array length exceeds data"),
        ("string[] length larger than data", ["string[]"], W(0x20) + W(3) + W(0x60), "array length exceeds data"),
        ("uint256[][] inner length too large", ["uint256[][]"], W(0x20) + W(1) + W(0x20) + W(9) + W(1),
         "array length exceeds data"),
        ("string length 2^255", ["string"], W(0x20) + W(2**255), "string length exceeds data"),
        ("bytes length larger than data", ["bytes"], W(0x20) + W(33) + b"\x01" * 32, "bytes length exceeds data"),
        ("empty data for uint256", ["uint256"], b"", "data shorter than head"),
        ("data shorter than head (2 words expected, 1 given)", ["uint256", "uint256"], W(1), "data shorter than head"),
        ("data shorter than head (31 bytes)", ["uint256"], b"\x00" * 31, "data shorter than head"),
        ("static tuple shorter than head", ["(uint256,address,bool)"], W(1) + W(2), "data shorter than head"),
        ("bool value 2", ["bool"], W(2), "bool must be 0 or 1"),
        ("bool value 2^255", ["bool"], W(2**255), "bool must be 0 or 1"),
        ("address with dirty high bytes", ["address"], W(2**160 + 1), "address padding not zero"),
        ("uint8 value 256", ["uint8"], W(256), "value exceeds uint8"),
        ("uint64 with dirty high bits", ["uint64"], W(2**64), "value exceeds uint64"),
        ("int8 value 128 (bad sign extension)", ["int8"], W(0x80), "int8 not sign-extended"),
        ("int8 negative with zero high bytes", ["int8"], W(0xFF), "int8 not sign-extended"),
        ("bytes4 with non-zero padding", ["bytes4"], b"abcd" + b"\x01" + b"\x00" * 27, "bytesN padding not zero"),
        ("bytes with non-zero padding", ["bytes"], W(0x20) + W(1) + b"\x61\x01" + b"\x00" * 30, "bytes padding not zero"),
        ("string invalid UTF-8", ["string"], W(0x20) + W(1) + b"\xff" + b"\x00" * 31, "string is not valid UTF-8 "
         "(eth_abi refuses; a decoder returning raw bytes may accept)"),
        ("Service truncated by one word", [S["Service"]], valid_service[:-32], "truncated struct"),
        ("Account truncated by one word", [S["Account"]], valid_account[:-32], "truncated struct"),
        ("Account truncated to its head", [S["Account"]], valid_account[:32 * 12], "truncated struct"),
        ("Service[] truncated in second element", [S["Service"] + "[]", "uint256"], valid_services[:len(valid_services) // 2 + 40],
         "truncated struct array"),
        ("Service[] element offset past end", [S["Service"] + "[]", "uint256"],
         valid_services[:0x40] + W(1) + W(0xFFFF) + valid_services[0x80:], "offset beyond data"),
        ("Account refunds length too large", [S["Account"]],
         None, "array length exceeds data"),
    ]
    # build the last candidate: patch the Refund[] length word inside a valid Account
    acct = bytearray(valid_account)
    # head word 5 of the Account tuple (after the outer 0x20 offset) is the refunds offset
    refunds_off = 0x20 + int.from_bytes(acct[0x20 + 5 * 32:0x20 + 6 * 32], "big")
    assert int.from_bytes(acct[refunds_off:refunds_off + 32], "big") == 3
    acct[refunds_off:refunds_off + 32] = W(1000)
    candidates[-1] = (candidates[-1][0], candidates[-1][1], bytes(acct), candidates[-1][3])
    # a few candidates that eth_abi is known to accept; kept here to document that they are dropped
    candidates += [
        ("non-32-byte-aligned offset", ["string"], W(0x21) + b"\x00" + W(1) + b"a" + b"\x00" * 31, "unaligned offset"),
        ("trailing garbage after data", ["uint256"], W(1) + b"\x01", "trailing bytes"),
    ]
    failures = []
    for name, types, data, reason in candidates:
        try:
            abi_decode(types, data)
        except Exception as exc:  # noqa: BLE001 - eth_abi raises several kinds
            failures.append({"name": name, "types": types, "data": hx(data), "reason": reason,
                             "ethAbiError": type(exc).__name__})
        else:
            print(f"  abi decodeFailures: eth_abi accepts {name!r}; not included")

    write_json("abi.json", {
        "notes": "Each case's 'encoded' is eth_abi.encode(types, values): the ABI encoding of the parameter tuple "
                 "(function arguments without a selector, or function return data). Values: uintN/intN -> decimal "
                 "string, address -> EIP-55 string, bool -> true/false, bytesN/bytes -> 0x-hex, string -> JSON string, "
                 "arrays -> JSON arrays, tuples -> JSON arrays of components in order. 0G struct tuple types are "
                 "built from the deployed ABI JSON. calls[].calldata = selector || encode(types, args); "
                 "'outputTypes' are the function's return types. decodeFailures: eth_abi.decode(types, data) "
                 "(strict mode) raises; 'ethAbiError' is the Python exception class.",
        "structs": {k: structs[k] for k in sorted(structs)},
        "cases": cases,
        "calls": calls,
        "decodeFailures": failures,
    })
    return ledger_abi, inference_abi


# ---------------------------------------------------------------------------
# 4. selectors.json
# ---------------------------------------------------------------------------

# Selectors quoted in PROTOCOL.md, cross-checked against the ABI files here.
DOC_SELECTORS = {
    "addLedger(string)": "c5e53f7e", "depositFund()": "8d0d8cb6", "depositFundFor(address)": "f585f3ea",
    "refund(uint256)": "278ecde1", "transferFund(address,string,uint256)": "2ba43b82",
    "retrieveFund(address[],string)": "31404a19", "deleteLedger()": "410b3815",
    "getLedger(address)": "f7cd6af9", "getAllLedgers(uint256,uint256)": "987086f0",
    "getServiceInfo(address)": "e032f732", "getAllServices(uint256,uint256)": "a09cfca9",
    "getService(address)": "15a52302", "getAccount(address,address)": "fd590847",
    "accountExists(address,address)": "147500e3", "getAccountsByUser(address,uint256,uint256)": "4fe63f4d",
    "acknowledgeTEESigner(address,bool)": "7ff6fc1c", "revokeToken(address,uint8)": "1d07cb97",
    "revokeTokens(address,uint8[])": "17c30a03", "revokeAllTokens(address)": "cab33d8f",
    "isTokenRevoked(address,address,uint8)": "405a85e8", "lockTime()": "0d668087",
    "LedgerNotExists(address)": "7d2d536b", "InsufficientAvailableBalance(uint256,uint256)": "adb9e043",
    "AccountNotExists(address,address)": "08ca03ac", "ServiceNotExist(address)": "098eda7e",
    "Error(string)": "08c379a0", "Panic(uint256)": "4e487b71",
}
DOC_TOPICS = {
    "BalanceUpdated(address,address,uint256,uint256)": "526824944047da5b81071fb6349412005c5da81380b336103fbe5dd34556c776",
    "RefundRequested(address,address,uint256,uint256)": "54377dfdebf06f6df53fbda737d2dcd7e141f95bbfb0c1223437e856b9de3ac3",
    "FundSpent(address,address,uint256)": "6f81b9cf4ed9328799879be7651da4420ab1bc260b34ea71f72e9659aa548e68",
}


def gen_selectors(ledger_abi, inference_abi):
    functions, events, errors = [], [], []
    for cname, abi in (("LedgerManager", ledger_abi), ("InferenceServing", inference_abi)):
        for e in abi:
            if e["type"] not in ("function", "event", "error"):
                continue
            sig = signature_of(e)
            h = k256(sig.encode())
            if e["type"] == "function":
                assert h[:4] == function_abi_to_4byte_selector(e)
                functions.append({"contract": cname, "signature": sig, "selector": hx(h[:4])})
            elif e["type"] == "event":
                assert h == event_abi_to_log_topic(e)
                events.append({"contract": cname, "signature": sig, "topic": hx(h),
                               "anonymous": bool(e.get("anonymous", False)),
                               "indexed": [bool(p.get("indexed", False)) for p in e["inputs"]]})
            else:
                errors.append({"contract": cname, "signature": sig, "selector": hx(h[:4])})
    for sig in ("Error(string)", "Panic(uint256)"):
        errors.append({"contract": "builtin", "signature": sig, "selector": hx(k256(sig.encode())[:4])})

    table = {x["signature"]: x["selector"][2:] for x in functions + errors}
    for sig, sel in DOC_SELECTORS.items():
        assert table.get(sig) == sel, (sig, table.get(sig), sel)
    topics = {x["signature"]: x["topic"][2:] for x in events}
    for sig, t in DOC_TOPICS.items():
        assert topics.get(sig) == t, sig

    write_json("selectors.json", {
        "notes": "Every function, event and error of LedgerManager.json and InferenceServing.json, plus the "
                 "built-in Error(string) and Panic(uint256). selector = keccak256(signature)[0:4]; event topic = "
                 "keccak256(signature). Tuples are expanded as (..). The same signature can appear for both contracts.",
        "functions": functions,
        "events": events,
        "errors": errors,
    })


# ---------------------------------------------------------------------------
# 5. keys.json
# ---------------------------------------------------------------------------

EIP55_EXAMPLES = [
    # all caps
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    # all lower
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    # normal
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


def key_entry(priv: bytes):
    pk = KEYS.PrivateKey(priv)
    pub = b"\x04" + pk.public_key.to_bytes()
    addr = to_checksum_address(k256(pub[1:])[-20:])
    assert addr == Account.from_key(priv).address == pk.public_key.to_checksum_address()
    return {"privateKey": hx(priv), "publicKey": hx(pub),
            "publicKeyCompressed": hx(pk.public_key.to_compressed_bytes()), "address": addr}


def gen_keys():
    rng = random.Random(0x6B657973)  # "keys"
    keys = [key_entry(i.to_bytes(32, "big")) for i in (1, 2, 3, SECP256K1_N - 1, SECP256K1_N - 2)]
    # well-known: private key 1 -> generator point
    assert keys[0]["publicKey"] == ("0x0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                                    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")
    assert keys[0]["address"] == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    keys += [key_entry(rand_privkey(rng)) for _ in range(50)]

    checksums = []
    for a in EIP55_EXAMPLES:
        assert to_checksum_address(a.lower()) == a
        checksums.append({"lower": a.lower(), "checksummed": a})
    for raw in (b"\x00" * 20, b"\xff" * 20):
        checksums.append({"lower": hx(raw), "checksummed": to_checksum_address(raw)})
    for _ in range(200):
        raw = rand_bytes(rng, 20)
        checksums.append({"lower": hx(raw), "checksummed": to_checksum_address(raw)})

    write_json("keys.json", {
        "notes": "secp256k1 keys: publicKey is uncompressed 0x04||X||Y (65 bytes); address = last 20 bytes of "
                 "keccak256(X||Y), EIP-55 checksummed. Includes private keys 1, 2, 3, n-1 and n-2. "
                 "checksums: EIP-55 (the first 8 are the EIP's own examples).",
        "keys": keys,
        "checksums": checksums,
    })


# ---------------------------------------------------------------------------
# 6. signatures.json
# ---------------------------------------------------------------------------


def gen_signatures():
    rng = random.Random(0x736967)  # "sig"

    # RFC 6979 known answer for secp256k1/SHA-256 (key 1, sha256("Satoshi Nakamoto")), low-s form
    so = Account.unsafe_sign_hash(hashlib.sha256(b"Satoshi Nakamoto").digest(), (1).to_bytes(32, "big"))
    assert so.r == 0x934B1EA10A4B3C1757E2B0C017D0B6143CE3C9A7E6A4A49860D7A6AB210EE3D8
    assert so.s == 0x2442CE9D2B916064108014783E923EC36B49743E2FFA1C4496F01A512AAFD9E5

    special_keys = [1, 2, SECP256K1_N - 1]
    hash_sigs = []
    special_hashes = [b"\x00" * 32, b"\xff" * 32, word(1), word(SECP256K1_N - 1), word(SECP256K1_N),
                      word(SECP256K1_N + 1), hashlib.sha256(b"Satoshi Nakamoto").digest(), k256(b"")]
    for i in range(100):
        priv = (special_keys[i].to_bytes(32, "big") if i < len(special_keys) else rand_privkey(rng))
        h = special_hashes[i % len(special_hashes)] if i < 2 * len(special_hashes) else rand_bytes(rng, 32)
        so = Account.unsafe_sign_hash(h, priv)
        rec_id = so.v - 27
        assert rec_id in (0, 1) and so.s * 2 < SECP256K1_N
        sig = word(so.r) + word(so.s) + bytes([so.v])
        assert bytes(so.signature) == sig
        addr = Account.from_key(priv).address
        assert KEYS.Signature(vrs=(rec_id, so.r, so.s)).recover_public_key_from_msg_hash(h) \
            .to_checksum_address() == addr
        hash_sigs.append({"privateKey": hx(priv), "address": addr, "hash": hx(h), "r": hx(word(so.r)),
                          "s": hx(word(so.s)), "v": rec_id, "signature": hx(sig)})

    personal = []

    def add_personal(priv, msg: bytes, text=None, extra=None):
        signable = encode_defunct(text=text) if text is not None else encode_defunct(primitive=msg)
        digest = k256(b"\x19Ethereum Signed Message:\n" + str(len(msg)).encode() + msg)
        so = Account.sign_message(signable, priv)
        assert bytes(so.message_hash) == digest
        sig = word(so.r) + word(so.s) + bytes([so.v])
        assert bytes(so.signature) == sig and so.v in (27, 28)
        addr = Account.from_key(priv).address
        assert Account.recover_message(signable, signature=sig) == addr
        e = {"privateKey": hx(priv), "address": addr}
        if text is not None:
            assert text.encode("utf-8") == msg
            e["text"] = text
        else:
            e["messageHex"] = hx(msg)
        e.update({"digest": hx(digest), "signature": hx(sig)})
        if extra:
            e.update(extra)
        personal.append(e)

    # 0G G3 session tokens: personal_sign over the 32-byte keccak of the JSON (PROTOCOL.md §3.2)
    for i in range(30):
        priv = rand_privkey(rng)
        user = Account.from_key(priv).address
        ts = 1_767_225_600_000 + rng.randrange(0, 10**10)
        token_id = 255 if i % 3 else rng.randint(0, 254)
        expires = ts + 86_400_000 if token_id == 255 else rng.choice([0, ts + 30 * 86_400_000])
        nonce = rand_bytes(rng, 16).hex() if i % 2 else f"{ts}-{rng.getrandbits(40):x}".ljust(32, "0")
        token = json.dumps({"address": user, "provider": rand_address(rng), "timestamp": ts,
                            "expiresAt": expires, "nonce": nonce, "generation": rng.choice([0, 0, 1, 7]),
                            "tokenId": token_id}, separators=(",", ":"))
        h = k256(token.encode())
        signable = encode_defunct(primitive=h)
        so = Account.sign_message(signable, priv)
        sig_hex = hx(word(so.r) + word(so.s) + bytes([so.v]))
        auth = "Bearer app-sk-" + base64.b64encode(token.encode() + b"|" + sig_hex.encode()).decode()
        add_personal(priv, h, extra={"sessionToken": token, "authorization": auth})

    texts = ["", "hello", "Hello, 0G!", "héllo wörld", "中文签名测试", "emoji 🚀🔐", "line1\nline2\r\n",
             "0x1234", "a" * 100, "x" * 1000,
             hashlib.sha256(b"req").hexdigest() + ":" + hashlib.sha256(b"resp").hexdigest()]
    for i in range(70):
        priv = special_keys[i].to_bytes(32, "big") if i < 3 else rand_privkey(rng)
        if i % 2 == 0:
            t = texts[(i // 2) % len(texts)] if i // 2 < len(texts) else \
                "".join(rng.choice("abcxyz 0123 äöü 中文 🚀\n") for _ in range(rng.randint(0, 80)))
            add_personal(priv, t.encode("utf-8"), text=t)
        else:
            n = [0, 1, 31, 32, 33, 100, 1000][i // 2 % 7] if i < 15 else rng.randint(0, 120)
            add_personal(priv, rand_bytes(rng, n))

    write_json("signatures.json", {
        "notes": "hashSignatures: eth-account unsafe_sign_hash over the raw 32-byte hash (RFC 6979 "
                 "HMAC-SHA256 nonce over (privateKey, hash mod n), low-s normalised); v is the recovery id 0/1 and "
                 "signature is r||s||(27+v). Hashes >= n are included (reduce mod n for the nonce and for z). "
                 "personalSign: EIP-191 digest = keccak256('\\x19Ethereum Signed Message:\\n' + decimal length + "
                 "message); 'text' entries sign the UTF-8 bytes of text, 'messageHex' entries sign raw bytes; "
                 "signature is r||s||v with v 27/28. Entries with 'sessionToken' are 0G G3 tokens: messageHex = "
                 "keccak256(utf8(sessionToken)) and authorization = 'Bearer app-sk-' + base64(sessionToken + '|' + "
                 "signature hex).",
        "hashSignatures": hash_sigs,
        "personalSign": personal,
    })


# ---------------------------------------------------------------------------
# 7. transactions.json
# ---------------------------------------------------------------------------


def gen_transactions():
    rng = random.Random(0x7478)  # "tx"
    chain_ids = [1, 16602, 16661, 31337]
    long_data = rand_bytes(rng, 3000)
    real_calls = [
        bytes.fromhex("2ba43b82") + abi_encode(["address", "string", "uint256"],
                                                [rand_address(rng), "inference-v1.0", 10**18]),
        bytes.fromhex("c5e53f7e") + abi_encode(["string"], [""]),
        bytes.fromhex("8d0d8cb6"),
        bytes.fromhex("7ff6fc1c") + abi_encode(["address", "bool"], [rand_address(rng), True]),
    ]
    txs = []
    for i in range(60):
        typ = "legacy" if i % 2 == 0 else "eip1559"
        chain_id = chain_ids[(i // 2) % 4]
        priv = rand_privkey(rng)
        nonce = rng.choice([0, 1, 2, rng.randint(3, 10**6)])
        gas = rng.choice([21000, 100000, 250000, 3_000_000])
        to = rand_address(rng)
        value = rng.choice([0, 1, 10**18, 3 * 10**18, rng.getrandbits(80)])
        data = b""
        access = []
        # special cases by index
        k = i // 2
        if k == 0:
            to, data, gas = None, bytes.fromhex("6080604052348015600f57600080fd5b50"), 500000  # contract creation
        elif k == 1:
            value, data = 0, b""
        elif k == 2:
            value = UINT256_MAX
        elif k == 3:
            data, gas = long_data, 5_000_000
        elif k == 4:
            nonce, gas = 2**64 - 2, 2**64 - 1
        elif k == 5:
            to, data, value = LEDGER_MAINNET, real_calls[0], 0
        elif k == 6:
            to, data, value = LEDGER_MAINNET, real_calls[1], 3 * 10**18
        elif k == 7:
            to, data, value = LEDGER_MAINNET, real_calls[2], 5 * 10**18
        elif k == 8:
            to, data, value = INFERENCE_MAINNET, real_calls[3], 0
        elif k == 9:
            to, data = None, long_data[:600]
        elif rng.random() < 0.5:
            data = rand_bytes(rng, rng.randint(1, 200))
        if typ == "eip1559" and k >= 10 and k % 2 == 0:
            access = [{"address": rand_address(rng),
                       "storageKeys": [hx(rand_bytes(rng, 32)) for _ in range(rng.randint(0, 3))]}
                      for _ in range(rng.randint(1, 3))]
        if typ == "eip1559" and k == 4:
            access = [{"address": rand_address(rng), "storageKeys": []}]

        tx = {"chainId": chain_id, "nonce": nonce, "gas": gas, "value": value, "data": data}
        if to is not None:
            tx["to"] = to
        if typ == "legacy":
            gas_price = rng.choice([0, 1, 10**9, 4 * 10**9, 2**64 + 5]) if k != 2 else UINT256_MAX
            tx["gasPrice"] = gas_price
        else:
            prio = rng.choice([0, 1, 10**9, 2 * 10**9])
            max_fee = prio + rng.choice([0, 10**9, 5 * 10**10])
            if k == 2:
                prio, max_fee = UINT256_MAX, UINT256_MAX
            tx.update({"type": 2, "maxPriorityFeePerGas": prio, "maxFeePerGas": max_fee,
                       "accessList": [{"address": a["address"], "storageKeys": list(a["storageKeys"])}
                                      for a in access]})
        signed = Account.sign_transaction(tx, priv)
        sender = Account.from_key(priv).address
        raw = bytes(signed.raw_transaction)
        to_b = b"" if to is None else unhx(to.lower())
        al_rlp = [[unhx(a["address"].lower()), [unhx(s) for s in a["storageKeys"]]] for a in access]

        # independent signing hash and raw encoding
        if typ == "legacy":
            fields = [nonce, gas_price, gas, to_b, value, data]
            signing_hash = k256(rlp.encode(fields + [chain_id, 0, 0]))
            y_parity = signed.v - (35 + 2 * chain_id)
            expected_raw = rlp.encode(fields + [signed.v, signed.r, signed.s])
        else:
            fields = [chain_id, nonce, prio, max_fee, gas, to_b, value, data, al_rlp]
            signing_hash = k256(b"\x02" + rlp.encode(fields))
            y_parity = signed.v
            expected_raw = b"\x02" + rlp.encode(fields + [signed.v, signed.r, signed.s])
        assert y_parity in (0, 1)
        assert raw == expected_raw, i
        assert bytes(signed.hash) == k256(raw)
        assert Account.recover_transaction(raw) == sender
        assert KEYS.Signature(vrs=(y_parity, signed.r, signed.s)).recover_public_key_from_msg_hash(
            signing_hash).to_checksum_address() == sender, i
        # and the deterministic signature over our signing hash is exactly what eth-account produced
        so = Account.unsafe_sign_hash(signing_hash, priv)
        assert (so.r, so.s, so.v - 27) == (signed.r, signed.s, y_parity)

        entry = {"privateKey": hx(priv), "from": sender, "type": typ, "chainId": chain_id, "nonce": str(nonce)}
        if typ == "legacy":
            entry["gasPrice"] = str(gas_price)
        else:
            entry["maxPriorityFeePerGas"] = str(prio)
            entry["maxFeePerGas"] = str(max_fee)
        entry.update({"gas": str(gas), "to": to, "value": str(value), "data": hx(data), "accessList": access,
                      "signingHash": hx(signing_hash), "v": signed.v, "r": hx(word(signed.r)),
                      "s": hx(word(signed.s)), "raw": hx(raw), "hash": hx(signed.hash)})
        txs.append(entry)

    write_json("transactions.json", {
        "notes": "Signed with eth-account Account.sign_transaction. legacy = EIP-155: signingHash = keccak256(rlp("
                 "[nonce,gasPrice,gas,to,value,data,chainId,0,0])), v = chainId*2+35+yParity, raw = rlp([nonce,"
                 "gasPrice,gas,to,value,data,v,r,s]). eip1559 = type 2: signingHash = keccak256(0x02 || rlp([chainId,"
                 "nonce,maxPriorityFeePerGas,maxFeePerGas,gas,to,value,data,accessList])), v = yParity (0/1), raw = "
                 "0x02 || rlp([...,yParity,r,s]). to = null is contract creation (RLP empty string). Integers are "
                 "RLP-encoded minimally (0 -> 0x80). accessList is always [] for legacy entries. nonce, gas, "
                 "gasPrice, fees and value are decimal strings; chainId and v are JSON numbers. hash = keccak256(raw).",
        "transactions": txs,
    })


# ---------------------------------------------------------------------------
# 8. amounts.json
# ---------------------------------------------------------------------------

AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]{1,18})?", re.ASCII)


def parse_amount(text: str) -> int:
    """Strict 0G amount grammar: DIGITS [ "." 1*18DIGITS ] (ASCII only), <= 2^256-1 neuron."""
    if not AMOUNT_RE.fullmatch(text):
        raise ValueError("syntax")
    whole, _, frac = text.partition(".")
    neuron = int(whole) * 10**18 + int(frac.ljust(18, "0") or "0")
    if neuron > UINT256_MAX:
        raise ValueError("overflow")
    return neuron


def format_amount(neuron: int) -> str:
    whole, frac = divmod(neuron, 10**18)
    frac_s = f"{frac:018d}".rstrip("0")
    return f"{whole}.{frac_s}" if frac_s else str(whole)


def gen_amounts():
    rng = random.Random(0x306730)  # "0g0"
    valid = []

    def ok(text):
        n = parse_amount(text)
        with localcontext() as ctx:
            ctx.prec = 200
            assert Decimal(text) * (10**18) == Decimal(n)
        canon = format_amount(n)
        assert parse_amount(canon) == n and format_amount(parse_amount(canon)) == canon
        valid.append({"text": text, "neuron": str(n), "canonical": canon})

    for t in ["0", "1", "1.5", "0.000000000000000001", "3", "10", "100", "0.1", "0.5", "2.25",
              "1.000000000000000000", "0.0", "00", "000.000", "01.50", "007", "1.10", "0.010000",
              "123456789.123456789123456789", "0.999999999999999999", "999999999999999999.999999999999999999",
              "1000000000000000000", "3.000000000000000001"]:
        ok(t)
    max_text = format_amount(UINT256_MAX)
    assert max_text == "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
    ok(max_text)
    ok("0" + max_text)
    ok(format_amount(UINT256_MAX // 10**18 * 10**18))
    ok(format_amount(2**128))
    for _ in range(40):
        ok(format_amount(rng.choice([rng.getrandbits(rng.randint(1, 256)), rng.randint(0, 10**22),
                                     rng.randint(1, 10**6) * 10**rng.randint(10, 18)])))

    invalid = []

    def bad(text, reason):
        try:
            parse_amount(text)
        except ValueError:
            invalid.append({"text": text, "reason": reason})
        else:
            raise AssertionError(text)

    for t, r in [("", "empty"), (" ", "whitespace"), (" 1", "leading whitespace"), ("1 ", "trailing whitespace"),
                 ("1\n", "trailing newline"), ("-1", "negative / sign"), ("+1", "sign not allowed"),
                 ("-0", "sign not allowed"),
                 ("1.0000000000000000001", "more than 18 fractional digits"),
                 ("0.0000000000000000000", "more than 18 fractional digits (even if all zero)"),
                 ("1e18", "exponent notation"), ("1E2", "exponent notation"), ("abc", "not a number"),
                 ("1.", "no digits after the decimal point"), (".5", "no digits before the decimal point"),
                 (".", "no digits"), ("1.2.3", "two decimal points"), ("1,5", "comma decimal separator"),
                 ("1,000", "thousands separator"), ("1_000", "underscore separator"), ("0x10", "hex"),
                 ("NaN", "not a number"), ("Infinity", "not a number"), ("1.5 0G", "unit suffix"),
                 ("\u0661", "non-ASCII digit (Arabic-Indic one)"), ("\uff11", "non-ASCII digit (fullwidth one)"),
                 (format_amount(UINT256_MAX + 1), "exceeds 2^256-1 neuron"),
                 ("115792089237316195423570985008687907853269984665640564039458", "exceeds 2^256-1 neuron"),
                 ("1" + "0" * 80, "exceeds 2^256-1 neuron")]:
        bad(t, r)

    write_json("amounts.json", {
        "notes": "0G amounts, 18 decimals (1 0G = 10^18 neuron). Grammar (ASCII only, no whitespace, no sign, "
                 "no exponent): DIGITS [ '.' DIGITS ] with 1 to 18 fractional digits. '.5' and '1.' are REJECTED "
                 "(a digit is required on both sides of the point); more than 18 fractional digits are rejected "
                 "even when the extra digits are zeros. Leading zeros in the integer part and trailing zeros in "
                 "the fraction are accepted. The value must be <= 2^256-1 neuron. canonical = the formatting of "
                 "neuron: integer part without leading zeros ('0' if zero), fraction with trailing zeros removed, "
                 "no '.' when the fraction is zero.",
        "valid": valid,
        "invalid": invalid,
    })


def main():
    gen_keccak()
    gen_rlp()
    ledger_abi, inference_abi = gen_abi()
    gen_selectors(ledger_abi, inference_abi)
    gen_keys()
    gen_signatures()
    gen_transactions()
    gen_amounts()
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE) if f.endswith(".json"))
    print(f"total JSON size: {total} bytes")
    if total >= 3 * 1024 * 1024:
        sys.exit("vectors exceed 3 MB")


if __name__ == "__main__":
    main()
