import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// Gives every request an id (the client's `x-request-id` when it sent a sane one), puts it in
/// the logger's metadata and on the response, including error responses.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = Self.id(for: request.headers)
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

    /// The client's `x-request-id` when it is sane (≤ 128 printable ASCII characters), else a new one.
    static func id(for headers: some HeaderLookup) -> String {
        headers[header: .requestID].flatMap { $0.count <= 128 && $0.allSatisfy { $0.isASCII && !$0.isWhitespace } ? $0 : nil } ?? makeID()
    }

    /// `req_`, 16 hex digits drawn at start (distinct per process) and 16 of a counter: unique
    /// without a random draw (a system call) per request.
    static func makeID() -> String {
        let count = counter.add(1, ordering: .relaxed).newValue
        return String(unsafeUninitializedCapacity: processPrefix.count + 16) { text in
            _ = text.initialize(fromContentsOf: processPrefix)
            for index in 0..<16 { text[processPrefix.count + index] = hexDigits[Int((count >> UInt64(60 - 4 * index)) & 0xf)] }
            return processPrefix.count + 16
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let counter = Atomic<UInt64>(0)
    private static let processPrefix: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        let value: UInt64 = generator.next()
        var bytes = Array("req_".utf8)
        for shift in stride(from: 60, through: 0, by: -4) { bytes.append(hexDigits[Int((value >> UInt64(shift)) & 0xf)]) }
        return bytes
    }()
}
