import Hummingbird
import NIOCore

/// The gateway's request context: Hummingbird's core storage plus the request id, the client's
/// address, the accounted caller of `/v1` routes, and the logged-in user of `/api` routes.
public struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public var requestID = ""
    /// Set by ``InferenceAuthMiddleware`` on `/v1`.
    public var caller: Caller?
    /// Set by ``SessionAuthMiddleware`` on `/api`.
    public var sessionUser: User?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
