import HTTPTypes
import Hummingbird

/// Limits CORS to configured origins. It wraps Hummingbird's origin-based `CORSMiddleware`
/// and removes the `Access-Control-*` headers from answers to any other origin, so browsers
/// refuse them (Hummingbird's own list form only takes a literal list).
struct AllowedOriginsMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if let origin = request.headers[.origin], !origins.contains(origin) {
            for field in response.headers where field.name.canonicalName.hasPrefix("access-control-") {
                response.headers[field.name] = nil
            }
        }
        return response
    }
}
