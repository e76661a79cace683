import AsyncHTTPClient
import EVM
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import ZGBroker

/// ZGBroker against the sandbox: a real chain with the 0G contracts and simulated providers that
/// check every token, balance and signature with an independent implementation (eth-account).
@Suite("ZGBroker end to end", .serialized)
struct BrokerEndToEndTests {
    /// One sandbox for the suite, with more than 50 services so paging is exercised.
    static let world = LazyFixture { try await Sandbox(arguments: ["--extra-services", "55"]) }

    static func broker(_ sandbox: Sandbox, key: PrivateKey, verification: ResponseVerifier.Mode = .required, funding: AutoFunder.Configuration = .init()) async throws -> ZGBroker {
        let network = ZGNetwork(kind: .custom, expectedChainID: nil, rpcURL: sandbox.rpcURL, ledgerContract: sandbox.ledgerContract, inferenceContract: sandbox.inferenceContract)
        let configuration = BrokerConfiguration(network: network, privateKey: key, verification: verification, autoFund: false, funding: funding)
        return try await ZGBroker.connect(configuration: configuration, httpClient: .shared)
    }

    static func chat(_ text: String, model: String, stream: Bool = false) -> [String: Any] {
        ["model": model, "messages": [["role": "user", "content": text]], "stream": stream]
    }

    /// Like real providers, the simulators cache accounts (2 s) and so see revocations late.
    static let simulatorCacheDelay = Duration.milliseconds(2200)

    /// The cheaper of the two providers of the shared model, and the other one.
    static func qwenProviders(_ sandbox: Sandbox) throws -> (cheap: Sandbox.Provider, dear: Sandbox.Provider) {
        let qwen = sandbox.providers.filter { $0.model == "qwen-2.5-7b-instruct" }.sorted { $0.inputPrice < $1.inputPrice }
        try #require(qwen.count == 2)
        return (qwen[0], qwen[1])
    }

    @Test("the catalog pages past 50 services and ranks a model's providers")
    func catalog() async throws {
        let sandbox = try await Self.world.get()
        let broker = try await Self.broker(sandbox, key: sandbox.wallet)
        #expect(broker.chain.serviceName == sandbox.serviceName)
        let snapshot = try await broker.catalog.current()
        #expect(snapshot.services.count == 58)
        let (cheap, dear) = try Self.qwenProviders(sandbox)
        #expect(try await broker.catalog.candidates(for: "qwen-2.5-7b-instruct").map(\.provider) == [cheap.address, dear.address])
        #expect(try await broker.catalog.candidates(for: cheap.address.checksummed).map(\.provider) == [cheap.address])
        #expect(try await broker.catalog.candidates(for: "extra-model-55").count == 1)
        await #expect(throws: BrokerError.self) { try await broker.catalog.candidates(for: "no-such-model") }
        do {
            _ = try await broker.catalog.candidates(for: "no-such-model")
        } catch {
            guard case .unknownModel("no-such-model") = error else { throw error }
        }
        // A benched provider goes last.
        for _ in 0..<3 { broker.health.recordFailure(cheap.address, reason: "test") }
        #expect(try await broker.catalog.candidates(for: "qwen-2.5-7b-instruct").map(\.provider) == [dear.address, cheap.address])
    }

