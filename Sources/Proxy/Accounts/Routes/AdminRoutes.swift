import EVM
import Foundation
import HTTPTypes
import Hummingbird

/// One operation of the operator's account API: what `/admin/*` routes, and what the
/// `zgproxy keys|users|usage` commands run, either here against the store or over HTTP against a
/// running gateway (``method``, ``path`` and ``body`` are its HTTP form).
public enum AdminRequest: Sendable {
    case listUsers
    case createUser(body: [String: JSONBodyValue])
    case user(id: String)
    case updateUser(id: String, body: [String: JSONBodyValue])
    case deleteUser(id: String)
    case listKeys(userID: String?)
    case createKey(body: [String: JSONBodyValue])
    case key(id: String)
    case updateKey(id: String, body: [String: JSONBodyValue])
    case revokeKey(id: String)
    case deleteKey(id: String)
    case rotateKey(id: String)
    case usage(query: [String: String])

    public var method: String {
        switch self {
        case .listUsers, .user, .listKeys, .key, .usage: "GET"
        case .createUser, .createKey, .rotateKey: "POST"
        case .updateUser, .updateKey: "PATCH"
        case .deleteUser, .revokeKey, .deleteKey: "DELETE"
        }
    }

    /// The path and query under the gateway's root, percent-encoded.
    public var path: String {
        func escaped(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? text
        }
        switch self {
        case .listUsers, .createUser: return "/admin/users"
        case .user(let id), .updateUser(let id, _), .deleteUser(let id): return "/admin/users/\(escaped(id))"
        case .listKeys(let userID): return "/admin/keys" + (userID.map { "?user_id=\(escaped($0))" } ?? "")
        case .createKey: return "/admin/keys"
        case .key(let id), .updateKey(let id, _), .revokeKey(let id): return "/admin/keys/\(escaped(id))"
        case .deleteKey(let id): return "/admin/keys/\(escaped(id))?purge=true"
        case .rotateKey(let id): return "/admin/keys/\(escaped(id))/rotate"
        case .usage(let query):
            let pairs = query.sorted { $0.key < $1.key }.map { "\($0.key)=\(escaped($0.value))" }
            return "/admin/usage" + (pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&"))
        }
    }

    public var body: [String: JSONBodyValue]? {
        switch self {
        case .createUser(let body), .updateUser(_, let body), .createKey(let body), .updateKey(_, let body): body
        default: nil
        }
    }
}

/// A JSON value in an admin request body (Sendable, unlike `Any`).
public enum JSONBodyValue: Sendable, Hashable {
    case string(String)
    case number(Double)
    case strings([String])
    case object([String: JSONBodyValue])
    case null

    var any: Any {
        switch self {
        case .string(let value): value
        case .number(let value): value == value.rounded() && abs(value) < 1e15 ? NSNumber(value: Int(value)) : NSNumber(value: value)
        case .strings(let value): value
        case .object(let value): value.mapValues(\.any)
        case .null: NSNull()
        }
    }

    public static func dictionary(_ body: [String: JSONBodyValue]) -> [String: Any] { body.mapValues(\.any) }
}

/// Performs ``AdminRequest``s against the store: the semantics of the operator's API, shared by
/// the `/admin` routes and the command line. Answers are the API's JSON objects.
public struct AdminAPI: Sendable {
    let accounts: Accounts

    public init(accounts: Accounts) {
        self.accounts = accounts
    }

    /// The HTTP status and JSON object that answer `request`.
    public func perform(_ request: AdminRequest) async throws(OpenAIError) -> (status: HTTPResponse.Status, object: [String: Any]) {
        do {
            return try await run(request)
        } catch let error as OpenAIError {
            throw error
        } catch {
            throw OpenAIError.invalidRequest("\(error)")
        }
    }

