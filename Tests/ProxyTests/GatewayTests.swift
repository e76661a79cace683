import AsyncHTTPClient
import EVM
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import Testing
import TestSupport
import ZGBroker
@testable import Proxy

/// The gateway over real HTTP on loopback, in front of the sandbox's chain and simulated providers.
@Suite("Gateway end to end", .serialized)
struct GatewayTests {
    /// Streams paced at 40 tokens a second, so a client can leave in the middle of one.
    static let world = LazyFixture { try await Sandbox(arguments: ["--tokens-per-second", "40"]) }
    static let key = "sk-test-gateway"

    /// Runs `body` against a live gateway on a free port for `wallet` (the sandbox's demo wallet by default).
    /// `accounts` defaults to a fresh in-memory store (its usage is written when a test flushes it).
    static func withGateway(
        wallet: PrivateKey? = nil, accounts: Accounts? = nil, rpcURL: String? = nil, configure: (inout ProxyConfiguration) -> Void = { _ in },
        _ body: @Sendable (_ client: any TestClientProtocol, _ sandbox: Sandbox, _ registry: PrometheusCollectorRegistry) async throws -> Void
    ) async throws {
        let sandbox = try await world.get()
        let network = ZGNetwork(kind: .custom, expectedChainID: nil, rpcURL: rpcURL ?? sandbox.rpcURL, ledgerContract: sandbox.ledgerContract, inferenceContract: sandbox.inferenceContract)
        let broker = try await ZGBroker.connect(
            configuration: BrokerConfiguration(network: network, privateKey: wallet ?? sandbox.wallet, verification: .required, autoFund: false),
            httpClient: .shared
        )
        var configuration = ProxyConfiguration(port: 0, authToken: key, heartbeat: .seconds(2), networkName: "sandbox")
        configure(&configuration)
        let registry = PrometheusCollectorRegistry()
        let ownAccounts = accounts == nil ? try await AccountFixtures.accounts(authToken: configuration.authToken) : nil
        let app = buildApplication(
            configuration: configuration, broker: broker, accounts: accounts ?? ownAccounts!, registry: registry, logger: Logger(label: "test")
        )
        do {
            try await app.test(.live) { client in try await body(client, sandbox, registry) }
        } catch {
            await ownAccounts?.close()
            throw error
        }
        await ownAccounts?.close()
    }

