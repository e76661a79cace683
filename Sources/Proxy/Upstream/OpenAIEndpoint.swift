import EVM
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Synchronization
import ZGBroker

/// An OpenAI-compatible upstream (or an OCF head node, which forwards OpenAI requests to its
/// workers): requests are forwarded with the endpoint's own key, the body untouched except
/// for the model id (aliases) and, for streams, usage reporting. OCF's `{"error":"…"}` bodies
/// are answered in the OpenAI envelope.
final class OpenAIEndpoint: Sendable {
    let configuration: EndpointConfiguration
    private let httpClient: HTTPClient
    private let timeouts: ProxyConfiguration
    private let health: HealthTracker<String>
    private let metrics: GatewayMetrics
    /// The models the endpoint serves: configured, or last discovered.
    private let discovered = Mutex<[String]>([])
    /// The first discovery, shared by every request that arrives before it finished.
    private let firstDiscovery = Mutex<Task<Void, Never>?>(nil)
    private let readiness = Atomic<Bool>(false)
    /// The direct relay's request heads to ``requestBase`` (nil for URLs it cannot use).
    private let directHeads: UpstreamRequestHeads?
    /// `Bearer <apiKey>`, when the endpoint has a key.
    private let bearer: String?
    /// `zgproxy_upstream_latency_seconds` of this endpoint.
    private let latencySeries: Metrics.Timer

