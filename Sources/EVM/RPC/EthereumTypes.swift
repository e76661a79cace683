/// Which state a read looks at.
public enum BlockTag: Sendable, Hashable {
    case latest, pending, earliest, safe, finalized
    case number(UInt64)

    var json: JSONValue {
        switch self {
        case .latest: return "latest"
        case .pending: return "pending"
        case .earliest: return "earliest"
        case .safe: return "safe"
        case .finalized: return "finalized"
        case .number(let number): return .string(UInt256(number).quantityHex)
        }
    }
}

/// The parameters of `eth_call` and `eth_estimateGas`.
public struct CallRequest: Sendable, Hashable {
    public var from: Address?
    public var to: Address?
    public var data: [UInt8]
    public var value: UInt256?
    public var gas: UInt64?

    public init(from: Address? = nil, to: Address?, data: [UInt8] = [], value: UInt256? = nil, gas: UInt64? = nil) {
        self.from = from
        self.to = to
        self.data = data
        self.value = value
        self.gas = gas
    }

    var json: JSONValue {
        var object: [String: JSONValue] = ["data": .string(data.prefixedHex)]
        if let from { object["from"] = .string(from.lowercased) }
        if let to { object["to"] = .string(to.lowercased) }
        if let value { object["value"] = .string(value.quantityHex) }
        if let gas { object["gas"] = .string(UInt256(gas).quantityHex) }
        return .object(object)
    }
}

/// A log entry from a receipt or `eth_getLogs`.
public struct Log: Sendable, Hashable {
    public let address: Address
    public let topics: [[UInt8]]
    public let data: [UInt8]
    public let blockNumber: UInt64?
    public let transactionHash: [UInt8]?
    public let logIndex: UInt64?
}

/// A mined transaction's receipt.
public struct TransactionReceipt: Sendable, Hashable {
    public let transactionHash: [UInt8]
    public let blockNumber: UInt64
    public let blockHash: [UInt8]
    /// true when the transaction succeeded (status 1).
    public let succeeded: Bool
    public let gasUsed: UInt64
    public let effectiveGasPrice: UInt256?
    public let contractAddress: Address?
    public let from: Address?
    public let to: Address?
    public let logs: [Log]
}

/// What `eth_getLogs` should return.
public struct LogFilter: Sendable, Hashable {
    public var fromBlock: BlockTag
    public var toBlock: BlockTag
    public var addresses: [Address]
    /// One entry per topic position; nil matches anything, several values match any of them.
    public var topics: [[[UInt8]]?]

    public init(fromBlock: BlockTag = .earliest, toBlock: BlockTag = .latest, addresses: [Address] = [], topics: [[[UInt8]]?] = []) {
        self.fromBlock = fromBlock
        self.toBlock = toBlock
        self.addresses = addresses
        self.topics = topics
    }

    var json: JSONValue {
        var object: [String: JSONValue] = ["fromBlock": fromBlock.json, "toBlock": toBlock.json]
        if !addresses.isEmpty { object["address"] = .array(addresses.map { .string($0.lowercased) }) }
        if !topics.isEmpty {
            object["topics"] = .array(topics.map { position in
                guard let position else { return .null }
                return position.count == 1 ? .string(position[0].prefixedHex) : .array(position.map { .string($0.prefixedHex) })
            })
        }
        return .object(object)
    }
}

/// `eth_feeHistory`: recent base fees and priority-fee percentiles.
public struct FeeHistory: Sendable, Hashable {
    public let oldestBlock: UInt64
    /// One more entry than blocks: the last is the next block's base fee.
    public let baseFeePerGas: [UInt256]
    public let gasUsedRatio: [Double]
    /// Per block, one reward per requested percentile.
    public let reward: [[UInt256]]

    /// The base fee of the block after the newest one.
    public var nextBaseFee: UInt256? { baseFeePerGas.last }
}
