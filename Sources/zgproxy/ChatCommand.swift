import ArgumentParser
import EVM
import Foundation
import ZGBroker

/// `zgproxy chat`: one chat completion straight through ``ZGBroker/send(path:body:headTimeout:onChunk:)``
/// (no gateway needed), for trying a model or a provider from a shell or a script.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Send one chat message to a 0G provider and print the answer.",
        discussion: """
            The prompt is the arguments, or stdin when there are none (`echo hi | zgproxy chat`). The answer streams \
            to stdout as it arrives (--no-stream waits for the whole answer); the provider, token counts, fee and \
            verification go to stderr when it is a terminal. --model takes a model id or a provider address and \
            defaults to the first usable model on chain. This wallet needs a funded sub-account with the provider \
            (zgproxy ledger transfer). Every response's signature is checked unless ZG_VERIFY says otherwise.

            JSON (--json), printed once the answer is complete:
              {"content": <string>, "model", "provider", "chatId": null | <string>,
               "stream": <bool>,
               "usage": null | {"promptTokens", "completionTokens", "totalTokens",
                                "cachedTokens"},
               "fee": null | {"neuron": "<integer>", "zeroG": "<decimal>"},
               "verification": {"status": "verified" | "failed" | "unverifiable" |
                                          "skipped",
                                "reason": null | <string>, "signer": null | "0x…"}}
            """
    )

    @Option(help: ArgumentHelp("A model id or a provider address (default: the first usable model).", valueName: "model"))
    var model: String?
    @Flag(inversion: .prefixedNo, help: "Stream the answer as it is generated.")
    var stream = true
    @Option(help: ArgumentHelp("Most tokens to generate.", valueName: "n"))
    var maxTokens: Int?
    @Option(help: ArgumentHelp("A system message to send first.", valueName: "text"))
    var system: String?
    @Argument(help: ArgumentHelp("The message (default: read from stdin).", valueName: "prompt"))
    var prompt: [String] = []
    @OptionGroup var global: GlobalOptions
    @OptionGroup var unit: UnitOptions

    func validate() throws {
        if let maxTokens, maxTokens <= 0 { throw ValidationError("--max-tokens must be positive") }
    }

    func run() async throws {
        let text = try readPrompt()
        let context = try CLIContext.load(global)
        let output = Output(json: global.json, neuron: unit.neuron)
        try await context.withBroker { broker in
            let model = try await resolvedModel(broker)
            var messages = [[String: Any]]()
            if let system { messages.append(["role": "system", "content": system]) }
            messages.append(["role": "user", "content": text])
            var body: [String: Any] = ["model": model, "messages": messages, "stream": stream]
            if let maxTokens { body["max_tokens"] = maxTokens }

            let printer = DeltaPrinter(echo: !output.json)
            let result = try await broker.send(body: body) { bytes in
                await printer.feed(bytes)
            }
            let content: String
            if stream {
                content = await printer.finish()
            } else {
                content = Self.messageContent(result.body)
                if !output.json { Output.stdout(content) }
            }
            if !output.json, !content.hasSuffix("\n") { Output.stdout("\n") }
            output.document(Self.json(result, content: content, stream: stream))
            if !output.json, Terminal.stderrIsTerminal { Output.stderr(summary(result, output: output) + "\n") }
        }
    }

    /// The arguments joined, or all of stdin.
    private func readPrompt() throws(CLIFailure) -> String {
        if !prompt.isEmpty { return prompt.joined(separator: " ") }
        if Terminal.stdinIsTerminal { Output.stderr("Type the message, then Ctrl-D:\n") }
        let data = FileHandle.standardInput.readDataToEndOfFile()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw .usage("no prompt: give it as an argument or on stdin") }
        return text
    }

    private func resolvedModel(_ broker: ZGBroker) async throws -> String {
        if let model { return model }
        let services = try await broker.catalog.current().services
        guard let first = services.first(where: { $0.isUsable && $0.serviceType == "chatbot" }) else {
            throw BrokerError.noUsableProvider(model: "(any)", reason: "no chatbot service on chain has an acknowledged TEE signer")
        }
        return first.model
    }

    static func messageContent(_ body: [UInt8]) -> String {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let choice = (object?["choices"] as? [[String: Any]])?.first
        return ((choice?["message"] as? [String: Any])?["content"] as? String) ?? ""
    }

    static func json(_ result: InferenceResult, content: String, stream: Bool) -> JSONValue {
        let usage: JSONValue = result.usage.map { usage in
            [
                "promptTokens": .int(usage.promptTokens), "completionTokens": .int(usage.completionTokens),
                "totalTokens": .int(usage.totalTokens), "cachedTokens": .int(usage.cachedTokens),
            ]
        } ?? .null
        return [
            "content": .string(content), "model": .string(result.service.model), "provider": .string(result.service.provider.checksummed),
            "chatId": .optional(result.chatID), "stream": .bool(stream), "usage": usage,
            "fee": result.fee.map(Output.amount) ?? .null,
            "verification": [
                "status": .string(result.verification.status.rawValue), "reason": .optional(result.verification.reason),
                "signer": .optional(result.verification.signer?.checksummed),
            ],
        ]
    }

    private func summary(_ result: InferenceResult, output: Output) -> String {
        var parts = ["\(result.service.model) by \(result.service.provider)"]
        if let usage = result.usage { parts.append("\(usage.promptTokens) + \(usage.completionTokens) tokens") }
        if let fee = result.fee { parts.append("fee \(output.amount(fee))") }
        var verification = result.verification.status.rawValue
        if let reason = result.verification.reason { verification += " (\(reason))" }
        parts.append(verification)
        return "[" + parts.joined(separator: " · ") + "]"
    }
}

/// Turns streamed SSE bytes into the answer's text: `data:` lines are parsed as chat chunks and
/// `choices[0].delta.content` is written to stdout at once (when echoing) and kept.
actor DeltaPrinter {
    private var parser = SSEDeltaParser()
    private var content = ""
    private let echo: Bool

    init(echo: Bool) { self.echo = echo }

    func feed(_ bytes: [UInt8]) {
        emit(parser.feed(bytes))
    }

    /// Flushes a last line without a newline; returns the whole text.
    func finish() -> String {
        emit(parser.finish())
        return content
    }

    private func emit(_ pieces: [String]) {
        guard !pieces.isEmpty else { return }
        let text = pieces.joined()
        content += text
        if echo { Output.stdout(text) }
    }
}

/// Splits an SSE byte stream into lines (chunks may end mid-line) and extracts the text deltas.
struct SSEDeltaParser {
    private var buffer: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) -> [String] {
        buffer.append(contentsOf: bytes)
        var pieces = [String]()
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(buffer[..<newline])
            buffer.removeSubrange(...newline)
            if let piece = Self.delta(line) { pieces.append(piece) }
        }
        return pieces
    }

    mutating func finish() -> [String] {
        defer { buffer = [] }
        return Self.delta(buffer).map { [$0] } ?? []
    }

    static func delta(_ line: [UInt8]) -> String? {
        var text = String(decoding: line, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        guard text.hasPrefix("data:") else { return nil }
        let payload = text.dropFirst(5).trimmingCharacters(in: .whitespaces)
        guard payload != "[DONE]", let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any],
              let choice = (object["choices"] as? [[String: Any]])?.first,
              let content = (choice["delta"] as? [String: Any])?["content"] as? String, !content.isEmpty else {
            return nil
        }
        return content
    }
}
