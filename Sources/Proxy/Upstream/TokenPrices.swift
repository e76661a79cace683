import Foundation
import EVM
import ZGBroker

/// What an endpoint's tokens cost, in neuron per million tokens, so its requests count
/// against the same budgets as 0G's (whose fees come from the provider's on-chain prices).
///
/// Configured per endpoint in `ZGPROXY_CONFIG` as `"prices": {"<model or *>": {"input": "0.05",
/// "output": "0.2", "cached": "0.01"}}`, amounts in 0G per million tokens.
public struct TokenPrices: Sendable, Hashable {
    public var input: UInt256
    public var output: UInt256
    /// Cached prompt tokens; nil bills them as input.
    public var cached: UInt256?

    public init(input: UInt256, output: UInt256, cached: UInt256? = nil) {
        self.input = input
        self.output = output
        self.cached = cached
    }

    /// Rounded up to the neuron, like 0G's fees.
    public func cost(of usage: Usage) -> UInt256 {
        let cachedTokens = min(usage.cachedTokens, usage.promptTokens)
        let perMillion = UInt256(UInt64(usage.promptTokens - cachedTokens)) * input
            + UInt256(UInt64(cachedTokens)) * (cached ?? input)
            + UInt256(UInt64(usage.completionTokens)) * output
        let million = UInt256(1_000_000)
        let (quotient, remainder) = perMillion.quotientAndRemainder(dividingBy: million)
        return remainder == .zero ? quotient : quotient + UInt256(1)
    }

    /// Reads `{"input": "0.05", "output": "0.2", "cached": "0.01"}` (0G per million tokens).
    static func parse(_ value: Any?, setting: String) throws(ConfigurationError) -> TokenPrices {
        guard let object = value as? [String: Any] else { throw ConfigurationError(setting: setting, reason: "prices must be {\"input\": \"0.05\", \"output\": \"0.2\"}") }
        func amount(_ name: String) throws(ConfigurationError) -> UInt256? {
            guard let raw = object[name] else { return nil }
            let text = raw as? String ?? (raw as? NSNumber)?.stringValue ?? ""
            do {
                return try UInt256(decimalUnits: text, decimals: 18)
            } catch {
                throw ConfigurationError(setting: setting, reason: "price \(name): \(error)")
            }
        }
        guard let input = try amount("input"), let output = try amount("output") else {
            throw ConfigurationError(setting: setting, reason: "prices need \"input\" and \"output\" (0G per million tokens)")
        }
        return TokenPrices(input: input, output: output, cached: try amount("cached"))
    }
}
