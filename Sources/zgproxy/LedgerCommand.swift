import ArgumentParser
import EVM
import Foundation
import ZGBroker

/// `zgproxy ledger …`: the wallet's funds on 0G, as the official CLI's `get-account`,
/// `deposit`, `refund`, `transfer-fund` and `retrieve-fund` show and move them.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Show and move the wallet's funds on 0G.",
        discussion: """
            Money flows wallet → ledger (fund) → provider sub-accounts (transfer), and back: retrieve turns what a \
            sub-account holds into a pending refund that returns to the ledger once the contract's lock time has passed \
            (run retrieve again then), and refund sends ledger funds back to the wallet.

            Amounts are exact decimal 0G (1.5) or, with --neuron, whole neuron (1 0G = 10^18 neuron). \
            Commands that send a transaction show what they will do and ask before sending; pass --yes to skip \
            the question (required when stdin is not a terminal).
            """,
        subcommands: [Balance.self, Fund.self, Refund.self, Transfer.self, Retrieve.self],
        defaultSubcommand: Balance.self
    )
}

// MARK: balance

extension LedgerCommand {
    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "balance",
            abstract: "Show the wallet, its ledger and every provider sub-account.",
            discussion: """
                Pending refunds are listed with the time they unlock (their creation plus the contract's lock time, \
                counted on the chain's clock).

                JSON (--json); amounts are {"neuron": "<integer>", "zeroG": "<decimal>"}:
                  {"wallet": {"address", "balance"},
                   "ledger": null | {"total", "locked", "available"},
                   "lockTimeSeconds": <int>, "chainTime": <unix seconds>,
                   "accounts": [{"provider", "balance", "pendingRefund", "locked",
                                 "acknowledged", "generation",
                                 "refunds": [{"index", "amount", "createdAt",
                                              "unlocksAt" (ISO 8601), "unlocksAtUnix",
                                              "unlocked", "remainingSeconds"}]}]}
                """,
            aliases: ["show"]
        )

        @OptionGroup var global: GlobalOptions
        @OptionGroup var unit: UnitOptions

        func run() async throws {
            let context = try CLIContext.load(global)
            let output = Output(json: global.json, neuron: unit.neuron)
            try await context.withBroker { broker in
                let overview = try await broker.ledger.overview()
                let now = await broker.chain.latestTimestamp()
                LedgerView(overview: overview, chainNow: now, output: output).show()
            }
        }
    }
}

/// Renders a ``LedgerOverview`` as text or JSON.
struct LedgerView {
    let overview: LedgerOverview
    /// The chain's clock (unix seconds), which decides when refunds unlock.
    let chainNow: UInt256
    let output: Output

    func show() {
        output.document(json())
        guard !output.json else { return }
        output.line("wallet   \(overview.user)")
        output.line("balance  \(output.amount(overview.walletBalance))")
        guard let ledger = overview.ledger else {
            output.line("ledger   none yet; create it with: zgproxy ledger fund 3   (the contract requires at least 3 0G)")
            return
        }
        output.line(
            "ledger   total \(output.amount(ledger.totalBalance)), locked in providers \(output.amount(ledger.lockedBalance)), "
                + "available \(output.amount(ledger.availableBalance))"
        )
        output.line()
        guard !overview.accounts.isEmpty else {
            output.line("no provider sub-accounts yet; fund one with: zgproxy ledger transfer --provider <address> 1")
            return
        }
        output.line("provider sub-accounts (\(overview.accounts.count)); refunds lock for \(TimeText.span(seconds: overview.lockTime.intValue ?? 0)):")
        let rows = overview.accounts.map { account in
            [account.provider.checksummed, output.amount(account.balance), output.amount(account.pendingRefund), output.amount(account.lockedBalance)]
        }
        let table = Output.table(["provider", "balance", "pending refund", "locked"], rows, indent: "  ")
        output.line(table[0])
        for (index, account) in overview.accounts.enumerated() {
            output.line(table[index + 1])
            for refund in account.liveRefunds {
                let unlock = overview.unlockTime(of: refund)
                output.line("    refund #\(refund.index): \(output.amount(refund.amount)), unlocks \(TimeText.iso(unixSeconds: unlock)) (\(relative(unlock)))")
            }
        }
    }

    func relative(_ unlock: UInt256) -> String {
        unlock <= chainNow ? "unlocked" : "in " + TimeText.span(seconds: remaining(unlock))
    }

