import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Prometheus
import Synchronization
import Testing
import SwiftASN1
import TestSupport
import X509
import ZGBroker
@testable import Proxy

/// The direct relay answers whole JSON requests on the connection's event loop; whatever it
/// cannot answer from memory goes to the router. Both must look the same to a client.
@Suite("Direct relay", .serialized)
struct DirectRelayTests {
    static func counter(_ registry: PrometheusCollectorRegistry, _ outcome: String) -> Int {
        var buffer = [UInt8]()
        registry.emit(into: &buffer)
        let prefix = #"zgproxy_direct_relay_total{outcome="\#(outcome)"} "#
        let line = String(decoding: buffer, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test("warm requests are answered directly with the router's headers, usage and limits; refusals go to the router and count once")
    func answersLikeTheRouter() async throws {
        let accounts = try await AccountFixtures.accounts(authToken: GatewayTests.key)
        try await GatewayTests.withGateway(accounts: accounts) { client, _, registry in
            let (secret, keyID, _) = try await AccountGatewayTests.makeKey(client, keyLimits: ["rpm": 3])
            try await AccountFixtures.awayFromMinuteBoundary(needing: 10)
            var remaining: [String] = []
            for _ in 0..<3 {
                let answer = try await AccountGatewayTests.chat(client, key: secret)
                #expect(answer.status == .ok)
                #expect(answer.headers[HTTPField.Name("x-zgproxy-provider")!]?.hasPrefix("0x") == true)
                #expect(answer.headers[.contentType]?.hasPrefix("application/json") == true)
                #expect(answer.headers[HTTPField.Name("x-request-id")!]?.hasPrefix("req_") == true)
                #expect(answer.headers[HTTPField.Name("ZG-Res-Key")!] != nil)
                #expect(answer.headers[.date] != nil && answer.headers[.server] == "zgproxy")
                remaining.append(answer.headers[HTTPField.Name("x-ratelimit-remaining-requests")!] ?? "")
                let object = try AccountGatewayTests.json(answer)
                #expect(object["object"] as? String == "chat.completion")
            }
            #expect(remaining == ["2", "1", "0"])
            // The first request read the key from the store (the router); the next two were answered directly.
            #expect(Self.counter(registry, "answered") == 2)
            // The fourth is refused: the relay hands it over and the router answers the 429.
            let refused = try await AccountGatewayTests.chat(client, key: secret)
            #expect(refused.status == .tooManyRequests)
            #expect(AccountGatewayTests.code(refused) == "rate_limit_exceeded")
            // Handed over: the first (its key was not cached yet) and the refused one.
            #expect(Self.counter(registry, "handed_over") == 2)

            for _ in 0..<200 where accounts.recorder.pendingCount < 4 { try await Task.sleep(for: .milliseconds(10)) }
            await accounts.recorder.flush()
            let logged = try await accounts.store.database.query("SELECT * FROM usage_log WHERE key_id = $1 ORDER BY id", .text(keyID))
            #expect(logged.map { $0.int("status") } == [200, 200, 200, 429])
            #expect(logged.prefix(3).allSatisfy { $0.text("backend") == "0g" && ($0.int("prompt_tokens") ?? 0) > 0 && ($0.int("cost") ?? 0) > 0 })
            // The same request costs the same whichever path metered it (the first took the router).
            #expect(Set(logged.prefix(3).map { [$0.int("cost"), $0.int("prompt_tokens"), $0.int("completion_tokens")] }).count == 1)
            #expect(Set(logged.prefix(3).map { $0.text("provider") }).count == 1)
        }
        await accounts.close()
    }

    @Test("warm requests make no chain call, and the body reaches the 0G provider as the client wrote it")
    func requestPathStaysInMemory() async throws {
        let sandbox = try await GatewayTests.world.get()
        // Every JSON-RPC call of the gateway goes through this relay, which counts them.
        let calls = Atomic<Int>(0)
        let router = Router()
        router.post("/") { request, _ -> Response in
            calls.add(1, ordering: .relaxed)
            var forwarded = HTTPClientRequest(url: sandbox.rpcURL)
            forwarded.method = .POST
            forwarded.headers.add(name: "Content-Type", value: "application/json")
            forwarded.body = .bytes(try await request.body.collect(upTo: 1 << 24))
            let answer = try await HTTPClient.shared.execute(forwarded, timeout: .seconds(60))
            let body = try await answer.body.collect(upTo: 1 << 24)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { rpc in
            let rpcURL = "http://127.0.0.1:\(try #require(rpc.port))"
            try await GatewayTests.withGateway(rpcURL: rpcURL) { client, _, registry in
                let qwen = try #require(sandbox.providers.first { $0.model == "qwen-2.5-7b-instruct" })
                // Spacing, member order, escapes and number forms a re-serialisation would change.
                let marker = "request-path-\(UInt64.random(in: 0...UInt64.max))"
                let body = #"{ "messages" : [ {"content":"\#(marker) \u00e9t\u00E9","role":"user"} ],"model":"qwen-2.5-7b-instruct","temperature":1.0e0, "max_tokens":16 }"#
                func send() async throws {
                    try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: ByteBuffer(string: body)) { response in
                        #expect(response.status == .ok)
                    }
                }
                // The first requests load the catalog, the ledger and the session token.
                try await send()
                try await send()
                let before = calls.load(ordering: .relaxed)
                let answeredBefore = Self.counter(registry, "answered")
                for _ in 0..<5 { try await send() }
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("qwen-2.5-7b-instruct", stream: true)) { response in
                    #expect(String(buffer: response.body).hasSuffix("data: [DONE]\n\n"))
                }
                #expect(calls.load(ordering: .relaxed) == before, "no JSON-RPC call while serving warm requests, direct or routed")
                #expect(Self.counter(registry, "answered") == answeredBefore + 5, "the JSON requests took the direct relay")
                let recent = try await sandbox.simulator(qwen, "/__sim/state")["recentRequests"] as? [[String: Any]] ?? []
                let bodies = recent.compactMap { $0["body"] as? String }.filter { $0.contains(marker) }
                #expect(!bodies.isEmpty && bodies.allSatisfy { $0 == body }, "forwarded byte for byte")
            }
        }
        #expect(calls.load(ordering: .relaxed) > 0, "the relay saw the gateway's chain calls")
    }

    @Test("pipelined requests are answered in order, whichever path answers each")
    func pipelining() async throws {
        try await GatewayTests.withGateway { client, _, registry in
            // Warm up: the first request mints the session token on the router.
            _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("qwen-2.5-7b-instruct"))
            let port = try #require(client.port)
            let chat = #"{"model":"qwen-2.5-7b-instruct","messages":[{"role":"user","content":"pipelined"}]}"#
            let post = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(GatewayTests.key)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(chat.utf8.count)\r\n\r\n\(chat)"
            let get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            // P G P P G P in one write: the relay answers the POSTs, the router the GETs; a POST
            // after a GET waits for the router's answer to end.
            let order = "PGPPGP"
            let bodies = try await RawHTTP.exchange(port: port, send: order.map { $0 == "P" ? post : get }.joined(), responses: order.count)
            try #require(bodies.count == order.count)
            for (kind, body) in zip(order, bodies) {
                #expect(body.contains(kind == "P" ? "chat.completion" : "\"status\":\"ok\""), "\(kind): \(body)")
            }
            #expect(Self.counter(registry, "answered") == 4)
            // More pipelined requests than the relay queues before it stops reading the socket: all
            // are answered, in order.
            let many = try await RawHTTP.exchange(port: port, send: String(repeating: post + get, count: 300), responses: 600)
            try #require(many.count == 600)
            #expect(many.enumerated().allSatisfy { index, body in body.contains(index % 2 == 0 ? "chat.completion" : "\"status\":\"ok\"") })
        }
    }

