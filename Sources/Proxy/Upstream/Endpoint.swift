import Logging

/// An upstream endpoint besides 0G, as the router, `/v1/models` and `/v1/endpoints` see it.
protocol Endpoint: Sendable {
    var name: String { get }
    var configuration: EndpointConfiguration { get }
    /// Model ids clients may ask for (aliases included).
    var models: [String] { get }
    func serves(_ model: String) -> Bool
    /// Whether it answers models nobody serves (a configured default model).
    var answersAnyModel: Bool { get }
    /// Refreshes the model list from the upstream, when it is not configured.
    func discover(logger: Logger) async
    /// Returns once the model list has been read at least once (the first discovery is awaited,
    /// so requests arriving right after start are not routed as if the endpoint served nothing).
    func ready(logger: Logger) async
    /// Whether the model list has been read (``ready(logger:)`` would not wait).
    var isReady: Bool { get }
    /// Sends one request; returns once a usable head arrived, or throws the error to answer.
    func open(path: String, body: JSONBody, model: String, injectUsage: Bool, received: ContinuousClock.Instant) async throws(OpenAIError) -> UpstreamAnswer
    /// The exchange for a whole (non-streamed) answer when it can be made at once without
    /// waiting for anything (see ``DirectPlan``); nil sends the request the regular way.
    func directPlan(path: String, body: JSONBody, model: String) -> DirectPlan?
}

extension OpenAIEndpoint: Endpoint {
    var answersAnyModel: Bool { false }
}

extension Endpoint {
    func ready(logger: Logger) async {}
    var isReady: Bool { true }
    func directPlan(path: String, body: JSONBody, model: String) -> DirectPlan? { nil }
}
