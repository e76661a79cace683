"""A minimal Ethereum JSON-RPC client for the test fixtures.

Standard library + eth-account only. One keep-alive HTTP connection per Chain
(guarded by a lock, so a Chain may be shared between threads).

    chain = Chain("http://127.0.0.1:8545")
    chain.chain_id                                  # int
    chain.call(to, data, block="latest") -> bytes   # raises RevertError(.data)
    chain.send(private_key, to, data=b"", value=0, gas=None) -> receipt dict
    chain.deploy(private_key, bytecode, ctor_args_encoded=b"") -> address
    chain.balance(addr) -> int
    chain.rpc(method, params) -> result

Receipts are returned as the node sent them (hex strings), e.g.
receipt["status"] == "0x1", receipt["logs"], receipt["contractAddress"].
"""

import http.client
import itertools
import json
import socket
import threading
import time
import urllib.parse

from eth_account import Account

__all__ = ["Chain", "RPCError", "RevertError", "address_of", "to_checksum"]

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")   # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")          # Panic(uint256)


class RPCError(Exception):
    """A JSON-RPC error object: .code, .message, .data (raw, as sent)."""

    def __init__(self, code, message, data=None, method=None):
        super().__init__(f"{method or 'rpc'}: [{code}] {message}")
        self.code = code
        self.message = message
        self.data = data
        self.method = method


class RevertError(Exception):
    """Execution reverted. .data is the raw revert data (bytes, may be empty).

    .selector  the first 4 bytes (b"" when there are none)
    .reason    the decoded Error(string) message, or None
    .receipt   the receipt, when the revert came from a mined transaction
    """

    def __init__(self, data=b"", message="execution reverted", receipt=None):
        self.data = bytes(data or b"")
        self.message = message
        self.receipt = receipt
        self.selector = self.data[:4]
        self.reason = _decode_error_string(self.data)
        detail = self.reason if self.reason is not None else ("0x" + self.data.hex() if self.data else "no data")
        super().__init__(f"{message} ({detail})")


def _decode_error_string(data):
    if len(data) < 68 or data[:4] != ERROR_STRING_SELECTOR:
        return None
    try:
        length = int.from_bytes(data[36:68], "big")
        return data[68:68 + length].decode("utf-8", "replace")
    except Exception:  # pragma: no cover - malformed data
        return None


def _hex(b):
    if isinstance(b, str):
        return b if b.startswith("0x") else "0x" + b
    return "0x" + bytes(b).hex()


def _bytes(h):
    if h is None:
        return b""
    if isinstance(h, (bytes, bytearray)):
        return bytes(h)
    h = h[2:] if h.startswith("0x") else h
    return bytes.fromhex(h)


def _qty(n):
    return hex(int(n))


def to_checksum(addr):
    """EIP-55 checksum of an address given as hex string or 20 bytes."""
    from eth_utils import to_checksum_address
    return to_checksum_address(addr)


def address_of(private_key):
    """The checksummed address of a private key (hex string or bytes)."""
    return Account.from_key(private_key).address


def _revert_data_from_error(err):
    """Extract revert bytes from a JSON-RPC error object, or None if not a revert."""
    code = err.get("code")
    message = str(err.get("message", ""))
    data = err.get("data")
    if isinstance(data, dict):  # some nodes nest it: {"data": {"data": "0x..."}} or {"result": ...}
        data = data.get("data") or data.get("result")
    is_revert = code == 3 or "revert" in message.lower()
    if not is_revert:
        return None
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return _bytes(data)
        except ValueError:
            return b""
    return b""


