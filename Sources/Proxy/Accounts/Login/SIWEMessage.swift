import EVM
import Foundation

/// Why a Sign-In with Ethereum log-in was refused (answered 401, or 400 for a malformed message).
public struct SIWEError: Error, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String

    static func malformed(_ reason: String) -> SIWEError { SIWEError(code: "invalid_siwe_message", message: "The sign-in message is malformed: \(reason).") }

    public var description: String { message }
}

/// An EIP-4361 message, as a wallet shows and signs it:
///
/// ```
/// example.com wants you to sign in with your Ethereum account:
/// 0xAbC…
///
/// Optional statement.
///
/// URI: https://example.com/login
/// Version: 1
/// Chain ID: 16661
/// Nonce: 32891756
/// Issued At: 2026-11-25T10:00:00Z
/// Expiration Time: 2026-11-25T10:10:00Z
/// ```
public struct SIWEMessage: Sendable, Equatable {
    public var scheme: String?
    public var domain: String
    public var address: Address
    public var statement: String?
    public var uri: String
    public var version: String
    public var chainID: UInt64
    public var nonce: String
    public var issuedAt: Date
    public var expirationTime: Date?
    public var notBefore: Date?
    public var requestID: String?
    public var resources: [String]

    static let preamble = " wants you to sign in with your Ethereum account:"

    public init(parsing text: String) throws(SIWEError) {
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)[...]
        guard let first = lines.popFirst(), first.hasSuffix(Self.preamble) else { throw .malformed("the first line must end with '\(Self.preamble.dropFirst())'") }
        var origin = String(first.dropLast(Self.preamble.count))
        if let range = origin.range(of: "://") {
            scheme = String(origin[..<range.lowerBound])
            origin = String(origin[range.upperBound...])
        }
        guard !origin.isEmpty, !origin.contains(" ") else { throw .malformed("the domain is missing") }
        domain = origin
        guard let addressLine = lines.popFirst(), let address = try? Address(hex: addressLine, strict: true) else {
            throw .malformed("the second line must be an EIP-55 address")
        }
        self.address = address
        while lines.first == "" { lines.removeFirst() }
        if let line = lines.first, !line.hasPrefix("URI: ") {
            statement = line
            lines.removeFirst()
            while lines.first == "" { lines.removeFirst() }
        }
        func field(_ name: String, required: Bool) throws(SIWEError) -> String? {
            guard let line = lines.first, line.hasPrefix(name + ": ") else {
                if required { throw .malformed("'\(name):' is missing or out of order") }
                return nil
            }
            lines.removeFirst()
            return String(line.dropFirst(name.count + 2))
        }
        func date(_ name: String, required: Bool) throws(SIWEError) -> Date? {
            guard let text = try field(name, required: required) else { return nil }
            guard let value = Self.parseDate(text) else { throw .malformed("'\(name)' is not an RFC 3339 time") }
            return value
        }
        uri = try field("URI", required: true)!
        version = try field("Version", required: true)!
        guard let chain = UInt64(try field("Chain ID", required: true)!) else { throw .malformed("'Chain ID' is not a number") }
        chainID = chain
        nonce = try field("Nonce", required: true)!
        guard nonce.count >= 8, nonce.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw .malformed("the nonce must be at least 8 letters or digits")
        }
        issuedAt = try date("Issued At", required: true)!
        expirationTime = try date("Expiration Time", required: false)
        notBefore = try date("Not Before", required: false)
        requestID = try field("Request ID", required: false)
        resources = []
        if lines.first == "Resources:" {
            lines.removeFirst()
            while let line = lines.first, line.hasPrefix("- ") {
                resources.append(String(line.dropFirst(2)))
                lines.removeFirst()
            }
        }
        while lines.last == "" { lines.removeLast() }
        guard lines.isEmpty else { throw .malformed("unexpected line '\(lines.first!.prefix(40))'") }
    }

    static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}

/// Checks signed EIP-4361 messages for this gateway: the domain, chain and version it
/// expects, the time window, a nonce it issued (used up here, so a message works once), and
/// the signature of the address in the message.
public struct SIWEVerifier: Sendable {
    public var chainID: UInt64
    /// Accepted clock difference for `Issued At` in the future.
    public var skew: TimeInterval = 300

    public init(chainID: UInt64) {
        self.chainID = chainID
    }

    /// Verifies `text` signed by `signature` for `domain`; returns the message's address.
    /// `consumeNonce` uses the nonce up atomically and says whether it was valid.
    public func verify(
        message text: String, signature: String, domain: String, now: Date = Date(), consumeNonce: (String) async throws -> Bool
    ) async throws -> SIWEMessage {
        let message = try SIWEMessage(parsing: text)
        guard message.domain.lowercased() == domain.lowercased() else {
            throw SIWEError(code: "wrong_domain", message: "The message is for \(message.domain), not \(domain).")
        }
        guard message.version == "1" else { throw SIWEError(code: "invalid_siwe_message", message: "Only version 1 messages are accepted.") }
        guard message.chainID == chainID else {
            throw SIWEError(code: "wrong_chain", message: "The message is for chain \(message.chainID); this gateway uses chain \(chainID).")
        }
        if let expiration = message.expirationTime, expiration <= now {
            throw SIWEError(code: "message_expired", message: "The sign-in message has expired.")
        }
        if let notBefore = message.notBefore, notBefore > now.addingTimeInterval(skew) {
            throw SIWEError(code: "message_not_yet_valid", message: "The sign-in message is not valid yet.")
        }
        guard message.issuedAt <= now.addingTimeInterval(skew) else {
            throw SIWEError(code: "message_not_yet_valid", message: "The message's 'Issued At' is in the future.")
        }
        guard let bytes = try? [UInt8](hex: signature.hasPrefix("0x") ? String(signature.dropFirst(2)) : signature), bytes.count == 65,
              let parsed = try? Signature(bytes: bytes), let signer = try? parsed.recoverPersonalSigner(text: text) else {
            throw SIWEError(code: "invalid_signature", message: "The signature is not a valid 65-byte secp256k1 signature.")
        }
        guard signer == message.address else {
            throw SIWEError(code: "invalid_signature", message: "The signature was not made by \(message.address).")
        }
        // Last, so a bad message does not burn the caller's nonce.
        guard try await consumeNonce(message.nonce) else {
            throw SIWEError(code: "invalid_nonce", message: "The nonce was not issued by this gateway, has expired or was already used.")
        }
        return message
    }
}
