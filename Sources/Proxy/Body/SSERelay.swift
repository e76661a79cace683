import ZGBroker

/// Splits an upstream SSE byte stream into whole events and decides, per event, what the
/// client gets.
///
/// When the gateway injected `stream_options.include_usage` (the client did not ask), the
/// extra usage chunk (`"choices":[]` with a usage object) is dropped and the `"usage":null`
/// member the upstream then adds to every chunk is removed, so the client sees the stream it
/// asked for. Everything else passes through byte for byte, one event at a time.
///
/// Each event is searched once for `"usage"` (with `memchr`); only events that mention it are
/// looked at further, so an ordinary content chunk costs one scan.
public struct SSERelay: Sendable {
    public let stripUsage: Bool
    private var pending: [UInt8] = []
    /// Set once `data: [DONE]` went out: anything an upstream sends after it (OCF heads append a
    /// comment) is dropped, so the client's stream ends exactly as OpenAI's does.
    private var done = false

    public init(stripUsage: Bool) {
        self.stripUsage = stripUsage
    }

    /// Feeds upstream bytes; returns the bytes to send to the client now (whole events only).
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [UInt8] {
        guard !done else { return [] }
        pending.append(contentsOf: bytes)
        guard let lastBoundary = Self.lastEventBoundary(in: pending) else { return [] }
        let complete: [UInt8]
        if lastBoundary == pending.count {
            complete = pending
            pending.removeAll(keepingCapacity: true)
        } else {
            complete = Array(pending[..<lastBoundary])
            pending.removeSubrange(..<lastBoundary)
        }
        return cutAfterDone(stripUsage ? Self.filter(complete) : complete)
    }

    /// Whatever is left when the upstream ends (an unterminated last event).
    public mutating func flush() -> [UInt8] {
        defer { pending.removeAll() }
        guard !done else { return [] }
        return cutAfterDone(stripUsage ? Self.filter(pending) : pending)
    }

    private static let doneEvent = Array("data: [DONE]\n\n".utf8)
    private static let doneMarker = Array("[DONE]".utf8)

    private mutating func cutAfterDone(_ bytes: [UInt8]) -> [UInt8] {
        // The cheap check first: most chunks do not end the stream.
        guard ByteSearch.firstIndex(of: Self.doneMarker, in: bytes) != nil,
              let start = ByteSearch.firstIndex(of: Self.doneEvent, in: bytes) else { return bytes }
        done = true
        return Array(bytes[..<(start + Self.doneEvent.count)])
    }

    /// The index just past the last blank line (`\n\n` or `\r\n\r\n`).
    static func lastEventBoundary(in bytes: [UInt8]) -> Int? {
        var index = bytes.count - 1
        while index >= 1 {
            if bytes[index] == UInt8(ascii: "\n") {
                if bytes[index - 1] == UInt8(ascii: "\n") { return index + 1 }
                if index >= 3, bytes[index - 1] == UInt8(ascii: "\r"), bytes[index - 2] == UInt8(ascii: "\n") { return index + 1 }
            }
            index -= 1
        }
        return nil
    }

    private static let usageKey = Array(#""usage""#.utf8)
    private static let usageNullPatterns: [[UInt8]] = [Array(#","usage":null"#.utf8), Array(#""usage":null,"#.utf8), Array(#", "usage": null"#.utf8)]
    private static let emptyChoices: [[UInt8]] = [Array(#""choices":[]"#.utf8), Array(#""choices": []"#.utf8)]
    private static let usageObjects: [[UInt8]] = [Array(#""usage":{"#.utf8), Array(#""usage": {"#.utf8)]
    private static let blankLine: [UInt8] = Array("\n\n".utf8)

    /// Drops usage-only events and `usage: null` members from whole events.
    static func filter(_ bytes: [UInt8]) -> [UInt8] {
        // Nothing to change: the common case for every chunk but the last ones.
        guard ByteSearch.firstIndex(of: usageKey, in: bytes) != nil else { return bytes }
        var output = [UInt8]()
        output.reserveCapacity(bytes.count)
        var eventStart = 0
        while eventStart < bytes.count {
            let end = ByteSearch.firstIndex(of: blankLine, in: bytes[eventStart...]).map { $0 + 2 } ?? bytes.count
            appendFiltered(bytes[eventStart..<end], to: &output)
            eventStart = end
        }
        return output
    }

    private static func appendFiltered(_ event: ArraySlice<UInt8>, to output: inout [UInt8]) {
        guard ByteSearch.contains(usageKey, in: event) else {
            output.append(contentsOf: event)
            return
        }
        let isUsageOnly = emptyChoices.contains { ByteSearch.contains($0, in: event) } && usageObjects.contains { ByteSearch.contains($0, in: event) }
        if isUsageOnly { return }
        var text = Array(event)
        for pattern in usageNullPatterns {
            while let start = ByteSearch.firstIndex(of: pattern, in: text) { text.removeSubrange(start..<(start + pattern.count)) }
        }
        output.append(contentsOf: text)
    }
}
