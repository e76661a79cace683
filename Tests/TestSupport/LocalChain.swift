import EVM

/// What the devchain and the sandbox share: an RPC client and a funded account to pay from.
public protocol LocalChain: Sendable {
    var client: JSONRPCClient { get }
    /// Sends from a pre-funded account; shared so concurrent tests get distinct nonces.
    var funder: TransactionSender { get }
}

extension LocalChain {
    /// A fresh random key holding `ether` (10^18 base units) on this chain.
    public func fundedKey(ether: UInt64 = 100) async throws -> PrivateKey {
        let key = PrivateKey.random()
        try await funder.send(to: key.address, value: UInt256(ether) * UInt256.power(ofTen: 18))
        return key
    }

    /// Moves the chain's clock forward (the next block is at least `seconds` later), to pass
    /// lock times such as the 0G refund lock.
    public func increaseTime(seconds: UInt64) async throws {
        _ = try await client.request("evm_increaseTime", [.number(Double(seconds))])
        _ = try await client.request("evm_mine")
    }
}
