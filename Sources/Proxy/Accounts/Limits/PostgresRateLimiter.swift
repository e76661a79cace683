import EVM
import Foundation
import Synchronization

/// Limits counted in PostgreSQL, shared by every gateway process on the database.
///
/// A request's checks run in one transaction: requests per minute are a conditional
/// increment (`… DO UPDATE SET amount = amount + 1 WHERE amount < limit RETURNING`), so two
/// processes can never both take the last slot; concurrent requests are leases counted under
/// a per-subject advisory lock; a refusal rolls the whole transaction back. Tokens and spend
/// are known only after a request, and are added in batches by ``flush()``.
public final class PostgresRateLimiter: RateLimiter {
    private let database: any SQLDatabase
    /// How long a lease outlives a process that died holding it.
    private let leaseLifetime: TimeInterval
    private struct Charge: Hashable {
        var subject: String
        var kind: String
        var window: Int64
        var expires: Int64
    }

    private let pending = Mutex<[Charge: UInt256]>([:])
    private let lastCleanup = Mutex<Date>(.distantPast)

    public init(database: any SQLDatabase, leaseLifetime: TimeInterval = 1800) {
        self.database = database
        self.leaseLifetime = leaseLifetime
    }

    public func acquire(_ subjects: [LimitSubject], now: Date) async throws -> LimitGrant {
        let relevant = subjects.filter { !$0.policy.isUnlimited }
        guard !relevant.isEmpty else { return .none }
        let leaseID = RecordID.make("lease")
        let nowMilliseconds = StoredTime.milliseconds(now)
        let minute = LimitWindow.minute(now)
        let leaseLifetime = self.leaseLifetime
        return try await database.transaction { tx in
            var requestFigures: (Int, Int, Double)? = nil
            var tokenFigures: (Int, Int, Double)? = nil
            for subject in relevant {
                let policy = subject.policy
                if let limit = policy.requestsPerMinute {
                    let rows = try await tx.query(
                        """
                        INSERT INTO limit_counters (subject, kind, window_start, amount, expires_at) VALUES ($1, 'requests', $2, 1, $3)
                        ON CONFLICT (subject, kind, window_start) DO UPDATE SET amount = limit_counters.amount + 1
                        WHERE limit_counters.amount < $4 RETURNING CAST(amount AS BIGINT) AS amount
                        """,
                        .text(subject.name), .int(minute.start), .int(minute.start + 120_000), .int(Int64(limit))
                    )
                    guard let used = rows.first?.int("amount"), used <= limit else {
                        throw LimitExceeded(kind: .requests, scope: subject.scope, limit: String(limit), retryAfterSeconds: Int(minute.resetSeconds.rounded(.up)))
                    }
                    let remaining = limit - Int(used)
                    if requestFigures == nil || remaining < requestFigures!.1 { requestFigures = (limit, remaining, minute.resetSeconds) }
                }
                if let limit = policy.tokensPerMinute {
                    let used = try await Self.amount(tx, subject: subject.name, kind: "tokens", window: minute.start)
                    guard used < UInt256(UInt64(limit)) else {
                        throw LimitExceeded(kind: .tokens, scope: subject.scope, limit: String(limit), retryAfterSeconds: Int(minute.resetSeconds.rounded(.up)))
                    }
                    let remaining = limit - (Int(used.description) ?? 0)
                    if tokenFigures == nil || remaining < tokenFigures!.1 { tokenFigures = (limit, remaining, minute.resetSeconds) }
                }
                if let limit = policy.concurrentRequests {
                    try await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", .text(subject.name))
                    let open = try await tx.query(
                        "SELECT CAST(COUNT(*) AS BIGINT) AS open FROM limit_leases WHERE subject = $1 AND expires_at > $2", .text(subject.name), .int(nowMilliseconds)
                    ).first?.int("open") ?? 0
                    guard open < limit else { throw LimitExceeded(kind: .concurrency, scope: subject.scope, limit: String(limit), retryAfterSeconds: 1) }
                    try await tx.query(
                        "INSERT INTO limit_leases (id, subject, expires_at) VALUES ($1, $2, $3)",
                        .text(leaseID + "@" + subject.name), .text(subject.name), .int(nowMilliseconds + Int64(leaseLifetime * 1000))
                    )
                }
                if let budget = policy.budget {
                    let period = LimitWindow.period(policy.budgetPeriod, now)
                    let spent = try await Self.amount(tx, subject: subject.name, kind: "spend-" + policy.budgetPeriod.rawValue, window: period.start)
                    guard spent < budget else {
                        throw LimitExceeded(kind: .budget, scope: subject.scope, limit: budget.decimalUnits(decimals: 18), retryAfterSeconds: Int(period.resetSeconds.rounded(.up)))
                    }
                }
            }
            return LimitGrant(leaseID: leaseID, subjects: relevant, requests: requestFigures, tokens: tokenFigures)
        }
    }