    @Test("an answer cut short is a 502 in the OpenAI shape; a client's x-zgproxy-skip is ignored")
    func failures() async throws {
        let cutting = try await OddUpstream.start(.cutsAnswers)
        defer { cutting.stop() }
        let (healthy, healthyURL) = try await EndpointTests.simulator(models: "steady-model", key: "k")
        defer { healthy.stop() }
        let endpoints = [
            EndpointConfiguration(name: "cutting", baseURL: "http://127.0.0.1:\(cutting.port)/v1", models: ["cut-model"]),
            EndpointConfiguration(name: "steady", baseURL: healthyURL + "/v1", apiKey: "k", models: ["steady-model"]),
        ]
        try await GatewayTests.withGateway(configure: { $0.endpoints = endpoints }) { client, _, registry in
            // The first request loads the 0G catalog (on the router); the relay needs it in memory.
            _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("steady-model"))
            let cut = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("cut-model"))
            #expect(cut.status == .badGateway)
            try GatewayTests.expectCode(cut, "upstream_error")
            #expect(Self.counter(registry, "answered") == 1)
            #expect(Self.counter(registry, "handed_over") == 1)

            var skipping = GatewayTests.auth
            skipping[HTTPField.Name("x-zgproxy-skip")!] = "steady"
            let direct = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: skipping, body: GatewayTests.chat("steady-model"))
            #expect(direct.status == .ok)
            // CORS requests take the router, which would skip the only endpoint if the header reached it.
            skipping[.origin] = "http://app.example"
            let routed = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: skipping, body: GatewayTests.chat("steady-model"))
            #expect(routed.status == .ok && routed.headers[HTTPField.Name("x-zgproxy-provider")!] == "steady")
        }
    }

    @Test("a kept-alive upstream connection closed under a request is retried once on a new one, not counted as a failure")
    func staleConnection() async throws {
        let upstream = try await OddUpstream.start(.closesReusedConnections)
        defer { upstream.stop() }
        let endpoint = EndpointConfiguration(name: "once", baseURL: "http://127.0.0.1:\(upstream.port)/v1", models: ["once-model"])
        try await GatewayTests.withGateway(configure: { $0.endpoints = [endpoint] }) { client, _, registry in
            // The first request loads the 0G catalog (on the router); the relay needs it in memory.
            _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("once-model"))
            for _ in 0..<3 {
                let answer = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("once-model"))
                #expect(answer.status == .ok && String(buffer: answer.body).contains("chatcmpl-once"))
            }
            #expect(Self.counter(registry, "answered") == 3)
            #expect(Self.counter(registry, "handed_over") == 1)
        }
    }

    @Test("upstream timeouts: a stalled body is cut at the read timeout, measured from the request that stalls on a reused connection")
    func timeouts() async throws {
        let upstream = try await OddUpstream.start(.answersOnceThenStalls)
        defer { upstream.stop() }
        let endpoint = EndpointConfiguration(name: "stalling", baseURL: "http://127.0.0.1:\(upstream.port)/v1", models: ["stall-model"])
        try await GatewayTests.withGateway(configure: {
            $0.endpoints = [endpoint]
            $0.firstByteTimeout = .seconds(1)
            $0.idleTimeout = .seconds(1)
        }) { client, _, registry in
            // The first request loads the 0G catalog (on the router); the relay needs it in memory.
            _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("stall-model"))
            // Answered on a new pooled connection, whose timer is now set for a second from here.
            let first = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("stall-model"))
            #expect(first.status == .ok)
            try await Task.sleep(for: .milliseconds(500))
            // The same connection stalls in the body: cut a second after its head, not at the first request's deadline.
            let started = ContinuousClock.now
            let stalled = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("stall-model"))
            let waited = ContinuousClock.now - started
            #expect(stalled.status == .badGateway)
            try GatewayTests.expectCode(stalled, "upstream_error")
            #expect(waited >= .milliseconds(900) && waited < .seconds(10), "cut after \(waited)")
            #expect(Self.counter(registry, "answered") == 2)
        }
    }

    @Test("HTTPS upstreams: the certificate is checked against the system roots plus UPSTREAM_CA_FILE")
    func https() async throws {
        let (certificate, key) = try Self.selfSignedCertificate(for: "localhost")
        let caFile = FileManager.default.temporaryDirectory.appendingPathComponent("zgproxy-ca-\(UUID().uuidString).pem").path
        try certificate.write(toFile: caFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        let server = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
        ))
        let upstream = try await OddUpstream.start(.answers, tls: server)
        defer { upstream.stop() }
        let endpoint = EndpointConfiguration(name: "secure", baseURL: "https://localhost:\(upstream.port)/v1", models: ["once-model"])
        for trusted in [true, false] {
            try await GatewayTests.withGateway(configure: { configuration in
                configuration.endpoints = [endpoint]
                configuration.upstreamCAFile = trusted ? caFile : nil
            }) { client, _, registry in
                // A 0G request loads the catalog; the relay needs it in memory.
                _ = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("qwen-2.5-7b-instruct"))
                let answer = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: GatewayTests.auth, body: GatewayTests.chat("once-model"))
                if trusted {
                    #expect(answer.status == .ok && String(buffer: answer.body).contains("chatcmpl-once"))
                    // Relayed directly (the 0G request before it went to the router, which mints the session token).
                    #expect(Self.counter(registry, "answered") == 1 && Self.counter(registry, "handed_over") == 1)
                } else {
                    // Without the root, the handshake fails and nothing is sent: the endpoint is unreachable.
                    #expect(answer.status == .badGateway)
                    try GatewayTests.expectCode(answer, "upstream_unreachable")
                }
            }
        }
        #expect(throws: ConfigurationError.self) { try ProxyConfiguration(environment: Environment(["UPSTREAM_CA_FILE": "/nonexistent.pem"]), networkName: "x") }
    }

    /// A self-signed P-256 certificate for `host` and its key, both PEM.
    static func selfSignedCertificate(for host: String) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(host) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date() - 3600, notValidAfter: Date() + 3600, issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                SubjectAlternativeNames([.dnsName(host)])
            },
            issuerPrivateKey: .init(key)
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return (PEMDocument(type: "CERTIFICATE", derBytes: serializer.serializedBytes).pemString, key.pemRepresentation)
    }

    @Test("DIRECT_RELAY switches the relay off; JSON member names with escapes are decoded; overhead and request id formats")
    func settings() throws {
        let byDefault = try ProxyConfiguration(environment: Environment(["PORT": "3000"]), networkName: "x")
        let off = try ProxyConfiguration(environment: Environment(["DIRECT_RELAY": "false"]), networkName: "x")
        #expect(byDefault.directRelay && !off.directRelay)
        let body = try JSONBody(Array(#"{"mo\u0064el":"a\"b","plain":"caf\u00e9","raw":"café"}"#.utf8))
        #expect(body.string("model") == "a\"b" && body.string("plain") == "café" && body.string("raw") == "café")
        #expect(UpstreamOrigin.parse("https://api.example.com/v1")?.origin == UpstreamOrigin(host: "api.example.com", port: 443, tls: true))
        #expect(UpstreamOrigin.parse("http://[::1]:8080")?.origin.hostHeader == "[::1]:8080")
        #expect(UpstreamOrigin.parse("http://h:99999/v1") == nil && UpstreamOrigin.parse("ftp://h") == nil)
        // x-zgproxy-overhead-ms and request ids, both written without intermediate strings.
        let overheads = [Duration.zero, .microseconds(5), .microseconds(1_234_567), .nanoseconds(999), .seconds(-1), .seconds(86_400)]
        #expect(overheads.map(InferenceRoutes.milliseconds) == ["0.000", "0.005", "1234.567", "0.000", "0.000", "86400000.000"])
        let ids = (0..<3).map { _ in RequestIDMiddleware.makeID() }
        #expect(Set(ids).count == 3 && ids.allSatisfy { $0.hasPrefix("req_") && $0.utf8.count == 36 && $0.dropFirst(4).allSatisfy(\.isHexDigit) })
    }

    @Test("the relay's own HTTP/1.1 encoding: exact bytes, and no header that could inject another")
    func wire() {
        let origin = UpstreamOrigin(host: "up", port: 8080, tls: false)
        let head = HTTPWire.requestHead(origin: origin, uri: "/v1/chat/completions", authorization: "Bearer k")
        let request = HTTPWire.request(head: head ?? [], body: Array("{}".utf8), allocator: .init())
        #expect(String(buffer: request) == "POST /v1/chat/completions HTTP/1.1\r\nHost: up:8080\r\nContent-Type: application/json\r\n"
            + "Authorization: Bearer k\r\nContent-Length: 2\r\n\r\n{}")
        #expect(HTTPWire.requestHead(origin: UpstreamOrigin(host: "up", port: 443, tls: true), uri: "/x", authorization: nil)
            == Array("POST /x HTTP/1.1\r\nHost: up\r\nContent-Type: application/json\r\n".utf8))
        for authorization in ["Bearer k\r\nX-Evil: 1", "Bearer k\nX", "a\u{0}b", "a\u{7f}b"] {
            #expect(HTTPWire.requestHead(origin: origin, uri: "/v1/x", authorization: authorization) == nil, "\(authorization)")
        }
        for uri in ["/v1/x HTTP/1.1\r\nHost: other", "/v1/x y", ""] {
            #expect(HTTPWire.requestHead(origin: origin, uri: uri, authorization: nil) == nil, "\(uri)")
        }
        #expect(HTTPWire.requestHead(origin: UpstreamOrigin(host: "a\r\nb", port: 80, tls: false), uri: "/x", authorization: nil) == nil)
        let heads = UpstreamRequestHeads(origin: origin, basePath: "/v1")
        let withTab = heads.head(path: "/x", authorization: "Bearer\tk")
        #expect(withTab != nil && withTab == heads.head(path: "/x", authorization: "Bearer\tk"))
        #expect(heads.head(path: "/x", authorization: "Bearer\rk") == nil)
        // A new credential (a rotated session token) gets a head of its own.
        #expect(heads.head(path: "/x", authorization: "Bearer k2") == HTTPWire.requestHead(origin: origin, uri: "/v1/x", authorization: "Bearer k2"))
        for (status, line) in [(HTTPResponseStatus.ok, "200 OK"), (.tooManyRequests, "429 Too Many Requests")] {
            var answer = HTTPWire.Answer(status: status, bodyLength: 2, allocator: .init())
            answer.add(.contentLength, "2")
            #expect(String(buffer: answer.finish(body: ByteBuffer(string: "{}"))) == "HTTP/1.1 \(line)\r\nContent-Length: 2\r\n\r\n{}")
        }
    }
}

