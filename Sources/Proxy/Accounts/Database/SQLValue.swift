/// A value bound to or read from SQL: the three kinds the account tables use, the same on
/// SQLite and PostgreSQL (BIGINT and TEXT columns only, so one statement serves both).
public enum SQLValue: Sendable, Hashable {
    case int(Int64)
    case text(String)
    case null

    init(_ value: Int?) { self = value.map { .int(Int64($0)) } ?? .null }
    init(_ value: Int64?) { self = value.map { .int($0) } ?? .null }
    init(_ value: String?) { self = value.map { .text($0) } ?? .null }
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    public var columns: [String: SQLValue]

    public init(columns: [String: SQLValue]) { self.columns = columns }

    public func int(_ name: String) -> Int64? {
        switch columns[name] {
        case .int(let value): value
        case .text(let text): Int64(text)
        default: nil
        }
    }

    public func text(_ name: String) -> String? {
        switch columns[name] {
        case .text(let value): value
        case .int(let value): String(value)
        default: nil
        }
    }
}

/// A failure of the account database, with the statement's first words for context (never
/// the bound values, which may be key hashes or addresses).
public struct DatabaseError: Error, CustomStringConvertible {
    public var operation: String
    public var reason: String

    public init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    init(sql: String, underlying: any Error) {
        operation = String(sql.split(whereSeparator: \.isWhitespace).prefix(3).joined(separator: " "))
        reason = "\(underlying)"
    }

    public var description: String { "database error in \(operation): \(reason)" }

    /// A UNIQUE constraint refused the statement (SQLite's and PostgreSQL's wording).
    public var isUniqueViolation: Bool {
        reason.contains("UNIQUE constraint failed") || reason.contains("duplicate key value violates unique constraint")
    }
}
