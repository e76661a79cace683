import AsyncHTTPClient
import EVM
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// `zgproxy users`, `keys` and `usage`: on the store directly (SQLite, PostgreSQL) and on a
/// running gateway through its admin API.
@Suite("zgproxy keys, users and usage", .serialized)
struct AccountCommandTests {
    static let noEnvFile = ["--env-file", "/nonexistent"]

    static func zgproxy(_ arguments: [String], _ environment: [String: String]) async throws -> CLIRunner.Result {
        try await CLIRunner.run(arguments + noEnvFile, environment: environment)
    }

    static var stores: [String] {
        ProcessInfo.processInfo.environment["ZGPROXY_TEST_DATABASE_URL"] == nil ? ["sqlite"] : ["sqlite", "postgres"]
    }

    @Test("users and keys from creation to revocation, with --json shapes and exit codes", arguments: stores)
    func localStore(_ store: String) async throws {
        var environment = ["DATA_DIR": NSTemporaryDirectory() + "zgproxy-cli-" + UUID().uuidString]
        if store == "postgres" { environment["DATABASE_URL"] = ProcessInfo.processInfo.environment["ZGPROXY_TEST_DATABASE_URL"] }
        let created = try await Self.zgproxy(["users", "create", "--name", "ada", "--rpm", "30", "--budget", "1.5", "--budget-period", "day", "--json"], environment)
        #expect(created.status == 0, "\(created.stderr)")
        let user = try created.json()
        let userID = try #require(user["id"] as? String)
        #expect(user[path: "limits", "budget"] as? String == "1.5" && user[path: "limits", "rpm"] as? Int == 30)

        let key = try await Self.zgproxy(["keys", "create", "--user", userID, "--name", "ci", "--models", "qwen,llama", "--expires", "7d", "--tpm", "1000"], environment)
        #expect(key.status == 0, "\(key.stderr)")
        let secret = try #require(key.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix("sk-zg-") })
        #expect(key.stdout.contains("only time"))

        let listed = try await Self.zgproxy(["keys", "list", "--user", userID, "--json"], environment)
        let keys = try #require(try listed.json()["data"] as? [[String: Any]])
        #expect(keys.count == 1 && keys[0]["models"] as? [String] == ["qwen", "llama"] && keys[0]["key"] == nil)
        #expect(keys[0]["hint"] as? String == "sk-zg-…" + secret.suffix(4))
        let keyID = try #require(keys[0]["id"] as? String)
        #expect(!listed.stdout.contains(secret))

        let rotated = try await Self.zgproxy(["keys", "rotate", keyID, "--json"], environment)
        let newSecret = try #require(try rotated.json()["key"] as? String)
        #expect(newSecret != secret && newSecret.hasPrefix("sk-zg-"))
        let revoked = try await Self.zgproxy(["keys", "revoke", keyID, "--json"], environment)
        #expect(try revoked.json()["status"] as? String == "revoked")
        let again = try await Self.zgproxy(["keys", "rotate", keyID], environment)
        #expect(again.status == 64 && again.stderr.contains("revoked"))

        let usage = try await Self.zgproxy(["usage", "--user", userID, "--since", "7d", "--group-by", "model", "--json"], environment)
        try #expect(usage.status == 0 && usage.json()["total_requests"] as? Int == 0)
        let badGroup = try await Self.zgproxy(["usage", "--group-by", "planet"], environment)
        #expect(badGroup.status == 64 && badGroup.stderr.contains("group_by"))
        let missing = try await Self.zgproxy(["keys", "revoke", "key_missing"], environment)
        #expect(missing.status == 64 && missing.stderr.contains("No such key"))
        let noOwner = try await Self.zgproxy(["keys", "create"], environment)
        #expect(noOwner.status == 64)
        let deleted = try await Self.zgproxy(["users", "delete", userID], environment)
        #expect(deleted.status == 0)
    }

    @Test("against a running gateway: keys made with --gateway work there, and usage reports them")
    func remoteGateway() async throws {
        let sandbox = try await CLITests.world.get()
        let port = Int.random(in: 20_000..<60_000)
        let admin = "cli-admin-token-0123456789abcdef"
        var environment = CLIRunner.environment(sandbox, wallet: sandbox.wallet)
        environment["ADMIN_TOKEN"] = admin
        environment["ZG_AUTO_FUND"] = "false"
        environment["USAGE_FLUSH_MILLISECONDS"] = "50"
        environment["DATA_DIR"] = NSTemporaryDirectory() + "zgproxy-cli-" + UUID().uuidString
        let server = Process()
        server.executableURL = try #require(CLIRunner.binary)
        server.arguments = ["serve", "--port", String(port)] + Self.noEnvFile
        server.environment = environment.merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"]) { $1 }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        var up = false
        for _ in 0..<200 where !up {
            up = (try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(2)))?.status == .ok
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(up)
        let gateway = ["--gateway", "http://127.0.0.1:\(port)"]
        let key = try await Self.zgproxy(["keys", "create", "--address", PrivateKey.random().address.checksummed, "--json"] + gateway, environment)
        #expect(key.status == 0, "\(key.stderr)")
        let secret = try #require(try key.json()["key"] as? String)
        let keyID = try #require(try key.json()["id"] as? String)

        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(secret)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"model":"qwen-2.5-7b-instruct","messages":[{"role":"user","content":"hi"}]}"#))
        #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(30)).status == .ok)

        var requests = 0
        for _ in 0..<50 where requests == 0 {
            let usage = try await Self.zgproxy(["usage", "--key", keyID, "--group-by", "total", "--json"] + gateway, environment)
            requests = (try? usage.json()["total_requests"] as? Int) ?? 0
            if requests == 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(requests == 1)
        var wrong = environment
        wrong["ADMIN_TOKEN"] = "not-the-token"
        let refused = try await Self.zgproxy(["keys", "list"] + gateway, wrong)
        #expect(refused.status == 64 && refused.stderr.contains("ADMIN_TOKEN"))
        kill(server.processIdentifier, SIGTERM)
    }
}
