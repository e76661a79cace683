import Foundation
import NIOSSL
import ZGBroker

/// The gateway's own settings (the 0G ones are ``BrokerConfiguration``'s).
///
/// ## Configuration keys (environment or `.env`)
/// - `HOST` (default `0.0.0.0`), `PORT` (default 3000).
/// - `AUTH_TOKEN` (secret): when set, `/v1/*` requires `Authorization: Bearer <AUTH_TOKEN>`.
/// - `BODY_LIMIT_BYTES`: largest request body (default 33554432, the providers' 32 MiB).
/// - `CONNECT_TIMEOUT_SECONDS` (10), `FIRST_BYTE_TIMEOUT_SECONDS` (120),
///   `IDLE_TIMEOUT_SECONDS` (120, between stream chunks), `TOTAL_TIMEOUT_SECONDS` (1800).
/// - `HEARTBEAT_SECONDS`: SSE comment sent when a stream is quiet this long (15).
/// - `SHUTDOWN_GRACE_SECONDS`: how long in-flight streams may finish on SIGTERM (30).
/// - `CORS_ORIGINS`: `*` (default), or a comma-separated list of allowed origins.
/// - `MODEL_ALIASES`: JSON object of alias → model id or provider address.
/// - `UPSTREAM_MAX_CONNECTIONS`: connections kept per upstream host (1024). Every open stream
///   holds one, so this bounds concurrent streams per provider.
/// - `DEBUG`: `true` for debug logs (and every request on the regular path, so each is logged).
/// - `UPSTREAM_CA_FILE`: PEM file of extra root certificates trusted for HTTPS upstreams (an
///   endpoint behind a private CA), besides the system's.
/// - `DIRECT_RELAY`: `true` (default) answers plain JSON requests whose every step is in memory
///   on the connection's event loop (see `DirectRelayHandler`); `false` sends all through the router.
/// - Endpoints besides 0G: `ZGPROXY_CONFIG`, `ENDPOINTS`, `TARGET_OPENAI_URL` + `API_KEY`
///   (see ``EndpointConfiguration``); `ZG_PRIORITY` places 0G among them (default 100: configured
///   endpoints, at 50 by default, are tried first).
public struct ProxyConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var authToken: String?
    public var bodyLimit: Int
    public var connectTimeout: Duration
    public var firstByteTimeout: Duration
    public var idleTimeout: Duration
    public var totalTimeout: Duration
    public var heartbeat: Duration
    public var shutdownGrace: Duration
    /// nil allows every origin.
    public var corsOrigins: [String]?
    public var aliases: [String: String]
    public var debug: Bool
    /// Shown by `/health` and the banner: `sandbox`, `mainnet`, `testnet`, `custom`.
    public var networkName: String
    /// Connections per upstream host (AsyncHTTPClient's default of 8 would queue the 9th stream).
    public var upstreamConnectionsPerHost: Int = 1024
    /// OpenAI-compatible endpoints served beside 0G.
    public var endpoints: [EndpointConfiguration] = []
    /// 0G's place among the endpoints (lower is tried first).
    public var zeroGPriority: Int = 100
    /// Whether whole JSON answers may take the direct relay (`DIRECT_RELAY`).
    public var directRelay: Bool = true
    /// Extra trusted roots for HTTPS upstreams (`UPSTREAM_CA_FILE`).
    public var upstreamCAFile: String?

    /// TLS for upstream connections, the router's HTTP client and the direct relay alike.
    public var upstreamTLS: TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let upstreamCAFile { tls.additionalTrustRoots = [.file(upstreamCAFile)] }
        return tls
    }

    public init(
        host: String = "0.0.0.0", port: Int = 3000, authToken: String? = nil, bodyLimit: Int = 32 * 1024 * 1024,
        connectTimeout: Duration = .seconds(10), firstByteTimeout: Duration = .seconds(120), idleTimeout: Duration = .seconds(120),
        totalTimeout: Duration = .seconds(1800), heartbeat: Duration = .seconds(15), shutdownGrace: Duration = .seconds(30),
        corsOrigins: [String]? = nil, aliases: [String: String] = [:], debug: Bool = false, networkName: String = "custom"
    ) {
        self.host = host
        self.port = port
        self.authToken = authToken
        self.bodyLimit = bodyLimit
        self.connectTimeout = connectTimeout
        self.firstByteTimeout = firstByteTimeout
        self.idleTimeout = idleTimeout
        self.totalTimeout = totalTimeout
        self.heartbeat = heartbeat
        self.shutdownGrace = shutdownGrace
        self.corsOrigins = corsOrigins
        self.aliases = aliases
        self.debug = debug
        self.networkName = networkName
    }

    /// Reads the keys above; a bad value stops start-up with one line naming it.
    public init(environment: Environment, networkName: String) throws(ConfigurationError) {
        self.init(networkName: networkName)
        host = environment["HOST"] ?? host
        port = try environment.integer("PORT", default: port, range: 0...65535)
        authToken = environment["AUTH_TOKEN"]
        bodyLimit = try environment.integer("BODY_LIMIT_BYTES", default: bodyLimit, range: 1024...1_073_741_824)
        connectTimeout = .seconds(try environment.seconds("CONNECT_TIMEOUT_SECONDS", default: 10))
        firstByteTimeout = .seconds(try environment.seconds("FIRST_BYTE_TIMEOUT_SECONDS", default: 120))
        idleTimeout = .seconds(try environment.seconds("IDLE_TIMEOUT_SECONDS", default: 120))
        totalTimeout = .seconds(try environment.seconds("TOTAL_TIMEOUT_SECONDS", default: 1800))
        heartbeat = .seconds(try environment.seconds("HEARTBEAT_SECONDS", default: 15))
        shutdownGrace = .seconds(try environment.seconds("SHUTDOWN_GRACE_SECONDS", default: 30))
        if let origins = environment["CORS_ORIGINS"], origins != "*" {
            corsOrigins = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let text = environment["MODEL_ALIASES"] {
            guard let data = text.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: String] else {
                throw ConfigurationError(setting: "MODEL_ALIASES", reason: "must be a JSON object of alias to model, e.g. {\"gpt-4o\":\"qwen-2.5-7b-instruct\"}")
            }
            aliases = object
        }
        debug = try environment.bool("DEBUG", default: false)
        directRelay = try environment.bool("DIRECT_RELAY", default: true)
        if let file = environment["UPSTREAM_CA_FILE"] {
            guard (try? NIOSSLCertificate.fromPEMFile(file))?.isEmpty == false else {
                throw ConfigurationError(setting: "UPSTREAM_CA_FILE", reason: "must name a readable PEM file of certificates")
            }
            upstreamCAFile = file
        }
        upstreamConnectionsPerHost = try environment.integer("UPSTREAM_MAX_CONNECTIONS", default: 1024, range: 1...65_536)
        endpoints = try EndpointConfiguration.all(from: environment)
        zeroGPriority = try environment.integer("ZG_PRIORITY", default: 100, range: -1_000_000...1_000_000)
        if let seconds = environment["TIMEOUT"], let value = Double(seconds), value > 0 {
            // The simple form other gateways use: one budget for the whole request.
            totalTimeout = .seconds(value)
            firstByteTimeout = min(firstByteTimeout, .seconds(value))
        }
    }
}
