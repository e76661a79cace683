import AsyncHTTPClient
import EVM
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// The EVM module against a real EVM: transactions signed here must be accepted, mined and
/// executed by py-evm behind the devchain's JSON-RPC server.
@Suite("EVM module on the devchain", .serialized)
struct DevchainTests {
    static let store = (
        set: ABIFunction(name: "set", inputs: [.uint256, .string]),
        get: ABIFunction(name: "get", inputs: [], outputs: [.uint256, .string]),
        deposit: ABIFunction(name: "deposit", inputs: []),
        balanceOf: ABIFunction(name: "balanceOf", inputs: [.address], outputs: [.uint256]),
        setChecked: ABIFunction(name: "setChecked", inputs: [.uint256]),
        checkLimit: ABIFunction(name: "checkLimit", inputs: [.uint256], outputs: [.uint256]),
        fail: ABIFunction(name: "fail", inputs: [.bool]),
        tooLarge: ABIErrorDefinition(name: "TooLarge", inputs: [.uint256, .uint256]),
        stored: ABIEvent(name: "Stored", parameters: [.init(.address, indexed: true), .init(.uint256), .init(.string)])
    )

    static func deployStore(_ sender: TransactionSender) async throws -> Address {
        let receipt = try await sender.send(to: nil, data: try ContractArtifact(named: "TestStore").bytecode)
        return try #require(receipt.contractAddress)
    }

    @Test("the chain reports its id and pre-funded accounts")
    func chainBasics() async throws {
        let chain = try await Devchain.shared()
        #expect(try await chain.client.chainID() == 16602)
        #expect(try await chain.client.balance(of: chain.accounts[1].address) >= UInt256.power(ofTen: 24))
        #expect(try await chain.client.blockNumber() >= 0)
        let history = try await chain.client.feeHistory(blockCount: 2, rewardPercentiles: [50])
        #expect(history.baseFeePerGas.count >= 2)
    }

    @Test("value transfers of both transaction types are mined and move the exact amount", arguments: [TransactionSender.FeeMode.legacy, .eip1559])
    func valueTransfer(mode: TransactionSender.FeeMode) async throws {
        let chain = try await Devchain.shared()
        let key = try await chain.fundedKey(ether: 10)
        let sender = TransactionSender(client: chain.client, key: key, configuration: .init(feeMode: mode))
        let recipient = PrivateKey.random().address
        let amount = try UInt256(decimalUnits: "1.25", decimals: 18)
        let before = try await chain.client.balance(of: key.address)
        let receipt = try await sender.send(to: recipient, value: amount)
        #expect(receipt.succeeded)
        #expect(receipt.gasUsed == 21_000)
        #expect(try await chain.client.balance(of: recipient) == amount)
        let gasCost = UInt256(receipt.gasUsed) * (receipt.effectiveGasPrice ?? .zero)
        #expect(try await chain.client.balance(of: key.address) == before - amount - gasCost)
    }

    @Test("a contract is deployed, called with both transaction types, and its state and logs read back")
    func contractCalls() async throws {
        let chain = try await Devchain.shared()
        let key = try await chain.fundedKey()
        let sender = TransactionSender(client: chain.client, key: key)
        let store = try await Self.deployStore(sender)
        for (index, mode) in [TransactionSender.FeeMode.legacy, .eip1559].enumerated() {
            let typed = TransactionSender(client: chain.client, key: key, configuration: .init(feeMode: mode))
            let receipt = try await typed.send(to: store, data: try Self.store.set.encodeCall([.uint(UInt256(42 + index)), .string("héllo \(mode)")]))
            let log = try #require(receipt.logs.first)
            let values = try Self.store.stored.decode(topics: log.topics, data: log.data)
            #expect(values == [.address(key.address), .uint(UInt256(42 + index)), .string("héllo \(mode)")])
            let output = try await chain.client.call(CallRequest(to: store, data: try Self.store.get.encodeCall([])))
            #expect(try Self.store.get.decodeOutput(output) == [.uint(UInt256(42 + index)), .string("héllo \(mode)")])
        }
        let logs = try await chain.client.logs(LogFilter(
            fromBlock: .earliest, addresses: [store],
            topics: [[Self.store.stored.topic], [[UInt8](repeating: 0, count: 12) + key.address.bytes]]
        ))
        #expect(logs.count == 2)
        // A payable call carries value.
        let deposit = try UInt256(decimalUnits: "0.5", decimals: 18)
        try await sender.send(to: store, data: try Self.store.deposit.encodeCall([]), value: deposit)
        let balance = try await chain.client.call(CallRequest(to: store, data: try Self.store.balanceOf.encodeCall([.address(key.address)])))
        #expect(try Self.store.balanceOf.decodeOutput(balance) == [.uint(deposit)])
    }

