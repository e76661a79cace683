import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 server channel with a ``DirectRelayHandler`` placed right after NIO's
/// HTTP/1 codec.
///
/// `HTTP1Channel.Configuration.additionalChannelHandlers` would put the relay after the
/// conversion of every part to swift-http-types; here the relay reads NIO's parts, and only what
/// it hands to the router is converted. Everything else (the router, idle timeouts, graceful
/// shutdown) is Hummingbird's own channel, unchanged.
struct RelayingHTTP1Channel: HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let base: HTTP1Channel
    let relay: DirectRelay

    var responder: Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(DirectRelayHandler(relay: relay), position: .before(try pipeline.handler(type: HTTP1ToHTTPServerCodec.self)))
            return value
        }.nonisolated()
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the direct relay in front of the router when `relay` is set.
    static func http1(relay: DirectRelay?) -> HTTPServerBuilder {
        guard let relay else { return .http1() }
        return HTTPServerBuilder { responder in
            RelayingHTTP1Channel(base: HTTP1Channel(responder: responder), relay: relay)
        }
    }
}
