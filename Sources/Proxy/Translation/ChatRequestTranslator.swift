import Foundation

/// Turns the request shapes that are not Chat Completions into a Chat Completions body:
/// the Responses API (`input`, `instructions`, flat function tools, `max_output_tokens`,
/// `text.format`), and the hybrid Cursor's agent mode sends to `/chat/completions`
/// (Responses-style `input`, flat `{name, description, input_schema}` tools, Anthropic
/// `tool_use` / `tool_result` blocks).
///
/// Unknown fields that Chat Completions also has (`temperature`, `top_p`, `user`, `seed`,
/// `metadata`, `parallel_tool_calls`, …) are carried over unchanged.
enum ChatRequestTranslator {
    /// Fields that mean the same in both APIs.
    static let sharedFields = [
        "model", "temperature", "top_p", "user", "seed", "metadata", "parallel_tool_calls", "stream", "store",
        "frequency_penalty", "presence_penalty", "stop", "n", "logit_bias", "service_tier", "safety_identifier",
        "prompt_cache_key", "reasoning_effort", "response_format", "stream_options", "max_tokens", "max_completion_tokens",
    ]

    /// Builds a chat body from a Responses-style (or hybrid) request.
    static func chatBody(from request: [String: Any]) throws(OpenAIError) -> [String: Any] {
        var chat = [String: Any]()
        for key in sharedFields where request[key] != nil { chat[key] = request[key] }
        if request["previous_response_id"] != nil {
            throw OpenAIError.invalidRequest("previous_response_id is not supported: send the whole conversation in `input`.", param: "previous_response_id", code: "unsupported_parameter")
        }
        var messages = [[String: Any]]()
        if let instructions = request["instructions"] as? String, !instructions.isEmpty {
            messages.append(["role": "system", "content": instructions])
        }
        if let existing = request["messages"] as? [[String: Any]] {
            for message in existing { messages.append(contentsOf: try convertMessage(message)) }
        }
        switch request["input"] {
        case let text as String:
            messages.append(["role": "user", "content": text])
        case let items as [[String: Any]]:
            messages.append(contentsOf: try convertItems(items))
        case nil:
            break
        default:
            throw OpenAIError.invalidRequest("`input` must be a string or an array of input items.", param: "input", code: "invalid_input")
        }
        guard !messages.isEmpty else {
            throw OpenAIError.invalidRequest("Missing required parameter: 'input'.", param: "input", code: "missing_required_parameter")
        }
        chat["messages"] = messages
        if let tools = request["tools"] as? [[String: Any]] {
            var converted = [[String: Any]]()
            for tool in tools { if let chatTool = try convertTool(tool) { converted.append(chatTool) } }
            if !converted.isEmpty { chat["tools"] = converted }
        }
        if let choice = request["tool_choice"] { chat["tool_choice"] = convertToolChoice(choice) }
        if let limit = request["max_output_tokens"] { chat["max_tokens"] = limit }
        if let text = request["text"] as? [String: Any], let format = text["format"] as? [String: Any] {
            switch format["type"] as? String {
            case "json_schema":
                var schema: [String: Any] = ["name": format["name"] ?? "response", "schema": format["schema"] ?? [:]]
                if let strict = format["strict"] { schema["strict"] = strict }
                chat["response_format"] = ["type": "json_schema", "json_schema": schema]
            case "json_object": chat["response_format"] = ["type": "json_object"]
            default: break
            }
        }
        return chat
    }

    /// Responses input items → chat messages. Consecutive function calls become one assistant
    /// message with several tool calls, as Chat Completions expects.
    static func convertItems(_ items: [[String: Any]]) throws(OpenAIError) -> [[String: Any]] {
        var messages = [[String: Any]]()
        for item in items {
            switch item["type"] as? String {
            case "function_call":
                let call: [String: Any] = [
                    "id": item["call_id"] ?? item["id"] ?? "call_\(UUID().uuidString.prefix(8))", "type": "function",
                    "function": ["name": item["name"] ?? "", "arguments": item["arguments"] ?? "{}"],
                ]
                if var last = messages.last, last["role"] as? String == "assistant", var calls = last["tool_calls"] as? [[String: Any]] {
                    calls.append(call)
                    last["tool_calls"] = calls
                    messages[messages.count - 1] = last
                } else {
                    messages.append(["role": "assistant", "content": NSNull(), "tool_calls": [call]])
                }
            case "function_call_output":
                messages.append(["role": "tool", "tool_call_id": item["call_id"] ?? "", "content": stringify(item["output"])])
            case "reasoning":
                continue
            case "message", nil:
                messages.append(contentsOf: try convertMessage(item))
            case let other?:
                throw OpenAIError.invalidRequest("Input items of type `\(other)` are not supported.", param: "input", code: "unsupported_input")
            }
        }
        return messages
    }

