import EVM
import Foundation
import Synchronization

/// Limits counted in this process's memory: right for one gateway on SQLite, and free of any
/// I/O on the request path. A budget's spend so far is read from the usage log once per
/// subject and period, then kept up to date by ``charge(_:tokens:cost:at:)``.
public final class MemoryRateLimiter: RateLimiter {
    /// Reads a subject's spend since a moment from the usage log.
    public typealias SpendLoader = @Sendable (_ subject: LimitSubject, _ since: Date) async throws -> UInt256

    struct Counters {
        var requestWindow: Int64 = 0
        var requests = 0
        var tokenWindow: Int64 = 0
        var tokens = 0
        var inFlight = 0
        var spendPeriod: Int64 = -1
        var spend = UInt256.zero
    }

    private let counters = Mutex<[String: Counters]>([:])
    private let loadSpend: SpendLoader

    public init(loadSpend: @escaping SpendLoader) {
        self.loadSpend = loadSpend
    }

    public func acquire(_ subjects: [LimitSubject], now: Date) async throws -> LimitGrant {
        let relevant = subjects.filter { !$0.policy.isUnlimited }
        guard !relevant.isEmpty else { return .none }
        for subject in relevant {
            guard let budgetPeriod = subject.policy.budget.map({ _ in subject.policy.budgetPeriod }) else { continue }
            let period = LimitWindow.period(budgetPeriod, now).start
            if counters.withLock({ $0[subject.name]?.spendPeriod }) != period {
                let spent = try await loadSpend(subject, StoredTime.date(period))
                counters.withLock { all in
                    if all[subject.name, default: Counters()].spendPeriod != period {
                        all[subject.name, default: Counters()].spendPeriod = period
                        all[subject.name, default: Counters()].spend = spent
                    }
                }
            }
        }
        return try count(relevant, now: now)
    }

    /// Checks and counts without I/O: nil when a budget's spend must be read first, or when
    /// a limit refuses (the caller then takes the path that answers the refusal).
    public func acquireImmediately(_ subjects: [LimitSubject], now: Date) -> LimitGrant? {
        let relevant = subjects.filter { !$0.policy.isUnlimited }
        guard !relevant.isEmpty else { return LimitGrant.none }
        let loaded = counters.withLock { all in
            relevant.allSatisfy { subject in
                subject.policy.budget == nil
                    || all[subject.name]?.spendPeriod == LimitWindow.period(subject.policy.budgetPeriod, now).start
            }
        }
        guard loaded else { return nil }
        return try? count(relevant, now: now)
    }

    public func releaseImmediately(_ grant: LimitGrant) {
        guard !grant.subjects.isEmpty else { return }
        counters.withLock { all in
            for subject in grant.subjects { all[subject.name]?.inFlight -= 1 }
        }
    }

    public func cancelImmediately(_ grant: LimitGrant) {
        guard !grant.subjects.isEmpty else { return }
        counters.withLock { all in
            for subject in grant.subjects {
                all[subject.name]?.inFlight -= 1
                if all[subject.name]?.requestWindow == grant.window, all[subject.name]!.requests > 0 { all[subject.name]!.requests -= 1 }
            }
        }
    }

    /// Checks every subject, then counts the request against all of them (budgets loaded).
    private func count(_ relevant: [LimitSubject], now: Date) throws(LimitExceeded) -> LimitGrant {
        let minute = LimitWindow.minute(now)
        return try counters.withLock { all throws(LimitExceeded) -> LimitGrant in
            var requestFigures: (Int, Int, Double)? = nil
            var tokenFigures: (Int, Int, Double)? = nil
            // Check every subject before counting any, so a refusal counts nothing.
            for subject in relevant {
                var counter = all[subject.name, default: Counters()]
                if counter.requestWindow != minute.start { counter.requestWindow = minute.start; counter.requests = 0 }
                if counter.tokenWindow != minute.start { counter.tokenWindow = minute.start; counter.tokens = 0 }
                all[subject.name] = counter
                let policy = subject.policy
                if let limit = policy.requestsPerMinute {
                    guard counter.requests < limit else {
                        throw LimitExceeded(kind: .requests, scope: subject.scope, limit: String(limit), retryAfterSeconds: Int(minute.resetSeconds.rounded(.up)))
                    }
                    if requestFigures == nil || limit - counter.requests - 1 < requestFigures!.1 { requestFigures = (limit, limit - counter.requests - 1, minute.resetSeconds) }
                }
                if let limit = policy.tokensPerMinute {
                    guard counter.tokens < limit else {
                        throw LimitExceeded(kind: .tokens, scope: subject.scope, limit: String(limit), retryAfterSeconds: Int(minute.resetSeconds.rounded(.up)))
                    }
                    if tokenFigures == nil || limit - counter.tokens < tokenFigures!.1 { tokenFigures = (limit, limit - counter.tokens, minute.resetSeconds) }
                }
                if let limit = policy.concurrentRequests, counter.inFlight >= limit {
                    throw LimitExceeded(kind: .concurrency, scope: subject.scope, limit: String(limit), retryAfterSeconds: 1)
                }
                if let budget = policy.budget, counter.spend >= budget {
                    let reset = LimitWindow.period(policy.budgetPeriod, now).resetSeconds
                    throw LimitExceeded(kind: .budget, scope: subject.scope, limit: budget.decimalUnits(decimals: 18), retryAfterSeconds: Int(reset.rounded(.up)))
                }
            }
            for subject in relevant {
                all[subject.name]!.requests += 1
                all[subject.name]!.inFlight += 1
            }
            var grant = LimitGrant(leaseID: "", subjects: relevant, requests: requestFigures, tokens: tokenFigures)
            grant.window = minute.start
            return grant
        }
    }

    public func release(_ grant: LimitGrant) async {
        releaseImmediately(grant)
    }

    public func charge(_ subjects: [LimitSubject], tokens: Int, cost: UInt256, at: Date) {
        guard !subjects.isEmpty else { return }
        let minute = LimitWindow.minute(at).start
        counters.withLock { all in
            for subject in subjects where !subject.policy.isUnlimited {
                var counter = all[subject.name, default: Counters()]
                if counter.tokenWindow != minute { counter.tokenWindow = minute; counter.tokens = 0 }
                counter.tokens += tokens
                if counter.spendPeriod == LimitWindow.period(subject.policy.budgetPeriod, at).start { counter.spend = counter.spend + cost }
                all[subject.name] = counter
            }
        }
    }

    /// Forgets idle subjects (client IPs above all) so the table does not grow without bound.
    public func flush() async {
        let current = LimitWindow.minute(Date()).start
        counters.withLock { all in
            guard all.count > 10_000 else { return }
            all = all.filter { $0.value.inFlight > 0 || $0.value.requestWindow >= current - 60_000 || $0.value.spendPeriod >= 0 }
        }
    }
}
