import EVM
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Guards `/v1`: resolves the caller (a user's `sk-zg-` key, the operator's token, or an
/// anonymous caller on an open gateway), applies its limits, and answers with the
/// `x-ratelimit-*` headers.
///
/// The limits are held until the response body has been written (a stream holds its
/// concurrency slot until it ends); then the slot is released and a request that never reached
/// an upstream gets its usage record.
struct InferenceAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let accounts: Accounts

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .options else { return try await next(request, context) }
        let ip = ClientAddress.of(request, context, trustForwardedFor: accounts.configuration.trustForwardedFor)
        let principal: Principal
        do {
            principal = try await accounts.authenticate(request.credential)
        } catch {
            // Failed attempts count against the IP, which slows down guessing.
            if error.status == .unauthorized { try await accounts.countAttempt(clientIP: ip) }
            throw error
        }
        let grant: LimitGrant
        do {
            grant = try await accounts.acquire(accounts.subjects(for: principal, clientIP: ip))
        } catch {
            // A key's refused requests are in its usage log too (status 429).
            if principal.key != nil {
                Caller(principal: principal, grant: .none, requestID: context.requestID, accounts: accounts)
                    .record(backend: "", provider: "", model: "", usage: nil, cost: .zero, status: Int(error.status.code))
            }
            throw error
        }
        let caller = Caller(principal: principal, grant: grant, requestID: context.requestID, accounts: accounts)
        var context = context
        context.caller = caller
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            await caller.finish(status: status)
            throw error
        }
        response.headers.append(contentsOf: grant.headers)
        let body = response.body
        let status = response.status.code
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
            } catch {
                await caller.finish(status: 499)
                throw error
            }
            await caller.finish(status: status)
        }
        return response
    }
}

/// Guards `/admin`: the operator's `ADMIN_TOKEN` (or `AUTH_TOKEN` when only that is set).
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let accounts: Accounts

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard accounts.configuration.adminToken != nil else {
            throw OpenAIError(.forbidden, message: "The admin API is off: set ADMIN_TOKEN to use it.", type: "invalid_request_error", code: "admin_disabled")
        }
        guard accounts.isAdmin(request.credential) else {
            try await accounts.countAttempt(clientIP: ClientAddress.of(request, context, trustForwardedFor: accounts.configuration.trustForwardedFor))
            throw OpenAIError(.unauthorized, message: "This route needs the admin token.", type: "invalid_request_error", code: "invalid_admin_token")
        }
        return try await next(request, context)
    }
}

/// Guards a user's own routes (`/api/user`, `/api/keys`, `/api/usage`): a log-in session JWT.
struct SessionAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let accounts: Accounts

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let invalid = OpenAIError(
            .unauthorized, message: "Sign in first: POST /api/auth/login gives a session token to send as Authorization: Bearer.",
            type: "invalid_request_error", code: "invalid_session"
        )
        guard let token = request.credential, let userID = await accounts.sessions.userID(fromToken: String(token)) else {
            try await accounts.countAttempt(clientIP: ClientAddress.of(request, context, trustForwardedFor: accounts.configuration.trustForwardedFor))
            throw invalid
        }
        guard let user = try await accounts.store.user(id: userID) else { throw invalid }
        var context = context
        context.sessionUser = user
        return try await next(request, context)
    }
}

/// Limits unauthenticated routes (the log-in steps) per client IP.
struct IPRateLimitMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let accounts: Accounts

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let ip = ClientAddress.of(request, context, trustForwardedFor: accounts.configuration.trustForwardedFor)
        let grant = try await accounts.acquire(accounts.ipSubjects(ip))
        do {
            var response = try await next(request, context)
            await accounts.limiter.release(grant)
            response.headers.append(contentsOf: grant.headers)
            return response
        } catch {
            await accounts.limiter.release(grant)
            throw error
        }
    }
}

/// The client's IP: the connection's peer, or the first `X-Forwarded-For` entry behind a
/// trusted reverse proxy.
enum ClientAddress {
    static func of(_ request: Request, _ context: GatewayRequestContext, trustForwardedFor: Bool) -> String {
        of(request.headers, remote: context.remoteAddress, trustForwardedFor: trustForwardedFor)
    }

    static func of(_ headers: some HeaderLookup, remote: SocketAddress?, trustForwardedFor: Bool) -> String {
        if trustForwardedFor, let forwarded = headers[header: .forwardedFor],
           let first = forwarded.split(separator: ",").first?.trimmingCharacters(in: .whitespaces), !first.isEmpty {
            return first
        }
        return remote?.ipAddress ?? "unknown"
    }
}

extension Request {
    /// `Authorization: Bearer …` or `x-api-key`, without surrounding spaces.
    var credential: Substring? { headers.credential }
}

extension HTTPField.Name {
    static let forwardedFor = HTTPField.Name("x-forwarded-for")!
}
