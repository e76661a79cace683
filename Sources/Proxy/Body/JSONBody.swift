import Foundation

/// A request body treated as opaque JSON: the gateway reads only what routing and metering
/// need and forwards everything else byte for byte.
///
/// Edits (the provider's model id, `stream_options.include_usage`) splice bytes into the
/// original text at the exact spans of top-level values, so no field the gateway does not know
/// is lost, reordered or re-encoded.
public struct JSONBody: Sendable {
    public private(set) var bytes: [UInt8]
    /// Byte ranges of the top-level members' values, by key.
    private var spans: [String: Range<Int>]

    /// Indexes the top-level object. Throws when the body is not a JSON object.
    public init(_ bytes: [UInt8]) throws(JSONBodyError) {
        self.bytes = bytes
        self.spans = try Self.index(bytes)
    }

    /// The raw JSON text of a top-level member.
    public func raw(_ key: String) -> ArraySlice<UInt8>? { spans[key].map { bytes[$0] } }

    /// A top-level string member.
    public func string(_ key: String) -> String? {
        guard let raw = raw(key), raw.first == UInt8(ascii: "\"") else { return nil }
        return Self.decodeString(raw)
    }

    /// A JSON string literal's value: read directly when it has no escapes (the usual model
    /// ids and keys), by Foundation's parser otherwise.
    static func decodeString(_ literal: ArraySlice<UInt8>) -> String? {
        let inner = literal.dropFirst().dropLast()
        if literal.count >= 2, literal.last == UInt8(ascii: "\"") {
            var plain = true
            var ascii = true
            for byte in inner {
                if byte == UInt8(ascii: "\\") || byte < 0x20 { plain = false; break }
                if byte >= 0x80 { ascii = false }
            }
            // ASCII needs no validation (the generic validating initialiser showed in profiles).
            if plain { return ascii ? String(decoding: inner, as: UTF8.self) : String(validating: inner, as: UTF8.self) }
        }
        return (try? JSONSerialization.jsonObject(with: Data(literal), options: [.fragmentsAllowed])) as? String
    }

    /// A top-level boolean member.
    public func bool(_ key: String) -> Bool? {
        guard let raw = raw(key) else { return nil }
        if raw.elementsEqual("true".utf8) { return true }
        if raw.elementsEqual("false".utf8) { return false }
        return nil
    }

    /// A top-level member decoded as a JSON value (objects, arrays, numbers…).
    public func value(_ key: String) -> Any? {
        guard let raw = raw(key) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(raw), options: [.fragmentsAllowed])
    }

    public func contains(_ key: String) -> Bool { spans[key] != nil }

    /// Sets a top-level member to raw JSON text, replacing the old value in place or adding the
    /// member at the start of the object.
    public mutating func set(_ key: String, rawJSON: [UInt8]) {
        if let span = spans[key] {
            bytes.replaceSubrange(span, with: rawJSON)
        } else {
            let open = bytes.firstIndex(of: UInt8(ascii: "{"))!
            let hasMembers = !spans.isEmpty
            var member = Array(Self.encodeString(key).utf8) + [UInt8(ascii: ":")] + rawJSON
            if hasMembers { member.append(UInt8(ascii: ",")) }
            bytes.insert(contentsOf: member, at: open + 1)
        }
        spans = (try? Self.index(bytes)) ?? spans
    }

    public mutating func set(_ key: String, string: String) {
        set(key, rawJSON: Array(Self.encodeString(string).utf8))
    }

    static func encodeString(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

    // MARK: Scanning

    private static func index(_ bytes: [UInt8]) throws(JSONBodyError) -> [String: Range<Int>] {
        var scanner = Scanner(bytes: bytes)
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "{") else { throw JSONBodyError("the body must be a JSON object") }
        scanner.position += 1
        var spans = [String: Range<Int>](minimumCapacity: 8)
        scanner.skipWhitespace()
        if scanner.peek == UInt8(ascii: "}") {
            scanner.position += 1
        } else {
            while true {
                scanner.skipWhitespace()
                let keyStart = scanner.position
                try scanner.skipString()
                let keyBytes = bytes[keyStart..<scanner.position]
                guard let key = decodeString(keyBytes) else {
                    throw JSONBodyError("invalid member name")
                }
                scanner.skipWhitespace()
                guard scanner.peek == UInt8(ascii: ":") else { throw JSONBodyError("expected : after \"\(key)\"") }
                scanner.position += 1
                scanner.skipWhitespace()
                let valueStart = scanner.position
                try scanner.skipValue(depth: 0)
                spans[key] = valueStart..<scanner.position
                scanner.skipWhitespace()
                guard let next = scanner.peek else { throw JSONBodyError("unterminated object") }
                scanner.position += 1
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw JSONBodyError("expected , or } in the object") }
            }
        }
        scanner.skipWhitespace()
        guard scanner.position == bytes.count else { throw JSONBodyError("unexpected data after the JSON object") }
        return spans
    }

    /// Skips JSON values; validates structure enough to find value boundaries (strings,
    /// nesting, literals). Numbers and literals are checked by the upstream's own parser.
    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let byte = peek, byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09 { position += 1 }
        }

        mutating func skipString() throws(JSONBodyError) {
            guard peek == UInt8(ascii: "\"") else { throw JSONBodyError("expected a string") }
            position += 1
            while let byte = peek {
                position += 1
                if byte == UInt8(ascii: "\\") {
                    guard peek != nil else { break }
                    position += 1
                } else if byte == UInt8(ascii: "\"") {
                    return
                } else if byte < 0x20 {
                    throw JSONBodyError("control character in a string")
                }
            }
            throw JSONBodyError("unterminated string")
        }

        mutating func skipValue(depth: Int) throws(JSONBodyError) {
            guard depth < 256 else { throw JSONBodyError("nesting too deep") }
            guard let byte = peek else { throw JSONBodyError("missing value") }
            switch byte {
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                position += 1
                skipWhitespace()
                if peek == close {
                    position += 1
                    return
                }
                while true {
                    skipWhitespace()
                    if close == UInt8(ascii: "}") {
                        try skipString()
                        skipWhitespace()
                        guard peek == UInt8(ascii: ":") else { throw JSONBodyError("expected :") }
                        position += 1
                        skipWhitespace()
                    }
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    guard let next = peek else { throw JSONBodyError("unterminated \(close == UInt8(ascii: "}") ? "object" : "array")") }
                    position += 1
                    if next == close { return }
                    guard next == UInt8(ascii: ",") else { throw JSONBodyError("expected , in a container") }
                }
            default:
                let start = position
                while let next = peek, !(next == UInt8(ascii: ",") || next == UInt8(ascii: "}") || next == UInt8(ascii: "]")
                    || next == 0x20 || next == 0x0a || next == 0x0d || next == 0x09) {
                    position += 1
                }
                let literal = bytes[start..<position]
                guard !literal.isEmpty else { throw JSONBodyError("missing value") }
                let first = literal.first!
                let valid = literal.elementsEqual("true".utf8) || literal.elementsEqual("false".utf8) || literal.elementsEqual("null".utf8)
                    || first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
                guard valid else { throw JSONBodyError("invalid literal") }
            }
        }
    }
}

public struct JSONBodyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = "invalid JSON body: " + description }
}
