import AsyncHTTPClient
import Crypto
import EVM
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import ZGBroker

/// `POST /v1/chat/completions`, `/v1/completions` and `/v1/embeddings`, relayed to 0G.
///
/// The body stays opaque: only `model`, `stream` and `stream_options` are read, the model is
/// rewritten to the provider's id and, for streams, usage reporting is switched on upstream.
/// JSON answers are returned as received; streams are relayed event by event with heartbeats,
/// and a failure after the first byte ends the stream with an OpenAI error event.
struct InferenceRoutes: Sendable {
    typealias Context = GatewayRequestContext
    let backend: BackendRouter
    let metrics: GatewayMetrics
    let configuration: ProxyConfiguration

    func add(to router: RouterGroup<Context>) {
        router.post("chat/completions") { request, context in try await relay(request, context, path: "/chat/completions", route: "chat", requires: ["messages"]) }
        router.post("completions") { request, context in try await relay(request, context, path: "/completions", route: "completions", requires: ["prompt"]) }
        router.post("embeddings") { request, context in try await relay(request, context, path: "/embeddings", route: "embeddings", requires: ["input"]) }
        router.post("responses") { request, context in try await responses(request, context) }
    }

    /// Reads the body within the size limit and indexes it as a JSON object.
    func readBody(_ request: Request) async throws -> JSONBody {
        var request = request
        let bytes: [UInt8]
        do {
            bytes = Array(buffer: try await request.collectBody(upTo: configuration.bodyLimit))
        } catch is NIOTooManyBytesError {
            metrics.error(code: "request_too_large")
            throw OpenAIError.bodyTooLarge(limit: configuration.bodyLimit)
        }
        do {
            return try JSONBody(bytes)
        } catch {
            metrics.error(code: "invalid_json")
            throw OpenAIError.invalidRequest("We could not parse the JSON body of your request: \(error.description)", code: "invalid_json")
        }
    }

    /// Opens the upstream, counting a failure in the metrics.
    func open(
        _ body: JSONBody, path: String, model: String, injectUsage: Bool, route: String, received: ContinuousClock.Instant, context: Context,
        host: String?, skip: String? = nil
    ) async throws(OpenAIError) -> UpstreamAnswer {
        do {
            return try await backend.open(
                path: path, body: body, model: model, injectUsage: injectUsage, received: received, logger: context.logger, host: host, skip: skip
            )
        } catch {
            metrics.error(code: error.code ?? error.type)
            metrics.request(route: route, status: Int(error.status.code), duration: .now - received)
            throw error
        }
    }

    func headers(for opened: UpstreamAnswer) -> HTTPFields {
        var headers: HTTPFields = [
            .provider: opened.servedBy,
            .overhead: Self.milliseconds(opened.overhead),
        ]
        if let key = opened.chatIDHeader { headers[.zgResKey] = key }
        return headers
    }

    /// `0.412`: milliseconds with three decimals (Foundation's `String(format:)` costs more
    /// than the rest of the header).
    static func milliseconds(_ duration: Duration) -> String {
        let micros = UInt64(max(0, duration.nanoseconds / 1000))
        // Written from the right on the stack (a String of up to 15 bytes then needs no
        // allocation): three decimals, the point, the whole milliseconds (at least one digit).
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { text in
            var index = 24
            func put(_ byte: UInt8) {
                index -= 1
                text[index] = byte
            }
            var fraction = micros % 1000
            for _ in 0..<3 {
                put(UInt8(ascii: "0") + UInt8(fraction % 10))
                fraction /= 10
            }
            put(UInt8(ascii: "."))
            var whole = micros / 1000
            repeat {
                put(UInt8(ascii: "0") + UInt8(whole % 10))
                whole /= 10
            } while whole > 0
            return String(decoding: UnsafeBufferPointer(rebasing: text[index...]), as: UTF8.self)
        }
    }

    func collectAnswer(_ opened: UpstreamAnswer) async throws(OpenAIError) -> [UInt8] {
        do {
            return Array(buffer: try await opened.response.body.collect(upTo: 64 * 1024 * 1024))
        } catch {
            opened.reportFailure("body lost")
            metrics.error(code: "upstream_body_lost")
            throw OpenAIError.upstream(.badGateway, "The 0G provider's response was cut off.")
        }
    }

