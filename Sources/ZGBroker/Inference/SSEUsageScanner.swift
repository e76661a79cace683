import Foundation

/// Watches an OpenAI server-sent-event stream go by and remembers what billing needs: the
/// stream's `id` (the chat id when no `ZG-Res-Key` header came), the usage of the terminal
/// usage chunk, and whether `[DONE]` arrived.
///
/// Bytes are fed as they arrive, split anywhere. Only `data:` lines that mention `"usage"`
/// or carry the first `id` are parsed as JSON, so scanning costs little more than a byte search.
public struct SSEUsageScanner: Sendable {
    public private(set) var usage: Usage?
    public private(set) var streamID: String?
    public private(set) var sawDone = false
    /// The message of an `{"error":…}` event, if the upstream sent one.
    public private(set) var errorMessage: String?
    /// `data:` events seen (not counting `[DONE]`): about one generated token each.
    public private(set) var dataEvents = 0
    private var pending: [UInt8] = []
    /// The id is read from the first event only: a stream whose events carry none must not
    /// cost a JSON parse per event.
    private var lookedForID = false

    public init() {}

    public mutating func feed(_ bytes: some Collection<UInt8>) {
        pending.append(contentsOf: bytes)
        var lineStart = pending.startIndex
        while let newline = ByteSearch.firstIndex(of: Self.newline, in: pending[lineStart...]) {
            var lineEnd = newline
            if lineEnd > lineStart, pending[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            handleLine(pending[lineStart..<lineEnd])
            lineStart = newline + 1
        }
        pending.removeSubrange(pending.startIndex..<lineStart)
    }

    private static let newline: [UInt8] = [UInt8(ascii: "\n")]

    /// The reported usage, or for a stream that ended without one (cut short, or an upstream
    /// that does not report it) an estimate: a token per event, and the prompt at four bytes a
    /// token of the request body. nil when nothing was streamed.
    public func usageOrEstimate(requestBytes: Int) -> Usage? {
        if let usage { return usage }
        guard dataEvents > 0 else { return nil }
        return Usage(promptTokens: requestBytes / 4, completionTokens: dataEvents)
    }

    private static let dataPrefix = Array("data:".utf8)
    private static let usageKey = Array("\"usage\"".utf8)
    private static let errorKey = Array("\"error\"".utf8)
    private static let doneMarker = Array("[DONE]".utf8)

    private mutating func handleLine(_ line: ArraySlice<UInt8>) {
        guard line.starts(with: Self.dataPrefix) else { return }
        var payload = line.dropFirst(Self.dataPrefix.count)
        if payload.first == UInt8(ascii: " ") { payload = payload.dropFirst() }
        if payload.starts(with: Self.doneMarker) {
            sawDone = true
            return
        }
        dataEvents += 1
        let mentionsUsage = ByteSearch.contains(Self.usageKey, in: payload)
        let mentionsError = ByteSearch.contains(Self.errorKey, in: payload)
        let wantsID = !lookedForID
        lookedForID = true
        guard mentionsUsage || mentionsError || wantsID else { return }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else { return }
        if streamID == nil, let id = object["id"] as? String { streamID = id }
        if mentionsUsage, let found = Usage(json: object["usage"]) { usage = found }
        // The Responses API nests usage in its completed event.
        if mentionsUsage, let response = object["response"] as? [String: Any], let found = Usage(json: response["usage"]) { usage = found }
        if mentionsError, let error = object["error"] {
            errorMessage = (error as? [String: Any])?["message"] as? String ?? (error as? String) ?? "upstream error"
        }
    }
}
