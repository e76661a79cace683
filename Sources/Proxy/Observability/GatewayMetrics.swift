import CoreMetrics
import Metrics
import ZGBroker

/// The gateway's metrics, created on the factory passed in (Prometheus in `zgproxy serve`,
/// a fresh one per test) rather than the global `MetricsSystem`, so tests stay independent.
///
/// Dimensions are low-cardinality: route, status, error code, provider address.
public struct GatewayMetrics: Sendable {
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// One finished request.
    func request(route: String, status: Int, duration: Duration) {
        Counter(label: "zgproxy_requests_total", dimensions: [("route", route), ("status", String(status))], factory: factory).increment()
        Metrics.Timer(label: "zgproxy_request_duration_seconds", dimensions: [("route", route)], preferredDisplayUnit: .seconds, factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// One answered request and the tokens it used.
    func answered(route: String, status: Int, duration: Duration, usage: Usage?, model: String) {
        request(route: route, status: status, duration: duration)
        if let usage { tokens(prompt: usage.promptTokens, completion: usage.completionTokens, model: model) }
    }

    /// Time from sending upstream to the upstream's response head.
    func upstreamLatency(provider: String, duration: Duration) {
        Metrics.Timer(label: "zgproxy_upstream_latency_seconds", dimensions: [("provider", provider)], preferredDisplayUnit: .seconds, factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    func error(code: String) {
        Counter(label: "zgproxy_errors_total", dimensions: [("code", code)], factory: factory).increment()
    }

    func tokens(prompt: Int, completion: Int, model: String) {
        Counter(label: "zgproxy_tokens_total", dimensions: [("direction", "prompt"), ("model", model)], factory: factory).increment(by: prompt)
        Counter(label: "zgproxy_tokens_total", dimensions: [("direction", "completion"), ("model", model)], factory: factory).increment(by: completion)
    }

    /// Fees in neuron (a counter of whole neuron; Prometheus counters are floats, precise to 2^53).
    func fee(neuron: Double, provider: String) {
        Counter(label: "zgproxy_fees_neuron_total", dimensions: [("provider", provider)], factory: factory).increment(by: Int64(min(neuron, Double(Int64.max))))
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

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    var milliseconds: Double { Double(nanoseconds) / 1_000_000 }
}
