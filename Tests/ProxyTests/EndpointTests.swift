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
        let example = try EndpointConfiguration.all(from: Environment([
            "ZGPROXY_CONFIG": FixturePaths.fixtures.appendingPathComponent("backends/endpoints.example.json").path,
            "GROQ_API_KEY": "g", "REPLICATE_API_TOKEN": "r",
        ]))
        #expect(example.map(\.kind) == [.openai, .openai, .ocf, .replicate])
        #expect(example.last?.replicateModels["llama-3-70b"]?.maxTokensLimit == 4096)
        #expect(try ProxyConfiguration(environment: Environment(["UPSTREAM_MAX_CONNECTIONS": "2048"]), networkName: "x").upstreamConnectionsPerHost == 2048)
        #expect(throws: ConfigurationError.self) { try ProxyConfiguration(environment: Environment(["UPSTREAM_MAX_CONNECTIONS": "0"]), networkName: "x") }
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
            // The client picks the endpoint: by header, or by a name/ prefix on the model.
            var pinned = GatewayTests.auth
            pinned[HTTPField.Name("X-Host-Final")!] = "second"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: pinned, body: ByteBuffer(string: body)) { response in
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "second")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth,
                                     body: ByteBuffer(string: #"{"model":"second/shared-model","messages":[{"role":"user","content":"hi"}]}"#)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "second")
            }
            pinned[HTTPField.Name("X-Host-Final")!] = "elsewhere.example"
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: pinned, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .badRequest)
                try GatewayTests.expectCode(response, "unknown_host")
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

extension EndpointTests {
    @Test("Replicate: chat becomes a prediction; JSON waits for it, streams are translated as the text arrives, usage from metrics")
    func replicate() async throws {
        let simulator = try await FixtureProcess(
            script: "backends/replicate_sim.py",
            arguments: ["--token", "r8-test", "--models", "meta/meta-llama-3-8b-instruct,acme/no-stream", "--no-stream-models", "acme/no-stream",
                        "--tokens-per-second", "50", "--exit-with-parent"],
            readyPrefix: "REPLICATE"
        )
        defer { simulator.stop() }
        let url = try #require(simulator.ready["url"] as? String)
        var endpoint = EndpointConfiguration(name: "replicate", kind: .replicate, baseURL: url + "/v1", apiKey: "r8-test")
        endpoint.replicateModels = [
            "llama-3-8b": .init(model: "meta/meta-llama-3-8b-instruct", maxTokensLimit: 64, temperatureRange: 0...1),
            "no-stream": .init(model: "acme/no-stream", streams: false),
            "missing": .init(model: "acme/missing"),
        ]
        endpoint.models = endpoint.replicateModels.keys.sorted()
        endpoint.defaultModel = "llama-3-8b"
        try await GatewayTests.withGateway(configure: { $0.endpoints = [endpoint] }) { client, _, _ in
            let body = #"{"model":"llama-3-8b","max_tokens":500,"temperature":1.7,"stop":["END","STOP"],"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello replicate"}]}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "replicate")
                let object = try JSONSerialization.jsonObject(with: Data(Array(buffer: response.body))) as? [String: Any]
                let message = ((object?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
                #expect(message?.contains("hello replicate") == true)
                #expect((object?["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 0 > 0)
            }
            let sent = try #require(try await HTTPClientJSON.get(url + "/__sim/state")["lastRequest"] as? [String: Any])
            let input = try #require((sent["json"] as? [String: Any])?["input"] as? [String: Any])
            #expect(input["prompt"] as? String == "hello replicate" && input["system_prompt"] as? String == "be brief")
            #expect(input["max_tokens"] as? Int == 64 && input["stop_sequences"] as? String == "END,STOP")
            #expect(input["temperature"] as? Double == 1.0)
            // A model no backend serves goes to the default model; 0G models still go to 0G.
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth,
                                     body: ByteBuffer(string: #"{"model":"never-heard-of-it","messages":[{"role":"user","content":"hi"}]}"#)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "replicate")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("qwen-2.5-7b-instruct")) { response in
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!]?.hasPrefix("0x") == true)
            }
            #expect((sent["headers"] as? [String: String])?["Authorization"] == "Bearer r8-test")

            let streamBody = #"{"model":"llama-3-8b","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three four five six"}]}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: ByteBuffer(string: streamBody)) { response in
                let events = String(buffer: response.body).components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }
                #expect(events.last == "data: [DONE]")
                let chunks = events.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any] }
                let deltas = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }
                #expect(deltas.count > 3, "the answer should arrive in pieces")
                #expect(deltas.joined().contains("one two three"))
                #expect((chunks.last?["usage"] as? [String: Any])?["prompt_tokens"] as? Int ?? 0 > 0)
            }
            // A model without streaming still answers a stream request (one delta).
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth,
                                     body: ByteBuffer(string: #"{"model":"no-stream","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)) { response in
                #expect(String(buffer: response.body).hasSuffix("data: [DONE]\n\n"))
            }
            // Replicate's problem details become OpenAI errors.
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth,
                                     body: ByteBuffer(string: #"{"model":"missing","messages":[{"role":"user","content":"hi"}]}"#)) { response in
                #expect(response.status == .notFound)
                try GatewayTests.expectCode(response, "model_not_found")
            }
        }
    }
}

