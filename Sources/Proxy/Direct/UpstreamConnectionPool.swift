import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Scheme, host and port of an upstream: what a kept-alive connection can be reused for.
struct UpstreamOrigin: Hashable, Sendable {
    let host: String
    let port: Int
    let tls: Bool

    /// Splits `http(s)://host[:port][/path]` into the origin and the path (`""` when none).
    static func parse(_ url: String) -> (origin: UpstreamOrigin, path: String)? {
        let tls: Bool
        var rest: Substring
        if url.hasPrefix("http://") {
            tls = false
            rest = url.dropFirst(7)
        } else if url.hasPrefix("https://") {
            tls = true
            rest = url.dropFirst(8)
        } else {
            return nil
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        rest = rest[slash...]
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var host = authority
        var port = tls ? 443 : 80
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.first == ":" { guard let parsed = Int(after.dropFirst()) else { return nil }; port = parsed }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let parsed = Int(authority[authority.index(after: colon)...]) else { return nil }
            host = authority[..<colon]
            port = parsed
        }
        guard (1...65_535).contains(port) else { return nil }
        return (UpstreamOrigin(host: String(host), port: port, tls: tls), String(rest))
    }

    /// A base URL that paths are appended to: its origin and path without a trailing slash;
    /// nil when the URL is not plain `http(s)` or carries a query.
    static func base(_ url: String) -> (origin: UpstreamOrigin, path: String)? {
        guard let (origin, path) = parse(url), !path.utf8.contains(UInt8(ascii: "?")) else { return nil }
        var trimmed = Substring(path)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return (origin, String(trimmed))
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (tls ? 443 : 80) ? name : "\(name):\(port)"
    }
}

/// A whole upstream answer: head and body, read into memory (JSON answers only).
struct UpstreamReply {
    let status: HTTPResponseStatus
    let headers: HTTPHeaders
    let body: ByteBuffer
    /// When the head arrived (for the latency metric and health).
    let headAt: ContinuousClock.Instant
}

/// Why a direct exchange failed, split by whether the upstream may have acted on the request.
enum UpstreamFailure: Error, Equatable {
    /// No answer byte came back: connecting failed, the connection closed or the head was late.
    case noAnswer(String)
    /// A kept-alive connection closed (or was reset) before any answer byte: usually the
    /// upstream's idle timeout met our request on the way. Retried once on a new connection.
    case closedBeforeAnswer(String)
    /// The head came but the body did not finish (closed, too slow or too large).
    case bodyCut(String)

    var reason: String {
        switch self {
        case .noAnswer(let reason), .closedBeforeAnswer(let reason), .bodyCut(let reason): reason
        }
    }
}

