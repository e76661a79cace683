import EVM
import Foundation
import Hummingbird

/// `/admin/*`: the operator manages users, keys and reads everyone's usage (admin token).
///
/// - `GET|POST /admin/users`, `GET|PATCH|DELETE /admin/users/{id}`
/// - `GET /admin/keys[?user_id=]`, `POST /admin/keys` (`user_id`, or `address` to make the
///   user on the fly), `GET|PATCH|DELETE /admin/keys/{id}` (DELETE revokes; `?purge=true`
///   removes the record), `POST /admin/keys/{id}/rotate` (alias `/reset`)
/// - `GET /admin/usage?user_id=&key_id=&model=&since=&until=&group_by=`
struct AdminRoutes {
    let accounts: Accounts

    func add(to group: RouterGroup<GatewayRequestContext>) {
        let store = accounts.store
        group.get("users") { _, _ in
            AccountJSON.list(try await accountCall { try await store.users() }.map(AccountJSON.user))
        }
        group.post("users") { request, _ in
            let body = try await AccountJSON.body(request)
            let address = try Self.address(body["address"])
            let name = try AccountJSON.string(body, "name") ?? ""
            let limits = try AccountJSON.limits(body["limits"])
            let user = try await accountCall { try await store.createUser(address: address, name: name, limits: limits) }
            return AccountJSON.response(AccountJSON.user(user), status: .created)
        }
        group.get("users/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let user = try await accountCall({ try await store.user(id: id) }) else { throw OpenAIError.notFound("No such user.") }
            return AccountJSON.response(AccountJSON.user(user))
        }
        group.patch("users/:id") { request, context in
            let id = try context.parameters.require("id")
            let body = try await AccountJSON.body(request)
            guard let current = try await accountCall({ try await store.user(id: id) }) else { throw OpenAIError.notFound("No such user.") }
            let user = try await accountCall {
                try await store.updateUser(id: id, name: try AccountJSON.string(body, "name"), limits: try AccountJSON.limits(body["limits"], over: current.limits))
            }
            accounts.invalidate(userID: id)
            return AccountJSON.response(AccountJSON.user(user))
        }
        group.delete("users/:id") { _, context in
            let id = try context.parameters.require("id")
            try await accountCall { try await store.deleteUser(id: id) }
            accounts.invalidate(userID: id)
            return AccountJSON.response(["id": id, "object": "user", "deleted": true])
        }
        group.get("keys") { request, _ in
            let userID = request.uri.queryParameters["user_id"].map(String.init)
            return AccountJSON.list(try await accountCall { try await store.keys(userID: userID) }.map { AccountJSON.key($0) })
        }
        group.post("keys") { request, _ in
            let body = try await AccountJSON.body(request)
            let userID: String
            if let id = try AccountJSON.string(body, "user_id") {
                userID = id
            } else if let address = try Self.address(body["address"]) {
                userID = try await accountCall { try await store.userForLogin(address: address) }.id
            } else {
                throw OpenAIError.invalidRequest("Name the key's owner: `user_id`, or `address` for a wallet's user.", param: "user_id")
            }
            return try await KeyRequests.create(body, userID: userID, store: store)
        }
        group.get("keys/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let key = try await accountCall({ try await store.key(id: id) }) else { throw OpenAIError.notFound("No such key.") }
            return AccountJSON.response(AccountJSON.key(key))
        }
        group.patch("keys/:id") { request, context in
            try await KeyRequests.update(request, id: context.parameters.require("id"), accounts: accounts)
        }
        group.delete("keys/:id") { request, context in
            let id = try context.parameters.require("id")
            if request.uri.queryParameters["purge"] == "true" {
                try await accountCall { try await store.deleteKey(id: id) }
                accounts.invalidate(keyID: id)
                return AccountJSON.response(["id": id, "object": "api_key", "deleted": true])
            }
            return try await KeyRequests.revoke(id: id, accounts: accounts)
        }
        for verb in ["rotate", "reset"] {
            group.post("keys/:id/\(verb)") { _, context in
                try await KeyRequests.rotate(id: context.parameters.require("id"), accounts: accounts)
            }
        }
        group.get("usage") { request, _ in
            var (filter, grouping) = try AccountJSON.usageQuery(request)
            filter.userID = request.uri.queryParameters["user_id"].map(String.init)
            filter.keyID = request.uri.queryParameters["key_id"].map(String.init)
            let rows = try await accountCall { try await store.usage(filter, groupBy: grouping) }
            return AccountJSON.response(AccountJSON.usage(rows, grouping: grouping, filter: filter))
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

/// Key operations shared by the admin and the user APIs.
enum KeyRequests {
    static func create(_ body: [String: Any], userID: String, store: AccountStore) async throws -> Response {
        let name = try AccountJSON.string(body, "name") ?? "default"
        let models = try AccountJSON.models(body["models"]) ?? nil
        let limits = try AccountJSON.limits(body["limits"])
        let expiry = try AccountJSON.expiry(body)
        let (key, secret) = try await accountCall {
            try await store.createKey(userID: userID, name: name, models: models, limits: limits, expiresAt: expiry)
        }
        return AccountJSON.response(AccountJSON.key(key, secret: secret), status: .created)
    }

    /// Renames a key, changes its models or its own limits (a user's limits still apply over
    /// their keys', so users may narrow their keys but not widen what the operator set).
    static func update(_ request: Request, id: String, accounts: Accounts, owner: String? = nil) async throws -> Response {
        let body = try await AccountJSON.body(request)
        guard let current = try await accountCall({ try await accounts.store.key(id: id) }), owner == nil || current.userID == owner else {
            throw OpenAIError.notFound("No such key.")
        }
        let name = try AccountJSON.string(body, "name")
        let models = try AccountJSON.models(body["models"])
        let limits = try AccountJSON.limits(body["limits"], over: current.limits)
        let key = try await accountCall { try await accounts.store.updateKey(id: id, name: name, models: models, limits: limits) }
        accounts.invalidate(keyID: id)
        return AccountJSON.response(AccountJSON.key(key))
    }

    static func revoke(id: String, accounts: Accounts, owner: String? = nil) async throws -> Response {
        try await ownedKey(id, owner: owner, accounts: accounts)
        let key = try await accountCall { try await accounts.store.revokeKey(id: id) }
        accounts.invalidate(keyID: id)
        return AccountJSON.response(AccountJSON.key(key))
    }

    static func rotate(id: String, accounts: Accounts, owner: String? = nil) async throws -> Response {
        try await ownedKey(id, owner: owner, accounts: accounts)
        let (key, secret) = try await accountCall { try await accounts.store.rotateKey(id: id) }
        accounts.invalidate(keyID: id)
        return AccountJSON.response(AccountJSON.key(key, secret: secret))
    }

    /// A user sees only their own keys: another user's key is "not found".
    static func ownedKey(_ id: String, owner: String?, accounts: Accounts) async throws {
        guard let owner else { return }
        guard let key = try await accountCall({ try await accounts.store.key(id: id) }), key.userID == owner else {
            throw OpenAIError.notFound("No such key.")
        }
    }
}
