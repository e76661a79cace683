import EVM
import Foundation
import HTTPTypes
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import ZGBroker

/// The direct relay: whole JSON answers served on the client connection's event loop, from
/// memory, with no task hop.
///
/// Most inference requests need nothing that waits: the caller's credential is cached, its
/// limits are counted in memory, the catalog and the 0G session token are in memory. For
/// those, ``DirectRelayHandler`` (one per client connection, in the HTTP pipeline before the
/// router) forwards the body through this loop's ``UpstreamConnectionPool`` and writes the
/// answer itself, with the same headers, metrics, metering and usage record as the router.
/// Anything else (streams, a cache miss, a database limiter, a refusal, an upstream failure
/// before the answer) is handed to the router unchanged, which answers it the regular way.
///
/// As a `Service` it closes the upstream pools on shutdown.
final class DirectRelay: ServiceLifecycle.Service, Sendable {
    /// An inference route the relay serves.
    struct Route: Sendable {
        /// The field OpenAI requires in the body.
        let required: String
        /// The path after the upstream's base URL.
        let upstreamPath: String
        /// Its metrics (the route label is their `route`).
        let series: GatewayMetrics.RouteSeries
    }

    let backend: BackendRouter
    let accounts: Accounts
    let metrics: GatewayMetrics
    let configuration: ProxyConfiguration
    let upstreams: DirectUpstreams
    let logger: Logger
    /// The longest answer read into memory (as the router's).
    let answerLimit = 64 * 1024 * 1024
    /// Requests the relay answered itself, and requests it handed to the router after reading them.
    let answered: Counter
    let handedOver: Counter

    init(backend: BackendRouter, accounts: Accounts, metrics: GatewayMetrics, configuration: ProxyConfiguration, logger: Logger) {
        self.backend = backend
        self.accounts = accounts
        self.metrics = metrics
        self.configuration = configuration
        self.upstreams = DirectUpstreams(connectTimeout: configuration.connectTimeout, tls: configuration.upstreamTLS)
        self.logger = logger
        routes = [
            "/v1/chat/completions": Route(required: "messages", upstreamPath: "/chat/completions", series: metrics.series(route: "chat")),
            "/v1/completions": Route(required: "prompt", upstreamPath: "/completions", series: metrics.series(route: "completions")),
            "/v1/embeddings": Route(required: "input", upstreamPath: "/embeddings", series: metrics.series(route: "embeddings")),
        ]
        answered = metrics.directRelay(outcome: "answered")
        handedOver = metrics.directRelay(outcome: "handed_over")
    }

    func run() async throws {
        try? await gracefulShutdown()
        await upstreams.close()
    }

    /// The routes by path.
    private let routes: [String: Route]

    /// The route of a request the relay may take, judged by its head alone: a kept-alive POST
    /// to an inference route, without CORS, endpoint pinning or `Expect`.
    func route(for head: HTTPRequestHead) -> Route? {
        guard head.method == .POST, let route = routes[head.uri], head.isKeepAlive else { return nil }
        let headers = head.headers
        guard !headers.contains(name: "origin"), !headers.contains(name: HTTPField.Name.hostFinal.rawName),
              !headers.contains(name: "expect") else { return nil }
        return route
    }

    /// Everything decided before sending: nil hands the request to the router.
    ///
    /// The order matters: checks that cost nothing to undo come first; the limit is counted
    /// last (and undone by ``DirectAttempt/cancel()`` if the router takes over after all).
    func prepare(
        head: HTTPRequestHead, route: Route, body: ByteBuffer, credentials: inout CredentialMemo, remote: () -> SocketAddress?
    ) -> DirectAttempt? {
        guard let json = try? JSONBody(Array(buffer: body)), let model = json.string("model"), !model.isEmpty,
              json.contains(route.required), json.bool("stream") != true else { return nil }
        guard let principal = accounts.authenticateImmediately(head.headers.credential, memo: &credentials) else { return nil }
        if let key = principal.key, !key.allows(model: model) { return nil }
        guard let plan = backend.directPlan(path: route.upstreamPath, body: json, model: model) else { return nil }
        var clientIP = ""
        if case .anonymous = principal.kind {
            clientIP = ClientAddress.of(head.headers, remote: remote(), trustForwardedFor: accounts.configuration.trustForwardedFor)
        }
        let subjects = accounts.subjects(for: principal, clientIP: clientIP)
        guard let grant = subjects.isEmpty ? LimitGrant.none : accounts.limiter.acquireImmediately(subjects, now: Date()) else { return nil }
        let caller = Caller(principal: principal, grant: grant, requestID: RequestIDMiddleware.id(for: head.headers), accounts: accounts)
        try? caller.use(model: model)
        return DirectAttempt(route: route, plan: plan, caller: caller, relay: self)
    }
}

/// One request the direct relay took: its plan and its accounted caller.
///
/// A class: it travels through the upstream exchange's callbacks, and a reference is cheaper
/// to hand on than the plan's fields one by one.
final class DirectAttempt {
    let route: DirectRelay.Route
    let plan: DirectPlan
    let caller: Caller
    let relay: DirectRelay
    let received = ContinuousClock.now

    init(route: DirectRelay.Route, plan: DirectPlan, caller: Caller, relay: DirectRelay) {
        self.route = route
        self.plan = plan
        self.caller = caller
        self.relay = relay
    }

    /// Gives the counted limit back before the router takes the request over.
    func cancel() {
        relay.accounts.limiter.cancelImmediately(caller.grant)
    }

    /// Accounts for an answer that went out: metrics, the backend's settlement, the usage
    /// record, and the limits released.
    func finish(usage: Usage?, chatID: String?, answer: [UInt8], status: Int) {
        relay.metrics.answered(route.series, status: status, duration: .now - received, usage: usage, model: plan.model)
        let cost = plan.settle(usage, chatID, plan.body, answer, relay.logger)
        caller.record(backend: plan.backend, provider: plan.servedBy, model: nil, usage: usage, cost: cost, status: status)
        caller.finishImmediately(status: status)
    }
}
