import Logging
import ServiceLifecycle

/// Discovers the models of endpoints configured without a model list, at start and then
/// every minute, so `/v1/models` and routing follow what the upstreams serve.
struct EndpointDiscovery: Service {
    let endpoints: [any Endpoint]
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await withTaskGroup(of: Void.self) { group in
                for endpoint in endpoints { group.addTask { await endpoint.discover(logger: logger) } }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
