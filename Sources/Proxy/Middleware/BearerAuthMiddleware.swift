import Crypto
import HTTPTypes
import Hummingbird

/// Requires `Authorization: Bearer <AUTH_TOKEN>` (or `x-api-key`) on the routes it guards.
///
/// Compared in constant time over the SHA-256 of both sides, so neither the token's content
/// nor its length leaks through timing. The token never appears in a log or an error.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    private let expectedDigest: [UInt8]

    init(token: String) {
        expectedDigest = Array(SHA256.hash(data: Array(token.utf8)))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .options else { return try await next(request, context) }
        let presented = request.headers[.authorization].flatMap { header -> Substring? in
            let lower = header.lowercased()
            return lower.hasPrefix("bearer ") ? header.dropFirst(7) : nil
        } ?? request.headers[HTTPField.Name("x-api-key")!].map { Substring($0) }
        guard let presented else { throw OpenAIError.invalidAPIKey() }
        let digest = Array(SHA256.hash(data: Array(presented.trimmingCharacters(in: .whitespaces).utf8)))
        var difference: UInt8 = 0
        for (a, b) in zip(digest, expectedDigest) { difference |= a ^ b }
        guard difference == 0 else { throw OpenAIError.invalidAPIKey() }
        return try await next(request, context)
    }
}

import Foundation