extension EndpointTests {
    @Test("the official OpenAI SDK and LangChain work through the gateway against OpenAI-compatible, OCF and Replicate endpoints")
    func officialClientsOnOtherBackends() async throws {
        let (openai, openaiURL) = try await Self.simulator(models: "sdk-model", key: "key-sdk")
        defer { openai.stop() }
        let ocf = try await FixtureProcess(script: "backends/ocf_head_sim.py", arguments: ["--models", "ocf-sdk-model", "--exit-with-parent"], readyPrefix: "OCF")
        defer { ocf.stop() }
        let ocfURL = try #require(ocf.ready["url"] as? String)
        let replicate = try await FixtureProcess(
            script: "backends/replicate_sim.py", arguments: ["--token", "r8", "--models", "meta/meta-llama-3-8b-instruct", "--exit-with-parent"], readyPrefix: "REPLICATE"
        )
        defer { replicate.stop() }
        var replicateEndpoint = EndpointConfiguration(name: "replicate", kind: .replicate, baseURL: try #require(replicate.ready["url"] as? String) + "/v1", apiKey: "r8")
        replicateEndpoint.replicateModels = ["replicate-sdk-model": .init(model: "meta/meta-llama-3-8b-instruct")]
        replicateEndpoint.models = ["replicate-sdk-model"]
        let endpoints = [
            EndpointConfiguration(name: "sdk", baseURL: openaiURL + "/v1", apiKey: "key-sdk", models: ["sdk-model"]),
            EndpointConfiguration(name: "ocf", kind: .ocf, baseURL: ocfURL, models: ["ocf-sdk-model"]),
            replicateEndpoint,
        ]
        let checks = "models,chat_sync,chat_async,stream_without_usage,stream_with_usage,tools,passthrough_fields,errors,legacy_completions,langchain_chat,responses_json,responses_stream"
        try await GatewayTests.withGateway(configure: { $0.endpoints = endpoints }) { client, _, _ in
            let port = try #require(client.port)
            for model in ["sdk-model", "ocf-sdk-model"] {
                let (status, text) = try await GatewayTests.runClientCheck([
                    "--base-url", "http://127.0.0.1:\(port)/v1", "--api-key", GatewayTests.key, "--model", model, "--backend", "endpoint", "--only", checks,
                ])
                #expect(status == 0 && text.contains(" 0 failed"), "\(model): \(text)")
            }
            // Replicate has no tools or embeddings; the rest works through the translation.
            let (status, text) = try await GatewayTests.runClientCheck([
                "--base-url", "http://127.0.0.1:\(port)/v1", "--api-key", GatewayTests.key, "--model", "replicate-sdk-model", "--backend", "endpoint",
                "--only", "models,chat_sync,chat_async,stream_without_usage,stream_with_usage,legacy_completions,langchain_chat,responses_json,responses_stream",
            ])
            #expect(status == 0 && text.contains(" 0 failed"), "replicate: \(text)")
        }
    }
}

extension EndpointTests {
    @Test("a model served by an endpoint and by 0G fails over from one backend to the other")
    func failoverAcrossBackends() async throws {
        let (endpoint, url) = try await Self.simulator(models: "qwen-2.5-7b-instruct", key: "k")
        defer { endpoint.stop() }
        let configuration = EndpointConfiguration(name: "vllm", baseURL: url + "/v1", apiKey: "k", priority: 10)
        try await GatewayTests.withGateway(configure: { $0.endpoints = [configuration] }) { client, _, _ in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("qwen-2.5-7b-instruct")) { response in
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!] == "vllm")
            }
            _ = try await HTTPClientJSON.post(url + "/__sim/faults", #"{"mode":"5xx","count":1}"#)
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("qwen-2.5-7b-instruct")) { response in
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-zgproxy-provider")!]?.hasPrefix("0x") == true)
            }
        }
    }

    @Test("Replicate: a prediction still running when Prefer: wait ends is polled to completion")
    func replicatePolling() async throws {
        let simulator = try await FixtureProcess(
            script: "backends/replicate_sim.py", arguments: ["--token", "r8", "--models", "meta/meta-llama-3-8b-instruct", "--processing-seconds", "2.5", "--exit-with-parent"],
            readyPrefix: "REPLICATE"
        )
        defer { simulator.stop() }
        let url = try #require(simulator.ready["url"] as? String)
        var endpoint = EndpointConfiguration(name: "replicate", kind: .replicate, baseURL: url + "/v1", apiKey: "r8")
        endpoint.replicateModels = ["slow-llama": .init(model: "meta/meta-llama-3-8b-instruct")]
        endpoint.models = ["slow-llama"]
        // Prefer: wait is bounded by the first-byte timeout (1 s here), shorter than the prediction.
        try await GatewayTests.withGateway(configure: { $0.endpoints = [endpoint]; $0.firstByteTimeout = .seconds(1) }) { client, _, _ in
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth,
                                     body: ByteBuffer(string: #"{"model":"slow-llama","messages":[{"role":"user","content":"take your time"}]}"#)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("take your time"))
            }
            let state = try await HTTPClientJSON.get(url + "/__sim/state")
            let polls = (state["byRoute"] as? [String: Any])?.filter { $0.key.contains("GET") && $0.key.contains("predictions") }.compactMap { $0.value as? Int }.reduce(0, +) ?? 0
            #expect(polls > 0, "\(state["byRoute"] ?? "")")
        }
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

