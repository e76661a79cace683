import Foundation

/// Settings from the process environment and an optional `.env` file.
///
/// Every zgproxy command and `serve` read their settings through this, so one variable name
/// means the same thing everywhere. The process environment wins over `.env`, as with
/// docker-compose and most dotenv loaders.
public struct Environment: Sendable {
    public private(set) var values: [String: String]

    public init(_ values: [String: String]) { self.values = values }

    /// The process environment over the `.env` file at `dotEnvPath` (ignored when missing).
    public static func load(dotEnvPath: String = ".env") throws(ConfigurationError) -> Environment {
        var values = [String: String]()
        if FileManager.default.fileExists(atPath: dotEnvPath) {
            guard let text = try? String(contentsOfFile: dotEnvPath, encoding: .utf8) else {
                throw ConfigurationError(setting: dotEnvPath, reason: "cannot be read as UTF-8 text")
            }
            values = try parseDotEnv(text, path: dotEnvPath)
        }
        values.merge(ProcessInfo.processInfo.environment) { _, process in process }
        return Environment(values)
    }

    /// A setting, with surrounding whitespace removed; nil when unset or empty.
    public subscript(key: String) -> String? {
        guard let value = values[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    public mutating func set(_ key: String, _ value: String?) { values[key] = value }

    /// Parses `KEY=value` lines: `#` comments, an optional `export `, single or double quotes
    /// (double quotes understand `\n`, `\"` and `\\`).
    static func parseDotEnv(_ text: String, path: String) throws(ConfigurationError) -> [String: String] {
        var values = [String: String]()
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(setting: "\(path):\(number + 1)", reason: "expected KEY=value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.count >= 2, value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
                    .replacingOccurrences(of: "\\n", with: "\n")
                    .replacingOccurrences(of: "\\\"", with: "\"")
                    .replacingOccurrences(of: "\\\\", with: "\\")
            } else if value.hasPrefix("'"), value.count >= 2, value.hasSuffix("'") {
                value = String(value.dropFirst().dropLast())
            } else if let comment = value.range(of: " #") {
                value = value[..<comment.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            values[key] = value
        }
        return values
    }
}

/// A missing or invalid setting. Start-up stops with exactly this one line.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let setting: String
    public let reason: String

    public init(setting: String, reason: String) {
        self.setting = setting
        self.reason = reason
    }

    public var description: String { "\(setting): \(reason)" }
}
