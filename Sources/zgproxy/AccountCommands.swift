import ArgumentParser
import EVM
import Foundation
import Proxy

/// Limits given on the command line, as the admin API's `limits` object.
struct LimitOptions: ParsableArguments {
    @Option(help: "Requests per minute.") var rpm: Int?
    @Option(help: "Tokens per minute.") var tpm: Int?
    @Option(help: "Concurrent requests.") var concurrency: Int?
    @Option(help: ArgumentHelp("Spend allowed per --budget-period, in decimal 0G (e.g. 2.5).", valueName: "0G")) var budget: String?
    @Option(help: ArgumentHelp("day or month (default month).", valueName: "period")) var budgetPeriod: String?

    func validate() throws {
        for (name, value) in [("rpm", rpm), ("tpm", tpm), ("concurrency", concurrency)] where (value ?? 1) < 1 {
            throw ValidationError("--\(name) must be at least 1")
        }
        if let budget, (try? UInt256(decimalUnits: budget, decimals: 18)) == nil { throw ValidationError("--budget must be an amount of 0G such as 2.5") }
        if let budgetPeriod, !["day", "month"].contains(budgetPeriod) { throw ValidationError("--budget-period must be day or month") }
    }

    var body: JSONBodyValue? {
        var limits: [String: JSONBodyValue] = [:]
        if let rpm { limits["rpm"] = .number(Double(rpm)) }
        if let tpm { limits["tpm"] = .number(Double(tpm)) }
        if let concurrency { limits["concurrency"] = .number(Double(concurrency)) }
        if let budget { limits["budget"] = .string(budget) }
        if let budgetPeriod { limits["budget_period"] = .string(budgetPeriod) }
        return limits.isEmpty ? nil : .object(limits)
    }
}

