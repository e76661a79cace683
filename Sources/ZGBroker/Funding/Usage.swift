import Foundation

/// Token counts of one response, from the OpenAI `usage` object.
///
/// Absent and zero are kept apart: `nil` fields were not reported, which matters when deciding
/// whether a stream's usage is known at all.
public struct Usage: Sendable, Hashable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// `prompt_tokens_details.cached_tokens`, billed at the cache rate.
    public var cachedTokens: Int
    /// `completion_tokens_details.reasoning_tokens` (already part of completionTokens).
    public var reasoningTokens: Int

    public init(promptTokens: Int, completionTokens: Int, cachedTokens: Int = 0, reasoningTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.reasoningTokens = reasoningTokens
    }

    public var totalTokens: Int { promptTokens + completionTokens }

    /// Reads an OpenAI `usage` JSON object (chat completions, completions, embeddings, and the
    /// Responses API's `input_tokens`/`output_tokens`). nil when there are no counts.
    public init?(json: Any?) {
        guard let object = json as? [String: Any] else { return nil }
        func int(_ value: Any?) -> Int? {
            if let number = value as? NSNumber { return number.intValue }
            return nil
        }
        guard let prompt = int(object["prompt_tokens"]) ?? int(object["input_tokens"]) else { return nil }
        let completion = int(object["completion_tokens"]) ?? int(object["output_tokens"]) ?? 0
        let promptDetails = (object["prompt_tokens_details"] ?? object["input_tokens_details"]) as? [String: Any]
        let completionDetails = (object["completion_tokens_details"] ?? object["output_tokens_details"]) as? [String: Any]
        self.init(
            promptTokens: max(0, prompt), completionTokens: max(0, completion),
            cachedTokens: max(0, min(int(promptDetails?["cached_tokens"]) ?? 0, prompt)),
            reasoningTokens: max(0, int(completionDetails?["reasoning_tokens"]) ?? 0)
        )
    }

    /// Reads the usage counts from raw JSON bytes (a `usage` object, or a whole answer) without
    /// building a dictionary: the counts are whole numbers after fixed quoted keys, which cannot
    /// occur inside a JSON string (its quotes are escaped), so a byte scan finds them. The
    /// gateway does this for every answer. nil without a prompt (or input) count, as ``init(json:)``.
    public init?(jsonBytes whole: ArraySlice<UInt8>) {
        // The counts sit in the `usage` object, usually at the end: search from there.
        let bytes = ByteSearch.firstIndex(of: Self.usageKey, in: whole).map { whole[$0...] } ?? whole
        func number(after key: [UInt8]) -> Int? {
            guard let start = ByteSearch.firstIndex(of: key, in: bytes) else { return nil }
            var index = start + key.count
            while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: ":") { index += 1 }
            var value = 0
            var digits = 0
            while index < bytes.endIndex, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9"), digits < 15 {
                value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                index += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        guard let prompt = number(after: Self.promptKey) ?? number(after: Self.inputKey) else { return nil }
        let completion = number(after: Self.completionKey) ?? number(after: Self.outputKey) ?? 0
        self.init(
            promptTokens: prompt, completionTokens: completion, cachedTokens: min(number(after: Self.cachedKey) ?? 0, prompt),
            reasoningTokens: number(after: Self.reasoningKey) ?? 0
        )
    }

    private static let usageKey = Array(#""usage""#.utf8)
    private static let promptKey = Array(#""prompt_tokens""#.utf8)
    private static let inputKey = Array(#""input_tokens""#.utf8)
    private static let completionKey = Array(#""completion_tokens""#.utf8)
    private static let outputKey = Array(#""output_tokens""#.utf8)
    private static let cachedKey = Array(#""cached_tokens""#.utf8)
    private static let reasoningKey = Array(#""reasoning_tokens""#.utf8)
}
