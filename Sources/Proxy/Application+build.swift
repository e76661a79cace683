import AsyncHTTPClient
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import ZGBroker

/// Builds the gateway: the router with its middleware and routes, over a connected broker and
/// an opened account store.
///
/// `zgproxy serve` and the tests call this same function; the caller runs the result in a
/// `ServiceGroup` after ``ZGBroker/backgroundServices`` and ``Accounts/recorder`` (so those
/// stop after the server has drained), and closes `accounts` when the group has finished.
public func buildApplication(
    configuration: ProxyConfiguration, broker: ZGBroker, accounts: Accounts, registry: PrometheusCollectorRegistry, logger: Logger,
    httpClient: HTTPClient = .shared, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let metrics = GatewayMetrics(factory: PrometheusMetricsFactory(registry: registry))
    let router = Router(context: GatewayRequestContext.self)
    router.middlewares.add(RequestIDMiddleware())
    if let origins = configuration.corsOrigins { router.middlewares.add(AllowedOriginsMiddleware(origins: Set(origins))) }
    router.middlewares.add(
        CORSMiddleware(
            allowOrigin: configuration.corsOrigins == nil ? .all : .originBased,
            allowHeaders: [.accept, .authorization, .contentType, .origin, .init("x-api-key")!, .init("x-request-id")!],
            allowMethods: [.get, .post, .patch, .delete, .options],
            exposedHeaders: ["x-request-id", "x-zgproxy-provider", "x-zgproxy-overhead-ms", "ZG-Res-Key"],
            maxAge: .seconds(600)
        )
    )
    if configuration.debug { router.middlewares.add(LogRequestsMiddleware(.debug)) }
    HealthRoutes(broker: broker, configuration: configuration, registry: registry).add(to: router)
    let api = router.group("v1").add(middleware: InferenceAuthMiddleware(accounts: accounts))
    AdminRoutes(accounts: accounts).add(to: router.group("admin").add(middleware: AdminAuthMiddleware(accounts: accounts)))
    LoginRoutes(accounts: accounts).add(to: router.group("api/auth").add(middleware: IPRateLimitMiddleware(accounts: accounts)))
    UserRoutes(accounts: accounts).add(to: router.group("api").add(middleware: SessionAuthMiddleware(accounts: accounts)))
    let zeroG = ZeroGBackend(broker: broker, metrics: metrics, configuration: configuration)
    let endpointHealth = HealthTracker<String>()
    let endpoints: [any Endpoint] = configuration.endpoints.map { endpoint -> any Endpoint in
        switch endpoint.kind {
        case .openai, .ocf:
            return OpenAIEndpoint(configuration: endpoint, httpClient: httpClient, timeouts: configuration, health: endpointHealth, metrics: metrics)
        case .replicate:
            return ReplicateEndpoint(configuration: endpoint, httpClient: httpClient, timeouts: configuration, health: endpointHealth, metrics: metrics)
        }
    }
    let backend = BackendRouter(zeroG: zeroG, endpoints: endpoints, zeroGPriority: configuration.zeroGPriority, health: endpointHealth)
    InferenceRoutes(backend: backend, metrics: metrics, configuration: configuration).add(to: api)
    ModelRoutes(broker: broker, configuration: configuration, endpoints: endpoints).add(to: api)
    EndpointRoutes(broker: broker, endpoints: endpoints, health: endpointHealth).add(to: api)
    var services: [any ServiceLifecycle.Service] = endpoints.isEmpty ? [] : [EndpointDiscovery(endpoints: endpoints, logger: logger)]
    // Debug mode logs every request, which only the router does.
    let direct = configuration.directRelay && !configuration.debug
        ? DirectRelay(backend: backend, accounts: accounts, metrics: metrics, configuration: configuration, logger: logger) : nil
    if let direct { services.append(direct) }
    return Application(
        router: router,
        server: .http1(relay: direct),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "zgproxy"),
        services: services,
        onServerRunning: onServerRunning,
        logger: logger
    )
}
