import EVM
import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import Testing
@testable import Proxy

/// The account store on both engines: SQLite always, PostgreSQL when the test server runs.
@Suite("Account store")
struct AccountStoreTests {
    @Test("migrations apply once, and again is a no-op", arguments: AccountFixtures.engines)
    func migrations(_ engine: SQLDialect) async throws {
        let database = try await AccountFixtures.database(engine)
        #expect(try await Migrations.run(on: database) == [1])
        #expect(try await Migrations.run(on: database) == [])
        await database.close()
    }

    @Test("users and keys: create, find by secret only, rename, limit to models, revoke, rotate, expire, delete", arguments: AccountFixtures.engines)
    func usersAndKeys(_ engine: SQLDialect) async throws {
        let store = try await AccountFixtures.store(engine)
        defer { Task { await store.close() } }
        let wallet = PrivateKey.random().address
        let user = try await store.createUser(address: wallet, name: "ada", limits: LimitPolicy(requestsPerMinute: 5, budget: UInt256(1000), budgetPeriod: .day))
        #expect(try await store.user(address: wallet)?.id == user.id)
        #expect(try await store.userForLogin(address: wallet).id == user.id)
        await #expect(throws: AccountError.self) { try await store.createUser(address: wallet) }
        #expect(try await store.user(id: user.id)?.limits.budget == UInt256(1000))

        let (key, secret) = try await store.createKey(userID: user.id, name: "laptop", models: ["qwen"])
        #expect(APIKeySecret.looksValid(secret) && secret.hasPrefix("sk-zg-"))
        #expect(key.hint == "sk-zg-…" + secret.suffix(4))
        // The secret itself is nowhere in the database.
        let rows = try await store.database.query("SELECT * FROM api_keys")
        #expect(!rows.description.contains(secret.dropFirst(6)))
        #expect(try await store.key(secret: secret)?.0.id == key.id)
        #expect(try await store.key(secret: APIKeySecret.generate()) == nil)
        #expect(key.allows(model: "qwen") && !key.allows(model: "gpt-4o"))

        let renamed = try await store.updateKey(id: key.id, name: "desktop", models: .some(nil))
        #expect(renamed.name == "desktop" && renamed.models == nil)

        let (rotated, newSecret) = try await store.rotateKey(id: key.id)
        #expect(rotated.id == key.id && newSecret != secret)
        #expect(try await store.key(secret: secret) == nil)
        #expect(try await store.key(secret: newSecret)?.0.status() == .active)

        let revoked = try await store.revokeKey(id: key.id)
        #expect(revoked.status() == .revoked)
        await #expect(throws: AccountError.conflict("The key is revoked; create a new one.")) { try await store.rotateKey(id: key.id) }

        let (expiring, _) = try await store.createKey(userID: user.id, name: "short", expiresAt: Date().addingTimeInterval(60))
        #expect(expiring.status() == .active && expiring.status(at: Date().addingTimeInterval(61)) == .expired)
        await #expect(throws: AccountError.self) { try await store.createKey(userID: user.id, name: "past", expiresAt: Date().addingTimeInterval(-1)) }
        await #expect(throws: AccountError.self) { try await store.createKey(userID: "usr_missing", name: "x") }

        #expect(try await store.keys(userID: user.id).count == 2)
        try await store.deleteUser(id: user.id)
        #expect(try await store.keys().isEmpty)
        #expect(try await store.user(id: user.id) == nil)
    }

    @Test("a nonce works once and not after it expires", arguments: AccountFixtures.engines)
    func nonces(_ engine: SQLDialect) async throws {
        let store = try await AccountFixtures.store(engine)
        defer { Task { await store.close() } }
        try await store.insertNonce("abcdefgh12345678", expiresAt: Date().addingTimeInterval(60))
        #expect(try await store.consumeNonce("abcdefgh12345678"))
        #expect(try await !store.consumeNonce("abcdefgh12345678"))
        try await store.insertNonce("expired0nonce000", expiresAt: Date().addingTimeInterval(60))
        #expect(try await !store.consumeNonce("expired0nonce000", now: Date().addingTimeInterval(120)))
        #expect(try await !store.consumeNonce("neverissued00000"))
    }

