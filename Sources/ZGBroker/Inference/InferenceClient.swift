import AsyncHTTPClient
import EVM
import Foundation
import NIOCore
import NIOHTTP1

/// Sends billed requests to a provider's `/v1/proxy/…` routes with the session header.
public struct InferenceClient: Sendable {
    public let httpClient: HTTPClient

    public init(httpClient: HTTPClient) {
        self.httpClient = httpClient
    }

    /// POSTs `body` to `{service.url}/v1/proxy{path}` and returns the response with its body
    /// still streaming. The deadline covers connecting and the response head only; the body
    /// is bounded by the HTTP client's read timeout.
    public func post(
        service: Service, path: String, body: [UInt8], authorization: String, headers extra: [(String, String)] = [],
        headTimeout: Duration
    ) async throws(BrokerError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: service.url.trimmingSlash + "/v1/proxy" + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: authorization)
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            return try await httpClient.execute(request, timeout: .init(headTimeout))
        } catch {
            throw .providerUnreachable(provider: service.provider, message: Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let clientError = error as? HTTPClientError {
            switch clientError {
            case .deadlineExceeded, .readTimeout: return "timed out"
            case .connectTimeout: return "connect timed out"
            case .remoteConnectionClosed: return "connection closed"
            default: return clientError.shortDescription
            }
        }
        return String(describing: error)
    }
}
