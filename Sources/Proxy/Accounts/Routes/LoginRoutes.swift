import EVM
import Foundation
import Hummingbird

/// `/api/auth/*`: Sign-In with Ethereum (EIP-4361), limited per client IP.
///
/// 1. `GET /api/auth/nonce[?address=0x…]` hands out a single-use nonce (and, with an address, the
///    exact message to sign).
/// 2. The wallet signs the message (`personal_sign`).
/// 3. `POST /api/auth/login {"message", "signature"}` checks domain, chain, version, time window,
///    nonce and signature, creates the user on first log-in, and returns a session JWT.
struct LoginRoutes {
    let accounts: Accounts

    func add(to group: RouterGroup<GatewayRequestContext>) {
        group.get("nonce") { request, _ in
            let nonce = Self.makeNonce()
            let now = Date()
            let expires = now.addingTimeInterval(accounts.configuration.nonceLifetime)
            try await accountCall { try await accounts.store.insertNonce(nonce, expiresAt: expires) }
            let domain = domain(of: request)
            var answer: [String: Any] = [
                "nonce": nonce, "domain": domain, "chain_id": Int(accounts.siwe.chainID), "uri": "https://\(domain)",
                "issued_at": Self.rfc3339(now), "expiration_time": Self.rfc3339(expires), "version": "1",
            ]
            if let raw = request.uri.queryParameters["address"] {
                guard let address = try? Address(hex: String(raw), strict: true) else {
                    throw OpenAIError.invalidRequest("`address` must be a 0x-prefixed Ethereum address.", param: "address")
                }
                answer["message"] = Self.message(domain: domain, address: address, chainID: accounts.siwe.chainID, nonce: nonce, issuedAt: now, expires: expires)
            }
            return AccountJSON.response(answer)
        }
        group.post("login") { request, _ in
            let body = try await AccountJSON.body(request)
            guard let message = body["message"] as? String, let signature = body["signature"] as? String else {
                throw OpenAIError.invalidRequest("Send {\"message\": the signed EIP-4361 text, \"signature\": its 0x signature}.", code: "invalid_siwe_message")
            }
            let verified: SIWEMessage
            do {
                verified = try await accounts.siwe.verify(message: message, signature: signature, domain: domain(of: request)) { nonce in
                    try await accounts.store.consumeNonce(nonce)
                }
            } catch let error as SIWEError {
                let status: HTTPResponse.Status = error.code == "invalid_siwe_message" ? .badRequest : .unauthorized
                throw OpenAIError(status, message: error.message, type: "invalid_request_error", code: error.code)
            } catch {
                throw OpenAIError.serviceUnavailable("The account database is unavailable; try again shortly.", retryAfterSeconds: 1)
            }
            let user = try await accountCall { () async throws -> User in
                if let known = try await accounts.store.user(address: verified.address) { return known }
                guard accounts.configuration.openSignup else {
                    throw OpenAIError(
                        .forbidden, message: "\(verified.address) is not registered here: ask the operator to add it (zgproxy users create --address).",
                        type: "invalid_request_error", code: "signup_closed"
                    )
                }
                return try await accounts.store.userForLogin(address: verified.address, limits: accounts.configuration.newUserLimits)
            }
            let (token, expires) = try await accountCall { try await accounts.sessions.issue(user: user) }
            return AccountJSON.response([
                "token": token, "token_type": "Bearer", "expires_at": Int(expires.timeIntervalSince1970), "user": AccountJSON.user(user),
            ])
        }
    }

    /// `SIWE_DOMAIN`, else the `Host` the client used.
    func domain(of request: Request) -> String {
        accounts.configuration.siweDomain ?? request.head.authority ?? "localhost"
    }

    /// 16 letters and digits from the system RNG (EIP-4361 asks for at least 8).
    static func makeNonce() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))] })
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func message(domain: String, address: Address, chainID: UInt64, nonce: String, issuedAt: Date, expires: Date) -> String {
        """
        \(domain) wants you to sign in with your Ethereum account:
        \(address.checksummed)

        Sign in to zgproxy to manage your API keys.

        URI: https://\(domain)
        Version: 1
        Chain ID: \(chainID)
        Nonce: \(nonce)
        Issued At: \(rfc3339(issuedAt))
        Expiration Time: \(rfc3339(expires))
        """
    }
}

/// A user's own routes, with the session JWT from a log-in:
/// `GET /api/user/profile`; `GET|POST /api/keys`, `PATCH|DELETE /api/keys/{id}` (DELETE revokes),
/// `POST /api/keys/{id}/rotate`; `GET /api/usage?key_id=&model=&since=&until=&group_by=`.
struct UserRoutes {
    let accounts: Accounts

    func add(to group: RouterGroup<GatewayRequestContext>) {
        let store = accounts.store
        group.get("user/profile") { _, context in
            let user = try Self.user(context)
            let keys = try await accountCall { try await store.keys(userID: user.id) }
            let month = LimitWindow.period(.month, Date()).start
            let spent = try await accountCall { try await store.spend(userID: user.id, since: StoredTime.date(month)) }
            var profile = AccountJSON.user(user)
            profile["keys"] = keys.filter { $0.status() == .active }.count
            profile["spent_this_month"] = spent.decimalUnits(decimals: 18)
            return AccountJSON.response(profile)
        }
        group.get("keys") { _, context in
            AccountJSON.list(try await accountCall { try await store.keys(userID: try Self.user(context).id) }.map { AccountJSON.key($0) })
        }
        group.post("keys") { request, context in
            AccountJSON.response(
                try await KeyRequests.create(try await AccountJSON.body(request), userID: try Self.user(context).id, store: store), status: .created
            )
        }
        group.patch("keys/:id") { request, context in
            AccountJSON.response(
                try await KeyRequests.update(
                    try await AccountJSON.body(request), id: context.parameters.require("id"), accounts: accounts, owner: try Self.user(context).id
                )
            )
        }
        group.delete("keys/:id") { _, context in
            AccountJSON.response(try await KeyRequests.revoke(id: context.parameters.require("id"), accounts: accounts, owner: try Self.user(context).id))
        }
        group.post("keys/:id/rotate") { _, context in
            AccountJSON.response(try await KeyRequests.rotate(id: context.parameters.require("id"), accounts: accounts, owner: try Self.user(context).id))
        }
        group.get("usage") { request, context in
            var (filter, grouping) = try AccountJSON.usageQuery(AccountJSON.query(request))
            filter.userID = try Self.user(context).id
            filter.keyID = request.uri.queryParameters["key_id"].map(String.init)
            let rows = try await accountCall { try await store.usage(filter, groupBy: grouping) }
            return AccountJSON.response(AccountJSON.usage(rows, grouping: grouping, filter: filter))
        }
    }

    static func user(_ context: GatewayRequestContext) throws(OpenAIError) -> User {
        guard let user = context.sessionUser else { throw OpenAIError.invalidAPIKey() }
        return user
    }
}
