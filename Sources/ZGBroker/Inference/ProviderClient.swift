import AsyncHTTPClient
import EVM
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The provider broker's own HTTP endpoints (PROTOCOL.md §7): unsettled fees, response
/// signatures, the attestation quote and the model list. Inference itself goes through
/// ``InferenceClient``.
public struct ProviderClient: Sendable {
    public let httpClient: HTTPClient
    /// Deadline for these small JSON exchanges.
    public let timeout: Duration

    public init(httpClient: HTTPClient, timeout: Duration = .seconds(15)) {
        self.httpClient = httpClient
        self.timeout = timeout
    }

    /// `GET {url}/v1/user/{user}/unsettledfee`: fees the provider has not settled yet.
    public func unsettledFee(service: Service, token: SessionToken) async throws(BrokerError) -> UInt256 {
        let object = try await getJSON(service, "/v1/user/\(token.user.checksummed)/unsettledfee", authorization: token.authorization)
        guard let text = (object["unsettledFee"] as? String) ?? (object["unsettledFee"] as? NSNumber)?.stringValue,
              let fee = UInt256(decimal: text) else {
            throw .invalidResponse("provider \(service.provider) sent no unsettledFee")
        }
        return fee
    }

    /// `GET {url}/v1/proxy/signature/{chatID}?model=`: the provider's signature of one response.
    public func responseSignature(service: Service, chatID: String) async throws(BrokerError) -> ResponseSignature {
        let escapedID = chatID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? chatID
        let escapedModel = service.model.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))) ?? service.model
        let object = try await getJSON(service, "/v1/proxy/signature/\(escapedID)?model=\(escapedModel)", authorization: nil)
        guard let text = object["text"] as? String, let signatureHex = object["signature"] as? String,
              let signature = try? [UInt8](hex: signatureHex) else {
            throw .invalidResponse("provider \(service.provider) sent a signature object without text or signature")
        }
        return ResponseSignature(
            text: text, signature: signature,
            signingAddress: (object["signing_address"] as? String).flatMap { try? Address(hex: $0) }
        )
    }

    /// `GET {url}/v1/quote`: the broker's TEE attestation report, as the provider sent it.
    public func quote(service: Service) async throws(BrokerError) -> [String: Any] {
        try await getJSON(service, "/v1/quote", authorization: nil)
    }

    /// `GET {url}/v1/models`: the provider's model list with prices (newer brokers).
    public func models(service: Service) async throws(BrokerError) -> [String: Any] {
        try await getJSON(service, "/v1/models", authorization: nil)
    }

    private func getJSON(_ service: Service, _ path: String, authorization: String?) async throws(BrokerError) -> [String: Any] {
        var request = HTTPClientRequest(url: service.url.trimmingSlash + path)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let bytes: [UInt8]
        let status: Int
        do {
            let response = try await httpClient.execute(request, timeout: .init(timeout))
            status = Int(response.status.code)
            bytes = Array(buffer: try await response.body.collect(upTo: 8 * 1024 * 1024))
        } catch {
            throw .providerUnreachable(provider: service.provider, message: "\(path.split(separator: "?")[0]): \(error)")
        }
        guard status == 200 else {
            throw .providerRejected(provider: service.provider, status: status, message: ProviderErrorBody.message(bytes))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw .invalidResponse("provider \(service.provider) sent non-JSON for \(path.split(separator: "?")[0])")
        }
        return object
    }
}

/// What `/v1/proxy/signature/{id}` returns.
public struct ResponseSignature: Sendable, Hashable {
    /// What the TEE signed: `sha256(request):sha256(response)` for broker-signed providers.
    public let text: String
    public let signature: [UInt8]
    /// The provider's claim of who signed; only a hint (the chain is the authority).
    public let signingAddress: Address?
}

/// Provider error bodies are `{"error":"…"}` (sometimes OpenAI-shaped); this extracts the text.
public enum ProviderErrorBody {
    public static func message(_ bytes: [UInt8]) -> String {
        if let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] {
            if let text = object["error"] as? String { return text }
            if let error = object["error"] as? [String: Any], let text = error["message"] as? String { return text }
            if let text = object["message"] as? String { return text }
        }
        let text = String(decoding: bytes.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "no error message" : text
    }
}

extension String {
    /// The URL without trailing slashes, ready for a path to be appended.
    public var trimmingSlash: String {
        var text = self
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
