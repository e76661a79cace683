import AsyncHTTPClient
import Hummingbird
import Logging
import Prometheus
import ZGBroker

/// Builds the gateway: the router with its middleware and routes, over a connected broker.
///
/// `zgproxy serve` and the tests call this same function; the caller runs the result (with
/// ``ZGBroker/backgroundServices``) in a `ServiceGroup`.
public func buildApplication(
    configuration: ProxyConfiguration, broker: ZGBroker, registry: PrometheusCollectorRegistry, logger: Logger,
    httpClient: HTTPClient = .shared
) -> some ApplicationProtocol {
    let metrics = GatewayMetrics(factory: PrometheusMetricsFactory(registry: registry))
    let router = Router(context: BasicRequestContext.self)
    router.middlewares.add(RequestIDMiddleware())
    if let origins = configuration.corsOrigins { router.middlewares.add(AllowedOriginsMiddleware(origins: Set(origins))) }
    router.middlewares.add(
        CORSMiddleware(
            allowOrigin: configuration.corsOrigins == nil ? .all : .originBased,
            allowHeaders: [.accept, .authorization, .contentType, .origin, .init("x-api-key")!, .init("x-request-id")!],
            allowMethods: [.get, .post, .options],
            exposedHeaders: ["x-request-id", "x-zgproxy-provider", "x-zgproxy-overhead-ms", "ZG-Res-Key"],
            maxAge: .seconds(600)
        )
    )
    if configuration.debug { router.middlewares.add(LogRequestsMiddleware(.debug)) }
    HealthRoutes(broker: broker, configuration: configuration, registry: registry).add(to: router)
    let api = router.group("v1")
    if let token = configuration.authToken { api.add(middleware: BearerAuthMiddleware(token: token)) }
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
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "zgproxy"),
        services: endpoints.isEmpty ? [] : [EndpointDiscovery(endpoints: endpoints, logger: logger)],
        logger: logger
    )
}
