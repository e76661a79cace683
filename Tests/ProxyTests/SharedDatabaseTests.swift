import AsyncHTTPClient
import EVM
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// Two `zgproxy serve` processes on one PostgreSQL database act as one gateway: a key made on
/// one works on the other, one request limit holds across both, and one usage log has both.
@Suite("Two gateways, one PostgreSQL", .serialized, .enabled(if: AccountFixtures.postgresAvailable))
struct SharedDatabaseTests {
    static let admin = AccountFixtures.adminToken

    static func call(
        _ port: Int, _ path: String, method: HTTPMethod = .GET, token: String, body: [String: Any]? = nil
    ) async throws -> (status: Int, json: [String: Any], headers: HTTPHeaders) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(Array(buffer: bytes)))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json, response.headers)
    }

    @Test("a key, a request limit and the usage log are shared by two processes")
    func twoProcesses() async throws {
        let sandbox = try await GatewayTests.world.get()
        let databaseURL = try await AccountFixtures.freshPostgresURL()
        let ports = [ServeProcessTests.freePort(), ServeProcessTests.freePort()]
        let environment: [String: String] = [
            "ZG_NETWORK": "custom", "ZG_CHAIN_RPC": sandbox.rpcURL, "ZG_LEDGER_CONTRACT": sandbox.ledgerContract.checksummed,
            "ZG_INFERENCE_CONTRACT": sandbox.inferenceContract.checksummed, "PRIVATE_KEY": "0x" + sandbox.wallet.rawBytes.hexString,
            "ZG_AUTO_FUND": "false", "DATABASE_URL": databaseURL, "ADMIN_TOKEN": Self.admin, "USAGE_FLUSH_MILLISECONDS": "100",
        ]
        let servers = try ports.map { port in
            try ServeProcessTests.Server(arguments: ["serve", "--env-file", "/nonexistent", "--port", String(port)], environment: environment)
        }
        for server in servers { #expect(try await server.wait(for: "zgproxy is serving"), "\(server.log)") }

        // Made on the first, used on the second.
        let user = try await Self.call(ports[0], "/admin/users", method: .POST, token: Self.admin, body: ["name": "shared"])
        let userID = try #require(user.json["id"] as? String)
        let key = try await Self.call(ports[0], "/admin/keys", method: .POST, token: Self.admin, body: ["user_id": userID, "limits": ["rpm": 3]])
        let secret = try #require(key.json["key"] as? String)
        let chat: [String: Any] = ["model": "qwen-2.5-7b-instruct", "messages": [["role": "user", "content": "hi"]]]
        var statuses: [Int] = []
        try await AccountFixtures.awayFromMinuteBoundary(needing: 15)
        for port in [ports[1], ports[0], ports[1], ports[0]] {
            statuses.append(try await Self.call(port, "/v1/chat/completions", method: .POST, token: secret, body: chat).status)
        }
        #expect(statuses == [200, 200, 200, 429], "one limit of 3 a minute across both processes")

        // Each process writes its own records; either one reports all of them.
        var requests = 0
        for _ in 0..<50 {
            let usage = try await Self.call(ports[1], "/admin/usage?group_by=key", token: Self.admin)
            let rows = usage.json["data"] as? [[String: Any]] ?? []
            requests = rows.first { $0["key"] as? String == key.json["id"] as? String }?["requests"] as? Int ?? 0
            if requests >= 4 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(requests == 4, "3 answered and 1 refused, from both processes")
        for server in servers { kill(server.process.processIdentifier, SIGTERM) }
        for server in servers { #expect(try await server.waitForExit() == 0, "\(server.log)") }
    }

    @Test("an unreachable database stops start-up within the connect timeout, without echoing the password")
    func unreachableDatabase() async throws {
        let sandbox = try await GatewayTests.world.get()
        let server = try ServeProcessTests.Server(
            arguments: ["serve", "--env-file", "/nonexistent", "--port", String(ServeProcessTests.freePort())],
            environment: [
                "ZG_NETWORK": "custom", "ZG_CHAIN_RPC": sandbox.rpcURL, "ZG_LEDGER_CONTRACT": sandbox.ledgerContract.checksummed,
                "ZG_INFERENCE_CONTRACT": sandbox.inferenceContract.checksummed, "PRIVATE_KEY": "0x" + sandbox.wallet.rawBytes.hexString,
                "ZG_AUTO_FUND": "false", "DATABASE_URL": "postgres://ada:hunter2@127.0.0.1:9/zg?sslmode=disable",
            ]
        )
        #expect(try await server.waitForExit(seconds: 40) != 0)
        #expect(server.log.contains("127.0.0.1:9") && !server.log.contains("hunter2"), "\(server.log)")
    }
}
