import EVM

/// Everything the broker needs to use 0G on behalf of one wallet.
///
/// ## Configuration keys (environment or `.env`)
/// - `ZG_NETWORK`, `ZG_CHAIN_RPC`, `ZG_LEDGER_CONTRACT`, `ZG_INFERENCE_CONTRACT`: see ``ZGNetwork/from(_:)``.
/// - `PRIVATE_KEY` (secret): the paying wallet.
/// - `ZG_VERIFY`: `off`, `sampled` (10 %), `sampled:<fraction>` or `required` (default `sampled`).
/// - `ZG_CATALOG_TTL_SECONDS`: how long the provider catalog is trusted (default 60).
/// - `ZG_AUTO_FUND`: `true`/`false`, top up provider sub-accounts in the background (default true).
/// - `ZG_FUNDING_BUFFER`: 0G kept above the unsettled fee (default 2).
/// - `ZG_FUNDING_INTERVAL_SECONDS`: how often sub-accounts are checked (default 30).
/// - `ZG_DAILY_FUNDING_CAP`: most 0G auto-funding may move per UTC day (default: no cap).
/// - `ZG_RPC_TIMEOUT_SECONDS`: per JSON-RPC call (default 30).
public struct BrokerConfiguration: Sendable {
    public var network: ZGNetwork
    public var privateKey: PrivateKey
    public var verification: ResponseVerifier.Mode
    public var catalogTTL: Duration
    public var autoFund: Bool
    public var funding: AutoFunder.Configuration
    public var rpc: JSONRPCClient.Configuration
    /// Session token lifetime (the provider accepts at most 24 h).
    public var tokenLifetime: Duration

    public init(
        network: ZGNetwork, privateKey: PrivateKey, verification: ResponseVerifier.Mode = .sampled(0.1),
        catalogTTL: Duration = .seconds(60), autoFund: Bool = true, funding: AutoFunder.Configuration = .init(),
        rpc: JSONRPCClient.Configuration = .init(), tokenLifetime: Duration = .seconds(86_400)
    ) {
        self.network = network
        self.privateKey = privateKey
        self.verification = verification
        self.catalogTTL = catalogTTL
        self.autoFund = autoFund
        self.funding = funding
        self.rpc = rpc
        self.tokenLifetime = tokenLifetime
    }

    /// Reads the keys above. `network` is passed in because "no network configured" means the
    /// sandbox, which the caller resolves first.
    public init(network: ZGNetwork, privateKey: PrivateKey, environment: Environment) throws(ConfigurationError) {
        self.init(network: network, privateKey: privateKey)
        if let text = environment["ZG_VERIFY"] { verification = try ResponseVerifier.Mode(parsing: text) }
        catalogTTL = .seconds(try environment.seconds("ZG_CATALOG_TTL_SECONDS", default: 60))
        autoFund = try environment.bool("ZG_AUTO_FUND", default: true)
        if let buffer = try environment.zeroG("ZG_FUNDING_BUFFER") { funding.buffer = buffer }
        funding.interval = .seconds(try environment.seconds("ZG_FUNDING_INTERVAL_SECONDS", default: 30))
        funding.dailyCap = try environment.zeroG("ZG_DAILY_FUNDING_CAP")
        rpc.timeout = .seconds(try environment.seconds("ZG_RPC_TIMEOUT_SECONDS", default: 30))
    }
}

extension Environment {
    /// A positive number of seconds.
    public func seconds(_ key: String, default value: Double) throws(ConfigurationError) -> Double {
        guard let text = self[key] else { return value }
        guard let number = Double(text), number > 0, number.isFinite else {
            throw ConfigurationError(setting: key, reason: "must be a positive number of seconds (got \"\(text)\")")
        }
        return number
    }

    public func bool(_ key: String, default value: Bool) throws(ConfigurationError) -> Bool {
        guard let text = self[key]?.lowercased() else { return value }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(setting: key, reason: "must be true or false (got \"\(text)\")")
        }
    }

    public func integer(_ key: String, default value: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = self[key] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw ConfigurationError(setting: key, reason: "must be an integer in \(range.lowerBound)…\(range.upperBound) (got \"\(text)\")")
        }
        return number
    }

    /// A decimal 0G amount, in neuron.
    public func zeroG(_ key: String) throws(ConfigurationError) -> UInt256? {
        guard let text = self[key] else { return nil }
        do {
            return try UInt256.zeroG(text)
        } catch {
            throw ConfigurationError(setting: key, reason: "must be a 0G amount such as 1.5 (\(error.reason))")
        }
    }
}
