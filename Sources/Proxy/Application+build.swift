import Hummingbird
import Logging
import Prometheus
import ZGBroker

/// Builds the gateway: the router with its middleware and routes, over a connected broker.
///
/// `zgproxy serve` and the tests call this same function; the caller runs the result (with
/// ``ZGBroker/backgroundServices``) in a `ServiceGroup`.
public func buildApplication(
    configuration: ProxyConfiguration, broker: ZGBroker, registry: PrometheusCollectorRegistry, logger: Logger
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
    let backend = ZeroGBackend(broker: broker, metrics: metrics, configuration: configuration)
    InferenceRoutes(backend: backend, metrics: metrics, configuration: configuration).add(to: api)
    ModelRoutes(broker: broker, configuration: configuration).add(to: api)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "zgproxy"),
        logger: logger
    )
}