class Chain:
    def __init__(self, rpc_url, timeout=60.0):
        self.rpc_url = rpc_url
        self.timeout = timeout
        u = urllib.parse.urlsplit(rpc_url)
        if u.scheme not in ("http", "https"):
            raise ValueError(f"unsupported RPC URL {rpc_url!r}")
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        self._path = (u.path or "/") + (("?" + u.query) if u.query else "")
        self._conn = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.chain_id = int(self.rpc("eth_chainId", []), 16)

    # ------------------------------------------------------------------ transport

    def _connect(self):
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        conn.connect()
        try:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return conn

    def _post(self, body):
        with self._lock:
            for attempt in range(2):
                try:
                    if self._conn is None:
                        self._conn = self._connect()
                    self._conn.request("POST", self._path, body=body,
                                       headers={"Content-Type": "application/json",
                                                "Connection": "keep-alive"})
                    resp = self._conn.getresponse()
                    payload = resp.read()
                    if resp.getheader("Connection", "").lower() == "close":
                        self._conn.close()
                        self._conn = None
                    if resp.status != 200 and not payload:
                        raise RPCError(resp.status, f"HTTP {resp.status}")
                    return payload
                except (http.client.HTTPException, ConnectionError, BrokenPipeError, socket.timeout, OSError):
                    if self._conn is not None:
                        self._conn.close()
                    self._conn = None
                    if attempt == 1:
                        raise

    def rpc(self, method, params=None):
        """Send one JSON-RPC request and return its result.

        Raises RevertError for execution reverts (code 3 or a "revert" message),
        RPCError for any other error.
        """
        req = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params or [])}
        raw = self._post(json.dumps(req).encode())
        try:
            resp = json.loads(raw)
        except ValueError:
            raise RPCError(-32700, f"invalid JSON from node: {raw[:200]!r}", method=method)
        if "error" in resp and resp["error"] is not None:
            err = resp["error"]
            data = _revert_data_from_error(err)
            if data is not None and method in ("eth_call", "eth_estimateGas"):
                raise RevertError(data, err.get("message", "execution reverted"))
            raise RPCError(err.get("code"), err.get("message"), err.get("data"), method)
        return resp.get("result")

    # ------------------------------------------------------------------ reads

    def call(self, to, data, block="latest", sender=None, value=0):
        """eth_call; returns the output bytes. Raises RevertError(.data) on revert."""
        tx = {"to": to, "data": _hex(data)}
        if sender:
            tx["from"] = sender
        if value:
            tx["value"] = _qty(value)
        if isinstance(block, int):
            block = _qty(block)
        return _bytes(self.rpc("eth_call", [tx, block]))

    def balance(self, addr, block="latest"):
        if isinstance(block, int):
            block = _qty(block)
        return int(self.rpc("eth_getBalance", [addr, block]), 16)

    def block_number(self):
        return int(self.rpc("eth_blockNumber", []), 16)

    def get_block(self, block="latest", full=False):
        if isinstance(block, int):
            block = _qty(block)
        return self.rpc("eth_getBlockByNumber", [block, full])

    def nonce(self, addr, block="pending"):
        return int(self.rpc("eth_getTransactionCount", [addr, block]), 16)

    def code(self, addr, block="latest"):
        return _bytes(self.rpc("eth_getCode", [addr, block]))

    def get_logs(self, address=None, topics=None, from_block=0, to_block="latest"):
        f = {"fromBlock": _qty(from_block) if isinstance(from_block, int) else from_block,
             "toBlock": _qty(to_block) if isinstance(to_block, int) else to_block}
        if address:
            f["address"] = address
        if topics:
            f["topics"] = topics
        return self.rpc("eth_getLogs", [f])

    # ------------------------------------------------------------------ time (devchain / anvil)

    def increase_time(self, seconds):
        """evm_increaseTime + evm_mine: the next blocks are at least `seconds` later."""
        self.rpc("evm_increaseTime", [int(seconds)])
        self.rpc("evm_mine", [])

    # ------------------------------------------------------------------ writes

    def fees(self):
        """(maxFeePerGas, maxPriorityFeePerGas) from the latest base fee."""
        block = self.get_block("latest")
        base = int(block.get("baseFeePerGas") or "0x0", 16)
        try:
            tip = int(self.rpc("eth_maxPriorityFeePerGas", []), 16)
        except RPCError:
            tip = 10**9
        return 2 * base + tip, tip

    def estimate_gas(self, tx):
        return int(self.rpc("eth_estimateGas", [tx]), 16)

    def wait_receipt(self, tx_hash, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        delay = 0.02
        while True:
            receipt = self.rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise TimeoutError(f"no receipt for {tx_hash}")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def send(self, private_key, to, data=b"", value=0, gas=None):
        """Sign (EIP-1559) and send a transaction, wait for its receipt.

        `to=None` creates a contract. Raises RevertError when estimation
        reverts, or when the mined transaction has status 0 (the revert data
        then comes from replaying the call as eth_call on the parent block).
        """
        acct = Account.from_key(private_key)
        sender = acct.address
        call_tx = {"from": sender, "data": _hex(data), "value": _qty(value)}
        if to:
            call_tx["to"] = to
        if gas is None:
            estimate = self.estimate_gas(call_tx)
            gas = estimate + estimate // 4 + 10_000
            limit = self.get_block("latest").get("gasLimit")
            if limit:
                gas = min(gas, int(limit, 16))
        max_fee, tip = self.fees()
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": self.nonce(sender, "pending"),
            "value": int(value),
            "data": _bytes(data) if not isinstance(data, (bytes, bytearray)) else bytes(data),
            "gas": int(gas),
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
        }
        if to:
            tx["to"] = to_checksum(to)
        signed = acct.sign_transaction(tx)
        raw = signed.raw_transaction
        tx_hash = _hex(signed.hash)
        try:
            self.rpc("eth_sendRawTransaction", [_hex(raw)])
        except RPCError as e:
            if "already known" not in str(e.message):
                raise
        receipt = self.wait_receipt(tx_hash)
        if int(receipt.get("status", "0x1"), 16) == 0:
            block = int(receipt["blockNumber"], 16)
            replay = dict(call_tx, gas=_qty(gas))
            try:
                self.rpc("eth_call", [replay, _qty(max(block - 1, 0))])
            except RevertError as e:
                raise RevertError(e.data, "transaction reverted", receipt) from None
            raise RevertError(b"", "transaction reverted", receipt)
        return receipt

    def deploy(self, private_key, bytecode, ctor_args_encoded=b""):
        """Deploy `bytecode` (+ ABI-encoded constructor args); return the checksummed address."""
        code = _bytes(bytecode) + bytes(ctor_args_encoded)
        receipt = self.send(private_key, None, code)
        return to_checksum(receipt["contractAddress"])

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
