import Foundation
import ZGBroker

/// One upstream endpoint besides 0G (an OpenAI-compatible provider: OpenAI, Groq, vLLM, …).
///
/// ## Where endpoints come from
/// - `ZGPROXY_CONFIG`: a JSON file (whole-line `//` or `#` comments allowed) `{"endpoints": [{"name", "type": "openai", "baseURL",
///   "apiKey" | "apiKeyEnv", "models": [...] (omit to discover from /models), "aliases": {alias: model},
///   "weight": 1, "priority": 50, "streamOptions": true, "prices": {"*": {"input": "0.05", "output": "0.2"}}}]}`
///   (see `Fixtures/backends/endpoints.example.json`; prices are 0G per million tokens, see ``TokenPrices``).
/// - `ENDPOINTS`: a JSON object of base URL → API key, or a comma-separated list of base URLs.
/// - `TARGET_OPENAI_URL` with `API_KEY`: a single endpoint.
/// - `OCF_HEAD_ADDR` (or `OTELA_HEAD_ADDR`): an OCF head node.
/// Lower `priority` is tried first; among equals, `weight` spreads the load.
public struct EndpointConfiguration: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// OpenAI, Groq, SambaNova, vLLM…: `baseURL` ends in `/v1`.
        case openai
        /// An OCF (OpenTela) head node: `baseURL` is the head (e.g. `http://head:8092`); models
        /// come from its `/v1/dnt/table`, requests go to `/v1/service/llm/v1/…`.
        case ocf
        /// Replicate's predictions API: chat and completions are translated; `models` maps the
        /// names clients use to `owner/name` models (``EndpointConfiguration/replicateModels``).
        case replicate
    }

    public var name: String
    public var kind: Kind
    /// Up to and including `/v1`, e.g. `https://api.groq.com/openai/v1`.
    public var baseURL: String
    public var apiKey: String?
    /// nil: discovered from `GET {baseURL}/models`.
    public var models: [String]?
    /// Names clients may use → the upstream's model id.
    public var aliases: [String: String]
    public var weight: Int
    public var priority: Int
    /// Whether the upstream accepts `stream_options` (strict servers reject it).
    public var streamOptions: Bool
    /// Replicate only: the name clients use → the Replicate model and its limits.
    public var replicateModels: [String: ReplicateModel] = [:]
    /// Replicate only: the entry of `replicateModels` that answers models no backend serves.
    public var defaultModel: String? = nil
    /// Token prices by model (the client's name or the upstream's), `*` for the rest; requests
    /// to unpriced models cost nothing in the usage log and budgets.
    public var prices: [String: TokenPrices] = [:]

    /// The prices that apply to a request for `model` (sent upstream as `upstreamModel`).
    public func prices(for model: String, upstreamModel: String) -> TokenPrices? {
        prices[model] ?? prices[upstreamModel] ?? prices["*"]
    }

    /// How one Replicate model is called.
    public struct ReplicateModel: Sendable, Hashable {
        /// `owner/name` of an official model.
        public var model: String
        /// Input name for the completion limit (`max_tokens` or `max_new_tokens`).
        public var maxTokensField: String = "max_tokens"
        /// The most `max_tokens` the model takes; larger requests are clamped.
        public var maxTokensLimit: Int? = nil
        /// `prompt_template` input, with `{system_prompt}` and `{prompt}`; nil for the model's own.
        public var promptTemplate: String? = nil
        /// Whether the model streams (`urls.stream`).
        public var streams: Bool = true
        /// Temperatures the model accepts; requests outside are clamped into it.
        public var temperatureRange: ClosedRange<Double>? = nil

        public init(
            model: String, maxTokensField: String = "max_tokens", maxTokensLimit: Int? = nil, promptTemplate: String? = nil, streams: Bool = true,
            temperatureRange: ClosedRange<Double>? = nil
        ) {
            self.temperatureRange = temperatureRange
            self.model = model
            self.maxTokensField = maxTokensField
            self.maxTokensLimit = maxTokensLimit
            self.promptTemplate = promptTemplate
            self.streams = streams
        }
    }

    public init(
        name: String, kind: Kind = .openai, baseURL: String, apiKey: String? = nil, models: [String]? = nil,
        aliases: [String: String] = [:], weight: Int = 1, priority: Int = 50, streamOptions: Bool = true
    ) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.models = models
        self.aliases = aliases
        self.weight = max(1, weight)
        self.priority = priority
        self.streamOptions = streamOptions
    }

    /// Every endpoint the environment configures, in the forms above.
    public static func all(from environment: Environment) throws(ConfigurationError) -> [EndpointConfiguration] {
        var endpoints = [EndpointConfiguration]()
        if let path = environment["ZGPROXY_CONFIG"] { endpoints += try file(path, environment: environment) }
        if let text = environment["ENDPOINTS"] { endpoints += try simple(text) }
        if let url = environment["TARGET_OPENAI_URL"] {
            endpoints.append(EndpointConfiguration(name: host(of: url), baseURL: try checkedURL(url, setting: "TARGET_OPENAI_URL"), apiKey: environment["API_KEY"]))
        }
        if let token = environment["REPLICATE_API_TOKEN"], let text = environment["REPLICATE_MODELS"] {
            let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
            var endpoint = EndpointConfiguration(name: "replicate", kind: .replicate, baseURL: environment["REPLICATE_BASE_URL"] ?? "https://api.replicate.com/v1", apiKey: token)
            endpoint.replicateModels = try replicateModels(object, setting: "REPLICATE_MODELS")
            endpoint.models = endpoint.replicateModels.keys.sorted()
            endpoints.append(endpoint)
        }
        if let head = environment["OCF_HEAD_ADDR"] ?? environment["OTELA_HEAD_ADDR"] {
            let url = head.hasPrefix("http") ? head : "http://" + head
            endpoints.append(EndpointConfiguration(name: "ocf:" + host(of: url), kind: .ocf, baseURL: try checkedURL(url, setting: "OCF_HEAD_ADDR")))
        }
        var seen = Set<String>()
        for endpoint in endpoints where !seen.insert(endpoint.name).inserted {
            throw ConfigurationError(setting: "endpoints", reason: "two endpoints are named \"\(endpoint.name)\"; give them distinct names")
        }
        return endpoints
    }

    static func simple(_ text: String) throws(ConfigurationError) -> [EndpointConfiguration] {
        if text.hasPrefix("{") {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String] else {
                throw ConfigurationError(setting: "ENDPOINTS", reason: "must be a JSON object of base URL to API key, or a comma-separated list of URLs")
            }
            var endpoints = [EndpointConfiguration]()
            for (url, key) in object.sorted(by: { $0.key < $1.key }) {
                endpoints.append(EndpointConfiguration(name: host(of: url), baseURL: try checkedURL(url, setting: "ENDPOINTS"), apiKey: key.isEmpty ? nil : key))
            }
            return endpoints
        }
        var endpoints = [EndpointConfiguration]()
        for url in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !url.isEmpty {
            endpoints.append(EndpointConfiguration(name: host(of: url), baseURL: try checkedURL(url, setting: "ENDPOINTS")))
        }
        return endpoints
    }

    static func file(_ path: String, environment: Environment) throws(ConfigurationError) -> [EndpointConfiguration] {
        guard let raw = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(setting: "ZGPROXY_CONFIG", reason: "cannot read \(path)")
        }
        // Whole-line `//` and `#` comments are allowed, so the file can document itself.
        let data = Data(String(decoding: raw, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { line in
                let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
                return !(trimmed.hasPrefix("//") || trimmed.hasPrefix("#"))
            }
            .joined(separator: "\n").utf8)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let list = object["endpoints"] as? [[String: Any]] else {
            throw ConfigurationError(setting: "ZGPROXY_CONFIG", reason: "\(path) must be a JSON object with an \"endpoints\" array")
        }
        var endpoints = [EndpointConfiguration]()
        for (index, entry) in list.enumerated() {
            let setting = "ZGPROXY_CONFIG endpoints[\(index)]"
            let typeName = entry["type"] as? String ?? "openai"
            guard let kind = Kind(rawValue: typeName) else {
                throw ConfigurationError(setting: setting, reason: "type \"\(typeName)\" is not supported (supported: openai, ocf, replicate)")
            }
            guard let url = entry["baseURL"] as? String ?? entry["url"] as? String ?? (kind == .replicate ? "https://api.replicate.com/v1" : nil) else {
                throw ConfigurationError(setting: setting, reason: "needs a baseURL")
            }
            var key = entry["apiKey"] as? String
            if let variable = entry["apiKeyEnv"] as? String {
                guard let value = environment[variable] else { throw ConfigurationError(setting: setting, reason: "\(variable) is not set") }
                key = value
            }
            var endpoint = EndpointConfiguration(
                name: entry["name"] as? String ?? host(of: url), kind: kind, baseURL: try checkedURL(url, setting: setting), apiKey: key,
                models: entry["models"] as? [String], aliases: entry["aliases"] as? [String: String] ?? [:],
                weight: (entry["weight"] as? NSNumber)?.intValue ?? 1, priority: (entry["priority"] as? NSNumber)?.intValue ?? 50,
                streamOptions: entry["streamOptions"] as? Bool ?? true
            )
            if let prices = entry["prices"] as? [String: Any] {
                for (model, spec) in prices { endpoint.prices[model] = try TokenPrices.parse(spec, setting: setting + " prices." + model) }
            } else if entry["prices"] != nil {
                throw ConfigurationError(setting: setting, reason: "prices must map model names (or *) to {\"input\", \"output\"}")
            }
            if kind == .replicate {
                endpoint.replicateModels = try replicateModels(entry["models"], setting: setting)
                endpoint.models = endpoint.replicateModels.keys.sorted()
                if let fallback = entry["defaultModel"] as? String {
                    guard endpoint.replicateModels[fallback] != nil else {
                        throw ConfigurationError(setting: setting, reason: "defaultModel \"\(fallback)\" is not one of its models")
                    }
                    endpoint.defaultModel = fallback
                }
            }
            endpoints.append(endpoint)
        }
        return endpoints
    }

    /// `{"name": "owner/model"}` or `{"name": {"model": "owner/model", "maxTokensField", "maxTokensLimit",
    /// "promptTemplate", "stream"}}`.
    static func replicateModels(_ value: Any?, setting: String) throws(ConfigurationError) -> [String: ReplicateModel] {
        guard let object = value as? [String: Any], !object.isEmpty else {
            throw ConfigurationError(setting: setting, reason: "a replicate endpoint needs \"models\": {name: \"owner/model\"}")
        }
        var models = [String: ReplicateModel]()
        for (name, spec) in object {
            if let model = spec as? String {
                models[name] = ReplicateModel(model: model)
            } else if let spec = spec as? [String: Any], let model = spec["model"] as? String {
                var entry = ReplicateModel(
                    model: model, maxTokensField: spec["maxTokensField"] as? String ?? "max_tokens",
                    maxTokensLimit: (spec["maxTokensLimit"] as? NSNumber)?.intValue, promptTemplate: spec["promptTemplate"] as? String,
                    streams: spec["stream"] as? Bool ?? true
                )
                if let range = spec["temperatureRange"] as? [NSNumber], range.count == 2, range[0].doubleValue <= range[1].doubleValue {
                    entry.temperatureRange = range[0].doubleValue...range[1].doubleValue
                }
                models[name] = entry
            } else {
                throw ConfigurationError(setting: setting, reason: "model \"\(name)\" needs an owner/model")
            }
            guard models[name]!.model.split(separator: "/").count == 2 else {
                throw ConfigurationError(setting: setting, reason: "\"\(models[name]!.model)\" is not owner/model")
            }
        }
        return models
    }

    static func checkedURL(_ url: String, setting: String) throws(ConfigurationError) -> String {
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme ?? ""), components.host != nil else {
            throw ConfigurationError(setting: setting, reason: "\"\(url.prefix(80))\" is not an http(s) URL")
        }
        return url
    }

    static func host(of url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host else { return url }
        return host + (components.port.map { ":\($0)" } ?? "")
    }
}