    private func run(_ request: AdminRequest) async throws -> (status: HTTPResponse.Status, object: [String: Any]) {
        let store = accounts.store
        let body = request.body.map(JSONBodyValue.dictionary) ?? [:]
        switch request {
        case .listUsers:
            return (.ok, ["object": "list", "data": try await accountCall { try await store.users() }.map(AccountJSON.user)])
        case .createUser:
            let address = try Self.address(body["address"])
            let name = try AccountJSON.string(body, "name") ?? ""
            let limits = try AccountJSON.limits(body["limits"])
            return (.created, AccountJSON.user(try await accountCall { try await store.createUser(address: address, name: name, limits: limits) }))
        case .user(let id):
            guard let user = try await accountCall({ try await store.user(id: id) }) else { throw OpenAIError.notFound("No such user.") }
            return (.ok, AccountJSON.user(user))
        case .updateUser(let id, _):
            guard let current = try await accountCall({ try await store.user(id: id) }) else { throw OpenAIError.notFound("No such user.") }
            let name = try AccountJSON.string(body, "name")
            let limits = try AccountJSON.limits(body["limits"], over: current.limits)
            let user = try await accountCall { try await store.updateUser(id: id, name: name, limits: limits) }
            accounts.invalidate(userID: id)
            return (.ok, AccountJSON.user(user))
        case .deleteUser(let id):
            try await accountCall { try await store.deleteUser(id: id) }
            accounts.invalidate(userID: id)
            return (.ok, ["id": id, "object": "user", "deleted": true])
        case .listKeys(let userID):
            return (.ok, ["object": "list", "data": try await accountCall { try await store.keys(userID: userID) }.map { AccountJSON.key($0) }])
        case .createKey:
            let userID: String
            if let id = try AccountJSON.string(body, "user_id") {
                userID = id
            } else if let address = try Self.address(body["address"]) {
                userID = try await accountCall { try await store.userForLogin(address: address, limits: accounts.configuration.newUserLimits) }.id
            } else {
                throw OpenAIError.invalidRequest("Name the key's owner: `user_id`, or `address` for a wallet's user.", param: "user_id")
            }
            return (.created, try await KeyRequests.create(body, userID: userID, store: store))
        case .key(let id):
            guard let key = try await accountCall({ try await store.key(id: id) }) else { throw OpenAIError.notFound("No such key.") }
            return (.ok, AccountJSON.key(key))
        case .updateKey(let id, _):
            return (.ok, try await KeyRequests.update(body, id: id, accounts: accounts))
        case .revokeKey(let id):
            return (.ok, try await KeyRequests.revoke(id: id, accounts: accounts))
        case .deleteKey(let id):
            try await accountCall { try await store.deleteKey(id: id) }
            accounts.invalidate(keyID: id)
            return (.ok, ["id": id, "object": "api_key", "deleted": true])
        case .rotateKey(let id):
            return (.ok, try await KeyRequests.rotate(id: id, accounts: accounts))
        case .usage(let query):
            var (filter, grouping) = try AccountJSON.usageQuery(query)
            filter.userID = query["user_id"]
            filter.keyID = query["key_id"]
            let rows = try await accountCall { try await store.usage(filter, groupBy: grouping) }
            return (.ok, AccountJSON.usage(rows, grouping: grouping, filter: filter))
        }
    }

    static func address(_ value: Any?) throws(OpenAIError) -> Address? {
        guard let value, !(value is NSNull) else { return nil }
        guard let text = value as? String, let address = try? Address(hex: text, strict: true) else {
            throw OpenAIError.invalidRequest("`address` must be a 0x-prefixed Ethereum address.", param: "address")
        }
        return address
    }
}

/// `/admin/*`: the operator manages users, keys and reads everyone's usage (admin token).
///
/// - `GET|POST /admin/users`, `GET|PATCH|DELETE /admin/users/{id}`
/// - `GET /admin/keys[?user_id=]`, `POST /admin/keys` (`user_id`, or `address` to make the
///   user on the fly), `GET|PATCH|DELETE /admin/keys/{id}` (DELETE revokes; `?purge=true`
///   removes the record), `POST /admin/keys/{id}/rotate` (alias `/reset`)
/// - `GET /admin/usage?user_id=&key_id=&model=&since=&until=&group_by=`
struct AdminRoutes {
    let api: AdminAPI

    init(accounts: Accounts) {
        api = AdminAPI(accounts: accounts)
    }