/// Printing of the admin API's objects.
enum AccountText {
    static func print(_ object: [String: Any], json: Bool, text: () -> [String]) {
        if json {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
            Output.stdout(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            for line in text() { Output.stdout(line + "\n") }
        }
    }

    static func date(_ value: Any?) -> String {
        guard let seconds = value as? Int else { return "-" }
        return TimeText.iso(Date(timeIntervalSince1970: Double(seconds)))
    }

    static func limits(_ value: Any?) -> String {
        guard let limits = value as? [String: Any] else { return "-" }
        var parts: [String] = []
        for name in ["rpm", "tpm", "concurrency"] { if let number = limits[name] as? Int { parts.append("\(name) \(number)") } }
        if let budget = limits["budget"] as? String { parts.append("budget \(budget) 0G/\(limits["budget_period"] as? String ?? "month")") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    static func keyRows(_ keys: [[String: Any]]) -> [String] {
        Output.table(
            ["id", "name", "key", "user", "status", "models", "limits", "expires"],
            keys.map { key in
                [
                    key["id"] as? String ?? "", key["name"] as? String ?? "", key["hint"] as? String ?? "", key["user_id"] as? String ?? "",
                    key["status"] as? String ?? "", (key["models"] as? [String])?.joined(separator: ",") ?? "all", limits(key["limits"]),
                    date(key["expires_at"]),
                ]
            }
        )
    }
}

/// `zgproxy keys …`: users' API keys.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list, revoke and rotate users' API keys (sk-zg-…).",
        discussion: """
            Acts on the account store that `serve` uses (DATABASE_URL, else the SQLite file in DATA_DIR), or with \
            --gateway on a running gateway through its admin API (ADMIN_TOKEN). A key's secret is printed once, when it \
            is created or rotated; the store keeps only its hash.

            JSON (--json): the admin API's objects: a key is {"id", "object": "api_key", "user_id", "name", "hint", \
            "models": [..] | null, "limits": {"rpm", "tpm", "concurrency", "budget", "budget_period"}, "status", \
            "created_at", "expires_at", "revoked_at"} (times in Unix seconds) plus "key" (the secret) from create and \
            rotate; list prints {"object": "list", "data": [keys]}.
            """,
        subcommands: [Create.self, List.self, Revoke.self, Rotate.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key for a user (made on the fly for --address).")
        @Option(help: ArgumentHelp("The owner's user id (see `zgproxy users list`).", valueName: "id")) var user: String?
        @Option(help: ArgumentHelp("The owner's wallet; its user is created when new.", valueName: "address")) var address: String?
        @Option(help: "A name to tell the key apart.") var name: String = "default"
        @Option(help: ArgumentHelp("Models the key may use, comma-separated (default: all).", valueName: "models")) var models: String?
        @Option(help: ArgumentHelp("Lifetime: 30d, 12h, 90m (default: never expires).", valueName: "duration")) var expires: String?
        @OptionGroup var limits: LimitOptions
        @OptionGroup var target: AdminTargetOptions

        func validate() throws {
            guard (user == nil) != (address == nil) else { throw ValidationError("give the owner: --user <id> or --address <wallet>") }
            if let expires, (try? LifetimeText(parsing: expires).seconds).map({ $0 > 0 }) != true {
                throw ValidationError("--expires must be a duration such as 30d, 12h or 90m")
            }
        }

        func run() async throws {
            var body: [String: JSONBodyValue] = ["name": .string(name)]
            if let user { body["user_id"] = .string(user) }
            if let address { body["address"] = .string(address) }
            if let models { body["models"] = .strings(models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
            if let expires { body["expires_in"] = .number(Double(try LifetimeText(parsing: expires).seconds)) }
            if let limits = limits.body { body["limits"] = limits }
            let key = try await AdminClient.perform(.createKey(body: body), target: target)
            AccountText.print(key, json: target.global.json) {
                [
                    "Created key \(key["id"] as? String ?? "") (\(key["name"] as? String ?? "")) for user \(key["user_id"] as? String ?? "").",
                    "",
                    "  \(key["key"] as? String ?? "")",
                    "",
                    "This is the only time the key is shown: give it to its user now.",
                ]
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (of one user with --user).")
        @Option(help: ArgumentHelp("Only this user's keys.", valueName: "id")) var user: String?
        @OptionGroup var target: AdminTargetOptions

        func run() async throws {
            let list = try await AdminClient.perform(.listKeys(userID: user), target: target)
            let keys = list["data"] as? [[String: Any]] ?? []
            AccountText.print(list, json: target.global.json) { keys.isEmpty ? ["No keys."] : AccountText.keyRows(keys) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it stops working at once (within KEY_CACHE_SECONDS on other gateway processes).")
        @Argument(help: ArgumentHelp("The key's id (key_…).", valueName: "id")) var id: String
        @OptionGroup var target: AdminTargetOptions

        func run() async throws {
            let key = try await AdminClient.perform(.revokeKey(id: id), target: target)
            AccountText.print(key, json: target.global.json) { ["Revoked key \(id)."] }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a key a new secret, keeping its id, name, models and limits; the old secret stops working.")
        @Argument(help: ArgumentHelp("The key's id (key_…).", valueName: "id")) var id: String
        @OptionGroup var target: AdminTargetOptions

        func run() async throws {
            let key = try await AdminClient.perform(.rotateKey(id: id), target: target)
            AccountText.print(key, json: target.global.json) {
                ["New secret for key \(id):", "", "  \(key["key"] as? String ?? "")", "", "This is the only time it is shown."]
            }
        }
    }
}

/// `zgproxy users …`: the people keys belong to.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Create, list, limit and delete users.",
        discussion: """
            Users also appear on their first wallet log-in (POST /api/auth/login). Limits set here apply to all of a \
            user's keys together, on top of each key's own. Same store and --gateway as `zgproxy keys`.

            JSON (--json): a user is {"id", "object": "user", "address", "name", "limits", "created_at"}.
            """,
        subcommands: [Create.self, List.self, Limit.self, Delete.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")
        @Option(help: "A name for the user.") var name: String = ""
        @Option(help: ArgumentHelp("The wallet the user logs in with.", valueName: "address")) var address: String?
        @OptionGroup var limits: LimitOptions
        @OptionGroup var target: AdminTargetOptions

        func run() async throws {
            var body: [String: JSONBodyValue] = ["name": .string(name)]
            if let address { body["address"] = .string(address) }
            if let limits = limits.body { body["limits"] = limits }
            let user = try await AdminClient.perform(.createUser(body: body), target: target)
            AccountText.print(user, json: target.global.json) { ["Created user \(user["id"] as? String ?? "")."] }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var target: AdminTargetOptions

        func run() async throws {
            let list = try await AdminClient.perform(.listUsers, target: target)
            let users = list["data"] as? [[String: Any]] ?? []
            AccountText.print(list, json: target.global.json) {
                users.isEmpty ? ["No users."] : Output.table(["id", "name", "address", "limits", "created"], users.map { user in
                    [user["id"] as? String ?? "", user["name"] as? String ?? "", user["address"] as? String ?? "-",
                     AccountText.limits(user["limits"]), AccountText.date(user["created_at"])]
                })
            }
        }
    }

    struct Limit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's limits (only those given change).")
        @Argument(help: ArgumentHelp("The user's id (usr_…).", valueName: "id")) var id: String
        @OptionGroup var limits: LimitOptions
        @OptionGroup var target: AdminTargetOptions

        func run() async throws {
            guard let body = limits.body else { throw CLIFailure.usage("give at least one limit: --rpm, --tpm, --concurrency, --budget") }
            let user = try await AdminClient.perform(.updateUser(id: id, body: ["limits": body]), target: target)
            AccountText.print(user, json: target.global.json) { ["User \(id): \(AccountText.limits(user["limits"]))."] }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user and their keys (their usage stays in the log).")
        @Argument(help: ArgumentHelp("The user's id (usr_…).", valueName: "id")) var id: String
        @OptionGroup var target: AdminTargetOptions

        func run() async throws {
            let answer = try await AdminClient.perform(.deleteUser(id: id), target: target)
            AccountText.print(answer, json: target.global.json) { ["Deleted user \(id) and their keys."] }
        }
    }
}

/// `zgproxy usage`: what was used and what it cost.
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Report requests, tokens and cost from the usage log.",
        discussion: """
            Sums the usage log by day (default), model, key, user or backend. Costs are in 0G: the 0G fee of each \
            request, and configured prices for other endpoints. Same store and --gateway as `zgproxy keys`.

            JSON (--json): {"object": "list", "group_by", "since", "until", "total_requests", "total_cost", \
            "data": [{<group_by>: "…", "requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", \
            "total_tokens", "cost" (0G), "cost_neuron"}]}.
            """
    )

    @Option(help: ArgumentHelp("Only this key's usage.", valueName: "id")) var key: String?
    @Option(help: ArgumentHelp("Only this user's usage.", valueName: "id")) var user: String?
    @Option(help: "Only this model's usage.") var model: String?
    @Option(help: ArgumentHelp("From: YYYY-MM-DD, an RFC 3339 time, Unix seconds, or a span back from now (7d, 12h).", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Until (exclusive), in the same forms.", valueName: "time")) var until: String?
    @Option(help: ArgumentHelp("day, model, key, user, backend or total.", valueName: "group")) var groupBy: String = "day"
    @OptionGroup var target: AdminTargetOptions

    /// A span back from now becomes Unix seconds; other forms go to the API as they are.
    static func time(_ text: String) -> String {
        if let span = try? LifetimeText(parsing: text).seconds, span > 0 { return String(Int(Date().timeIntervalSince1970) - span) }
        return text
    }

    func run() async throws {
        var query: [String: String] = ["group_by": groupBy]
        if let key { query["key_id"] = key }
        if let user { query["user_id"] = user }
        if let model { query["model"] = model }
        if let since { query["since"] = Self.time(since) }
        if let until { query["until"] = Self.time(until) }
        let report = try await AdminClient.perform(.usage(query: query), target: target)
        let rows = report["data"] as? [[String: Any]] ?? []
        AccountText.print(report, json: target.global.json) {
            guard !rows.isEmpty else { return ["No usage."] }
            return Output.table(
                [groupBy, "requests", "errors", "prompt", "completion", "cached", "cost (0G)"],
                rows.map { row in
                    [row[groupBy] as? String ?? "", "\(row["requests"] as? Int ?? 0)", "\(row["errors"] as? Int ?? 0)",
                     "\(row["prompt_tokens"] as? Int ?? 0)", "\(row["completion_tokens"] as? Int ?? 0)", "\(row["cached_tokens"] as? Int ?? 0)",
                     row["cost"] as? String ?? "0"]
                }
            ) + ["", "total: \(report["total_requests"] as? Int ?? 0) requests, \(report["total_cost"] as? String ?? "0") 0G"]
        }
    }
}