    func remaining(_ unlock: UInt256) -> Int {
        (unlock.saturatingSubtract(chainNow)).intValue ?? Int.max
    }

    func json() -> JSONValue {
        let ledger: JSONValue = overview.ledger.map { ledger in
            ["total": Output.amount(ledger.totalBalance), "locked": Output.amount(ledger.lockedBalance), "available": Output.amount(ledger.availableBalance)]
        } ?? .null
        let accounts: [JSONValue] = overview.accounts.map { account in
            let refunds: [JSONValue] = account.liveRefunds.map { refund in
                let unlock = overview.unlockTime(of: refund)
                return [
                    "index": .integer(refund.index), "amount": Output.amount(refund.amount), "createdAt": .integer(refund.createdAt),
                    "unlocksAt": .string(TimeText.iso(unixSeconds: unlock)), "unlocksAtUnix": .integer(unlock),
                    "unlocked": .bool(unlock <= chainNow), "remainingSeconds": .int(remaining(unlock)),
                ]
            }
            return [
                "provider": .string(account.provider.checksummed), "balance": Output.amount(account.balance),
                "pendingRefund": Output.amount(account.pendingRefund), "locked": Output.amount(account.lockedBalance),
                "acknowledged": .bool(account.acknowledged), "generation": .integer(account.generation), "refunds": .array(refunds),
            ]
        }
        return [
            "wallet": ["address": .string(overview.user.checksummed), "balance": Output.amount(overview.walletBalance)],
            "ledger": ledger, "lockTimeSeconds": .integer(overview.lockTime), "chainTime": .integer(chainNow),
            "accounts": .array(accounts),
        ]
    }
}

extension ZGChain {
    /// The latest block's timestamp: the clock the contract checks lock times against (it may
    /// differ from the wall clock, especially on a devchain). The wall clock when unavailable.
    func latestTimestamp() async -> UInt256 {
        if let block = try? await client.request("eth_getBlockByNumber", ["latest", false]),
           let text = block["timestamp"]?.stringValue, let value = UInt256(hex: text) {
            return value
        }
        return UInt256(UInt64(Date().timeIntervalSince1970))
    }
}

/// The ledger's three totals, as every fund-moving command reports them afterwards.
private func ledgerJSON(_ ledger: Ledger?) -> JSONValue {
    guard let ledger else { return .null }
    return ["total": Output.amount(ledger.totalBalance), "locked": Output.amount(ledger.lockedBalance), "available": Output.amount(ledger.availableBalance)]
}

/// The JSON shape the fund-moving commands document in their help.
func movementShape(_ action: String, _ fields: String) -> String {
    """
    JSON (--json); amounts are {"neuron": "<integer>", "zeroG": "<decimal>"}:
      {"action": "\(action)", \(fields)
       "transactions": [{"hash", "block", "gasUsed"}],
       "ledger": {"total", "locked", "available"} (after the transaction)}
    """
}

// MARK: fund

extension LedgerCommand {
    struct Fund: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fund",
            abstract: "Deposit from the wallet into the ledger (creating it when there is none).",
            discussion: """
                The first deposit creates the ledger and must be at least 3 0G (a contract rule). Deposits add to the \
                ledger's available balance, from which `ledger transfer` funds providers.

                \(movementShape("fund", "\"amount\", \"createdLedger\": <bool>,"))
                """,
            aliases: ["deposit"]
        )

        @OptionGroup var amount: AmountArgument
        @OptionGroup var global: GlobalOptions
        @OptionGroup var confirm: ConfirmOptions

        func run() async throws {
            try Terminal.requireConfirmable(yes: confirm.yes, action: "ledger fund")
            let value = try amount.value()
            let context = try CLIContext.load(global)
            let output = Output(json: global.json, neuron: amount.unit.neuron)
            try await context.withBroker { broker in
                let ledger = broker.ledger
                let existing = try await broker.chain.ledger.ledger(of: ledger.user)
                let wallet = try await chainCall { () async throws(RPCError) in try await broker.chain.client.balance(of: ledger.user) }
                if wallet < value {
                    throw BrokerError.insufficientFunds(
                        message: "the wallet \(ledger.user) holds \(output.amount(wallet)), less than the \(output.amount(value)) to deposit (plus gas)",
                        required: value, available: wallet
                    )
                }
                let plan = [
                    "Deposit \(output.amount(value)) from wallet \(ledger.user) (balance \(output.amount(wallet))) into its 0G ledger"
                        + (existing.map { " (available now \(output.amount($0.availableBalance)))." } ?? ", creating the ledger."),
                ]
                let receipts = try await TransactionStep.run(plan: plan, yes: confirm.yes, label: "depositing \(output.amount(value))", context: context, output: output) {
                    [try await ledger.deposit(value)]
                }
                let after = try await broker.chain.ledger.ledger(of: ledger.user)
                output.line((existing == nil ? "Created the ledger with " : "Deposited ") + output.amount(value) + ".")
                if let after { output.line("ledger available: \(output.amount(after.availableBalance)), total: \(output.amount(after.totalBalance))") }
                output.document([
                    "action": "fund", "amount": Output.amount(value), "createdLedger": .bool(existing == nil),
                    "transactions": TransactionStep.json(receipts), "ledger": ledgerJSON(after),
                ])
            }
        }
    }
}

