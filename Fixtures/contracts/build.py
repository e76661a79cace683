#!/usr/bin/env python3
"""Compile every Fixtures/contracts/*.vy into build/<Name>.json.

Output: {"abi": [...], "bytecode": "0x...", "methodIdentifiers": {...}}, written
with sorted keys so that the files are byte-for-byte reproducible.

Vyper 0.4.3 cannot declare custom errors, name return values, or tell a
`receive()` from a fallback. Each contract states those in comment lines, and
this script applies them to the ABI:

    # @abi-error Name(type name, ...)     an "error" entry (selector checked below)
    # @abi-outputs fn: name1, name2        names for fn's return values
    # @abi-receive                         __default__ is a receive(), not a fallback

It also checks every method_id("Capitalised(...)") in the source, i.e. every
custom error raised with raw_revert, against the declared errors, so that a
typo in a selector string fails the build instead of a test.

Usage: .venv/bin/python Fixtures/contracts/build.py [--check]
  --check  compile and compare with the committed build/ files; exit 1 on drift.
"""

import json
import re
import sys
from pathlib import Path

import vyper
from eth_utils import keccak

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"

ERROR_RE = re.compile(r"^#\s*@abi-error\s+(\w+)\((.*)\)\s*$")
OUTPUTS_RE = re.compile(r"^#\s*@abi-outputs\s+(\w+)\s*:\s*(.+?)\s*$")
RECEIVE_RE = re.compile(r"^#\s*@abi-receive\s*$")
METHOD_ID_RE = re.compile(r'method_id\(\s*"([A-Z]\w*)\(([^")]*)\)"\s*\)')


def parse_params(text):
    params = []
    text = text.strip()
    if not text:
        return params
    for part in text.split(","):
        bits = part.split()
        if len(bits) != 2:
            raise SystemExit(f"bad @abi-error parameter {part!r}")
        params.append({"name": bits[1], "type": bits[0]})
    return params


def annotations(source):
    errors, outputs, receive = {}, {}, False
    for line in source.splitlines():
        line = line.strip()
        m = ERROR_RE.match(line)
        if m:
            errors[m.group(1)] = parse_params(m.group(2))
            continue
        m = OUTPUTS_RE.match(line)
        if m:
            outputs[m.group(1)] = [n.strip() for n in m.group(2).split(",")]
            continue
        if RECEIVE_RE.match(line):
            receive = True
    return errors, outputs, receive


def check_raised_errors(name, source, errors):
    problems = []
    code = "\n".join(l for l in source.splitlines() if not l.lstrip().startswith("#"))
    for m in METHOD_ID_RE.finditer(code):
        ename, types = m.group(1), m.group(2).replace(" ", "")
        if ename not in errors:
            problems.append(f"{name}: method_id(\"{ename}({types})\") is not a declared @abi-error")
            continue
        declared = ",".join(p["type"] for p in errors[ename])
        if declared != types:
            problems.append(f"{name}: {ename}({types}) does not match the declared {ename}({declared})")
    return problems


def compile_one(path):
    source = path.read_text()
    out = vyper.compile_code(
        source,
        contract_path=path.name,
        output_formats=["abi", "bytecode", "method_identifiers"],
    )
    errors, outputs, receive = annotations(source)
    problems = check_raised_errors(path.name, source, errors)

    abi = []
    for item in out["abi"]:
        item = dict(item)
        if item.get("type") == "fallback" and receive:
            item = {"type": "receive", "stateMutability": "payable"}
        if item.get("type") == "constructor":
            item.pop("outputs", None)
        if item.get("type") == "function" and item["name"] in outputs:
            names = outputs.pop(item["name"])
            if len(names) != len(item["outputs"]):
                problems.append(f"{path.name}: @abi-outputs {item['name']} has {len(names)} names, "
                                f"the function returns {len(item['outputs'])} values")
            else:
                item["outputs"] = [dict(o, name=n) for o, n in zip(item["outputs"], names)]
        abi.append(item)
    for fn in outputs:
        problems.append(f"{path.name}: @abi-outputs names unknown function {fn}")
    for ename in sorted(errors):
        abi.append({"type": "error", "name": ename, "inputs": errors[ename]})

    # vyper prints selectors as hex integers ("0xd668087" for 0x0d668087): pad to 4 bytes
    method_ids = {sig: "0x" + format(int(sel, 16), "08x")
                  for sig, sel in out["method_identifiers"].items() if sig != "__default__()"}
    for ename, params in errors.items():
        sig = f"{ename}({','.join(p['type'] for p in params)})"
        method_ids[sig] = "0x" + keccak(text=sig)[:4].hex()

    bytecode = out["bytecode"]
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    artifact = {"abi": abi, "bytecode": bytecode, "methodIdentifiers": method_ids}
    return artifact, problems


def render(artifact):
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main(argv):
    check = "--check" in argv
    BUILD.mkdir(exist_ok=True)
    all_problems, drift = [], []
    for path in sorted(HERE.glob("*.vy")):
        artifact, problems = compile_one(path)
        all_problems += problems
        target = BUILD / f"{path.stem}.json"
        text = render(artifact)
        if check:
            if not target.exists() or target.read_text() != text:
                drift.append(target.name)
        else:
            target.write_text(text)
        size = (len(artifact["bytecode"]) - 2) // 2
        print(f"{path.name}: {size} bytes, {len(artifact['abi'])} ABI entries")
    for p in all_problems:
        print("ERROR:", p, file=sys.stderr)
    if drift:
        print("out of date:", ", ".join(drift), file=sys.stderr)
    return 1 if all_problems or drift else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
