import AsyncHTTPClient
import EVM
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
import ZGBroker
@testable import Proxy

/// Users' keys, limits and usage through the running gateway, in front of the sandbox.
@Suite("Accounts through the gateway", .serialized)
struct AccountGatewayTests {
    static let admin: HTTPFields = [.authorization: "Bearer \(AccountFixtures.adminToken)", .contentType: "application/json"]
    static let model = "qwen-2.5-7b-instruct"

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any], "\(String(buffer: response.body))")
    }

    static func adminPost(_ client: any TestClientProtocol, _ path: String, _ object: [String: Any]) async throws -> [String: Any] {
        let response = try await client.execute(uri: path, method: .post, headers: admin, body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
        #expect(response.status == .created || response.status == .ok, "\(path): \(String(buffer: response.body))")
        return try json(response)
    }

    /// A user with `userLimits` and a key for them with `keyLimits` (and `models`); the key's secret and id.
    static func makeKey(
        _ client: any TestClientProtocol, userLimits: [String: Any] = [:], keyLimits: [String: Any] = [:], models: [String]? = nil
    ) async throws -> (secret: String, id: String, userID: String) {
        let user = try await adminPost(client, "/admin/users", ["name": "tester", "limits": userLimits])
        let userID = try #require(user["id"] as? String)
        var request: [String: Any] = ["user_id": userID, "name": "test key", "limits": keyLimits]
        if let models { request["models"] = models }
        let key = try await adminPost(client, "/admin/keys", request)
        return (try #require(key["key"] as? String), try #require(key["id"] as? String), userID)
    }

    static func chat(_ client: any TestClientProtocol, key: String, model: String = model, stream: Bool = false) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
            body: GatewayTests.chat(model, stream: stream)
        )
    }

    static func code(_ response: TestResponse) -> String? {
        ((try? json(response))?["error"] as? [String: Any])?["code"] as? String
    }

    @Test("a user's key works; JSON and streamed requests are logged with tokens, 0G cost and provider; the admin reads it by key and model")
    func usageIsRecorded() async throws {
        let accounts = try await AccountFixtures.accounts(authToken: GatewayTests.key)
        try await GatewayTests.withGateway(accounts: accounts) { client, _, _ in
            let (secret, keyID, userID) = try await Self.makeKey(client)
            let answer = try await Self.chat(client, key: secret)
            #expect(answer.status == .ok)
            let streamed = try await Self.chat(client, key: secret, stream: true)
            #expect(String(buffer: streamed.body).contains("[DONE]"))
            // Wrong keys: unknown, malformed, the operator token still works.
            #expect(try await Self.chat(client, key: APIKeySecret.generate()).status == .unauthorized)
            #expect(try await Self.chat(client, key: GatewayTests.key).status == .ok)

            // Records are made once each answer has gone out.
            for _ in 0..<200 where accounts.recorder.pendingCount < 3 { try await Task.sleep(for: .milliseconds(10)) }
            await accounts.recorder.flush()
            let report = try Self.json(try await client.execute(uri: "/admin/usage?key_id=\(keyID)&group_by=model", method: .get, headers: Self.admin))
            let rows = try #require(report["data"] as? [[String: Any]])
            #expect(rows.count == 1 && rows.first?["model"] as? String == Self.model)
            let row = try #require(rows.first)
            #expect(row["requests"] as? Int == 2)
            #expect((row["prompt_tokens"] as? Int ?? 0) > 0 && (row["completion_tokens"] as? Int ?? 0) > 0)
            let neuron = try #require(UInt256(decimal: row["cost_neuron"] as? String ?? ""))
            #expect(neuron > .zero, "0G requests cost their provider's fee")

            // The log has one row per request with the 0G provider that served it.
            let logged = try await accounts.store.database.query("SELECT * FROM usage_log WHERE key_id = $1", .text(keyID))
            #expect(logged.count == 2)
            #expect(logged.allSatisfy { $0.text("backend") == "0g" && $0.text("provider")?.hasPrefix("0x") == true && $0.text("user_id") == userID })
            #expect(logged.allSatisfy { ($0.text("request_id") ?? "").hasPrefix("req_") && $0.int("status") == 200 })
            // The operator's own request is logged without a key.
            let all = try await accounts.store.usage(UsageFilter(), groupBy: .key)
            #expect(all.contains { $0.group == "" && $0.requests == 1 })
        }
        await accounts.close()
    }

    @Test("limits: requests per minute answer 429 with retry-after and x-ratelimit headers; budgets answer insufficient_quota")
    func limits() async throws {
        let accounts = try await AccountFixtures.accounts(authToken: GatewayTests.key)
        defer { Task { await accounts.close() } }
        try await GatewayTests.withGateway(accounts: accounts) { client, _, _ in
            let (secret, _, _) = try await Self.makeKey(client, keyLimits: ["rpm": 2])
            try await AccountFixtures.awayFromMinuteBoundary(needing: 10)
            let first = try await Self.chat(client, key: secret)
            #expect(first.status == .ok)
            #expect(first.headers[HTTPField.Name("x-ratelimit-limit-requests")!] == "2")
            #expect(first.headers[HTTPField.Name("x-ratelimit-remaining-requests")!] == "1")
            #expect(first.headers[HTTPField.Name("x-ratelimit-reset-requests")!] != nil)
            #expect(try await Self.chat(client, key: secret).status == .ok)
            let limited = try await Self.chat(client, key: secret)
            #expect(limited.status == .tooManyRequests)
            #expect(Self.code(limited) == "rate_limit_exceeded")
            #expect(Int(limited.headers[.retryAfter] ?? "") != nil)

            // A budget of one neuron: the first request spends more, the next is refused for good.
            let (budgeted, _, _) = try await Self.makeKey(client, userLimits: ["budget": "0.000000000000000001", "budget_period": "day"])
            let pending = accounts.recorder.pendingCount
            #expect(try await Self.chat(client, key: budgeted).status == .ok)
            // The spend is counted when the answer has gone out; wait for it.
            for _ in 0..<100 where accounts.recorder.pendingCount == pending { try await Task.sleep(for: .milliseconds(10)) }
            let broke = try await Self.chat(client, key: budgeted)
            #expect(broke.status == .tooManyRequests)
            #expect(Self.code(broke) == "insufficient_quota")
            #expect(broke.headers[HTTPField.Name("x-should-retry")!] == "false")
        }
    }

    @Test("keys limited to models, revoked, expired; the admin API needs the admin token")
    func keyRules() async throws {
        try await GatewayTests.withGateway { client, _, _ in
            let (secret, keyID, _) = try await Self.makeKey(client, models: ["llama-3.3-70b-instruct"])
            let refused = try await Self.chat(client, key: secret)
            #expect(refused.status == .forbidden && Self.code(refused) == "model_not_allowed")
            #expect(try await Self.chat(client, key: secret, model: "llama-3.3-70b-instruct").status == .ok)
            let models = try Self.json(try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer \(secret)"]))
            #expect((models["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["llama-3.3-70b-instruct"])

            let revoke = try await client.execute(uri: "/admin/keys/\(keyID)", method: .delete, headers: Self.admin)
            #expect(try Self.json(revoke)["status"] as? String == "revoked")
            let revoked = try await Self.chat(client, key: secret, model: "llama-3.3-70b-instruct")
            #expect(revoked.status == .unauthorized && Self.code(revoked) == "invalid_api_key")

            let user = try await Self.adminPost(client, "/admin/users", ["name": "short-lived"])
            let key = try await Self.adminPost(client, "/admin/keys", ["user_id": user["id"] as Any, "expires_in": 1])
            let expiring = try #require(key["key"] as? String)
            #expect(try await Self.chat(client, key: expiring).status == .ok)
            try await Task.sleep(for: .milliseconds(1100))
            // Cached keys are re-checked for expiry on every request.
            let expired = try await Self.chat(client, key: expiring)
            #expect(expired.status == .unauthorized && String(buffer: expired.body).contains("expired"))

            for token in [nil, "wrong-token", GatewayTests.key] {
                var headers: HTTPFields = [:]
                if let token { headers[.authorization] = "Bearer \(token)" }
                let answer = try await client.execute(uri: "/admin/users", method: .get, headers: headers)
                #expect(answer.status == .unauthorized, "\(token ?? "no token")")
            }
            let bad = try await client.execute(
                uri: "/admin/users", method: .post, headers: Self.admin, body: ByteBuffer(string: #"{"limits":{"rpm":-1}}"#)
            )
            #expect(bad.status == .badRequest && Self.code(bad) == "invalid_request_error")
            let missing = try await client.execute(uri: "/admin/keys/key_nope/rotate", method: .post, headers: Self.admin)
            #expect(missing.status == .notFound)
        }
    }

    @Test("a stream the client leaves mid-way is logged as 499 with the tokens it had used")
    func streamCutShort() async throws {
        let accounts = try await AccountFixtures.accounts(authToken: GatewayTests.key)
        defer { Task { await accounts.close() } }
        try await GatewayTests.withGateway(accounts: accounts) { client, _, _ in
            let (secret, keyID, _) = try await Self.makeKey(client)
            let port = try #require(client.port)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(secret)")
            request.headers.add(name: "Content-Type", value: "application/json")
            let words = Array(repeating: "word", count: 120).joined(separator: " ")
            request.body = .bytes(GatewayTests.chat("llama-3.3-70b-instruct", stream: true, text: words))
            let streamRequest = request
            // Read a few chunks of a three-second stream, then walk away.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let response = try await HTTPClient.shared.execute(streamRequest, timeout: .seconds(10))
                    var chunks = 0
                    for try await _ in response.body {
                        chunks += 1
                        if chunks == 5 { return }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
            for _ in 0..<300 where accounts.recorder.pendingCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
            await accounts.recorder.flush()
            let rows = try await accounts.store.database.query("SELECT * FROM usage_log WHERE key_id = $1", .text(keyID))
            #expect(rows.count == 1)
            #expect(rows.first?.int("status") == 499)
            #expect((rows.first?.int("completion_tokens") ?? 0) > 0, "the chunks streamed before the client left")
            #expect((rows.first?.int("completion_tokens") ?? 0) < 120, "not the whole answer")
            #expect((rows.first?.int("cost") ?? 0) > 0)
        }
    }
}