/// Writes raw bytes to the gateway and reads `responses` HTTP/1.1 answers (Content-Length bodies),
/// for at most 30 s.
enum RawHTTP {
    static func exchange(port: Int, send: String, responses: Int) async throws -> [String] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        // A gateway that stops answering fails the test (fewer bodies) instead of hanging it.
        let deadline = channel.channel.eventLoop.scheduleTask(in: .seconds(30)) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: send))
            var received = [UInt8]()
            var bodies: [String] = []
            for try await chunk in inbound {
                received += Array(buffer: chunk)
                while let body = takeResponse(&received) { bodies.append(body) }
                if bodies.count == responses { break }
            }
            return bodies
        }
    }

    private static func takeResponse(_ bytes: inout [UInt8]) -> String? {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        guard bytes.count >= end + 4 + length else { return nil }
        let body = String(decoding: bytes[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        bytes.removeFirst(end + 4 + length)
        return body
    }
}

/// A misbehaving upstream on loopback.
final class OddUpstream: Sendable {
    enum Behaviour: Sendable {
        /// Announces a 1,000-byte answer, sends 20 bytes and closes.
        case cutsAnswers
        /// Answers the first request of a connection (keep-alive), and closes the connection when a
        /// second one arrives on it: an idle timeout meeting a request on the way.
        case closesReusedConnections
        /// Answers every request, keeping the connection.
        case answers
        /// Answers the first request of a connection; on the next it sends the head and part of
        /// the body, then nothing.
        case answersOnceThenStalls
    }

    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) { self.channel = channel }

    /// - Parameter tls: serves HTTPS with this context.
    static func start(_ behaviour: Behaviour, tls: NIOSSLContext? = nil) async throws -> OddUpstream {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(Answerer(behaviour: behaviour))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return OddUpstream(channel: channel)
    }

    func stop() { channel.close(promise: nil) }

    private final class Answerer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let behaviour: Behaviour
        var answered = false

        init(behaviour: Behaviour) { self.behaviour = behaviour }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch behaviour {
            case .cutsAnswers:
                let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":\"chatcmpl-cut\","
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            case .answersOnceThenStalls where answered:
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"id\":")), promise: nil)
            case .closesReusedConnections, .answers, .answersOnceThenStalls:
                guard !answered || behaviour != .closesReusedConnections else { return context.close(promise: nil) }
                answered = true
                let json = #"{"id":"chatcmpl-once","object":"chat.completion","model":"once-model","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#
                let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)"
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
            }
        }
    }
}
