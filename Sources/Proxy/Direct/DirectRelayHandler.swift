import CoreMetrics
import EVM
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import ZGBroker

/// The direct relay on one client connection (see ``DirectRelay``).
///
/// It sits in the HTTP pipeline right after NIO's HTTP/1 codec, before the parts are converted
/// to swift-http-types for the router (see ``RelayingHTTP1Channel``), so a request it answers
/// costs no conversion either way. A request whose head fits a direct route is read here; once
/// its body is complete the relay either answers it itself, or hands the head and body on to
/// the router exactly as they came.
/// Requests stay in order: while a direct request is in flight, pipelined requests wait here;
/// while the router answers one, a request the relay may answer waits for that answer to end.
final class DirectRelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Mode {
        /// Between requests.
        case idle
        /// Reading the body of a request the relay may answer.
        case collecting
        /// Waiting for the upstream; inbound parts are queued.
        case relaying
        /// The current request goes to the router, part by part.
        case passing
        /// A request the relay may answer arrived while the router still answers an earlier
        /// one: it waits (queued) for that answer to end, so answers stay in order.
        case waiting
    }

    private let relay: DirectRelay
    private var mode = Mode.idle
    private var head: HTTPRequestHead?
    private var route: DirectRelay.Route?
    private var body = ByteBuffer()
    /// Requests given to the router whose response has not ended.
    private var routerInFlight = 0
    /// Parts that arrived while relaying or waiting.
    private var queued: [HTTPServerRequestPart] = []
    /// Reading from the socket is held while this many parts wait (a client pipelining without
    /// end cannot fill memory), and resumed once they are taken.
    private let queueLimit = 32
    private var readHeld = false
    /// A shutdown's quiesce event held back until the request in flight here is answered.
    private var quiesceHeld = false
    private var quiescing = false
    private var pool: UpstreamConnectionPool?
    private var date = HTTPDate()
    /// The credential this connection's client last sent (see ``CredentialMemo``).
    private var credentials = CredentialMemo()
    /// The HTTP/1 encoder's context: the relay's answers, already encoded by ``HTTPWire``, are
    /// written from there, straight to the socket. They never interleave with the router's,
    /// which are all written before the relay answers (see ``Mode/waiting``). Without it (a
    /// pipeline of another shape) the relay hands every request to the router.
    private var wire: ChannelHandlerContext?
    /// Whether parts went to the router since its last read-complete event.
    private var forwarded = false

    init(relay: DirectRelay) {
        self.relay = relay
    }

    func handlerAdded(context: ChannelHandlerContext) {
        pool = relay.upstreams.pool(for: context.eventLoop)
        wire = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        wire = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data), context: context)
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch mode {
        case .relaying, .waiting:
            queued.append(part)
        case .idle:
            guard case .head(var request) = part else { return forward(part, context: context) }
            // Only the relay may say which upstream failed.
            if request.headers.contains(name: HTTPField.Name.skipBackend.rawName) { request.headers.remove(name: HTTPField.Name.skipBackend.rawName) }
            guard !quiescing, wire != nil, let route = relay.route(for: request) else {
                routerInFlight += 1
                mode = .passing
                forward(.head(request), context: context)
                return
            }
            guard routerInFlight == 0 else {
                mode = .waiting
                // First: parts queued behind it (when drained from the queue) belong to it or later requests.
                queued.insert(.head(request), at: 0)
                return
            }
            head = request
            self.route = route
            body = ByteBuffer()  // not clear(): the last body may still share its storage
            mode = .collecting
        case .collecting:
            switch part {
            case .head:
                forward(part, context: context)  // not HTTP/1: the decoder never does this
            case .body(var chunk):
                if body.readableBytes + chunk.readableBytes > relay.configuration.bodyLimit {
                    handOver(context: context, attempt: nil, end: false)  // the router answers 413
                    forward(.body(chunk), context: context)
                } else if body.readableBytes == 0 {
                    body = chunk
                } else {
                    body.writeBuffer(&chunk)
                }
            case .end:
                mode = .relaying
                start(context: context)
            }
        case .passing:
            if case .end = part { mode = .idle }
            forward(part, context: context)
        }
    }

    /// Gives the request read so far to the router (its end too, unless more is coming).
    private func handOver(context: ChannelHandlerContext, attempt: DirectAttempt?, end: Bool, skip: String? = nil) {
        attempt?.cancel()
        guard var head else { return }
        self.head = nil
        relay.handedOver.increment()
        if let skip { head.headers.replaceOrAdd(name: HTTPField.Name.skipBackend.rawName, value: skip) }
        routerInFlight += 1
        mode = end ? .idle : .passing
        forward(.head(head), context: context)
        if body.readableBytes > 0 { forward(.body(body), context: context) }
        body = ByteBuffer()
        if end { forward(.end(nil), context: context) }
    }

    private func start(context: ChannelHandlerContext) {
        guard let head, let route, let pool,
              let attempt = relay.prepare(head: head, route: route, body: body, credentials: &credentials, remote: { context.channel.remoteAddress }) else {
            handOver(context: context, attempt: nil, end: true)
            return drain(context: context)
        }
        let plan = attempt.plan
        let request = HTTPWire.request(head: plan.requestHead, body: plan.body, allocator: context.channel.allocator)
        let sentAt = ContinuousClock.now
        let configuration = relay.configuration
        pool.execute(
            origin: plan.origin, request: request, firstByteTimeout: .nanoseconds(configuration.firstByteTimeout.nanoseconds),
            readTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds), maxBody: relay.answerLimit
        ) { [self] result in
            answer(result, attempt: attempt, sentAt: sentAt, context: context)
            drain(context: context)
            // Outside a socket read: the router's channel delivers what it was given on this.
            readComplete(context: context)
        }
    }

    private func answer(_ result: Result<UpstreamReply, UpstreamFailure>, attempt: DirectAttempt, sentAt: ContinuousClock.Instant, context: ChannelHandlerContext) {
        let plan = attempt.plan
        let reply: UpstreamReply
        switch result {
        case .success(let answer) where answer.status.code < 400:
            reply = answer
        case .success(let answer):
            let status = Int(answer.status.code)
            return failed(status: status, body: Array(buffer: answer.body), reason: "HTTP \(status)", attempt: attempt, context: context)
        case .failure(.noAnswer(let reason)), .failure(.closedBeforeAnswer(let reason)):
            return failed(status: nil, body: [], reason: reason, attempt: attempt, context: context)
        case .failure(.bodyCut(let reason)):
            plan.failed("body lost: \(reason)")
            relay.metrics.error(code: "upstream_body_lost")
            return answer(OpenAIError.upstream(.badGateway, "The upstream's response was cut off."), attempt: attempt, context: context)
        }
        requestDone()
        plan.succeeded(reply.headAt - sentAt)
        let bytes = Array(buffer: reply.body)
        let usage = Usage(jsonBytes: bytes[...])
        let chatIDHeader = plan.chatIDHeader.flatMap { reply.headers.first(name: $0) }
        let chatID = chatIDHeader ?? (plan.chatIDHeader != nil ? (try? JSONBody(bytes))?.string("id") : nil)
        var answer = HTTPWire.Answer(status: .ok, bodyLength: reply.body.readableBytes, allocator: context.channel.allocator)
        answer.add(.contentType, reply.headers.first(name: "content-type") ?? "application/json")
        answer.add(.contentLength, String(reply.body.readableBytes))
        answer.add(.provider, plan.servedBy)
        answer.add(.overhead, InferenceRoutes.milliseconds(sentAt - attempt.received))
        if let chatIDHeader { answer.add(.zgResKey, chatIDHeader) }
        let grant = attempt.caller.grant
        if grant.requests != nil || grant.tokens != nil { answer.add(contentsOf: grant.headers) }
        answer.add(.requestID, attempt.caller.requestID)
        answer.add(.date, date.current())
        answer.add(.server, "zgproxy")
        let delivered = context.channel.isActive
        relay.answered.increment()  // before the answer can reach the client (tests read it then)
        send(answer.finish(body: reply.body))
        attempt.finish(usage: usage, chatID: chatID, answer: bytes, status: delivered ? 200 : 499)
    }

    /// An upstream failed before answering (`status` nil) or with an error status. As in the
    /// router: 5xx, 429 and no answer count against its health and fail over to the next
    /// upstream, which the router tries with this one skipped; otherwise the error is answered.
    private func failed(status: Int?, body: [UInt8], reason: String, attempt: DirectAttempt, context: ChannelHandlerContext) {
        let plan = attempt.plan
        let retryable = status.map { $0 >= 500 || $0 == 429 } ?? true
        if retryable { plan.failed(reason) }
        if retryable && plan.alternatives {
            relay.metrics.failover(provider: plan.servedBy)
            return handOver(context: context, attempt: attempt, end: true, skip: plan.servedBy)
        }
        guard let error = plan.error?(status, body) else { return handOver(context: context, attempt: attempt, end: true) }
        relay.metrics.error(code: error.code ?? error.type)
        relay.metrics.request(route: attempt.route.series.route, status: Int(error.status.code), duration: .now - attempt.received)
        answer(error, attempt: attempt, context: context)
    }

    /// The relay's request is over: ready for the next one.
    private func requestDone() {
        head = nil
        body = ByteBuffer()
        mode = .idle
    }

    /// Ends the request with an error answer in the OpenAI shape, accounted as its status.
    private func answer(_ error: OpenAIError, attempt: DirectAttempt, context: ChannelHandlerContext) {
        requestDone()
        relay.answered.increment()  // before the answer can reach the client (tests read it then)
        write(error, requestID: attempt.caller.requestID, context: context)
        attempt.caller.finishImmediately(status: Int(error.status.code))
    }

    private func write(_ error: OpenAIError, requestID: String, context: ChannelHandlerContext) {
        var fields = error.headers
        let bytes = error.body
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(bytes.count)
        fields[.requestID] = requestID
        fields[.date] = date.current()
        fields[.server] = "zgproxy"
        let status = HTTPResponseStatus(statusCode: Int(error.status.code), reasonPhrase: error.status.reasonPhrase)
        var answer = HTTPWire.Answer(status: status, bodyLength: bytes.count, allocator: context.channel.allocator)
        answer.add(contentsOf: fields)
        send(answer.finish(body: context.channel.allocator.buffer(bytes: bytes)))
    }

    /// Writes a whole answer, encoded by ``HTTPWire``, straight to the socket.
    private func send(_ answer: ByteBuffer) {
        wire?.writeAndFlush(NIOAny(answer), promise: nil)
    }

    /// Feeds parts that waited while relaying, then a held shutdown notice.
    private func drain(context: ChannelHandlerContext) {
        while mode != .relaying, mode != .waiting, !queued.isEmpty {
            receive(queued.removeFirst(), context: context)
        }
        if readHeld, queued.count < queueLimit {
            readHeld = false
            context.read()
        }
        if quiesceHeld, mode == .idle {
            quiesceHeld = false
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Passes a request part on to the router.
    private func forward(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        forwarded = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readComplete(context: context)
    }

    /// Ends a batch of reads for the router, when it was given anything since the last one
    /// (a batch the relay consumed whole would only wake the router's channel for nothing).
    private func readComplete(context: ChannelHandlerContext) {
        guard forwarded else { return }
        forwarded = false
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if queued.count >= queueLimit {
            readHeld = true
        } else {
            context.read()
        }
    }

    /// Counts the router's answers as they end.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data) else { return }
        routerInFlight -= 1
        if routerInFlight == 0, mode == .waiting {
            mode = .idle
            // Not from inside the router's write: on the next turn of the loop.
            context.eventLoop.assumeIsolated().execute { [self] in
                drain(context: context)
                readComplete(context: context)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        quiescing = true
        // The router's connection handler closes an idle connection at once: not while a
        // request is being answered here.
        if mode == .collecting || mode == .relaying || mode == .waiting { quiesceHeld = true } else { context.fireUserInboundEventTriggered(event) }
    }
}

/// The `Date` header's IMF-fixdate (`Tue, 24 Nov 2026 08:49:37 GMT`), formatted once a second.
struct HTTPDate {
    private var second = 0
    private var text = ""

    mutating func current() -> String {
        var now = time(nil)
        guard now != second else { return text }
        second = now
        var parts = tm()
        gmtime_r(&now, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        text = "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        return text
    }
}
