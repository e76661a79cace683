import AsyncHTTPClient
import Crypto
import EVM
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The 0G Compute Network client: everything zgproxy needs to spend one wallet's funds on
/// inference, as the official TypeScript SDK does, and more.
///
/// It discovers providers from the chain (every page), picks the best one for a model, signs
/// session tokens, keeps provider sub-accounts funded in the background, meters each
/// response's fee and verifies its TEE signature. Long-running parts are exposed as
/// ``backgroundServices`` for the caller's `ServiceGroup`.
public final class ZGBroker: Sendable {
    public let configuration: BrokerConfiguration
    public let chain: ZGChain
    public let ledger: LedgerService
    public let catalog: ServiceCatalog
    public let tokens: SessionTokenStore
    public let providers: ProviderClient
    public let verifier: ResponseVerifier
    public let funder: AutoFunder
    let feeSchedules = FeeScheduleCache()
    public let health: HealthTracker<Address>
    public let inference: InferenceClient
    private let logger: Logger

    public var wallet: Address { ledger.user }

    init(configuration: BrokerConfiguration, chain: ZGChain, httpClient: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.chain = chain
        self.logger = logger
        let sender = chain.sender(for: configuration.privateKey, logger: logger)
        let ledger = LedgerService(chain: chain, sender: sender)
        self.ledger = ledger
        let health = HealthTracker<Address>()
        self.health = health
        self.catalog = ServiceCatalog(inference: chain.inference, ttl: configuration.catalogTTL, health: health, logger: logger)
        let inference = chain.inference
        let user = configuration.privateKey.address
        self.tokens = SessionTokenStore(key: configuration.privateKey, lifetime: configuration.tokenLifetime) { provider async throws(BrokerError) in
            try await inference.account(user: user, provider: provider)?.generation ?? .zero
        }
        self.providers = ProviderClient(httpClient: httpClient)
        self.verifier = ResponseVerifier(mode: configuration.verification, providers: providers)
        self.funder = AutoFunder(
            configuration: configuration.funding, ledger: ledger, catalog: catalog, tokens: tokens, providers: providers, logger: logger
        )
        self.inference = InferenceClient(httpClient: httpClient)
    }

    /// Connects to the network and checks it is the one configured.
    /// - Parameter httpClient: used for the RPC and the providers; owned by the caller.
    public static func connect(configuration: BrokerConfiguration, httpClient: HTTPClient, logger: Logger = Logger(label: "zg.broker")) async throws(BrokerError) -> ZGBroker {
        let chain = try await ZGChain.connect(network: configuration.network, httpClient: httpClient, rpcConfiguration: configuration.rpc, logger: logger)
        return ZGBroker(configuration: configuration, chain: chain, httpClient: httpClient, logger: logger)
    }

    /// The catalog refresher, and the auto-funder when enabled.
    public var backgroundServices: [any ServiceLifecycle.Service] {
        var services: [any ServiceLifecycle.Service] = [ServiceCatalog.Refresher(catalog: catalog, logger: logger)]
        if configuration.autoFund { services.append(funder) }
        return services
    }

    // MARK: Per response

    /// The fee of a response by `service`, metered locally for the funder's fallback.
    @discardableResult
    public func meter(service: Service, usage: Usage) -> UInt256 {
        meter(provider: service.provider, schedule: feeSchedule(for: service), usage: usage)
    }

    /// The prices `service` bills by (kept per provider until its service changes).
    public func feeSchedule(for service: Service) -> FeeSchedule {
        feeSchedules.schedule(for: service)
    }

    /// ``meter(service:usage:)`` with the service's schedule at hand.
    @discardableResult
    public func meter(provider: Address, schedule: FeeSchedule, usage: Usage) -> UInt256 {
        let fee = schedule.fee(for: usage)
        funder.meter(fee, provider: provider)
        return fee
    }

    // MARK: Scripted inference

    /// Sends one OpenAI request (`/chat/completions`, `/completions`, `/embeddings`) to the best
    /// provider for its `model`, failing over to the next on connection errors, timeouts and 5xx
    /// before the first byte. Used by `zgproxy chat` and the tests; the gateway streams through
    /// its own path but uses the same pieces.
    /// - Parameters:
    ///   - body: the request JSON; `model` selects the providers and is rewritten to the
    ///     provider's model id, and streams get `stream_options.include_usage` so the fee is known.
    ///   - onChunk: receives streamed bytes as they arrive (SSE), or the JSON body at once.
    public func send(
        path: String = "/chat/completions", body: [String: Any], headTimeout: Duration = .seconds(60),
        onChunk: @Sendable ([UInt8]) async -> Void = { _ in }
    ) async throws(BrokerError) -> InferenceResult {
        guard let model = body["model"] as? String, !model.isEmpty else { throw .invalidResponse("the request has no model") }
        let streaming = (body["stream"] as? Bool) ?? false
        let candidates = try await catalog.candidates(for: model)
        var failures = [String]()
        for service in candidates {
            funder.watch(service.provider)
            var request = body
            request["model"] = service.model
            if streaming {
                var options = (request["stream_options"] as? [String: Any]) ?? [:]
                options["include_usage"] = true
                request["stream_options"] = options
            }
            guard let requestBytes = try? JSONSerialization.data(withJSONObject: request) else {
                throw .invalidResponse("the request body cannot be encoded as JSON")
            }
            do {
                return try await exchange(service: service, path: path, body: Array(requestBytes), streaming: streaming, headTimeout: headTimeout, onChunk: onChunk)
            } catch let error where Self.isFailoverable(error) {
                failures.append("\(service.provider): \(error)")
                logger.debug("provider failed, trying the next", metadata: ["zg.provider": "\(service.provider)", "zg.error": "\(error)"])
            }
        }
        throw .noUsableProvider(model: model, reason: failures.joined(separator: "; "))
    }