    /// One message in Responses, Chat or Anthropic form → chat messages.
    static func convertMessage(_ message: [String: Any]) throws(OpenAIError) -> [[String: Any]] {
        var role = message["role"] as? String ?? "user"
        if role == "developer" { role = "system" }
        guard let parts = message["content"] as? [[String: Any]] else {
            var copy = message
            copy["role"] = role
            copy["type"] = nil
            return [copy]
        }
        var text = [String]()
        var images = [[String: Any]]()
        var toolCalls = [[String: Any]]()
        var toolResults = [[String: Any]]()
        for part in parts {
            switch part["type"] as? String {
            case "input_text", "output_text", "text":
                text.append(part["text"] as? String ?? "")
            case "input_image":
                if let url = part["image_url"] as? String { images.append(["type": "image_url", "image_url": ["url": url]]) }
            case "image_url":
                images.append(part)
            case "tool_use":
                let input = part["input"] ?? [:]
                let arguments = (try? JSONSerialization.data(withJSONObject: input)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                toolCalls.append(["id": part["id"] ?? "", "type": "function", "function": ["name": part["name"] ?? "", "arguments": arguments]])
            case "tool_result":
                toolResults.append(["role": "tool", "tool_call_id": part["tool_use_id"] ?? "", "content": stringify(part["content"])])
            default:
                continue
            }
        }
        var converted = [[String: Any]]()
        converted.append(contentsOf: toolResults)
        if !text.isEmpty || !images.isEmpty || !toolCalls.isEmpty {
            var out: [String: Any] = ["role": role]
            if images.isEmpty {
                out["content"] = text.isEmpty ? NSNull() : text.joined(separator: "\n") as Any
            } else {
                out["content"] = text.map { ["type": "text", "text": $0] } + images
            }
            if !toolCalls.isEmpty { out["tool_calls"] = toolCalls }
            converted.append(out)
        }
        return converted
    }

    /// Flat (`{type:"function", name, parameters}`), Cursor (`{name, input_schema}`) and chat tools → chat tools.
    static func convertTool(_ tool: [String: Any]) throws(OpenAIError) -> [String: Any]? {
        if tool["function"] != nil { return tool }
        let type = tool["type"] as? String ?? "function"
        guard type == "function" || type == "custom" || tool["input_schema"] != nil else { return nil }  // built-in tools (web search…) are not available
        guard let name = tool["name"] as? String else {
            throw OpenAIError.invalidRequest("Every function tool needs a name.", param: "tools", code: "invalid_tool")
        }
        var function: [String: Any] = ["name": name, "parameters": tool["parameters"] ?? tool["input_schema"] ?? ["type": "object", "properties": [:]]]
        if let description = tool["description"] { function["description"] = description }
        if let strict = tool["strict"] as? Bool { function["strict"] = strict }
        return ["type": "function", "function": function]
    }

    static func convertToolChoice(_ choice: Any) -> Any {
        guard let object = choice as? [String: Any] else { return choice }
        if object["function"] != nil { return object }
        if let name = object["name"] as? String { return ["type": "function", "function": ["name": name]] }
        return object
    }

    static func stringify(_ value: Any?) -> String {
        switch value {
        case let text as String: return text
        case let parts as [[String: Any]]: return parts.compactMap { $0["text"] as? String }.joined(separator: "\n")
        case nil: return ""
        case let other?:
            return (try? JSONSerialization.data(withJSONObject: other, options: [.fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
    }
}
