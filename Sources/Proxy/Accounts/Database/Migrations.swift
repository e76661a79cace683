import Foundation

/// The account schema, versioned. Each migration runs once, in order, inside one transaction;
/// on PostgreSQL an advisory lock makes processes starting together take turns.
///
/// Columns are BIGINT (times in Unix milliseconds, counts, neuron) or TEXT, so one statement
/// serves both engines; `{serial}` and `{numeric}` are the two spellings that differ.
enum Migrations {
    static let all: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY, address TEXT UNIQUE, name TEXT NOT NULL,
                rpm BIGINT, tpm BIGINT, concurrency BIGINT, budget TEXT, budget_period TEXT NOT NULL DEFAULT 'month',
                created_at BIGINT NOT NULL)
            """,
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                name TEXT NOT NULL, hint TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, models TEXT,
                rpm BIGINT, tpm BIGINT, concurrency BIGINT, budget TEXT, budget_period TEXT NOT NULL DEFAULT 'month',
                created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT)
            """,
            "CREATE INDEX api_keys_user ON api_keys (user_id)",
            """
            CREATE TABLE usage_log (
                id {serial}, request_id TEXT NOT NULL, at BIGINT NOT NULL, user_id TEXT, key_id TEXT,
                model TEXT NOT NULL, backend TEXT NOT NULL, provider TEXT NOT NULL,
                prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
                cost BIGINT NOT NULL, latency_ms BIGINT NOT NULL, status BIGINT NOT NULL)
            """,
            "CREATE INDEX usage_log_at ON usage_log (at)",
            "CREATE INDEX usage_log_user ON usage_log (user_id, at)",
            "CREATE INDEX usage_log_key ON usage_log (key_id, at)",
            "CREATE TABLE login_nonces (nonce TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
            """
            CREATE TABLE limit_counters (
                subject TEXT NOT NULL, kind TEXT NOT NULL, window_start BIGINT NOT NULL, amount {numeric} NOT NULL,
                expires_at BIGINT NOT NULL, PRIMARY KEY (subject, kind, window_start))
            """,
            "CREATE TABLE limit_leases (id TEXT PRIMARY KEY, subject TEXT NOT NULL, expires_at BIGINT NOT NULL)",
            "CREATE INDEX limit_leases_subject ON limit_leases (subject, expires_at)",
        ]),
    ]

    static func spelled(_ statement: String, for dialect: SQLDialect) -> String {
        switch dialect {
        case .sqlite:
            statement.replacingOccurrences(of: "{serial}", with: "INTEGER PRIMARY KEY AUTOINCREMENT")
                .replacingOccurrences(of: "{numeric}", with: "BIGINT")
        case .postgres:
            statement.replacingOccurrences(of: "{serial}", with: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
                .replacingOccurrences(of: "{numeric}", with: "NUMERIC(78, 0)")
        }
    }

    /// Brings the schema up to date; returns the versions applied now.
    @discardableResult
    static func run(on database: any SQLDatabase) async throws -> [Int] {
        try await database.transaction { tx in
            if tx.dialect == .postgres { try await tx.query("SELECT pg_advisory_xact_lock(7274270)") }
            try await tx.query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            let current = try await tx.query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS version FROM schema_migrations").first?.int("version") ?? 0
            var applied: [Int] = []
            for migration in all where migration.version > current {
                for statement in migration.statements { try await tx.query(spelled(statement, for: tx.dialect)) }
                try await tx.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", .int(Int64(migration.version)), .int(StoredTime.milliseconds())
                )
                applied.append(migration.version)
            }
            return applied
        }
    }
}

/// Wall-clock helpers for stored times (Unix milliseconds).
enum StoredTime {
    static func milliseconds(_ date: Date = Date()) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
