import EVM
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
@testable import Proxy

/// Sign-In with Ethereum and the user's own key routes, with messages signed by eth-account.
@Suite("Wallet log-in and self-service keys")
struct LoginTests {
    static let domain = "gateway.test:3000"

    static func withLoginApp(
        configure: (inout AccountsConfiguration) -> Void = { _ in }, _ body: @Sendable (any TestClientProtocol, Accounts) async throws -> Void
    ) async throws {
        let accounts = try await AccountFixtures.accounts(authToken: nil) { configuration in
            configuration.siweDomain = domain
            configuration.openSignup = true
            configure(&configuration)
        }
        let router = Router(context: GatewayRequestContext.self)
        router.middlewares.add(RequestIDMiddleware())
        LoginRoutes(accounts: accounts).add(to: router.group("api/auth").add(middleware: IPRateLimitMiddleware(accounts: accounts)))
        UserRoutes(accounts: accounts).add(to: router.group("api").add(middleware: SessionAuthMiddleware(accounts: accounts)))
        do {
            try await Application(router: router).test(.router) { client in try await body(client, accounts) }
        } catch {
            await accounts.close()
            throw error
        }
        await accounts.close()
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any])
    }

    static func post(_ client: any TestClientProtocol, _ path: String, _ object: [String: Any], token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
    }

    /// Asks for a nonce and the message to sign for `key`'s address.
    static func message(_ client: any TestClientProtocol, for key: PrivateKey) async throws -> String {
        let response = try await client.execute(uri: "/api/auth/nonce?address=\(key.address.checksummed)", method: .get)
        #expect(response.status == .ok)
        return try #require(try json(response)["message"] as? String)
    }

    static func login(_ client: any TestClientProtocol, message: String, key: PrivateKey) async throws -> TestResponse {
        let signature = try await AccountFixtures.ethAccountSign(message, key: key)
        return try await post(client, "/api/auth/login", ["message": message, "signature": signature])
    }

    static func code(_ response: TestResponse) throws -> String? {
        (try json(response)["error"] as? [String: Any])?["code"] as? String
    }

    @Test("a signed message logs in once; replays, wrong domains, chains, signers and expired messages are refused")
    func signIn() async throws {
        try await Self.withLoginApp { client, _ in
            let wallet = PrivateKey.random()
            let message = try await Self.message(client, for: wallet)
            let parsed = try SIWEMessage(parsing: message)
            #expect(parsed.domain == Self.domain && parsed.chainID == AccountFixtures.chainID && parsed.address == wallet.address)

            let ok = try await Self.login(client, message: message, key: wallet)
            #expect(ok.status == .ok)
            let session = try Self.json(ok)
            let token = try #require(session["token"] as? String)
            #expect((session["user"] as? [String: Any])?["address"] as? String == wallet.address.checksummed)

            // The same signed message again: the nonce is used up.
            let replay = try await Self.login(client, message: message, key: wallet)
            try #expect(replay.status == .unauthorized && Self.code(replay) == "invalid_nonce")

            // Wrong domain, wrong chain, expired, signed by someone else, nonce never issued.
            let fresh = try await Self.message(client, for: wallet)
            let cases: [(String, PrivateKey, String)] = [
                (fresh.replacingOccurrences(of: Self.domain, with: "evil.example"), wallet, "wrong_domain"),
                (fresh.replacingOccurrences(of: "Chain ID: \(AccountFixtures.chainID)", with: "Chain ID: 1"), wallet, "wrong_chain"),
                (fresh.replacing(#/Expiration Time: .*/#, with: "Expiration Time: 2020-01-01T00:00:00Z"), wallet, "message_expired"),
                (fresh, PrivateKey.random(), "invalid_signature"),
                (fresh.replacing(#/Nonce: .*/#, with: "Nonce: neverissued12345"), wallet, "invalid_nonce"),
            ]
            for (text, signer, expected) in cases {
                let refused = try await Self.login(client, message: text, key: signer)
                #expect(refused.status == .unauthorized, "\(expected)")
                #expect(try Self.code(refused) == expected)
            }
            // The refusals above that failed before the nonce check left it usable.
            #expect(try await Self.login(client, message: fresh, key: wallet).status == .ok)

            let malformed = try await Self.post(client, "/api/auth/login", ["message": "hello", "signature": "0x00"])
            try #expect(malformed.status == .badRequest && Self.code(malformed) == "invalid_siwe_message")

            let profile = try await client.execute(uri: "/api/user/profile", method: .get, headers: [.authorization: "Bearer \(token)"])
            try #expect(profile.status == .ok && Self.json(profile)["address"] as? String == wallet.address.checksummed)
            let anonymous = try await client.execute(uri: "/api/user/profile", method: .get, headers: [.authorization: "Bearer \(token)x"])
            try #expect(anonymous.status == .unauthorized && Self.code(anonymous) == "invalid_session")
        }
    }

    @Test("a user creates (shown once), lists, renames, rotates and revokes their own keys, and cannot touch others'")
    func selfServiceKeys() async throws {
        try await Self.withLoginApp { client, accounts in
            let wallet = PrivateKey.random()
            let token = try #require(try Self.json(try await Self.login(client, message: try await Self.message(client, for: wallet), key: wallet))["token"] as? String)
            let auth: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
            let created = try await Self.post(client, "/api/keys", ["name": "cursor", "models": ["qwen"], "expires_in_days": 30], token: token)
            #expect(created.status == .created)
            let key = try Self.json(created)
            let secret = try #require(key["key"] as? String)
            let id = try #require(key["id"] as? String)
            #expect(try await accounts.authenticate(Substring(secret)).key?.id == id)

            let listed = try Self.json(try await client.execute(uri: "/api/keys", method: .get, headers: auth))
            let entries = try #require(listed["data"] as? [[String: Any]])
            #expect(entries.count == 1 && entries[0]["key"] == nil && entries[0]["hint"] as? String == APIKeySecret.hint(secret))
            #expect(entries[0]["expires_at"] as? Int != nil)

            let renamed = try await client.execute(
                uri: "/api/keys/\(id)", method: .patch, headers: auth, body: ByteBuffer(string: #"{"name":"renamed"}"#)
            )
            #expect(try Self.json(renamed)["name"] as? String == "renamed")

            let rotated = try Self.json(try await Self.post(client, "/api/keys/\(id)/rotate", [:], token: token))
            let newSecret = try #require(rotated["key"] as? String)
            await #expect(throws: OpenAIError.self) { try await accounts.authenticate(Substring(secret)) }
            #expect(try await accounts.authenticate(Substring(newSecret)).key?.id == id)

            // Another user sees none of it.
            let other = PrivateKey.random()
            let otherToken = try #require(try Self.json(try await Self.login(client, message: try await Self.message(client, for: other), key: other))["token"] as? String)
            let foreign = try await client.execute(uri: "/api/keys/\(id)", method: .delete, headers: [.authorization: "Bearer \(otherToken)"])
            #expect(foreign.status == .notFound)

            let revoked = try await client.execute(uri: "/api/keys/\(id)", method: .delete, headers: auth)
            #expect(try Self.json(revoked)["status"] as? String == "revoked")
            do {
                _ = try await accounts.authenticate(Substring(newSecret))
                Issue.record("a revoked key still works")
            } catch let error as OpenAIError {
                #expect(error.message.contains("revoked"))
            }
            // Their own usage, by key (empty here: no inference went through this test's router).
            let usage = try await client.execute(uri: "/api/usage?group_by=key&since=2026-01-01", method: .get, headers: auth)
            #expect(usage.status == .ok)
            #expect(try Self.json(usage)["group_by"] as? String == "key")
            let wrongGroup = try await client.execute(uri: "/api/usage?group_by=planet", method: .get, headers: auth)
            #expect(wrongGroup.status == .badRequest)
            let bad = try await Self.post(client, "/api/keys", ["name": "x", "expires_at": 1], token: token)
            #expect(bad.status == .badRequest)
        }
    }

    @Test("the log-in routes are limited per client IP")
    func ipLimit() async throws {
        try await Self.withLoginApp(configure: { $0.ipRequestsPerMinute = 3 }) { client, _ in
            // Windows are whole minutes: seven requests see a refusal even if a minute ends
            // among them (at most three pass in each of two windows).
            var statuses: [HTTPResponse.Status] = []
            var refusal: TestResponse? = nil
            for _ in 0..<7 {
                let response = try await client.execute(uri: "/api/auth/nonce", method: .get)
                statuses.append(response.status)
                if response.status == .tooManyRequests, refusal == nil { refusal = response }
            }
            #expect(statuses.prefix(3).allSatisfy { $0 == .ok }, "\(statuses)")
            #expect(statuses.filter { $0 == .ok }.count <= 6, "\(statuses)")
            let limited = try #require(refusal, "\(statuses)")
            #expect(limited.headers[.retryAfter] != nil)
            #expect(try Self.code(limited) == "rate_limit_exceeded")
        }
    }

    @Test("closed sign-up: only registered wallets log in; open sign-up gives new users NEW_USER_LIMITS")
    func signup() async throws {
        try await Self.withLoginApp(configure: { $0.openSignup = false }) { client, accounts in
            let stranger = PrivateKey.random()
            let refused = try await Self.login(client, message: try await Self.message(client, for: stranger), key: stranger)
            #expect(refused.status == .forbidden)
            #expect(try Self.code(refused) == "signup_closed")
            let registered = PrivateKey.random()
            _ = try await accounts.store.createUser(address: registered.address, name: "known")
            let ok = try await Self.login(client, message: try await Self.message(client, for: registered), key: registered)
            #expect(ok.status == .ok)
            #expect(try await accounts.store.users().count == 1)
        }
        let limits = LimitPolicy(requestsPerMinute: 7, budget: UInt256(5), budgetPeriod: .day)
        try await Self.withLoginApp(configure: { $0.newUserLimits = limits }) { client, accounts async throws in
            let wallet = PrivateKey.random()
            #expect(try await Self.login(client, message: try await Self.message(client, for: wallet), key: wallet).status == .ok)
            #expect(try await accounts.store.user(address: wallet.address)?.limits == limits)
        }
    }
}
