import EVM
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ZGBroker

/// An error answered in the OpenAI envelope `{"error":{"message","type","param","code"}}`,
/// with a string `code`, which every OpenAI SDK parses into its own exception classes.
///
/// Client mistakes are 4xx, never 5xx: Cursor shows every 5xx (and 429) as "rate limit exceeded".
public struct OpenAIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?
    /// Extra headers: `retry-after`, `x-should-retry`.
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String?, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code ?? type): \(message)" }

    /// The envelope's JSON bytes.
    public var body: [UInt8] {
        var error: [String: Any] = ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()]
        if param == nil { error["param"] = NSNull() }
        let data = (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
        return Array(data)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: The errors the gateway answers

    public static func invalidRequest(_ message: String, param: String? = nil, code: String = "invalid_request_error") -> OpenAIError {
        OpenAIError(.badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    public static func invalidAPIKey() -> OpenAIError {
        OpenAIError(.unauthorized, message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key")
    }

    public static func modelNotFound(_ model: String) -> OpenAIError {
        OpenAIError(.notFound, message: "The model `\(model)` does not exist or you do not have access to it.", type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    public static func notFound(_ message: String) -> OpenAIError {
        OpenAIError(.notFound, message: message, type: "invalid_request_error", code: "not_found")
    }

    public static func bodyTooLarge(limit: Int) -> OpenAIError {
        OpenAIError(.contentTooLarge, message: "The request body is larger than the \(limit)-byte limit.", type: "invalid_request_error", code: "request_too_large")
    }

    public static func insufficientFunds(_ message: String) -> OpenAIError {
        OpenAIError(.init(code: 402), message: message, type: "insufficient_quota", code: "insufficient_funds", headers: [.shouldRetry: "false"])
    }

    public static func upstream(_ status: HTTPResponse.Status, _ message: String, code: String = "upstream_error", retry: Bool = true) -> OpenAIError {
        OpenAIError(status, message: message, type: "server_error", code: code, headers: [.shouldRetry: retry ? "true" : "false"])
    }

    public static func serviceUnavailable(_ message: String, retryAfterSeconds: Int? = nil) -> OpenAIError {
        var headers: HTTPFields = [.shouldRetry: "true"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return OpenAIError(.serviceUnavailable, message: message, type: "server_error", code: "service_unavailable", headers: headers)
    }

    /// Maps what the broker reports to what the client should see.
    public static func from(_ error: BrokerError) -> OpenAIError {
        switch error {
        case .unknownModel(let model): return .modelNotFound(model)
        case .providerNotFound(let address): return .modelNotFound(address.checksummed)
        case .noUsableProvider(let model, let reason):
            return .serviceUnavailable("No 0G provider for `\(model)` can serve the request now: \(reason)", retryAfterSeconds: 5)
        case .ledgerNotFound, .accountNotFound, .insufficientFunds:
            return .insufficientFunds("The gateway's 0G balance cannot pay for this request: \(error.description)")
        case .providerRejected(let provider, let status, let message):
            if message.contains("account not exist") {
                return .insufficientFunds("The gateway's wallet has no sub-account with 0G provider \(provider.checksummed) yet. Fund it with: zgproxy ledger transfer --provider \(provider.checksummed) 1")
            }
            if message.contains("insufficient balance") {
                return .insufficientFunds("The gateway's 0G sub-account with this provider is short: \(message). Add funds with: zgproxy ledger transfer --provider \(provider.checksummed) <amount>")
            }
            if status == 429 {
                return OpenAIError(.tooManyRequests, message: "The 0G provider is rate limiting: \(message)", type: "rate_limit_error", code: "rate_limit_exceeded", headers: [.retryAfter: "1"])
            }
            if (400..<500).contains(status) {
                return OpenAIError(.badRequest, message: "The 0G provider refused the request: \(message)", type: "invalid_request_error", code: "upstream_rejected")
            }
            return .upstream(.badGateway, "The 0G provider failed: \(message)")
        case .providerUnreachable(_, let message):
            if message.contains("timed out") { return .upstream(.gatewayTimeout, "The 0G provider did not answer in time.", code: "upstream_timeout") }
            return .upstream(.badGateway, "The 0G provider could not be reached: \(message)")
        case .verificationFailed(_, let reason):
            return .upstream(.badGateway, "The provider's response failed TEE verification: \(reason)", code: "verification_failed", retry: true)
        case .spendingCapReached:
            return .insufficientFunds(error.description)
        case .chain, .transaction, .contractRule, .invalidResponse:
            return .upstream(.badGateway, "0G network error: \(error.description)", code: "chain_error")
        }
    }
}

extension HTTPField.Name {
    static let shouldRetry = HTTPField.Name("x-should-retry")!
    static let requestID = HTTPField.Name("x-request-id")!
    static let provider = HTTPField.Name("x-zgproxy-provider")!
    static let overhead = HTTPField.Name("x-zgproxy-overhead-ms")!
    static let zgResKey = HTTPField.Name("ZG-Res-Key")!
    static let accelBuffering = HTTPField.Name("x-accel-buffering")!
    /// Picks the backend endpoint by name or host (within the configured ones only).
    static let hostFinal = HTTPField.Name("x-host-final")!
    static let apiKey = HTTPField.Name("x-api-key")!
    /// Internal: the direct relay's failed upstream, which the router's failover skips. The
    /// relay removes it from what clients send.
    static let skipBackend = HTTPField.Name("x-zgproxy-skip")!
}