    func add(to group: RouterGroup<GatewayRequestContext>) {
        func route(_ method: HTTPRequest.Method, _ path: RouterPath, _ make: @escaping @Sendable (Request, GatewayRequestContext, [String: JSONBodyValue]) throws -> AdminRequest) {
            group.on(path, method: method) { request, context in
                let body = method == .post || method == .patch ? try Self.sendable(try await AccountJSON.body(request)) : [:]
                let (status, object) = try await api.perform(try make(request, context, body))
                return AccountJSON.response(object, status: status)
            }
        }
        route(.get, "users") { _, _, _ in .listUsers }
        route(.post, "users") { _, _, body in .createUser(body: body) }
        route(.get, "users/:id") { _, context, _ in .user(id: try context.parameters.require("id")) }
        route(.patch, "users/:id") { _, context, body in .updateUser(id: try context.parameters.require("id"), body: body) }
        route(.delete, "users/:id") { _, context, _ in .deleteUser(id: try context.parameters.require("id")) }
        route(.get, "keys") { request, _, _ in .listKeys(userID: request.uri.queryParameters["user_id"].map(String.init)) }
        route(.post, "keys") { _, _, body in .createKey(body: body) }
        route(.get, "keys/:id") { _, context, _ in .key(id: try context.parameters.require("id")) }
        route(.patch, "keys/:id") { _, context, body in .updateKey(id: try context.parameters.require("id"), body: body) }
        route(.delete, "keys/:id") { request, context, _ in
            let id = try context.parameters.require("id")
            return request.uri.queryParameters["purge"] == "true" ? .deleteKey(id: id) : .revokeKey(id: id)
        }
        route(.post, "keys/:id/rotate") { _, context, _ in .rotateKey(id: try context.parameters.require("id")) }
        route(.post, "keys/:id/reset") { _, context, _ in .rotateKey(id: try context.parameters.require("id")) }
        route(.get, "usage") { request, _, _ in .usage(query: AccountJSON.query(request)) }
    }

    /// A parsed JSON body as ``JSONBodyValue``s.
    static func sendable(_ object: [String: Any]) throws(OpenAIError) -> [String: JSONBodyValue] {
        var result: [String: JSONBodyValue] = [:]
        for (name, value) in object { result[name] = try JSONBodyValue(json: value, name: name) }
        return result
    }
}

extension JSONBodyValue {
    init(json value: Any, name: String) throws(OpenAIError) {
        switch value {
        case is NSNull: self = .null
        case let text as String: self = .string(text)
        case let list as [String]: self = .strings(list)
        case let object as [String: Any]:
            var members: [String: JSONBodyValue] = [:]
            for (key, member) in object { members[key] = try JSONBodyValue(json: member, name: name + "." + key) }
            self = .object(members)
        case let number as NSNumber: self = .number(number.doubleValue)
        default:
            throw OpenAIError.invalidRequest("`\(name)` has a value of an unexpected type.", param: name)
        }
    }
}

/// Key operations shared by the admin and the user APIs.
enum KeyRequests {
    static func create(_ body: [String: Any], userID: String, store: AccountStore) async throws -> [String: Any] {
        let name = try AccountJSON.string(body, "name") ?? "default"
        let models = try AccountJSON.models(body["models"]) ?? nil
        let limits = try AccountJSON.limits(body["limits"])
        let expiry = try AccountJSON.expiry(body)
        let (key, secret) = try await accountCall {
            try await store.createKey(userID: userID, name: name, models: models, limits: limits, expiresAt: expiry)
        }
        return AccountJSON.key(key, secret: secret)
    }

    /// Renames a key, changes its models or its own limits (a user's limits still apply over
    /// their keys', so users may narrow their keys but not widen what the operator set).
    static func update(_ body: [String: Any], id: String, accounts: Accounts, owner: String? = nil) async throws -> [String: Any] {
        guard let current = try await accountCall({ try await accounts.store.key(id: id) }), owner == nil || current.userID == owner else {
            throw OpenAIError.notFound("No such key.")
        }
        let name = try AccountJSON.string(body, "name")
        let models = try AccountJSON.models(body["models"])
        let limits = try AccountJSON.limits(body["limits"], over: current.limits)
        let key = try await accountCall { try await accounts.store.updateKey(id: id, name: name, models: models, limits: limits) }
        accounts.invalidate(keyID: id)
        return AccountJSON.key(key)
    }

    static func revoke(id: String, accounts: Accounts, owner: String? = nil) async throws -> [String: Any] {
        try await ownedKey(id, owner: owner, accounts: accounts)
        let key = try await accountCall { try await accounts.store.revokeKey(id: id) }
        accounts.invalidate(keyID: id)
        return AccountJSON.key(key)
    }

    static func rotate(id: String, accounts: Accounts, owner: String? = nil) async throws -> [String: Any] {
        try await ownedKey(id, owner: owner, accounts: accounts)
        let (key, secret) = try await accountCall { try await accounts.store.rotateKey(id: id) }
        accounts.invalidate(keyID: id)
        return AccountJSON.key(key, secret: secret)
    }

    /// A user sees only their own keys: another user's key is "not found".
    static func ownedKey(_ id: String, owner: String?, accounts: Accounts) async throws {
        guard let owner else { return }
        guard let key = try await accountCall({ try await accounts.store.key(id: id) }), key.userID == owner else {
            throw OpenAIError.notFound("No such key.")
        }
    }
}
