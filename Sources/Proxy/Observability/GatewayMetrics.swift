import CoreMetrics
import Metrics
import Synchronization
import ZGBroker

/// The gateway's metrics, created on the factory passed in (Prometheus in `zgproxy serve`,
/// a fresh one per test) rather than the global `MetricsSystem`, so tests stay independent.
///
/// Dimensions are low-cardinality: route, status, error code, provider address. A class: every
/// backend and request holds it, and a reference is cheaper to pass than its parts.
public final class GatewayMetrics: Sendable {
    let factory: any MetricsFactory
    private let handles = MetricHandles()
    /// Both token series of a model, found with one lookup per answer (models are few: the
    /// catalog's and the endpoints').
    private let tokenSeries = Mutex<[String: (prompt: Counter, completion: Counter)]>([:])

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// One finished request.
    func request(route: String, status: Int, duration: Duration) {
        handles.counter("zgproxy_requests_total", ("route", route), ("status", String(status)), factory).increment()
        handles.timer("zgproxy_request_duration_seconds", ("route", route), factory).recordNanoseconds(duration.nanoseconds)
    }

    /// One answered request and the tokens it used.
    func answered(route: String, status: Int, duration: Duration, usage: Usage?, model: String) {
        request(route: route, status: status, duration: duration)
        if let usage { tokens(prompt: usage.promptTokens, completion: usage.completionTokens, model: model) }
    }

    /// A route's series for its usual outcome (200), made once: the direct relay counts every
    /// request it answers without looking them up.
    struct RouteSeries: Sendable {
        let route: String
        let succeeded: Counter
        let duration: Metrics.Timer
    }

    func series(route: String) -> RouteSeries {
        RouteSeries(
            route: route, succeeded: handles.counter("zgproxy_requests_total", ("route", route), ("status", "200"), factory),
            duration: handles.timer("zgproxy_request_duration_seconds", ("route", route), factory)
        )
    }

    /// ``answered(route:status:duration:usage:model:)`` through a route's series.
    func answered(_ series: RouteSeries, status: Int, duration: Duration, usage: Usage?, model: String) {
        guard status == 200 else { return answered(route: series.route, status: status, duration: duration, usage: usage, model: model) }
        series.succeeded.increment()
        series.duration.recordNanoseconds(duration.nanoseconds)
        if let usage { tokens(prompt: usage.promptTokens, completion: usage.completionTokens, model: model) }
    }

    /// Time from sending upstream to the upstream's response head.
    func upstreamLatency(provider: String, duration: Duration) {
        upstreamLatencySeries(provider: provider).recordNanoseconds(duration.nanoseconds)
    }

    func upstreamLatencySeries(provider: String) -> Metrics.Timer {
        handles.timer("zgproxy_upstream_latency_seconds", ("provider", provider), factory)
    }

    func error(code: String) {
        Counter(label: "zgproxy_errors_total", dimensions: [("code", code)], factory: factory).increment()
    }

    func tokens(prompt: Int, completion: Int, model: String) {
        let series = tokenSeries.withLock { $0[model] } ?? {
            let made = (
                prompt: handles.counter("zgproxy_tokens_total", ("direction", "prompt"), ("model", model), factory),
                completion: handles.counter("zgproxy_tokens_total", ("direction", "completion"), ("model", model), factory)
            )
            tokenSeries.withLock { $0[model] = made }
            return made
        }()
        series.prompt.increment(by: prompt)
        series.completion.increment(by: completion)
    }

    /// Fees in neuron (a counter of whole neuron; Prometheus counters are floats, precise to 2^53).
    func feeSeries(provider: String) -> Counter {
        handles.counter("zgproxy_fees_neuron_total", ("provider", provider), nil, factory)
    }

    static func add(neuron: Double, to fees: Counter) {
        fees.increment(by: Int64(min(neuron, Double(Int64.max))))
    }

    func verification(status: String) {
        Counter(label: "zgproxy_verifications_total", dimensions: [("result", status)], factory: factory).increment()
    }

    func failover(provider: String) {
        Counter(label: "zgproxy_failovers_total", dimensions: [("provider", provider)], factory: factory).increment()
    }

    /// How the direct relay's requests ended: `answered` by it, or `handed_over` to the router.
    func directRelay(outcome: String) -> Counter {
        Counter(label: "zgproxy_direct_relay_total", dimensions: [("outcome", outcome)], factory: factory)
    }

    func providerHealthy(_ provider: String, healthy: Bool) {
        Gauge(label: "zgproxy_provider_up", dimensions: [("provider", provider)], factory: factory).record(healthy ? 1 : 0)
    }
}

/// Metric handles of the per-request metrics, made once per label and dimension values.
///
/// Making a handle through the factory sanitises the names and looks the series up under the
/// registry's lock on every call, which showed in the request path's profile; a dictionary
/// lookup here is several times cheaper. The dimensions are the metrics' own (low-cardinality),
/// so the cache is as bounded as the series.
final class MetricHandles: Sendable {
    /// A series: the label and up to two dimension values (the names are fixed per label).
    private struct Key: Hashable {
        let label: String
        let first: String
        let second: String?
    }

    private let counters = Mutex<[Key: Counter]>([:])
    private let timers = Mutex<[Key: Metrics.Timer]>([:])

    func counter(_ label: String, _ first: (String, String), _ second: (String, String)? = nil, _ factory: any MetricsFactory) -> Counter {
        counters.withLock { cache in
            let key = Key(label: label, first: first.1, second: second?.1)
            if let counter = cache[key] { return counter }
            let counter = Counter(label: label, dimensions: [first] + (second.map { [$0] } ?? []), factory: factory)
            cache[key] = counter
            return counter
        }
    }

    func timer(_ label: String, _ dimension: (String, String), _ factory: any MetricsFactory) -> Metrics.Timer {
        timers.withLock { cache in
            let key = Key(label: label, first: dimension.1, second: nil)
            if let timer = cache[key] { return timer }
            let timer = Metrics.Timer(label: label, dimensions: [dimension], preferredDisplayUnit: .seconds, factory: factory)
            cache[key] = timer
            return timer
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    var milliseconds: Double { Double(nanoseconds) / 1_000_000 }
}
