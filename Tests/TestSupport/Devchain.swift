import AsyncHTTPClient
import EVM
import Foundation

/// The local EVM of `Fixtures/devchain`: a real chain the tests start themselves.
///
/// One chain is shared by every test of a process (``Devchain/shared()``); tests stay
/// independent by each using fresh keys funded through ``fundedKey(ether:)``.
public final class Devchain: LocalChain {
    public let rpcURL: String
    public let chainID: UInt64
    /// The pre-funded accounts' keys, in the order the chain lists them.
    public let accounts: [PrivateKey]
    public let client: JSONRPCClient
    /// Sends from account 0, shared so concurrent tests get distinct nonces.
    public let funder: TransactionSender
    private let fixture: FixtureProcess

    /// Starts a new chain. Extra arguments go to `devchain.py` (e.g. `["--block-time", "1"]`).
    public init(arguments: [String] = []) async throws {
        let fixture = try await FixtureProcess(
            script: "devchain/devchain.py", arguments: ["--port", "0", "--exit-with-parent", "--quiet"] + arguments,
            readyPrefix: "DEVCHAIN"
        )
        guard let rpc = fixture.ready["rpc"] as? String, let chainID = fixture.ready["chainId"] as? Int,
              let accounts = fixture.ready["accounts"] as? [[String: Any]] else {
            throw FixtureError("devchain READY line lacks rpc, chainId or accounts: \(fixture.ready)")
        }
        self.fixture = fixture
        self.rpcURL = rpc
        self.chainID = UInt64(chainID)
        self.accounts = try accounts.map { try PrivateKey(hex: $0["privateKey"] as? String ?? "") }
        self.client = JSONRPCClient(url: rpc, httpClient: HTTPClient.shared)
        self.funder = TransactionSender(client: client, key: self.accounts[0], chainID: UInt64(chainID))
    }

    public func stop() { fixture.stop() }

    /// The chain shared by all tests in this process, started on first use.
    public static func shared() async throws -> Devchain { try await sharedChain.get() }
}

private let sharedChain = LazyFixture { try await Devchain() }
