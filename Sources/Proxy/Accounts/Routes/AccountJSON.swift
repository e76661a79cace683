import EVM
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The JSON shapes of the account APIs (snake_case, times in Unix seconds, amounts as decimal
/// 0G strings), and the reading of request bodies and query parameters into them.
enum AccountJSON {
    static func limits(_ policy: LimitPolicy) -> [String: Any] {
        [
            "rpm": policy.requestsPerMinute ?? NSNull(), "tpm": policy.tokensPerMinute ?? NSNull(),
            "concurrency": policy.concurrentRequests ?? NSNull(), "budget": policy.budget.map { $0.decimalUnits(decimals: 18) } ?? NSNull(),
            "budget_period": policy.budgetPeriod.rawValue,
        ]
    }

    static func user(_ user: User) -> [String: Any] {
        [
            "id": user.id, "object": "user", "address": user.address?.checksummed ?? NSNull(), "name": user.name, "limits": limits(user.limits),
            "created_at": Int(user.createdAt.timeIntervalSince1970),
        ]
    }

    /// A key's record; `secret` only in the answer that creates or rotates it.
    static func key(_ key: APIKey, secret: String? = nil) -> [String: Any] {
        var object: [String: Any] = [
            "id": key.id, "object": "api_key", "user_id": key.userID, "name": key.name, "hint": key.hint, "models": key.models ?? NSNull(),
            "limits": limits(key.limits), "status": key.status().rawValue, "created_at": Int(key.createdAt.timeIntervalSince1970),
            "expires_at": key.expiresAt.map { Int($0.timeIntervalSince1970) } ?? NSNull(),
            "revoked_at": key.revokedAt.map { Int($0.timeIntervalSince1970) } ?? NSNull(),
        ]
        if let secret { object["key"] = secret }
        return object
    }

    static func usage(_ rows: [UsageSummary], grouping: UsageGrouping, filter: UsageFilter) -> [String: Any] {
        let data: [[String: Any]] = rows.map { row in
            [
                grouping.rawValue: row.group, "requests": row.requests, "errors": row.errors, "prompt_tokens": row.promptTokens,
                "completion_tokens": row.completionTokens, "cached_tokens": row.cachedTokens, "total_tokens": row.promptTokens + row.completionTokens,
                "cost": row.cost.decimalUnits(decimals: 18), "cost_neuron": row.cost.description,
            ]
        }
        let total = rows.reduce(UInt256.zero) { $0 + $1.cost }
        return [
            "object": "list", "group_by": grouping.rawValue, "data": data,
            "since": filter.since.map { Int($0.timeIntervalSince1970) } ?? NSNull(), "until": filter.until.map { Int($0.timeIntervalSince1970) } ?? NSNull(),
            "total_requests": rows.reduce(0) { $0 + $1.requests }, "total_cost": total.decimalUnits(decimals: 18),
        ]
    }

    static func response(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func list(_ items: [[String: Any]]) -> Response { response(["object": "list", "data": items]) }

    /// The request body as a JSON object (an empty body is an empty object).
    static func body(_ request: Request) async throws -> [String: Any] {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        if buffer.readableBytes == 0 { return [:] }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] else {
            throw OpenAIError.invalidRequest("The body must be a JSON object.", code: "invalid_json")
        }
        return object
    }

    /// Reads `{"rpm", "tpm", "concurrency", "budget": "1.5", "budget_period": "day"|"month"}`
    /// over `base`: a member present as null clears that limit, an absent one keeps it.
    static func limits(_ value: Any?, over base: LimitPolicy = .unlimited) throws(OpenAIError) -> LimitPolicy {
        guard let value else { return base }
        guard let object = value as? [String: Any] else { throw OpenAIError.invalidRequest("`limits` must be an object.", param: "limits") }
        var policy = base
        func count(_ name: String) throws(OpenAIError) -> Int?? {
            guard let raw = object[name] else { return .none }
            if raw is NSNull { return .some(nil) }
            guard let number = raw as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
                  number.intValue > 0 else {
                throw OpenAIError.invalidRequest("`limits.\(name)` must be a positive integer or null.", param: "limits.\(name)")
            }
            return .some(number.intValue)
        }
        if let rpm = try count("rpm") { policy.requestsPerMinute = rpm }
        if let tpm = try count("tpm") { policy.tokensPerMinute = tpm }
        if let concurrency = try count("concurrency") { policy.concurrentRequests = concurrency }
        if let raw = object["budget"] {
            if raw is NSNull {
                policy.budget = nil
            } else {
                let text = raw as? String ?? (raw as? NSNumber)?.stringValue ?? ""
                do {
                    policy.budget = try UInt256(decimalUnits: text, decimals: 18)
                } catch {
                    throw OpenAIError.invalidRequest("`limits.budget` must be an amount of 0G such as \"2.5\": \(error.reason).", param: "limits.budget")
                }
            }
        }
        if let raw = object["budget_period"] {
            guard let text = raw as? String, let period = LimitPolicy.Period(rawValue: text) else {
                throw OpenAIError.invalidRequest("`limits.budget_period` must be \"day\" or \"month\".", param: "limits.budget_period")
            }
            policy.budgetPeriod = period
        }
        return policy
    }

    /// `models`: a list of model names, or null for every model.
    static func models(_ value: Any?) throws(OpenAIError) -> [String]?? {
        guard let value else { return .none }
        if value is NSNull { return .some(nil) }
        guard let list = value as? [String], !list.isEmpty, list.allSatisfy({ !$0.isEmpty }) else {
            throw OpenAIError.invalidRequest("`models` must be a non-empty list of model names, or null for all.", param: "models")
        }
        return .some(list)
    }

    /// `expires_at` (Unix seconds or RFC 3339) or `expires_in` (seconds) or `expires_in_days`.
    static func expiry(_ object: [String: Any], now: Date = Date()) throws(OpenAIError) -> Date? {
        if let raw = object["expires_at"], !(raw is NSNull) {
            guard let date = time(raw) else { throw OpenAIError.invalidRequest("`expires_at` must be Unix seconds or an RFC 3339 time.", param: "expires_at") }
            guard date > now else { throw OpenAIError.invalidRequest("`expires_at` must be in the future.", param: "expires_at") }
            return date
        }
        for (name, unit) in [("expires_in", 1.0), ("expires_in_days", 86_400.0)] {
            guard let raw = object[name], !(raw is NSNull) else { continue }
            guard let number = raw as? NSNumber, number.doubleValue > 0 else {
                throw OpenAIError.invalidRequest("`\(name)` must be a positive number.", param: name)
            }
            return now.addingTimeInterval(number.doubleValue * unit)
        }
        return nil
    }

    /// Unix seconds, `YYYY-MM-DD` (UTC midnight) or RFC 3339.
    static func time(_ raw: Any) -> Date? {
        if let number = raw as? NSNumber { return Date(timeIntervalSince1970: number.doubleValue) }
        guard let text = raw as? String else { return nil }
        if let seconds = Double(text) { return Date(timeIntervalSince1970: seconds) }
        if let date = AccountStore.dayFormatter.date(from: text) { return date }
        return SIWEMessage.parseDate(text)
    }

    /// A request's query parameters as plain strings.
    static func query(_ request: Request) -> [String: String] {
        var query: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
        return query
    }

    /// `?since=&until=&model=&group_by=` of a usage request.
    static func usageQuery(_ query: [String: String]) throws(OpenAIError) -> (UsageFilter, UsageGrouping) {
        var filter = UsageFilter()
        for (name, keyPath) in [("since", \UsageFilter.since), ("until", \UsageFilter.until)] {
            guard let raw = query[name] else { continue }
            guard let date = time(String(raw)) else {
                throw OpenAIError.invalidRequest("`\(name)` must be Unix seconds, YYYY-MM-DD or an RFC 3339 time.", param: name)
            }
            filter[keyPath: keyPath] = date
        }
        filter.model = query["model"]
        let groupName = query["group_by"] ?? "day"
        guard let grouping = UsageGrouping(rawValue: groupName) else {
            throw OpenAIError.invalidRequest(
                "`group_by` must be one of \(UsageGrouping.allCases.map(\.rawValue).joined(separator: ", ")).", param: "group_by"
            )
        }
        return (filter, grouping)
    }

    static func string(_ object: [String: Any], _ name: String, maxLength: Int = 200) throws(OpenAIError) -> String? {
        guard let raw = object[name], !(raw is NSNull) else { return nil }
        guard let text = raw as? String, text.count <= maxLength else {
            throw OpenAIError.invalidRequest("`\(name)` must be a string of at most \(maxLength) characters.", param: name)
        }
        return text
    }
}

extension AccountError {
    var openAIError: OpenAIError {
        switch kind {
        case .notFound: OpenAIError.notFound(message)
        case .conflict: OpenAIError(.conflict, message: message, type: "invalid_request_error", code: "conflict")
        case .invalid: OpenAIError.invalidRequest(message)
        }
    }
}

/// Runs a store call, answering its ``AccountError`` in the OpenAI shape and a database
/// failure as 503.
func accountCall<T>(_ body: () async throws -> T) async throws(OpenAIError) -> T {
    do {
        return try await body()
    } catch let error as AccountError {
        throw error.openAIError
    } catch let error as OpenAIError {
        throw error
    } catch let error as DatabaseError where error.isUniqueViolation {
        // Two requests raced to create the same thing (the checks before the insert passed for both).
        throw AccountError.conflict("It already exists.").openAIError
    } catch {
        throw OpenAIError.serviceUnavailable("The account database is unavailable; try again shortly.", retryAfterSeconds: 1)
    }
}
