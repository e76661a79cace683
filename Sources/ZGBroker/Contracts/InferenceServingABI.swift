import EVM

/// The InferenceServing v1.0 functions, events and custom errors zgproxy uses, as deployed
/// (`../shared/0g/abi/InferenceServing.json`; selectors in PROTOCOL.md §2.2).
public enum InferenceServingABI {
    public static let getAllServices = ABIFunction(
        name: "getAllServices", inputs: [.uint256, .uint256], outputs: [.array(ZGStructType.service), .uint256]
    )
    public static let getService = ABIFunction(name: "getService", inputs: [.address], outputs: [ZGStructType.service])
    public static let serviceExists = ABIFunction(name: "serviceExists", inputs: [.address], outputs: [.bool])
    public static let getAccount = ABIFunction(name: "getAccount", inputs: [.address, .address], outputs: [ZGStructType.account])
    public static let accountExists = ABIFunction(name: "accountExists", inputs: [.address, .address], outputs: [.bool])
    public static let getAccountsByUser = ABIFunction(
        name: "getAccountsByUser", inputs: [.address, .uint256, .uint256], outputs: [.array(ZGStructType.account), .uint256]
    )
    public static let getPendingRefund = ABIFunction(name: "getPendingRefund", inputs: [.address, .address], outputs: [.uint256])
    public static let lockTime = ABIFunction(name: "lockTime", inputs: [], outputs: [.uint256])
    public static let acknowledgeTEESigner = ABIFunction(name: "acknowledgeTEESigner", inputs: [.address, .bool])
    public static let revokeToken = ABIFunction(name: "revokeToken", inputs: [.address, .uint8])
    public static let revokeTokens = ABIFunction(name: "revokeTokens", inputs: [.address, .array(.uint8)])
    public static let revokeAllTokens = ABIFunction(name: "revokeAllTokens", inputs: [.address])
    public static let isTokenRevoked = ABIFunction(name: "isTokenRevoked", inputs: [.address, .address, .uint8], outputs: [.bool])
    /// Provider side, used by the sandbox and tests to register services.
    public static let addOrUpdateService = ABIFunction(name: "addOrUpdateService", inputs: [ZGStructType.serviceParams])
    /// Returns each entry's settlement status.
    public static let settleFeesWithTEE = ABIFunction(
        name: "settleFeesWithTEE", inputs: [.array(ZGStructType.teeSettlementData)], outputs: [.array(.uint8)]
    )

    public static let functions: [ABIFunction] = [
        getAllServices, getService, serviceExists, getAccount, accountExists, getAccountsByUser, getPendingRefund,
        lockTime, acknowledgeTEESigner, revokeToken, revokeTokens, revokeAllTokens, isTokenRevoked, addOrUpdateService,
        settleFeesWithTEE,
    ]

    public static let balanceUpdated = ABIEvent(
        name: "BalanceUpdated",
        parameters: [.init(.address, indexed: true), .init(.address, indexed: true), .init(.uint256), .init(.uint256)]
    )
    public static let refundRequested = ABIEvent(
        name: "RefundRequested",
        parameters: [.init(.address, indexed: true), .init(.address, indexed: true), .init(.uint256, indexed: true), .init(.uint256)]
    )
    public static let teeSettlementResult = ABIEvent(
        name: "TEESettlementResult", parameters: [.init(.address, indexed: true), .init(.uint8), .init(.uint256)]
    )
    public static let tokenRevoked = ABIEvent(
        name: "TokenRevoked", parameters: [.init(.address, indexed: true), .init(.address, indexed: true), .init(.uint8)]
    )
    public static let allTokensRevoked = ABIEvent(
        name: "AllTokensRevoked", parameters: [.init(.address, indexed: true), .init(.address, indexed: true), .init(.uint256)]
    )
    public static let events: [ABIEvent] = [balanceUpdated, refundRequested, teeSettlementResult, tokenRevoked, allTokensRevoked]

    public static let accountNotExists = ABIErrorDefinition(name: "AccountNotExists", inputs: [.address, .address])
    public static let accountExistsError = ABIErrorDefinition(name: "AccountExists", inputs: [.address, .address])
    public static let serviceNotExist = ABIErrorDefinition(name: "ServiceNotExist", inputs: [.address])
    public static let limitTooLarge = ABIErrorDefinition(name: "LimitTooLarge", inputs: [.uint256, .uint256])
    public static let tooManyRefunds = ABIErrorDefinition(name: "TooManyRefunds", inputs: [.address, .address])
    public static let cannotRevokeWithNonZeroBalance = ABIErrorDefinition(
        name: "CannotRevokeWithNonZeroBalance", inputs: [.address, .address, .uint256]
    )
    public static let invalidTEESignature = ABIErrorDefinition(name: "InvalidTEESignature", inputs: [.string])
    public static let providerCannotBeUser = ABIErrorDefinition(name: "ProviderCannotBeUser")
    public static let insufficientStake = ABIErrorDefinition(name: "InsufficientStake", inputs: [.uint256, .uint256])
    public static let directDepositsDisabled = ABIErrorDefinition(name: "DirectDepositsDisabled")

    public static let errors: [ABIErrorDefinition] = [
        accountNotExists, accountExistsError, serviceNotExist, limitTooLarge, tooManyRefunds, cannotRevokeWithNonZeroBalance,
        invalidTEESignature, providerCannotBeUser, insufficientStake, directDepositsDisabled,
    ]

    /// Settlement status codes of `TEESettlementResult`.
    public enum SettlementStatus: UInt8, Sendable {
        case success = 0, partial, providerMismatch, noTEESigner, invalidNonce, invalidSignature
    }
}
