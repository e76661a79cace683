"""JSON-RPC 2.0 over the chain: request framing, parameter decoding, the method table."""

from __future__ import annotations

from dataclasses import dataclass
import json
import logging
import time
from typing import Any, Callable

from eth_hash.auto import keccak

from . import encoding
from .chain import BlockRef, CallRequest, DevChain, HashRef, LogFilter
from .errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    invalid_params,
    server_error,
)

log = logging.getLogger("devchain")

BLOCK_TAGS = ("latest", "earliest", "pending", "safe", "finalized")
MAX_TOPICS = 4


# --- parameter decoding -------------------------------------------------------------------
# Each parser raises ValueError with geth-like wording; Params turns it into
# "-32602 invalid argument <n>: <reason>".


def parse_quantity(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value  # geth insists on hex; plain numbers are accepted for convenience
    if not isinstance(value, str):
        raise ValueError(f"cannot unmarshal {type(value).__name__} into a hex quantity")
    if not value.startswith(("0x", "0X")):
        raise ValueError("hex string without 0x prefix")
    if len(value) == 2:
        raise ValueError("hex string \"0x\"")
    try:
        return int(value[2:], 16)
    except ValueError:
        raise ValueError("invalid hex string") from None


def parse_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"cannot unmarshal {type(value).__name__} into hex bytes")
    if not value.startswith(("0x", "0X")):
        raise ValueError("hex string without 0x prefix")
    if len(value) % 2:
        raise ValueError("hex string of odd length")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ValueError("invalid hex string") from None


def _fixed_bytes(length: int, kind: str) -> Callable[[Any], bytes]:
    def parse(value: Any) -> bytes:
        result = parse_bytes(value)
        if len(result) != length:
            digits = len(value) - 2
            raise ValueError(f"hex string has length {digits}, want {2 * length} for {kind}")
        return result

    return parse


parse_address = _fixed_bytes(20, "common.Address")
parse_hash = _fixed_bytes(32, "common.Hash")


def parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("cannot unmarshal into bool")
    return value


def parse_block_tag(value: Any) -> str | int:
    """A block number or tag ("latest", "pending", ...)."""
    if isinstance(value, str) and value in BLOCK_TAGS:
        return value
    return parse_quantity(value)


def parse_block_ref(value: Any) -> BlockRef:
    """A block number, tag, hash (string) or EIP-1898 object."""
    if isinstance(value, dict):
        number = value.get("blockNumber")
        block_hash = value.get("blockHash")
        if (number is None) == (block_hash is None):
            raise ValueError("exactly one of blockNumber and blockHash must be given")
        if number is not None:
            return parse_block_tag(number)
        return HashRef(parse_hash(block_hash))
    if isinstance(value, str) and len(value) == 66:
        return HashRef(parse_hash(value))
    return parse_block_tag(value)


def parse_access_list(value: Any) -> tuple[tuple[bytes, tuple[int, ...]], ...]:
    if not isinstance(value, list):
        raise ValueError("accessList must be an array")
    entries = []
    for entry in value:
        if not isinstance(entry, dict):
            raise ValueError("accessList entries must be objects")
        keys = entry.get("storageKeys") or []
        entries.append(
            (
                parse_address(entry.get("address")),
                tuple(int.from_bytes(parse_hash(key), "big") for key in keys),
            )
        )
    return tuple(entries)