    @Test("usage sums by day, model and key, exactly past 2^63 neuron", arguments: AccountFixtures.engines)
    func usageReports(_ engine: SQLDialect) async throws {
        let store = try await AccountFixtures.store(engine)
        defer { Task { await store.close() } }
        let day1 = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21
        let day2 = day1.addingTimeInterval(86_400)
        let big = UInt256(UInt64(Int64.max - 5))  // two of these overflow a 64-bit sum
        func record(_ at: Date, _ model: String, _ key: String?, cost: UInt256, status: Int = 200) -> UsageRecord {
            UsageRecord(
                requestID: "req_\(UUID())", at: at, userID: "usr_1", keyID: key, model: model, backend: "0g", provider: "0xabc", promptTokens: 10,
                completionTokens: 5, cachedTokens: 2, cost: cost, latencyMilliseconds: 12, status: status
            )
        }
        var records = [record(day1, "qwen", "key_a", cost: big), record(day1, "qwen", "key_b", cost: big), record(day2, "llama", "key_a", cost: UInt256(7), status: 502)]
        records += (0..<450).map { _ in record(day2, "llama", nil, cost: UInt256(1)) }  // more than one insert statement's rows
        try await store.insertUsage(records)

        let byDay = try await store.usage(UsageFilter(), groupBy: .day)
        #expect(byDay.map(\.group) == ["2026-09-21", "2026-09-22"])
        #expect(byDay[0].cost == big + big && byDay[0].requests == 2)
        #expect(byDay[1].requests == 451 && byDay[1].errors == 1 && byDay[1].cost == UInt256(457))
        #expect(byDay[1].promptTokens == 4510 && byDay[1].completionTokens == 2255 && byDay[1].cachedTokens == 902)

        let byModel = try await store.usage(UsageFilter(since: day1, until: day2), groupBy: .model)
        #expect(byModel.map(\.group) == ["qwen"])
        let keyA = try await store.usage(UsageFilter(keyID: "key_a"), groupBy: .total)
        #expect(keyA.first?.requests == 2 && keyA.first?.cost == big + UInt256(7))
        #expect(try await store.spend(keyID: "key_a", since: day2) == UInt256(7))
        #expect(try await store.usage(UsageFilter(userID: "usr_nobody"), groupBy: .model).isEmpty)
    }
}

/// Limits on both engines: counted per subject, refused before counting, released, charged.
@Suite("Rate limits and budgets")
struct RateLimiterTests {
    static func limiter(_ engine: SQLDialect) async throws -> (any RateLimiter, AccountStore) {
        let store = try await AccountFixtures.store(engine)
        let limiter: any RateLimiter = engine == .postgres
            ? PostgresRateLimiter(database: store.database)
            : MemoryRateLimiter { subject, since in try await store.spend(keyID: subject.id, since: since) }
        return (limiter, store)
    }

    @Test("requests per minute: the limit+1st is refused with retry-after; a refusal by one subject counts nothing", arguments: AccountFixtures.engines)
    func requestsPerMinute(_ engine: SQLDialect) async throws {
        let (limiter, store) = try await Self.limiter(engine)
        defer { Task { await store.close() } }
        let key = LimitSubject(scope: .key, id: "key_1", policy: LimitPolicy(requestsPerMinute: 3))
        let user = LimitSubject(scope: .user, id: "usr_1", policy: LimitPolicy(requestsPerMinute: 2))
        let now = Date(timeIntervalSince1970: 1_789_999_990)  // 10 s into a minute
        let first = try await limiter.acquire([key], now: now)
        #expect(first.requests?.limit == 3 && first.requests?.remaining == 2)
        #expect(first.headers[.init("x-ratelimit-remaining-requests")!] == "2")
        _ = try await limiter.acquire([key, user], now: now)
        _ = try await limiter.acquire([key, user], now: now)
        do {
            _ = try await limiter.acquire([key, user], now: now)
            Issue.record("a fourth request was allowed")
        } catch let error as LimitExceeded {
            #expect(error.kind == .requests && error.scope == .key && error.retryAfterSeconds == 50)
            #expect(error.openAIError.status == .tooManyRequests && error.openAIError.headers[.retryAfter] == "50")
        }
        // The user is at its limit too; a key with room does not get past it.
        let other = LimitSubject(scope: .key, id: "key_2", policy: LimitPolicy(requestsPerMinute: 10))
        await #expect(throws: LimitExceeded.self) { try await limiter.acquire([other, user], now: now) }
        // The refusal above did not count against key_2.
        #expect(try await limiter.acquire([other], now: now).requests?.remaining == 9)
        // Next minute, room again.
        #expect(try await limiter.acquire([key, user], now: now.addingTimeInterval(60)).requests != nil)
    }

