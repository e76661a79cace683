import EVM
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps each provider sub-account the gateway uses funded, in the background.
///
/// A provider refuses requests unless the sub-account's locked balance (balance − pending
/// refunds) covers its unsettled fees plus a reserve (1 0G today). The funder reads the
/// unsettled fee from the provider (falling back to the fees metered locally since the last
/// check), and when `locked < unsettled + buffer` it moves the difference (at least 1 0G)
/// from the ledger with `transferFund`. It never runs on the request path: requests only mark
/// providers as in use, and this service does the chain work, within a daily spending cap.
public actor AutoFunder: ServiceLifecycle.Service {
    public struct Configuration: Sendable {
        /// Kept above the unsettled fee (default 2 × 1 0G, as the official SDK does).
        public var buffer: UInt256
        /// The smallest transfer (the contract's minimum for a new sub-account).
        public var minimumTransfer: UInt256
        /// How often every watched provider is checked.
        public var interval: Duration
        /// Most that may be transferred per UTC day; nil for no cap.
        public var dailyCap: UInt256?

        public init(buffer: UInt256 = UInt256.oneZeroG * 2, minimumTransfer: UInt256 = .oneZeroG, interval: Duration = .seconds(30), dailyCap: UInt256? = nil) {
            self.buffer = buffer
            self.minimumTransfer = minimumTransfer
            self.interval = interval
            self.dailyCap = dailyCap
        }
    }

    /// The result of one check of one provider.
    public enum Outcome: Sendable, Equatable {
        case sufficient(locked: UInt256, required: UInt256)
        case toppedUp(amount: UInt256, transaction: [UInt8])
        case failed(String)
    }

    public let configuration: Configuration
    private let ledger: LedgerService
    private let catalog: ServiceCatalog
    private let tokens: SessionTokenStore
    private let providers: ProviderClient
    private let logger: Logger
    private var watched: [Address: ContinuousClock.Instant] = [:]
    private var spentToday: (day: Int, amount: UInt256) = (0, .zero)
    /// Providers already handed to the actor by ``watch(_:)``.
    private let seen = Mutex<Set<Address>>([])
    /// Fees metered locally per provider since its last successful unsettled-fee read.
    private let meteredFees = Mutex<[Address: UInt256]>([:])
    private let wakeUp: AsyncStream<Void>.Continuation
    private let wakeUps: AsyncStream<Void>
    public private(set) var lastOutcomes: [Address: Outcome] = [:]

    public init(
        configuration: Configuration, ledger: LedgerService, catalog: ServiceCatalog, tokens: SessionTokenStore,
        providers: ProviderClient, logger: Logger = Logger(label: "zg.funding")
    ) {
        self.configuration = configuration
        self.ledger = ledger
        self.catalog = catalog
        self.tokens = tokens
        self.providers = providers
        self.logger = logger
        (wakeUps, wakeUp) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Marks a provider as in use; a provider seen for the first time is checked right away
    /// (in the background). Cheap enough for the request path.
    public nonisolated func watch(_ provider: Address) {
        // Only the first sighting needs the actor; later ones cost one lock.
        let isNew = seen.withLock { $0.insert(provider).inserted }
        if isNew { Task { await self.markWatched(provider) } }
    }

    /// Adds a response's fee to the local meter (the fallback when the provider does not
    /// report its unsettled fee). Synchronous: called on the request path.
    public nonisolated func meter(_ fee: UInt256, provider: Address) {
        meteredFees.withLock { $0[provider, default: .zero] += fee }
    }

    private func markWatched(_ provider: Address) {
        let isNew = watched[provider] == nil
        watched[provider] = .now
        if isNew { wakeUp.yield() }
    }

    public func run() async throws {
        logger.debug("auto-funding started", metadata: ["zg.funding.buffer": "\(configuration.buffer.zeroG)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // A timer tick, turned into a wake-up.
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await gracefulShutdownAwareSleep(self.configuration.interval)
                    self.wakeUp.yield()
                }
                self.wakeUp.finish()
            }
            for await _ in wakeUps.cancelOnGracefulShutdown() {
                await checkAll()
            }
            group.cancelAll()
        }
    }

    /// Checks every watched provider once.
    public func checkAll() async {
        for provider in watched.keys.sorted() {
            let outcome = await check(provider)
            lastOutcomes[provider] = outcome
        }
    }

    /// Checks one provider and tops it up when needed.
    @discardableResult
    public func check(_ provider: Address) async -> Outcome {
        do throws(BrokerError) {
            return try await topUpIfNeeded(provider)
        } catch {
            logger.warning("auto-funding failed", metadata: ["zg.provider": "\(provider)", "zg.error": "\(error)"])
            return .failed(error.description)
        }
    }

    private func topUpIfNeeded(_ provider: Address) async throws(BrokerError) -> Outcome {
        var service = try await catalog.current().byProvider[provider]
        if service == nil { service = try await ledger.chain.inference.service(of: provider) }
        guard let service else { throw .providerNotFound(provider) }
        let account = try await ledger.chain.inference.account(user: ledger.user, provider: provider)
        let unsettled = try await unsettledFee(service: service, hasAccount: account != nil)
        let required = unsettled + configuration.buffer
        let locked = account?.lockedBalance ?? .zero
        guard locked < required else { return .sufficient(locked: locked, required: required) }
        let amount = max(required - locked, configuration.minimumTransfer)
        try reserveSpending(amount)
        let receipt: TransactionReceipt
        do {
            receipt = try await ledger.transfer(to: provider, amount: amount)
        } catch {
            spentToday.amount = spentToday.amount.saturatingSubtract(amount)
            throw error
        }
        if account == nil { await tokens.invalidate(provider) }  // the new account's generation is now readable
        logger.info(
            "topped up provider sub-account",
            metadata: ["zg.provider": "\(provider)", "zg.amount": "\(amount.zeroG)", "zg.tx": "\(receipt.transactionHash.prefixedHex)"]
        )
        return .toppedUp(amount: amount, transaction: receipt.transactionHash)
    }

    /// The provider's unsettled fee, or the locally metered one when it cannot say.
    private func unsettledFee(service: Service, hasAccount: Bool) async throws(BrokerError) -> UInt256 {
        let metered = meteredFees.withLock { $0[service.provider] ?? .zero }
        guard hasAccount else { return metered }
        do {
            let token = try await tokens.token(for: service.provider)
            let fee = try await providers.unsettledFee(service: service, token: token)
            meteredFees.withLock { $0[service.provider] = .zero }
            return fee
        } catch {
            logger.debug("unsettled fee unavailable, using the local meter", metadata: ["zg.provider": "\(service.provider)", "zg.error": "\(error)"])
            return metered
        }
    }

    private func reserveSpending(_ amount: UInt256) throws(BrokerError) {
        let day = Int(Date().timeIntervalSince1970) / 86_400
        if spentToday.day != day { spentToday = (day, .zero) }
        if let cap = configuration.dailyCap, spentToday.amount + amount > cap {
            throw .spendingCapReached(cap: cap, spent: spentToday.amount)
        }
        spentToday.amount += amount
    }

    /// Transferred so far today (UTC).
    public var spentTodayAmount: UInt256 { spentToday.amount }
}
