import EVM
import Foundation

/// The `Authorization: Bearer app-sk-…` credential of the current 0G scheme (G3, PROTOCOL.md §3.2).
///
/// The token is JSON with a fixed key order, signed with `personal_sign` over the keccak-256
/// of its exact bytes, and sent as standard base64 of `json|0x<r s v>`. The provider re-reads
/// the same bytes, so the JSON is written here by hand, never through an encoder whose key order
/// or escaping could differ.
public struct SessionToken: Sendable, Hashable {
    /// Ephemeral tokens use id 255; persistent API keys use 0–254.
    public static let ephemeralTokenID: UInt8 = 255
    /// The provider refuses ephemeral tokens that live longer than a day.
    public static let maxEphemeralLifetimeMillis: UInt64 = 86_400_000

    public let user: Address
    public let provider: Address
    /// Milliseconds since the epoch.
    public let timestamp: UInt64
    /// Milliseconds since the epoch; 0 means never (persistent tokens only).
    public let expiresAt: UInt64
    public let nonce: String
    /// Must equal the sub-account's generation on chain.
    public let generation: UInt256
    public let tokenID: UInt8
    /// The exact bytes that were signed.
    public let json: String
    /// `r ‖ s ‖ v` with v = 27/28.
    public let signature: [UInt8]

    /// The header value, `Bearer app-sk-…`, encoded once (it is sent with every request).
    /// Treat it as a secret: it spends the wallet's funds.
    public var authorization: String { encoded }
    private let encoded: String

    init(
        user: Address, provider: Address, timestamp: UInt64, expiresAt: UInt64, nonce: String, generation: UInt256, tokenID: UInt8, json: String,
        signature: [UInt8]
    ) {
        self.user = user
        self.provider = provider
        self.timestamp = timestamp
        self.expiresAt = expiresAt
        self.nonce = nonce
        self.generation = generation
        self.tokenID = tokenID
        self.json = json
        self.signature = signature
        encoded = "Bearer app-sk-" + Data(Array(json.utf8) + Array("|".utf8) + Array(signature.prefixedHex.utf8)).base64EncodedString()
    }

    /// When the token stops working, or nil for a token that never expires.
    public var expiry: Date? { expiresAt == 0 ? nil : Date(timeIntervalSince1970: Double(expiresAt) / 1000) }

    /// Signs a new token.
    /// - Parameters:
    ///   - lifetime: for ephemeral tokens at most 24 h; nil only for a persistent token that never expires.
    ///   - now: the issue time (injected for tests).
    public static func mint(
        key: PrivateKey, provider: Address, generation: UInt256, tokenID: UInt8 = ephemeralTokenID,
        lifetime: Duration?, now: Date = Date(), nonce: String? = nil
    ) throws(SessionTokenError) -> SessionToken {
        let timestamp = UInt64(max(0, now.timeIntervalSince1970 * 1000).rounded())
        var expiresAt: UInt64 = 0
        if let lifetime {
            let millis = UInt64(lifetime.components.seconds) * 1000 + UInt64(lifetime.components.attoseconds / 1_000_000_000_000_000)
            guard millis > 0 else { throw .invalidLifetime("the lifetime must be positive") }
            expiresAt = timestamp + millis
        }
        if tokenID == ephemeralTokenID {
            guard expiresAt != 0 else { throw .invalidLifetime("ephemeral tokens need an expiry") }
            guard expiresAt - timestamp <= maxEphemeralLifetimeMillis else {
                throw .invalidLifetime("ephemeral tokens live at most 24 h")
            }
        }
        let nonce = nonce ?? Self.randomNonce()
        guard !nonce.contains("|") else { throw .invalidNonce }
        let json = "{\"address\":\"\(key.address.checksummed)\",\"provider\":\"\(provider.checksummed)\","
            + "\"timestamp\":\(timestamp),\"expiresAt\":\(expiresAt),\"nonce\":\(jsonString(nonce)),"
            + "\"generation\":\(generation),\"tokenId\":\(tokenID)}"
        let signature: Signature
        do {
            signature = try key.personalSign(keccak256(json))
        } catch {
            throw .signing(error)
        }
        return SessionToken(
            user: key.address, provider: provider, timestamp: timestamp, expiresAt: expiresAt, nonce: nonce,
            generation: generation, tokenID: tokenID, json: json, signature: signature.bytesWithV27
        )
    }

    /// 32 hex characters from 16 random bytes (what the SDK uses in browsers).
    static func randomNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexString
    }

    private static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

public enum SessionTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidLifetime(String)
    case invalidNonce
    case signing(SigningError)
    /// Every persistent token id (0–254) is revoked; `revokeAllTokens` starts a new generation.
    case noFreeTokenID

    public var description: String {
        switch self {
        case .invalidLifetime(let reason): return "invalid token lifetime: \(reason)"
        case .invalidNonce: return "a token nonce cannot contain \"|\""
        case .signing(let error): return error.description
        case .noFreeTokenID: return "all 255 persistent token ids are revoked; run zgproxy token revoke --all to start a new generation"
        }
    }
}

extension Account {
    /// The lowest persistent token id not revoked in this account's bitmap.
    public func lowestFreeTokenID() throws(SessionTokenError) -> UInt8 {
        for id in 0..<UInt8(255) where !isTokenRevoked(id) { return id }
        throw .noFreeTokenID
    }
}
