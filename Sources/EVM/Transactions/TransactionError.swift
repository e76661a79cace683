/// Why a transaction did not go through.
public enum TransactionError: Error, Sendable, CustomStringConvertible {
    /// The node could not be reached, or refused the transaction (its message says why:
    /// `insufficient funds for gas * price + value`, `nonce too low`, …).
    case rpc(RPCError)
    /// The contract reverted: when estimating gas (`transactionHash` nil, nothing was sent) or
    /// once mined (the fee was paid). The reason is decoded against the contract's errors.
    case reverted(RevertReason, transactionHash: [UInt8]?)
    /// Sent, but no receipt within the timeout. It may still be mined: check the hash.
    case receiptTimeout(transactionHash: [UInt8], waited: Duration)
    /// The fee the network asks exceeds the configured cap.
    case feeAboveCap(maxFeePerGas: UInt256, cap: UInt256)
    case signing(SigningError)

    public var description: String {
        switch self {
        case .rpc(let error): return error.description
        case .reverted(let reason, let hash):
            if let hash { return "transaction \(hash.prefixedHex) reverted: \(reason)" }
            return "the transaction would revert: \(reason)"
        case .receiptTimeout(let hash, let waited):
            return "transaction \(hash.prefixedHex) was not mined within \(waited); it may still be mined later"
        case .feeAboveCap(let fee, let cap):
            return "network fee \(fee) wei/gas is above the configured cap of \(cap) wei/gas"
        case .signing(let error): return error.description
        }
    }

    /// The revert, when the failure is one.
    public var revertReason: RevertReason? {
        if case .reverted(let reason, _) = self { return reason }
        return nil
    }
}