// MARK: refund

extension LedgerCommand {
    struct Refund: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "refund",
            abstract: "Send funds from the ledger's available balance back to the wallet.",
            discussion: """
                Only the available balance can be refunded: funds in provider sub-accounts come back with \
                `ledger retrieve` first. What stays in the ledger must be 0 or at least 3 0G (a contract rule); \
                a ledger refunded to 0 is closed (and "ledger" is null in the JSON).

                \(movementShape("refund", "\"amount\","))
                """
        )

        @OptionGroup var amount: AmountArgument
        @OptionGroup var global: GlobalOptions
        @OptionGroup var confirm: ConfirmOptions

        func run() async throws {
            try Terminal.requireConfirmable(yes: confirm.yes, action: "ledger refund")
            let value = try amount.value()
            let context = try CLIContext.load(global)
            let output = Output(json: global.json, neuron: amount.unit.neuron)
            try await context.withBroker { broker in
                let ledger = broker.ledger
                guard let current = try await broker.chain.ledger.ledger(of: ledger.user) else { throw BrokerError.ledgerNotFound(ledger.user) }
                let plan = ["Refund \(output.amount(value)) from the ledger (available \(output.amount(current.availableBalance))) to wallet \(ledger.user)."]
                let receipts = try await TransactionStep.run(plan: plan, yes: confirm.yes, label: "refunding \(output.amount(value))", context: context, output: output) {
                    [try await ledger.refund(value)]
                }
                let after = try await broker.chain.ledger.ledger(of: ledger.user)
                output.line("Refunded \(output.amount(value)) to \(ledger.user).")
                if after == nil { output.line("The ledger is empty and was closed by the contract; `zgproxy ledger fund` creates it again.") }
                output.document([
                    "action": "refund", "amount": Output.amount(value), "transactions": TransactionStep.json(receipts), "ledger": ledgerJSON(after),
                ])
            }
        }
    }
}

// MARK: transfer

extension LedgerCommand {
    struct Transfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfer",
            abstract: "Move funds from the ledger into a provider's sub-account.",
            discussion: """
                The first transfer to a provider creates the sub-account (at least 1 0G, a contract rule) and \
                acknowledges its TEE signer. For an existing sub-account the amount first cancels pending refunds; \
                only the rest comes from the ledger.

                \(movementShape("transfer", "\"provider\", \"amount\", \"createdAccount\": <bool>,"))
                """
        )

        @Option(help: ArgumentHelp("The provider's address.", valueName: "address"), transform: Parse.address)
        var provider: Address
        @OptionGroup var amount: AmountArgument
        @OptionGroup var global: GlobalOptions
        @OptionGroup var confirm: ConfirmOptions

        func run() async throws {
            try Terminal.requireConfirmable(yes: confirm.yes, action: "ledger transfer")
            let value = try amount.value()
            let context = try CLIContext.load(global)
            let output = Output(json: global.json, neuron: amount.unit.neuron)
            try await context.withBroker { broker in
                let ledger = broker.ledger
                guard let current = try await broker.chain.ledger.ledger(of: ledger.user) else { throw BrokerError.ledgerNotFound(ledger.user) }
                let service = try await broker.chain.inference.service(of: provider)
                let account = try await broker.chain.inference.account(user: ledger.user, provider: provider)
                var plan = ["Transfer \(output.amount(value)) from the ledger (available \(output.amount(current.availableBalance))) to provider \(provider) (\(service.model))"]
                if let account {
                    let cancelled = min(value, account.pendingRefund)
                    if !cancelled.isZero {
                        plan.append("  \(output.amount(cancelled)) of it cancels pending refunds; \(output.amount(value - cancelled)) comes from the ledger.")
                    }
                } else {
                    plan[0] += ", creating the sub-account."
                }
                let receipts = try await TransactionStep.run(plan: plan, yes: confirm.yes, label: "transferring \(output.amount(value))", context: context, output: output) {
                    [try await ledger.transfer(to: provider, amount: value)]
                }
                let after = try await broker.chain.ledger.ledger(of: ledger.user)
                output.line("Transferred \(output.amount(value)) to \(provider).")
                output.document([
                    "action": "transfer", "provider": .string(provider.checksummed), "amount": Output.amount(value),
                    "createdAccount": .bool(account == nil), "transactions": TransactionStep.json(receipts), "ledger": ledgerJSON(after),
                ])
            }
        }
    }
}