    @Test("a key is stored as the lowercase hex SHA-256 of its secret (stores written before keep working); the shape check is exact")
    func keyHashAndShape() {
        #expect(APIKeySecret.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(APIKeySecret.hash("sk-zg-" + String(repeating: "A", count: 43)[...]).count == 64)
        let body = String(repeating: "a0Z", count: 14) + "9"
        #expect(APIKeySecret.looksValid("sk-zg-" + body))
        for bad in ["sk-zg-" + body.dropLast() + "-", "sk-zg-" + body.dropLast(), "sk-zg-" + body + "x", "sk-zx-" + body, "sk-zg-" + body.dropLast() + "é"] {
            #expect(!APIKeySecret.looksValid(bad), "\(bad)")
        }
    }

    @Test("budget periods are the UTC day and month a moment falls in")
    func periods() throws {
        let moment = try #require(ISO8601DateFormatter().date(from: "2026-11-25T13:30:00Z"))
        let day = LimitWindow.period(.day, moment)
        let month = LimitWindow.period(.month, moment)
        #expect(day.start == StoredTime.milliseconds(try #require(ISO8601DateFormatter().date(from: "2026-11-25T00:00:00Z"))))
        #expect(day.resetSeconds == 10.5 * 3600)
        #expect(month.start == StoredTime.milliseconds(try #require(ISO8601DateFormatter().date(from: "2026-11-01T00:00:00Z"))))
        #expect(month.resetSeconds == (5 * 24 + 10.5) * 3600)
    }

    @Test("concurrent requests: held until released", arguments: AccountFixtures.engines)
    func concurrency(_ engine: SQLDialect) async throws {
        let (limiter, store) = try await Self.limiter(engine)
        defer { Task { await store.close() } }
        let key = LimitSubject(scope: .key, id: "key_c", policy: LimitPolicy(concurrentRequests: 2))
        let a = try await limiter.acquire([key], now: Date())
        _ = try await limiter.acquire([key], now: Date())
        await #expect(throws: LimitExceeded(kind: .concurrency, scope: .key, limit: "2", retryAfterSeconds: 1)) { try await limiter.acquire([key], now: Date()) }
        await limiter.release(a)
        _ = try await limiter.acquire([key], now: Date())
    }

    @Test("tokens per minute and spend budgets count what requests used", arguments: AccountFixtures.engines)
    func tokensAndBudget(_ engine: SQLDialect) async throws {
        let (limiter, store) = try await Self.limiter(engine)
        defer { Task { await store.close() } }
        try await AccountFixtures.awayFromMinuteBoundary(needing: 5)
        let now = Date()
        let key = LimitSubject(scope: .key, id: "key_t", policy: LimitPolicy(tokensPerMinute: 100, budget: UInt256(1_000_000), budgetPeriod: .day))
        _ = try await limiter.acquire([key], now: now)
        limiter.charge([key], tokens: 120, cost: UInt256(400_000), at: now)
        await limiter.flush()
        do {
            _ = try await limiter.acquire([key], now: now)
            Issue.record("over the token limit but allowed")
        } catch let error as LimitExceeded {
            #expect(error.kind == .tokens)
        }
        let budgetOnly = LimitSubject(scope: .key, id: "key_t", policy: LimitPolicy(budget: UInt256(1_000_000), budgetPeriod: .day))
        _ = try await limiter.acquire([budgetOnly], now: now)
        limiter.charge([budgetOnly], tokens: 0, cost: UInt256(600_000), at: now)
        await limiter.flush()
        do {
            _ = try await limiter.acquire([budgetOnly], now: now)
            Issue.record("over budget but allowed")
        } catch let error as LimitExceeded {
            #expect(error.kind == .budget && error.limit == "0.000000000001")
            let answer = error.openAIError
            #expect(answer.code == "insufficient_quota" && answer.status == .tooManyRequests && answer.headers[.shouldRetry] == "false")
        }
    }

