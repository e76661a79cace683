import AsyncHTTPClient
import EVM
import Foundation
import NIOCore
import NIOHTTP1

/// A whole local 0G world from `Fixtures/zerog/sandbox.py`: a devchain with the 0G contracts,
/// simulated providers registered on chain, and a demo wallet with a funded ledger.
public final class Sandbox: LocalChain {
    /// A simulated provider of the sandbox.
    public struct Provider: Sendable {
        public let address: Address
        public let url: String
        public let model: String
        public let teeSigner: Address
        public let inputPrice: UInt256
        public let outputPrice: UInt256
        public let usable: Bool
    }

    public let rpcURL: String
    public let chainID: UInt64
    public let ledgerContract: Address
    public let inferenceContract: Address
    public let serviceName: String
    public let lockTime: UInt64
    public let owner: PrivateKey
    /// The demo wallet: ledger funded, sub-accounts with every usable provider.
    public let wallet: PrivateKey
    public let providers: [Provider]
    public let client: JSONRPCClient
    /// Sends from the owner (devchain account 0); shared so tests get distinct nonces.
    public let funder: TransactionSender
    private let fixture: FixtureProcess

    public init(arguments: [String] = []) async throws {
        let fixture = try await FixtureProcess(
            script: "zerog/sandbox.py", arguments: ["--exit-with-parent", "--quiet"] + arguments, readyPrefix: "SANDBOX", timeout: .seconds(120)
        )
        let ready = fixture.ready
        func string(_ key: String) throws -> String {
            guard let value = ready[key] as? String else { throw FixtureError("SANDBOX READY lacks \(key)") }
            return value
        }
        func key(_ object: Any?) throws -> PrivateKey {
            guard let hex = (object as? [String: Any])?["privateKey"] as? String else { throw FixtureError("SANDBOX READY lacks a key") }
            return try PrivateKey(hex: hex)
        }
        self.fixture = fixture
        rpcURL = try string("rpc")
        chainID = UInt64(ready["chainId"] as? Int ?? 0)
        ledgerContract = try Address(hex: try string("ledger"))
        inferenceContract = try Address(hex: try string("inference"))
        serviceName = try string("serviceName")
        lockTime = UInt64(ready["lockTime"] as? Int ?? 0)
        owner = try key(ready["owner"])
        wallet = try key(ready["wallet"])
        providers = try (ready["providers"] as? [[String: Any]] ?? []).map { entry in
            Provider(
                address: try Address(hex: entry["provider"] as? String ?? ""), url: entry["url"] as? String ?? "",
                model: entry["model"] as? String ?? "", teeSigner: try Address(hex: entry["teeSigner"] as? String ?? ""),
                inputPrice: UInt256(decimal: entry["inputPrice"] as? String ?? "") ?? .zero,
                outputPrice: UInt256(decimal: entry["outputPrice"] as? String ?? "") ?? .zero,
                usable: entry["usable"] as? Bool ?? false
            )
        }
        client = JSONRPCClient(url: rpcURL, httpClient: .shared)
        funder = TransactionSender(client: client, key: owner, chainID: chainID)
    }

    /// Calls a simulator's admin endpoint (`/__sim/faults`, `/__sim/settle`, `/__sim/state`).
    @discardableResult
    public func simulator(_ provider: Provider, _ path: String, json: String? = nil) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: provider.url + path)
        request.method = json == nil ? .GET : .POST
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        guard let object = try JSONSerialization.jsonObject(with: Data(Array(buffer: body))) as? [String: Any] else {
            throw FixtureError("\(path) did not answer a JSON object")
        }
        return object
    }

    public func stop() { fixture.stop() }
}
