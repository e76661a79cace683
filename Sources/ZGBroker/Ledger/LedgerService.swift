import EVM

/// The wallet's funds on 0G: its ledger and its sub-account with each provider.
///
/// Every operation checks the contract's rules first (minimums, available balance) and fails
/// with the same ``BrokerError`` the contract's revert would decode to, so no gas is spent on
/// a transaction that must fail; a revert that happens anyway is decoded the same way.
public struct LedgerService: Sendable {
    public static let minimumLedgerBalance = UInt256.oneZeroG * 3
    public static let minimumFirstTransfer = UInt256.oneZeroG
    /// `retrieveFund` accepts at most this many providers per call.
    public static let maxProvidersPerRetrieve = 20

    public let chain: ZGChain
    public let sender: TransactionSender
    public var user: Address { sender.address }

    public init(chain: ZGChain, sender: TransactionSender) {
        self.chain = chain
        self.sender = sender
    }

    // MARK: Reading

    /// Wallet, ledger and every provider sub-account with its refunds.
    public func overview() async throws(BrokerError) -> LedgerOverview {
        let wallet: UInt256
        do {
            wallet = try await chain.client.balance(of: user)
        } catch {
            throw .chain(error)
        }
        let ledger = try await chain.ledger.ledger(of: user)
        let accounts = ledger == nil ? [] : try await chain.inference.accounts(of: user)
        let lockTime = try await chain.inference.lockTime()
        return LedgerOverview(user: user, walletBalance: wallet, ledger: ledger, accounts: accounts, lockTime: lockTime)
    }

    // MARK: Moving funds

    /// Adds `amount` to the ledger, creating it when there is none (then at least 3 0G).
    @discardableResult
    public func deposit(_ amount: UInt256) async throws(BrokerError) -> TransactionReceipt {
        guard !amount.isZero else { throw ContractErrors.brokerError(Self.rule(LedgerManagerABI.zeroAmountNotAllowed, [])) }
        if try await chain.ledger.ledger(of: user) == nil, amount < Self.minimumLedgerBalance {
            throw ContractErrors.brokerError(Self.rule(LedgerManagerABI.minimumDepositRequired, [.uint(amount), .uint(Self.minimumLedgerBalance)]))
        }
        return try await send(LedgerManagerABI.depositFund, [], value: amount)
    }

    /// Sends `amount` from the ledger's available balance back to the wallet. What stays must
    /// be 0 or at least 3 0G.
    @discardableResult
    public func refund(_ amount: UInt256) async throws(BrokerError) -> TransactionReceipt {
        guard let ledger = try await chain.ledger.ledger(of: user) else { throw .ledgerNotFound(user) }
        guard amount <= ledger.availableBalance else {
            throw .insufficientFunds(
                message: "only \(ledger.availableBalance.zeroG) of the ledger is available to refund, not \(amount.zeroG); retrieve funds from providers first with: zgproxy ledger retrieve",
                required: amount, available: ledger.availableBalance
            )
        }
        let remaining = ledger.availableBalance - amount
        if !remaining.isZero, remaining < Self.minimumLedgerBalance {
            throw ContractErrors.brokerError(Self.rule(LedgerManagerABI.minimumDepositRequired, [.uint(remaining), .uint(Self.minimumLedgerBalance)]))
        }
        return try await send(LedgerManagerABI.refund, [.uint(amount)])
    }

    /// Moves `amount` into the provider's sub-account (creating it: then at least 1 0G).
    /// For an existing sub-account the amount first cancels pending refunds, and only the rest
    /// comes from the ledger.
    @discardableResult
    public func transfer(to provider: Address, amount: UInt256) async throws(BrokerError) -> TransactionReceipt {
        guard let ledger = try await chain.ledger.ledger(of: user) else { throw .ledgerNotFound(user) }
        let account = try await chain.inference.account(user: user, provider: provider)
        var fromLedger = amount
        if let account {
            fromLedger = amount.saturatingSubtract(account.pendingRefund)
        } else {
            _ = try await chain.inference.service(of: provider)
            if amount < Self.minimumFirstTransfer {
                throw ContractErrors.brokerError(Self.rule(LedgerManagerABI.minimumDepositRequired, [.uint(amount), .uint(Self.minimumFirstTransfer)]))
            }
        }
        if ledger.availableBalance < fromLedger {
            throw ContractErrors.brokerError(
                Self.rule(LedgerManagerABI.insufficientAvailableBalance, [.uint(ledger.availableBalance), .uint(fromLedger)])
            )
        }
        return try await send(LedgerManagerABI.transferFund, [.address(provider), .string(chain.serviceName), .uint(amount)])
    }

