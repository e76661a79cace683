/// Typed `eth_*` methods over ``JSONRPCClient``.
extension JSONRPCClient {
    public func chainID() async throws(RPCError) -> UInt64 {
        try Decode.uint64(try await request("eth_chainId"), method: "eth_chainId")
    }

    public func blockNumber() async throws(RPCError) -> UInt64 {
        try Decode.uint64(try await request("eth_blockNumber"), method: "eth_blockNumber")
    }

    /// `eth_call`: returns the return data. A revert throws an ``RPCError`` whose
    /// ``RPCError/revertData`` holds the revert bytes.
    public func call(_ call: CallRequest, block: BlockTag = .latest) async throws(RPCError) -> [UInt8] {
        try Decode.bytes(try await request("eth_call", [call.json, block.json]), method: "eth_call")
    }

    public func balance(of address: Address, block: BlockTag = .latest) async throws(RPCError) -> UInt256 {
        try Decode.uint(try await request("eth_getBalance", [.string(address.lowercased), block.json]), method: "eth_getBalance")
    }

    /// The next nonce; `.pending` counts transactions not yet mined.
    public func transactionCount(of address: Address, block: BlockTag = .pending) async throws(RPCError) -> UInt64 {
        try Decode.uint64(
            try await request("eth_getTransactionCount", [.string(address.lowercased), block.json]), method: "eth_getTransactionCount"
        )
    }

    public func gasPrice() async throws(RPCError) -> UInt256 {
        try Decode.uint(try await request("eth_gasPrice"), method: "eth_gasPrice")
    }

    public func maxPriorityFeePerGas() async throws(RPCError) -> UInt256 {
        try Decode.uint(try await request("eth_maxPriorityFeePerGas"), method: "eth_maxPriorityFeePerGas")
    }

    public func feeHistory(blockCount: Int, newestBlock: BlockTag = .latest, rewardPercentiles: [Double] = []) async throws(RPCError) -> FeeHistory {
        let method = "eth_feeHistory"
        let result = try await request(
            method, [.string(UInt256(UInt64(blockCount)).quantityHex), newestBlock.json, .array(rewardPercentiles.map { .number($0) })]
        )
        let baseFees = try (result["baseFeePerGas"]?.arrayValue ?? []).map { (value) throws(RPCError) -> UInt256 in try Decode.uint(value, method: method) }
        let ratios = (result["gasUsedRatio"]?.arrayValue ?? []).compactMap { value -> Double? in
            if case .number(let number) = value { return number }
            return nil
        }
        let rewards = try (result["reward"]?.arrayValue ?? []).map { (row) throws(RPCError) -> [UInt256] in
            try (row.arrayValue ?? []).map { (value) throws(RPCError) -> UInt256 in try Decode.uint(value, method: method) }
        }
        return FeeHistory(
            oldestBlock: try Decode.uint64(result["oldestBlock"] ?? .null, method: method),
            baseFeePerGas: baseFees, gasUsedRatio: ratios, reward: rewards
        )
    }

    public func estimateGas(_ call: CallRequest) async throws(RPCError) -> UInt64 {
        try Decode.uint64(try await request("eth_estimateGas", [call.json]), method: "eth_estimateGas")
    }

    /// Broadcasts signed bytes; returns the transaction hash the node reports.
    public func sendRawTransaction(_ raw: [UInt8]) async throws(RPCError) -> [UInt8] {
        try Decode.bytes(try await request("eth_sendRawTransaction", [.string(raw.prefixedHex)]), method: "eth_sendRawTransaction")
    }

    /// The receipt, or nil while the transaction is not mined.
    public func transactionReceipt(_ hash: [UInt8]) async throws(RPCError) -> TransactionReceipt? {
        let method = "eth_getTransactionReceipt"
        let result = try await request(method, [.string(hash.prefixedHex)])
        if result.isNull { return nil }
        return try Decode.receipt(result, method: method)
    }

    public func logs(_ filter: LogFilter) async throws(RPCError) -> [Log] {
        let method = "eth_getLogs"
        let result = try await request(method, [filter.json])
        guard let entries = result.arrayValue else { throw Decode.invalid(method, "expected an array of logs") }
        return try entries.map { (entry) throws(RPCError) -> Log in try Decode.log(entry, method: method) }
    }
}

/// Decoding of JSON-RPC results into typed values, with errors naming the method.
enum Decode {
    static func invalid(_ method: String, _ message: String) -> RPCError {
        RPCError(kind: .invalidResponse, method: method, message: message)
    }

    static func uint(_ value: JSONValue, method: String) throws(RPCError) -> UInt256 {
        guard let text = value.stringValue, let number = UInt256(hex: text) else { throw invalid(method, "expected a hex quantity") }
        return number
    }

    static func uint64(_ value: JSONValue, method: String) throws(RPCError) -> UInt64 {
        guard let number = try uint(value, method: method).uint64Value else { throw invalid(method, "quantity wider than 64 bits") }
        return number
    }

    static func bytes(_ value: JSONValue, method: String) throws(RPCError) -> [UInt8] {
        guard let text = value.stringValue, let bytes = try? [UInt8](hex: text) else { throw invalid(method, "expected hex data") }
        return bytes
    }

    static func address(_ value: JSONValue, method: String) throws(RPCError) -> Address {
        guard let text = value.stringValue, let address = try? Address(hex: text) else { throw invalid(method, "expected an address") }
        return address
    }

    static func optionalAddress(_ value: JSONValue?, method: String) throws(RPCError) -> Address? {
        guard let value, !value.isNull else { return nil }
        return try address(value, method: method)
    }

    static func log(_ value: JSONValue, method: String) throws(RPCError) -> Log {
        let topics = try (value["topics"]?.arrayValue ?? []).map { (topic) throws(RPCError) -> [UInt8] in try bytes(topic, method: method) }
        return Log(
            address: try address(value["address"] ?? .null, method: method),
            topics: topics,
            data: try bytes(value["data"] ?? "0x", method: method),
            blockNumber: try value["blockNumber"].flatMap { $0.isNull ? nil : $0 }.map { (v) throws(RPCError) -> UInt64 in try uint64(v, method: method) },
            transactionHash: try value["transactionHash"].flatMap { $0.isNull ? nil : $0 }.map { (v) throws(RPCError) -> [UInt8] in try bytes(v, method: method) },
            logIndex: try value["logIndex"].flatMap { $0.isNull ? nil : $0 }.map { (v) throws(RPCError) -> UInt64 in try uint64(v, method: method) }
        )
    }

    static func receipt(_ value: JSONValue, method: String) throws(RPCError) -> TransactionReceipt {
        let logs = try (value["logs"]?.arrayValue ?? []).map { (entry) throws(RPCError) -> Log in try log(entry, method: method) }
        let status = try uint64(value["status"] ?? .null, method: method)
        return TransactionReceipt(
            transactionHash: try bytes(value["transactionHash"] ?? .null, method: method),
            blockNumber: try uint64(value["blockNumber"] ?? .null, method: method),
            blockHash: try bytes(value["blockHash"] ?? .null, method: method),
            succeeded: status == 1,
            gasUsed: try uint64(value["gasUsed"] ?? .null, method: method),
            effectiveGasPrice: try value["effectiveGasPrice"].map { (v) throws(RPCError) -> UInt256 in try uint(v, method: method) },
            contractAddress: try optionalAddress(value["contractAddress"], method: method),
            from: try optionalAddress(value["from"], method: method),
            to: try optionalAddress(value["to"], method: method),
            logs: logs
        )
    }
}
