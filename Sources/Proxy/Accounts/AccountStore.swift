import EVM
import Foundation
import Logging

/// A request about accounts that cannot be done as asked (answered 400/404/409).
public struct AccountError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case notFound
        case conflict
        case invalid
    }

    public var kind: Kind
    public var message: String

    public static func notFound(_ what: String) -> AccountError { AccountError(kind: .notFound, message: "No such \(what).") }
    public static func invalid(_ message: String) -> AccountError { AccountError(kind: .invalid, message: message) }
    public static func conflict(_ message: String) -> AccountError { AccountError(kind: .conflict, message: message) }

    public var description: String { message }
}

/// Users, API keys, login nonces and the usage log, on SQLite or PostgreSQL.
///
/// Every method is one statement or one transaction, so several gateway processes sharing a
/// PostgreSQL database see one consistent set of accounts. Key secrets are never stored: keys
/// are found by the SHA-256 of the presented secret.
public final class AccountStore: Sendable {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    /// Opens the store the configuration names and brings its schema up to date:
    /// PostgreSQL when `url` is set, else the SQLite file at `sqlitePath` (nil: in memory).
    public static func open(url: String?, sqlitePath: String?, logger: Logger) async throws -> AccountStore {
        let database: any SQLDatabase = if let url {
            try await PostgresDatabase.open(url: url, logger: logger)
        } else {
            try await SQLiteDatabase.open(path: sqlitePath, logger: logger)
        }
        do {
            try await Migrations.run(on: database)
        } catch {
            await database.close()
            throw error
        }
        return AccountStore(database: database)
    }

    public func close() async { await database.close() }

    // MARK: Users

    public func createUser(address: Address? = nil, name: String = "", limits: LimitPolicy = .unlimited) async throws -> User {
        let user = User(id: RecordID.make("usr"), address: address, name: name, limits: limits, createdAt: Self.now())
        if let address, try await self.user(address: address) != nil {
            throw AccountError.conflict("A user with address \(address) already exists.")
        }
        try await database.query(
            "INSERT INTO users (id, address, name, rpm, tpm, concurrency, budget, budget_period, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [.text(user.id), SQLValue(address?.lowercased), .text(name)] + Self.binds(limits) + [.int(StoredTime.milliseconds(user.createdAt))]
        )
        return user
    }

    /// The user a wallet logs in as, created with `limits` on its first log-in.
    public func userForLogin(address: Address, limits: LimitPolicy = .unlimited) async throws -> User {
        try await database.query(
            """
            INSERT INTO users (id, address, name, rpm, tpm, concurrency, budget, budget_period, created_at)
            VALUES ($1, $2, '', $3, $4, $5, $6, $7, $8) ON CONFLICT (address) DO NOTHING
            """,
            [.text(RecordID.make("usr")), .text(address.lowercased)] + Self.binds(limits) + [.int(StoredTime.milliseconds())]
        )
        guard let user = try await user(address: address) else { throw AccountError.notFound("user") }
        return user
    }

    public func user(id: String) async throws -> User? {
        try await database.query("SELECT * FROM users WHERE id = $1", .text(id)).first.map(Self.user)
    }

    public func user(address: Address) async throws -> User? {
        try await database.query("SELECT * FROM users WHERE address = $1", .text(address.lowercased)).first.map(Self.user)
    }

    public func users() async throws -> [User] {
        try await database.query("SELECT * FROM users ORDER BY created_at, id").map(Self.user)
    }

    public func updateUser(id: String, name: String?, limits: LimitPolicy?) async throws -> User {
        guard var user = try await user(id: id) else { throw AccountError.notFound("user") }
        if let name { user.name = name }
        if let limits { user.limits = limits }
        try await database.query(
            "UPDATE users SET name = $2, rpm = $3, tpm = $4, concurrency = $5, budget = $6, budget_period = $7 WHERE id = $1",
            [.text(id), .text(user.name)] + Self.binds(user.limits)
        )
        return user
    }

    /// Deletes the user and their keys; their usage stays in the log.
    public func deleteUser(id: String) async throws {
        try await database.transaction { tx in
            try await tx.query("DELETE FROM api_keys WHERE user_id = $1", .text(id))
            let deleted = try await tx.query("DELETE FROM users WHERE id = $1 RETURNING id", .text(id))
            if deleted.isEmpty { throw AccountError.notFound("user") }
        }
    }

