import EVM
import Foundation
import HTTPTypes
import Synchronization
import ZGBroker

/// The accounted caller of one `/v1` request: who it is, what limits it holds, and whether its
/// usage record was written yet.
///
/// The route names the model; the exchange (or, for a request that failed before reaching an
/// upstream, the middleware) writes exactly one usage record through ``record(_:)``.
public final class Caller: Sendable {
    public let principal: Principal
    public let grant: LimitGrant
    public let requestID: String
    let received = Date()
    let receivedClock = ContinuousClock.now
    private struct State {
        var model: String?
        var recorded = false
        var failureStatus: Int?
    }

    private let state = Mutex(State())
    private let accounts: Accounts

    init(principal: Principal, grant: LimitGrant, requestID: String, accounts: Accounts) {
        self.principal = principal
        self.grant = grant
        self.requestID = requestID
        self.accounts = accounts
    }

    /// The model the request asked for; refused when the key is limited to others.
    public func use(model: String) throws(OpenAIError) {
        state.withLock { $0.model = model }
        if let key = principal.key, !key.allows(model: model) {
            throw OpenAIError(
                .forbidden, message: "This API key may not use the model `\(model)`.", type: "invalid_request_error", param: "model", code: "model_not_allowed"
            )
        }
    }

    /// A stream that had already answered 200 failed before any upstream answered.
    func failed(status: Int) { state.withLock { $0.failureStatus = status } }

    /// Writes the request's usage record (once; later calls do nothing).
    func record(backend: String, provider: String, model: String?, usage: Usage?, cost: UInt256, status: Int) {
        let chosenModel: String? = state.withLock { state in
            guard !state.recorded else { return nil }
            state.recorded = true
            return model ?? state.model ?? ""
        }
        guard let chosenModel else { return }
        let record = UsageRecord(
            requestID: requestID, at: received, userID: principal.user?.id, keyID: principal.key?.id, model: chosenModel, backend: backend,
            provider: provider, promptTokens: usage?.promptTokens ?? 0, completionTokens: usage?.completionTokens ?? 0,
            cachedTokens: usage?.cachedTokens ?? 0, cost: cost, latencyMilliseconds: Int((ContinuousClock.now - receivedClock).milliseconds),
            status: status
        )
        accounts.recorder.record(record, subjects: grant.subjects)
    }

    /// The end of the response: releases the limits and records a request that never reached
    /// an upstream (refused, invalid, or failed before the first byte). Requests that name no
    /// model (listing models) leave no record.
    func finish(status: Int) async {
        await accounts.limiter.release(grant)
        recordUnrecorded(status: status)
    }

    /// ``finish(status:)`` for a grant from ``RateLimiter/acquireImmediately(_:now:)``.
    func finishImmediately(status: Int) {
        accounts.limiter.releaseImmediately(grant)
        recordUnrecorded(status: status)
    }

    private func recordUnrecorded(status: Int) {
        let (model, failure) = state.withLock { ($0.model, $0.failureStatus) }
        if model != nil { record(backend: "", provider: "", model: nil, usage: nil, cost: .zero, status: failure ?? status) }
    }
}