    @Test("reverts are decoded into the contract's custom error, before sending and once mined")
    func reverts() async throws {
        let chain = try await Devchain.shared()
        let key = try await chain.fundedKey()
        let sender = TransactionSender(client: chain.client, key: key, knownErrors: [Self.store.tooLarge])
        let store = try await Self.deployStore(sender)
        let tooLarge = RevertReason.custom(Self.store.tooLarge, [ABIValue.uint(1001), .uint(1000)])

        // eth_call: the RPC error keeps the revert bytes.
        do {
            _ = try await chain.client.call(CallRequest(to: store, data: try Self.store.checkLimit.encodeCall([.uint(1001)])))
            Issue.record("checkLimit(1001) should revert")
        } catch let error as RPCError {
            #expect(error.isExecutionRevert)
            #expect(RevertReason(data: error.revertData ?? [], knownErrors: [Self.store.tooLarge]) == tooLarge)
        }
        // Estimation fails: nothing is sent.
        let nonceBefore = try await chain.client.transactionCount(of: key.address)
        await #expect(throws: TransactionError.self) {
            try await sender.send(to: store, data: try Self.store.setChecked.encodeCall([.uint(1001)]))
        }
        do {
            try await sender.send(to: store, data: try Self.store.setChecked.encodeCall([.uint(1001)]))
        } catch let error as TransactionError {
            guard case .reverted(let reason, let hash) = error else { throw error }
            #expect(reason == tooLarge)
            #expect(hash == nil)
        }
        #expect(try await chain.client.transactionCount(of: key.address) == nonceBefore)
        // With a fixed gas limit it is mined, fails, and the replay names the error.
        do {
            try await sender.send(to: store, data: try Self.store.setChecked.encodeCall([.uint(5000)]), gasLimit: 100_000)
            Issue.record("setChecked(5000) should revert")
        } catch let error as TransactionError {
            guard case .reverted(let reason, let hash) = error else { throw error }
            #expect(reason == .custom(Self.store.tooLarge, [ABIValue.uint(5000), .uint(1000)]))
            let minedHash = try #require(hash)
            let receipt = try #require(try await chain.client.transactionReceipt(minedHash))
            #expect(!receipt.succeeded)
        }
        // Error(string).
        do {
            try await sender.send(to: store, data: try Self.store.fail.encodeCall([.bool(true)]))
            Issue.record("fail(true) should revert")
        } catch let error as TransactionError {
            #expect(error.revertReason == .message("TestStore: failed on purpose"))
        }
    }

    @Test("concurrent sends from one key get distinct nonces and all succeed")
    func concurrentNonces() async throws {
        let chain = try await Devchain.shared()
        let key = try await chain.fundedKey()
        let sender = TransactionSender(client: chain.client, key: key)
        let recipients = (0..<12).map { _ in PrivateKey.random().address }
        let receipts = try await withThrowingTaskGroup(of: TransactionReceipt.self) { group in
            for recipient in recipients {
                group.addTask { try await sender.send(to: recipient, value: 1000) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(receipts.allSatisfy { $0.succeeded })
        #expect(Set(receipts.map(\.transactionHash)).count == recipients.count)
        #expect(try await chain.client.transactionCount(of: key.address) == UInt64(recipients.count))
        for recipient in recipients {
            #expect(try await chain.client.balance(of: recipient) == 1000)
        }
    }

    @Test("the sender recovers when another wallet used its key")
    func nonceResync() async throws {
        let chain = try await Devchain.shared()
        let key = try await chain.fundedKey()
        let sender = TransactionSender(client: chain.client, key: key)
        try await sender.send(to: PrivateKey.random().address, value: 1)
        // Another program sends with the same key behind the sender's back.
        let other = TransactionSender(client: chain.client, key: key)
        try await other.send(to: PrivateKey.random().address, value: 1)
        try await other.send(to: PrivateKey.random().address, value: 1)
        let receipt = try await sender.send(to: PrivateKey.random().address, value: 1)
        #expect(receipt.succeeded)
        #expect(try await chain.client.transactionCount(of: key.address) == 4)
    }

    @Test("the chain refuses a transaction signed for another chain id")
    func wrongChainID() async throws {
        let chain = try await Devchain.shared()
        let key = try await chain.fundedKey()
        let gasPrice = try await chain.client.gasPrice()
        let nonce = try await chain.client.transactionCount(of: key.address)
        for fees in [TransactionFees.legacy(gasPrice: gasPrice), .eip1559(maxFeePerGas: gasPrice * 2, maxPriorityFeePerGas: 1)] {
            let transaction = Transaction(chainID: 1, nonce: nonce, fees: fees, gasLimit: 21_000, to: PrivateKey.random().address, value: 1)
            do {
                _ = try await chain.client.sendRawTransaction(try transaction.signed(with: key).raw)
                Issue.record("a chain-1 transaction was accepted by chain 16602")
            } catch let error as RPCError {
                #expect(error.message.contains("invalid chain id"))
            }
        }
    }

    @Test("batch requests return each call's result or its own error")
    func batch() async throws {
        let chain = try await Devchain.shared()
        let results = try await chain.client.batch([
            (method: "eth_chainId", params: []),
            (method: "eth_noSuchMethod", params: []),
            (method: "eth_getBalance", params: [.string(chain.accounts[2].address.lowercased), "latest"]),
        ])
        #expect(try results[0].get() == "0x40da")
        #expect(throws: RPCError.self) { try results[1].get() }
        if case .failure(let error) = results[1] { #expect(error.kind == .node(code: -32601)) }
        #expect(try results[2].get().stringValue.flatMap { UInt256(hex: $0) } ?? .zero > .zero)
    }

    @Test("receipts are polled until the block is mined (interval mining)")
    func receiptPolling() async throws {
        let chain = try await Devchain(arguments: ["--block-time", "1"])
        defer { chain.stop() }
        let sender = TransactionSender(client: chain.client, key: chain.accounts[0], configuration: .init(receiptPollInterval: .milliseconds(100)))
        let hash = try await sender.submit(to: PrivateKey.random().address, value: 5)
        #expect(try await chain.client.transactionReceipt(hash) == nil)
        let receipt = try await sender.waitForReceipt(hash)
        #expect(receipt.succeeded)
        // A receipt that never comes times out with the hash in the error.
        let impatient = TransactionSender(client: chain.client, key: chain.accounts[1], configuration: .init(receiptTimeout: .milliseconds(50), receiptPollInterval: .milliseconds(10)))
        let pending = try await impatient.submit(to: PrivateKey.random().address, value: 5)
        await #expect(throws: TransactionError.self) { try await impatient.waitForReceipt(pending) }
    }

    @Test("HTTP 429 and 5xx are retried with backoff; timeouts and dead nodes give typed errors")
    func retries() async throws {
        let chain = try await Devchain.shared()
        let faults = try await FixtureProcess(
            script: "rpcfaults/rpcfaults.py", arguments: ["--upstream", chain.rpcURL, "--exit-with-parent"], readyPrefix: "RPCFAULTS"
        )
        defer { faults.stop() }
        let url = try #require(faults.ready["url"] as? String)
        let fast = JSONRPCClient.Configuration(timeout: .milliseconds(500), maxRetries: 3, initialBackoff: .milliseconds(10))
        let client = JSONRPCClient(url: url, httpClient: .shared, configuration: fast)
        func inject(_ spec: String) async throws {
            var request = HTTPClientRequest(url: url + "/__faults")
            request.method = .POST
            request.body = .bytes(.init(string: spec))
            _ = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        }
        try await inject(#"{"status": 429, "count": 2, "retryAfter": 0}"#)
        #expect(try await client.chainID() == 16602)
        try await inject(#"{"status": 503, "count": 3}"#)
        #expect(try await client.chainID() == 16602)
        try await inject(#"{"status": 503, "count": 4}"#)
        do {
            _ = try await client.chainID()
            Issue.record("four 503s should exhaust three retries")
        } catch {
            #expect(error.kind == .httpStatus(503))
        }
        let noRetry = JSONRPCClient(url: url, httpClient: .shared, configuration: .init(timeout: .milliseconds(200), maxRetries: 0))
        try await inject(#"{"delayMs": 1500, "count": 1}"#)
        do {
            _ = try await noRetry.chainID()
            Issue.record("a 1.5 s answer should time out at 200 ms")
        } catch {
            #expect(error.kind == .timeout)
        }
        // AsyncHTTPClient would keep retrying the connection until the deadline; the RPC client
        // does its own retries, so its HTTP client is told not to.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let dead = JSONRPCClient(url: "http://127.0.0.1:9/", httpClient: httpClient, configuration: .init(maxRetries: 1, initialBackoff: .milliseconds(1)))
        do {
            _ = try await dead.chainID()
            Issue.record("nothing listens on port 9")
        } catch {
            #expect(error.kind == .transport)
            #expect(error.isRetryable)
        }
        try await httpClient.shutdown()
    }
}
