import Foundation
import Logging
import SQLiteNIO

/// The embedded store: one SQLite file in the data directory, in WAL mode.
///
/// One connection serves the process (SQLite allows one writer at a time anyway); an
/// ``AsyncLock`` keeps each statement or transaction whole. Statements are written with
/// `$N` placeholders and rewritten to SQLite's `?N`.
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    private let connection: SQLiteConnection
    private let lock = AsyncLock()

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Opens (creating) the database at `path`; `nil` opens a private in-memory database.
    public static func open(path: String?, logger: Logger) async throws(DatabaseError) -> SQLiteDatabase {
        do {
            if let path {
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            let connection = try await SQLiteConnection.open(storage: path.map { .file(path: $0) } ?? .memory, logger: logger)
            let database = SQLiteDatabase(connection: connection)
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000", "PRAGMA foreign_keys=ON"] {
                try await database.query(pragma)
            }
            return database
        } catch let error as DatabaseError {
            throw error
        } catch {
            throw DatabaseError(operation: "open \(path ?? ":memory:")", reason: "\(error)")
        }
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws(DatabaseError) -> [SQLRow] {
        do {
            return try await lock.withLock { try await self.run(sql, binds) }
        } catch {
            throw error as? DatabaseError ?? DatabaseError(sql: sql, underlying: error)
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await lock.withLock {
            try await run("BEGIN IMMEDIATE", [])
            do {
                let result = try await body(Transaction(database: self))
                try await run("COMMIT", [])
                return result
            } catch {
                _ = try? await run("ROLLBACK", [])
                throw error
            }
        }
    }

    public func close() async {
        try? await connection.close()
    }

    /// Runs a statement; the caller holds the lock.
    fileprivate func run(_ sql: String, _ binds: [SQLValue]) async throws(DatabaseError) -> [SQLRow] {
        let data: [SQLiteData] = binds.map {
            switch $0 {
            case .int(let value): .integer(Int(value))
            case .text(let value): .text(value)
            case .null: .null
            }
        }
        do {
            let rows = try await connection.query(Self.numberedPlaceholders(sql), data)
            return rows.map { row in
                var columns: [String: SQLValue] = [:]
                for column in row.columns {
                    switch column.data {
                    case .integer(let value): columns[column.name] = .int(Int64(value))
                    case .float(let value): columns[column.name] = .int(Int64(value))
                    case .text(let value): columns[column.name] = .text(value)
                    case .blob, .null: columns[column.name] = .null
                    }
                }
                return SQLRow(columns: columns)
            }
        } catch {
            throw DatabaseError(sql: sql, underlying: error)
        }
    }

    /// `$1` → `?1` (this SQLite build omits the `$name` form).
    static func numberedPlaceholders(_ sql: String) -> String {
        guard sql.utf8.contains(UInt8(ascii: "$")) else { return sql }
        // Bytes, not Characters: a multi-row insert is long and this runs on every flush.
        return String(decoding: sql.utf8.map { $0 == UInt8(ascii: "$") ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }

    /// The view a transaction's body gets: statements run under the lock already held.
    private struct Transaction: SQLDatabase {
        let database: SQLiteDatabase
        var dialect: SQLDialect { .sqlite }

        func query(_ sql: String, _ binds: [SQLValue]) async throws(DatabaseError) -> [SQLRow] {
            try await database.run(sql, binds)
        }

        func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
            try await body(self)
        }

        func close() async {}
    }
}