    init(configuration: EndpointConfiguration, httpClient: HTTPClient, timeouts: ProxyConfiguration, health: HealthTracker<String>, metrics: GatewayMetrics) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.timeouts = timeouts
        self.health = health
        self.metrics = metrics
        if let models = configuration.models { discovered.withLock { $0 = models } }
        if configuration.models != nil { readiness.store(true, ordering: .relaxed) }
        directHeads = UpstreamOrigin.base(Self.requestBase(configuration)).map { UpstreamRequestHeads(origin: $0.origin, basePath: $0.path) }
        bearer = configuration.apiKey.map { "Bearer \($0)" }
        latencySeries = metrics.upstreamLatencySeries(provider: configuration.name)
    }

    func ready(logger: Logger) async {
        guard !readiness.load(ordering: .relaxed) else { return }
        let task = firstDiscovery.withLock { task in
            if task == nil { task = Task { await self.discover(logger: logger) } }
            return task!
        }
        await task.value
        readiness.store(true, ordering: .relaxed)
    }

    var name: String { configuration.name }

    var isReady: Bool { readiness.load(ordering: .relaxed) }

    /// Where OpenAI paths (`/chat/completions`…) are appended.
    var requestBase: String { Self.requestBase(configuration) }

    static func requestBase(_ configuration: EndpointConfiguration) -> String {
        configuration.kind == .ocf ? configuration.baseURL + "/v1/service/llm/v1" : configuration.baseURL
    }

    /// Model ids clients may ask this endpoint for (aliases included).
    var models: [String] { discovered.withLock { $0 } + configuration.aliases.keys.sorted() }

    func serves(_ model: String) -> Bool {
        configuration.aliases[model] != nil || discovered.withLock { $0.contains(model) }
    }

    /// Reads `GET {base}/models` (when the models are not configured).
    func discover(logger: Logger) async {
        guard configuration.models == nil else { return }
        let url = configuration.kind == .ocf ? configuration.baseURL + "/v1/dnt/table" : configuration.baseURL + "/models"
        var request = HTTPClientRequest(url: url)
        authorize(&request.headers)
        do {
            let response = try await httpClient.execute(request, timeout: .init(timeouts.connectTimeout + .seconds(10)))
            let body = try await response.body.collect(upTo: 8 * 1024 * 1024)
            let object = (try? JSONSerialization.jsonObject(with: Data(Array(buffer: body)))) as? [String: Any]
            let ids: [String]? = configuration.kind == .ocf
                ? object.map(Self.ocfModels) : (object?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            guard response.status == .ok, let ids else {
                logger.warning("model discovery failed", metadata: ["zg.endpoint": "\(name)", "zg.status": "\(response.status.code)"])
                return
            }
            discovered.withLock { $0 = ids }
        } catch {
            logger.warning("model discovery failed", metadata: ["zg.endpoint": "\(name)", "zg.error": "\(error)"])
        }
    }

    /// Model ids offered by an OCF DNT table: every `model=NAME` identity of a connected peer's
    /// `llm` service. Accepts the current map keyed by peer and the older `{peers: [...]}` list;
    /// wildcards (`model=*`, `all`) name no model of their own.
    static func ocfModels(_ table: [String: Any]) -> [String] {
        let peers = (table["peers"] as? [[String: Any]]) ?? table.values.compactMap { $0 as? [String: Any] }
        var models = Set<String>()
        for peer in peers where (peer["connected"] as? Bool) ?? true {
            for service in peer["service"] as? [[String: Any]] ?? [] where service["name"] as? String == "llm" {
                for identity in service["identity_group"] as? [String] ?? [] where identity.hasPrefix("model=") {
                    let model = String(identity.dropFirst(6))
                    if model != "*" && !model.isEmpty { models.insert(model) }
                }
            }
        }
        return models.sorted()
    }

    private func authorize(_ headers: inout HTTPHeaders) {
        if let bearer { headers.add(name: "Authorization", value: bearer) }
    }

    /// The body with an alias replaced by the upstream's model id, and that id.
    private func upstreamBody(_ body: JSONBody, model: String) -> (body: JSONBody, model: String) {
        var edited = body
        let upstreamModel = configuration.aliases[model] ?? model
        if upstreamModel != model { edited.set("model", string: upstreamModel) }
        return (edited, upstreamModel)
    }

    private func recordSuccess(latency: Duration) {
        if health.recordSuccess(name, latency: latency) { metrics.providerHealthy(name, healthy: true) }
    }

    /// Sends one request; upstream errors before the head come back as `OpenAIError`s.
    func open(path: String, body: JSONBody, model: String, injectUsage: Bool, received: ContinuousClock.Instant) async throws(OpenAIError) -> UpstreamAnswer {
        let upstream = upstreamBody(body, model: model)
        let upstreamModel = upstream.model
        var edited = upstream.body
        if injectUsage && configuration.streamOptions { ZeroGBackend.injectIncludeUsage(into: &edited) }
        var request = HTTPClientRequest(url: requestBase + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        authorize(&request.headers)
        request.body = .bytes(ByteBuffer(bytes: edited.bytes))
        let sentAt = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, timeout: .init(timeouts.firstByteTimeout))
        } catch {
            reportFailure("unreachable")
            throw unreachable
        }
        latencySeries.recordNanoseconds((.now - sentAt).nanoseconds)
        let status = Int(response.status.code)
        guard status < 400 else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)).map { Array(buffer: $0) } ?? []
            if status >= 500 || status == 429 { reportFailure("HTTP \(status)") }
            throw Self.error(status: status, body: bytes, endpoint: name)
        }
        recordSuccess(latency: .now - sentAt)
        return UpstreamAnswer(
            response: response, sentBody: edited.bytes, overhead: sentAt - received, servedBy: name, model: upstreamModel, chatIDHeader: nil,
            backend: name,
            settle: { usage, _, _, logger in self.cost(of: usage, model: model, upstreamModel: upstreamModel, logger: logger) },
            reportFailure: { reason in self.reportFailure(reason) }
        )
    }

    /// An answer's cost at the endpoint's configured prices (zero when unpriced or without usage).
    func cost(of usage: Usage?, model: String, upstreamModel: String, logger: Logger) -> UInt256 {
        guard let usage else {
            logger.debug("answer without usage", metadata: ["zg.endpoint": "\(name)"])
            return .zero
        }
        return configuration.prices(for: model, upstreamModel: upstreamModel)?.cost(of: usage) ?? .zero
    }

    /// The direct relay's exchange with this endpoint, once its model list is known.
    func directPlan(path: String, body: JSONBody, model: String) -> DirectPlan? {
        guard readiness.load(ordering: .relaxed), let directHeads, let head = directHeads.head(path: path, authorization: bearer) else { return nil }
        let (edited, upstreamModel) = upstreamBody(body, model: model)
        var plan = DirectPlan(
            origin: directHeads.origin, requestHead: head, body: edited.bytes, servedBy: name, backend: name, model: upstreamModel,
            chatIDHeader: nil,
            succeeded: { latency in
                self.latencySeries.recordNanoseconds(latency.nanoseconds)
                self.recordSuccess(latency: latency)
            },
            failed: { reason in self.reportFailure(reason) },
            settle: { usage, _, _, _, logger in self.cost(of: usage, model: model, upstreamModel: upstreamModel, logger: logger) }
        )
        plan.error = { status, body in status.map { Self.error(status: $0, body: body, endpoint: self.name) } ?? self.unreachable }
        return plan
    }

    private var unreachable: OpenAIError {
        OpenAIError.upstream(.badGateway, "Endpoint \(name) could not be reached.", code: "upstream_unreachable")
    }

    func reportFailure(_ reason: String) {
        health.recordFailure(name, reason: reason)
        metrics.providerHealthy(name, healthy: !health.isBenched(name))
    }

    /// The upstream's own OpenAI envelope when it sent one; otherwise one built from the status.
    static func error(status: Int, body: [UInt8], endpoint: String) -> OpenAIError {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let inner = object?["error"] as? [String: Any]
        let message = inner?["message"] as? String ?? ProviderErrorBody.message(body)
        let code = (inner?["code"] as? String) ?? (inner?["code"] as? NSNumber)?.stringValue
        let httpStatus = HTTPResponse.Status(code: status)
        if status >= 500 { return .upstream(.badGateway, "Endpoint \(endpoint) failed: \(message)") }
        return OpenAIError(httpStatus, message: message, type: inner?["type"] as? String ?? "invalid_request_error", param: inner?["param"] as? String, code: code ?? "upstream_error")
    }
}

