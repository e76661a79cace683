import EVM

/// Read-only calls to one contract with outputs decoded and reverts mapped to ``BrokerError``.
struct ContractCaller: Sendable {
    let client: JSONRPCClient
    let address: Address

    func call(_ function: ABIFunction, _ arguments: [ABIValue] = [], block: BlockTag = .latest) async throws(BrokerError) -> [ABIValue] {
        let calldata: [UInt8]
        do {
            calldata = try function.encodeCall(arguments)
        } catch {
            throw .invalidResponse("cannot encode \(function.name): \(error)")
        }
        let output: [UInt8]
        do {
            output = try await client.call(CallRequest(to: address, data: calldata), block: block)
        } catch {
            throw ContractErrors.map(error)
        }
        do {
            return try function.decodeOutput(output)
        } catch {
            throw .invalidResponse("\(function.name) at \(address) returned undecodable data: \(error)")
        }
    }

    /// Decodes values or reports which function's output did not fit.
    static func decode<T>(_ function: ABIFunction, _ body: () throws(ABIError) -> T) throws(BrokerError) -> T {
        do {
            return try body()
        } catch {
            throw .invalidResponse("\(function.name) returned an unexpected shape: \(error)")
        }
    }
}
