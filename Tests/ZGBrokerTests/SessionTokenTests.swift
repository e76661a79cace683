import EVM
import Foundation
import Testing
import TestSupport
@testable import ZGBroker

@Suite("Session tokens")
struct SessionTokenTests {
    @Test("tokens are byte-identical to eth-account-signed vectors (JSON, signature, header)")
    func matchesVectors() throws {
        let file = try #require(try FixturePaths.json("vectors/signatures.json") as? [String: Any])
        let vectors = (file["personalSign"] as? [[String: Any]] ?? []).filter { $0["sessionToken"] != nil }
        var checked = 0
        for vector in vectors {
            let json = try #require(vector["sessionToken"] as? String)
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let timestamp = UInt64(truncating: fields["timestamp"] as! NSNumber)
            let expiresAt = UInt64(truncating: fields["expiresAt"] as! NSNumber)
            let tokenID = UInt8(truncating: fields["tokenId"] as! NSNumber)
            guard tokenID != 255 || (expiresAt > timestamp && expiresAt - timestamp <= SessionToken.maxEphemeralLifetimeMillis) else { continue }
            let token = try SessionToken.mint(
                key: try PrivateKey(hex: vector["privateKey"] as! String),
                provider: try Address(hex: fields["provider"] as! String),
                generation: UInt256(UInt64(truncating: fields["generation"] as! NSNumber)),
                tokenID: tokenID,
                lifetime: expiresAt == 0 ? nil : .milliseconds(Int64(expiresAt - timestamp)),
                now: Date(timeIntervalSince1970: Double(timestamp) / 1000),
                nonce: fields["nonce"] as? String
            )
            #expect(token.json == json)
            #expect(token.authorization == vector["authorization"] as? String)
            checked += 1
        }
        #expect(checked >= 10)
    }

    @Test("ephemeral tokens need an expiry within 24 h; nonces cannot hold |")
    func rules() throws {
        let key = PrivateKey.random()
        let provider = PrivateKey.random().address
        #expect(throws: SessionTokenError.self) { try SessionToken.mint(key: key, provider: provider, generation: 0, lifetime: nil) }
        #expect(throws: SessionTokenError.self) { try SessionToken.mint(key: key, provider: provider, generation: 0, lifetime: .seconds(86_401)) }
        #expect(throws: SessionTokenError.self) { try SessionToken.mint(key: key, provider: provider, generation: 0, lifetime: .seconds(60), nonce: "a|b") }
        let persistent = try SessionToken.mint(key: key, provider: provider, generation: 3, tokenID: 7, lifetime: nil)
        #expect(persistent.expiresAt == 0 && persistent.expiry == nil)
        #expect(persistent.json.hasSuffix(#""generation":3,"tokenId":7}"#))
        // The header decodes back to the JSON and a signature that recovers the wallet.
        let encoded = String(persistent.authorization.dropFirst("Bearer app-sk-".count))
        let payload = String(decoding: try #require(Data(base64Encoded: encoded)), as: UTF8.self)
        let parts = payload.split(separator: "|", maxSplits: 1).map(String.init)
        #expect(parts[0] == persistent.json)
        let signature = try Signature(bytes: try [UInt8](hex: parts[1]))
        #expect(try signature.recoverPersonalSigner(keccak256(parts[0])) == key.address)
        #expect(parts[1].count == 132)
    }

    @Test("the store reuses a token until less than an hour is left, and re-reads the generation after invalidation")
    func store() async throws {
        let key = PrivateKey.random()
        let provider = PrivateKey.random().address
        let clock = MutableClock(Date(timeIntervalSince1970: 1_800_000_000))
        let reads = Counter()
        let store = SessionTokenStore(key: key, lifetime: .seconds(7200), renewBefore: .seconds(3600), now: { clock.now }) { _ async throws(BrokerError) in
            UInt256(UInt64(reads.increment()))
        }
        let first = try await store.token(for: provider)
        #expect(first.generation == 1)
        clock.advance(by: 3000)
        #expect(try await store.token(for: provider) == first)
        clock.advance(by: 700)  // 3,500 s left: renew, same generation
        let second = try await store.token(for: provider)
        #expect(second != first && second.generation == 1)
        await store.invalidate(provider)
        #expect(try await store.token(for: provider).generation == 2)
    }

    @Test("the lowest free persistent token id skips revoked bits")
    func lowestFreeID() throws {
        #expect(UInt256(0b1011) & UInt256(0b0110) == UInt256(0b0010))
    }
}

final class MutableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date) { current = start }
    var now: Date { lock.withLock { current } }
    func advance(by seconds: TimeInterval) { lock.withLock { current += seconds } }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int { lock.withLock { value += 1; return value } }
}