    @Test("on PostgreSQL, two limiters (two processes) share one limit under concurrent load",
          .enabled(if: AccountFixtures.postgresAvailable))
    func sharedLimit() async throws {
        let url = try await AccountFixtures.freshPostgresURL()
        let first = try await PostgresDatabase.open(url: url, logger: AccountFixtures.logger)
        let second = try await PostgresDatabase.open(url: url, logger: AccountFixtures.logger)
        defer { Task { await first.close(); await second.close() } }
        try await Migrations.run(on: first)
        let limiters = [PostgresRateLimiter(database: first), PostgresRateLimiter(database: second)]
        let subject = LimitSubject(scope: .key, id: "key_shared", policy: LimitPolicy(requestsPerMinute: 10, concurrentRequests: 6))
        let now = Date()
        let granted = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<24 {
                group.addTask { (try? await limiters[index % 2].acquire([subject], now: now)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(granted == 6, "6 concurrent slots across both processes")
        let perMinute = LimitSubject(scope: .key, id: "key_rpm", policy: LimitPolicy(requestsPerMinute: 10))
        let counted = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<24 {
                group.addTask { (try? await limiters[index % 2].acquire([perMinute], now: now)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(counted == 10, "10 requests a minute across both processes")
    }
}

extension SQLRow: CustomStringConvertible {
    public var description: String { columns.description }
}

/// The usage log is written off the request path, about once an interval, and on shutdown.
@Suite("Usage recorder")
struct UsageRecorderTests {
    static func record(_ index: Int) -> UsageRecord {
        UsageRecord(
            requestID: "req_\(index)", at: Date(), userID: "usr_r", keyID: "key_r", model: "qwen", backend: "0g", provider: "0xabc", promptTokens: 3,
            completionTokens: 4, cachedTokens: 0, cost: UInt256(10), latencyMilliseconds: 1, status: 200
        )
    }

    @Test("records reach the database within an interval, and the rest on graceful shutdown", arguments: AccountFixtures.engines)
    func flushes(_ engine: SQLDialect) async throws {
        let store = try await AccountFixtures.store(engine)
        defer { Task { await store.close() } }
        let limiter = MemoryRateLimiter { _, _ in .zero }
        let recorder = UsageRecorder(store: store, limiter: limiter, interval: .milliseconds(200), logger: AccountFixtures.logger)
        let group = ServiceGroup(services: [recorder], logger: AccountFixtures.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            recorder.record(Self.record(1), subjects: [])
            #expect(recorder.pendingCount == 1)
            var written = 0
            for _ in 0..<50 where written == 0 {
                try await Task.sleep(for: .milliseconds(50))
                written = try await store.usage(UsageFilter(), groupBy: .total).first?.requests ?? 0
            }
            #expect(written == 1, "written within a few intervals")
            // Recorded just before SIGTERM: written by the shutdown, not lost.
            for index in 2...501 { recorder.record(Self.record(index), subjects: []) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await store.usage(UsageFilter(), groupBy: .total).first?.requests == 501)
        #expect(recorder.pendingCount == 0)
    }

    @Test("a full batch is written at once, without waiting for the interval")
    func fullBatches() async throws {
        let store = try await AccountFixtures.store(.sqlite)
        let recorder = UsageRecorder(
            store: store, limiter: MemoryRateLimiter { _, _ in .zero }, interval: .seconds(600), batchSize: 50, logger: AccountFixtures.logger
        )
        let group = ServiceGroup(services: [recorder], logger: AccountFixtures.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for index in 1...49 { recorder.record(Self.record(index), subjects: []) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(recorder.pendingCount == 49, "not a batch yet: waits for the interval")
            for index in 50...120 { recorder.record(Self.record(index), subjects: []) }
            var written = 0
            for _ in 0..<100 where written < 100 {
                try await Task.sleep(for: .milliseconds(50))
                written = try await store.usage(UsageFilter(), groupBy: .total).first?.requests ?? 0
            }
            #expect(written >= 100, "a filled batch went out long before the 10-minute interval")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await store.usage(UsageFilter(), groupBy: .total).first?.requests == 120)
        await store.close()
    }

    @Test("a failed write keeps the batch for the next one")
    func retries() async throws {
        let store = try await AccountFixtures.store(.sqlite)
        let recorder = UsageRecorder(store: store, limiter: MemoryRateLimiter { _, _ in .zero }, logger: AccountFixtures.logger)
        recorder.record(Self.record(1), subjects: [])
        try await store.database.query("ALTER TABLE usage_log RENAME TO usage_log_away")
        await recorder.flush()
        #expect(recorder.pendingCount == 1)
        try await store.database.query("ALTER TABLE usage_log_away RENAME TO usage_log")
        await recorder.flush()
        #expect(recorder.pendingCount == 0)
        #expect(try await store.usage(UsageFilter(), groupBy: .total).first?.requests == 1)
        await store.close()
    }
}

@Suite("Account store races")
struct AccountStoreRaceTests {
    @Test("two creations of one wallet's user at once: one wins, the other is a 409, not a 503", arguments: AccountFixtures.engines)
    func uniqueRace(_ engine: SQLDialect) async throws {
        let store = try await AccountFixtures.store(engine)
        defer { Task { await store.close() } }
        let address = PrivateKey.random().address
        let outcomes = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do throws(OpenAIError) {
                        _ = try await accountCall { try await store.createUser(address: address) }
                        return 201
                    } catch {
                        return Int(error.status.code)
                    }
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == 201 }.count == 1)
        #expect(outcomes.allSatisfy { $0 == 201 || $0 == 409 }, "\(outcomes)")
    }
}