    /// Starts (or completes) taking funds back from providers: matured refunds return to the
    /// ledger, and whatever is left in each sub-account becomes a new pending refund that
    /// matures after the contract's `lockTime`. Providers are sent 20 per transaction.
    /// - Parameter providers: nil for every provider holding a sub-account.
    public func retrieve(from providers: [Address]? = nil) async throws(BrokerError) -> [TransactionReceipt] {
        let targets: [Address]
        if let providers {
            targets = providers
        } else {
            targets = try await chain.ledger.providers(of: user, serviceName: chain.serviceName)
        }
        guard !targets.isEmpty else { return [] }
        var receipts = [TransactionReceipt]()
        var start = 0
        while start < targets.count {
            let batch = Array(targets[start..<min(start + Self.maxProvidersPerRetrieve, targets.count)])
            receipts.append(try await send(LedgerManagerABI.retrieveFund, [.array(batch.map { .address($0) }), .string(chain.serviceName)]))
            start += Self.maxProvidersPerRetrieve
        }
        return receipts
    }

    /// Acknowledges the provider's TEE signer for this wallet's sub-account (set automatically by
    /// the first transfer; needed again only after it was withdrawn).
    @discardableResult
    public func acknowledge(_ provider: Address, _ acknowledged: Bool = true) async throws(BrokerError) -> TransactionReceipt {
        guard try await chain.inference.account(user: user, provider: provider) != nil else {
            throw .accountNotFound(user: user, provider: provider)
        }
        return try await send(InferenceServingABI.acknowledgeTEESigner, [.address(provider), .bool(acknowledged)], to: chain.inference.address)
    }

    /// Revokes one persistent session token (0–254).
    @discardableResult
    public func revokeToken(provider: Address, tokenID: UInt8) async throws(BrokerError) -> TransactionReceipt {
        try await send(InferenceServingABI.revokeToken, [.address(provider), .uint(UInt256(UInt64(tokenID)))], to: chain.inference.address)
    }

    /// Revokes every token for the provider, ephemeral ones included, by bumping the generation.
    @discardableResult
    public func revokeAllTokens(provider: Address) async throws(BrokerError) -> TransactionReceipt {
        try await send(InferenceServingABI.revokeAllTokens, [.address(provider)], to: chain.inference.address)
    }

    // MARK: Helpers

    private func send(_ function: ABIFunction, _ arguments: [ABIValue], value: UInt256 = .zero, to: Address? = nil) async throws(BrokerError) -> TransactionReceipt {
        let calldata: [UInt8]
        do {
            calldata = try function.encodeCall(arguments)
        } catch {
            throw .invalidResponse("cannot encode \(function.name): \(error)")
        }
        do {
            return try await sender.send(to: to ?? chain.ledger.address, data: calldata, value: value)
        } catch {
            throw ContractErrors.map(error)
        }
    }

    private static func rule(_ definition: ABIErrorDefinition, _ values: [ABIValue]) -> RevertReason {
        .custom(definition, values)
    }
}

/// Everything `zgproxy ledger balance` shows.
public struct LedgerOverview: Sendable {
    public let user: Address
    public let walletBalance: UInt256
    /// nil when the wallet has no ledger yet.
    public let ledger: Ledger?
    public let accounts: [Account]
    /// Seconds a refund stays locked.
    public let lockTime: UInt256

    /// When a refund can be retrieved (unix seconds).
    public func unlockTime(of refund: Refund) -> UInt256 { refund.createdAt + lockTime }
}
