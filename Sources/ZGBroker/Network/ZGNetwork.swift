import EVM

/// Which 0G chain and contracts to use.
///
/// The presets carry the deployed proxy addresses (`../shared/0g/abi/deployments.json`); a
/// custom network names its own RPC and contracts and learns its chain id from the RPC.
public struct ZGNetwork: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case mainnet, testnet, custom
    }

    public let kind: Kind
    /// The chain id the RPC must report; nil for custom networks (read from the RPC).
    public let expectedChainID: UInt64?
    public let rpcURL: String
    public let ledgerContract: Address
    public let inferenceContract: Address

    public init(kind: Kind, expectedChainID: UInt64?, rpcURL: String, ledgerContract: Address, inferenceContract: Address) {
        self.kind = kind
        self.expectedChainID = expectedChainID
        self.rpcURL = rpcURL
        self.ledgerContract = ledgerContract
        self.inferenceContract = inferenceContract
    }

    /// 0G mainnet "Aristotle", chain 16661.
    public static func mainnet(rpcURL: String = "https://evmrpc.0g.ai") -> ZGNetwork {
        ZGNetwork(
            kind: .mainnet, expectedChainID: 16661, rpcURL: rpcURL,
            ledgerContract: try! Address(hex: "0x2dE54c845Cd948B72D2e32e39586fe89607074E3"),
            inferenceContract: try! Address(hex: "0x47340d900bdFec2BD393c626E12ea0656F938d84")
        )
    }

    /// 0G Galileo testnet, chain 16602.
    public static func testnet(rpcURL: String = "https://evmrpc-testnet.0g.ai") -> ZGNetwork {
        ZGNetwork(
            kind: .testnet, expectedChainID: 16602, rpcURL: rpcURL,
            ledgerContract: try! Address(hex: "0xE70830508dAc0A97e6c087c75f402f9Be669E406"),
            inferenceContract: try! Address(hex: "0xa79F4c8311FF93C06b8CfB403690cc987c93F91E")
        )
    }

    /// Reads `ZG_NETWORK` (mainnet | testnet | custom), `ZG_CHAIN_RPC`, and for custom networks
    /// `ZG_LEDGER_CONTRACT` and `ZG_INFERENCE_CONTRACT`. Returns nil when no network is
    /// configured at all (neither `ZG_NETWORK` nor `ZG_CHAIN_RPC`), which means "the sandbox".
    public static func from(_ environment: Environment) throws(ConfigurationError) -> ZGNetwork? {
        let rpc = environment["ZG_CHAIN_RPC"]
        let kindText = environment["ZG_NETWORK"]?.lowercased()
        if kindText == nil && rpc == nil { return nil }
        if let rpc, !(rpc.hasPrefix("http://") || rpc.hasPrefix("https://")) {
            throw ConfigurationError(setting: "ZG_CHAIN_RPC", reason: "must be an http:// or https:// URL")
        }
        let kind: Kind
        if let kindText {
            guard let parsed = Kind(rawValue: kindText) ?? (kindText == "galileo" ? .testnet : nil) else {
                throw ConfigurationError(setting: "ZG_NETWORK", reason: "must be mainnet, testnet or custom (got \"\(kindText)\")")
            }
            kind = parsed
        } else {
            // Only an RPC: custom if contracts are given, else mainnet's contracts on that RPC.
            kind = environment["ZG_LEDGER_CONTRACT"] != nil ? .custom : .mainnet
        }
        switch kind {
        case .mainnet: return rpc.map { mainnet(rpcURL: $0) } ?? mainnet()
        case .testnet: return rpc.map { testnet(rpcURL: $0) } ?? testnet()
        case .custom:
            guard let rpc else { throw ConfigurationError(setting: "ZG_CHAIN_RPC", reason: "required when ZG_NETWORK=custom") }
            return ZGNetwork(
                kind: .custom, expectedChainID: nil, rpcURL: rpc,
                ledgerContract: try contract("ZG_LEDGER_CONTRACT", environment),
                inferenceContract: try contract("ZG_INFERENCE_CONTRACT", environment)
            )
        }
    }

    private static func contract(_ name: String, _ environment: Environment) throws(ConfigurationError) -> Address {
        guard let text = environment[name] else { throw ConfigurationError(setting: name, reason: "required when ZG_NETWORK=custom") }
        do {
            return try Address(hex: text, strict: true)
        } catch {
            throw ConfigurationError(setting: name, reason: error.reason)
        }
    }
}

extension Environment {
    /// `PRIVATE_KEY` (or `ZG_PRIVATE_KEY`, the official CLI's name): the wallet that pays.
    /// The error never contains the key.
    public func privateKey() throws(ConfigurationError) -> PrivateKey? {
        guard let text = self["PRIVATE_KEY"] ?? self["ZG_PRIVATE_KEY"] else { return nil }
        do {
            return try PrivateKey(hex: text)
        } catch {
            throw ConfigurationError(setting: "PRIVATE_KEY", reason: "not a valid secp256k1 private key (expected 64 hex digits)")
        }
    }
}
