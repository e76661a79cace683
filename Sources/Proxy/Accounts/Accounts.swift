import Crypto
import EVM
import Foundation
import HTTPTypes
import Logging

/// Everything about the people a gateway serves, in one place for the routes: the store,
/// key authentication (cached), limits, the usage recorder and log-in sessions.
///
/// Lifetime: ``open(configuration:authToken:chainID:walletKey:logger:)`` connects and migrates;
/// run ``recorder`` in the service group (before the HTTP server, so it stops after it and
/// writes the last usage); ``close()`` when the group has finished.
public final class Accounts: Sendable {
    public let store: AccountStore
    public let limiter: any RateLimiter
    public let recorder: UsageRecorder
    public let sessions: SessionTokens
    public let configuration: AccountsConfiguration
    public let siwe: SIWEVerifier
    let cache: KeyCache
    private let operatorDigest: [UInt8]?
    private let adminDigest: [UInt8]?

    public init(
        store: AccountStore, configuration: AccountsConfiguration, authToken: String?, chainID: UInt64, sessionSecret: [UInt8], logger: Logger
    ) async {
        self.store = store
        self.configuration = configuration
        if store.database.dialect == .postgres {
            limiter = PostgresRateLimiter(database: store.database)
        } else {
            limiter = MemoryRateLimiter { subject, since in
                switch subject.scope {
                case .key: try await store.spend(keyID: subject.id, since: since)
                case .user: try await store.spend(userID: subject.id, since: since)
                case .ip: .zero
                }
            }
        }
        recorder = UsageRecorder(store: store, limiter: limiter, interval: configuration.usageFlushInterval, logger: logger)
        sessions = await SessionTokens(secret: sessionSecret, lifetime: configuration.sessionLifetime)
        siwe = SIWEVerifier(chainID: chainID)
        cache = KeyCache(lifetime: configuration.keyCacheLifetime)
        operatorDigest = authToken.map { Self.digest($0[...]) }
        adminDigest = configuration.adminToken.map { Self.digest($0[...]) }
    }

    /// Opens the configured store (PostgreSQL or SQLite), migrates it and builds the rest.
    /// The session secret is `JWT_SECRET`, else derived from `walletKey`.
    public static func open(
        configuration: AccountsConfiguration, authToken: String?, chainID: UInt64, walletKey: [UInt8], logger: Logger
    ) async throws -> Accounts {
        let store = try await AccountStore.open(url: configuration.databaseURL, sqlitePath: configuration.databasePath, logger: logger)
        let secret = configuration.jwtSecret.map { Array($0.utf8) } ?? SessionTokens.derivedSecret(fromWalletKey: walletKey)
        return await Accounts(store: store, configuration: configuration, authToken: authToken, chainID: chainID, sessionSecret: secret, logger: logger)
    }

    /// Writes the remaining usage and closes the database.
    public func close() async {
        await recorder.flush()
        await store.close()
    }

    /// Whether `/v1` needs a credential: yes once the operator set `AUTH_TOKEN` or `ADMIN_TOKEN`.
    public var requiresCredential: Bool { operatorDigest != nil || adminDigest != nil }

    /// Whether the credential is the admin token (constant time).
    public func isAdmin(_ credential: Substring?) -> Bool {
        guard let credential, let adminDigest else { return false }
        return Self.equal(Self.digest(credential), adminDigest)
    }

    /// Resolves the caller of an inference route.
    ///
    /// `sk-zg-` keys are always checked (a typo is answered, not ignored); the operator's
    /// `AUTH_TOKEN` or `ADMIN_TOKEN` pass without per-user limits; with neither configured, any
    /// other credential or none is an anonymous caller, limited per IP.
    public func authenticate(_ credential: Substring?) async throws(OpenAIError) -> Principal {
        if let credential, APIKeySecret.looksValid(credential) {
            return try await principal(forKey: credential)
        }
        if let principal = operatorPrincipal(credential) { return principal }
        if requiresCredential { throw OpenAIError.invalidAPIKey() }
        return Principal(kind: .anonymous)
    }

    /// ``authenticate(_:)`` from memory alone: nil when the key is not cached, or when the
    /// answer is a refusal (the regular path answers those).
    func authenticateImmediately(_ credential: Substring?) -> Principal? {
        if let credential, APIKeySecret.looksValid(credential) { return cachedKeyPrincipal(hash: APIKeySecret.hash(credential)) }
        if let principal = operatorPrincipal(credential) { return principal }
        return requiresCredential ? nil : Principal(kind: .anonymous)
    }

