/// An entry of an EIP-2930 access list.
public struct AccessListEntry: Sendable, Hashable {
    public var address: Address
    public var storageKeys: [[UInt8]]

    public init(address: Address, storageKeys: [[UInt8]] = []) {
        self.address = address
        self.storageKeys = storageKeys
    }

    var rlp: RLP { .list([.bytes(address.bytes), .list(storageKeys.map { .bytes($0) })]) }
}

/// How a transaction pays for gas.
public enum TransactionFees: Sendable, Hashable {
    /// Pre-London `gasPrice`, sent as an EIP-155 legacy transaction.
    case legacy(gasPrice: UInt256)
    /// EIP-1559 fees, sent as a type-2 transaction.
    case eip1559(maxFeePerGas: UInt256, maxPriorityFeePerGas: UInt256)

    /// The most this transaction can pay per unit of gas.
    public var maxPricePerGas: UInt256 {
        switch self {
        case .legacy(let gasPrice): return gasPrice
        case .eip1559(let maxFee, _): return maxFee
        }
    }
}

/// An unsigned transaction: everything but the signature.
///
/// One type for both encodings keeps the sender simple: the fee choice alone decides whether
/// it is sent as legacy EIP-155 or as EIP-1559 type 2.
public struct Transaction: Sendable, Hashable {
    public var chainID: UInt64
    public var nonce: UInt64
    public var fees: TransactionFees
    public var gasLimit: UInt64
    /// nil creates a contract.
    public var to: Address?
    public var value: UInt256
    public var data: [UInt8]
    /// Only type-2 transactions carry one.
    public var accessList: [AccessListEntry]

    public init(
        chainID: UInt64, nonce: UInt64, fees: TransactionFees, gasLimit: UInt64,
        to: Address?, value: UInt256 = .zero, data: [UInt8] = [], accessList: [AccessListEntry] = []
    ) {
        self.chainID = chainID
        self.nonce = nonce
        self.fees = fees
        self.gasLimit = gasLimit
        self.to = to
        self.value = value
        self.data = data
        self.accessList = accessList
    }

    private var toRLP: RLP { .bytes(to?.bytes ?? []) }

    private func eip1559Fields(maxFee: UInt256, tip: UInt256) -> [RLP] {
        [
            .uint(chainID), .uint(nonce), .uint(tip), .uint(maxFee), .uint(gasLimit), toRLP, .uint(value),
            .bytes(data), .list(accessList.map(\.rlp)),
        ]
    }

    /// The hash that gets signed: EIP-155 for legacy, keccak(0x02 ‖ rlp(fields)) for type 2.
    public var signingHash: [UInt8] {
        switch fees {
        case .legacy(let gasPrice):
            let fields: [RLP] = [
                .uint(nonce), .uint(gasPrice), .uint(gasLimit), toRLP, .uint(value), .bytes(data),
                .uint(chainID), .bytes([]), .bytes([]),
            ]
            return keccak256(RLP.list(fields).encoded)
        case .eip1559(let maxFee, let tip):
            return keccak256([0x02] + RLP.list(eip1559Fields(maxFee: maxFee, tip: tip)).encoded)
        }
    }

    /// Signs the transaction with `key`.
    public func signed(with key: PrivateKey) throws(SigningError) -> SignedTransaction {
        let signature = try key.sign(hash: signingHash)
        return SignedTransaction(transaction: self, signature: signature, from: key.address)
    }

    /// The raw bytes for a given signature.
    func raw(signature: Signature) -> [UInt8] {
        let r = RLP.uint(UInt256(bigEndian: signature.r)!)
        let s = RLP.uint(UInt256(bigEndian: signature.s)!)
        switch fees {
        case .legacy(let gasPrice):
            let v = UInt256(chainID) * 2 + UInt256(35 + UInt64(signature.recoveryID))
            let fields: [RLP] = [
                .uint(nonce), .uint(gasPrice), .uint(gasLimit), toRLP, .uint(value), .bytes(data), .uint(v), r, s,
            ]
            return RLP.list(fields).encoded
        case .eip1559(let maxFee, let tip):
            let fields = eip1559Fields(maxFee: maxFee, tip: tip) + [.uint(UInt64(signature.recoveryID)), r, s]
            return [0x02] + RLP.list(fields).encoded
        }
    }
}

/// A signed transaction, ready for `eth_sendRawTransaction`.
public struct SignedTransaction: Sendable, Hashable {
    public let transaction: Transaction
    public let signature: Signature
    /// The sender, known from the key that signed.
    public let from: Address
    /// The bytes to broadcast.
    public let raw: [UInt8]
    /// The transaction hash: keccak256 of the raw bytes.
    public let hash: [UInt8]

    init(transaction: Transaction, signature: Signature, from: Address) {
        self.transaction = transaction
        self.signature = signature
        self.from = from
        self.raw = transaction.raw(signature: signature)
        self.hash = keccak256(raw)
    }
}