/// Keep-alive HTTP/1.1 connections to upstreams, owned by one event loop.
///
/// The direct relay serves a client connection on its event loop and sends upstream through
/// this loop's pool, so a relayed request never changes thread: no task hops, no locks. Each
/// connection carries one exchange at a time; idle ones are reused newest first and closed
/// after ``idleLifetime``.
///
/// Every method must be called on ``eventLoop``; ``DirectUpstreams`` hands out the right pool.
final class UpstreamConnectionPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let tlsContext: NIOSSLContext?
    private let connectTimeout: TimeAmount
    private let idleLifetime: TimeAmount
    private let maxIdlePerOrigin: Int
    /// Idle connections by origin, the newest last. A class per origin: taking and giving back
    /// a connection changes its list in place, without copying it out of the dictionary.
    private var idle: [UpstreamOrigin: IdleConnections] = [:]

    private final class IdleConnections {
        var entries: [(connection: UpstreamConnection, since: NIODeadline)] = []
    }
    private var sweeper: RepeatedTask?
    private var closed = false

    init(eventLoop: any EventLoop, tlsContext: NIOSSLContext?, connectTimeout: TimeAmount, idleLifetime: TimeAmount = .seconds(60), maxIdlePerOrigin: Int = 256) {
        self.eventLoop = eventLoop
        self.tlsContext = tlsContext
        self.connectTimeout = connectTimeout
        self.idleLifetime = idleLifetime
        self.maxIdlePerOrigin = maxIdlePerOrigin
    }

    /// Sends one request and calls `completion` on the event loop with the whole answer.
    ///
    /// - Parameters:
    ///   - request: the whole request, laid out by ``HTTPWire/request(head:body:allocator:)``.
    ///   - firstByteTimeout: from sending to the response head.
    ///   - readTimeout: the longest pause while the body arrives.
    ///   - maxBody: a longer body fails as ``UpstreamFailure/bodyCut(_:)``.
    func execute(
        origin: UpstreamOrigin, request: ByteBuffer, firstByteTimeout: TimeAmount, readTimeout: TimeAmount, maxBody: Int,
        completion: @escaping (Result<UpstreamReply, UpstreamFailure>) -> Void
    ) {
        eventLoop.preconditionInEventLoop()
        let exchange = UpstreamExchange(request: request, firstByteTimeout: firstByteTimeout, readTimeout: readTimeout, maxBody: maxBody, completion: completion)
        if let connection = takeIdle(origin) {
            var onReused = exchange
            onReused.completion = { [self] result in
                if case .failure(.closedBeforeAnswer) = result { return startOnNewConnection(origin, exchange) }
                completion(result)
            }
            connection.start(onReused)
            return
        }
        startOnNewConnection(origin, exchange)
    }

    private func startOnNewConnection(_ origin: UpstreamOrigin, _ exchange: UpstreamExchange) {
        guard !closed else { return exchange.completion(.failure(.noAnswer("the gateway is shutting down"))) }
        connect(origin).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection): connection.start(exchange)
            case .failure(let error): exchange.completion(.failure(.noAnswer("could not connect: \(error)")))
            }
        }
    }

    private func takeIdle(_ origin: UpstreamOrigin) -> UpstreamConnection? {
        guard let list = idle[origin] else { return nil }
        while let last = list.entries.popLast() {
            if last.connection.channel.isActive { return last.connection }
        }
        return nil
    }

    /// Called by a connection whose exchange ended cleanly with keep-alive.
    fileprivate func release(_ connection: UpstreamConnection) {
        let list: IdleConnections
        if let known = idle[connection.origin] {
            list = known
        } else {
            list = IdleConnections()
            idle[connection.origin] = list
        }
        guard !closed, connection.channel.isActive, list.entries.count < maxIdlePerOrigin else {
            connection.channel.close(promise: nil)
            return
        }
        list.entries.append((connection, .now()))
        if sweeper == nil {
            sweeper = eventLoop.scheduleRepeatedTask(initialDelay: idleLifetime, delay: idleLifetime) { [self] _ in
                sweepIdle()
            }
        }
    }

    private func sweepIdle() {
        let cutoff = NIODeadline.now() - idleLifetime
        for (origin, list) in idle {
            for entry in list.entries where entry.since < cutoff { entry.connection.channel.close(promise: nil) }
            list.entries.removeAll { $0.since < cutoff || !$0.connection.channel.isActive }
            if list.entries.isEmpty { idle[origin] = nil }
        }
    }

    private func connect(_ origin: UpstreamOrigin) -> EventLoopFuture<UpstreamConnection> {
        let tlsContext = origin.tls ? self.tlsContext : nil
        if origin.tls && tlsContext == nil {
            return eventLoop.makeFailedFuture(UpstreamFailure.noAnswer("TLS is not available"))
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        let hostname = origin.host.isIPAddress ? nil : origin.host
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tlsContext, serverHostname: hostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(UpstreamResponseDecoder()))
                    try channel.pipeline.syncOperations.addHandler(UpstreamResponseHandler())
                }
            }
        return bootstrap.connect(host: origin.host, port: origin.port).flatMapThrowing { [self] channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamResponseHandler.self)
            let connection = UpstreamConnection(channel: channel, origin: origin, handler: handler)
            handler.pool = self
            handler.connection = connection
            return connection
        }
    }

    /// Closes the idle connections and refuses new ones (busy ones close when done).
    func close() {
        eventLoop.preconditionInEventLoop()
        closed = true
        sweeper?.cancel()
        sweeper = nil
        for list in idle.values { for entry in list.entries { entry.connection.channel.close(promise: nil) } }
        idle = [:]
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.entries.count } }
}

/// One kept-alive connection of a pool.
final class UpstreamConnection {
    let channel: any Channel
    let origin: UpstreamOrigin
    private let handler: UpstreamResponseHandler

    fileprivate init(channel: any Channel, origin: UpstreamOrigin, handler: UpstreamResponseHandler) {
        self.channel = channel
        self.origin = origin
        self.handler = handler
    }

    fileprivate func start(_ exchange: UpstreamExchange) {
        handler.start(exchange, channel: channel)
    }
}

/// One request in flight on a connection.
private struct UpstreamExchange {
    let request: ByteBuffer
    let firstByteTimeout: TimeAmount
    let readTimeout: TimeAmount
    let maxBody: Int
    var completion: (Result<UpstreamReply, UpstreamFailure>) -> Void
}

