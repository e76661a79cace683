import EVM

/// The LedgerManager functions, events and custom errors zgproxy uses, as deployed
/// (`../shared/0g/abi/LedgerManager.json`; selectors in PROTOCOL.md §2.1).
public enum LedgerManagerABI {
    public static let addLedger = ABIFunction(name: "addLedger", inputs: [.string], outputs: [.uint256, .uint256])
    public static let depositFund = ABIFunction(name: "depositFund", inputs: [])
    public static let depositFundFor = ABIFunction(name: "depositFundFor", inputs: [.address])
    public static let refund = ABIFunction(name: "refund", inputs: [.uint256])
    public static let transferFund = ABIFunction(name: "transferFund", inputs: [.address, .string, .uint256])
    public static let retrieveFund = ABIFunction(name: "retrieveFund", inputs: [.array(.address), .string])
    public static let deleteLedger = ABIFunction(name: "deleteLedger", inputs: [])
    public static let getLedger = ABIFunction(name: "getLedger", inputs: [.address], outputs: [ZGStructType.ledger])
    public static let getLedgerProviders = ABIFunction(name: "getLedgerProviders", inputs: [.address, .string], outputs: [.array(.address)])
    public static let getServiceInfo = ABIFunction(name: "getServiceInfo", inputs: [.address], outputs: [ZGStructType.serviceInfo])
    public static let getAllActiveServices = ABIFunction(name: "getAllActiveServices", inputs: [], outputs: [.array(ZGStructType.serviceInfo)])
    public static let minAccountBalance = ABIFunction(name: "MIN_ACCOUNT_BALANCE", inputs: [], outputs: [.uint256])
    public static let minTransferAmount = ABIFunction(name: "MIN_TRANSFER_AMOUNT", inputs: [], outputs: [.uint256])

    public static let functions: [ABIFunction] = [
        addLedger, depositFund, depositFundFor, refund, transferFund, retrieveFund, deleteLedger, getLedger,
        getLedgerProviders, getServiceInfo, getAllActiveServices, minAccountBalance, minTransferAmount,
    ]

    public static let fundSpent = ABIEvent(
        name: "FundSpent", parameters: [.init(.address, indexed: true), .init(.address, indexed: true), .init(.uint256)]
    )
    public static let events: [ABIEvent] = [fundSpent]

    public static let insufficientAvailableBalance = ABIErrorDefinition(name: "InsufficientAvailableBalance", inputs: [.uint256, .uint256])
    public static let insufficientBalance = ABIErrorDefinition(name: "InsufficientBalance", inputs: [.address])
    public static let minimumDepositRequired = ABIErrorDefinition(name: "MinimumDepositRequired", inputs: [.uint256, .uint256])
    public static let ledgerExists = ABIErrorDefinition(name: "LedgerExists", inputs: [.address])
    public static let ledgerNotExists = ABIErrorDefinition(name: "LedgerNotExists", inputs: [.address])
    public static let ledgerLocked = ABIErrorDefinition(name: "LedgerLocked")
    public static let serviceNotFound = ABIErrorDefinition(name: "ServiceNotFound", inputs: [.address])
    public static let tooManyProviders = ABIErrorDefinition(name: "TooManyProviders", inputs: [.uint256, .uint256])
    public static let tooManyProvidersForService = ABIErrorDefinition(name: "TooManyProvidersForService", inputs: [.uint256, .uint256])
    public static let mustWithdrawAllFundsFirst = ABIErrorDefinition(name: "MustWithdrawAllFundsFirst", inputs: [.uint256])
    public static let zeroAmountNotAllowed = ABIErrorDefinition(name: "ZeroAmountNotAllowed")
    public static let directDepositsDisabled = ABIErrorDefinition(name: "DirectDepositsDisabled")
    public static let callFailed = ABIErrorDefinition(name: "CallFailed")
    public static let transferFailed = ABIErrorDefinition(name: "TransferFailed")

    public static let errors: [ABIErrorDefinition] = [
        insufficientAvailableBalance, insufficientBalance, minimumDepositRequired, ledgerExists, ledgerNotExists,
        ledgerLocked, serviceNotFound, tooManyProviders, tooManyProvidersForService, mustWithdrawAllFundsFirst,
        zeroAmountNotAllowed, directDepositsDisabled, callFailed, transferFailed,
    ]
}
