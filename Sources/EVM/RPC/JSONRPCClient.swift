import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A JSON-RPC 2.0 client for an Ethereum node over HTTP(S), on AsyncHTTPClient.
///
/// Transport failures, timeouts, HTTP 429 and 5xx are retried with exponential backoff (a
/// `Retry-After` from the node wins); a node's own error is returned at once as an
/// ``RPCError`` that keeps the error's `data`, so reverts can be decoded by the caller.
/// The URL may carry an API key, so it is never logged or put into errors: only its host is.
public struct JSONRPCClient: Sendable {
    /// Timeouts and retry policy.
    public struct Configuration: Sendable {
        /// Deadline for one HTTP exchange.
        public var timeout: Duration
        /// Attempts after the first, for retryable failures.
        public var maxRetries: Int
        /// First backoff; doubles on each retry up to ``maxBackoff``, with ±25 % jitter.
        public var initialBackoff: Duration
        public var maxBackoff: Duration

        public init(
            timeout: Duration = .seconds(30), maxRetries: Int = 3,
            initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(5)
        ) {
            self.timeout = timeout
            self.maxRetries = maxRetries
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    public let url: String
    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let logger: Logger
    /// The URL without credentials or path, safe to print.
    public let displayHost: String

    /// - Parameters:
    ///   - url: the node's HTTP(S) endpoint.
    ///   - httpClient: a client owned (and shut down) by the caller.
    public init(url: String, httpClient: HTTPClient, configuration: Configuration = .init(), logger: Logger = Logger(label: "zg.rpc")) {
        self.url = url
        self.httpClient = httpClient
        self.configuration = configuration
        self.logger = logger
        if let components = URLComponents(string: url), let host = components.host {
            self.displayHost = (components.scheme.map { "\($0)://" } ?? "") + host + (components.port.map { ":\($0)" } ?? "")
        } else {
            self.displayHost = "<rpc>"
        }
    }

    /// One call; returns the `result` (`.null` when the node answered null).
    public func request(_ method: String, _ params: [JSONValue] = []) async throws(RPCError) -> JSONValue {
        let id = Int.random(in: 1...Int(Int32.max))
        let body = RequestObject(id: id, method: method, params: params)
        let bytes = try await post(encode(body, method: method), method: method)
        let response: ResponseObject
        do {
            response = try JSONDecoder().decode(ResponseObject.self, from: Data(bytes))
        } catch {
            throw RPCError(kind: .invalidResponse, method: method, message: "not a JSON-RPC response object")
        }
        return try response.unwrap(method: method)
    }

    /// Several calls in one HTTP exchange. Results come back in the order of `calls`; a call
    /// the node failed is a `.failure` without failing the others.
    public func batch(_ calls: [(method: String, params: [JSONValue])]) async throws(RPCError) -> [Result<JSONValue, RPCError>] {
        guard !calls.isEmpty else { return [] }
        let label = "batch(\(calls.count))"
        let bodies = calls.enumerated().map { RequestObject(id: $0.offset + 1, method: $0.element.method, params: $0.element.params) }
        let bytes = try await post(encode(bodies, method: label), method: label)
        let responses: [ResponseObject]
        do {
            responses = try JSONDecoder().decode([ResponseObject].self, from: Data(bytes))
        } catch {
            // A node that refuses batches answers one error object.
            if let single = try? JSONDecoder().decode(ResponseObject.self, from: Data(bytes)) {
                _ = try single.unwrap(method: label)
            }
            throw RPCError(kind: .invalidResponse, method: label, message: "not a JSON-RPC batch response")
        }
        var byID = [Int: ResponseObject]()
        for response in responses {
            if case .number(let number) = response.id { byID[Int(number)] = response }
        }
        return calls.enumerated().map { index, call in
            guard let response = byID[index + 1] else {
                return .failure(RPCError(kind: .invalidResponse, method: call.method, message: "missing from the batch response"))
            }
            return Result { () throws(RPCError) -> JSONValue in try response.unwrap(method: call.method) }
        }
    }

    private func encode(_ value: some Encodable, method: String) throws(RPCError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw RPCError(kind: .invalidResponse, method: method, message: "cannot encode the request")
        }
    }

    /// POSTs with retries; returns the body of an HTTP 200.
    private func post(_ body: [UInt8], method: String) async throws(RPCError) -> [UInt8] {
        var attempt = 0
        var backoff = configuration.initialBackoff
        while true {
            let failure: RPCError
            var retryAfter: Duration? = nil
            do {
                return try await postOnce(body, method: method)
            } catch let error as RetryAfterRPCError {
                failure = error.error
                retryAfter = error.retryAfter
            } catch let error as RPCError {
                failure = error
            } catch {
                failure = RPCError(kind: .transport, method: method, message: String(describing: error))
            }
            guard failure.isRetryable, attempt < configuration.maxRetries else { throw failure }
            attempt += 1
            let wait = retryAfter ?? jittered(backoff)
            logger.debug(
                "retrying JSON-RPC call",
                metadata: ["zg.rpc.method": "\(method)", "zg.rpc.host": "\(displayHost)", "zg.rpc.attempt": "\(attempt)", "zg.rpc.error": "\(failure.kind)"]
            )
            do {
                try await Task.sleep(for: wait)
            } catch {
                throw failure
            }
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
    }

    private func jittered(_ duration: Duration) -> Duration {
        duration * Double.random(in: 0.75...1.25)
    }

    private func postOnce(_ body: [UInt8], method: String) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, timeout: .init(configuration.timeout))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw RPCError(kind: .timeout, method: method, message: "no answer from \(displayHost) within \(configuration.timeout)")
        } catch {
            throw RPCError(kind: .transport, method: method, message: "\(displayHost): \(Self.transportDescription(error))")
        }
        let collected: ByteBuffer
        do {
            collected = try await response.body.collect(upTo: 64 * 1024 * 1024)
        } catch {
            throw RPCError(kind: .transport, method: method, message: "\(displayHost): response body lost")
        }
        let bytes = Array(buffer: collected)
        guard response.status == .ok else {
            let error = RPCError(
                kind: .httpStatus(Int(response.status.code)), method: method,
                message: String(decoding: bytes.prefix(200), as: UTF8.self)
            )
            if let header = response.headers.first(name: "Retry-After"), let seconds = Int(header) {
                throw RetryAfterRPCError(error: error, retryAfter: .seconds(min(seconds, 30)))
            }
            throw error
        }
        return bytes
    }

    private static func transportDescription(_ error: any Error) -> String {
        if let clientError = error as? HTTPClientError { return clientError.shortDescription }
        return String(describing: type(of: error))
    }
}

private struct RetryAfterRPCError: Error {
    let error: RPCError
    let retryAfter: Duration
}

private struct RequestObject: Encodable {
    let jsonrpc = "2.0"
    let id: Int
    let method: String
    let params: [JSONValue]
}

private struct ResponseObject: Decodable {
    struct ErrorObject: Decodable {
        let code: Int
        let message: String
        let data: JSONValue?
    }

    let id: JSONValue?
    let result: JSONValue?
    let error: ErrorObject?

    func unwrap(method: String) throws(RPCError) -> JSONValue {
        if let error {
            throw RPCError(kind: .node(code: error.code), method: method, message: error.message, data: error.data)
        }
        return result ?? .null
    }
}

extension Duration {
    /// `TimeAmount` for AsyncHTTPClient.
    var timeAmount: TimeAmount { .nanoseconds(Int64(components.seconds) * 1_000_000_000 + components.attoseconds / 1_000_000_000) }
}

extension TimeAmount {
    init(_ duration: Duration) { self = duration.timeAmount }
}