    static func amount(_ database: any SQLDatabase, subject: String, kind: String, window: Int64) async throws -> UInt256 {
        let text = try await database.query(
            "SELECT CAST(amount AS TEXT) AS amount FROM limit_counters WHERE subject = $1 AND kind = $2 AND window_start = $3",
            .text(subject), .text(kind), .int(window)
        ).first?.text("amount")
        return text.flatMap { UInt256(decimal: $0) } ?? .zero
    }

    public func release(_ grant: LimitGrant) async {
        guard grant.subjects.contains(where: { $0.policy.concurrentRequests != nil }) else { return }
        // A failed delete only keeps a slot until the lease expires.
        _ = try? await database.query("DELETE FROM limit_leases WHERE id LIKE $1", .text(grant.leaseID + "@%"))
    }

    public func charge(_ subjects: [LimitSubject], tokens: Int, cost: UInt256, at: Date) {
        let minute = LimitWindow.minute(at).start
        pending.withLock { pending in
            for subject in subjects {
                if subject.policy.tokensPerMinute != nil, tokens > 0 {
                    pending[Charge(subject: subject.name, kind: "tokens", window: minute, expires: minute + 120_000), default: .zero] += UInt256(UInt64(tokens))
                }
                if subject.policy.budget != nil, cost > .zero {
                    let period = LimitWindow.period(subject.policy.budgetPeriod, at)
                    let expires = period.start + Int64((period.resetSeconds + 86_400 * 32) * 1000)
                    pending[Charge(subject: subject.name, kind: "spend-" + subject.policy.budgetPeriod.rawValue, window: period.start, expires: expires), default: .zero] += cost
                }
            }
        }
    }

    public func flush() async {
        let batch = pending.withLock { pending in
            defer { pending = [:] }
            return pending
        }
        if !batch.isEmpty {
            do {
                try await database.transaction { tx in
                    for (charge, amount) in batch.sorted(by: { ($0.key.subject, $0.key.kind) < ($1.key.subject, $1.key.kind) }) {
                        try await tx.query(
                            """
                            INSERT INTO limit_counters (subject, kind, window_start, amount, expires_at) VALUES ($1, $2, $3, CAST($4 AS NUMERIC), $5)
                            ON CONFLICT (subject, kind, window_start) DO UPDATE SET amount = limit_counters.amount + CAST($4 AS NUMERIC)
                            """,
                            .text(charge.subject), .text(charge.kind), .int(charge.window), .text(amount.description), .int(charge.expires)
                        )
                    }
                }
            } catch {
                // Put the charges back for the next flush rather than lose them.
                pending.withLock { pending in
                    for (charge, amount) in batch { pending[charge, default: .zero] += amount }
                }
            }
        }
        let now = Date()
        let due = lastCleanup.withLock { last in
            guard now.timeIntervalSince(last) > 60 else { return false }
            last = now
            return true
        }
        if due {
            let cutoff = StoredTime.milliseconds(now)
            _ = try? await database.query("DELETE FROM limit_counters WHERE expires_at < $1", .int(cutoff))
            _ = try? await database.query("DELETE FROM limit_leases WHERE expires_at < $1", .int(cutoff))
        }
    }
}