    @Test("ledger: minimums are checked before sending, funds move, refunds unlock after the lock time")
    func ledgerLifecycle() async throws {
        let sandbox = try await Self.world.get()
        let key = try await sandbox.fundedKey(ether: 100)
        let broker = try await Self.broker(sandbox, key: key)
        let ledger = broker.ledger
        let provider = try Self.qwenProviders(sandbox).cheap.address
        let zg = UInt256.oneZeroG
        #expect(try await ledger.overview().ledger == nil)

        // Refused before sending: no transaction, no nonce used.
        await expectBrokerError(contains: "MinimumDepositRequired") { try await ledger.deposit(zg) }
        await expectBrokerError(contains: "ZeroAmountNotAllowed") { try await ledger.deposit(.zero) }
        await expectBrokerError(contains: "no 0G ledger") { try await ledger.transfer(to: provider, amount: zg * 2) }
        #expect(try await sandbox.client.transactionCount(of: key.address) == 0)

        try await ledger.deposit(zg * 5)
        var overview = try await ledger.overview()
        #expect(overview.ledger?.totalBalance == zg * 5 && overview.ledger?.availableBalance == zg * 5)
        await expectBrokerError(contains: "MinimumDepositRequired") { try await ledger.transfer(to: provider, amount: zg / 2) }
        await expectBrokerError(contains: "InsufficientAvailableBalance") { try await ledger.transfer(to: provider, amount: zg * 6) }
        try await ledger.transfer(to: provider, amount: zg * 2)
        await expectBrokerError(contains: "MinimumDepositRequired") { try await ledger.refund(UInt256.oneZeroG * 5 / 2) }

        // Retrieve: the whole sub-account becomes a pending refund, locked for lockTime.
        try await ledger.retrieve()
        overview = try await ledger.overview()
        let account = try #require(overview.accounts.first)
        #expect(account.provider == provider && account.pendingRefund == zg * 2)
        let refund = try #require(account.liveRefunds.first)
        #expect(refund.amount == zg * 2)
        #expect(overview.unlockTime(of: refund) == refund.createdAt + UInt256(sandbox.lockTime))
        // Transferring again cancels pending refunds first: the ledger pays nothing.
        try await ledger.transfer(to: provider, amount: zg)
        overview = try await ledger.overview()
        #expect(overview.ledger?.availableBalance == zg * 3)
        #expect(overview.accounts.first?.pendingRefund == zg)

        // After the lock time the refund returns to the ledger, then to the wallet.
        try await sandbox.increaseTime(seconds: sandbox.lockTime + 1)
        try await ledger.retrieve(from: [provider])
        overview = try await ledger.overview()
        #expect(overview.ledger?.availableBalance == zg * 4)
        let before = try await sandbox.client.balance(of: key.address)
        try await ledger.refund(zg * 4)
        #expect(try await sandbox.client.balance(of: key.address) > before + zg * 3)
    }

    @Test("chat through ZGBroker: JSON and stream are metered, verified and settled on chain to the neuron")
    func chatAndSettlement() async throws {
        let sandbox = try await Self.world.get()
        let key = try await sandbox.fundedKey()
        let broker = try await Self.broker(sandbox, key: key)
        let provider = try Self.qwenProviders(sandbox).cheap
        try await broker.ledger.deposit(UInt256.oneZeroG * 10)
        try await broker.ledger.transfer(to: provider.address, amount: UInt256.oneZeroG * 3)

        let json = try await broker.send(body: Self.chat("hello there zero gravity", model: provider.address.checksummed))
        let usage = try #require(json.usage)
        #expect(json.status == 200)
        #expect(json.fee == UInt256(usage.promptTokens) * provider.inputPrice + UInt256(usage.completionTokens) * provider.outputPrice)
        #expect(json.verification.status == .verified)
        #expect(json.verification.signer == provider.teeSigner)
        #expect(json.chatID != nil)

        let chunks = ChunkCollector()
        let stream = try await broker.send(body: Self.chat("stream me some words please", model: provider.address.checksummed, stream: true)) { await chunks.add($0) }
        #expect(await chunks.count > 1)
        #expect(String(decoding: stream.body, as: UTF8.self).contains("data: [DONE]"))
        // The client did not ask for usage, yet the broker knows it (include_usage was injected).
        let streamUsage = try #require(stream.usage)
        #expect(streamUsage.completionTokens > 0)
        #expect(stream.verification.status == .verified)

        let fees = try #require(json.fee) + (try #require(stream.fee))
        let state = try await sandbox.simulator(provider, "/__sim/state")
        let unsettled = (state["unsettled"] as? [String: Any])?.first { $0.key.lowercased() == key.address.lowercased }?.value as? String
        #expect(unsettled == fees.description)
        try await sandbox.simulator(provider, "/__sim/settle", json: "{}")
        let account = try #require(try await broker.chain.inference.account(user: key.address, provider: provider.address))
        #expect(account.balance == UInt256.oneZeroG * 3 - fees)
        let ledger = try #require(try await broker.chain.ledger.ledger(of: key.address))
        #expect(ledger.totalBalance == UInt256.oneZeroG * 10 - fees)
    }

