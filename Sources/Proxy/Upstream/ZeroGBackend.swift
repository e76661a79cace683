import AsyncHTTPClient
import CoreMetrics
import EVM
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import ZGBroker

/// Routes OpenAI requests to 0G providers through ``ZGBroker``: picks the ranked providers for
/// the model, signs with the cached session token, and fails over to the next provider on
/// connection errors, timeouts, 429 and 5xx before the first byte.
struct ZeroGBackend: InferenceBackend {
    let broker: ZGBroker
    let metrics: GatewayMetrics
    let configuration: ProxyConfiguration
    /// What the direct relay needs of each provider, worked out once per service.
    private let directTargets: ZeroGDirectTargets

    init(broker: ZGBroker, metrics: GatewayMetrics, configuration: ProxyConfiguration) {
        self.broker = broker
        self.metrics = metrics
        self.configuration = configuration
        directTargets = ZeroGDirectTargets(metrics: metrics)
    }

    /// Sends the request to the first provider that answers with a usable head.
    func open(path: String, body: JSONBody, model: String, injectUsage: Bool, received: ContinuousClock.Instant, logger: Logger) async throws(OpenAIError) -> UpstreamAnswer {
        try await open(path: path, body: body, model: model, injectUsage: injectUsage, received: received, logger: logger, services: nil)
    }

    /// - Parameter services: the model's ranked providers when the caller already read them.
    func open(
        path: String, body: JSONBody, model: String, injectUsage: Bool, received: ContinuousClock.Instant, logger: Logger, services: [Service]?
    ) async throws(OpenAIError) -> UpstreamAnswer {
        let target = configuration.aliases[model] ?? model
        let candidates: [Service]
        if let services {
            candidates = services
        } else {
            do {
                candidates = try await broker.catalog.candidates(for: target)
            } catch {
                throw OpenAIError.from(error)
            }
        }
        var lastError: BrokerError?
        var fundingFailures = 0
        for (attempt, service) in candidates.enumerated() {
            if attempt > 0 { metrics.failover(provider: candidates[attempt - 1].provider.checksummed) }
            broker.funder.watch(service.provider)
            var edited = Self.body(body, for: service)
            if injectUsage { Self.injectIncludeUsage(into: &edited) }
            let sent = edited.bytes
            do {
                let opened = try await send(service: service, path: path, body: sent, received: received)
                return answer(service: service, response: opened.response, sentBody: sent, overhead: opened.overhead)
            } catch {
                lastError = error
                guard Self.isFailoverable(error) else { throw OpenAIError.from(error) }
                if OpenAIError.from(error).status.code == 402 { fundingFailures += 1 }
                logger.debug("provider failed before the first byte", metadata: ["zg.provider": "\(service.provider)", "zg.error": "\(error)"])
            }
        }
        // One provider, or every provider refusing for lack of funds: the specific error (402)
        // tells the operator what to do better than a generic 503.
        if let lastError, candidates.count == 1 || fundingFailures == candidates.count { throw OpenAIError.from(lastError) }
        throw OpenAIError.serviceUnavailable(
            "Every 0G provider for `\(model)` failed: \(lastError.map { "\($0)" } ?? "none answered")", retryAfterSeconds: 2
        )
    }

    /// Wraps a response head with 0G's settlement: the fee from the usage and the service's
    /// prices, and the TEE signature check per `ZG_VERIFY`.
    private func answer(service: Service, response: HTTPClientResponse, sentBody: [UInt8], overhead: Duration) -> UpstreamAnswer {
        let broker = self.broker
        var answer = UpstreamAnswer(
            response: response, sentBody: sentBody, overhead: overhead, servedBy: service.provider.checksummed, model: service.model,
            chatIDHeader: response.headers.first(name: "ZG-Res-Key"), backend: "0g",
            settle: { usage, chatID, responseSHA256, logger in
                let fee = self.fee(service: service, usage: usage, logger: logger)
                guard broker.verifier.shouldVerify(), !responseSHA256.isEmpty else { return fee }
                await self.verify(service: service, sentBody: sentBody, chatID: chatID, responseSHA256: responseSHA256, logger: logger)
                return fee
            },
            reportFailure: { reason in self.recordFailure(service.provider, reason: reason) }
        )
        answer.hashesResponse = broker.verifier.mode != .off
        return answer
    }

    /// Meters an answer: its fee from the usage and the service's prices.
    func fee(service: Service, usage: Usage?, logger: Logger) -> UInt256 {
        fee(
            provider: service.provider, schedule: broker.feeSchedule(for: service), fees: metrics.feeSeries(provider: service.provider.checksummed),
            usage: usage, logger: logger
        )
    }

    /// ``fee(service:usage:logger:)`` with the provider's schedule and fee series at hand (the
    /// direct relay's, from its ``ZeroGDirectTarget``).
    func fee(target: ZeroGDirectTarget, usage: Usage?, logger: Logger) -> UInt256 {
        fee(provider: target.service.provider, schedule: target.schedule, fees: target.fees, usage: usage, logger: logger)
    }

