import EVM
import Logging
import ZGBroker

/// One upstream exchange that the direct relay can make at once, from memory: where to send
/// what, and how to account for the answer.
///
/// A backend returns a plan only when nothing needs waiting for (the model list is known, the
/// catalog is fresh, the 0G session token is cached, the upstream is plain HTTP(S)); otherwise
/// the request takes the regular path, which does the waiting. Plans live on one event loop.
struct DirectPlan {
    let origin: UpstreamOrigin
    /// The request's head up to its `Content-Length` (``UpstreamRequestHeads``).
    let requestHead: [UInt8]
    /// The exact bytes sent (the model rewritten to the upstream's id).
    let body: [UInt8]
    /// Shown in `x-zgproxy-provider`: a 0G provider address or an endpoint's name.
    let servedBy: String
    /// `0g`, or the endpoint's name: the usage log's backend.
    let backend: String
    /// The model id the upstream was asked for.
    let model: String
    /// The response header that carries the upstream's chat id (`ZG-Res-Key` for 0G).
    let chatIDHeader: String?
    /// Records a usable answer head (latency metric, health).
    let succeeded: (_ latency: Duration) -> Void
    /// Records a failure of the upstream (unreachable, 5xx, 429, a cut body) in its health.
    let failed: (_ reason: String) -> Void
    /// The answer's cost in neuron; may start a verification of the answer (and of `sent`, the
    /// body as sent) in the background.
    let settle: (_ usage: Usage?, _ chatID: String?, _ sent: [UInt8], _ answer: [UInt8], _ logger: Logger) -> UInt256
    /// The error the router would answer for a failed exchange (`status` nil: no answer), when
    /// no other upstream can take over; nil lets the router handle the failure itself (0G's
    /// token renewal and funding rules live there).
    var error: ((_ status: Int?, _ body: [UInt8]) -> OpenAIError)? = nil
    /// Whether the router has another upstream for the request, to fail over to.
    var alternatives = false
}
