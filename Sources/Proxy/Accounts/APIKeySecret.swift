import Crypto
import EVM

/// The secret half of an API key: `sk-zg-` and 43 base62 characters (~256 bits).
///
/// Only ``hash(_:)`` of it is stored; the secret is shown once, when created or rotated.
public enum APIKeySecret {
    public static let prefix = "sk-zg-"
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A new secret from the system's cryptographic random source.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var text = prefix
        for _ in 0..<43 { text.unicodeScalars.append(Unicode.Scalar(alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))])) }
        return text
    }

    /// Lowercase hex SHA-256: what the store keeps and looks keys up by.
    public static func hash(_ secret: some StringProtocol) -> String {
        Array(SHA256.hash(data: Array(secret.utf8))).hexString
    }

    /// `sk-zg-…AbCd`: enough to recognise a key in a list, useless to an attacker.
    public static func hint(_ secret: String) -> String { prefix + "…" + secret.suffix(4) }

    /// Whether a presented credential has the shape of one of our keys (cheap pre-check
    /// before any lookup).
    public static func looksValid(_ text: some StringProtocol) -> Bool {
        text.hasPrefix(prefix) && text.utf8.count == prefix.utf8.count + 43
            && text.utf8.dropFirst(prefix.utf8.count).allSatisfy { byte in
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            }
    }

    /// Compares two equal-length digests without an early exit.
    static func constantTimeEquals(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(left, right) { difference |= x ^ y }
        return difference == 0
    }
}

/// Random ids for stored rows (`usr_…`, `key_…`): 16 hex digits from the system RNG.
enum RecordID {
    static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let value: UInt64 = generator.next()
        let hex = String(value, radix: 16)
        return prefix + "_" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