    private func fee(provider: Address, schedule: FeeSchedule, fees: Counter, usage: Usage?, logger: Logger) -> UInt256 {
        guard let usage else {
            logger.warning("response without usage; fee unknown", metadata: ["zg.provider": "\(provider)"])
            return .zero
        }
        let fee = broker.meter(provider: provider, schedule: schedule, usage: usage)
        GatewayMetrics.add(neuron: fee.doubleValue, to: fees)
        logger.debug("metered", metadata: ["zg.provider": "\(provider)", "zg.fee": "\(fee)", "zg.tokens": "\(usage.totalTokens)"])
        return fee
    }

    /// Checks the provider's TEE signature of one answer (PROTOCOL.md, response verification).
    func verify(service: Service, sentBody: [UInt8], chatID: String?, responseSHA256: String, logger: Logger) async {
        let result = await broker.verifier.verify(
            service: service, chatID: chatID, requestSHA256: ResponseVerifier.sha256Hex(sentBody), responseSHA256: responseSHA256
        )
        metrics.verification(status: result.status.rawValue)
        if result.status == .failed {
            logger.warning("response verification failed", metadata: ["zg.provider": "\(service.provider)", "zg.reason": "\(result.reason ?? "")"])
        }
    }

    /// The direct relay's exchange with the best provider, when its session token is cached.
    func directPlan(path: String, body: JSONBody, service: Service) -> DirectPlan? {
        guard let token = broker.tokens.cachedToken(for: service.provider), let target = directTargets.target(for: service),
              let head = target.heads.head(path: path, authorization: token.authorization) else { return nil }
        target.watch(with: broker.funder)
        // The closures take the target (one reference) rather than the service's fields.
        return DirectPlan(
            origin: target.heads.origin, requestHead: head, body: Self.body(body, for: service).bytes, servedBy: target.provider, backend: "0g",
            model: service.model, chatIDHeader: "ZG-Res-Key",
            succeeded: { latency in
                target.upstreamLatency.recordNanoseconds(latency.nanoseconds)
                self.recordSuccess(target.service.provider, latency: latency)
            },
            failed: { reason in self.recordFailure(target.service.provider, reason: reason) },
            settle: { usage, chatID, sent, answer, logger in
                let fee = self.fee(target: target, usage: usage, logger: logger)
                if self.broker.verifier.shouldVerify() {
                    let hash = ResponseVerifier.sha256Hex(answer)
                    Task { await self.verify(service: target.service, sentBody: sent, chatID: chatID, responseSHA256: hash, logger: logger) }
                }
                return fee
            }
        )
    }

    private func send(service: Service, path: String, body: [UInt8], received: ContinuousClock.Instant) async throws(BrokerError) -> (response: HTTPClientResponse, overhead: Duration) {
        var retriedGeneration = false
        while true {
            let token = try await broker.tokens.token(for: service.provider)
            let sentAt = ContinuousClock.now
            let response: HTTPClientResponse
            do {
                response = try await broker.inference.post(
                    service: service, path: path, body: body, authorization: token.authorization, headTimeout: configuration.firstByteTimeout
                )
            } catch {
                recordFailure(service.provider, reason: error.description)
                throw error
            }
            metrics.upstreamLatency(provider: service.provider.checksummed, duration: .now - sentAt)
            let status = Int(response.status.code)
            guard status >= 400 else {
                recordSuccess(service.provider, latency: .now - sentAt)
                return (response, sentAt - received)
            }
            let message = ProviderErrorBody.message((try? await response.body.collect(upTo: 1 << 20)).map { Array(buffer: $0) } ?? [])
            if !retriedGeneration, message.contains("generation expired") || message.contains("future generation") {
                retriedGeneration = true
                await broker.tokens.invalidate(service.provider)
                continue
            }
            if status >= 500 || status == 429 { recordFailure(service.provider, reason: "HTTP \(status)") }
            throw .providerRejected(provider: service.provider, status: status, message: message)
        }
    }

    /// Records an outcome in the broker's health tracker (which ranks providers and opens
    /// circuits) and in the `zgproxy_provider_up` gauge.
    func recordSuccess(_ provider: Address, latency: Duration) {
        if broker.health.recordSuccess(provider, latency: latency) { metrics.providerHealthy(provider.checksummed, healthy: true) }
    }

    func recordFailure(_ provider: Address, reason: String) {
        broker.health.recordFailure(provider, reason: reason)
        metrics.providerHealthy(provider.checksummed, healthy: !broker.health.isBenched(provider))
    }

    static func isFailoverable(_ error: BrokerError) -> Bool {
        switch error {
        case .providerUnreachable: return true
        case .providerRejected(_, let status, let message):
            // A provider this wallet has not funded (enough) may be one of several: try the next.
            return status >= 500 || status == 429 || message.contains("insufficient balance") || message.contains("account not exist")
        default: return false
        }
    }

    /// The body with `model` set to the provider's id.
    static func body(_ body: JSONBody, for service: Service) -> JSONBody {
        var edited = body
        if edited.string("model") != service.model { edited.set("model", string: service.model) }
        return edited
    }

    /// Makes the upstream report usage at the end of a stream, keeping the client's other
    /// `stream_options` (a client's `include_usage: false` cannot switch billing off).
    static func injectIncludeUsage(into body: inout JSONBody) {
        var options = (body.value("stream_options") as? [String: Any]) ?? [:]
        options["include_usage"] = true
        if let data = try? JSONSerialization.data(withJSONObject: options, options: [.sortedKeys]) {
            body.set("stream_options", rawJSON: Array(data))
        }
    }
}
