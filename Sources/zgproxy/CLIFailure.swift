import EVM
import Proxy
import ZGBroker

/// Why a command failed, reduced to what a person or a script needs: one line of text and an
/// exit code in the spirit of `sysexits.h`.
///
/// Every error a command can meet (``BrokerError``, ``ConfigurationError``, ``RPCError``, …) is
/// mapped here, in one place, so the codes mean the same thing for every command:
///
/// | code | meaning |
/// |---|---|
/// | 64 | usage or configuration: a bad argument, a missing or invalid setting |
/// | 65 | the chain refused: a revert or a contract rule (no ledger, no sub-account, …) |
/// | 66 | not enough funds (wallet, ledger or a contract minimum) |
/// | 69 | a network problem: the RPC or a provider is unreachable, timed out or answered 5xx |
/// | 1 | anything else |
///
/// Messages never contain the private key: none of the mapped errors carries it, and RPC errors
/// name the method, not the URL (which may hold an API key).
struct CLIFailure: Error, CustomStringConvertible {
    enum Kind: Int32, Sendable {
        case other = 1
        case usage = 64
        case chain = 65
        case funds = 66
        case network = 69
    }

    let kind: Kind
    let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    var description: String { message }
    var exitCode: Int32 { kind.rawValue }

    static func usage(_ message: String) -> CLIFailure { CLIFailure(.usage, message) }

    /// Maps any error a command may throw; anything unknown is "other" (exit 1).
    init(_ error: any Error) {
        self = Self.mapping(error) ?? CLIFailure(.other, String(describing: error))
    }

    /// The mapping of the errors this package defines; nil for others (ArgumentParser's own
    /// help and usage errors among them, which it reports itself).
    static func mapping(_ error: any Error) -> CLIFailure? {
        switch error {
        case let failure as CLIFailure: return failure
        case let error as BrokerError: return map(error)
        case let error as ConfigurationError: return CLIFailure(.usage, error.description)
        case let error as RPCError: return map(error)
        case let error as TransactionError: return map(error)
        case let error as DecimalAmountError: return CLIFailure(.usage, error.description)
        case let error as AddressError: return CLIFailure(.usage, error.description)
        case let error as SessionTokenError: return CLIFailure(error == .noFreeTokenID ? .chain : .usage, error.description)
        case let error as SandboxError: return CLIFailure(.usage, error.description)
        case let error as DatabaseError: return CLIFailure(.network, error.description)
        case let error as AccountError: return CLIFailure(.usage, error.description)
        default: return nil
        }
    }

    static func map(_ error: BrokerError) -> CLIFailure {
        switch error {
        case .ledgerNotFound, .accountNotFound, .contractRule: return CLIFailure(.chain, error.description)
        case .insufficientFunds, .spendingCapReached: return CLIFailure(.funds, error.description)
        case .unknownModel, .providerNotFound: return CLIFailure(.usage, error.description)
        case .noUsableProvider, .providerUnreachable: return CLIFailure(.network, error.description)
        case .providerRejected(let provider, let status, let message):
            if status >= 500 || status == 429 { return CLIFailure(.network, error.description) }
            // The provider's own words for a missing or drained sub-account, with the fix.
            let lower = message.lowercased()
            if lower.contains("account not exist") || lower.contains("insufficient balance") {
                return CLIFailure(.funds, error.description + "; fund it with: zgproxy ledger transfer --provider \(provider) 1")
            }
            return CLIFailure(.other, error.description)
        case .verificationFailed, .invalidResponse: return CLIFailure(.other, error.description)
        case .chain(let rpc): return map(rpc)
        case .transaction(let transaction): return map(transaction)
        }
    }

    static func map(_ error: RPCError) -> CLIFailure {
        switch error.kind {
        case .transport, .timeout, .httpStatus, .invalidResponse: return CLIFailure(.network, error.description)
        case .node:
            if error.isExecutionRevert { return CLIFailure(.chain, error.description) }
            if error.message.lowercased().contains("insufficient funds") {
                return CLIFailure(.funds, error.description + " (the wallet cannot pay the amount plus gas)")
            }
            return CLIFailure(.other, error.description)
        }
    }

    static func map(_ error: TransactionError) -> CLIFailure {
        switch error {
        case .rpc(let rpc): return map(rpc)
        case .reverted: return CLIFailure(.chain, error.description)
        case .receiptTimeout: return CLIFailure(.network, error.description)
        case .feeAboveCap, .signing: return CLIFailure(.other, error.description)
        }
    }
}