    @Test("error paths: no sub-account, insufficient balance, revoked and expired tokens, bad signature")
    func errorPaths() async throws {
        let sandbox = try await Self.world.get()
        let provider = try Self.qwenProviders(sandbox).dear
        let key = try await sandbox.fundedKey()
        let broker = try await Self.broker(sandbox, key: key)
        let model = provider.address.checksummed

        await expectBrokerError(contains: "account not exist") { try await broker.send(body: Self.chat("hi", model: model)) }

        // Exactly the provider's 1 0G reserve: the first request passes, then unsettled fees make it short.
        try await broker.ledger.deposit(UInt256.oneZeroG * 10)
        try await broker.ledger.transfer(to: provider.address, amount: UInt256.oneZeroG)
        _ = try await broker.send(body: Self.chat("hi", model: model))
        await expectBrokerError(contains: "insufficient balance") { try await broker.send(body: Self.chat("hi again", model: model)) }
        try await broker.ledger.transfer(to: provider.address, amount: UInt256.oneZeroG)

        // revokeAllTokens: the cached token's generation is stale; the broker re-reads it and retries.
        let before = try await broker.tokens.token(for: provider.address)
        try await broker.ledger.revokeAllTokens(provider: provider.address)
        try await Task.sleep(for: Self.simulatorCacheDelay)
        _ = try await broker.send(body: Self.chat("after revocation", model: model))
        #expect(try await broker.tokens.token(for: provider.address).generation == before.generation + 1)

        // A persistent token works until its id is revoked.
        let service = try await broker.chain.inference.service(of: provider.address)
        let account = try #require(try await broker.chain.inference.account(user: key.address, provider: provider.address))
        let persistent = try SessionToken.mint(key: key, provider: provider.address, generation: account.generation, tokenID: try account.lowestFreeTokenID(), lifetime: nil)
        let body = Array(try JSONSerialization.data(withJSONObject: Self.chat("direct", model: service.model)))
        #expect(try await broker.inference.post(service: service, path: "/chat/completions", body: body, authorization: persistent.authorization, headTimeout: .seconds(10)).status.code == 200)
        try await broker.ledger.revokeToken(provider: provider.address, tokenID: persistent.tokenID)
        try await Task.sleep(for: Self.simulatorCacheDelay)
        let revoked = try await broker.inference.post(service: service, path: "/chat/completions", body: body, authorization: persistent.authorization, headTimeout: .seconds(10))
        #expect(revoked.status.code == 400)
        #expect(ProviderErrorBody.message(Array(buffer: try await revoked.body.collect(upTo: 1 << 20))).contains("session token has been revoked"))

        // An expired token.
        let expired = try SessionToken.mint(key: key, provider: provider.address, generation: account.generation, lifetime: .seconds(3600), now: Date().addingTimeInterval(-7200))
        let late = try await broker.inference.post(service: service, path: "/chat/completions", body: body, authorization: expired.authorization, headTimeout: .seconds(10))
        #expect(ProviderErrorBody.message(Array(buffer: try await late.body.collect(upTo: 1 << 20))).contains("session token expired"))

        // A signature by the wrong key fails verification, and `required` turns that into an error.
        try await sandbox.simulator(provider, "/__sim/faults", json: #"{"mode":"badsig","count":1,"match":"sign me"}"#)
        await expectBrokerError(contains: "failed verification") { try await broker.send(body: Self.chat("sign me", model: model)) }
        let lenient = try await Self.broker(sandbox, key: key, verification: .sampled(1))
        try await sandbox.simulator(provider, "/__sim/faults", json: #"{"mode":"badsig","count":1,"match":"sign me"}"#)
        let result = try await lenient.send(body: Self.chat("sign me", model: model))
        #expect(result.verification.status == .failed)
    }

    @Test("a provider failing with 5xx before the first byte fails over to the next one")
    func failover() async throws {
        let sandbox = try await Self.world.get()
        let (cheap, dear) = try Self.qwenProviders(sandbox)
        let key = try await sandbox.fundedKey()
        let broker = try await Self.broker(sandbox, key: key)
        try await broker.ledger.deposit(UInt256.oneZeroG * 10)
        try await broker.ledger.transfer(to: cheap.address, amount: UInt256.oneZeroG * 2)
        try await broker.ledger.transfer(to: dear.address, amount: UInt256.oneZeroG * 2)
        try await sandbox.simulator(cheap, "/__sim/faults", json: #"{"mode":"5xx","count":1,"match":"who answers"}"#)
        let result = try await broker.send(body: Self.chat("who answers", model: "qwen-2.5-7b-instruct"))
        #expect(result.service.provider == dear.address)
        #expect(broker.health.snapshot(cheap.address).failures == 1)
        let next = try await broker.send(body: Self.chat("and now", model: "qwen-2.5-7b-instruct"))
        #expect(next.service.provider == cheap.address)
    }

    @Test("the auto-funder creates and tops up sub-accounts from the unsettled fee, within the daily cap")
    func autoFunding() async throws {
        let sandbox = try await Self.world.get()
        let provider = try Self.qwenProviders(sandbox).cheap
        let key = try await sandbox.fundedKey()
        let zg = UInt256.oneZeroG
        let broker = try await Self.broker(sandbox, key: key, funding: .init(buffer: zg * 2, dailyCap: zg * 5 / 2))
        try await broker.ledger.deposit(zg * 10)

        // Other suites send transactions to the same chain meanwhile, so the transfer is found
        // by its hash, not as the latest block's last transaction.
        guard case .toppedUp(let amount, let transaction) = await broker.funder.check(provider.address) else {
            Issue.record("a missing sub-account should be created and funded")
            return
        }
        #expect(amount == zg * 2)
        let sent = try await sandbox.client.request("eth_getTransactionByHash", [.string(transaction.prefixedHex)])
        #expect(sent["from"]?.stringValue?.lowercased() == key.address.lowercased)
        #expect(sent["to"]?.stringValue?.lowercased() == sandbox.ledgerContract.lowercased)
        guard case .sufficient = await broker.funder.check(provider.address) else {
            Issue.record("a fresh sub-account of 2 0G should be sufficient")
            return
        }
        _ = try await broker.send(body: Self.chat("spend a little", model: provider.address.checksummed))
        // Now locked (2) < unsettled + buffer: the difference is below 1 0G, so 1 0G would move, past the 2.5 0G cap.
        if case .failed(let reason) = await broker.funder.check(provider.address) {
            #expect(reason.contains("daily funding cap"))
        } else {
            Issue.record("the daily cap of 2.5 0G should stop a second transfer")
        }
        #expect(await broker.funder.spentTodayAmount == zg * 2)
    }
}

/// Expects a ``BrokerError`` whose message contains `text`.
func expectBrokerError(contains text: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> some Any) async {
    do {
        _ = try await body()
        Issue.record("expected an error containing \"\(text)\"", sourceLocation: sourceLocation)
    } catch let error as BrokerError {
        #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a BrokerError, got \(error)", sourceLocation: sourceLocation)
    }
}

actor ChunkCollector {
    private(set) var chunks: [[UInt8]] = []
    func add(_ chunk: [UInt8]) { chunks.append(chunk) }
    var count: Int { chunks.count }
}


@Suite("Catalog resilience")
struct CatalogResilienceTests {
    @Test("when the RPC fails, the last catalog keeps serving; with none loaded, the error surfaces")
    func staleCatalog() async throws {
        let sandbox = try await BrokerEndToEndTests.world.get()
        let faults = try await FixtureProcess(
            script: "rpcfaults/rpcfaults.py", arguments: ["--upstream", sandbox.rpcURL, "--exit-with-parent"], readyPrefix: "RPCFAULTS"
        )
        defer { faults.stop() }
        let url = try #require(faults.ready["url"] as? String)
        let client = JSONRPCClient(url: url, httpClient: .shared, configuration: .init(timeout: .seconds(5), maxRetries: 0))
        let catalog = ServiceCatalog(
            inference: InferenceServingContract(address: sandbox.inferenceContract, client: client), ttl: .milliseconds(50), health: HealthTracker()
        )
        let loaded = try await catalog.current()
        #expect(loaded.services.count > 50)
        try await injectRPCFaults(relay: url, #"{"status": 503, "count": 1000}"#)
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await catalog.current().services.count == loaded.services.count)
        let empty = ServiceCatalog(inference: InferenceServingContract(address: sandbox.inferenceContract, client: client), health: HealthTracker())
        await #expect(throws: BrokerError.self) { try await empty.current() }
    }
}

/// Switches on faults of the `Fixtures/rpcfaults` relay at `relay`.
func injectRPCFaults(relay: String, _ json: String) async throws {
    var request = HTTPClientRequest(url: relay + "/__faults")
    request.method = .POST
    request.body = .bytes(ByteBuffer(string: json))
    _ = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
}