    /// Connection failures, timeouts and 5xx move on to the next provider; 4xx do not.
    static func isFailoverable(_ error: BrokerError) -> Bool {
        switch error {
        case .providerUnreachable: return true
        case .providerRejected(_, let status, _): return status >= 500 || status == 429
        default: return false
        }
    }

    private func exchange(
        service: Service, path: String, body: [UInt8], streaming: Bool, headTimeout: Duration,
        onChunk: @Sendable ([UInt8]) async -> Void
    ) async throws(BrokerError) -> InferenceResult {
        let started = ContinuousClock.now
        var token = try await tokens.token(for: service.provider)
        var response = try await inference.post(service: service, path: path, body: body, authorization: token.authorization, headTimeout: headTimeout)
        var status = Int(response.status.code)
        if status >= 400 {
            let message = ProviderErrorBody.message(try await Self.collect(response, provider: service.provider))
            // A revoked generation is fixed by re-reading it and minting a new token, once.
            guard message.contains("generation expired") || message.contains("future generation") else {
                try fail(service, status: status, message: message)
            }
            await tokens.invalidate(service.provider)
            token = try await tokens.token(for: service.provider)
            response = try await inference.post(service: service, path: path, body: body, authorization: token.authorization, headTimeout: headTimeout)
            status = Int(response.status.code)
            if status >= 400 {
                try fail(service, status: status, message: ProviderErrorBody.message(try await Self.collect(response, provider: service.provider)))
            }
        }
        health.recordSuccess(service.provider, latency: ContinuousClock.now - started)
        var hasher = SHA256()
        var scanner = SSEUsageScanner()
        var collected = [UInt8]()
        do {
            for try await buffer in response.body {
                let bytes = Array(buffer: buffer)
                hasher.update(data: bytes)
                if streaming { scanner.feed(bytes) }
                collected.append(contentsOf: bytes)
                if streaming { await onChunk(bytes) }
            }
        } catch {
            health.recordFailure(service.provider, reason: "stream cut")
            throw .providerUnreachable(provider: service.provider, message: "the response was cut off: \(InferenceClient.describe(error))")
        }
        if !streaming { await onChunk(collected) }
        let json = streaming ? nil : (try? JSONSerialization.jsonObject(with: Data(collected))) as? [String: Any]
        let usage = streaming ? scanner.usage : Usage(json: json?["usage"])
        let chatID = response.headers.first(name: "ZG-Res-Key") ?? (streaming ? scanner.streamID : json?["id"] as? String)
        let fee = usage.map { meter(service: service, usage: $0) }
        var verification = ResponseVerifier.Result(status: .skipped, reason: nil, signer: nil)
        if verifier.shouldVerify() {
            verification = await verifier.verify(
                service: service, chatID: chatID, requestSHA256: ResponseVerifier.sha256Hex(body),
                responseSHA256: Array(hasher.finalize()).hexString
            )
            if verification.status == .failed {
                logger.warning("response verification failed", metadata: ["zg.provider": "\(service.provider)", "zg.reason": "\(verification.reason ?? "")"])
                if configuration.verification == .required {
                    throw .verificationFailed(provider: service.provider, reason: verification.reason ?? "unknown")
                }
            }
        }
        return InferenceResult(
            service: service, status: status, body: collected, usage: usage, fee: fee, chatID: chatID, verification: verification
        )
    }

    private func fail(_ service: Service, status: Int, message: String) throws(BrokerError) -> Never {
        if status >= 500 { health.recordFailure(service.provider, reason: "HTTP \(status)") }
        throw .providerRejected(provider: service.provider, status: status, message: message)
    }

    static func collect(_ response: HTTPClientResponse, provider: Address) async throws(BrokerError) -> [UInt8] {
        do {
            return Array(buffer: try await response.body.collect(upTo: 1024 * 1024))
        } catch {
            throw .providerUnreachable(provider: provider, message: "the error body was cut off")
        }
    }
}

/// One finished exchange with a provider.
public struct InferenceResult: Sendable {
    public let service: Service
    public let status: Int
    /// The whole body as received (the SSE stream for streams).
    public let body: [UInt8]
    /// nil when the provider reported none.
    public let usage: Usage?
    /// Neuron, computed from the usage and the service's prices.
    public let fee: UInt256?
    public let chatID: String?
    public let verification: ResponseVerifier.Result
}
