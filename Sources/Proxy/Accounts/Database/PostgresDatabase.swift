import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// The shared store: PostgreSQL at `DATABASE_URL`, so several gateway processes act as one
/// (same keys, one usage log, limits counted in the database).
///
/// Owns a `PostgresClient` connection pool whose run loop starts in ``open(url:logger:)`` and
/// stops in ``close()``; the pool outlives the gateway's services so the usage log can be
/// flushed last.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        // Started immediately, so the pool runs before the first query asks for a connection.
        runner = Task.immediate { await client.run() }
    }

    /// Connects to `postgres://user:password@host:port/database?sslmode=disable|prefer|require`
    /// and checks the connection with one round trip.
    /// A server that cannot be reached is reported after `connectTimeout`, not after the pool's
    /// own back-off gives up (about a minute).
    public static func open(
        url: String, maxConnections: Int = 20, connectTimeout: Duration = .seconds(10), logger: Logger
    ) async throws(DatabaseError) -> PostgresDatabase {
        var configuration = try configuration(url: url)
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectTimeout = connectTimeout
        let place = "\(configuration.host ?? "?"):\(configuration.port ?? 5432)"
        let database = PostgresDatabase(client: PostgresClient(configuration: configuration, backgroundLogger: logger), logger: logger)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await database.query("SELECT 1") }
                group.addTask {
                    try await Task.sleep(for: connectTimeout)
                    throw DatabaseError(operation: "connect", reason: "PostgreSQL at \(place) did not answer within \(connectTimeout)")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            await database.close()
            throw error as? DatabaseError ?? DatabaseError(operation: "connect", reason: "\(error)")
        }
        return database
    }

    /// Parses a `DATABASE_URL`; the error never repeats the URL, which may hold a password.
    static func configuration(url: String) throws(DatabaseError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw DatabaseError(operation: "DATABASE_URL", reason: "must look like postgres://user:password@host:5432/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw DatabaseError(operation: "DATABASE_URL", reason: "unknown sslmode '\(sslMode)' (disable, prefer or require)")
        }
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user?.removingPercentEncoding ?? "postgres",
            password: components.password?.removingPercentEncoding, database: database.isEmpty ? nil : database, tls: tls
        )
    }

    public func query(_ sql: String, _ binds: [SQLValue]) async throws(DatabaseError) -> [SQLRow] {
        do {
            return try await Self.collect(client.query(Self.query(sql, binds), logger: logger))
        } catch {
            throw DatabaseError(sql: sql, underlying: Self.reason(error))
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let result = try await body(Transaction(connection: connection, logger: logger))
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    public func close() async {
        runner.cancel()
        await runner.value
    }

    static func query(_ sql: String, _ binds: [SQLValue]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case .int(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [SQLRow] {
        var result: [SQLRow] = []
        for try await row in rows {
            var columns: [String: SQLValue] = [:]
            for cell in row {
                switch cell.dataType {
                case .int2, .int4, .int8:
                    columns[cell.columnName] = try cell.decode(Int64?.self).map { .int($0) } ?? .null
                default:
                    columns[cell.columnName] = try cell.decode(String?.self).map { .text($0) } ?? .null
                }
            }
            result.append(SQLRow(columns: columns))
        }
        return result
    }

    /// PSQLError hides the server's message from `description`; this shows it (it names the
    /// constraint or syntax, never bound values).
    static func reason(_ error: any Error) -> any Error {
        if let error = error as? PSQLError, let message = error.serverInfo?[.message] {
            return DatabaseError(operation: "postgres", reason: message)
        }
        return error
    }

    private struct Transaction: SQLDatabase {
        let connection: PostgresConnection
        let logger: Logger
        var dialect: SQLDialect { .postgres }

        func query(_ sql: String, _ binds: [SQLValue]) async throws(DatabaseError) -> [SQLRow] {
            do {
                return try await PostgresDatabase.collect(connection.query(PostgresDatabase.query(sql, binds), logger: logger))
            } catch {
                throw DatabaseError(sql: sql, underlying: PostgresDatabase.reason(error))
            }
        }

        func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
            try await body(self)
        }

        func close() async {}
    }
}
