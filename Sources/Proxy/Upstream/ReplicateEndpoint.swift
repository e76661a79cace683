import AsyncHTTPClient
import EVM
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import ZGBroker

/// Replicate's predictions API behind the OpenAI routes.
///
/// Chat and legacy completions become a prediction of the mapped model (`messages` → `prompt`
/// and `system_prompt`, `max_tokens`, `temperature`, `top_p`, `stop`, `seed`). JSON answers use
/// `Prefer: wait` and poll `urls.get` while the prediction runs; streams read the prediction's
/// own SSE stream and re-emit it as `chat.completion.chunk` events as the text arrives. Usage
/// comes from the prediction's `metrics` token counts; RFC 7807 errors become OpenAI errors.
final class ReplicateEndpoint: Endpoint {
    let configuration: EndpointConfiguration
    private let httpClient: HTTPClient
    private let timeouts: ProxyConfiguration
    private let health: HealthTracker<String>
    private let metrics: GatewayMetrics
    /// How often a running prediction is polled.
    let pollInterval: Duration = .milliseconds(250)

    init(configuration: EndpointConfiguration, httpClient: HTTPClient, timeouts: ProxyConfiguration, health: HealthTracker<String>, metrics: GatewayMetrics) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.timeouts = timeouts
        self.health = health
        self.metrics = metrics
    }

    var name: String { configuration.name }
    var models: [String] { configuration.replicateModels.keys.sorted() }
    func serves(_ model: String) -> Bool { configuration.replicateModels[model] != nil }
    var answersAnyModel: Bool { configuration.defaultModel != nil }
    func discover(logger: Logger) async {}

    func open(path: String, body: JSONBody, model: String, injectUsage: Bool, received: ContinuousClock.Instant) async throws(OpenAIError) -> UpstreamAnswer {
        guard let mapping = configuration.replicateModels[model] ?? configuration.defaultModel.flatMap({ configuration.replicateModels[$0] }) else {
            throw .modelNotFound(model)
        }
        guard path == "/chat/completions" || path == "/completions" else {
            throw .invalidRequest("\(path) is not available for Replicate models.", code: "unsupported_endpoint")
        }
        guard let request = (try? JSONSerialization.jsonObject(with: Data(body.bytes))) as? [String: Any] else {
            throw .invalidRequest("We could not parse the JSON body of your request.", code: "invalid_json")
        }
        let chat = path == "/chat/completions"
        let streaming = request["stream"] as? Bool ?? false
        let input = Self.input(from: request, mapping: mapping)
        let wantsStream = streaming && mapping.streams
        let sentAt = ContinuousClock.now
        var prediction = try await create(model: mapping.model, input: input, stream: wantsStream, wait: !wantsStream)
        metrics.upstreamLatency(provider: name, duration: .now - sentAt)
        health.recordSuccess(name, latency: .now - sentAt)
        let id = "chatcmpl-" + (prediction["id"] as? String ?? UUID().uuidString)
        let created = Int(Date().timeIntervalSince1970)
        let format = ChunkFormat(id: chat ? id : "cmpl-" + id.dropFirst(9), created: created, model: model, chat: chat)
        let sent = Array((try? JSONSerialization.data(withJSONObject: ["input": input, "stream": wantsStream])) ?? Data())
        var headers = HTTPHeaders()
        let responseBody: HTTPClientResponse.Body
        if wantsStream, let streamURL = (prediction["urls"] as? [String: Any])?["stream"] as? String {
            headers.add(name: "Content-Type", value: "text/event-stream")
            responseBody = .stream(streamChunks(streamURL: streamURL, prediction: prediction, format: format))
        } else {
            prediction = try await finished(prediction)
            let text = Self.outputText(prediction)
            let usage = Self.usage(prediction)
            if streaming {
                // A model without streaming: its whole answer as one delta, then the usual ending.
                headers.add(name: "Content-Type", value: "text/event-stream")
                var bytes = format.chunk(delta: ["role": "assistant", "content": text], finish: nil)
                bytes += format.chunk(delta: [:], finish: "stop") + format.usageChunk(usage) + Array("data: [DONE]\n\n".utf8)
                responseBody = .bytes(ByteBuffer(bytes: bytes))
            } else {
                headers.add(name: "Content-Type", value: "application/json")
                responseBody = .bytes(ByteBuffer(bytes: format.completion(text: text, usage: usage)))
            }
        }
        let response = HTTPClientResponse(status: .ok, headers: headers, body: responseBody)
        return UpstreamAnswer(
            response: response, sentBody: sent, overhead: sentAt - received, servedBy: name, model: model, chatIDHeader: nil, backend: name,
            settle: { usage, _, _, _ in usage.flatMap { self.configuration.prices(for: model, upstreamModel: model)?.cost(of: $0) } ?? .zero },
            reportFailure: { reason in self.reportFailure(reason) }
        )
    }

    private func reportFailure(_ reason: String) {
        health.recordFailure(name, reason: reason)
        metrics.providerHealthy(name, healthy: !health.isBenched(name))
    }

    // MARK: Requests

    private func authorized(_ url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        if let token = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    private func create(model: String, input: [String: Any], stream: Bool, wait: Bool) async throws(OpenAIError) -> [String: Any] {
        var request = authorized(configuration.baseURL + "/models/\(model)/predictions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if wait { request.headers.add(name: "Prefer", value: "wait=\(min(60, max(1, Int(timeouts.firstByteTimeout.components.seconds))))") }
        let payload: [String: Any] = ["input": input, "stream": stream]
        request.body = .bytes(ByteBuffer(bytes: Array((try? JSONSerialization.data(withJSONObject: payload)) ?? Data())))
        return try await json(request, timeout: timeouts.firstByteTimeout + .seconds(5))
    }

    /// Polls `urls.get` until the prediction ends, within the total timeout.
    private func finished(_ start: [String: Any]) async throws(OpenAIError) -> [String: Any] {
        var prediction = start
        let deadline = ContinuousClock.now + timeouts.totalTimeout
        while !["succeeded", "failed", "canceled"].contains(prediction["status"] as? String ?? "") {
            guard ContinuousClock.now < deadline else { throw .upstream(.gatewayTimeout, "The Replicate prediction did not finish in time.", code: "upstream_timeout") }
            guard let get = (prediction["urls"] as? [String: Any])?["get"] as? String, sameOrigin(get) else {
                throw .upstream(.badGateway, "The Replicate prediction has no poll URL on the API's origin.")
            }
            try? await Task.sleep(for: pollInterval)
            prediction = try await json(authorized(get), timeout: timeouts.firstByteTimeout)
        }
        switch prediction["status"] as? String {
        case "succeeded": return prediction
        case "canceled": throw .upstream(.badGateway, "The Replicate prediction was canceled.", code: "upstream_canceled")
        default: throw .upstream(.badGateway, "The Replicate prediction failed: \(Self.describe(prediction["error"]))", code: "upstream_failed")
        }
    }

    /// Refuses to send the token anywhere but the API's own origin (an SSRF guard).
    private func sameOrigin(_ url: String) -> Bool {
        guard let base = URLComponents(string: configuration.baseURL), let other = URLComponents(string: url) else { return false }
        return base.scheme == other.scheme && base.host == other.host && base.port == other.port
    }

    private func json(_ request: HTTPClientRequest, timeout: Duration) async throws(OpenAIError) -> [String: Any] {
        let bytes: [UInt8]
        let status: Int
        do {
            let response = try await httpClient.execute(request, timeout: .init(timeout))
            status = Int(response.status.code)
            bytes = Array(buffer: try await response.body.collect(upTo: 16 * 1024 * 1024))
        } catch {
            reportFailure("unreachable")
            throw .upstream(.badGateway, "Replicate could not be reached.", code: "upstream_unreachable")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
        guard status < 400 else {
            if status >= 500 || status == 429 { reportFailure("HTTP \(status)") }
            throw Self.error(status: status, problem: object)
        }
        return object
    }

    /// RFC 7807 problem details → the OpenAI envelope.
    static func error(status: Int, problem: [String: Any]) -> OpenAIError {
        let detail = problem["detail"] as? String ?? problem["title"] as? String ?? "HTTP \(status)"
        switch status {
        case 401, 403: return .upstream(.badGateway, "Replicate refused the gateway's token: \(detail)", code: "upstream_auth", retry: false)
        case 404: return OpenAIError(.notFound, message: "Replicate: \(detail)", type: "invalid_request_error", code: "model_not_found")
        case 422, 400: return .invalidRequest("Replicate refused the input: \(detail)", code: "invalid_input")
        case 429: return OpenAIError(.tooManyRequests, message: "Replicate is throttling: \(detail)", type: "rate_limit_error", code: "rate_limit_exceeded", headers: [.retryAfter: "1"])
        default: return .upstream(.badGateway, "Replicate failed: \(detail)")
        }
    }

    // MARK: Streaming

    /// Reads the prediction's SSE stream and yields chat chunks as each `output` event arrives.
    /// The sequence's consumer going away cancels the reading task, and with it the request.
    private func streamChunks(streamURL: String, prediction: [String: Any], format: ChunkFormat) -> AsyncThrowingStream<ByteBuffer, any Error> {
        let httpClient = self.httpClient
        let idle = timeouts.idleTimeout
        let getURL = (prediction["urls"] as? [String: Any])?["get"] as? String
        return AsyncThrowingStream { continuation in
            let task = Task {
                var request = HTTPClientRequest(url: streamURL)
                request.headers.add(name: "Accept", value: "text/event-stream")
                request.headers.add(name: "Cache-Control", value: "no-store")
                do {
                    let response = try await httpClient.execute(request, timeout: .init(idle))
                    var parser = ReplicateEventParser()
                    var first = true
                    var ended = false
                    for try await buffer in response.body {
                        for event in parser.feed(Array(buffer: buffer)) {
                            switch event.type {
                            case "output":
                                var delta: [String: Any] = ["content": event.data]
                                if first { delta["role"] = "assistant" }
                                first = false
                                continuation.yield(ByteBuffer(bytes: format.chunk(delta: delta, finish: nil)))
                            case "error":
                                let error = OpenAIError.upstream(.badGateway, "Replicate: \(event.data)", code: "upstream_failed")
                                continuation.yield(ByteBuffer(bytes: Array("data: ".utf8) + error.body + Array("\n\n".utf8)))
                                ended = true
                            case "done":
                                if !ended {
                                    var ending = format.chunk(delta: first ? ["role": "assistant", "content": ""] : [:], finish: "stop")
                                    ending += format.usageChunk(await self.finalUsage(getURL))
                                    ending += Array("data: [DONE]\n\n".utf8)
                                    continuation.yield(ByteBuffer(bytes: ending))
                                }
                                ended = true
                            default:
                                continue
                            }
                        }
                        if ended { break }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Token counts from the finished prediction's metrics (read once the stream is done).
    private func finalUsage(_ getURL: String?) async -> Usage? {
        guard let getURL, sameOrigin(getURL) else { return nil }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard let prediction = try? await json(authorized(getURL), timeout: .seconds(5)) else { return nil }
            if prediction["status"] as? String == "succeeded" { return Self.usage(prediction) }
            if ["failed", "canceled"].contains(prediction["status"] as? String ?? "") { return nil }
            try? await Task.sleep(for: pollInterval)
        }
        return nil
    }

    // MARK: Translation

    static func input(from request: [String: Any], mapping: EndpointConfiguration.ReplicateModel) -> [String: Any] {
        var input = [String: Any]()
        if let messages = request["messages"] as? [[String: Any]] {
            let system = messages.filter { ($0["role"] as? String).map { $0 == "system" || $0 == "developer" } ?? false }
                .map { ChatRequestTranslator.stringify($0["content"]) }
            let turns = messages.filter { !["system", "developer"].contains($0["role"] as? String ?? "") }
            if !system.isEmpty { input["system_prompt"] = system.joined(separator: "\n") }
            if turns.count == 1 {
                input["prompt"] = ChatRequestTranslator.stringify(turns[0]["content"])
            } else {
                input["prompt"] = turns.map { turn in
                    let role = (turn["role"] as? String ?? "user") == "assistant" ? "Assistant" : "User"
                    return "\(role): \(ChatRequestTranslator.stringify(turn["content"]))"
                }.joined(separator: "\n") + "\nAssistant:"
            }
        } else if let prompt = request["prompt"] {
            input["prompt"] = (prompt as? [String])?.joined(separator: "\n") ?? ChatRequestTranslator.stringify(prompt)
        }
        if let limit = (request["max_completion_tokens"] ?? request["max_tokens"]) as? NSNumber {
            input[mapping.maxTokensField] = min(limit.intValue, mapping.maxTokensLimit ?? Int.max)
        }
        for key in ["temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"] where request[key] != nil { input[key] = request[key] }
        if let range = mapping.temperatureRange, let temperature = (request["temperature"] as? NSNumber)?.doubleValue {
            input["temperature"] = min(max(temperature, range.lowerBound), range.upperBound)
        }
        if let stop = request["stop"] {
            input["stop_sequences"] = (stop as? [String])?.joined(separator: ",") ?? stop
        }
        if let template = mapping.promptTemplate { input["prompt_template"] = template }
        return input
    }

    static func outputText(_ prediction: [String: Any]) -> String {
        if let pieces = prediction["output"] as? [String] { return pieces.joined() }
        return prediction["output"] as? String ?? ""
    }

    static func usage(_ prediction: [String: Any]) -> Usage? {
        let metrics = prediction["metrics"] as? [String: Any]
        guard let input = (metrics?["input_token_count"] as? NSNumber)?.intValue else { return nil }
        return Usage(promptTokens: input, completionTokens: (metrics?["output_token_count"] as? NSNumber)?.intValue ?? 0)
    }

    static func describe(_ value: Any?) -> String { (value as? String) ?? (value.map { "\($0)" } ?? "unknown error") }
}

/// Builds OpenAI chat (or legacy completion) objects for a Replicate answer.
struct ChunkFormat: Sendable {
    let id: String
    let created: Int
    let model: String
    let chat: Bool

    func chunk(delta: [String: Any], finish: String?) -> [UInt8] {
        let choice: [String: Any] = chat
            ? ["index": 0, "delta": delta, "logprobs": NSNull(), "finish_reason": finish ?? NSNull()]
            : ["index": 0, "text": delta["content"] ?? "", "logprobs": NSNull(), "finish_reason": finish ?? NSNull()]
        return event(["id": id, "object": chat ? "chat.completion.chunk" : "text_completion", "created": created, "model": model, "choices": [choice], "usage": NSNull()])
    }

    func usageChunk(_ usage: Usage?) -> [UInt8] {
        guard let usage else { return [] }
        return event(["id": id, "object": chat ? "chat.completion.chunk" : "text_completion", "created": created, "model": model, "choices": [] as [Any], "usage": Self.usageObject(usage)])
    }

    func completion(text: String, usage: Usage?) -> [UInt8] {
        let choice: [String: Any] = chat
            ? ["index": 0, "message": ["role": "assistant", "content": text, "refusal": NSNull()], "logprobs": NSNull(), "finish_reason": "stop"]
            : ["index": 0, "text": text, "logprobs": NSNull(), "finish_reason": "stop"]
        var object: [String: Any] = ["id": id, "object": chat ? "chat.completion" : "text_completion", "created": created, "model": model, "choices": [choice]]
        if let usage { object["usage"] = Self.usageObject(usage) }
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data())
    }

    static func usageObject(_ usage: Usage) -> [String: Any] {
        ["prompt_tokens": usage.promptTokens, "completion_tokens": usage.completionTokens, "total_tokens": usage.totalTokens]
    }

    private func event(_ object: [String: Any]) -> [UInt8] {
        Array("data: ".utf8) + Array((try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data()) + Array("\n\n".utf8)
    }
}

/// Replicate's SSE: `event:` names the type, `data:` lines join with newlines (multi-line
/// output text), a blank line ends the event.
struct ReplicateEventParser: Sendable {
    struct Event: Sendable, Equatable {
        let type: String
        let data: String
    }

    private var pending: [UInt8] = []
    private var type = "message"
    private var data: [String] = []

    mutating func feed(_ bytes: [UInt8]) -> [Event] {
        pending += bytes
        var events = [Event]()
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty {
                if !data.isEmpty || type != "message" { events.append(Event(type: type, data: data.joined(separator: "\n"))) }
                type = "message"
                data = []
            } else if line.hasPrefix("event:") {
                type = line.dropFirst(6).trimmingCharacters(in: .whitespaces)
            } else if line.hasPrefix("data:") {
                var value = line.dropFirst(5)
                if value.first == " " { value = value.dropFirst() }
                data.append(String(value))
            }
        }
        return events
    }
}
