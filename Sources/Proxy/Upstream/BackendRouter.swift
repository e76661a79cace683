import EVM
import Foundation
import HTTPTypes
import Logging
import ZGBroker

/// Routes a model to every backend that serves it, by priority (lower first) and weight, and
/// fails over from one to the next when a backend fails before the first byte (5xx, 429,
/// unreachable). 0G takes part as one more backend with its own priority.
struct BackendRouter: InferenceBackend {
    let zeroG: ZeroGBackend
    let endpoints: [any Endpoint]
    let zeroGPriority: Int
    let health: HealthTracker<String>

    private enum Candidate {
        /// With the catalog's ranked providers, read once for both the routing and the send.
        case zeroG([Service]?)
        case endpoint(any Endpoint)
    }

    func open(
        path: String, body: JSONBody, model: String, injectUsage: Bool, received: ContinuousClock.Instant, logger: Logger
    ) async throws(OpenAIError) -> UpstreamAnswer {
        try await open(path: path, body: body, model: model, injectUsage: injectUsage, received: received, logger: logger, host: nil)
    }

    /// - Parameters:
    ///   - host: the client's `X-Host-Final`: an endpoint's name or host (or `0g`).
    ///     A model written `name/model` with `name` a configured endpoint selects it the same way.
    ///   - skip: an endpoint's name or a 0G provider's address that already failed this request
    ///     (on the direct relay); the others are tried.
    func open(
        path: String, body: JSONBody, model requested: String, injectUsage: Bool, received: ContinuousClock.Instant, logger: Logger,
        host: String?, skip: String? = nil
    ) async throws(OpenAIError) -> UpstreamAnswer {
        var model = requested
        var body = body
        var pinned = host
        if pinned == nil, let slash = requested.firstIndex(of: "/"), isKnownHost(String(requested[..<slash])) {
            pinned = String(requested[..<slash])
            model = String(requested[requested.index(after: slash)...])
            body.set("model", string: model)
        }
        if let pinned, !isKnownHost(pinned) {
            throw OpenAIError.invalidRequest("`\(pinned)` is not one of the gateway's endpoints (see GET /v1/endpoints).", param: "x-host-final", code: "unknown_host")
        }
        for endpoint in endpoints { await endpoint.ready(logger: logger) }
        let candidates = await self.candidates(for: model).filter { candidate in
            guard let pinned else { return true }
            switch candidate {
            case .zeroG: return pinned == "0g"
            case .endpoint(let endpoint): return Self.matches(endpoint, pinned)
            }
        }.compactMap { candidate -> Candidate? in
            guard let skip else { return candidate }
            switch candidate {
            case .endpoint(let endpoint): return endpoint.name == skip ? nil : candidate
            case .zeroG(let services?):
                let others = services.filter { $0.provider.checksummed != skip }
                return others.isEmpty ? nil : .zeroG(others)
            case .zeroG(nil): return candidate
            }
        }
        var lastError: OpenAIError? = nil
        for candidate in candidates {
            do {
                switch candidate {
                case .zeroG(let services):
                    return try await zeroG.open(
                        path: path, body: body, model: model, injectUsage: injectUsage, received: received, logger: logger, services: services
                    )
                case .endpoint(let endpoint):
                    return try await endpoint.open(path: path, body: body, model: model, injectUsage: injectUsage, received: received)
                }
            } catch {
                lastError = error
                guard error.status.code >= 500 || error.status.code == 429 else { throw error }
                logger.debug("backend failed before the first byte, trying the next", metadata: ["zg.error": "\(error)"])
            }
        }
        throw lastError ?? .modelNotFound(configurationAlias(model))
    }

    private func isKnownHost(_ name: String) -> Bool {
        name == "0g" || endpoints.contains { Self.matches($0, name) }
    }

    private static func matches(_ endpoint: any Endpoint, _ name: String) -> Bool {
        endpoint.name == name || EndpointConfiguration.host(of: endpoint.configuration.baseURL) == name
    }

    private func configurationAlias(_ model: String) -> String { zeroG.configuration.aliases[model] ?? model }