    static func chat(_ model: String, stream: Bool = false, text: String = "hello gateway") -> ByteBuffer {
        ByteBuffer(string: #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"user","content":"\#(text)"}]}"#)
    }

    /// Runs `Fixtures/clients/openai_sdk_check.py` (the official SDKs as clients); returns its
    /// exit status and output.
    static func runClientCheck(_ arguments: [String]) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FixturePaths.python)
        process.arguments = [FixturePaths.fixtures.appendingPathComponent("clients/openai_sdk_check.py").path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: await output.fileHandleForReading.readToEndOffPool(), as: UTF8.self)
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        return (process.terminationStatus, text)
    }

    static let auth: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]

    static func expectCode(_ response: TestResponse, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let found = try errorCode(response)
        #expect(found == code, sourceLocation: sourceLocation)
    }

    static func errorCode(_ response: TestResponse) throws -> String? {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: [String: Any]])
        let error = try #require(object["error"])
        #expect(Set(error.keys) == ["message", "type", "param", "code"])
        return error["code"] as? String
    }

    @Test("the official OpenAI SDK and LangChain work against the gateway",
          .enabled(if: FileManager.default.fileExists(atPath: FixturePaths.fixtures.appendingPathComponent("clients/openai_sdk_check.py").path)))
    func officialClients() async throws {
        try await Self.withGateway { client, _, _ in
            let port = try #require(client.port)
            let (status, text) = try await Self.runClientCheck([
                "--base-url", "http://127.0.0.1:\(port)/v1", "--api-key", Self.key,
                "--model", "qwen-2.5-7b-instruct", "--other-model", "llama-3.3-70b-instruct",
            ])
            #expect(status == 0, "\(text)")
            #expect(text.contains(" 0 failed"), "\(text)")
        }
    }

    @Test("JSON and streamed chat carry the gateway's headers; the stream has no usage unless asked")
    func chat() async throws {
        try await Self.withGateway { client, _, registry in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: Self.chat("qwen-2.5-7b-instruct")) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!]?.hasPrefix("0x") == true)
                #expect(response.headers[HTTPField.Name("x-request-id")!] != nil)
                #expect(response.headers[HTTPField.Name("ZG-Res-Key")!] != nil)
                #expect(Double(response.headers[HTTPField.Name("x-zgproxy-overhead-ms")!] ?? "") != nil)
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: Self.chat("qwen-2.5-7b-instruct", stream: true)) { response in
                let text = String(buffer: response.body)
                #expect(response.headers[.contentType]?.hasPrefix("text/event-stream") == true)
                // Answered within a heartbeat: a normal response with the provider's headers.
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!]?.hasPrefix("0x") == true)
                #expect(text.hasSuffix("data: [DONE]\n\n"))
                #expect(!text.contains("usage"))
            }
            let metrics = String(decoding: registry.emitToBuffer(), as: UTF8.self)
            #expect(metrics.contains("zgproxy_requests_total"))
            #expect(metrics.contains("zgproxy_tokens_total"))
        }
    }

    @Test("a provider failing before the first byte is skipped for the next one of the model")
    func failover() async throws {
        try await Self.withGateway { client, sandbox, registry in
            let qwen = sandbox.providers.filter { $0.model == "qwen-2.5-7b-instruct" }.sorted { $0.inputPrice < $1.inputPrice }
            // The sandbox is shared with the suite's other tests: the fault is for this request only.
            try await sandbox.simulator(qwen[0], "/__sim/faults", json: #"{"mode":"5xx","count":1,"match":"fail over me"}"#)
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: Self.chat("qwen-2.5-7b-instruct", text: "fail over me")) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == qwen[1].address.checksummed)
            }
            let metrics = String(decoding: registry.emitToBuffer(), as: UTF8.self)
            #expect(metrics.contains("zgproxy_failovers_total"))
            #expect(metrics.contains(#"zgproxy_provider_up{provider="\#(qwen[1].address.checksummed)"} 1"#))
        }
    }

    @Test("a stream cut after the first byte ends with an OpenAI error event, not [DONE]")
    func midStreamFailure() async throws {
        try await Self.withGateway { client, sandbox, _ in
            let llama = try #require(sandbox.providers.first { $0.model == "llama-3.3-70b-instruct" })
            try await sandbox.simulator(llama, "/__sim/faults", json: #"{"mode":"drop","count":1,"match":"one two three four"}"#)
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: Self.auth,
                body: Self.chat("llama-3.3-70b-instruct", stream: true, text: "one two three four five six seven")
            ) { response in
                let text = String(buffer: response.body)
                #expect(response.status == .ok)
                #expect(text.contains(#""code":"stream_interrupted""#))
                #expect(!text.contains("[DONE]"))
            }
        }
    }

    @Test("a client leaving mid-stream cancels the upstream request and is recorded as 499")
    func disconnectAndHeartbeat() async throws {
        try await Self.withGateway { client, sandbox, registry in
            let port = try #require(client.port)
            let llama = try #require(sandbox.providers.first { $0.model == "llama-3.3-70b-instruct" })
            let before = try await sandbox.simulator(llama, "/__sim/state")["disconnects"] as? Int ?? 0
            let words = Array(repeating: "word", count: 120).joined(separator: " ")
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(Self.key)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(Self.chat("llama-3.3-70b-instruct", stream: true, text: words))
            let streamRequest = request
            // Read the first chunk of a three-second stream, then walk away.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let response = try await HTTPClient.shared.execute(streamRequest, timeout: .seconds(10))
                    for try await _ in response.body { return }
                }
                try await group.next()
                group.cancelAll()
            }
            var disconnects = before
            for _ in 0..<40 where disconnects == before {
                try await Task.sleep(for: .milliseconds(100))
                disconnects = try await sandbox.simulator(llama, "/__sim/state")["disconnects"] as? Int ?? 0
            }
            #expect(disconnects == before + 1, "the provider never saw the gateway hang up")
            #expect(String(decoding: registry.emitToBuffer(), as: UTF8.self).contains(#"status="499""#))
        }
    }

    @Test("quiet streams get SSE comment heartbeats that clients ignore")
    func heartbeats() async throws {
        // Chunks come every 25 ms; a 10 ms heartbeat fills the gaps.
        try await Self.withGateway(configure: { $0.heartbeat = .milliseconds(10) }) { client, _, _ in
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: Self.auth,
                body: Self.chat("llama-3.3-70b-instruct", stream: true, text: "a b c d e f g h i j k l m n o p")
            ) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(": keep-alive\n\n"))
                #expect(text.hasSuffix("data: [DONE]\n\n"))
            }
        }
    }

    @Test("a provider slow to answer: the gateway answers at once and keeps the stream alive until it does")
    func heartbeatsBeforeTheFirstByte() async throws {
        try await Self.withGateway(configure: { $0.heartbeat = .milliseconds(100) }) { client, sandbox, _ in
            let llama = try #require(sandbox.providers.first { $0.model == "llama-3.3-70b-instruct" })
            try await sandbox.simulator(llama, "/__sim/faults", json: #"{"mode":"slow","delayMs":800,"count":1,"match":"slow to answer"}"#)
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: Self.auth,
                body: Self.chat("llama-3.3-70b-instruct", stream: true, text: "slow to answer")
            ) { response in
                let text = String(buffer: response.body)
                #expect(response.status == .ok)
                #expect(text.hasPrefix(": keep-alive\n\n"))
                #expect(text.hasSuffix("data: [DONE]\n\n"))
            }
        }
    }

    @Test("client mistakes get 4xx in the OpenAI envelope: auth, JSON, model, size, fields")
    func clientErrors() async throws {
        try await Self.withGateway(configure: { $0.bodyLimit = 64 * 1024 }) { client, _, _ in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"], body: Self.chat("qwen-2.5-7b-instruct")) { response in
                #expect(response.status == .unauthorized)
                try Self.expectCode(response, "invalid_api_key")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: ByteBuffer(string: "{not json")) { response in
                #expect(response.status == .badRequest)
                try Self.expectCode(response, "invalid_json")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: Self.chat("no-such-model")) { response in
                #expect(response.status == .notFound)
                try Self.expectCode(response, "model_not_found")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: ByteBuffer(string: #"{"model":"qwen-2.5-7b-instruct"}"#)) { response in
                #expect(response.status == .badRequest)
                try Self.expectCode(response, "missing_required_parameter")
            }
            let huge = #"{"model":"qwen-2.5-7b-instruct","messages":[{"role":"user","content":""# + String(repeating: "x", count: 100_000) + #""}]}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: ByteBuffer(string: huge)) { response in
                #expect(response.status == .contentTooLarge)
                try Self.expectCode(response, "request_too_large")
            }
            try await client.execute(uri: "/v1/models/no-such-model", method: .get, headers: Self.auth) { response in
                #expect(response.status == .notFound)
                try Self.expectCode(response, "model_not_found")
            }
        }
    }

    @Test("a wallet that cannot pay gets 402 with the command that fixes it")
    func noBalance() async throws {
        let sandbox = try await Self.world.get()
        let poor = try await sandbox.fundedKey(ether: 1)
        try await Self.withGateway(wallet: poor) { client, _, _ in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: Self.chat("llama-3.3-70b-instruct")) { response in
                #expect(response.status.code == 402)
                try Self.expectCode(response, "insufficient_funds")
                #expect(response.headers[HTTPField.Name("x-should-retry")!] == "false")
                #expect(String(buffer: response.body).contains("zgproxy ledger transfer --provider"))
            }
            // Two providers for the model, neither funded: still 402, not a generic 503.
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: Self.chat("qwen-2.5-7b-instruct")) { response in
                #expect(response.status.code == 402)
            }
        }
    }

    @Test("models list, model lookup with owned_by and int created, health, readiness and CORS")
    func discoveryAndHealth() async throws {
        try await Self.withGateway(configure: { $0.aliases = ["my-alias": "qwen-2.5-7b-instruct"] }) { client, _, _ in
            try await client.execute(uri: "/v1/models", method: .get, headers: Self.auth) { response in
                let object = try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any]
                let data = object?["data"] as? [[String: Any]] ?? []
                let ids = data.compactMap { $0["id"] as? String }
                #expect(ids.contains("qwen-2.5-7b-instruct") && ids.contains("llama-3.3-70b-instruct") && ids.contains("my-alias"))
                #expect(data.allSatisfy { $0["created"] is Int && $0["owned_by"] is String && $0["object"] as? String == "model" })
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: Self.auth, body: Self.chat("my-alias")) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/health", method: .get) { response in
                let object = try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any] ?? [:]
                #expect(object["status"] as? String == "ok" && object["service"] as? String == "zgproxy" && object["timestamp"] is Int)
                #expect(object["sandbox"] as? Bool == true)
            }
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""status":"ready""#))
            }
            try await client.execute(uri: "/v1/chat/completions", method: .options, headers: [
                .origin: "https://app.example", HTTPField.Name("Access-Control-Request-Method")!: "POST",
            ]) { response in
                #expect(response.headers[HTTPField.Name("Access-Control-Allow-Origin")!] != nil)
            }
        }
    }
}

