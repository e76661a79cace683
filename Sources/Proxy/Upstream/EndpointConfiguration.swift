import Foundation
import ZGBroker

/// One upstream endpoint besides 0G (an OpenAI-compatible provider: OpenAI, Groq, vLLM, …).
///
/// ## Where endpoints come from
/// - `ZGPROXY_CONFIG`: a JSON file `{"endpoints": [{"name", "type": "openai", "baseURL",
///   "apiKey" | "apiKeyEnv", "models": [...] (omit to discover from /models), "aliases": {alias: model},
///   "weight": 1, "priority": 50, "streamOptions": true}]}` (see `Fixtures/backends/endpoints.example.json`).
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
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(setting: "ZGPROXY_CONFIG", reason: "cannot read \(path)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let list = object["endpoints"] as? [[String: Any]] else {
            throw ConfigurationError(setting: "ZGPROXY_CONFIG", reason: "\(path) must be a JSON object with an \"endpoints\" array")
        }
        var endpoints = [EndpointConfiguration]()
        for (index, entry) in list.enumerated() {
            let setting = "ZGPROXY_CONFIG endpoints[\(index)]"
            let typeName = entry["type"] as? String ?? "openai"
            guard let kind = Kind(rawValue: typeName) else {
                throw ConfigurationError(setting: setting, reason: "type \"\(typeName)\" is not supported by this build (supported: openai, ocf)")
            }
            guard let url = entry["baseURL"] as? String ?? entry["url"] as? String else {
                throw ConfigurationError(setting: setting, reason: "needs a baseURL")
            }
            var key = entry["apiKey"] as? String
            if let variable = entry["apiKeyEnv"] as? String {
                guard let value = environment[variable] else { throw ConfigurationError(setting: setting, reason: "\(variable) is not set") }
                key = value
            }
            endpoints.append(EndpointConfiguration(
                name: entry["name"] as? String ?? host(of: url), kind: kind, baseURL: try checkedURL(url, setting: setting), apiKey: key,
                models: entry["models"] as? [String], aliases: entry["aliases"] as? [String: String] ?? [:],
                weight: (entry["weight"] as? NSNumber)?.intValue ?? 1, priority: (entry["priority"] as? NSNumber)?.intValue ?? 50,
                streamOptions: entry["streamOptions"] as? Bool ?? true
            ))
        }
        return endpoints
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