/// Reads the answer of the connection's current exchange and gives the connection back to
/// its pool when the answer ended with keep-alive.
private final class UpstreamResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = ByteBuffer

    weak var pool: UpstreamConnectionPool?
    var connection: UpstreamConnection?
    private var exchange: UpstreamExchange?
    private var head: HTTPResponseHead?
    private var headAt = ContinuousClock.now
    private var body = ByteBuffer()
    /// When the current phase (waiting for the head, then for the next body part) times out;
    /// nil between exchanges.
    private var deadline: NIODeadline?
    /// One timer per connection, at or before `deadline`. It is not re-armed per request: when
    /// it fires early (its exchange ended, a later one runs) it moves to the current deadline,
    /// so a request that answers in time costs no scheduling.
    private var timer: Scheduled<Void>?
    private var timerAt = NIODeadline.distantFuture
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func start(_ exchange: UpstreamExchange, channel: any Channel) {
        guard let context else { return exchange.completion(.failure(.noAnswer("connection closed"))) }
        self.exchange = exchange
        head = nil
        body = ByteBuffer()
        arm(exchange.firstByteTimeout, context: context)
        context.writeAndFlush(wrapOutboundOut(exchange.request), promise: nil)
    }

    private func arm(_ amount: TimeAmount, context: ChannelHandlerContext) {
        let deadline = NIODeadline.now() + amount
        self.deadline = deadline
        if timer == nil || deadline < timerAt { schedule(at: deadline, context: context) }
    }

    private func schedule(at when: NIODeadline, context: ChannelHandlerContext) {
        timer?.cancel()
        timerAt = when
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in
            timer = nil
            guard let deadline, let context = self.context else { return }
            guard deadline <= .now() else { return schedule(at: deadline, context: context) }
            fail(head == nil ? .noAnswer("timed out waiting for the response head") : .bodyCut("timed out reading the body"))
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let exchange else { return context.close(promise: nil) }  // an answer nobody asked for
        switch unwrapInboundIn(data) {
        case .head(let responseHead):
            guard responseHead.status != .continue else { return }
            head = responseHead
            headAt = .now
            arm(exchange.readTimeout, context: context)
        case .body(var part):
            guard body.readableBytes + part.readableBytes <= exchange.maxBody else {
                fail(.bodyCut("the body is larger than \(exchange.maxBody) bytes"))
                return context.close(promise: nil)
            }
            if body.readableBytes == 0 { body = part } else { body.writeBuffer(&part) }
            deadline = .now() + exchange.readTimeout
        case .end:
            guard let head else { return }
            deadline = nil
            self.exchange = nil
            let reply = UpstreamReply(status: head.status, headers: head.headers, body: body, headAt: headAt)
            body = ByteBuffer()
            if head.isKeepAlive, let pool, let connection { pool.release(connection) } else { context.close(promise: nil) }
            exchange.completion(.success(reply))
        }
    }

    private func fail(_ failure: UpstreamFailure) {
        deadline = nil
        guard let exchange else { return }
        self.exchange = nil
        exchange.completion(.failure(failure))
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        fail(head == nil ? .closedBeforeAnswer("connection closed") : .bodyCut("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(head == nil ? .closedBeforeAnswer("\(error)") : .bodyCut("\(error)"))
        context.close(promise: nil)
    }
}

/// The pools of every event loop, created on first use.
final class DirectUpstreams: Sendable {
    private let pools = Mutex<[ObjectIdentifier: UpstreamConnectionPool]>([:])
    private let tlsContext: NIOSSLContext?
    private let connectTimeout: TimeAmount

    init(connectTimeout: Duration, tls: TLSConfiguration) {
        self.tlsContext = try? NIOSSLContext(configuration: tls)
        self.connectTimeout = .nanoseconds(connectTimeout.nanoseconds)
    }

    /// The pool of `eventLoop` (call on that loop; cache it per client connection).
    func pool(for eventLoop: any EventLoop) -> UpstreamConnectionPool {
        pools.withLock { pools in
            let id = ObjectIdentifier(eventLoop)
            if let pool = pools[id] { return pool }
            let pool = UpstreamConnectionPool(eventLoop: eventLoop, tlsContext: tlsContext, connectTimeout: connectTimeout)
            pools[id] = pool
            return pool
        }
    }

    /// Closes every pool's idle connections; later requests fail over to the slow path.
    func close() async {
        let all = pools.withLock { Array($0.values) }
        for pool in all {
            try? await pool.eventLoop.submit { pool.close() }.get()
        }
    }
}

extension String {
    /// Whether this is an IPv4 or IPv6 literal (no SNI for those).
    var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
