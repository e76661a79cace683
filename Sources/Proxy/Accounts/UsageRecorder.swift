import EVM
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Writes the usage log off the request path: a finished request appends its record in
/// memory, and this service writes the batch about once a second (`USAGE_FLUSH_MILLISECONDS`),
/// or as soon as `batchSize` records wait, whichever comes first.
///
/// The batch size bounds the memory a busy gateway holds for its log (at tens of thousands of
/// requests a second, a second's records and their statements held ~40 MB; batches of 2,000
/// keep it to a few). Nothing is dropped on a database hiccup (the batch is kept and retried,
/// up to `maxBuffered` records), the last batch is written on graceful shutdown, and a crash
/// loses at most one interval. Each record is also charged to the rate limiter at once.
public final class UsageRecorder: Service, Sendable {
    private let store: AccountStore
    private let limiter: any RateLimiter
    private let interval: Duration
    private let batchSize: Int
    private let maxBuffered: Int
    private let logger: Logger
    private let buffer = Mutex<[UsageRecord]>([])
    private let dropped = Atomic<Int>(0)
    /// The wait for the next interval, cut short when a batch fills up.
    private let nap = Mutex<Task<Void, Never>?>(nil)

    public init(
        store: AccountStore, limiter: any RateLimiter, interval: Duration = .seconds(1), batchSize: Int = 2_000, maxBuffered: Int = 1_000_000,
        logger: Logger
    ) {
        self.store = store
        self.limiter = limiter
        self.interval = interval
        self.batchSize = max(1, batchSize)
        self.maxBuffered = maxBuffered
        self.logger = logger
    }

    /// Appends a record (no I/O) and charges its tokens and cost to the subjects' limits.
    public func record(_ record: UsageRecord, subjects: [LimitSubject]) {
        limiter.charge(subjects, tokens: record.totalTokens, cost: record.cost, at: record.at)
        let count = buffer.withLock { buffer in
            guard buffer.count < maxBuffered else { return -1 }
            buffer.append(record)
            return buffer.count
        }
        if count < 0 { dropped.add(1, ordering: .relaxed) }
        if count == batchSize { nap.withLock { $0?.cancel() } }
    }

    /// Records waiting to be written.
    public var pendingCount: Int { buffer.withLock { $0.count } }

    /// Writes everything recorded so far; on failure keeps it for the next attempt.
    public func flush() async {
        await limiter.flush()
        let batch = buffer.withLock { buffer in
            defer { buffer = [] }
            return buffer
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.insertUsage(batch)
        } catch {
            logger.error("usage log write failed; will retry", metadata: ["error": "\(error)", "zg.usage.pending": "\(batch.count)"])
            buffer.withLock { $0.insert(contentsOf: batch, at: 0) }
        }
        let lost = dropped.exchange(0, ordering: .relaxed)
        if lost > 0 { logger.error("usage buffer full; records dropped", metadata: ["zg.usage.dropped": "\(lost)"]) }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.waitForBatch()
                await self.uncancellableFlush()
            }
        }
        // Graceful shutdown: write what is left (and retry a failed write a few times).
        for _ in 0..<5 where pendingCount > 0 {
            await uncancellableFlush()
            if pendingCount > 0 { try? await Task.sleep(for: .milliseconds(200)) }
        }
    }

    /// Sleeps for the interval, or until `batchSize` records wait (at once if they already do).
    private func waitForBatch() async {
        let sleep = Task { _ = try? await Task.sleep(for: self.interval) }
        nap.withLock { $0 = sleep }
        if pendingCount >= batchSize { sleep.cancel() }
        await withTaskCancellationHandler { await sleep.value } onCancel: { sleep.cancel() }
        nap.withLock { $0 = nil }
    }

    /// A write that shutdown does not cut in half: it runs in its own task, which the
    /// cancellation of the loop above does not reach.
    private func uncancellableFlush() async {
        await Task { await self.flush() }.value
    }
}
