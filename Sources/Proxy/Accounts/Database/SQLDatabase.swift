/// The SQL engines the account store runs on.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// Runs statements against SQLite or PostgreSQL with one placeholder syntax (`$1`, `$2`, …).
///
/// The account store is written once against this seam: both engines accept the same
/// `INSERT … ON CONFLICT … DO UPDATE … RETURNING`, and the schema uses BIGINT and TEXT only.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws(DatabaseError) -> [SQLRow]
    /// Runs `body` in one transaction, committed when it returns and rolled back when it throws.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Closes connections; no statement may follow.
    func close() async
}

extension SQLDatabase {
    @discardableResult
    public func query(_ sql: String, _ binds: SQLValue...) async throws(DatabaseError) -> [SQLRow] {
        try await query(sql, binds)
    }
}
