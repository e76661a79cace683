import AsyncHTTPClient
import EVM
import Logging
import ZGBroker

/// A backend that answers OpenAI requests: 0G today (``ZeroGBackend``); OpenAI-compatible
/// providers, OCF and Replicate plug in here too.
///
/// The routes own the OpenAI wire format (reading bodies, streaming, translation, errors);
/// a backend owns choosing an upstream, sending, failing over, and settling each answer.
protocol InferenceBackend: Sendable {
    /// Sends the request to the best upstream for `model` and returns once a usable response
    /// head arrived (failing over before that), or throws the error to answer.
    func open(
        path: String, body: JSONBody, model: String, injectUsage: Bool, received: ContinuousClock.Instant, logger: Logger
    ) async throws(OpenAIError) -> UpstreamAnswer
}

/// An upstream response whose head arrived, with what the gateway does once it is finished.
struct UpstreamAnswer: Sendable {
    let response: HTTPClientResponse
    /// The exact bytes sent (what a provider's signature covers).
    let sentBody: [UInt8]
    /// Gateway work before the upstream request went out.
    let overhead: Duration
    /// Shown in `x-zgproxy-provider`: a 0G provider address or an endpoint's name.
    let servedBy: String
    /// The model id the upstream was asked for.
    let model: String
    /// The upstream's chat id header (`ZG-Res-Key` for 0G), passed through to the client.
    let chatIDHeader: String?
    /// `0g`, or the endpoint's name: the usage log's backend.
    let backend: String
    /// Whether ``settle`` may verify the answer, and so needs the SHA-256 of its exact bytes
    /// (0G with `ZG_VERIFY` on); otherwise the relay skips hashing.
    var hashesResponse = false
    /// Meters (and per configuration verifies) a finished answer; returns its cost in neuron
    /// (0G's fee, or the endpoint's configured prices; zero when unpriced or without usage).
    let settle: @Sendable (_ usage: Usage?, _ chatID: String?, _ responseSHA256: String, _ logger: Logger) async -> UInt256
    /// Reports a failure after the head (a cut stream, a lost body) to the upstream's health.
    let reportFailure: @Sendable (_ reason: String) -> Void
}
