/// Hexadecimal text for byte strings, the way Ethereum writes them (`0x`-prefixed, lowercase).

/// A failure to read hexadecimal text.
public struct HexError: Error, Equatable, CustomStringConvertible {
    /// The text that could not be read (truncated to 80 characters).
    public let input: String
    /// Why it was refused.
    public let reason: String

    public var description: String { "invalid hex (\(reason)): \(input)" }

    init(_ input: some StringProtocol, _ reason: String) {
        self.input = String(input.prefix(80))
        self.reason = reason
    }
}

extension Array where Element == UInt8 {
    /// Reads hex with or without a `0x` prefix. An odd number of digits is refused,
    /// except that `"0x"` alone is the empty string.
    public init(hex: some StringProtocol) throws(HexError) {
        var utf8 = Substring(hex).utf8[...]
        if utf8.starts(with: "0x".utf8) || utf8.starts(with: "0X".utf8) { utf8 = utf8.dropFirst(2) }
        guard utf8.count % 2 == 0 else { throw HexError(hex, "odd number of digits") }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var high: UInt8? = nil
        for char in utf8 {
            guard let nibble = hexNibble(char) else { throw HexError(hex, "not a hex digit") }
            if let h = high {
                bytes.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        self = bytes
    }

    /// Lowercase hex without a prefix.
    public var hexString: String {
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex with the `0x` prefix.
    public var prefixedHex: String { "0x" + hexString }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

@inline(__always)
private func hexNibble(_ char: UInt8) -> UInt8? {
    switch char {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return char - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return char - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return char - UInt8(ascii: "A") + 10
    default: return nil
    }
}