    /// Answers a streaming request.
    ///
    /// The upstream head usually comes quickly; then the client gets a normal response with the
    /// provider's headers, and an upstream failure is an HTTP error. When providers take longer
    /// than one heartbeat (slow prefill, failover), the gateway answers 200 at once and sends SSE
    /// comment heartbeats while it waits, so clients and proxies in between do not time out; a
    /// failure is then reported as the stream's error event.
    func streamingResponse<Transform: StreamTransform>(
        route: String, received: ContinuousClock.Instant, context: Context, transform: Transform,
        open: @escaping @Sendable () async throws(OpenAIError) -> UpstreamAnswer
    ) async throws -> Response {
        // Request-scoped: awaited by this handler or by the response body, cancelled if the client leaves.
        let opening = Task { () -> Result<UpstreamAnswer, OpenAIError> in
            do throws(OpenAIError) { return .success(try await open()) } catch { return .failure(error) }
        }
        let heartbeat = configuration.heartbeat
        let early = await Self.result(of: opening, within: heartbeat)
        var headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .accelBuffering: "no",
        ]
        let logger = context.logger
        let caller = context.caller
        let totalDeadline = received + configuration.totalTimeout
        if let early {
            let opened = try early.get()
            headers.append(contentsOf: self.headers(for: opened))
            let relay = StreamRelay(
                upstream: opened.response, exchange: exchange(opened, route: route, received: received, logger: logger, caller: caller),
                transform: transform, heartbeat: heartbeat, totalDeadline: totalDeadline
            )
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in try await relay.run(&writer) })
        }
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var result: Result<UpstreamAnswer, OpenAIError>? = nil
            while result == nil {
                result = await Self.result(of: opening, within: heartbeat)
                if result == nil {
                    do {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    } catch {
                        opening.cancel()
                        throw error
                    }
                }
            }
            switch result! {
            case .success(let opened):
                let relay = StreamRelay(
                    upstream: opened.response, exchange: exchange(opened, route: route, received: received, logger: logger, caller: caller),
                    transform: transform, heartbeat: heartbeat, totalDeadline: totalDeadline
                )
                try await relay.run(&writer)
            case .failure(let error):
                caller?.failed(status: Int(error.status.code))
                try await writer.write(ByteBuffer(bytes: transform.failureEvent(error)))
                try await writer.finish(nil)
            }
        })
    }

    /// The task's result if it finishes within `timeout`, else nil (the task goes on).
    /// Awaiting a task's value cannot be cancelled, so this races with a continuation rather
    /// than a task group, which would wait for the slower child.
    static func result<T: Sendable>(of task: Task<T, Never>, within timeout: Duration) async -> T? {
        let once = Once()
        return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if once.claim() { continuation.resume(returning: nil) }
            }
            Task {
                let value = await task.value
                if once.claim() {
                    timer.cancel()
                    continuation.resume(returning: value)
                }
            }
        }
    }

    func exchange(_ opened: UpstreamAnswer, route: String, received: ContinuousClock.Instant, logger: Logger, caller: Caller?) -> Exchange {
        Exchange(answer: opened, metrics: metrics, route: route, received: received, logger: logger, caller: caller)
    }

    /// `POST /v1/responses`, answered by translating to and from Chat Completions.
    func responses(_ request: Request, _ context: Context) async throws -> Response {
        let received = ContinuousClock.now
        let host = request.headers[.hostFinal]
        let body = try await readBody(request)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.bytes))) as? [String: Any] else {
            throw OpenAIError.invalidRequest("We could not parse the JSON body of your request.", code: "invalid_json")
        }
        guard let model = object["model"] as? String, !model.isEmpty else {
            throw OpenAIError.invalidRequest("You must provide a model parameter.", param: "model", code: "missing_model")
        }
        try context.caller?.use(model: model)
        let streaming = object["stream"] as? Bool ?? false
        var chat = try ChatRequestTranslator.chatBody(from: object)
        chat["stream"] = streaming
        if streaming { chat["stream_options"] = ["include_usage": true] }
        let chatBody = try JSONBody(Array(try JSONSerialization.data(withJSONObject: chat)))
        let builder = ResponseObjectBuilder(request: object, model: model)
        if streaming {
            return try await streamingResponse(route: "responses", received: received, context: context, transform: ResponsesStreamTranslator(builder: builder)) {
                () async throws(OpenAIError) in
                try await open(chatBody, path: "/chat/completions", model: model, injectUsage: false, route: "responses", received: received, context: context, host: host)
            }
        }
        let opened = try await open(chatBody, path: "/chat/completions", model: model, injectUsage: false, route: "responses", received: received, context: context, host: host)
        var headers = headers(for: opened)
        let exchange = exchange(opened, route: "responses", received: received, logger: context.logger, caller: context.caller)
        let answer = try await collectAnswer(opened)
        let chatObject = (try? JSONSerialization.jsonObject(with: Data(answer))) as? [String: Any] ?? [:]
        let translated = builder.response(fromChatCompletion: chatObject)
        let usage = Usage(json: chatObject["usage"])
        let chatID = exchange.chatIDHeader ?? chatObject["id"] as? String
        headers[.contentType] = "application/json"
        let bytes = Array((try? JSONSerialization.data(withJSONObject: translated, options: [.withoutEscapingSlashes])) ?? Data())
        return whole(bytes, headers: headers, exchange: exchange, usage: usage, chatID: chatID, upstreamBytes: answer)
    }

    func relay(_ request: Request, _ context: Context, path: String, route: String, requires: [String]) async throws -> Response {
        let received = ContinuousClock.now
        let host = request.headers[.hostFinal]
        let skip = request.headers[.skipBackend]
        var body = try await readBody(request)
        guard let model = body.string("model"), !model.isEmpty else {
            throw OpenAIError.invalidRequest("You must provide a model parameter.", param: "model", code: "missing_model")
        }
        try context.caller?.use(model: model)
        if route == "chat", !body.contains("messages"), body.contains("input") {
            // Cursor's agent mode sends a Responses-shaped body here and expects chat chunks back.
            guard let object = (try? JSONSerialization.jsonObject(with: Data(body.bytes))) as? [String: Any] else {
                throw OpenAIError.invalidRequest("We could not parse the JSON body of your request.", code: "invalid_json")
            }
            body = try JSONBody(Array(try JSONSerialization.data(withJSONObject: try ChatRequestTranslator.chatBody(from: object))))
        }
        for field in requires where !body.contains(field) {
            throw OpenAIError.invalidRequest("Missing required parameter: '\(field)'.", param: field, code: "missing_required_parameter")
        }
        let streaming = body.bool("stream") ?? false
        let clientWantsUsage = ((body.value("stream_options") as? [String: Any])?["include_usage"] as? Bool) ?? false
        if streaming {
            let injectUsage = !clientWantsUsage
            let streamBody = body
            return try await streamingResponse(route: route, received: received, context: context, transform: SSERelay(stripUsage: !clientWantsUsage)) {
                () async throws(OpenAIError) in
                try await open(streamBody, path: path, model: model, injectUsage: injectUsage, route: route, received: received, context: context, host: host)
            }
        }
        let opened = try await open(body, path: path, model: model, injectUsage: false, route: route, received: received, context: context, host: host, skip: skip)
        var headers = headers(for: opened)
        let exchange = exchange(opened, route: route, received: received, logger: context.logger, caller: context.caller)
        let answer = try await collectAnswer(opened)
        headers[.contentType] = opened.response.headers.first(name: "content-type") ?? "application/json"
        // Only what billing needs is read, by a byte scan (the counts' quoted keys cannot occur
        // inside a JSON string, where quotes are escaped); the answer goes out as received. The
        // id is needed only to verify an answer that came without the chat id header.
        let usage = Usage(jsonBytes: answer[...])
        let chatID = exchange.chatIDHeader ?? (opened.hashesResponse ? (try? JSONBody(answer))?.string("id") : nil)
        return whole(answer, headers: headers, exchange: exchange, usage: usage, chatID: chatID, upstreamBytes: answer)
    }

    /// A whole (non-streamed) answer: `bytes` go to the client, then the exchange is finished
    /// (metering, metrics, usage log, and verification of the `upstreamBytes` as received).
    func whole(_ bytes: [UInt8], headers: HTTPFields, exchange: Exchange, usage: Usage?, chatID: String?, upstreamBytes: [UInt8]) -> Response {
        Response(
            status: .ok, headers: headers,
            body: ResponseBody(contentLength: bytes.count) { writer in
                try await writer.write(ByteBuffer(bytes: bytes))
                try await writer.finish(nil)
                let hash = exchange.answer.hashesResponse ? ResponseVerifier.sha256Hex(upstreamBytes) : ""
                await exchange.finish(usage: usage, chatID: chatID, responseSHA256: hash, status: 200)
            }
        )
    }
}

/// True for the first caller of ``claim()`` only.
final class Once: Sendable {
    private let claimed = Mutex(false)

    func claim() -> Bool {
        claimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
    }
}

/// What happens after an answer went out: metrics, then the backend's settlement (metering,
/// verification).
struct Exchange: Sendable {
    let answer: UpstreamAnswer
    let metrics: GatewayMetrics
    let route: String
    let received: ContinuousClock.Instant
    let logger: Logger
    /// The accounted caller, whose usage record this exchange writes.
    let caller: Caller?

    var chatIDHeader: String? { answer.chatIDHeader }

    func finish(usage: Usage?, chatID: String?, responseSHA256: String, status: Int) async {
        metrics.answered(route: route, status: status, duration: .now - received, usage: usage, model: answer.model)
        let cost = await answer.settle(usage, chatID, responseSHA256, logger)
        caller?.record(backend: answer.backend, provider: answer.servedBy, model: nil, usage: usage, cost: cost, status: status)
    }
}
