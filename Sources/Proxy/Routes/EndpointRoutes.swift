import Hummingbird
import ZGBroker

/// `GET /v1/endpoints`: every backend endpoint with its type, health and models.
struct EndpointRoutes<Context: RequestContext>: Sendable {
    let broker: ZGBroker
    let endpoints: [any Endpoint]
    let health: HealthTracker<String>

    func add(to router: RouterGroup<Context>) {
        router.get("endpoints") { _, _ in
            var list: [[String: Any]] = []
            let zeroGModels = (try? await broker.catalog.models().keys.sorted()) ?? []
            list.append(["name": "0g", "type": "zerog", "healthy": !zeroGModels.isEmpty, "models": zeroGModels])
            for endpoint in endpoints {
                let snapshot = health.snapshot(endpoint.name)
                var entry: [String: Any] = [
                    "name": endpoint.name, "type": endpoint.configuration.kind.rawValue, "base_url": endpoint.configuration.baseURL,
                    "healthy": !health.isBenched(endpoint.name), "priority": endpoint.configuration.priority,
                    "weight": endpoint.configuration.weight, "models": endpoint.models,
                    "successes": snapshot.successes, "failures": snapshot.failures,
                ]
                if let latency = snapshot.latencyMillis { entry["latency_ms"] = latency }
                list.append(entry)
            }
            return jsonResponse(["object": "list", "data": list])
        }
    }
}
