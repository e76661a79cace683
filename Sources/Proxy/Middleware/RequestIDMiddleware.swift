import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id (the client's `x-request-id` when it sent a sane one), puts it in
/// the logger's metadata and on the response, including error responses.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[.requestID].flatMap { $0.count <= 128 && $0.allSatisfy { $0.isASCII && !$0.isWhitespace } ? $0 : nil }
            ?? Self.makeID()
        context.logger[metadataKey: "zg.request.id"] = .string(id)
        context.requestID = id
        do {
            var response = try await next(request, context)
            response.headers[.requestID] = id
            return response
        } catch let error as OpenAIError {
            var response = try error.response(from: request, context: context)
            response.headers[.requestID] = id
            return response
        } catch let error as HTTPError {
            var response = try OpenAIError(error.status, message: error.body ?? error.status.reasonPhrase, type: "invalid_request_error", code: error.status == .notFound ? "not_found" : "http_error")
                .response(from: request, context: context)
            response.headers[.requestID] = id
            return response
        }
    }

    /// `req_` and 32 random hex digits.
    static func makeID() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var bytes = Array("req_".utf8)
        bytes.reserveCapacity(36)
        for _ in 0..<2 {
            let value: UInt64 = generator.next()
            for shift in stride(from: 60, through: 0, by: -4) { bytes.append(digits[Int((value >> UInt64(shift)) & 0xf)]) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
