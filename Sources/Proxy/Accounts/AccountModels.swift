import Foundation
import EVM

/// What one user or one key may consume. `nil` means no limit of that kind.
public struct LimitPolicy: Sendable, Hashable {
    public enum Period: String, Sendable, Hashable, CaseIterable {
        case day
        case month
    }

    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var concurrentRequests: Int?
    /// Spend allowed per ``budgetPeriod``, in neuron (0G's smallest unit; other backends are
    /// priced in the same unit by their configured prices).
    public var budget: UInt256?
    public var budgetPeriod: Period

    public init(
        requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, concurrentRequests: Int? = nil, budget: UInt256? = nil,
        budgetPeriod: Period = .month
    ) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.concurrentRequests = concurrentRequests
        self.budget = budget
        self.budgetPeriod = budgetPeriod
    }

    public static let unlimited = LimitPolicy()

    public var isUnlimited: Bool { requestsPerMinute == nil && tokensPerMinute == nil && concurrentRequests == nil && budget == nil }
}

/// A person the gateway serves: created by the operator, or on first wallet log-in.
public struct User: Sendable, Hashable {
    public var id: String
    /// The wallet that logs in as this user (nil for users the operator made without one).
    public var address: Address?
    public var name: String
    public var limits: LimitPolicy
    public var createdAt: Date
}

/// An API key's stored record: everything but the secret, of which only the SHA-256 is kept.
public struct APIKey: Sendable, Hashable {
    public enum Status: String, Sendable {
        case active
        case revoked
        case expired
    }

    public var id: String
    public var userID: String
    public var name: String
    /// `sk-zg-…` plus the secret's last four characters, to tell keys apart in lists.
    public var hint: String
    /// nil allows every model.
    public var models: [String]?
    public var limits: LimitPolicy
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?

    public func status(at now: Date = Date()) -> Status {
        if revokedAt != nil { return .revoked }
        if let expiresAt, expiresAt <= now { return .expired }
        return .active
    }

    public func allows(model: String) -> Bool {
        guard let models else { return true }
        return models.contains(model)
    }
}

/// One finished request, as the usage log keeps it.
public struct UsageRecord: Sendable, Hashable {
    public var requestID: String
    public var at: Date
    public var userID: String?
    public var keyID: String?
    public var model: String
    /// `0g`, or the endpoint's name.
    public var backend: String
    /// The 0G provider address or the endpoint's name.
    public var provider: String
    public var promptTokens: Int
    public var completionTokens: Int
    public var cachedTokens: Int
    /// In neuron.
    public var cost: UInt256
    public var latencyMilliseconds: Int
    public var status: Int

    public init(
        requestID: String, at: Date, userID: String?, keyID: String?, model: String, backend: String, provider: String, promptTokens: Int,
        completionTokens: Int, cachedTokens: Int, cost: UInt256, latencyMilliseconds: Int, status: Int
    ) {
        self.requestID = requestID
        self.at = at
        self.userID = userID
        self.keyID = keyID
        self.model = model
        self.backend = backend
        self.provider = provider
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.cost = cost
        self.latencyMilliseconds = latencyMilliseconds
        self.status = status
    }

    public var totalTokens: Int { promptTokens + completionTokens }
}

/// Which usage to report.
public struct UsageFilter: Sendable, Hashable {
    public var userID: String?
    public var keyID: String?
    public var model: String?
    public var since: Date?
    public var until: Date?

    public init(userID: String? = nil, keyID: String? = nil, model: String? = nil, since: Date? = nil, until: Date? = nil) {
        self.userID = userID
        self.keyID = keyID
        self.model = model
        self.since = since
        self.until = until
    }
}

/// How usage is summed up.
public enum UsageGrouping: String, Sendable, CaseIterable {
    case day
    case model
    case key
    case user
    case backend
    case total
}

/// One line of a usage report.
public struct UsageSummary: Sendable, Hashable {
    /// The day (`2026-11-25`), model, key id, user id or backend; `total` for the whole.
    public var group: String
    public var requests: Int
    public var errors: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var cachedTokens: Int
    /// In neuron.
    public var cost: UInt256
}

/// Who is calling: resolved from the `Authorization` header once per request.
public struct Principal: Sendable {
    public enum Kind: Sendable {
        /// The operator's shared `AUTH_TOKEN` (or no auth configured): no per-user limits.
        case operatorToken
        /// A user's `sk-zg-` key.
        case apiKey(APIKey, User)
        /// Open gateway, no credential: limited per client IP.
        case anonymous
    }

    public var kind: Kind

    public var user: User? {
        if case .apiKey(_, let user) = kind { return user }
        return nil
    }

    public var key: APIKey? {
        if case .apiKey(let key, _) = kind { return key }
        return nil
    }
}