    /// ``authenticateImmediately(_:)`` for a connection that keeps a ``CredentialMemo``: a client
    /// sends the same credential with every request, and what it was is remembered, so it is not
    /// hashed again. A key is still looked up each time (a revocation or expiry applies at once).
    func authenticateImmediately(_ credential: Substring?, memo: inout CredentialMemo) -> Principal? {
        guard let credential else { return authenticateImmediately(nil) }
        if memo.matches(credential) {
            switch memo.kind {
            case .operatorToken: return Principal(kind: .operatorToken)
            case .key(let hash): return cachedKeyPrincipal(hash: hash)
            }
        }
        if APIKeySecret.looksValid(credential) {
            let hash = APIKeySecret.hash(credential)
            memo.remember(credential, as: .key(hash: hash))
            return cachedKeyPrincipal(hash: hash)
        }
        let principal = authenticateImmediately(credential)
        if case .operatorToken? = principal?.kind { memo.remember(credential, as: .operatorToken) }
        return principal
    }

    /// The caller with the key of this hash, when the cache knows it and it is active.
    private func cachedKeyPrincipal(hash: String) -> Principal? {
        guard let cached = cache.lookup(hash: hash), let (key, user) = cached, key.status() == .active else { return nil }
        return Principal(kind: .apiKey(key, user))
    }

    /// The operator, when the credential is `AUTH_TOKEN` or `ADMIN_TOKEN` (hashed once for both).
    private func operatorPrincipal(_ credential: Substring?) -> Principal? {
        guard let credential, operatorDigest != nil || adminDigest != nil else { return nil }
        let presented = Self.digest(credential)
        guard [operatorDigest, adminDigest].contains(where: { $0.map { Self.equal(presented, $0) } == true }) else { return nil }
        return Principal(kind: .operatorToken)
    }

    private func principal(forKey secret: Substring) async throws(OpenAIError) -> Principal {
        let hash = APIKeySecret.hash(secret)
        let found: (APIKey, User)?
        if let cached = cache.lookup(hash: hash) {
            found = cached
        } else {
            do {
                found = try await store.key(secret: secret)
            } catch {
                throw OpenAIError.serviceUnavailable("The account database is unavailable; try again shortly.", retryAfterSeconds: 1)
            }
            cache.store(hash: hash, found)
        }
        guard let (key, user) = found else { throw OpenAIError.invalidAPIKey() }
        switch key.status() {
        case .active: return Principal(kind: .apiKey(key, user))
        case .revoked: throw OpenAIError(.unauthorized, message: "This API key has been revoked.", type: "invalid_request_error", code: "invalid_api_key")
        case .expired: throw OpenAIError(.unauthorized, message: "This API key has expired.", type: "invalid_request_error", code: "invalid_api_key")
        }
    }

    /// Forgets cached keys after a change made through this process.
    func invalidate(keyID: String? = nil, userID: String? = nil) { cache.invalidate(keyID: keyID, userID: userID) }

    /// The limits a caller's request counts against.
    public func subjects(for principal: Principal, clientIP: String) -> [LimitSubject] {
        switch principal.kind {
        case .operatorToken: return []
        case .anonymous: return ipSubjects(clientIP)
        case .apiKey(let key, let user):
            return [LimitSubject(scope: .key, id: key.id, policy: key.limits), LimitSubject(scope: .user, id: user.id, policy: user.limits)]
        }
    }

    /// The per-IP limit of unauthenticated routes (none when set to 0).
    public func ipSubjects(_ clientIP: String) -> [LimitSubject] {
        guard configuration.ipRequestsPerMinute > 0 else { return [] }
        return [LimitSubject(scope: .ip, id: clientIP, policy: LimitPolicy(requestsPerMinute: configuration.ipRequestsPerMinute))]
    }

    /// Checks and counts a request against `subjects`, as an OpenAI error when refused.
    public func acquire(_ subjects: [LimitSubject]) async throws(OpenAIError) -> LimitGrant {
        guard !subjects.isEmpty else { return .none }
        do {
            return try await limiter.acquire(subjects, now: Date())
        } catch let exceeded as LimitExceeded {
            throw exceeded.openAIError
        } catch {
            throw OpenAIError.serviceUnavailable("The account database is unavailable; try again shortly.", retryAfterSeconds: 1)
        }
    }

    /// Counts a refused attempt (a wrong key or token) against the client's IP limit, so
    /// guessing is slowed down; throws the 429 once the IP is over it.
    public func countAttempt(clientIP: String) async throws(OpenAIError) {
        let grant = try await acquire(ipSubjects(clientIP))
        await limiter.release(grant)
    }

    /// Tokens are compared as SHA-256 digests, so neither their content nor their length
    /// leaks through timing.
    static func digest(_ credential: Substring) -> [UInt8] { Array(SHA256.hash(data: Array(credential.utf8))) }

    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

/// What one client connection last authenticated with: its credential, and whether it was the
/// operator's token or which key (by hash) it was. Compared on later requests of the connection
/// only, so its timing says nothing of another client's credential.
struct CredentialMemo {
    enum Kind {
        case operatorToken
        case key(hash: String)
    }

    private var credential: [UInt8] = []
    private(set) var kind = Kind.operatorToken

    func matches(_ presented: Substring) -> Bool {
        !credential.isEmpty && presented.utf8.elementsEqual(credential)
    }

    mutating func remember(_ presented: Substring, as kind: Kind) {
        credential = Array(presented.utf8)
        self.kind = kind
    }
}
