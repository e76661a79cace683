import AsyncHTTPClient
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

/// OpenAI-compatible endpoints beside 0G: discovery, routing by priority, failover across
/// backends, forwarding untouched with the endpoint's key.
@Suite("OpenAI-compatible endpoints", .serialized)
struct EndpointTests {
    static func simulator(models: String, key: String) async throws -> (FixtureProcess, String) {
        let process = try await FixtureProcess(
            script: "backends/openai_sim.py", arguments: ["--models", models, "--api-key", key, "--exit-with-parent"], readyPrefix: "OPENAI"
        )
        return (process, try #require(process.ready["url"] as? String))
    }

    static func state(_ url: String) async throws -> [String: Any] {
        let object = try await HTTPClientJSON.get(url + "/__sim/state")
        return object
    }

    @Test("configuration forms: ENDPOINTS object and list, TARGET_OPENAI_URL, a config file; bad ones name the setting")
    func configuration() throws {
        let fromObject = try EndpointConfiguration.all(from: Environment(["ENDPOINTS": #"{"http://a.example/v1":"k1","https://b.example:8443/v1":""}"#]))
        #expect(fromObject.map(\.name) == ["a.example", "b.example:8443"])
        #expect(fromObject.map(\.apiKey) == ["k1", nil])
        let fromList = try EndpointConfiguration.all(from: Environment(["ENDPOINTS": "http://a.example/v1, http://c.example/v1"]))
        #expect(fromList.count == 2)
        let single = try EndpointConfiguration.all(from: Environment(["TARGET_OPENAI_URL": "https://api.groq.com/openai/v1", "API_KEY": "g"]))
        #expect(single.first?.baseURL == "https://api.groq.com/openai/v1" && single.first?.apiKey == "g")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString + ".json")
        try #"{"endpoints":[{"name":"groq","type":"openai","baseURL":"https://x.example/v1","apiKeyEnv":"GROQ_KEY","models":["m"],"aliases":{"fast":"m"},"priority":10,"weight":3}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let configured = try EndpointConfiguration.all(from: Environment(["ZGPROXY_CONFIG": file.path, "GROQ_KEY": "secret"]))
        #expect(configured.first == EndpointConfiguration(name: "groq", baseURL: "https://x.example/v1", apiKey: "secret", models: ["m"], aliases: ["fast": "m"], weight: 3, priority: 10))
        for bad in [["ENDPOINTS": "ftp://x"], ["ENDPOINTS": "{not json"], ["ZGPROXY_CONFIG": "/nonexistent.json"], ["TARGET_OPENAI_URL": "nope"]] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try EndpointConfiguration.all(from: Environment(bad)) }
        }
    }

    @Test("models are discovered and merged; requests go to the endpoint with its key, untouched; failover across endpoints")
    func routing() async throws {
        let (first, firstURL) = try await Self.simulator(models: "shared-model,only-first", key: "key-one")
        defer { first.stop() }
        let (second, secondURL) = try await Self.simulator(models: "shared-model", key: "key-two")
        defer { second.stop() }
        let endpoints = [
            EndpointConfiguration(name: "first", baseURL: firstURL + "/v1", apiKey: "key-one", priority: 10),
            EndpointConfiguration(name: "second", baseURL: secondURL + "/v1", apiKey: "key-two", aliases: ["alias-two": "shared-model"], priority: 20),
        ]
        try await GatewayTests.withGateway(configure: { $0.endpoints = endpoints }) { client, _, _ in
            // Discovery runs as the application starts.
            var ids: [String] = []
            for _ in 0..<50 where !ids.contains("only-first") {
                try await Task.sleep(for: .milliseconds(100))
                try await client.execute(uri: "/v1/models", method: .get, headers: GatewayTests.auth) { response in
                    let object = try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any]
                    ids = (object?["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                }
            }
            #expect(ids.contains("only-first") && ids.contains("shared-model") && ids.contains("alias-two") && ids.contains("qwen-2.5-7b-instruct"))

            let body = #"{"model":"shared-model","messages":[{"role":"user","content":"hi there"}],"seed":7,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":false}}]}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "first")
            }
            let seen = try await Self.state(firstURL)
            let last = try #require(seen["lastRequest"] as? [String: Any])
            #expect(last["body"] as? String == body)
            #expect((last["headers"] as? [String: String])?["Authorization"] == "Bearer key-one")

            // The preferred endpoint fails with 5xx: the next one answers.
            _ = try await HTTPClientJSON.post(firstURL + "/__sim/faults", #"{"mode":"5xx","count":1}"#)
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "second")
            }
            // An alias is rewritten to the upstream's id; streams keep working.
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: ByteBuffer(string: #"{"model":"alias-two","stream":true,"messages":[{"role":"user","content":"stream"}]}"#)) { response in
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "second")
                let text = String(buffer: response.body)
                #expect(text.hasSuffix("data: [DONE]\n\n") && !text.contains("usage"))
            }
            let secondSeen = try await Self.state(secondURL)
            #expect(((secondSeen["lastRequest"] as? [String: Any])?["body"] as? String)?.contains(#""model":"shared-model""#) == true)
            // 0G models still route to 0G.
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("qwen-2.5-7b-instruct")) { response in
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!]?.hasPrefix("0x") == true)
            }
            try await client.execute(uri: "/v1/endpoints", method: .get, headers: GatewayTests.auth) { response in
                let object = try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any]
                let names = (object?["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(names == ["0g", "first", "second"])
            }
        }
    }
}

