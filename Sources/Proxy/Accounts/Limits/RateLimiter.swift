import EVM
import Foundation
import HTTPTypes

/// Whose limits a request counts against: a key, a user, or a client IP.
public struct LimitSubject: Sendable, Hashable {
    public enum Scope: String, Sendable {
        case key
        case user
        case ip
    }

    public var scope: Scope
    public var id: String
    public var policy: LimitPolicy

    public init(scope: Scope, id: String, policy: LimitPolicy) {
        self.scope = scope
        self.id = id
        self.policy = policy
    }

    /// The counter name: `key:key_…`, `user:usr_…`, `ip:203.0.113.5`.
    public var name: String { "\(scope.rawValue):\(id)" }
}

/// Why a request was refused: turned into a 429 with `retry-after` and the `x-ratelimit-*`
/// headers, or `insufficient_quota` for a spent budget.
public struct LimitExceeded: Error, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case requests
        case tokens
        case concurrency
        case budget
    }

    public var kind: Kind
    public var scope: LimitSubject.Scope
    public var limit: String
    public var retryAfterSeconds: Int

    public var openAIError: OpenAIError {
        let who = scope == .ip ? "this IP address" : "this \(scope == .key ? "API key" : "user")"
        switch kind {
        case .budget:
            return OpenAIError(
                .tooManyRequests, message: "You exceeded the spend budget of \(who) (\(limit) 0G). It renews in \(retryAfterSeconds) s.",
                type: "insufficient_quota", code: "insufficient_quota", headers: [.shouldRetry: "false"]
            )
        case .requests, .tokens, .concurrency:
            let what = switch kind {
            case .requests: "requests per minute (RPM): Limit \(limit)"
            case .tokens: "tokens per minute (TPM): Limit \(limit)"
            default: "concurrent requests: Limit \(limit)"
            }
            let headers: HTTPFields = [.retryAfter: String(retryAfterSeconds), .shouldRetry: "true"]
            return OpenAIError(
                .tooManyRequests, message: "Rate limit reached for \(who) on \(what). Please try again in \(retryAfterSeconds)s.",
                type: kind == .tokens ? "tokens" : "requests", code: "rate_limit_exceeded", headers: headers
            )
        }
    }
}

/// What a request was granted: released when its response ends, and the figures for the
/// `x-ratelimit-*` headers (of the tightest request and token limits that apply).
public struct LimitGrant: Sendable {
    public var leaseID: String
    public var subjects: [LimitSubject]
    public var requests: (limit: Int, remaining: Int, resetSeconds: Double)?
    public var tokens: (limit: Int, remaining: Int, resetSeconds: Double)?
    /// The minute window the request was counted in (memory limiter), for ``RateLimiter/cancelImmediately(_:)``.
    public var window: Int64 = 0

    public static let none = LimitGrant(leaseID: "", subjects: [])

    public init(leaseID: String, subjects: [LimitSubject], requests: (Int, Int, Double)? = nil, tokens: (Int, Int, Double)? = nil) {
        self.leaseID = leaseID
        self.subjects = subjects
        self.requests = requests.map { (limit: $0.0, remaining: $0.1, resetSeconds: $0.2) }
        self.tokens = tokens.map { (limit: $0.0, remaining: $0.1, resetSeconds: $0.2) }
    }

    /// OpenAI's names: `x-ratelimit-limit-requests`, `…-remaining-requests`, `…-reset-requests`
    /// and the same for tokens; resets as `1s`, `6m0s`, `120ms`.
    public var headers: HTTPFields {
        var fields = HTTPFields()
        for (suffix, figures) in [("requests", requests), ("tokens", tokens)] {
            guard let figures else { continue }
            fields[HTTPField.Name("x-ratelimit-limit-\(suffix)")!] = String(figures.limit)
            fields[HTTPField.Name("x-ratelimit-remaining-\(suffix)")!] = String(max(0, figures.remaining))
            fields[HTTPField.Name("x-ratelimit-reset-\(suffix)")!] = Self.duration(figures.resetSeconds)
        }
        return fields
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        let whole = Int(seconds.rounded(.up))
        return whole >= 60 ? "\(whole / 60)m\(whole % 60)s" : "\(whole)s"
    }
}

/// Counts requests, tokens, concurrent requests and spend against limits.
///
/// ``MemoryRateLimiter`` serves one process (the SQLite default); ``PostgresRateLimiter``
/// counts in the database so several processes share one limit. Both check every subject and
/// count a request only when all of them allow it.
public protocol RateLimiter: Sendable {
    /// Checks and counts a request starting now; throws ``LimitExceeded`` when one is reached.
    func acquire(_ subjects: [LimitSubject], now: Date) async throws -> LimitGrant
    /// Ends a granted request (its concurrency slot).
    func release(_ grant: LimitGrant) async
    /// Counts what a finished request used: its tokens and cost.
    func charge(_ subjects: [LimitSubject], tokens: Int, cost: UInt256, at: Date)
    /// Writes counted charges out (the database limiter batches them); called about once a second.
    func flush() async

    /// The direct relay's variant of ``acquire(_:now:)``: counts without I/O and returns the
    /// grant, or nil when that is not possible (I/O needed) or the request is refused.
    func acquireImmediately(_ subjects: [LimitSubject], now: Date) -> LimitGrant?
    /// ``release(_:)`` of a grant from ``acquireImmediately(_:now:)``.
    func releaseImmediately(_ grant: LimitGrant)
    /// Undoes a grant from ``acquireImmediately(_:now:)`` whose request is handed to the
    /// regular path (which counts it again).
    func cancelImmediately(_ grant: LimitGrant)
}

extension RateLimiter {
    /// Limiters that count in a database cannot decide without I/O.
    public func acquireImmediately(_ subjects: [LimitSubject], now: Date) -> LimitGrant? {
        subjects.isEmpty ? LimitGrant.none : nil
    }

    public func releaseImmediately(_ grant: LimitGrant) {}
    public func cancelImmediately(_ grant: LimitGrant) {}
}

/// Fixed windows: the minute and the budget period a moment falls in.
enum LimitWindow {
    static func minute(_ now: Date) -> (start: Int64, resetSeconds: Double) {
        let seconds = now.timeIntervalSince1970
        let start = (seconds / 60).rounded(.down) * 60
        return (Int64(start * 1000), start + 60 - seconds)
    }

    /// Start of the UTC day or month containing `now`, and seconds until the next.
    static func period(_ period: LimitPolicy.Period, _ now: Date) -> (start: Int64, resetSeconds: Double) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = period == .day ? calendar.startOfDay(for: now) : calendar.date(from: calendar.dateComponents([.year, .month], from: now))!
        let next = calendar.date(byAdding: period == .day ? .day : .month, value: 1, to: start)!
        return (Int64(start.timeIntervalSince1970 * 1000), next.timeIntervalSince(now))
    }
}
