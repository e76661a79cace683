import AsyncHTTPClient
import EVM
import Foundation
import Logging
import NIOCore
import ZGBroker

/// The settings a command runs with, read exactly as `serve` reads them: the process
/// environment over the `.env` file, then ``ZGNetwork/from(_:)``, ``Environment/privateKey()``
/// and ``BrokerConfiguration/init(network:privateKey:environment:)``.
///
/// Unlike `serve`, commands never start the sandbox: a command that silently moved funds on a
/// throw-away chain would be worse than one that says what to set.
struct CLIContext {
    /// Whether a command needs the wallet's key.
    enum WalletNeed {
        /// Moves funds or signs: PRIVATE_KEY must be set.
        case required
        /// Only reads public data; the wallet's own data is shown when a key is set.
        case optional
    }

    let environment: Environment
    let network: ZGNetwork
    let configuration: BrokerConfiguration
    /// False when no key was configured and a throw-away key stands in (read-only commands).
    let hasWallet: Bool
    let logger: Logger
    /// Fed by ``logger`` with the hash of each transaction sent.
    let transactions: TransactionWatch

    static let noNetworkHelp = """
        no 0G network configured: set ZG_NETWORK (mainnet | testnet | custom) or ZG_CHAIN_RPC, and PRIVATE_KEY, \
        in the environment or the .env file. For the local sandbox, start it (.venv/bin/python Fixtures/zerog/sandbox.py) \
        and set ZG_NETWORK=custom, ZG_CHAIN_RPC, ZG_LEDGER_CONTRACT, ZG_INFERENCE_CONTRACT and PRIVATE_KEY from its READY line \
        (only `zgproxy serve` starts a sandbox by itself)
        """

    static let noKeyHelp = "PRIVATE_KEY is not set: set it (or ZG_PRIVATE_KEY) to the wallet that pays, in the environment or the .env file"

    /// Reads the settings; every problem is a usage error (exit 64) naming the setting.
    static func load(_ options: GlobalOptions, wallet: WalletNeed = .required) throws(CLIFailure) -> CLIContext {
        do {
            let environment = try Environment.load(dotEnvPath: options.envFile)
            guard let network = try ZGNetwork.from(environment) else { throw CLIFailure.usage(noNetworkHelp) }
            let key: PrivateKey
            let hasWallet: Bool
            if let configured = try environment.privateKey() {
                key = configured
                hasWallet = true
            } else if wallet == .optional {
                key = PrivateKey.random()
                hasWallet = false
            } else {
                throw CLIFailure.usage(noKeyHelp)
            }
            var configuration = try BrokerConfiguration(network: network, privateKey: key, environment: environment)
            // A command runs once and exits: no background funding, and (unless ZG_VERIFY says
            // otherwise) every response is verified, since one extra request is cheap here.
            configuration.autoFund = false
            if environment["ZG_VERIFY"] == nil { configuration.verification = .sampled(1) }
            let debug = (try? environment.bool("DEBUG", default: false)) ?? false
            let transactions = TransactionWatch()
            return CLIContext(
                environment: environment, network: network, configuration: configuration, hasWallet: hasWallet,
                logger: Logger(label: "zgproxy") { label in CLILogHandler(label: label, printLevel: debug ? .debug : .warning, watch: transactions) },
                transactions: transactions
            )
        } catch let error as CLIFailure {
            throw error
        } catch {
            throw CLIFailure(error)
        }
    }

    var wallet: Address { configuration.privateKey.address }

    /// An HTTP client for the RPC and the providers: a refused connection fails at once (the
    /// RPC client retries by itself), and streams may idle as long as IDLE_TIMEOUT_SECONDS, as
    /// in `serve`.
    func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        let connect = (try? environment.seconds("CONNECT_TIMEOUT_SECONDS", default: 10)) ?? 10
        let idle = (try? environment.seconds("IDLE_TIMEOUT_SECONDS", default: 120)) ?? 120
        configuration.timeout = .init(connect: .milliseconds(Int64(connect * 1000)), read: .milliseconds(Int64(idle * 1000)))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Connects to the network and runs `body` with the broker; the HTTP client is shut down
    /// afterwards whatever happens.
    func withBroker<T>(_ body: (ZGBroker) async throws -> T) async throws -> T {
        try await withHTTPClient { client in
            let broker = try await ZGBroker.connect(configuration: configuration, httpClient: client, logger: logger)
            return try await body(broker)
        }
    }

    func withHTTPClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        let client = makeHTTPClient()
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
