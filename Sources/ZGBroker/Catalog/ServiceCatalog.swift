import EVM
import Logging
import ServiceLifecycle
import Synchronization

/// Every inference service on chain, indexed by model, cached with a TTL.
///
/// The catalog is read from memory on the request path; a background ``Refresher`` pages
/// through `getAllServices` again before it goes stale, so a request never waits on the chain
/// except for the very first one before the catalog was loaded.
public actor ServiceCatalog {
    public struct Snapshot: Sendable {
        public let services: [Service]
        public let loadedAt: ContinuousClock.Instant
        /// Usable chatbot services by model id.
        public let byModel: [String: [Service]]
        public let byProvider: [Address: Service]
        /// Usable services by model and service type, cheapest first: what ``rank(in:model:serviceType:)``
        /// starts from on every request, sorted once per load.
        let usableByPrice: [Offer: [Service]]

        struct Offer: Hashable {
            let model: String
            let serviceType: String
        }

        init(services: [Service], loadedAt: ContinuousClock.Instant) {
            self.services = services
            self.loadedAt = loadedAt
            var byModel = [String: [Service]]()
            var byProvider = [Address: Service]()
            var usable = [Offer: [Service]]()
            for service in services {
                byProvider[service.provider] = service
                byModel[service.model, default: []].append(service)
                if service.isUsable { usable[Offer(model: service.model, serviceType: service.serviceType), default: []].append(service) }
            }
            self.byModel = byModel
            self.byProvider = byProvider
            self.usableByPrice = usable.mapValues { offers in
                offers.sorted { ($0.inputPrice + $0.outputPrice, $0.provider) < ($1.inputPrice + $1.outputPrice, $1.provider) }
            }
        }
    }

    public let inference: InferenceServingContract
    public let ttl: Duration
    public let health: HealthTracker<Address>
    private let logger: Logger
    private var snapshot: Snapshot? {
        didSet { latest.withLock { $0 = snapshot.map(SharedSnapshot.init) } }
    }
    private var loading: Task<Snapshot, any Error>?
    /// The snapshot again, readable without the actor by ``cachedCandidates(for:serviceType:)``:
    /// boxed, so a read takes one reference instead of copying each of its tables.
    private nonisolated let latest = Mutex<SharedSnapshot?>(nil)

    private final class SharedSnapshot: Sendable {
        let snapshot: Snapshot
        init(_ snapshot: Snapshot) { self.snapshot = snapshot }
    }

    public init(inference: InferenceServingContract, ttl: Duration = .seconds(60), health: HealthTracker<Address>, logger: Logger = Logger(label: "zg.catalog")) {
        self.inference = inference
        self.ttl = ttl
        self.health = health
        self.logger = logger
    }

    /// The cached catalog, loaded on first use and reloaded when older than the TTL.
    ///
    /// A stale catalog is better than none: when the reload fails (the RPC is down for a
    /// moment), the last snapshot keeps serving and the failure is logged; only a catalog that
    /// was never loaded makes requests fail.
    public func current() async throws(BrokerError) -> Snapshot {
        if let snapshot, ContinuousClock.now - snapshot.loadedAt < ttl { return snapshot }
        if let snapshot, loading != nil { return snapshot }  // a refresh is under way: serve the old one
        do {
            return try await refresh()
        } catch {
            guard let snapshot else { throw error }
            logger.warning("catalog reload failed; serving the previous one", metadata: ["zg.error": "\(error)"])
            return snapshot
        }
    }

    /// How old the cached catalog is, or nil before the first load.
    public var age: Duration? { snapshot.map { ContinuousClock.now - $0.loadedAt } }

    /// Reloads from chain now (concurrent callers share one load).
    @discardableResult
    public func refresh() async throws(BrokerError) -> Snapshot {
        let task: Task<Snapshot, any Error>
        if let loading {
            task = loading
        } else {
            let inference = self.inference
            task = Task { Snapshot(services: try await inference.allServices(), loadedAt: .now) }
            loading = task
        }
        do {
            let fresh = try await task.value
            snapshot = fresh
            loading = nil
            return fresh
        } catch {
            loading = nil
            if let brokerError = error as? BrokerError { throw brokerError }
            throw .invalidResponse("catalog refresh failed: \(error)")
        }
    }

    /// The providers to try for a request's `model`, best first.
    ///
    /// `model` is a model id (every usable chatbot service of it, ranked by observed health
    /// and latency, then price) or a provider address (that provider only).
    /// - Throws: ``BrokerError/unknownModel(_:)`` when nothing serves it,
    ///   ``BrokerError/noUsableProvider(model:reason:)`` when services exist but none is usable.
    public func candidates(for model: String, serviceType: String = "chatbot") async throws(BrokerError) -> [Service] {
        try rank(in: try await current(), model: model, serviceType: serviceType)
    }

    /// ``candidates(for:serviceType:)`` without waiting: nil when the catalog is not loaded
    /// or older than the TTL (the caller then takes the path that reloads it); empty when
    /// nothing usable serves the model.
    public nonisolated func cachedCandidates(for model: String, serviceType: String = "chatbot") -> [Service]? {
        guard let shared = latest.withLock({ $0 }), ContinuousClock.now - shared.snapshot.loadedAt < ttl else { return nil }
        // A model id (the usual case) without building the error that says why none serves it.
        guard model.utf8.starts(with: "0x".utf8) else {
            return shared.snapshot.usableByPrice[Snapshot.Offer(model: model, serviceType: serviceType)].map { health.rank($0, key: \.provider) } ?? []
        }
        return (try? rank(in: shared.snapshot, model: model, serviceType: serviceType)) ?? []
    }

    private nonisolated func rank(in catalog: Snapshot, model: String, serviceType: String) throws(BrokerError) -> [Service] {
        if model.hasPrefix("0x"), let provider = try? Address(hex: model) {
            guard let service = catalog.byProvider[provider] else { throw .providerNotFound(provider) }
            guard service.isUsable else {
                throw .noUsableProvider(model: model, reason: "its TEE signer is not acknowledged by the contract owner")
            }
            return [service]
        }
        if let byPrice = catalog.usableByPrice[Snapshot.Offer(model: model, serviceType: serviceType)] {
            return health.rank(byPrice, key: \.provider)
        }
        // None usable: say why.
        let offering = (catalog.byModel[model] ?? []).filter { $0.serviceType == serviceType }
        guard !offering.isEmpty else { throw .unknownModel(model) }
        throw .noUsableProvider(model: model, reason: "none of its \(offering.count) provider(s) has an acknowledged TEE signer")
    }

    /// Model ids with at least one usable service of `serviceType`.
    public func models(serviceType: String = "chatbot") async throws(BrokerError) -> [String: [Service]] {
        try await current().byModel.compactMapValues { services in
            let usable = services.filter { $0.isUsable && $0.serviceType == serviceType }
            return usable.isEmpty ? nil : usable
        }
    }

    /// Keeps the catalog fresh in the background; stops on graceful shutdown.
    public struct Refresher: ServiceLifecycle.Service {
        let catalog: ServiceCatalog
        let logger: Logger

        public init(catalog: ServiceCatalog, logger: Logger = Logger(label: "zg.catalog")) {
            self.catalog = catalog
            self.logger = logger
        }

        public func run() async throws {
            let interval = catalog.ttl * 0.5
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    let snapshot = try await catalog.refresh()
                    logger.debug("catalog refreshed", metadata: ["zg.catalog.services": "\(snapshot.services.count)"])
                } catch {
                    logger.warning("catalog refresh failed", metadata: ["zg.error": "\(error)"])
                }
                try? await gracefulShutdownAwareSleep(interval)
            }
        }
    }
}

/// Sleeps for `duration`, returning early on graceful shutdown or cancellation.
func gracefulShutdownAwareSleep(_ duration: Duration) async throws {
    try await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}
