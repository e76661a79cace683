import Foundation

/// Builds Responses API objects (`"object":"response"`) from Chat Completions results, for
/// `POST /v1/responses` (n8n's OpenAI node calls it by default).
struct ResponseObjectBuilder: Sendable {
    let id: String
    let createdAt: Int
    let model: String
    /// Request fields echoed back, as OpenAI does (kept as JSON text so the builder is Sendable).
    private let echoJSON: Data

    init(request: [String: Any], model: String) {
        id = "resp_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        createdAt = Int(Date().timeIntervalSince1970)
        self.model = model
        var echo = [String: Any]()
        echo["instructions"] = request["instructions"] ?? NSNull()
        echo["max_output_tokens"] = request["max_output_tokens"] ?? NSNull()
        echo["temperature"] = request["temperature"] ?? 1
        echo["top_p"] = request["top_p"] ?? 1
        echo["tools"] = request["tools"] ?? []
        echo["tool_choice"] = request["tool_choice"] ?? "auto"
        echo["parallel_tool_calls"] = request["parallel_tool_calls"] ?? true
        echo["text"] = request["text"] ?? ["format": ["type": "text"]]
        echo["metadata"] = request["metadata"] ?? [:]
        echo["store"] = false
        echo["previous_response_id"] = NSNull()
        echo["reasoning"] = ["effort": NSNull(), "summary": NSNull()]
        echo["truncation"] = "disabled"
        echo["user"] = request["user"] ?? NSNull()
        self.echoJSON = (try? JSONSerialization.data(withJSONObject: echo)) ?? Data("{}".utf8)
    }

    /// The response object in a given state with the given output items.
    func response(status: String, output: [[String: Any]], usage: [String: Any]?, incompleteReason: String? = nil) -> [String: Any] {
        var object = ((try? JSONSerialization.jsonObject(with: echoJSON)) as? [String: Any]) ?? [:]
        object["id"] = id
        object["object"] = "response"
        object["created_at"] = createdAt
        object["status"] = status
        object["model"] = model
        object["output"] = output
        object["error"] = NSNull()
        object["incomplete_details"] = incompleteReason.map { ["reason": $0] } ?? NSNull()
        object["usage"] = usage ?? NSNull()
        return object
    }

    /// Chat `usage` → Responses `usage`.
    static func usage(_ chat: Any?) -> [String: Any]? {
        guard let chat = chat as? [String: Any] else { return nil }
        let input = (chat["prompt_tokens"] as? NSNumber)?.intValue ?? 0
        let output = (chat["completion_tokens"] as? NSNumber)?.intValue ?? 0
        let cached = ((chat["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? NSNumber)?.intValue ?? 0
        let reasoning = ((chat["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? NSNumber)?.intValue ?? 0
        return [
            "input_tokens": input, "output_tokens": output, "total_tokens": input + output,
            "input_tokens_details": ["cached_tokens": cached], "output_tokens_details": ["reasoning_tokens": reasoning],
        ]
    }

    static func messageItem(id: String, text: String, status: String) -> [String: Any] {
        [
            "type": "message", "id": id, "status": status, "role": "assistant",
            "content": [["type": "output_text", "text": text, "annotations": [] as [Any]]],
        ]
    }

    static func functionCallItem(id: String, callID: String, name: String, arguments: String, status: String) -> [String: Any] {
        ["type": "function_call", "id": id, "call_id": callID, "name": name, "arguments": arguments, "status": status]
    }

    static func newID(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// A finished chat completion → a finished response object.
    func response(fromChatCompletion chat: [String: Any]) -> [String: Any] {
        let choice = (chat["choices"] as? [[String: Any]])?.first ?? [:]
        let message = choice["message"] as? [String: Any] ?? [:]
        var output = [[String: Any]]()
        if let text = message["content"] as? String, !text.isEmpty {
            output.append(Self.messageItem(id: Self.newID("msg"), text: text, status: "completed"))
        }
        for call in message["tool_calls"] as? [[String: Any]] ?? [] {
            let function = call["function"] as? [String: Any] ?? [:]
            output.append(Self.functionCallItem(
                id: Self.newID("fc"), callID: call["id"] as? String ?? Self.newID("call"), name: function["name"] as? String ?? "",
                arguments: function["arguments"] as? String ?? "", status: "completed"
            ))
        }
        let truncated = choice["finish_reason"] as? String == "length"
        return response(
            status: truncated ? "incomplete" : "completed", output: output, usage: Self.usage(chat["usage"]),
            incompleteReason: truncated ? "max_output_tokens" : nil
        )
    }
}
