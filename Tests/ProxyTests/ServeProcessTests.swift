import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// `zgproxy serve` as a person runs it: the built binary, its start-up checks, the sandbox
/// banner and graceful shutdown on SIGTERM.
@Suite("zgproxy serve", .serialized)
struct ServeProcessTests {
    static var binary: String { FixturePaths.root.appendingPathComponent(".build/debug/zgproxy").path }

    /// Starts the binary with `environment` (on top of a minimal one) and collects its stderr.
    final class Server: @unchecked Sendable {
        let process = Process()
        private let output = Pipe()
        private let lock = NSLock()
        private var text = ""

        init(arguments: [String], environment: [String: String]) throws {
            process.executableURL = URL(fileURLWithPath: ServeProcessTests.binary)
            process.arguments = arguments
            process.currentDirectoryURL = FixturePaths.root
            var env = [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory(),
                // Each server its own SQLite file, never the repository's ./data.
                "DATA_DIR": NSTemporaryDirectory() + "zgproxy-test-" + UUID().uuidString,
            ]
            env.merge(environment) { $1 }
            process.environment = env
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
            output.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil; return }
                self?.lock.withLock { self?.text += String(decoding: data, as: UTF8.self) }
            }
            try process.run()
        }

        var log: String { lock.withLock { text } }

        /// Waits until the log contains `marker` or the process exits.
        func wait(for marker: String, seconds: Double = 60) async throws -> Bool {
            for _ in 0..<Int(seconds * 20) {
                if log.contains(marker) { return true }
                if !process.isRunning { return false }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        func waitForExit(seconds: Double = 30) async throws -> Int32? {
            for _ in 0..<Int(seconds * 20) where process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            return process.isRunning ? nil : process.terminationStatus
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    /// A port below Linux's ephemeral range (32768+), so no outgoing connection of another
    /// test takes it meanwhile.
    static func freePort() -> Int { Int.random(in: 20_000..<32_000) }

    @Test("a bad setting stops start-up with one line naming it")
    func badSetting() async throws {
        let server = try Server(arguments: ["serve", "--env-file", "/nonexistent"], environment: ["ZG_NETWORK": "moon"])
        #expect(try await server.waitForExit() != 0)
        let lines = server.log.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count == 1, "\(server.log)")
        #expect(server.log.contains("ZG_NETWORK") && server.log.contains("mainnet, testnet or custom"))
        let keyless = try Server(arguments: ["serve", "--env-file", "/nonexistent"], environment: ["ZG_NETWORK": "testnet"])
        #expect(try await keyless.waitForExit() != 0)
        #expect(keyless.log.contains("PRIVATE_KEY"))
        // A malformed DATABASE_URL is named, and its password never repeated.
        let database = try Server(
            arguments: ["serve", "--env-file", "/nonexistent"],
            environment: ["ZG_NETWORK": "testnet", "PRIVATE_KEY": "0x" + String(repeating: "11", count: 32), "DATABASE_URL": "mysql://ada:hunter2@db/zg"]
        )
        #expect(try await database.waitForExit() != 0)
        #expect(database.log.contains("DATABASE_URL") && !database.log.contains("hunter2"), "\(database.log)")
    }

    @Test("with no network configured it serves the sandbox, says so, and stops cleanly on SIGTERM mid-stream")
    func sandboxAndGracefulShutdown() async throws {
        let port = Self.freePort()
        // Streams paced at 20 tokens a second, so one is still running when SIGTERM comes.
        let server = try Server(
            arguments: ["serve", "--env-file", "/nonexistent", "--port", String(port)], environment: ["ZG_SANDBOX_ARGS": "--tokens-per-second 20"]
        )
        #expect(try await server.wait(for: "Server started"), "\(server.log)")
        #expect(server.log.contains("LOCAL SANDBOX"))
        #expect(server.log.contains("base URL: http://127.0.0.1:\(port)/v1"))
        #expect(server.log.contains("curl -s http://127.0.0.1:\(port)/v1/chat/completions -H 'Authorization: Bearer sk-zg-sandbox'"))
        let health = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(5))
        #expect(String(buffer: try await health.body.collect(upTo: 1 << 16)).contains(#""sandbox":true"#))

        // A stream in flight when SIGTERM arrives still completes.
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer sk-zg-sandbox")
        request.headers.add(name: "Content-Type", value: "application/json")
        let words = Array(repeating: "w", count: 30).joined(separator: " ")
        request.body = .bytes(ByteBuffer(string: #"{"model":"qwen-2.5-7b-instruct","stream":true,"messages":[{"role":"user","content":"\#(words)"}]}"#))
        let started = ContinuousClock.now
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        kill(server.process.processIdentifier, SIGTERM)
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(body.hasSuffix("data: [DONE]\n\n"))
        #expect(ContinuousClock.now - started > .milliseconds(1000), "the stream should have been in flight during shutdown")
        #expect(try await server.waitForExit() == 0, "\(server.log)")
    }
}
