import Synchronization

private let checksumCache = Mutex<[Address: String]>([:])

/// A 20-byte Ethereum account address.
///
/// Accepts any letter case on input (checking the EIP-55 checksum only when asked to) and
/// always prints the EIP-55 checksummed form, so addresses in logs and JSON are unambiguous.
public struct Address: Sendable, Hashable, Comparable {
    /// The 20 raw bytes.
    public let bytes: [UInt8]

    /// The zero address.
    public static let zero = Address(unchecked: [UInt8](repeating: 0, count: 20))

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// The 20 bytes hashed at once (the derived hash feeds them one by one; providers are looked
    /// up by address several times per request).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Wraps 20 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 20 else { return nil }
        self.bytes = bytes
    }

    /// Reads `0x` + 40 hex digits in any case.
    /// - Parameter strict: also require a valid EIP-55 checksum when the text mixes cases.
    public init(hex text: String, strict: Bool = false) throws(AddressError) {
        var digits = Substring(text)
        guard digits.hasPrefix("0x") || digits.hasPrefix("0X") else { throw AddressError(input: text, reason: "missing 0x prefix") }
        digits = digits.dropFirst(2)
        guard digits.count == 40 else { throw AddressError(input: text, reason: "expected 40 hex digits, got \(digits.count)") }
        guard let bytes = try? [UInt8](hex: digits) else { throw AddressError(input: text, reason: "not hexadecimal") }
        self.bytes = bytes
        if strict {
            let hasLower = digits.contains(where: { $0.isLowercase })
            let hasUpper = digits.contains(where: { $0.isUppercase })
            if hasLower && hasUpper && "0x" + digits != checksummed {
                throw AddressError(input: text, reason: "bad EIP-55 checksum")
            }
        }
    }

    /// The address of an uncompressed public key's 64 coordinate bytes (X ‖ Y).
    public init(publicKeyCoordinates: [UInt8]) {
        precondition(publicKeyCoordinates.count == 64)
        self.bytes = Array(Keccak256.hash(publicKeyCoordinates).suffix(20))
    }

    /// EIP-55 mixed-case form: a hex letter is upper case when the matching nibble of
    /// keccak256(lowercase hex) is ≥ 8. Remembered for the addresses seen recently (the few
    /// providers a gateway talks to are printed on every request).
    public var checksummed: String {
        if let known = checksumCache.withLock({ $0[self] }) { return known }
        let text = computeChecksummed()
        checksumCache.withLock { cache in
            if cache.count >= 4096 { cache.removeAll(keepingCapacity: true) }
            cache[self] = text
        }
        return text
    }

    private func computeChecksummed() -> String {
        let lower = bytes.hexString
        let hash = Keccak256.hash(Array(lower.utf8))
        var out = "0x"
        for (index, char) in lower.enumerated() {
            let nibble = index % 2 == 0 ? hash[index / 2] >> 4 : hash[index / 2] & 0x0f
            out.append(nibble >= 8 ? Character(char.uppercased()) : char)
        }
        return out
    }

    /// Lowercase `0x` hex, as JSON-RPC nodes return addresses.
    public var lowercased: String { bytes.prefixedHex }

    public static func < (lhs: Address, rhs: Address) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

extension Address: CustomStringConvertible {
    public var description: String { checksummed }
}

extension Address: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = try Address(hex: container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(checksummed)
    }
}

/// An address that could not be read.
public struct AddressError: Error, Equatable, CustomStringConvertible {
    public let input: String
    public let reason: String
    public var description: String { "invalid address \"\(input.prefix(64))\": \(reason)" }
}