    // MARK: Keys

    /// Creates a key; the returned secret is the only copy there will ever be.
    public func createKey(
        userID: String, name: String, models: [String]? = nil, limits: LimitPolicy = .unlimited, expiresAt: Date? = nil
    ) async throws -> (key: APIKey, secret: String) {
        guard try await user(id: userID) != nil else { throw AccountError.notFound("user") }
        if let expiresAt, expiresAt <= Date() { throw AccountError.invalid("The expiry must be in the future.") }
        let secret = APIKeySecret.generate()
        let key = APIKey(
            id: RecordID.make("key"), userID: userID, name: name, hint: APIKeySecret.hint(secret), models: models, limits: limits,
            createdAt: Self.now(), expiresAt: expiresAt, revokedAt: nil
        )
        try await database.query(
            """
            INSERT INTO api_keys (id, user_id, name, hint, hash, models, rpm, tpm, concurrency, budget, budget_period, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            """,
            [.text(key.id), .text(userID), .text(name), .text(key.hint), .text(APIKeySecret.hash(secret)), SQLValue(Self.encode(models))]
                + Self.binds(limits) + [.int(StoredTime.milliseconds(key.createdAt)), SQLValue(expiresAt.map { StoredTime.milliseconds($0) })]
        )
        return (key, secret)
    }

    /// Keys of one user (or every key), newest first.
    public func keys(userID: String? = nil) async throws -> [APIKey] {
        let rows = if let userID {
            try await database.query("SELECT * FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id", .text(userID))
        } else {
            try await database.query("SELECT * FROM api_keys ORDER BY created_at DESC, id")
        }
        return rows.map(Self.key)
    }

    public func key(id: String) async throws -> APIKey? {
        try await database.query("SELECT * FROM api_keys WHERE id = $1", .text(id)).first.map(Self.key)
    }

    /// The key and its user for a presented secret, whatever the key's status (the caller
    /// tells revoked and expired keys apart).
    public func key(secret: some StringProtocol) async throws -> (APIKey, User)? {
        let hash = APIKeySecret.hash(secret)
        guard let row = try await database.query("SELECT * FROM api_keys WHERE hash = $1", .text(hash)).first,
              let stored = row.text("hash"), APIKeySecret.constantTimeEquals(stored, hash) else { return nil }
        let key = Self.key(row)
        guard let user = try await user(id: key.userID) else { return nil }
        return (key, user)
    }

    public func updateKey(id: String, name: String? = nil, models: [String]?? = nil, limits: LimitPolicy? = nil) async throws -> APIKey {
        guard var key = try await key(id: id) else { throw AccountError.notFound("key") }
        if let name { key.name = name }
        if let models { key.models = models }
        if let limits { key.limits = limits }
        try await database.query(
            "UPDATE api_keys SET name = $2, models = $3, rpm = $4, tpm = $5, concurrency = $6, budget = $7, budget_period = $8 WHERE id = $1",
            [.text(id), .text(key.name), SQLValue(Self.encode(key.models))] + Self.binds(key.limits)
        )
        return key
    }

