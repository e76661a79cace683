import Logging

/// Sends transactions from one key: picks the nonce, estimates gas, chooses fees, signs,
/// broadcasts and waits for the receipt.
///
/// An actor so that concurrent sends from one key get distinct, gap-free nonces, broadcast in
/// nonce order: gas estimation and fee lookup run concurrently, but reserving a nonce and
/// broadcasting happen one send at a time (a node without a queue refuses nonce n+1 before n,
/// and even geth would hold it back). Waiting for receipts is concurrent again. When the node
/// refuses a nonce (another wallet used the key, or a send failed after its nonce was
/// reserved), the sender resynchronises from the node's pending count and retries.
public actor TransactionSender {
    /// How fees are chosen.
    public enum FeeMode: Sendable, Hashable {
        /// EIP-1559 when the chain reports a base fee, legacy otherwise.
        case automatic
        case legacy
        case eip1559
    }

    public struct Configuration: Sendable {
        /// Percent added to `eth_estimateGas`'s answer.
        public var gasMarginPercent: UInt64
        public var feeMode: FeeMode
        /// Refuse to send when the network asks more than this per gas (nil: no cap).
        public var maxFeePerGasCap: UInt256?
        /// Tip used when the node has no `eth_maxPriorityFeePerGas`.
        public var fallbackPriorityFee: UInt256
        public var receiptTimeout: Duration
        public var receiptPollInterval: Duration

        public init(
            gasMarginPercent: UInt64 = 20, feeMode: FeeMode = .automatic, maxFeePerGasCap: UInt256? = nil,
            fallbackPriorityFee: UInt256 = 1_000_000_000, receiptTimeout: Duration = .seconds(300),
            receiptPollInterval: Duration = .milliseconds(500)
        ) {
            self.gasMarginPercent = gasMarginPercent
            self.feeMode = feeMode
            self.maxFeePerGasCap = maxFeePerGasCap
            self.fallbackPriorityFee = fallbackPriorityFee
            self.receiptTimeout = receiptTimeout
            self.receiptPollInterval = receiptPollInterval
        }
    }

    public nonisolated let client: JSONRPCClient
    public nonisolated let address: Address
    public nonisolated let configuration: Configuration
    private let key: PrivateKey
    private let knownErrors: [ABIErrorDefinition]
    private let logger: Logger
    private var chainID: UInt64?
    private var nextNonce: UInt64?
    private var supportsEIP1559: Bool?
    /// Whether a send is between reserving its nonce and broadcasting; others queue here.
    private var broadcasting = false
    private var broadcastQueue: [CheckedContinuation<Void, Never>] = []

    /// - Parameters:
    ///   - knownErrors: custom errors of the contracts this sender calls, to decode reverts.
    public init(
        client: JSONRPCClient, key: PrivateKey, chainID: UInt64? = nil, configuration: Configuration = .init(),
        knownErrors: [ABIErrorDefinition] = [], logger: Logger = Logger(label: "zg.tx")
    ) {
        self.client = client
        self.key = key
        self.address = key.address
        self.chainID = chainID
        self.configuration = configuration
        self.knownErrors = knownErrors
        self.logger = logger
    }

    /// Sends a transaction and waits until it is mined.
    /// - Returns: the receipt of a successful transaction.
    /// - Throws: ``TransactionError/reverted(_:transactionHash:)`` when it would revert (nothing is
    ///   sent) or did revert, with the reason decoded; other ``TransactionError``s otherwise.
    @discardableResult
    public func send(to: Address?, data: [UInt8] = [], value: UInt256 = .zero, gasLimit: UInt64? = nil) async throws(TransactionError) -> TransactionReceipt {
        let hash = try await submit(to: to, data: data, value: value, gasLimit: gasLimit)
        let receipt = try await waitForReceipt(hash)
        guard receipt.succeeded else {
            let reason = await replayRevert(to: to, data: data, value: value, block: receipt.blockNumber)
            throw .reverted(reason, transactionHash: hash)
        }
        return receipt
    }

    /// Signs and broadcasts a transaction without waiting for it; returns its hash.
    public func submit(to: Address?, data: [UInt8] = [], value: UInt256 = .zero, gasLimit: UInt64? = nil) async throws(TransactionError) -> [UInt8] {
        let chainID = try await resolvedChainID()
        let gas: UInt64
        if let gasLimit {
            gas = gasLimit
        } else {
            gas = try await estimateGas(to: to, data: data, value: value)
        }
        let fees = try await chooseFees()
        await acquireBroadcast()
        defer { releaseBroadcast() }
        var attempt = 0
        while true {
            let nonce = try await reserveNonce()
            let transaction = Transaction(chainID: chainID, nonce: nonce, fees: fees, gasLimit: gas, to: to, value: value, data: data)
            let signed: SignedTransaction
            do {
                signed = try transaction.signed(with: key)
            } catch {
                throw .signing(error)
            }
            do {
                _ = try await client.sendRawTransaction(signed.raw)
                logger.debug("sent transaction", metadata: ["zg.tx.hash": "\(signed.hash.prefixedHex)", "zg.tx.nonce": "\(nonce)"])
                return signed.hash
            } catch let error {
                let message = error.message.lowercased()
                if message.contains("already known") {
                    return signed.hash
                }
                // Whatever happened, this nonce may now be a gap: read the node's count again.
                nextNonce = nil
                let nonceProblem = message.contains("nonce too low") || message.contains("nonce too high")
                    || message.contains("replacement transaction underpriced")
                guard nonceProblem, attempt < 3 else { throw .rpc(error) }
                attempt += 1
            }
        }
    }

    /// Polls for the receipt until ``Configuration/receiptTimeout``.
    public func waitForReceipt(_ hash: [UInt8]) async throws(TransactionError) -> TransactionReceipt {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.receiptTimeout
        while true {
            do {
                if let receipt = try await client.transactionReceipt(hash) { return receipt }
            } catch {
                guard error.isRetryable else { throw .rpc(error) }
            }
            guard clock.now < deadline else { throw .receiptTimeout(transactionHash: hash, waited: configuration.receiptTimeout) }
            do {
                try await Task.sleep(for: configuration.receiptPollInterval)
            } catch {
                throw .receiptTimeout(transactionHash: hash, waited: clock.now - (deadline - configuration.receiptTimeout))
            }
        }
    }

    /// The revert reason a call would give, for the contract's known errors.
    public nonisolated func decodeRevert(_ error: RPCError) -> RevertReason? {
        guard error.isExecutionRevert else { return nil }
        return RevertReason(data: error.revertData ?? [], knownErrors: knownErrors)
    }

    // MARK: Steps

    private func acquireBroadcast() async {
        guard broadcasting else {
            broadcasting = true
            return
        }
        await withCheckedContinuation { broadcastQueue.append($0) }
    }

    private func releaseBroadcast() {
        if broadcastQueue.isEmpty {
            broadcasting = false
        } else {
            broadcastQueue.removeFirst().resume()
        }
    }

    private func resolvedChainID() async throws(TransactionError) -> UInt64 {
        if let chainID { return chainID }
        do {
            let id = try await client.chainID()
            chainID = id
            return id
        } catch {
            throw .rpc(error)
        }
    }

    private func estimateGas(to: Address?, data: [UInt8], value: UInt256) async throws(TransactionError) -> UInt64 {
        do {
            let estimate = try await client.estimateGas(CallRequest(from: address, to: to, data: data, value: value))
            return estimate + estimate * configuration.gasMarginPercent / 100
        } catch {
            if let reason = decodeRevert(error) { throw .reverted(reason, transactionHash: nil) }
            throw .rpc(error)
        }
    }

    private func chooseFees() async throws(TransactionError) -> TransactionFees {
        do {
            let useEIP1559: Bool
            switch configuration.feeMode {
            case .legacy: useEIP1559 = false
            case .eip1559: useEIP1559 = true
            case .automatic:
                if let known = supportsEIP1559 {
                    useEIP1559 = known
                } else {
                    let history = try? await client.feeHistory(blockCount: 1)
                    let known = (history?.nextBaseFee).map { !$0.isZero } ?? false
                    supportsEIP1559 = known
                    useEIP1559 = known
                }
            }
            let fees: TransactionFees
            if useEIP1559 {
                let history = try await client.feeHistory(blockCount: 1)
                let baseFee = history.nextBaseFee ?? .zero
                let tip = (try? await client.maxPriorityFeePerGas()) ?? configuration.fallbackPriorityFee
                // Twice the base fee survives six full blocks of base-fee increases.
                fees = .eip1559(maxFeePerGas: baseFee * 2 + tip, maxPriorityFeePerGas: tip)
            } else {
                fees = .legacy(gasPrice: try await client.gasPrice())
            }
            if let cap = configuration.maxFeePerGasCap, fees.maxPricePerGas > cap {
                throw TransactionError.feeAboveCap(maxFeePerGas: fees.maxPricePerGas, cap: cap)
            }
            return fees
        } catch let error as TransactionError {
            throw error
        } catch let error as RPCError {
            throw .rpc(error)
        } catch {
            throw .rpc(RPCError(kind: .transport, method: "fees", message: String(describing: error)))
        }
    }

    private func reserveNonce() async throws(TransactionError) -> UInt64 {
        if nextNonce == nil {
            let pending: UInt64
            do {
                pending = try await client.transactionCount(of: address, block: .pending)
            } catch {
                throw .rpc(error)
            }
            // Another send may have resynchronised while this one waited: keep the larger.
            nextNonce = max(nextNonce ?? 0, pending)
        }
        let nonce = nextNonce!
        nextNonce = nonce + 1
        return nonce
    }

    /// Replays a mined, reverted transaction as a call to learn why it reverted.
    private func replayRevert(to: Address?, data: [UInt8], value: UInt256, block: UInt64) async -> RevertReason {
        do {
            _ = try await client.call(CallRequest(from: address, to: to, data: data, value: value), block: .number(block))
            return .empty
        } catch {
            return decodeRevert(error) ?? .empty
        }
    }
}
