import EVM

/// What can go wrong using 0G, in terms a caller can act on.
///
/// Each case carries what the proxy needs to answer the client (an HTTP status and an OpenAI
/// error code) and what the command line needs to tell the operator (a message naming the fix).
/// No case ever carries the private key or a session token.
public enum BrokerError: Error, Sendable, CustomStringConvertible {
    /// The wallet has no ledger yet (`LedgerNotExists`).
    case ledgerNotFound(Address)
    /// The wallet's sub-account with a provider does not exist (`AccountNotExists`).
    case accountNotFound(user: Address, provider: Address)
    /// Not enough funds for what was asked: a minimum not met, or a balance too low.
    /// `required` and `available` are in neuron.
    case insufficientFunds(message: String, required: UInt256, available: UInt256)
    /// A rule the contract would enforce with a revert (checked before sending).
    case contractRule(RevertReason, message: String)
    /// No service offers this model.
    case unknownModel(String)
    /// Services offer the model but none can be used now (unacknowledged signer, all failing).
    case noUsableProvider(model: String, reason: String)
    /// No service is registered at this provider address.
    case providerNotFound(Address)
    /// A provider answered with an error.
    case providerRejected(provider: Address, status: Int, message: String)
    /// A provider could not be reached or timed out.
    case providerUnreachable(provider: Address, message: String)
    /// A provider's response signature did not check out.
    case verificationFailed(provider: Address, reason: String)
    /// The operator's daily auto-funding cap would be exceeded.
    case spendingCapReached(cap: UInt256, spent: UInt256)
    case chain(RPCError)
    case transaction(TransactionError)
    case invalidResponse(String)

    public var description: String {
        switch self {
        case .ledgerNotFound(let user):
            return "no 0G ledger for \(user); create one with: zgproxy ledger fund 3"
        case .accountNotFound(let user, let provider):
            return "\(user) has no sub-account with provider \(provider); fund it with: zgproxy ledger transfer --provider \(provider) 1"
        case .insufficientFunds(let message, _, _): return message
        case .contractRule(_, let message): return message
        case .unknownModel(let model): return "no 0G provider serves the model \"\(model)\""
        case .noUsableProvider(let model, let reason): return "no usable 0G provider for \"\(model)\": \(reason)"
        case .providerNotFound(let provider): return "no 0G service is registered by \(provider)"
        case .providerRejected(let provider, let status, let message): return "provider \(provider) answered \(status): \(message)"
        case .providerUnreachable(let provider, let message): return "provider \(provider) unreachable: \(message)"
        case .verificationFailed(let provider, let reason): return "response from \(provider) failed verification: \(reason)"
        case .spendingCapReached(let cap, let spent):
            return "daily funding cap of \(cap.zeroG) reached (\(spent.zeroG) spent today); raise ZG_DAILY_FUNDING_CAP or wait"
        case .chain(let error): return error.description
        case .transaction(let error): return error.description
        case .invalidResponse(let message): return "invalid response: \(message)"
        }
    }
}

extension UInt256 {
    /// The amount in 0G with 18 decimals, e.g. `"1.5 0G"`.
    public var zeroG: String { decimalUnits(decimals: 18) + " 0G" }

    /// Reads a decimal 0G amount (`"1.5"`) as neuron.
    public static func zeroG(_ text: String) throws(DecimalAmountError) -> UInt256 {
        try UInt256(decimalUnits: text, decimals: 18)
    }

    /// 10^18 neuron.
    public static let oneZeroG = UInt256.power(ofTen: 18)
}

/// Turns the 0G contracts' custom errors into ``BrokerError``s with messages a person can act on.
enum ContractErrors {
    static let all = LedgerManagerABI.errors + InferenceServingABI.errors

    static func brokerError(_ reason: RevertReason) -> BrokerError {
        guard case .custom(let definition, let values) = reason else {
            return .contractRule(reason, message: "the contract refused: \(reason)")
        }
        func amount(_ index: Int) -> UInt256 { (try? values[index].uint256()) ?? .zero }
        func address(_ index: Int) -> Address { (try? values[index].address()) ?? .zero }
        switch definition.name {
        case "LedgerNotExists": return .ledgerNotFound(address(0))
        case "AccountNotExists": return .accountNotFound(user: address(0), provider: address(1))
        case "MinimumDepositRequired":
            return .insufficientFunds(
                message: "\(amount(0).zeroG) is below the minimum of \(amount(1).zeroG) (MinimumDepositRequired)",
                required: amount(1), available: amount(0)
            )
        case "InsufficientAvailableBalance":
            return .insufficientFunds(
                message: "the ledger has \(amount(0).zeroG) available but \(amount(1).zeroG) is needed (InsufficientAvailableBalance); add funds with: zgproxy ledger fund <amount>",
                required: amount(1), available: amount(0)
            )
        case "InsufficientBalance":
            return .insufficientFunds(
                message: "the ledger of \(address(0)) does not hold that much available (InsufficientBalance)", required: .zero, available: .zero
            )
        case "LedgerExists": return .contractRule(reason, message: "\(address(0)) already has a ledger (LedgerExists); use zgproxy ledger fund to add to it")
        case "ZeroAmountNotAllowed": return .contractRule(reason, message: "the amount must be more than 0 (ZeroAmountNotAllowed)")
        case "ServiceNotExist": return .providerNotFound(address(0))
        case "TooManyRefunds":
            return .contractRule(reason, message: "provider \(address(1)) already has 5 pending refunds (TooManyRefunds); retrieve them after the lock time first")
        case "CannotRevokeWithNonZeroBalance":
            return .contractRule(reason, message: "cannot withdraw acknowledgement while \(amount(2).zeroG) remains with \(address(1)) (CannotRevokeWithNonZeroBalance)")
        case "TooManyProvidersForService", "TooManyProviders":
            return .contractRule(reason, message: "too many providers: \(amount(0)) of at most \(amount(1)) (\(definition.name))")
        default:
            return .contractRule(reason, message: "the contract refused: \(reason)")
        }
    }

    /// Maps an RPC failure of a contract call: reverts become ``BrokerError``s, the rest `.chain`.
    static func map(_ error: RPCError) -> BrokerError {
        if error.isExecutionRevert {
            return brokerError(RevertReason(data: error.revertData ?? [], knownErrors: all))
        }
        return .chain(error)
    }

    static func map(_ error: TransactionError) -> BrokerError {
        if let reason = error.revertReason { return brokerError(reason) }
        return .transaction(error)
    }
}
