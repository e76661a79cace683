import Foundation

/// Turns a Chat Completions SSE stream into the Responses API's typed event stream
/// (`response.created`, `response.output_item.added`, `response.output_text.delta`, …,
/// `response.completed`), event by event as chunks arrive.
struct ResponsesStreamTranslator: StreamTransform {
    private let builder: ResponseObjectBuilder
    private var pending: [UInt8] = []
    private var sequence = 0
    private var started = false
    private var finished = false
    /// The text message item, once text arrived.
    private var message: (id: String, index: Int, text: String)?
    /// Function calls by their chat `index`.
    private var calls: [Int: (id: String, callID: String, name: String, arguments: String, index: Int)] = [:]
    private var outputCount = 0
    /// The final usage, as JSON text (keeps the translator Sendable).
    private var usageJSON: Data?
    private var finishReason: String?

    init(builder: ResponseObjectBuilder) {
        self.builder = builder
    }

    mutating func feed(_ bytes: some Collection<UInt8>) -> [UInt8] {
        pending.append(contentsOf: bytes)
        var out = [UInt8]()
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[..<newline]
            pending.removeSubrange(...newline)
            guard line.starts(with: Array("data:".utf8)) else { continue }
            var payload = line.dropFirst(5)
            if payload.first == UInt8(ascii: " ") { payload = payload.dropFirst() }
            if payload.last == UInt8(ascii: "\r") { payload = payload.dropLast() }
            if payload.elementsEqual("[DONE]".utf8) {
                out += complete()
                continue
            }
            guard let chunk = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else { continue }
            out += handle(chunk)
        }
        return out
    }

    mutating func flush() -> [UInt8] { finished ? [] : complete() }

    var sawEnd: Bool { finished }

    func failureEvent(_ error: OpenAIError) -> [UInt8] {
        var copy = self
        return copy.event("error", ["code": error.code ?? "server_error", "message": error.message, "param": NSNull()])
    }

    private mutating func handle(_ chunk: [String: Any]) -> [UInt8] {
        var out = startIfNeeded()
        if let found = ResponseObjectBuilder.usage(chunk["usage"]) { usageJSON = try? JSONSerialization.data(withJSONObject: found) }
        for choice in chunk["choices"] as? [[String: Any]] ?? [] {
            if let reason = choice["finish_reason"] as? String { finishReason = reason }
            let delta = choice["delta"] as? [String: Any] ?? [:]
            if let text = delta["content"] as? String, !text.isEmpty {
                if message == nil {
                    let id = ResponseObjectBuilder.newID("msg")
                    message = (id, outputCount, "")
                    outputCount += 1
                    out += event("response.output_item.added", [
                        "output_index": message!.index,
                        "item": ["type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": [] as [Any]],
                    ])
                    out += event("response.content_part.added", [
                        "item_id": id, "output_index": message!.index, "content_index": 0,
                        "part": ["type": "output_text", "text": "", "annotations": [] as [Any]],
                    ])
                }
                message!.text += text
                out += event("response.output_text.delta", ["item_id": message!.id, "output_index": message!.index, "content_index": 0, "delta": text])
            }
            for call in delta["tool_calls"] as? [[String: Any]] ?? [] {
                let key = (call["index"] as? NSNumber)?.intValue ?? 0
                let function = call["function"] as? [String: Any] ?? [:]
                if calls[key] == nil {
                    let id = ResponseObjectBuilder.newID("fc")
                    calls[key] = (id, call["id"] as? String ?? ResponseObjectBuilder.newID("call"), function["name"] as? String ?? "", "", outputCount)
                    outputCount += 1
                    let entry = calls[key]!
                    out += event("response.output_item.added", [
                        "output_index": entry.index,
                        "item": ResponseObjectBuilder.functionCallItem(id: id, callID: entry.callID, name: entry.name, arguments: "", status: "in_progress"),
                    ])
                }
                if let fragment = function["arguments"] as? String, !fragment.isEmpty {
                    calls[key]!.arguments += fragment
                    out += event("response.function_call_arguments.delta", ["item_id": calls[key]!.id, "output_index": calls[key]!.index, "delta": fragment])
                }
            }
        }
        return out
    }

    private mutating func startIfNeeded() -> [UInt8] {
        guard !started else { return [] }
        started = true
        let initial = builder.response(status: "in_progress", output: [], usage: nil)
        return event("response.created", ["response": initial]) + event("response.in_progress", ["response": initial])
    }

    private mutating func complete() -> [UInt8] {
        guard !finished else { return [] }
        var out = startIfNeeded()
        finished = true
        var items = [(Int, [String: Any])]()
        if let message {
            let part: [String: Any] = ["type": "output_text", "text": message.text, "annotations": [] as [Any]]
            out += event("response.output_text.done", ["item_id": message.id, "output_index": message.index, "content_index": 0, "text": message.text])
            out += event("response.content_part.done", ["item_id": message.id, "output_index": message.index, "content_index": 0, "part": part])
            let item = ResponseObjectBuilder.messageItem(id: message.id, text: message.text, status: "completed")
            out += event("response.output_item.done", ["output_index": message.index, "item": item])
            items.append((message.index, item))
        }
        for (_, call) in calls.sorted(by: { $0.value.index < $1.value.index }) {
            out += event("response.function_call_arguments.done", ["item_id": call.id, "output_index": call.index, "arguments": call.arguments])
            let item = ResponseObjectBuilder.functionCallItem(id: call.id, callID: call.callID, name: call.name, arguments: call.arguments, status: "completed")
            out += event("response.output_item.done", ["output_index": call.index, "item": item])
            items.append((call.index, item))
        }
        let truncated = finishReason == "length"
        let final = builder.response(
            status: truncated ? "incomplete" : "completed", output: items.sorted { $0.0 < $1.0 }.map(\.1),
            usage: usageJSON.flatMap { (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any] },
            incompleteReason: truncated ? "max_output_tokens" : nil
        )
        out += event(truncated ? "response.incomplete" : "response.completed", ["response": final])
        return out
    }

    private mutating func event(_ type: String, _ fields: [String: Any]) -> [UInt8] {
        var object = fields
        object["type"] = type
        object["sequence_number"] = sequence
        sequence += 1
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array("event: \(type)\ndata: ".utf8) + Array(data) + Array("\n\n".utf8)
    }
}
