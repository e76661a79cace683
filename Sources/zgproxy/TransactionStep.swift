import EVM

/// How a command sends transactions: show the plan and ask (unless `--yes`), run the sends
/// under a spinner, then report each transaction's hash and block.
///
/// The sends themselves go through ``LedgerService``, which checks the contract's rules
/// before spending gas; the spinner learns each hash from the sender's log (``TransactionWatch``).
enum TransactionStep {
    /// - Parameters:
    ///   - plan: what will happen, in a few lines, shown before `Proceed? [y/N]`.
    ///   - label: what the spinner says while waiting (followed by the hash once it is known).
    ///   - context: its ``CLIContext/transactions`` learns the hashes as they are sent.
    /// - Throws: a ``CLIFailure`` when the person declines (nothing is sent).
    static func run(
        plan: [String], yes: Bool, label: String, context: CLIContext, output: Output, _ body: () async throws -> [TransactionReceipt]
    ) async throws -> [TransactionReceipt] {
        guard Terminal.confirm(plan, yes: yes) else { throw CLIFailure(.other, "cancelled: nothing was sent") }
        let watch = context.transactions
        watch.reset()
        let receipts = try await Terminal.withSpinner({ watch.hash.map { "\(label): transaction \($0)" } ?? label }, body)
        for receipt in receipts {
            output.line("transaction \(receipt.transactionHash.prefixedHex) mined in block \(receipt.blockNumber)")
        }
        return receipts
    }

    /// `[{"hash": "0x…", "block": 12, "gasUsed": 51234}]`.
    static func json(_ receipts: [TransactionReceipt]) -> JSONValue {
        .array(receipts.map { receipt in
            ["hash": .string(receipt.transactionHash.prefixedHex), "block": .int(Int(receipt.blockNumber)), "gasUsed": .int(Int(receipt.gasUsed))]
        })
    }
}
