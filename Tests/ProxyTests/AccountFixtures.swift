import EVM
import Foundation
import Logging
import TestSupport
@testable import Proxy

/// Account stores for tests: an in-memory SQLite database, or a fresh database on the
/// PostgreSQL server `scripts/test.sh` starts (`ZGPROXY_TEST_DATABASE_URL`).
enum AccountFixtures {
    static let adminToken = "admin-token-for-tests-0123456789"
    static let chainID: UInt64 = 31337
    static let logger = Logger(label: "test.accounts")

    /// The engines to run store tests on: PostgreSQL too when a server is configured, or when
    /// `ZGPROXY_REQUIRE_POSTGRES=1` (so a missing server fails rather than skips).
    static var engines: [SQLDialect] {
        let environment = ProcessInfo.processInfo.environment
        let postgres = environment["ZGPROXY_TEST_DATABASE_URL"] != nil || environment["ZGPROXY_REQUIRE_POSTGRES"] == "1"
        return postgres ? [.sqlite, .postgres] : [.sqlite]
    }

    static var postgresAvailable: Bool { engines.contains(.postgres) }

    /// A new, empty database on the test server; its URL.
    static func freshPostgresURL() async throws -> String {
        guard let base = ProcessInfo.processInfo.environment["ZGPROXY_TEST_DATABASE_URL"] else {
            throw DatabaseError(operation: "tests", reason: "ZGPROXY_TEST_DATABASE_URL is not set (scripts/test.sh starts a server)")
        }
        let name = "zgtest_" + RecordID.make("db").dropFirst(3)
        let admin = try await PostgresDatabase.open(url: base, maxConnections: 1, logger: logger)
        try await admin.query("CREATE DATABASE \(name)")
        await admin.close()
        var components = URLComponents(string: base)!
        components.path = "/" + name
        return components.string!
    }

    static func database(_ dialect: SQLDialect) async throws -> any SQLDatabase {
        switch dialect {
        case .sqlite: try await SQLiteDatabase.open(path: nil, logger: logger)
        case .postgres: try await PostgresDatabase.open(url: try await freshPostgresURL(), logger: logger)
        }
    }

    static func store(_ dialect: SQLDialect) async throws -> AccountStore {
        let store = AccountStore(database: try await database(dialect))
        try await Migrations.run(on: store.database)
        return store
    }

    /// Accounts over a fresh store (in-memory SQLite unless `databaseURL` is given).
    static func accounts(
        authToken: String?, databaseURL: String? = nil, store: AccountStore? = nil, configure: (inout AccountsConfiguration) -> Void = { _ in }
    ) async throws -> Accounts {
        var configuration = AccountsConfiguration(adminToken: adminToken, databaseURL: databaseURL, databasePath: nil)
        configure(&configuration)
        let opened: AccountStore
        if let store {
            opened = store
        } else {
            opened = try await AccountStore.open(url: configuration.databaseURL, sqlitePath: nil, logger: logger)
        }
        return await Accounts(
            store: opened, configuration: configuration, authToken: authToken, chainID: chainID,
            sessionSecret: Array("a test session secret of 32 bytes!".utf8), logger: logger
        )
    }

    /// Waits, when needed, until the next `seconds` fall within one UTC minute: request and
    /// token limits count in whole-minute windows, so a test that fills one must not straddle
    /// the minute's end.
    static func awayFromMinuteBoundary(needing seconds: Double = 15) async throws {
        let into = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)
        if 60 - into < seconds { try await Task.sleep(for: .seconds(60 - into + 0.2)) }
    }

    /// Signs `message` with eth-account (Fixtures/accounts/siwe_sign.py): an implementation
    /// independent of the gateway's own.
    static func ethAccountSign(_ message: String, key: PrivateKey) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FixturePaths.python)
        process.arguments = [FixturePaths.fixtures.appendingPathComponent("accounts/siwe_sign.py").path]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let request = try JSONSerialization.data(withJSONObject: ["message": message, "key": "0x" + key.rawBytes.hexString])
        input.fileHandleForWriting.write(request + Data("\n".utf8))
        try input.fileHandleForWriting.close()
        let data = await output.fileHandleForReading.readToEndOffPool()
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let answer = try JSONSerialization.jsonObject(with: data) as? [String: String]
        guard let signature = answer?["signature"] else { throw DatabaseError(operation: "siwe_sign.py", reason: String(decoding: data, as: UTF8.self)) }
        return signature
    }
}
