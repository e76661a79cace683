import Foundation
import ZGBroker

/// Settings of users, keys, usage and limits.
///
/// ## Configuration keys (environment or `.env`)
/// - `ADMIN_TOKEN` (secret): the operator's token for `/admin/*`; without it `AUTH_TOKEN` is
///   the admin token, and without either the admin API is off.
/// - `DATABASE_URL`: `postgres://user:password@host:5432/db` to share accounts, usage and limits
///   between gateway processes; unset, a SQLite file at `DATABASE_PATH`
///   (default `$DATA_DIR/zgproxy.sqlite`, `DATA_DIR` default `./data`).
/// - `JWT_SECRET` (secret): signs log-in sessions; default derived from the wallet key.
///   `JWT_TTL_SECONDS`: session lifetime (3600).
/// - `SIWE_DOMAIN`: the domain sign-in messages must name (default: the request's `Host`).
///   `SIWE_NONCE_TTL_SECONDS` (600).
/// - `SIGNUP`: `closed` (default): only wallets the operator registered (`zgproxy users create
///   --address`) can log in; `open`: any wallet can, and gets `NEW_USER_LIMITS`.
/// - `NEW_USER_LIMITS`: the limits of users created by a log-in or by a key made for a new
///   address, as JSON: `{"rpm": 60, "tpm": 100000, "concurrency": 4, "budget": "1", "budget_period": "day"}`.
/// - `KEY_CACHE_SECONDS`: how long a looked-up key is trusted before asking the database
///   again (10); bounds how late another process notices a revoke.
/// - `IP_RATE_LIMIT_PER_MINUTE`: requests a minute per client IP on unauthenticated routes
///   (100; 0 turns it off). `TRUST_FORWARDED_FOR=true` takes the IP from `X-Forwarded-For`.
/// - `USAGE_FLUSH_MILLISECONDS`: how often the usage log is written (1000; sooner for every 2,000 records).
public struct AccountsConfiguration: Sendable {
    public var adminToken: String?
    public var databaseURL: String?
    /// nil: an in-memory SQLite database (tests).
    public var databasePath: String?
    public var jwtSecret: String?
    public var sessionLifetime: TimeInterval = 3600
    public var siweDomain: String?
    public var nonceLifetime: TimeInterval = 600
    /// Whether wallets the operator did not register may log in (and so create a user).
    public var openSignup = false
    public var newUserLimits = LimitPolicy.unlimited
    public var keyCacheLifetime: TimeInterval = 10
    public var ipRequestsPerMinute: Int = 100
    public var trustForwardedFor = false
    public var usageFlushInterval: Duration = .seconds(1)

    public init(adminToken: String? = nil, databaseURL: String? = nil, databasePath: String? = nil) {
        self.adminToken = adminToken
        self.databaseURL = databaseURL
        self.databasePath = databasePath
    }

    public init(environment: Environment) throws(ConfigurationError) {
        self.init()
        adminToken = environment["ADMIN_TOKEN"] ?? environment["AUTH_TOKEN"]
        databaseURL = environment["DATABASE_URL"]
        if let url = databaseURL {
            do { _ = try PostgresDatabase.configuration(url: url) } catch { throw ConfigurationError(setting: "DATABASE_URL", reason: error.reason) }
        }
        let dataDirectory = environment["DATA_DIR"] ?? "./data"
        databasePath = environment["DATABASE_PATH"] ?? (dataDirectory as NSString).appendingPathComponent("zgproxy.sqlite")
        jwtSecret = environment["JWT_SECRET"]
        if let secret = jwtSecret, secret.utf8.count < 32 {
            throw ConfigurationError(setting: "JWT_SECRET", reason: "must be at least 32 characters")
        }
        sessionLifetime = try environment.seconds("JWT_TTL_SECONDS", default: 3600)
        siweDomain = environment["SIWE_DOMAIN"]
        nonceLifetime = try environment.seconds("SIWE_NONCE_TTL_SECONDS", default: 600)
        switch environment["SIGNUP"]?.lowercased() ?? "closed" {
        case "open": openSignup = true
        case "closed": openSignup = false
        default: throw ConfigurationError(setting: "SIGNUP", reason: "must be open or closed")
        }
        if let text = environment["NEW_USER_LIMITS"] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
                throw ConfigurationError(setting: "NEW_USER_LIMITS", reason: "must be a JSON object such as {\"rpm\": 60, \"budget\": \"1\", \"budget_period\": \"day\"}")
            }
            do {
                newUserLimits = try AccountJSON.limits(object)
            } catch {
                throw ConfigurationError(setting: "NEW_USER_LIMITS", reason: error.message)
            }
        }
        keyCacheLifetime = try environment.seconds("KEY_CACHE_SECONDS", default: 10)
        ipRequestsPerMinute = try environment.integer("IP_RATE_LIMIT_PER_MINUTE", default: 100, range: 0...10_000_000)
        trustForwardedFor = try environment.bool("TRUST_FORWARDED_FOR", default: false)
        usageFlushInterval = .milliseconds(try environment.integer("USAGE_FLUSH_MILLISECONDS", default: 1000, range: 10...60_000))
    }
}
