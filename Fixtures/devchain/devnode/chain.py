"""The chain: eth-tester's py-evm chain, plus what a node needs on top of it.

eth-tester builds the chain (genesis, PragueVM, post-merge mining); this module is the node
around it. It does not go through ``EthereumTester`` or ``PyEVMBackend`` for anything else,
because each of their code paths had a gap that shows up in the proxy's tests:

* **Chain id.** eth-tester's chain class hard-codes 131277322940537, and py-evm never compares
  a transaction's chain id with the chain's. :class:`DevChain` sets the chain's id (so the
  ``CHAINID`` opcode agrees) and rejects transactions signed for another chain, unprotected
  legacy transactions, and tip > fee cap, all of which py-evm accepts.
* **Validation wording.** Rejected transactions fail with geth's messages
  (``nonce too low: next nonce 3, tx nonce 1``...), checked before py-evm sees the tx.
* **Lookups.** eth-tester finds a transaction by walking back from the head, and its
  ``get_logs`` serializes every block in the range. The node keeps its own canonical index
  (block hashes by number, tx hash -> position), so lookups are O(1) and stay right after
  ``evm_revert`` (py-evm's own index keeps entries of reverted blocks). Logs skip blocks by
  their ``logsBloom``.
* **eth_call / eth_estimateGas.** eth-tester drops the revert data of custom errors and
  estimates up to 21000 gas high. Here calls keep the raw revert bytes, and the estimate is
  an exact binary search that also works for a ``from`` with no balance.
* **Mining.** eth-tester's "no auto-mine" mode replays each queued tx on the latest state, so
  a second tx from the same sender fails. Here transactions go straight into py-evm's pending
  block and the block is sealed at once (automine) or by the interval miner
  (``--block-time``), so several txs of one sender share a block, in nonce order.
* **Timestamps.** py-evm stamps the next block when the previous one is sealed, so after an
  idle minute a tx would run with a minute-old ``block.timestamp``. The pending block is
  re-stamped from the wall clock (plus ``evm_increaseTime`` offsets) when it gets its first
  transaction and when it is sealed empty.

Callers must hold :attr:`DevChain.lock` around every method call: py-evm is not thread-safe,
and the interval miner runs on its own thread.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
import logging
import os
import threading
import time
from typing import Any, Iterable, Sequence, Union

from eth import exceptions as vm_errors
from eth.constants import (
    CREATE_CONTRACT_ADDRESS,
    GAS_TX,
    GENESIS_PARENT_HASH,
    SECPK1_N,
    ZERO_ADDRESS,
)
from eth.vm.forks.cancun.constants import MIN_BLOB_BASE_FEE
from eth.vm.forks.cancun.state import fake_exponential
from eth.vm.forks.prague.constants import (
    BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
    MAX_BLOB_GAS_PER_BLOCK,
    STANDARD_TOKEN_COST,
    TOTAL_COST_FLOOR_PER_TOKEN,
)
from eth.vm.spoof import SpoofTransaction
from eth_bloom import BloomFilter
from eth_hash.auto import keccak
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_tester.backends.pyevm.main import get_default_genesis_params, setup_tester_chain
from eth_utils import ValidationError, to_checksum_address
import rlp

from . import encoding
from .errors import RpcError, execution_reverted, server_error

log = logging.getLogger("devchain")

WEI_PER_ETHER = 10**18
WEI_PER_GWEI = 10**9
CALL_GAS_CAP = 50_000_000  # geth's default --rpc.gascap
CALL_STIPEND = 2300
BLOCK_CACHE_SIZE = 256
MAX_FEE_HISTORY_BLOCKS = 1024
ACCOUNT_KEY_SEED = "zgproxy devchain account "


# --- requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HashRef:
    """An EIP-1898 ``{"blockHash": ...}`` reference."""

    block_hash: bytes


BlockRef = Union[str, int, HashRef]  # "latest" | "pending" | ... | number | hash


@dataclass(frozen=True)
class CallRequest:
    """The transaction object of eth_call, eth_estimateGas and eth_sendTransaction."""

    sender: bytes | None = None
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] | None = None

    @property
    def has_fee_fields(self) -> bool:
        return any(
            fee  # zero fees mean "unpriced", as in geth's eth_call
            for fee in (self.gas_price, self.max_fee_per_gas, self.max_priority_fee_per_gas)
        )


@dataclass(frozen=True)
class LogFilter:
    from_block: BlockRef = "latest"
    to_block: BlockRef = "latest"
    block_hash: bytes | None = None
    addresses: tuple[bytes, ...] = ()
    topics: tuple[tuple[bytes, ...] | None, ...] = ()  # None matches anything


@dataclass(frozen=True)
class ChainConfig:
    chain_id: int = 16602
    accounts: int = 10
    balance_wei: int = 1_000_000 * WEI_PER_ETHER
    block_time: float = 0.0  # 0: seal a block for every transaction
    priority_fee_wei: int = 1 * WEI_PER_GWEI


# --- accounts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DevAccount:
    address: bytes
    private_key: keys.PrivateKey

    @property
    def checksum_address(self) -> str:
        return to_checksum_address(self.address)


def dev_account(index: int) -> DevAccount:
    """Account ``index``: private key = keccak256("zgproxy devchain account <index>")."""
    private_key = keys.PrivateKey(keccak((ACCOUNT_KEY_SEED + str(index)).encode("utf-8")))
    return DevAccount(private_key.public_key.to_canonical_address(), private_key)


# --- chain data -------------------------------------------------------------------------


@dataclass(frozen=True)
class MinedBlock:
    """A sealed block with everything its RPC views need. Immutable, so it is cached."""

    header: Any
    transactions: tuple[Any, ...]
    receipts: tuple[Any, ...]
    senders: tuple[bytes, ...]
    size: int

    def tx_gas_used(self, index: int) -> int:
        previous = self.receipts[index - 1].gas_used if index else 0
        return self.receipts[index].gas_used - previous

    def first_log_index(self, index: int) -> int:
        return sum(len(receipt.logs) for receipt in self.receipts[:index])


@dataclass(frozen=True)
class PendingTx:
    tx: Any
    sender: bytes


@dataclass(frozen=True)
class Snapshot:
    head: Any
    time_offset: float
    next_timestamp: int | None
    min_next_timestamp: int | None


def data_floor_gas(data: bytes) -> int:
    """EIP-7623's minimum gas for a transaction carrying ``data`` (Prague).

    py-evm charges the floor after execution but never checks the gas limit against it, so
    the node does (as geth's pool does).
    """
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * STANDARD_TOKEN_COST
    return GAS_TX + TOTAL_COST_FLOOR_PER_TOKEN * tokens


def blob_base_fee(header: Any) -> int:
    return fake_exponential(
        MIN_BLOB_BASE_FEE, header.excess_blob_gas, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE
    )


def vm_error_message(error: Exception) -> str:
    """geth's wording for an EVM failure other than a revert."""
    messages = (
        (vm_errors.OutOfGas, "out of gas"),
        (vm_errors.InsufficientStack, "stack underflow"),
        (vm_errors.FullStack, "stack limit reached 1024"),
        (vm_errors.InvalidJumpDestination, "invalid jump destination"),
        (vm_errors.InsufficientFunds, "insufficient balance for transfer"),
        (vm_errors.StackDepthLimit, "max call depth exceeded"),
        (vm_errors.ContractCreationCollision, "contract address collision"),
        (vm_errors.WriteProtection, "write protection"),
        (vm_errors.OutOfBoundsRead, "return data out of bounds"),
        (vm_errors.ReservedBytesInCode, "invalid code: must not begin with 0xef"),
    )
    for kind, message in messages:
        if isinstance(error, kind):
            return message
    if isinstance(error, vm_errors.InvalidInstruction):
        return f"invalid opcode: {error}"
    return str(error) or type(error).__name__


class _BloomQuery:
    """A log filter's bloom bits, to skip blocks without touching their receipts."""

    def __init__(self, addresses: Iterable[bytes], topics: Sequence[Sequence[bytes] | None]):
        self._groups = []
        addresses = list(addresses)
        if addresses:
            self._groups.append([self._mask(value) for value in addresses])
        for options in topics:
            if options:
                self._groups.append([self._mask(value) for value in options])

    @staticmethod
    def _mask(value: bytes) -> int:
        return int(BloomFilter.from_iterable([value]))

    def may_match(self, bloom: int) -> bool:
        return all(any(bloom & mask == mask for mask in group) for group in self._groups)


# --- the node ---------------------------------------------------------------------------


class DevChain:
    def __init__(self, config: ChainConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.accounts = tuple(dev_account(index) for index in range(config.accounts))
        self._keys = {account.address: account.private_key for account in self.accounts}

        genesis_state = {
            account.address: {
                "balance": config.balance_wei,
                "nonce": 0,
                "code": b"",
                "storage": {},
            }
            for account in self.accounts
        }
        # eth-tester's genesis (post-merge PragueVM, 30M gas, 1 gwei base fee) with our
        # accounts in place of its default test accounts.
        _, self._chain = setup_tester_chain(get_default_genesis_params(), genesis_state)
        # Instance attribute: py-evm builds every VM's ChainContext (CHAINID) from it.
        self._chain.chain_id = config.chain_id

        genesis = self._chain.get_canonical_head()
        self._head = genesis
        self._canonical: list[bytes] = [genesis.hash]  # block hash by number
        self._blooms: list[int] = [genesis.bloom]  # logsBloom by number, for eth_getLogs
        self._tx_index: dict[bytes, tuple[int, int]] = {}  # tx hash -> (block, index)
        self._senders: dict[bytes, bytes] = {}  # tx hash -> sender (ecrecover is ~5 ms)
        self._pending: list[PendingTx] = []
        self._blocks: OrderedDict[bytes, MinedBlock] = OrderedDict()

        self._time_offset = 0.0  # evm_increaseTime / evm_setNextBlockTimestamp
        self._next_timestamp: int | None = None  # exact timestamp of the next block
        self._min_next_timestamp: int | None = None  # lower bound for the next block
        self._snapshots: dict[int, Snapshot] = {}
        self._last_snapshot_id = 0

    @property
    def automine(self) -> bool:
        return self.config.block_time <= 0

    # --- blocks -------------------------------------------------------------------------

    @property
    def head(self) -> Any:
        return self._head

    def header_by_number(self, number: int) -> Any | None:
        if not 0 <= number < len(self._canonical):
            return None
        return self._chain.chaindb.get_block_header_by_hash(self._canonical[number])

    def header_by_hash(self, block_hash: bytes) -> Any | None:
        try:
            header = self._chain.chaindb.get_block_header_by_hash(block_hash)
        except vm_errors.HeaderNotFound:
            return None
        number = header.block_number
        if number >= len(self._canonical) or self._canonical[number] != block_hash:
            return None  # a block dropped by evm_revert
        return header

    def resolve(self, ref: BlockRef) -> Any:
        """The header a state query or call runs at; geth's errors when there is none."""
        if ref == "pending":
            return self._pending_header()
        if isinstance(ref, HashRef):
            header = self.header_by_hash(ref.block_hash)
            if header is None:
                raise server_error("header for hash not found")
            return header
        header = self.header_by_number(self.block_number(ref))
        if header is None:
            raise server_error("header not found")
        return header

    def block_number(self, ref: str | int) -> int:
        """A block tag or number as a number ("pending" counts as the head)."""
        if ref in ("latest", "safe", "finalized", "pending"):
            return self._head.block_number
        if ref == "earliest":
            return 0
        assert isinstance(ref, int), ref
        return ref

    def block(self, ref: BlockRef, full_transactions: bool) -> dict[str, Any] | None:
        if ref == "pending":
            header = self._pending_header()
            pending_block = self._chain.get_block()
            return encoding.block(
                header,
                pending_block.transactions,
                [pending.sender for pending in self._pending],
                len(rlp.encode(pending_block)),
                full_transactions,
                pending=True,
            )
        header = self._lookup(ref)
        if header is None:
            return None
        mined = self._mined(header)
        return encoding.block(
            header, mined.transactions, mined.senders, mined.size, full_transactions
        )

    def block_receipts(self, ref: BlockRef) -> list[dict[str, Any]] | None:
        header = None if ref == "pending" else self._lookup(ref)
        if header is None:
            return None
        mined = self._mined(header)
        return [self._receipt(mined, index) for index in range(len(mined.transactions))]

    def _lookup(self, ref: BlockRef) -> Any | None:
        if isinstance(ref, HashRef):
            return self.header_by_hash(ref.block_hash)
        return self.header_by_number(self.block_number(ref))

    def _mined(self, header: Any) -> MinedBlock:
        cached = self._blocks.get(header.hash)
        if cached is not None:
            self._blocks.move_to_end(header.hash)
            return cached
        vm_class = self._chain.get_vm_class_for_block_number(header.block_number)
        block = self._chain.get_block_by_header(header)
        receipts = self._chain.chaindb.get_receipts(header, vm_class.get_receipt_builder())
        mined = MinedBlock(
            header=header,
            transactions=tuple(block.transactions),
            receipts=tuple(receipts),
            senders=tuple(self._sender(tx) for tx in block.transactions),
            size=len(rlp.encode(block)),
        )
        self._blocks[header.hash] = mined
        if len(self._blocks) > BLOCK_CACHE_SIZE:
            self._blocks.popitem(last=False)
        return mined

    def _sender(self, tx: Any) -> bytes:
        sender = self._senders.get(tx.hash)
        if sender is None:
            sender = self._senders[tx.hash] = tx.sender
        return sender

    # --- state --------------------------------------------------------------------------

    def _state(self, header: Any) -> Any:
        return self._chain.get_vm(header).state

    def balance(self, account: bytes, ref: BlockRef) -> int:
        return self._state(self.resolve(ref)).get_balance(account)

    def nonce(self, account: bytes, ref: BlockRef) -> int:
        return self._state(self.resolve(ref)).get_nonce(account)

    def code(self, account: bytes, ref: BlockRef) -> bytes:
        return self._state(self.resolve(ref)).get_code(account)

    def storage(self, account: bytes, slot: int, ref: BlockRef) -> bytes:
        value = self._state(self.resolve(ref)).get_storage(account, slot)
        return value.to_bytes(32, "big")

    def gas_price(self) -> int:
        """geth's suggestion: the next block's base fee plus the suggested tip."""
        return self._pending_header().base_fee_per_gas + self.config.priority_fee_wei

    # --- transactions -------------------------------------------------------------------

    def transaction(self, tx_hash: bytes) -> dict[str, Any] | None:
        location = self._tx_index.get(tx_hash)
        if location is not None:
            number, index = location
            mined = self._mined(self.header_by_number(number))
            return encoding.transaction(
                mined.transactions[index], mined.senders[index], mined.header, index
            )
        for pending in self._pending:
            if pending.tx.hash == tx_hash:
                return encoding.transaction(pending.tx, pending.sender)
        return None

    def receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        """The receipt, or None while the tx is unknown or not yet sealed into a block."""
        location = self._tx_index.get(tx_hash)
        if location is None:
            return None
        number, index = location
        return self._receipt(self._mined(self.header_by_number(number)), index)

    @staticmethod
    def _receipt(mined: MinedBlock, index: int) -> dict[str, Any]:
        return encoding.receipt(
            mined.transactions[index],
            mined.senders[index],
            mined.receipts[index],
            mined.tx_gas_used(index),
            mined.header,
            index,
            mined.first_log_index(index),
        )

    def decode_transaction(self, raw: bytes) -> Any:
        """Decodes a raw transaction; only legacy, type 1 and type 2 are accepted."""
        if not raw:
            raise server_error("typed transaction too short")
        kind = raw[0]
        supported = (encoding.ACCESS_LIST_TX_TYPE, encoding.DYNAMIC_FEE_TX_TYPE)
        if kind < 0x80 and kind not in supported:  # 0xc0.. starts a legacy RLP list
            raise server_error("transaction type not supported")
        try:
            return self._transaction_builder().decode(raw)
        except Exception as error:  # noqa: BLE001 - any decoding failure of untrusted bytes
            raise server_error(f"rlp: {error}") from error

    def send_raw_transaction(self, raw: bytes) -> bytes:
        return self.submit(self.decode_transaction(raw))

    def send_transaction(self, request: CallRequest) -> bytes:
        """eth_sendTransaction: fills in nonce, gas and fees, signs with a node account."""
        private_key = self._keys.get(request.sender) if request.sender else None
        if private_key is None:
            raise server_error("unknown account")
        header = self._pending_header()
        nonce = request.nonce
        if nonce is None:
            nonce = self._state(header).get_nonce(request.sender)
        gas = request.gas or self.estimate_gas(request, "pending")
        builder = self._transaction_builder()
        if request.gas_price is not None:
            unsigned = self._unsigned(builder, request, nonce, gas, gas_price=request.gas_price)
        else:
            tip = request.max_priority_fee_per_gas
            if tip is None:
                tip = self.config.priority_fee_wei
                if request.max_fee_per_gas is not None:
                    tip = min(tip, request.max_fee_per_gas)
            max_fee = request.max_fee_per_gas
            if max_fee is None:
                max_fee = tip + 2 * header.base_fee_per_gas  # geth's default fee cap
            unsigned = self._unsigned(builder, request, nonce, gas, tip=tip, fee_cap=max_fee)
        signed = unsigned.as_signed_transaction(private_key, chain_id=self.config.chain_id)
        # Re-decode so the tx is the same class as one that came in raw.
        tx = builder.decode(signed.encode())
        self._senders[tx.hash] = request.sender
        return self.submit(tx)

    def submit(self, tx: Any) -> bytes:
        sender = self._validate(tx)
        self._include(tx, sender)
        return tx.hash

    def _validate(self, tx: Any) -> bytes:
        """geth's RPC and txpool checks, in geth's words; returns the recovered sender."""
        chain_id = self.config.chain_id
        if encoding.tx_type(tx) == encoding.LEGACY_TX_TYPE and tx.chain_id is None:
            raise server_error("only replay-protected (EIP-155) transactions allowed over RPC")
        if tx.chain_id != chain_id:
            raise server_error(f"invalid chain id: have {tx.chain_id} want {chain_id}")
        if tx.hash in self._tx_index or any(p.tx.hash == tx.hash for p in self._pending):
            raise server_error("already known")
        header = self._pending_header()
        if tx.gas > header.gas_limit:
            raise server_error("exceeds block gas limit")
        dynamic = encoding.tx_type(tx) == encoding.DYNAMIC_FEE_TX_TYPE
        fee_cap = tx.max_fee_per_gas if dynamic else tx.gas_price
        if dynamic and tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
            raise server_error("max priority fee per gas higher than max fee per gas")
        if tx.s > SECPK1_N // 2:  # EIP-2 (py-evm rejects it too, in other words)
            raise server_error("invalid transaction v, r, s values")
        try:
            # Recovery fails for a bad signature; no separate verify (ecrecover is ~5 ms).
            sender = self._sender(tx)
        except (BadSignature, ValidationError, ValueError) as error:
            raise server_error("invalid sender") from error
        intrinsic = tx.intrinsic_gas
        if tx.gas < intrinsic:
            raise server_error(f"intrinsic gas too low: gas {tx.gas}, minimum needed {intrinsic}")
        floor = data_floor_gas(tx.data)
        if tx.gas < floor:
            raise server_error(
                f"insufficient gas for floor data gas cost: gas {tx.gas}, minimum needed {floor}"
            )
        state = self._state(header)
        next_nonce = state.get_nonce(sender)
        if tx.nonce < next_nonce:
            raise server_error(f"nonce too low: next nonce {next_nonce}, tx nonce {tx.nonce}")
        if tx.nonce > next_nonce:
            raise server_error(
                f"nonce too high: next nonce {next_nonce}, tx nonce {tx.nonce} "
                "(devchain has no transaction queue)"
            )
        balance = state.get_balance(sender)
        cost = tx.gas * fee_cap + tx.value
        if balance < cost:
            raise server_error(
                "insufficient funds for gas * price + value: "
                f"balance {balance}, tx cost {cost}, overshot {cost - balance}"
            )
        if fee_cap < header.base_fee_per_gas:
            raise server_error(
                "max fee per gas less than block base fee: "
                f"address {to_checksum_address(sender)}, maxFeePerGas: {fee_cap}, "
                f"baseFee: {header.base_fee_per_gas}"
            )
        return sender

    def _include(self, tx: Any, sender: bytes) -> None:
        if not self._pending:
            self._restamp_pending()
        elif self._chain.header.gas_used + tx.gas > self._chain.header.gas_limit:
            self._seal()  # interval mode: the pending block is full, start the next one
            self._restamp_pending()
        try:
            self._chain.apply_transaction(tx)
        except ValidationError as error:  # a check above should have caught it
            raise server_error(str(error)) from error
        self._pending.append(PendingTx(tx, sender))
        if self.automine:
            self._seal()

    def _transaction_builder(self) -> Any:
        vm_class = self._chain.get_vm_class_for_block_number(self._chain.header.block_number)
        return vm_class.get_transaction_builder()

    # --- mining and time ----------------------------------------------------------------

    def mine(
        self, blocks: int = 1, timestamp: int | None = None, interval: int | None = None
    ) -> None:
        """evm_mine / anvil_mine: seals ``blocks`` blocks, the pending txs in the first."""
        for number in range(blocks):
            if number == 0 and timestamp is not None:
                self.set_next_block_timestamp(timestamp)
            elif number > 0 and interval is not None:
                self.set_next_block_timestamp(self._head.timestamp + interval)
            self._seal()

    def mine_interval_block(self) -> None:
        """The ``--block-time`` miner's tick: seals the pending block, even when empty."""
        self._seal()

    def increase_time(self, seconds: int) -> int:
        """evm_increaseTime: the clock moves ``seconds`` ahead and stays ahead (as anvil)."""
        self._time_offset += seconds
        floor = self._head.timestamp + seconds
        self._min_next_timestamp = max(self._min_next_timestamp or 0, floor)
        return int(self._time_offset)

    def set_next_block_timestamp(self, timestamp: int) -> None:
        if timestamp <= self._head.timestamp:
            raise server_error(
                f"timestamp {timestamp} must be greater than the latest block timestamp "
                f"{self._head.timestamp}"
            )
        self._next_timestamp = timestamp
        self._time_offset = timestamp - time.time()

    def _next_block_timestamp(self) -> int:
        if self._next_timestamp is not None:
            return self._next_timestamp
        timestamp = max(self._head.timestamp + 1, int(time.time() + self._time_offset))
        if self._min_next_timestamp is not None:
            timestamp = max(timestamp, self._min_next_timestamp)
        return timestamp

    def _pending_header(self) -> Any:
        if not self._pending:
            self._restamp_pending()
        return self._chain.header

    def _restamp_pending(self) -> None:
        """Gives the (empty) pending block the current time and a fresh PREVRANDAO."""
        self._chain.header = self._chain.header.copy(
            timestamp=self._next_block_timestamp(), mix_hash=os.urandom(32)
        )

    def _seal(self) -> None:
        if not self._pending:
            self._restamp_pending()
        elif self._next_timestamp is not None or self._min_next_timestamp is not None:
            # Time travel since the first pending tx: re-run the block at the new time.
            wanted = self._next_block_timestamp()
            if wanted != self._chain.header.timestamp:
                self._rebuild_pending(wanted)
        block = self._chain.mine_block()
        number = block.header.block_number
        assert number == len(self._canonical), (number, len(self._canonical))
        self._canonical.append(block.hash)
        self._blooms.append(block.header.bloom)
        for index, tx in enumerate(block.transactions):
            self._tx_index[tx.hash] = (number, index)
        self._head = block.header
        self._pending.clear()
        self._next_timestamp = None
        self._min_next_timestamp = None
        log.debug("sealed block %d with %d txs", number, len(block.transactions))

    def _rebuild_pending(self, timestamp: int) -> None:
        pending, self._pending = self._pending, []
        self._chain.header = self._chain.create_header_from_parent(self._head).copy(
            timestamp=timestamp, mix_hash=os.urandom(32)
        )
        for item in pending:
            try:
                self._chain.apply_transaction(item.tx)
            except ValidationError as error:
                log.warning("dropped %s on re-stamping: %s", item.tx.hash.hex(), error)
                continue
            self._pending.append(item)

    # --- snapshots ----------------------------------------------------------------------

    def snapshot(self) -> int:
        self._last_snapshot_id += 1
        self._snapshots[self._last_snapshot_id] = Snapshot(
            self._head, self._time_offset, self._next_timestamp, self._min_next_timestamp
        )
        return self._last_snapshot_id

    def revert(self, snapshot_id: int) -> bool:
        """evm_revert: back to the snapshot's head (pending txs are dropped).

        The snapshot and every later one are used up, as in anvil and hardhat.
        """
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None:
            return False
        for later in [key for key in self._snapshots if key >= snapshot_id]:
            del self._snapshots[later]
        head = snapshot.head
        number = head.block_number
        del self._canonical[number + 1 :]
        del self._blooms[number + 1 :]
        self._tx_index = {
            tx_hash: location
            for tx_hash, location in self._tx_index.items()
            if location[0] <= number
        }
        chaindb = self._chain.chaindb
        # Private py-evm API (eth-tester's revert uses it too): moves the canonical head back.
        # py-evm keeps its number and tx lookups of the dropped blocks, which is why every
        # lookup here goes through self._canonical and self._tx_index.
        chaindb._set_as_canonical_chain_head(chaindb.db, head, GENESIS_PARENT_HASH)
        self._chain.header = self._chain.create_header_from_parent(head)
        self._head = head
        self._pending.clear()
        self._time_offset = snapshot.time_offset
        self._next_timestamp = snapshot.next_timestamp
        self._min_next_timestamp = snapshot.min_next_timestamp
        return True

    # --- logs ---------------------------------------------------------------------------

    def logs(self, query: LogFilter) -> list[dict[str, Any]]:
        if query.block_hash is not None:
            header = self.header_by_hash(query.block_hash)
            if header is None:
                raise server_error("unknown block")
            numbers: Iterable[int] = (header.block_number,)
        else:
            first = self.block_number(query.from_block)
            last = self.block_number(query.to_block)
            if first > last:
                raise server_error("invalid block range params")
            numbers = range(first, min(last, self._head.block_number) + 1)

        bloom_query = _BloomQuery(query.addresses, query.topics)
        addresses = set(query.addresses)
        topics = [
            None if options is None else {int.from_bytes(value, "big") for value in options}
            for options in query.topics
        ]
        results = []
        for number in numbers:
            if not bloom_query.may_match(self._blooms[number]):
                continue
            header = self.header_by_number(number)
            mined = self._mined(header)
            log_index = 0
            for tx_index, (tx, receipt) in enumerate(zip(mined.transactions, mined.receipts)):
                for entry in receipt.logs:
                    if self._log_matches(entry, addresses, topics):
                        results.append(encoding.log(entry, header, tx.hash, tx_index, log_index))
                    log_index += 1
        return results

    @staticmethod
    def _log_matches(entry: Any, addresses: set[bytes], topics: list[set[int] | None]) -> bool:
        if addresses and entry.address not in addresses:
            return False
        for position, options in enumerate(topics):
            if options is None or not options:
                continue
            if position >= len(entry.topics) or entry.topics[position] not in options:
                return False
        return True

    # --- fees ---------------------------------------------------------------------------

    def fee_history(
        self, block_count: int, newest: BlockRef, percentiles: Sequence[float]
    ) -> dict[str, Any]:
        """geth's eth_feeHistory ("pending" counts as the head block)."""
        for index, percentile in enumerate(percentiles):
            if not 0 <= percentile <= 100 or (index and percentile < percentiles[index - 1]):
                raise server_error(f"invalid reward percentile: {percentile}")
        block_count = min(block_count, MAX_FEE_HISTORY_BLOCKS)
        if isinstance(newest, HashRef):
            newest_header = self.header_by_hash(newest.block_hash)
            if newest_header is None:
                raise server_error("header for hash not found")
            newest_number = newest_header.block_number
        else:
            newest_number = self.block_number(newest)
            if newest_number > self._head.block_number:
                raise server_error(
                    f"request beyond head block: requested {newest_number}, "
                    f"head {self._head.block_number}"
                )
        if block_count == 0:
            return {"oldestBlock": "0x0", "baseFeePerGas": [], "gasUsedRatio": []}

        oldest = max(0, newest_number - block_count + 1)
        headers = [self.header_by_number(number) for number in range(oldest, newest_number + 1)]
        following = self.header_by_number(newest_number + 1) or self._pending_header()
        fee_headers = headers + [following]
        result: dict[str, Any] = {
            "oldestBlock": encoding.quantity(oldest),
            "baseFeePerGas": [encoding.quantity(h.base_fee_per_gas) for h in fee_headers],
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers],
            "baseFeePerBlobGas": [encoding.quantity(blob_base_fee(h)) for h in fee_headers],
            "blobGasUsedRatio": [h.blob_gas_used / MAX_BLOB_GAS_PER_BLOCK for h in headers],
        }
        if percentiles:
            result["reward"] = [
                [encoding.quantity(tip) for tip in self._rewards(header, percentiles)]
                for header in headers
            ]
        return result

    def _rewards(self, header: Any, percentiles: Sequence[float]) -> list[int]:
        """The tips at the given percentiles of the block's gas, as geth computes them."""
        mined = self._mined(header)
        if not mined.transactions:
            return [0] * len(percentiles)
        base_fee = header.base_fee_per_gas
        by_tip = sorted(
            (encoding.effective_tip(tx, base_fee), mined.tx_gas_used(index))
            for index, tx in enumerate(mined.transactions)
        )
        rewards = []
        index = 0
        gas_sum = by_tip[0][1]
        for percentile in percentiles:
            threshold = header.gas_used * percentile / 100
            while gas_sum < threshold and index < len(by_tip) - 1:
                index += 1
                gas_sum += by_tip[index][1]
            rewards.append(by_tip[index][0])
        return rewards

    # --- eth_call and eth_estimateGas ---------------------------------------------------

    def call(self, request: CallRequest, ref: BlockRef) -> bytes:
        header = self.resolve(ref)
        state = self._state(header)
        gas = min(request.gas or header.gas_limit, CALL_GAS_CAP)
        message, credit = self._message(request, header, state, gas)
        self._check_call(request, header, state, message, gas)
        try:
            computation = self._execute(state, message, credit)
        except ValidationError as error:  # py-evm disagreed with the checks above
            raise server_error(str(error)) from error
        if computation.is_error:
            raise self._execution_error(computation)
        return computation.output

    def estimate_gas(self, request: CallRequest, ref: BlockRef) -> int:
        """The least gas limit with which the call succeeds: a binary search to 1 gas."""
        header = self.resolve(ref)
        state = self._state(header)
        sender = request.sender or ZERO_ADDRESS
        high = request.gas if request.gas and request.gas >= GAS_TX else header.gas_limit
        high = min(high, CALL_GAS_CAP)
        if request.has_fee_fields:
            fee_cap = self._fee_cap(request, header)
            balance = state.get_balance(sender)
            if request.value > balance:
                raise server_error("insufficient funds for transfer")
            if fee_cap:
                high = min(high, (balance - request.value) // fee_cap)

        probe, _ = self._message(request, header, state, high)
        min_gas = max(probe.intrinsic_gas, data_floor_gas(request.data))

        def attempt(gas: int) -> Any | None:
            """The computation at this gas limit, or None when the tx is not even valid."""
            if gas < min_gas:
                return None
            message, credit = self._message(request, header, state, gas)
            try:
                return self._execute(state, message, credit)
            except ValidationError:
                return None

        computation = attempt(high)
        if computation is None:
            self._check_fees(request, header)  # raises geth's reason, if it is the fees
            raise server_error(f"gas required exceeds allowance ({high})")
        if computation.is_error:
            if isinstance(computation.error, vm_errors.Revert):
                raise execution_reverted(computation.output)
            if isinstance(computation.error, vm_errors.OutOfGas):
                raise server_error(f"gas required exceeds allowance ({high})")
            raise server_error(vm_error_message(computation.error))

        def succeeds(gas: int) -> bool:
            result = attempt(gas)
            return result is not None and not result.is_error

        if succeeds(min_gas):  # plain transfers and the like
            return min_gas
        used = high - computation.get_gas_remaining()  # before the refund
        refund = min(computation.get_gas_refund(), used // 5)
        low = max(min_gas, used - refund) - 1  # geth: a limit below the gas used fails
        optimistic = (used + CALL_STIPEND) * 64 // 63  # geth's first guess
        if low + 1 < optimistic < high:
            if succeeds(optimistic):
                high = optimistic
            else:
                low = optimistic
        while low + 1 < high:
            middle = (low + high) // 2
            if succeeds(middle):
                high = middle
            else:
                low = middle
        return high

    @staticmethod
    def _execute(state: Any, message: Any, credit: int) -> Any:
        """Runs a call on ``state`` and throws the changes away."""
        snapshot = state.snapshot()
        try:
            if credit:
                state.delta_balance(message.sender, credit)
            return state.apply_transaction(message)
        finally:
            state.revert(snapshot)

    def _fee_cap(self, request: CallRequest, header: Any) -> int:
        if request.gas_price:
            return request.gas_price
        tip = request.max_priority_fee_per_gas or 0
        if request.max_fee_per_gas is None:
            return header.base_fee_per_gas + tip
        return request.max_fee_per_gas

    def _message(
        self, request: CallRequest, header: Any, state: Any, gas: int
    ) -> tuple[Any, int]:
        """The unsigned call as py-evm runs it, and the balance to credit the caller first.

        A call with no fee fields is priced at the base fee (geth runs it at price 0), so
        the gas cost is credited to the caller inside the throwaway state: the caller's
        balance during execution is its real balance, and an empty account can call.
        """
        sender = request.sender or ZERO_ADDRESS
        vm_class = self._chain.get_vm_class_for_block_number(header.block_number)
        builder = vm_class.get_transaction_builder()
        nonce = state.get_nonce(sender)
        credit = 0
        if request.gas_price:
            unsigned = self._unsigned(builder, request, nonce, gas, gas_price=request.gas_price)
        else:
            if request.has_fee_fields:
                tip = request.max_priority_fee_per_gas or 0
                fee_cap = self._fee_cap(request, header)
            else:
                tip = 0
                fee_cap = header.base_fee_per_gas
                credit = gas * fee_cap
            unsigned = self._unsigned(builder, request, nonce, gas, tip=tip, fee_cap=fee_cap)
        return SpoofTransaction(unsigned, from_=sender), credit

    def _unsigned(
        self,
        builder: Any,
        request: CallRequest,
        nonce: int,
        gas: int,
        gas_price: int | None = None,
        tip: int = 0,
        fee_cap: int = 0,
    ) -> Any:
        """Legacy (type 1 with an access list) when ``gas_price`` is given, else type 2."""
        fields = dict(
            nonce=nonce,
            gas=gas,
            to=request.to or CREATE_CONTRACT_ADDRESS,
            value=request.value,
            data=request.data,
        )
        chain_id = self.config.chain_id
        if gas_price is None:
            return builder.new_unsigned_dynamic_fee_transaction(
                chain_id=chain_id,
                max_priority_fee_per_gas=tip,
                max_fee_per_gas=fee_cap,
                access_list=request.access_list or (),
                **fields,
            )
        if request.access_list is None:
            return builder.create_unsigned_transaction(gas_price=gas_price, **fields)
        return builder.new_unsigned_access_list_transaction(
            chain_id=chain_id, gas_price=gas_price, access_list=request.access_list, **fields
        )

    def _check_fees(self, request: CallRequest, header: Any) -> None:
        if not request.has_fee_fields:
            return
        address = to_checksum_address(request.sender or ZERO_ADDRESS)
        fee_cap = self._fee_cap(request, header)
        tip = request.max_priority_fee_per_gas or 0
        if request.gas_price is None and tip > fee_cap:
            raise server_error(
                "max priority fee per gas higher than max fee per gas: "
                f"address {address}, maxPriorityFeePerGas: {tip}, maxFeePerGas: {fee_cap}"
            )
        if fee_cap < header.base_fee_per_gas:
            raise server_error(
                "max fee per gas less than block base fee: "
                f"address {address}, maxFeePerGas: {fee_cap}, baseFee: {header.base_fee_per_gas}"
            )

    def _check_call(
        self, request: CallRequest, header: Any, state: Any, message: Any, gas: int
    ) -> None:
        """geth's pre-execution errors for a call (py-evm's would be worded differently)."""
        self._check_fees(request, header)
        sender = request.sender or ZERO_ADDRESS
        wanted = request.value
        if request.has_fee_fields:
            wanted += gas * self._fee_cap(request, header)
        balance = state.get_balance(sender)
        if balance < wanted:
            raise server_error(
                "insufficient funds for gas * price + value: "
                f"address {to_checksum_address(sender)} have {balance} want {wanted}"
            )
        intrinsic = message.intrinsic_gas
        if gas < intrinsic:
            raise server_error(f"intrinsic gas too low: have {gas}, want {intrinsic}")
        floor = data_floor_gas(request.data)
        if gas < floor:
            raise server_error(
                f"insufficient gas for floor data gas cost: have {gas}, want {floor}"
            )

    @staticmethod
    def _execution_error(computation: Any) -> RpcError:
        if isinstance(computation.error, vm_errors.Revert):
            return execution_reverted(computation.output)
        return server_error(vm_error_message(computation.error))
