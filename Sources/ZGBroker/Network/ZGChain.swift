import AsyncHTTPClient
import EVM
import Logging

/// A connection to a 0G network: the RPC, its verified chain id, both contracts and the
/// ledger's name for the inference service.
public struct ZGChain: Sendable {
    public let network: ZGNetwork
    public let client: JSONRPCClient
    public let chainID: UInt64
    public let ledger: LedgerManagerContract
    public let inference: InferenceServingContract
    /// The inference service's name in the ledger (`"inference-v1.0"` today), read from
    /// `getServiceInfo`, never assumed.
    public let serviceName: String

    /// Connects: reads the chain id (and checks it against the preset's) and the service name.
    public static func connect(
        network: ZGNetwork, httpClient: HTTPClient, rpcConfiguration: JSONRPCClient.Configuration = .init(),
        logger: Logger = Logger(label: "zg.chain")
    ) async throws(BrokerError) -> ZGChain {
        let client = JSONRPCClient(url: network.rpcURL, httpClient: httpClient, configuration: rpcConfiguration, logger: logger)
        let chainID: UInt64
        do {
            chainID = try await client.chainID()
        } catch {
            throw .chain(error)
        }
        if let expected = network.expectedChainID, expected != chainID {
            throw .invalidResponse("the RPC at \(client.displayHost) is chain \(chainID), not \(network.kind.rawValue) (\(expected))")
        }
        let ledger = LedgerManagerContract(address: network.ledgerContract, client: client)
        let inference = InferenceServingContract(address: network.inferenceContract, client: client)
        let info = try await ledger.serviceInfo(of: network.inferenceContract)
        return ZGChain(network: network, client: client, chainID: chainID, ledger: ledger, inference: inference, serviceName: info.fullName)
    }

    /// A transaction sender for `key` that decodes the 0G contracts' custom errors.
    public func sender(for key: PrivateKey, configuration: TransactionSender.Configuration = .init(), logger: Logger = Logger(label: "zg.tx")) -> TransactionSender {
        TransactionSender(client: client, key: key, chainID: chainID, configuration: configuration, knownErrors: ContractErrors.all, logger: logger)
    }
}
