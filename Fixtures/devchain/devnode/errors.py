"""JSON-RPC errors, worded the way geth words them.

Clients (and the proxy's tests) match on geth's codes and messages, so every failure the
node reports goes through :class:`RpcError` with geth's code and wording.
"""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000  # geth's code for every "the node refused" error
EXECUTION_REVERTED = 3  # geth's code for a revert in eth_call / eth_estimateGas

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

# geth's abi.panicReasons.
PANIC_REASONS = {
    0x00: "generic panic",
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


class RpcError(Exception):
    """An error returned to the client as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def server_error(message: str) -> RpcError:
    return RpcError(SERVER_ERROR, message)


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def revert_reason(data: bytes) -> str | None:
    """The reason geth appends to "execution reverted", or None for custom errors."""
    if data[:4] == ERROR_STRING_SELECTOR:
        try:
            (reason,) = abi_decode(["string"], data[4:])
        except (DecodingError, ValueError, OverflowError):
            return None
        return reason
    if data[:4] == PANIC_SELECTOR:
        try:
            (code,) = abi_decode(["uint256"], data[4:])
        except (DecodingError, ValueError, OverflowError):
            return None
        return PANIC_REASONS.get(code, f"unknown panic code: {code:#x}")
    return None


def execution_reverted(data: bytes) -> RpcError:
    """geth's revert error: code 3, the decoded reason if any, and the raw revert bytes.

    Custom errors (any selector other than Error/Panic) keep their full data, so clients can
    decode them against the contract ABI.
    """
    reason = revert_reason(data)
    message = "execution reverted" if reason is None else f"execution reverted: {reason}"
    return RpcError(EXECUTION_REVERTED, message, "0x" + data.hex())