def parse_transaction_args(chain_id: int) -> Callable[[Any], CallRequest]:
    """geth's TransactionArgs, for eth_call, eth_estimateGas and eth_sendTransaction."""

    def parse(value: Any) -> CallRequest:
        if not isinstance(value, dict):
            raise ValueError("transaction arguments must be an object")

        def field(name: str, parser: Callable[[Any], Any]) -> Any:
            raw = value.get(name)
            if raw is None:
                return None
            try:
                return parser(raw)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None

        data = field("data", parse_bytes)
        input_ = field("input", parse_bytes)
        if data is not None and input_ is not None and data != input_:
            raise ValueError('both "data" and "input" are set and not equal')
        request = CallRequest(
            sender=field("from", parse_address),
            to=field("to", parse_address),
            gas=field("gas", parse_quantity),
            gas_price=field("gasPrice", parse_quantity),
            max_fee_per_gas=field("maxFeePerGas", parse_quantity),
            max_priority_fee_per_gas=field("maxPriorityFeePerGas", parse_quantity),
            value=field("value", parse_quantity) or 0,
            data=input_ if input_ is not None else (data or b""),
            nonce=field("nonce", parse_quantity),
            access_list=field("accessList", parse_access_list),
        )
        if request.gas_price is not None and (
            request.max_fee_per_gas is not None or request.max_priority_fee_per_gas is not None
        ):
            raise ValueError("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
        requested_chain = field("chainId", parse_quantity)
        if requested_chain is not None and requested_chain != chain_id:
            raise ValueError(
                f"chainId does not match node's (have={requested_chain}, want={chain_id})"
            )
        return request

    return parse


def parse_filter(value: Any) -> LogFilter:
    if not isinstance(value, dict):
        raise ValueError("filter must be an object")
    block_hash = value.get("blockHash")
    if block_hash is not None and (
        value.get("fromBlock") is not None or value.get("toBlock") is not None
    ):
        raise ValueError(
            "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
        )

    raw_addresses = value.get("address")
    if raw_addresses is None:
        addresses: tuple[bytes, ...] = ()
    elif isinstance(raw_addresses, list):
        addresses = tuple(parse_address(item) for item in raw_addresses)
    else:
        addresses = (parse_address(raw_addresses),)

    raw_topics = value.get("topics") or []
    if not isinstance(raw_topics, list):
        raise ValueError("topics must be an array")
    if len(raw_topics) > MAX_TOPICS:
        raise ValueError("exceed max topics")
    topics: list[tuple[bytes, ...] | None] = []
    for position in raw_topics:
        if position is None:
            topics.append(None)
        elif isinstance(position, list):
            options = tuple(parse_hash(item) for item in position if item is not None)
            # [] and [null] match anything, as in geth.
            topics.append(options if options and len(options) == len(position) else None)
        else:
            topics.append((parse_hash(position),))

    return LogFilter(
        from_block=parse_block_tag(value.get("fromBlock") or "latest"),
        to_block=parse_block_tag(value.get("toBlock") or "latest"),
        block_hash=None if block_hash is None else parse_hash(block_hash),
        addresses=addresses,
        topics=tuple(topics),
    )


def parse_percentiles(value: Any) -> list[float]:
    if not isinstance(value, list) or not all(
        isinstance(item, (int, float)) and not isinstance(item, bool) for item in value
    ):
        raise ValueError("reward percentiles must be an array of numbers")
    return [float(item) for item in value]


def parse_mine_options(value: Any) -> tuple[int, int | None]:
    """anvil's evm_mine options: ``{"blocks": n, "timestamp": t}``, both optional."""
    blocks = value.get("blocks")
    timestamp = value.get("timestamp")
    return (
        1 if blocks is None else parse_quantity(blocks),
        None if timestamp is None else parse_quantity(timestamp),
    )


class Params:
    """Positional parameters of one call, decoded on demand."""

    def __init__(self, values: list[Any], max_count: int) -> None:
        if len(values) > max_count:
            raise invalid_params(f"too many arguments, want at most {max_count}")
        self._values = values

    def _present(self, index: int) -> bool:
        return index < len(self._values) and self._values[index] is not None

    def required(self, index: int, parse: Callable[[Any], Any]) -> Any:
        if not self._present(index):
            raise invalid_params(f"missing value for required argument {index}")
        return self._decode(index, parse)

    def optional(self, index: int, parse: Callable[[Any], Any], default: Any = None) -> Any:
        if not self._present(index):
            return default
        return self._decode(index, parse)

    def _decode(self, index: int, parse: Callable[[Any], Any]) -> Any:
        try:
            return parse(self._values[index])
        except ValueError as error:
            raise invalid_params(f"invalid argument {index}: {error}") from None


# --- the method table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    handler: Callable[[Params], Any]
    max_params: int
    needs_chain: bool  # False: answered without taking the chain lock


_METHODS: dict[str, tuple[str, int, bool]] = {}


def rpc_method(name: str, max_params: int = 0, needs_chain: bool = True) -> Callable:
    def register(function: Callable) -> Callable:
        _METHODS[name] = (function.__name__, max_params, needs_chain)
        return function

    return register


class Dispatcher:
    """Turns a request body into a response body; one instance serves all connections."""

    def __init__(self, chain: DevChain, client_version: str) -> None:
        self._chain = chain
        self._client_version = client_version
        self._chain_id = chain.config.chain_id
        self._transaction_args = parse_transaction_args(self._chain_id)
        self._methods = {
            name: Method(getattr(self, attribute), max_params, needs_chain)
            for name, (attribute, max_params, needs_chain) in _METHODS.items()
        }

    def handle(self, body: bytes) -> bytes | None:
        """The response body, or None when every request was a notification."""
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _dump(_error_response(None, RpcError(PARSE_ERROR, "parse error")))
        if isinstance(request, list):
            if not request:
                return _dump(_error_response(None, RpcError(INVALID_REQUEST, "empty batch")))
            responses = [response for response in map(self._dispatch, request) if response]
            return _dump(responses) if responses else None
        response = self._dispatch(request)
        return None if response is None else _dump(response)

    def _dispatch(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error_response(None, RpcError(INVALID_REQUEST, "invalid request"))
        request_id = request.get("id")
        valid_id = isinstance(request_id, (str, int, float, type(None)))
        if isinstance(request_id, bool) or not valid_id:
            return _error_response(None, RpcError(INVALID_REQUEST, "invalid request"))
        method_name = request.get("method")
        if not isinstance(method_name, str):
            return _error_response(request_id, RpcError(INVALID_REQUEST, "invalid request"))
        is_notification = "id" not in request

        started = time.perf_counter()
        try:
            result = self._invoke(method_name, request.get("params"))
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        except RpcError as error:
            response = _error_response(request_id, error)
        except Exception as error:  # noqa: BLE001 - a bug must not take the node down
            log.exception("%s failed", method_name)
            response = _error_response(request_id, RpcError(INTERNAL_ERROR, str(error)))
        if log.isEnabledFor(logging.DEBUG):
            outcome = "error" if "error" in response else "ok"
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.debug("%s %s %.1f ms", method_name, outcome, elapsed_ms)
        return None if is_notification else response

    def _invoke(self, method_name: str, params: Any) -> Any:
        method = self._methods.get(method_name)
        if method is None:
            message = f"the method {method_name} does not exist/is not available"
            raise RpcError(METHOD_NOT_FOUND, message)
        if params is None:
            params = []
        if not isinstance(params, list):
            raise invalid_params("non-array args")
        arguments = Params(params, method.max_params)
        if not method.needs_chain:
            return method.handler(arguments)
        with self._chain.lock:
            return method.handler(arguments)

    # --- node -------------------------------------------------------------------------

    @rpc_method("web3_clientVersion", needs_chain=False)
    def client_version(self, p: Params) -> str:
        return self._client_version

    @rpc_method("web3_sha3", 1, needs_chain=False)
    def sha3(self, p: Params) -> str:
        return encoding.data(keccak(p.required(0, parse_bytes)))

    @rpc_method("net_version", needs_chain=False)
    def net_version(self, p: Params) -> str:
        return str(self._chain_id)

    @rpc_method("net_listening", needs_chain=False)
    def net_listening(self, p: Params) -> bool:
        return True

    @rpc_method("eth_chainId", needs_chain=False)
    def chain_id(self, p: Params) -> str:
        return encoding.quantity(self._chain_id)

    @rpc_method("eth_syncing", needs_chain=False)
    def syncing(self, p: Params) -> bool:
        return False

    @rpc_method("eth_accounts", needs_chain=False)
    def accounts(self, p: Params) -> list[str]:
        return [encoding.address(account.address) for account in self._chain.accounts]

    # --- state ------------------------------------------------------------------------

    @rpc_method("eth_blockNumber")
    def block_number(self, p: Params) -> str:
        return encoding.quantity(self._chain.head.block_number)

    @rpc_method("eth_getBalance", 2)
    def get_balance(self, p: Params) -> str:
        account = p.required(0, parse_address)
        ref = p.optional(1, parse_block_ref, "latest")
        return encoding.quantity(self._chain.balance(account, ref))

    @rpc_method("eth_getTransactionCount", 2)
    def get_transaction_count(self, p: Params) -> str:
        account = p.required(0, parse_address)
        ref = p.optional(1, parse_block_ref, "latest")
        return encoding.quantity(self._chain.nonce(account, ref))

    @rpc_method("eth_getCode", 2)
    def get_code(self, p: Params) -> str:
        account = p.required(0, parse_address)
        ref = p.optional(1, parse_block_ref, "latest")
        return encoding.data(self._chain.code(account, ref))

    @rpc_method("eth_getStorageAt", 3)
    def get_storage_at(self, p: Params) -> str:
        account = p.required(0, parse_address)
        slot = p.required(1, parse_quantity)
        ref = p.optional(2, parse_block_ref, "latest")
        return encoding.data(self._chain.storage(account, slot, ref))

    # --- fees -------------------------------------------------------------------------

    @rpc_method("eth_gasPrice")
    def gas_price(self, p: Params) -> str:
        return encoding.quantity(self._chain.gas_price())

    @rpc_method("eth_maxPriorityFeePerGas", needs_chain=False)
    def max_priority_fee_per_gas(self, p: Params) -> str:
        return encoding.quantity(self._chain.config.priority_fee_wei)

    @rpc_method("eth_feeHistory", 3)
    def fee_history(self, p: Params) -> dict[str, Any]:
        block_count = p.required(0, parse_quantity)
        newest = p.required(1, parse_block_ref)
        percentiles = p.optional(2, parse_percentiles, [])
        return self._chain.fee_history(block_count, newest, percentiles)

    # --- execution --------------------------------------------------------------------

    @rpc_method("eth_call", 3)
    def call(self, p: Params) -> str:
        request = p.required(0, self._transaction_args)
        ref = p.optional(1, parse_block_ref, "latest")
        self._reject_state_overrides(p)
        return encoding.data(self._chain.call(request, ref))

    @rpc_method("eth_estimateGas", 3)
    def estimate_gas(self, p: Params) -> str:
        request = p.required(0, self._transaction_args)
        ref = p.optional(1, parse_block_ref, "latest")
        self._reject_state_overrides(p)
        return encoding.quantity(self._chain.estimate_gas(request, ref))

    @staticmethod
    def _reject_state_overrides(p: Params) -> None:
        if p.optional(2, lambda value: value) is not None:
            raise invalid_params("state overrides are not supported")

    @rpc_method("eth_sendRawTransaction", 1)
    def send_raw_transaction(self, p: Params) -> str:
        return encoding.data(self._chain.send_raw_transaction(p.required(0, parse_bytes)))

    @rpc_method("eth_sendTransaction", 1)
    def send_transaction(self, p: Params) -> str:
        request = p.required(0, self._transaction_args)
        if request.sender is None:
            raise server_error("missing from address")
        return encoding.data(self._chain.send_transaction(request))

    # --- chain data -------------------------------------------------------------------

    @rpc_method("eth_getTransactionByHash", 1)
    def get_transaction_by_hash(self, p: Params) -> dict[str, Any] | None:
        return self._chain.transaction(p.required(0, parse_hash))

    @rpc_method("eth_getTransactionReceipt", 1)
    def get_transaction_receipt(self, p: Params) -> dict[str, Any] | None:
        return self._chain.receipt(p.required(0, parse_hash))

    @rpc_method("eth_getBlockByNumber", 2)
    def get_block_by_number(self, p: Params) -> dict[str, Any] | None:
        ref = p.required(0, parse_block_tag)
        return self._chain.block(ref, p.optional(1, parse_bool, False))

    @rpc_method("eth_getBlockByHash", 2)
    def get_block_by_hash(self, p: Params) -> dict[str, Any] | None:
        ref = HashRef(p.required(0, parse_hash))
        return self._chain.block(ref, p.optional(1, parse_bool, False))

    @rpc_method("eth_getBlockReceipts", 1)
    def get_block_receipts(self, p: Params) -> list[dict[str, Any]] | None:
        return self._chain.block_receipts(p.required(0, parse_block_ref))

    @rpc_method("eth_getLogs", 1)
    def get_logs(self, p: Params) -> list[dict[str, Any]]:
        return self._chain.logs(p.required(0, parse_filter))

    # --- test controls (anvil / hardhat / ganache names) ------------------------------

    @rpc_method("evm_snapshot")
    def snapshot(self, p: Params) -> str:
        return encoding.quantity(self._chain.snapshot())

    @rpc_method("evm_revert", 1)
    def revert(self, p: Params) -> bool:
        return self._chain.revert(p.required(0, parse_quantity))

    @rpc_method("evm_mine", 1)
    def evm_mine(self, p: Params) -> str:
        """evm_mine([timestamp]) as ganache, or evm_mine([{timestamp, blocks}]) as anvil."""
        options = p.optional(0, lambda value: value)
        if isinstance(options, dict):
            blocks, timestamp = p.required(0, parse_mine_options)
        else:
            blocks, timestamp = 1, p.optional(0, parse_quantity)
        self._chain.mine(blocks, timestamp=timestamp)
        return "0x0"

    @rpc_method("anvil_mine", 2)
    def anvil_mine(self, p: Params) -> None:
        blocks = p.optional(0, parse_quantity, 1)
        interval = p.optional(1, parse_quantity)
        if interval == 0:
            raise invalid_params("invalid argument 1: interval must be at least 1 second")
        self._chain.mine(blocks, interval=interval)
        return None

    @rpc_method("evm_increaseTime", 1)
    def increase_time(self, p: Params) -> int:
        """Returns the total offset from the wall clock in seconds (as ganache)."""
        return self._chain.increase_time(p.required(0, parse_quantity))

    @rpc_method("evm_setNextBlockTimestamp", 1)
    def set_next_block_timestamp(self, p: Params) -> None:
        self._chain.set_next_block_timestamp(p.required(0, parse_quantity))
        return None


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _dump(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")
