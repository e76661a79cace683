import EVM
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ZGBroker

/// `GET /v1/models` and `GET /v1/models/{id}`: every routable model, from the chain's catalog,
/// plus configured aliases. 0G details (providers, prices in neuron) sit under `zg`. A key
/// limited to some models sees only those.
struct ModelRoutes: Sendable {
    typealias Context = GatewayRequestContext
    let broker: ZGBroker
    let configuration: ProxyConfiguration
    let endpoints: [any Endpoint]
    /// `created` of endpoint models that do not say (they are listed as of the gateway's start).
    private static var started: Int { startedAt }

    func add(to router: RouterGroup<Context>) {
        router.get("models") { _, context in
            let models = try await listing(logger: context.logger, for: context.caller?.principal.key)
            return jsonResponse(["object": "list", "data": models])
        }
        router.get("models/**") { _, context in
            let id = context.parameters.getCatchAll().joined(separator: "/")
            guard let model = try await listing(logger: context.logger, for: context.caller?.principal.key).first(where: { $0["id"] as? String == id }) else {
                throw OpenAIError.modelNotFound(id)
            }
            return jsonResponse(model)
        }
    }

    /// The models `key` may use (all without a key).
    func listing(logger: Logger, for key: APIKey?) async throws(OpenAIError) -> [[String: Any]] {
        let all = try await listing(logger: logger)
        guard let key, key.models != nil else { return all }
        return all.filter { ($0["id"] as? String).map(key.allows(model:)) ?? false }
    }

    func listing(logger: Logger) async throws(OpenAIError) -> [[String: Any]] {
        for endpoint in endpoints { await endpoint.ready(logger: logger) }
        let byModel: [String: [Service]]
        do {
            byModel = try await broker.catalog.models()
        } catch {
            throw OpenAIError.from(error)
        }
        var entries = byModel.keys.sorted().map { model in entry(id: model, services: byModel[model]!) }
        var listed = Set(entries.compactMap { $0["id"] as? String })
        for endpoint in endpoints {
            for model in endpoint.models where listed.insert(model).inserted {
                entries.append(["id": model, "object": "model", "created": Self.started, "owned_by": endpoint.name])
            }
        }
        for (alias, target) in configuration.aliases.sorted(by: { $0.key < $1.key }) where byModel[alias] == nil {
            if let services = byModel[target] {
                var aliased = entry(id: alias, services: services)
                aliased["zg"] = (aliased["zg"] as? [String: Any] ?? [:]).merging(["alias_of": target]) { $1 }
                entries.append(aliased)
            }
        }
        return entries
    }

    private func entry(id: String, services: [Service]) -> [String: Any] {
        let created = services.compactMap { $0.updatedAt.intValue }.min() ?? 0
        return [
            "id": id,
            "object": "model",
            "created": created,
            "owned_by": services.first?.provider.checksummed ?? "0g",
            "zg": [
                "providers": services.map { service in
                    [
                        "address": service.provider.checksummed,
                        "input_price_neuron_per_token": service.inputPrice.description,
                        "output_price_neuron_per_token": service.outputPrice.description,
                        "verifiability": service.verifiability,
                    ]
                },
            ],
        ]
    }
}

private let startedAt = Int(Date().timeIntervalSince1970)

/// A JSON response from a JSON-compatible object.
func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: Array(data))))
}
