import EVM
import Metrics
import Synchronization
import ZGBroker

/// What the direct relay needs of one 0G provider's service, worked out once per service
/// rather than on every request: where to send (its proxy URL parsed), how it is shown
/// (its checksummed address), how it bills (its fee schedule), and its metric series.
final class ZeroGDirectTarget: Sendable {
    let service: Service
    /// Request heads to `{url}/v1/proxy`, signed with the current session token.
    let heads: UpstreamRequestHeads
    /// The provider's checksummed address (`x-zgproxy-provider`, metrics, usage log).
    let provider: String
    let schedule: FeeSchedule
    let upstreamLatency: Metrics.Timer
    let fees: Counter
    /// Whether the auto-funder was told of the provider (it only needs telling once).
    private let watched = Atomic<Bool>(false)

    /// nil when the provider's URL cannot be used by the relay (not plain `http(s)`, a query).
    init?(service: Service, metrics: GatewayMetrics) {
        var url = Substring(service.url)
        while url.hasSuffix("/") { url = url.dropLast() }
        guard let (origin, basePath) = UpstreamOrigin.base(url + "/v1/proxy") else { return nil }
        self.service = service
        heads = UpstreamRequestHeads(origin: origin, basePath: basePath)
        provider = service.provider.checksummed
        schedule = FeeSchedule(service: service)
        upstreamLatency = metrics.upstreamLatencySeries(provider: provider)
        fees = metrics.feeSeries(provider: provider)
    }

    /// ``AutoFunder/watch(_:)``, once.
    func watch(with funder: AutoFunder) {
        guard !watched.load(ordering: .relaxed) else { return }
        funder.watch(service.provider)
        watched.store(true, ordering: .relaxed)
    }
}

/// The targets of the providers met lately, by address; a service changed on chain (new URL,
/// prices, signer) gets a new target.
final class ZeroGDirectTargets: Sendable {
    private let targets = Mutex<[Address: ZeroGDirectTarget]>([:])
    private let metrics: GatewayMetrics

    init(metrics: GatewayMetrics) {
        self.metrics = metrics
    }

    func target(for service: Service) -> ZeroGDirectTarget? {
        if let known = targets.withLock({ $0[service.provider] }), known.service == service { return known }
        guard let target = ZeroGDirectTarget(service: service, metrics: metrics) else { return nil }
        targets.withLock { targets in
            // Services change rarely; a table full of stale entries is simply started over.
            if targets.count >= 4096 { targets.removeAll(keepingCapacity: true) }
            targets[service.provider] = target
        }
        return target
    }
}