    /// Revokes a key: it stops working at once (and, in other processes, within the key
    /// cache's lifetime).
    public func revokeKey(id: String) async throws -> APIKey {
        let now = StoredTime.milliseconds()
        guard let row = try await database.query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING *", .text(id), .int(now)
        ).first else { throw AccountError.notFound("key") }
        return Self.key(row)
    }

    /// Gives a key a new secret, keeping its id, name, models and limits; the old secret stops
    /// working. Revoked keys cannot be rotated.
    public func rotateKey(id: String) async throws -> (key: APIKey, secret: String) {
        let secret = APIKeySecret.generate()
        guard let row = try await database.query(
            "UPDATE api_keys SET hash = $2, hint = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING *",
            .text(id), .text(APIKeySecret.hash(secret)), .text(APIKeySecret.hint(secret))
        ).first else {
            if try await key(id: id) != nil { throw AccountError.conflict("The key is revoked; create a new one.") }
            throw AccountError.notFound("key")
        }
        return (Self.key(row), secret)
    }

    public func deleteKey(id: String) async throws {
        if try await database.query("DELETE FROM api_keys WHERE id = $1 RETURNING id", .text(id)).isEmpty { throw AccountError.notFound("key") }
    }

    // MARK: Login nonces

    public func insertNonce(_ nonce: String, expiresAt: Date) async throws {
        try await database.query("DELETE FROM login_nonces WHERE expires_at < $1", .int(StoredTime.milliseconds()))
        try await database.query("INSERT INTO login_nonces (nonce, expires_at) VALUES ($1, $2)", .text(nonce), .int(StoredTime.milliseconds(expiresAt)))
    }

    /// Uses up a nonce: true once, for a nonce issued and not expired; false after (replay).
    public func consumeNonce(_ nonce: String, now: Date = Date()) async throws -> Bool {
        let rows = try await database.query("DELETE FROM login_nonces WHERE nonce = $1 RETURNING expires_at", .text(nonce))
        guard let expires = rows.first?.int("expires_at") else { return false }
        return expires > StoredTime.milliseconds(now)
    }

    // MARK: Usage

    /// Appends records in one transaction.
    public func insertUsage(_ records: [UsageRecord]) async throws {
        guard !records.isEmpty else { return }
        try await database.transaction { tx in
            // Several rows per statement, under both engines' bind limits.
            var start = 0
            while start < records.count {
                let end = min(start + Self.usageRowsPerInsert, records.count)
                var binds: [SQLValue] = []
                binds.reserveCapacity((end - start) * 13)
                for record in records[start..<end] {
                    binds.append(.text(record.requestID))
                    binds.append(.int(StoredTime.milliseconds(record.at)))
                    binds.append(SQLValue(record.userID))
                    binds.append(SQLValue(record.keyID))
                    binds.append(.text(record.model))
                    binds.append(.text(record.backend))
                    binds.append(.text(record.provider))
                    binds.append(.int(Int64(record.promptTokens)))
                    binds.append(.int(Int64(record.completionTokens)))
                    binds.append(.int(Int64(record.cachedTokens)))
                    binds.append(.int(Self.clamped(record.cost)))
                    binds.append(.int(Int64(record.latencyMilliseconds)))
                    binds.append(.int(Int64(record.status)))
                }
                let sql = end - start == Self.usageRowsPerInsert ? Self.fullUsageInsert : Self.usageInsert(rows: end - start)
                try await tx.query(sql, binds)
                start = end
            }
        }
    }

    private static let usageRowsPerInsert = 200
    /// The statement of a whole batch, written once (a busy gateway writes thousands a minute).
    private static let fullUsageInsert = usageInsert(rows: usageRowsPerInsert)

    /// `INSERT INTO usage_log … VALUES ($1, …, $13), ($14, …)` for `rows` rows of 13 values.
    private static func usageInsert(rows: Int) -> String {
        var sql = """
            INSERT INTO usage_log (request_id, at, user_id, key_id, model, backend, provider, prompt_tokens, completion_tokens,
            cached_tokens, cost, latency_ms, status) VALUES
            """
        sql.reserveCapacity(sql.utf8.count + rows * 80)
        for row in 0..<rows {
            sql += row == 0 ? " (" : ", ("
            for column in 1...13 {
                if column > 1 { sql += ", " }
                sql += "$\(row * 13 + column)"
            }
            sql += ")"
        }
        return sql
    }

    /// Sums the usage log. Costs are summed in two parts (whole gneuron and the remainder) so
    /// neither engine's 64-bit integers overflow on large totals.
    public func usage(_ filter: UsageFilter, groupBy grouping: UsageGrouping) async throws -> [UsageSummary] {
        var conditions: [String] = []
        var binds: [SQLValue] = []
        func add(_ condition: String, _ value: SQLValue) {
            binds.append(value)
            conditions.append(condition.replacingOccurrences(of: "?", with: "$\(binds.count)"))
        }
        if let user = filter.userID { add("user_id = ?", .text(user)) }
        if let key = filter.keyID { add("key_id = ?", .text(key)) }
        if let model = filter.model { add("model = ?", .text(model)) }
        if let since = filter.since { add("at >= ?", .int(StoredTime.milliseconds(since))) }
        if let until = filter.until { add("at < ?", .int(StoredTime.milliseconds(until))) }
        let group = switch grouping {
        case .day: "CAST(at / 86400000 AS BIGINT)"
        case .model: "model"
        case .key: "COALESCE(key_id, '')"
        case .user: "COALESCE(user_id, '')"
        case .backend: "backend"
        case .total: "'total'"
        }
        let sql = """
            SELECT \(group) AS grp, CAST(COUNT(*) AS BIGINT) AS requests,
              CAST(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS BIGINT) AS errors,
              CAST(SUM(prompt_tokens) AS BIGINT) AS prompt, CAST(SUM(completion_tokens) AS BIGINT) AS completion,
              CAST(SUM(cached_tokens) AS BIGINT) AS cached,
              CAST(SUM(cost / 1000000000) AS BIGINT) AS cost_high, CAST(SUM(cost % 1000000000) AS BIGINT) AS cost_low
            FROM usage_log \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            \(grouping == .total ? "" : "GROUP BY grp ORDER BY grp")
            """
        return try await database.query(sql, binds).map { row in
            var label = row.text("grp") ?? ""
            if grouping == .day, let day = row.int("grp") { label = Self.dayFormatter.string(from: Date(timeIntervalSince1970: Double(day) * 86400)) }
            let cost = UInt256(UInt64(max(0, row.int("cost_high") ?? 0))) * UInt256(1_000_000_000) + UInt256(UInt64(max(0, row.int("cost_low") ?? 0)))
            return UsageSummary(
                group: label, requests: Int(row.int("requests") ?? 0), errors: Int(row.int("errors") ?? 0), promptTokens: Int(row.int("prompt") ?? 0),
                completionTokens: Int(row.int("completion") ?? 0), cachedTokens: Int(row.int("cached") ?? 0), cost: cost
            )
        }
    }

    /// Spend since `since` of a key or a user (for budgets on a single process).
    public func spend(keyID: String? = nil, userID: String? = nil, since: Date) async throws -> UInt256 {
        try await usage(UsageFilter(userID: userID, keyID: keyID, since: since), groupBy: .total).first?.cost ?? .zero
    }

    // MARK: Rows

    static let dayFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter
    }()

    static func now() -> Date { StoredTime.date(StoredTime.milliseconds()) }

    static func clamped(_ value: UInt256) -> Int64 {
        value > UInt256(UInt64(Int64.max)) ? Int64.max : Int64(value.description) ?? Int64.max
    }

    static func binds(_ limits: LimitPolicy) -> [SQLValue] {
        [SQLValue(limits.requestsPerMinute), SQLValue(limits.tokensPerMinute), SQLValue(limits.concurrentRequests),
         SQLValue(limits.budget?.description), .text(limits.budgetPeriod.rawValue)]
    }

    static func limits(_ row: SQLRow) -> LimitPolicy {
        LimitPolicy(
            requestsPerMinute: row.int("rpm").map(Int.init), tokensPerMinute: row.int("tpm").map(Int.init),
            concurrentRequests: row.int("concurrency").map(Int.init), budget: row.text("budget").flatMap { UInt256(decimal: $0) },
            budgetPeriod: row.text("budget_period").flatMap(LimitPolicy.Period.init(rawValue:)) ?? .month
        )
    }

    static func user(_ row: SQLRow) -> User {
        User(
            id: row.text("id") ?? "", address: row.text("address").flatMap { try? Address(hex: $0) }, name: row.text("name") ?? "",
            limits: limits(row), createdAt: StoredTime.date(row.int("created_at") ?? 0)
        )
    }

    static func key(_ row: SQLRow) -> APIKey {
        APIKey(
            id: row.text("id") ?? "", userID: row.text("user_id") ?? "", name: row.text("name") ?? "", hint: row.text("hint") ?? "",
            models: row.text("models").flatMap(decode), limits: limits(row), createdAt: StoredTime.date(row.int("created_at") ?? 0),
            expiresAt: row.int("expires_at").map(StoredTime.date), revokedAt: row.int("revoked_at").map(StoredTime.date)
        )
    }

    static func encode(_ models: [String]?) -> String? {
        models.flatMap { try? JSONSerialization.data(withJSONObject: $0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    static func decode(_ text: String) -> [String]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String]
    }
}
