import EVM

/// ABI tuple layouts of the structs the 0G contracts return, in the deployed field order.
/// The ABI test checks each against the deployed ABI JSON, so a drift fails the tests.
enum ZGStructType {
    static let ledger = ABIType.tuple([.address, .uint256, .uint256, .string])
    static let serviceInfo = ABIType.tuple([.address, .address, .string, .string, .string, .string, .bool, .uint256])
    static let service = ABIType.tuple([
        .address, .string, .string, .uint256, .uint256, .uint256, .string, .string, .string, .address, .bool,
    ])
    static let refund = ABIType.tuple([.uint256, .uint256, .uint256, .bool])
    static let account = ABIType.tuple([
        .address, .address, .uint256, .uint256, .uint256, .array(refund), .string, .bool, .uint256, .uint256, .uint256,
    ])
    static let serviceParams = ABIType.tuple([.string, .string, .string, .string, .uint256, .uint256, .string, .address])
    static let teeSettlementData = ABIType.tuple([.address, .address, .uint256, .bytes32, .uint256, .bytes])
}

/// A user's ledger in LedgerManager: the pool that funds provider sub-accounts.
public struct Ledger: Sendable, Hashable {
    public let user: Address
    /// What can still be transferred to providers or refunded to the wallet.
    public let availableBalance: UInt256
    /// Available plus what sits in provider sub-accounts.
    public let totalBalance: UInt256
    public let additionalInfo: String

    /// Moved into provider sub-accounts (total − available).
    public var lockedBalance: UInt256 { totalBalance.saturatingSubtract(availableBalance) }

    init(_ value: ABIValue) throws(ABIError) {
        let fields = try value.tuple(count: 4)
        user = try fields[0].address()
        availableBalance = try fields[1].uint256()
        totalBalance = try fields[2].uint256()
        additionalInfo = try fields[3].string()
    }
}

/// A service registered in LedgerManager (the inference contract is one); `fullName` is the
/// name the ledger's fund calls take (`"inference-v1.0"` today).
public struct ServiceInfo: Sendable, Hashable {
    public let serviceAddress: Address
    public let serviceContract: Address
    public let serviceType: String
    public let version: String
    public let fullName: String
    public let description: String
    public let isRecommended: Bool
    public let registeredAt: UInt256

    init(_ value: ABIValue) throws(ABIError) {
        let fields = try value.tuple(count: 8)
        serviceAddress = try fields[0].address()
        serviceContract = try fields[1].address()
        serviceType = try fields[2].string()
        version = try fields[3].string()
        fullName = try fields[4].string()
        description = try fields[5].string()
        isRecommended = try fields[6].bool()
        registeredAt = try fields[7].uint256()
    }
}

/// A provider's inference service as registered in InferenceServing.
public struct Service: Sendable, Hashable {
    public let provider: Address
    /// `chatbot`, `text-to-image`, `speech-to-text`, …
    public let serviceType: String
    /// The provider broker's base URL; inference goes to `url + "/v1/proxy"`.
    public let url: String
    /// Neuron per prompt token (chatbot).
    public let inputPrice: UInt256
    /// Neuron per completion token (chatbot), or per image.
    public let outputPrice: UInt256
    public let updatedAt: UInt256
    public let model: String
    /// `TeeML`, `OpML`, `ZKML`, `TeeTLS`, `standard`…
    public let verifiability: String
    /// JSON text: `TargetSeparated`, `TargetTeeAddress`, `ProviderType`, tiered pricing, …
    public let additionalInfo: String
    public let teeSignerAddress: Address
    /// Set by the contract owner after checking the provider's attestation.
    public let teeSignerAcknowledged: Bool

