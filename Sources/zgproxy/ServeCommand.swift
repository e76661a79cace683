import ArgumentParser
import AsyncHTTPClient
import EVM
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Proxy
import ServiceLifecycle
import UnixSignals
import ZGBroker

/// `zgproxy serve`: the gateway.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the OpenAI-compatible gateway.",
        discussion: """
            With ZG_NETWORK (mainnet | testnet | custom) or ZG_CHAIN_RPC and PRIVATE_KEY set, it serves the real 0G network.
            With neither, it starts the local sandbox (a devchain with the 0G contracts, simulated providers and a funded
            demo wallet) and serves that, offline.
            """
    )

    @Option(help: "Port to listen on (overrides PORT).") var port: Int?
    @Option(help: "Address to bind (overrides HOST).") var host: String?
    @Option(help: "Path of the .env file.") var envFile: String = ".env"

    func run() async throws {
        var environment = try Environment.load(dotEnvPath: envFile)
        if let port { environment.set("PORT", String(port)) }
        if let host { environment.set("HOST", host) }
        var logger = Logger(label: "zgproxy")
        let debug = (try? environment.bool("DEBUG", default: false)) ?? false
        logger.logLevel = debug ? .debug : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = debug ? .debug : .info
            return handler
        }

        // Before anything starts the shared event loops.
        if environment["EVENT_LOOP_THREADS"] != nil {
            NIOSingletons.groupLoopCountSuggestion = try environment.integer("EVENT_LOOP_THREADS", default: System.coreCount, range: 1...1024)
        }

        var sandbox: SandboxProcess? = nil
        defer { sandbox?.stop() }
        let network: ZGNetwork
        let key: PrivateKey
        let networkName: String
        if let configured = try ZGNetwork.from(environment) {
            guard let configuredKey = try environment.privateKey() else {
                throw ConfigurationError(setting: "PRIVATE_KEY", reason: "required when ZG_NETWORK or ZG_CHAIN_RPC is set (the wallet that pays for inference)")
            }
            network = configured
            key = configuredKey
            networkName = configured.kind.rawValue
        } else {
            guard let root = SandboxProcess.repositoryRoot() else {
                throw SandboxError("no network configured and no sandbox found: set ZG_NETWORK and PRIVATE_KEY, or run from the zgproxy repository")
            }
            logger.info("no network configured: starting the local sandbox")
            let started = try SandboxProcess(root: root)
            sandbox = started
            network = ZGNetwork(
                kind: .custom, expectedChainID: nil, rpcURL: started.ready.rpc,
                ledgerContract: try Address(hex: started.ready.ledger), inferenceContract: try Address(hex: started.ready.inference)
            )
            key = try PrivateKey(hex: started.ready.walletKey)
            networkName = "sandbox"
            if environment["AUTH_TOKEN"] == nil { environment.set("AUTH_TOKEN", "sk-zg-sandbox") }
        }
        let brokerConfiguration = try BrokerConfiguration(network: network, privateKey: key, environment: environment)
        let proxyConfiguration = try ProxyConfiguration(environment: environment, networkName: networkName)
        let accountsConfiguration = try AccountsConfiguration(environment: environment)

        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.timeout = .init(connect: .init(proxyConfiguration.connectTimeout), read: .init(proxyConfiguration.idleTimeout))
        // Failover and the RPC client retry themselves; a refused connection should fail at once.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        // Each open stream holds a connection: the default of 8 per host would queue the rest.
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = proxyConfiguration.upstreamConnectionsPerHost
        clientConfiguration.decompression = .disabled
        // No tracer is bootstrapped; without this AHC still builds span attributes (parsing the
        // URL again) for the no-op default on every request.
        clientConfiguration.tracing.tracer = nil
        clientConfiguration.tlsConfiguration = proxyConfiguration.upstreamTLS
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        do {
            let broker = try await ZGBroker.connect(configuration: brokerConfiguration, httpClient: httpClient, logger: logger)
            let accounts = try await Accounts.open(
                configuration: accountsConfiguration, authToken: proxyConfiguration.authToken, chainID: broker.chain.chainID,
                walletKey: key.rawBytes, logger: logger
            )
            // The banner (which scripts and tests wait for) once the port is listening.
            let app = buildApplication(
                configuration: proxyConfiguration, broker: broker, accounts: accounts, registry: PrometheusCollectorRegistry(), logger: logger,
                httpClient: httpClient
            ) { [brokerWallet = broker.wallet, sandbox] _ in
                printBanner(proxyConfiguration, wallet: brokerWallet, sandbox: sandbox, accounts: accountsConfiguration)
            }
            // Shut down in reverse: the server drains first, then the usage recorder writes the rest.
            var serviceConfiguration = ServiceGroupConfiguration(
                services: broker.backgroundServices.map { .init(service: $0) } + [.init(service: accounts.recorder), .init(service: app)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
            )
            serviceConfiguration.maximumGracefulShutdownDuration = proxyConfiguration.shutdownGrace
            do {
                try await ServiceGroup(configuration: serviceConfiguration).run()
            } catch {
                await accounts.close()
                throw error
            }
            await accounts.close()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    private func printBanner(_ configuration: ProxyConfiguration, wallet: Address, sandbox: SandboxProcess?, accounts: AccountsConfiguration) {
        let shownHost = configuration.host == "0.0.0.0" ? "127.0.0.1" : configuration.host
        let base = "http://\(shownHost):\(configuration.port)/v1"
        let key = configuration.authToken.map { sandbox == nil ? "the AUTH_TOKEN you set" : $0 } ?? "any (AUTH_TOKEN is not set: the gateway is open)"
        let model = sandbox?.ready.providers.first?.model ?? "<model>"
        var lines = [
            "",
            sandbox == nil ? "zgproxy is serving the 0G \(configuration.networkName) network" : "zgproxy is serving the LOCAL SANDBOX (a simulated 0G network; nothing here is real money)",
            "  base URL: \(base)",
            "  API key:  \(key)",
            "  wallet:   \(wallet)",
            "  accounts: " + (accounts.databaseURL != nil ? "PostgreSQL (DATABASE_URL)" : "SQLite \(accounts.databasePath ?? ":memory:")")
                + (accounts.adminToken == nil ? "; admin API off (set ADMIN_TOKEN)" : "; admin API at /admin"),
        ]
        if let sandbox {
            lines.append("  models:   " + Set(sandbox.ready.providers.map(\.model)).sorted().joined(separator: ", "))
        }
        let authHeader = configuration.authToken.map { sandbox == nil ? " -H 'Authorization: Bearer $AUTH_TOKEN'" : " -H 'Authorization: Bearer \($0)'" } ?? ""
        lines.append("  try:      curl -s \(base)/chat/completions\(authHeader) -H 'Content-Type: application/json' -d '{\"model\":\"\(model)\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'")
        lines.append("")
        FileHandle.standardError.write(Data(lines.joined(separator: "\n").utf8))
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
