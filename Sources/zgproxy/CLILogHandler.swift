import Logging
import Synchronization

/// The hash of the transaction being mined, so the spinner can show it before the receipt.
///
/// ``LedgerService`` checks the contract's rules and then sends and waits in one call; the hash
/// only surfaces in the transaction sender's structured `sent transaction` log (metadata
/// `zg.tx.hash`), which ``CLILogHandler`` passes here.
final class TransactionWatch: Sendable {
    private let latest = Mutex<String?>(nil)

    var hash: String? { latest.withLock { $0 } }

    func record(_ hash: String) { latest.withLock { $0 = hash } }

    func reset() { latest.withLock { $0 = nil } }
}

/// A command's log handler: prints to stderr from `printLevel` up (warnings unless DEBUG is
/// set, so stdout stays the command's result), and sees every event down to debug so that
/// transaction hashes reach the ``TransactionWatch``.
struct CLILogHandler: LogHandler {
    var metadata: Logger.Metadata {
        get { stream.metadata }
        set { stream.metadata = newValue }
    }
    var logLevel: Logger.Level = .debug
    let printLevel: Logger.Level
    let watch: TransactionWatch
    private var stream: StreamLogHandler

    init(label: String, printLevel: Logger.Level, watch: TransactionWatch) {
        self.printLevel = printLevel
        self.watch = watch
        stream = StreamLogHandler.standardError(label: label)
        stream.logLevel = printLevel
    }

    func log(event: LogEvent) {
        if let hash = event.metadata?["zg.tx.hash"] { watch.record("\(hash)") }
        guard event.level >= printLevel else { return }
        stream.log(event: event)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { stream[metadataKey: key] }
        set { stream[metadataKey: key] = newValue }
    }
}