    /// Endpoints serving the model (benched ones last), and 0G when its catalog has the model,
    /// ordered by priority; within a priority by observed health and latency, then a draw
    /// weighted by `weight`.
    private func candidates(for model: String) async -> [Candidate] {
        let target = zeroG.configuration.aliases[model] ?? model
        return candidates(for: model, zeroGServices: try? await zeroG.broker.catalog.candidates(for: target))
    }

    /// The direct relay's exchange with the first candidate for `model`, when it can be made
    /// at once (see ``DirectPlan``): every endpoint's model list known, the catalog fresh, no
    /// endpoint pinned. Failover stays with the regular path, which takes over on failure.
    func directPlan(path: String, body: JSONBody, model: String) -> DirectPlan? {
        if let slash = model.utf8.firstIndex(of: UInt8(ascii: "/")), isKnownHost(String(model[..<slash])) { return nil }
        guard endpoints.allSatisfy(\.isReady) else { return nil }
        let target = zeroG.configuration.aliases[model] ?? model
        guard let services = zeroG.broker.catalog.cachedCandidates(for: target) else { return nil }
        // The usual cases, without ranking: only 0G serves the model, or only one endpoint.
        switch (endpointsServing(model), services.first) {
        case (.none, let best?):
            var plan = zeroG.directPlan(path: path, body: body, service: best)
            plan?.alternatives = services.count > 1
            return plan
        case (.one(let endpoint), nil):
            return endpoint.directPlan(path: path, body: body, model: model)
        default:
            break
        }
        let ranked = candidates(for: model, zeroGServices: services.isEmpty ? nil : services)
        var plan: DirectPlan?
        var upstreams = ranked.count
        switch ranked.first {
        case .endpoint(let endpoint): plan = endpoint.directPlan(path: path, body: body, model: model)
        case .zeroG(let services?):
            plan = services.first.flatMap { zeroG.directPlan(path: path, body: body, service: $0) }
            upstreams += services.count - 1
        case .zeroG(nil), nil: return nil
        }
        plan?.alternatives = upstreams > 1
        return plan
    }

    private enum Serving {
        case none
        case one(any Endpoint)
        case several
    }

    /// How many endpoints serve `model` (counted without building a list).
    private func endpointsServing(_ model: String) -> Serving {
        var serving = Serving.none
        for endpoint in endpoints where endpoint.serves(model) {
            guard case .none = serving else { return .several }
            serving = .one(endpoint)
        }
        return serving
    }

    private func candidates(for model: String, zeroGServices: [Service]?) -> [Candidate] {
        var ranked: [(priority: Int, order: Double, candidate: Candidate)] = []
        let serving = endpoints.filter { $0.serves(model) }
        for endpoint in serving {
            let benched = health.isBenched(endpoint.name)
            // Weighted random order: the smallest -ln(U)/w wins (exponential races). One
            // endpoint needs no draw (each is a system call for randomness).
            let draw = serving.count == 1 ? 0 : -log(Double.random(in: Double.ulpOfOne..<1)) / Double(endpoint.configuration.weight)
            ranked.append((endpoint.configuration.priority + (benched ? 1_000_000 : 0), draw, .endpoint(endpoint)))
        }
        // 0G joins when it has the model, or alone (it then answers the precise 404 or 503)…
        let zeroGServes = zeroGServices != nil
        if ranked.isEmpty && !zeroGServes {
            // …unless an endpoint has a default model for models nobody serves.
            for endpoint in endpoints where endpoint.answersAnyModel {
                ranked.append((endpoint.configuration.priority, 0, .endpoint(endpoint)))
            }
        }
        if ranked.isEmpty || zeroGServes {
            ranked.append((zeroGPriority, 0, .zeroG(zeroGServices)))
        }
        if ranked.count == 1 { return [ranked[0].candidate] }
        // Within one priority, observed health and latency come before the weighted draw.
        let sorted = ranked.sorted { ($0.priority, $0.order) < ($1.priority, $1.order) }
        var result = [Candidate]()
        var index = 0
        while index < sorted.count {
            let group = sorted[index...].prefix { $0.priority == sorted[index].priority }.map(\.candidate)
            result += health.rank(group) { candidate in
                if case .endpoint(let endpoint) = candidate { return endpoint.name }
                return "0g"
            }
            index += group.count
        }
        return result
    }
}