extension EndpointTests {
    @Test("an OCF head: models from the DNT table (both shapes), chat and streams through its workers, errors in the OpenAI envelope")
    func ocfHead() async throws {
        let current = try await FixtureProcess(
            script: "backends/ocf_head_sim.py", arguments: ["--models", "swiss-ai/Apertus-8B,ocf-only", "--wildcard", "--exit-with-parent"], readyPrefix: "OCF"
        )
        defer { current.stop() }
        let legacy = try await FixtureProcess(
            script: "backends/ocf_head_sim.py", arguments: ["--models", "legacy-model", "--shape", "legacy", "--exit-with-parent"], readyPrefix: "OCF"
        )
        defer { legacy.stop() }
        let currentURL = try #require(current.ready["url"] as? String)
        let legacyURL = try #require(legacy.ready["url"] as? String)
        let endpoints = [
            EndpointConfiguration(name: "ocf", kind: .ocf, baseURL: currentURL),
            EndpointConfiguration(name: "ocf-legacy", kind: .ocf, baseURL: legacyURL),
        ]
        try await GatewayTests.withGateway(configure: { $0.endpoints = endpoints }) { client, _, _ in
            var ids: [String] = []
            for _ in 0..<50 where !(ids.contains("ocf-only") && ids.contains("legacy-model")) {
                try await Task.sleep(for: .milliseconds(100))
                try await client.execute(uri: "/v1/models", method: .get, headers: GatewayTests.auth) { response in
                    let object = try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any]
                    ids = (object?["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                }
            }
            #expect(ids.contains("swiss-ai/Apertus-8B") && ids.contains("ocf-only") && ids.contains("legacy-model"))
            #expect(!ids.contains("sim/offline-model") && !ids.contains("*"))
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth,
                                     body: ByteBuffer(string: #"{"model":"swiss-ai/Apertus-8B","messages":[{"role":"user","content":"hello ocf"}]}"#)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "ocf")
                #expect(String(buffer: response.body).contains("Echo: hello ocf"))
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth,
                                     body: ByteBuffer(string: #"{"model":"legacy-model","stream":true,"messages":[{"role":"user","content":"stream ocf"}]}"#)) { response in
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "ocf-legacy")
                let text = String(buffer: response.body)
                #expect(text.contains("data: [DONE]") && !text.contains("usage"))
            }
            // The head degrades: its {"error": "…"} 503 becomes an OpenAI envelope (no other endpoint serves the model).
            _ = try await HTTPClientJSON.post(currentURL + "/__sim/faults", #"{"mode":"5xx","count":1}"#)
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth,
                                     body: ByteBuffer(string: #"{"model":"ocf-only","messages":[{"role":"user","content":"x"}]}"#)) { response in
                #expect(response.status.code >= 500)
                let object = try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: [String: Any]]
                #expect(object?["error"]?["message"] as? String != nil && object?["error"]?["code"] is String)
            }
        }
    }

    @Test("DNT tables of both shapes yield the served models only")
    func dntTable() {
        let current: [String: Any] = [
            "/QmHead": ["id": "QmHead", "connected": true, "service": NSNull()],
            "/QmA": ["id": "QmA", "connected": true, "service": [["name": "llm", "identity_group": ["model=a/b"]]]],
            "/QmB": ["id": "QmB", "connected": false, "service": [["name": "llm", "identity_group": ["model=gone"]]]],
            "/QmC": ["id": "QmC", "connected": true, "service": [["name": "diffusion", "identity_group": ["model=img"]], ["name": "llm", "identity_group": ["model=*", "all"]]]],
        ]
        #expect(OpenAIEndpoint.ocfModels(current) == ["a/b"])
        let legacy: [String: Any] = ["peers": [["peer_id": "QmX", "service": [["name": "llm", "identity_group": ["model=x"]]]]]]
        #expect(OpenAIEndpoint.ocfModels(legacy) == ["x"])
    }
}

/// Small JSON helpers over AsyncHTTPClient for simulator admin routes.
enum HTTPClientJSON {
    static func get(_ url: String) async throws -> [String: Any] {
        try await send(url, body: nil)
    }

    static func post(_ url: String, _ json: String) async throws -> [String: Any] {
        try await send(url, body: json)
    }

    private static func send(_ url: String, body: String?) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: url)
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return (try JSONSerialization.jsonObject(with: Data(Array(buffer: bytes))) as? [String: Any]) ?? [:]
    }
}

