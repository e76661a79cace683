import Crypto
import EVM
import Foundation
import JWTKit

/// The claims of a log-in session: who (`sub`, the user id, and `addr`) and until when.
struct SessionClaims: JWTPayload {
    var sub: SubjectClaim
    var addr: String
    var iss: IssuerClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim

    static let issuer = "zgproxy"

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == Self.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "not issued by zgproxy") }
    }
}

/// Issues and checks the short-lived HS256 JWTs users get from a wallet log-in, and present
/// as `Authorization: Bearer` to manage their keys and read their usage.
///
/// The secret is `JWT_SECRET`; without it, one derived from the gateway wallet's key, so every
/// process of one deployment accepts the same tokens and none is written down.
public final class SessionTokens: Sendable {
    private let keys: JWTKeyCollection
    public let lifetime: TimeInterval

    public init(secret: [UInt8], lifetime: TimeInterval) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(key: SymmetricKey(data: secret)), digestAlgorithm: .sha256)
        self.lifetime = lifetime
    }

    /// A secret derived from the wallet key (HMAC, so the key cannot be recovered from it).
    public static func derivedSecret(fromWalletKey key: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("zgproxy session tokens v1".utf8), using: SymmetricKey(data: key)))
    }

    public func issue(user: User, now: Date = Date()) async throws -> (token: String, expiresAt: Date) {
        let expires = now.addingTimeInterval(lifetime)
        let claims = SessionClaims(
            sub: .init(value: user.id), addr: user.address?.checksummed ?? "", iss: .init(value: SessionClaims.issuer), iat: .init(value: now),
            exp: .init(value: expires)
        )
        return (try await keys.sign(claims), expires)
    }

    /// The user id of a valid, unexpired token; nil otherwise.
    public func userID(fromToken token: String) async -> String? {
        guard let claims = try? await keys.verify(token, as: SessionClaims.self) else { return nil }
        return claims.sub.value
    }
}
