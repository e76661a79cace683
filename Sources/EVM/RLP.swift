/// Recursive Length Prefix, the serialisation of Ethereum transactions.
///
/// Decoding is strict, as consensus code must be: a value has exactly one valid encoding, so
/// non-canonical lengths, length prefixes with leading zeros, single bytes wrapped in a string
/// header, truncated payloads and trailing bytes are all refused.
public enum RLP: Sendable, Hashable {
    case bytes([UInt8])
    case list([RLP])

    /// A big-endian integer in its shortest form (zero is the empty string).
    public static func uint(_ value: UInt256) -> RLP { .bytes(value.minimalBigEndianBytes) }
    public static func uint(_ value: UInt64) -> RLP { .uint(UInt256(value)) }

    /// The encoded bytes.
    public var encoded: [UInt8] {
        var out = [UInt8]()
        append(to: &out)
        return out
    }

    func append(to out: inout [UInt8]) {
        switch self {
        case .bytes(let bytes):
            if bytes.count == 1, bytes[0] < 0x80 {
                out.append(bytes[0])
            } else {
                Self.appendHeader(length: bytes.count, shortBase: 0x80, to: &out)
                out.append(contentsOf: bytes)
            }
        case .list(let items):
            var payload = [UInt8]()
            for item in items { item.append(to: &payload) }
            Self.appendHeader(length: payload.count, shortBase: 0xc0, to: &out)
            out.append(contentsOf: payload)
        }
    }

    private static func appendHeader(length: Int, shortBase: UInt8, to out: inout [UInt8]) {
        if length < 56 {
            out.append(shortBase + UInt8(length))
        } else {
            let lengthBytes = UInt256(UInt64(length)).minimalBigEndianBytes
            out.append(shortBase + 55 + UInt8(lengthBytes.count))
            out.append(contentsOf: lengthBytes)
        }
    }

    /// Decodes exactly one item that spans all of `data`.
    public static func decode(_ data: [UInt8]) throws(RLPError) -> RLP {
        var decoder = Decoder(data: data)
        let item = try decoder.item(depth: 0)
        guard decoder.position == data.count else { throw RLPError("\(data.count - decoder.position) trailing bytes") }
        return item
    }

    /// The byte string, or an error for a list.
    public func bytesValue() throws(RLPError) -> [UInt8] {
        guard case .bytes(let bytes) = self else { throw RLPError("expected a byte string, found a list") }
        return bytes
    }

    /// The list items, or an error for a byte string.
    public func listValue() throws(RLPError) -> [RLP] {
        guard case .list(let items) = self else { throw RLPError("expected a list, found a byte string") }
        return items
    }

    /// A canonical unsigned integer: no leading zero bytes, at most 32 bytes.
    public func uintValue() throws(RLPError) -> UInt256 {
        let bytes = try bytesValue()
        guard bytes.first != 0 else { throw RLPError("integer with leading zero bytes") }
        guard let value = UInt256(bigEndian: bytes), bytes.count <= 32 else { throw RLPError("integer wider than 256 bits") }
        return value
    }

    private struct Decoder {
        let data: [UInt8]
        var position = 0
        static let maxDepth = 64

        mutating func item(depth: Int) throws(RLPError) -> RLP {
            guard depth < Self.maxDepth else { throw RLPError("nesting deeper than \(Self.maxDepth)") }
            guard position < data.count else { throw RLPError("unexpected end of input") }
            let prefix = data[position]
            position += 1
            switch prefix {
            case 0x00...0x7f:
                return .bytes([prefix])
            case 0x80...0xb7:
                let length = Int(prefix - 0x80)
                let payload = try take(length)
                if length == 1, payload[0] < 0x80 { throw RLPError("single byte below 0x80 must encode as itself") }
                return .bytes(payload)
            case 0xb8...0xbf:
                let length = try longLength(byteCount: Int(prefix - 0xb7))
                return .bytes(try take(length))
            case 0xc0...0xf7:
                return .list(try items(length: Int(prefix - 0xc0), depth: depth))
            default:
                let length = try longLength(byteCount: Int(prefix - 0xf7))
                return .list(try items(length: length, depth: depth))
            }
        }

        private mutating func items(length: Int, depth: Int) throws(RLPError) -> [RLP] {
            guard length <= data.count - position else { throw RLPError("list longer than the input") }
            let end = position + length
            var items = [RLP]()
            while position < end {
                items.append(try item(depth: depth + 1))
            }
            guard position == end else { throw RLPError("list payload length does not match its items") }
            return items
        }

        private mutating func longLength(byteCount: Int) throws(RLPError) -> Int {
            let bytes = try take(byteCount)
            guard bytes[0] != 0 else { throw RLPError("length with leading zero bytes") }
            guard byteCount <= 7 else { throw RLPError("length does not fit in memory") }
            var length = 0
            for byte in bytes { length = length << 8 | Int(byte) }
            guard length >= 56 else { throw RLPError("long form used for a length below 56") }
            return length
        }

        private mutating func take(_ count: Int) throws(RLPError) -> [UInt8] {
            guard count <= data.count - position else { throw RLPError("payload longer than the input") }
            defer { position += count }
            return Array(data[position..<(position + count)])
        }
    }
}

/// Malformed or non-canonical RLP.
public struct RLPError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { "invalid RLP: \(reason)" }
}
