"""py-evm objects to geth's JSON shapes (blocks, transactions, receipts, logs).

eth-tester has serializers too, but they produce its own snake_case dicts that still need
web3's normalizers; these write what geth writes on the wire: hex quantities, lowercase
addresses, camelCase keys, and the typed-transaction fields (``type``, ``chainId``,
``yParity``, ``accessList``, ``effectiveGasPrice``).
"""

from __future__ import annotations

from typing import Any, Sequence

from eth_hash.auto import keccak
import rlp

LEGACY_TX_TYPE = 0
ACCESS_LIST_TX_TYPE = 1
DYNAMIC_FEE_TX_TYPE = 2


def quantity(value: int) -> str:
    return hex(value)


def data(value: bytes) -> str:
    return "0x" + value.hex()


def address(value: bytes) -> str:
    """Addresses go out lowercase, as geth sends them."""
    return "0x" + value.hex()


def word(value: int) -> str:
    """A 32-byte word (topic, storage key) from py-evm's int form."""
    return "0x" + value.to_bytes(32, "big").hex()


def bloom(value: int) -> str:
    return "0x" + value.to_bytes(256, "big").hex()


def tx_type(tx: Any) -> int:
    return LEGACY_TX_TYPE if tx.type_id is None else tx.type_id


def effective_gas_price(tx: Any, base_fee: int) -> int:
    """What the sender paid per gas in a block with this base fee (EIP-1559)."""
    if tx_type(tx) == DYNAMIC_FEE_TX_TYPE:
        return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)
    return tx.gas_price


def effective_tip(tx: Any, base_fee: int) -> int:
    return effective_gas_price(tx, base_fee) - base_fee


def contract_address(sender: bytes, nonce: int) -> bytes:
    return keccak(rlp.encode([sender, nonce]))[12:]


def access_list(entries: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"address": address(account), "storageKeys": [word(key) for key in keys]}
        for account, keys in entries
    ]


def transaction(
    tx: Any,
    sender: bytes,
    header: Any | None = None,
    index: int | None = None,
) -> dict[str, Any]:
    """geth's RPCTransaction. ``header`` and ``index`` are None while the tx is pending."""
    kind = tx_type(tx)
    out: dict[str, Any] = {
        "blockHash": None if header is None else data(header.hash),
        "blockNumber": None if header is None else quantity(header.block_number),
        "from": address(sender),
        "gas": quantity(tx.gas),
        "gasPrice": None,  # filled below
        "hash": data(tx.hash),
        "input": data(tx.data),
        "nonce": quantity(tx.nonce),
        "to": address(tx.to) if tx.to else None,
        "transactionIndex": None if index is None else quantity(index),
        "value": quantity(tx.value),
        "type": quantity(kind),
    }
    if kind == DYNAMIC_FEE_TX_TYPE:
        out["maxFeePerGas"] = quantity(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee_per_gas)
        # geth: the effective price once mined, the fee cap while pending.
        if header is None:
            out["gasPrice"] = quantity(tx.max_fee_per_gas)
        else:
            out["gasPrice"] = quantity(effective_gas_price(tx, header.base_fee_per_gas))
    else:
        out["gasPrice"] = quantity(tx.gas_price)
    if kind == LEGACY_TX_TYPE:
        if tx.chain_id is not None:
            out["chainId"] = quantity(tx.chain_id)
        out["v"] = quantity(tx.v)
    else:
        out["chainId"] = quantity(tx.chain_id)
        out["accessList"] = access_list(tx.access_list)
        out["v"] = quantity(tx.y_parity)
        out["yParity"] = quantity(tx.y_parity)
    out["r"] = quantity(tx.r)
    out["s"] = quantity(tx.s)
    return out


def log(
    entry: Any,
    header: Any,
    tx_hash: bytes,
    tx_index: int,
    log_index: int,
) -> dict[str, Any]:
    return {
        "address": address(entry.address),
        "topics": [word(topic) for topic in entry.topics],
        "data": data(entry.data),
        "blockNumber": quantity(header.block_number),
        "blockHash": data(header.hash),
        "blockTimestamp": quantity(header.timestamp),
        "transactionHash": data(tx_hash),
        "transactionIndex": quantity(tx_index),
        "logIndex": quantity(log_index),
        "removed": False,
    }


def receipt(
    tx: Any,
    sender: bytes,
    tx_receipt: Any,
    gas_used: int,
    header: Any,
    index: int,
    first_log_index: int,
) -> dict[str, Any]:
    """geth's receipt. ``gas_used`` is this tx's share of the cumulative gas."""
    created = contract_address(sender, tx.nonce) if not tx.to else None
    return {
        "blockHash": data(header.hash),
        "blockNumber": quantity(header.block_number),
        "contractAddress": None if created is None else address(created),
        "cumulativeGasUsed": quantity(tx_receipt.gas_used),
        "effectiveGasPrice": quantity(effective_gas_price(tx, header.base_fee_per_gas)),
        "from": address(sender),
        "gasUsed": quantity(gas_used),
        "logs": [
            log(entry, header, tx.hash, index, first_log_index + offset)
            for offset, entry in enumerate(tx_receipt.logs)
        ],
        "logsBloom": bloom(tx_receipt.bloom),
        "status": "0x1" if tx_receipt.state_root == b"\x01" else "0x0",
        "to": address(tx.to) if tx.to else None,
        "transactionHash": data(tx.hash),
        "transactionIndex": quantity(index),
        "type": quantity(tx_type(tx)),
    }


def header_fields(header: Any) -> dict[str, Any]:
    """geth's RPCMarshalHeader for a post-Prague header."""
    out: dict[str, Any] = {
        "number": quantity(header.block_number),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "nonce": data(header.nonce),
        "mixHash": data(header.mix_hash),
        "sha3Uncles": data(header.uncles_hash),
        "logsBloom": bloom(header.bloom),
        "stateRoot": data(header.state_root),
        "miner": address(header.coinbase),
        "difficulty": quantity(header.difficulty),
        "extraData": data(header.extra_data),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
        "transactionsRoot": data(header.transaction_root),
        "receiptsRoot": data(header.receipt_root),
        "baseFeePerGas": quantity(header.base_fee_per_gas),
    }
    optional = (
        ("withdrawalsRoot", "withdrawals_root", data),
        ("blobGasUsed", "blob_gas_used", quantity),
        ("excessBlobGas", "excess_blob_gas", quantity),
        ("parentBeaconBlockRoot", "parent_beacon_block_root", data),
        ("requestsHash", "requests_hash", data),
    )
    for key, attribute, encode in optional:
        value = getattr(header, attribute, None)
        if value is not None:
            out[key] = encode(value)
    return out


def block(
    header: Any,
    transactions: Sequence[Any],
    senders: Sequence[bytes],
    size: int,
    full_transactions: bool,
    pending: bool = False,
) -> dict[str, Any]:
    out = header_fields(header)
    if pending:
        # geth leaves the fields that only sealing fixes empty on the pending block.
        out.update({"hash": None, "nonce": None, "miner": None})
    tx_header = None if pending else header
    if full_transactions:
        out["transactions"] = [
            transaction(tx, sender, tx_header, None if pending else index)
            for index, (tx, sender) in enumerate(zip(transactions, senders))
        ]
    else:
        out["transactions"] = [data(tx.hash) for tx in transactions]
    out["size"] = quantity(size)
    out["uncles"] = []
    out["withdrawals"] = []
    return out