    public init(
        provider: Address, serviceType: String, url: String, inputPrice: UInt256, outputPrice: UInt256, updatedAt: UInt256,
        model: String, verifiability: String, additionalInfo: String, teeSignerAddress: Address, teeSignerAcknowledged: Bool
    ) {
        self.provider = provider
        self.serviceType = serviceType
        self.url = url
        self.inputPrice = inputPrice
        self.outputPrice = outputPrice
        self.updatedAt = updatedAt
        self.model = model
        self.verifiability = verifiability
        self.additionalInfo = additionalInfo
        self.teeSignerAddress = teeSignerAddress
        self.teeSignerAcknowledged = teeSignerAcknowledged
    }

    init(_ value: ABIValue) throws(ABIError) {
        let fields = try value.tuple(count: 11)
        self.init(
            provider: try fields[0].address(), serviceType: try fields[1].string(), url: try fields[2].string(),
            inputPrice: try fields[3].uint256(), outputPrice: try fields[4].uint256(), updatedAt: try fields[5].uint256(),
            model: try fields[6].string(), verifiability: try fields[7].string(), additionalInfo: try fields[8].string(),
            teeSignerAddress: try fields[9].address(), teeSignerAcknowledged: try fields[10].bool()
        )
    }

    /// Usable for inference: the owner acknowledged a real TEE signer.
    public var isUsable: Bool { teeSignerAcknowledged && teeSignerAddress != .zero }

    /// Whether responses carry a signature the SDK considers verifiable.
    public var isVerifiable: Bool { ["TeeML", "OpML", "ZKML"].contains(verifiability) }
}

/// A pending refund of a provider sub-account.
public struct Refund: Sendable, Hashable {
    public let index: UInt256
    public let amount: UInt256
    /// Unix seconds; the refund can be retrieved at `createdAt + lockTime`.
    public let createdAt: UInt256
    public let processed: Bool

    init(_ value: ABIValue) throws(ABIError) {
        let fields = try value.tuple(count: 4)
        index = try fields[0].uint256()
        amount = try fields[1].uint256()
        createdAt = try fields[2].uint256()
        processed = try fields[3].bool()
    }
}

/// A user's sub-account with one provider in InferenceServing.
public struct Account: Sendable, Hashable {
    public let user: Address
    public let provider: Address
    /// Highest settlement nonce the provider used.
    public let nonce: UInt256
    public let balance: UInt256
    public let pendingRefund: UInt256
    /// All refund slots; only the first ``validRefundsLength`` are live.
    public let refunds: [Refund]
    public let additionalInfo: String
    public let acknowledged: Bool
    public let validRefundsLength: UInt256
    /// Session tokens must carry this generation; `revokeAllTokens` increments it.
    public let generation: UInt256
    /// Bit n set: persistent token n is revoked.
    public let revokedBitmap: UInt256

    init(_ value: ABIValue) throws(ABIError) {
        let fields = try value.tuple(count: 11)
        user = try fields[0].address()
        provider = try fields[1].address()
        nonce = try fields[2].uint256()
        balance = try fields[3].uint256()
        pendingRefund = try fields[4].uint256()
        refunds = try fields[5].array().map { (value) throws(ABIError) -> Refund in try Refund(value) }
        additionalInfo = try fields[6].string()
        acknowledged = try fields[7].bool()
        validRefundsLength = try fields[8].uint256()
        generation = try fields[9].uint256()
        revokedBitmap = try fields[10].uint256()
    }

    /// What the provider counts as available to pay it: balance minus pending refunds.
    public var lockedBalance: UInt256 { balance.saturatingSubtract(pendingRefund) }

    /// The live refunds (skipping processed and zero-amount slots).
    public var liveRefunds: [Refund] {
        let live = validRefundsLength.intValue ?? 0
        return refunds.prefix(live).filter { !$0.processed && !$0.amount.isZero }
    }

    /// Whether persistent token `tokenID` (0–254) has been revoked.
    public func isTokenRevoked(_ tokenID: UInt8) -> Bool {
        (revokedBitmap >> Int(tokenID)) & UInt256.one == .one
    }
}