// MARK: retrieve

extension LedgerCommand {
    struct Retrieve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retrieve",
            abstract: "Take funds back from provider sub-accounts into the ledger.",
            discussion: """
                Refunds that have passed the lock time return to the ledger now; whatever else a sub-account holds \
                becomes a new pending refund that unlocks after the contract's lock time (see `ledger balance`; \
                run retrieve again then). With no --provider, every provider with a sub-account is included \
                (20 per transaction).

                \(movementShape("retrieve", "\"providers\": [<address>],"))
                """
        )

        @Option(name: .customLong("provider"), help: ArgumentHelp("A provider to retrieve from (repeatable; default: all).", valueName: "address"), transform: Parse.address)
        var providers: [Address] = []
        @OptionGroup var global: GlobalOptions
        @OptionGroup var unit: UnitOptions
        @OptionGroup var confirm: ConfirmOptions

        func run() async throws {
            try Terminal.requireConfirmable(yes: confirm.yes, action: "ledger retrieve")
            let context = try CLIContext.load(global)
            let output = Output(json: global.json, neuron: unit.neuron)
            try await context.withBroker { broker in
                let ledger = broker.ledger
                guard try await broker.chain.ledger.ledger(of: ledger.user) != nil else { throw BrokerError.ledgerNotFound(ledger.user) }
                let targets = providers.isEmpty
                    ? try await broker.chain.ledger.providers(of: ledger.user, serviceName: broker.chain.serviceName) : providers
                guard !targets.isEmpty else {
                    output.line("No provider sub-accounts: nothing to retrieve.")
                    output.document(["action": "retrieve", "providers": [], "transactions": [], "ledger": ledgerJSON(try await broker.chain.ledger.ledger(of: ledger.user))])
                    return
                }
                var held = UInt256.zero
                for provider in targets {
                    held += try await broker.chain.inference.account(user: ledger.user, provider: provider)?.balance ?? .zero
                }
                let lockTime = try await broker.chain.inference.lockTime()
                let plan = [
                    "Retrieve from \(targets.count) provider(s) holding \(output.amount(held)) in all:",
                ] + targets.map { "  \($0)" } + [
                    "Matured refunds return to the ledger now; the rest unlocks after \(TimeText.span(seconds: lockTime.intValue ?? 0)).",
                ]
                let label = "retrieving from \(targets.count) provider(s)"
                let receipts = try await TransactionStep.run(plan: plan, yes: confirm.yes, label: label, context: context, output: output) {
                    try await ledger.retrieve(from: targets)
                }
                let after = try await broker.chain.ledger.ledger(of: ledger.user)
                output.line("Retrieval started for \(targets.count) provider(s); see the pending refunds with: zgproxy ledger balance")
                output.document([
                    "action": "retrieve", "providers": .array(targets.map { .string($0.checksummed) }),
                    "transactions": TransactionStep.json(receipts), "ledger": ledgerJSON(after),
                ])
            }
        }
    }
}

/// Runs a raw RPC call, turning its error into the broker's so one mapping applies.
func chainCall<T>(_ body: () async throws(RPCError) -> T) async throws(BrokerError) -> T {
    do {
        return try await body()
    } catch {
        throw .chain(error)
    }
}
