import Synchronization
import EVM
import Foundation

/// How a 0G service bills, from its on-chain prices and `additionalInfo`, computed exactly in
/// integers (neuron).
///
/// `fee = (prompt − cached)·inputPrice·m_in + cached·inputPrice·m_in/divisor + completion·outputPrice·m_out`
/// where the multipliers `m` come from the pricing tier the prompt size falls in
/// (`tieredPricing.tiers[{maxInputTokens, inputMultiplier, outputMultiplier}]`, 0 = no limit)
/// and `divisor` from `cacheTokenBilling.divisor`. Multipliers may be decimals ("1.5"); they are
/// kept as exact fractions and the single division happens last, rounding down as the provider does.
public struct FeeSchedule: Sendable, Hashable {
    public struct Tier: Sendable, Hashable {
        /// Largest prompt this tier covers; nil for no limit.
        public let maxInputTokens: Int?
        public let inputMultiplier: Fraction
        public let outputMultiplier: Fraction
    }

    /// A non-negative exact fraction.
    public struct Fraction: Sendable, Hashable {
        public let numerator: UInt256
        public let denominator: UInt256
        public static let one = Fraction(numerator: 1, denominator: 1)

        /// Reads `2`, `1.5` or a JSON number without going through floating point for text.
        init?(_ value: Any?) {
            let text: String
            if let string = value as? String {
                text = string
            } else if let number = value as? NSNumber {
                text = number.stringValue
            } else {
                return nil
            }
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= 2, let whole = UInt256(decimal: parts[0]) else { return nil }
            let fraction = parts.count == 2 ? String(parts[1]) : ""
            guard fraction.count <= 18, fraction.isEmpty || UInt256(decimal: fraction) != nil else { return nil }
            let scale = UInt256.power(ofTen: fraction.count)
            numerator = whole * scale + (fraction.isEmpty ? .zero : UInt256(decimal: fraction)!)
            denominator = scale
        }

        init(numerator: UInt256, denominator: UInt256) {
            self.numerator = numerator
            self.denominator = denominator
        }
    }

    public let inputPrice: UInt256
    public let outputPrice: UInt256
    /// Sorted by `maxInputTokens`, unlimited last; empty means a flat price.
    public let tiers: [Tier]
    /// Cached prompt tokens cost `inputPrice / cacheDivisor`; nil when cached tokens are billed fully.
    public let cacheDivisor: UInt256?

    public init(inputPrice: UInt256, outputPrice: UInt256, tiers: [Tier] = [], cacheDivisor: UInt256? = nil) {
        self.inputPrice = inputPrice
        self.outputPrice = outputPrice
        self.tiers = tiers
        self.cacheDivisor = cacheDivisor
    }

    /// The schedule of a service: its prices and what its `additionalInfo` adds.
    public init(service: Service) {
        let info = (try? JSONSerialization.jsonObject(with: Data(service.additionalInfo.utf8))) as? [String: Any] ?? [:]
        var tiers = [Tier]()
        if let pricing = info["tieredPricing"] as? [String: Any], let list = pricing["tiers"] as? [[String: Any]] {
            for entry in list {
                let limit = (entry["maxInputTokens"] as? NSNumber)?.intValue ?? 0
                tiers.append(Tier(
                    maxInputTokens: limit > 0 ? limit : nil,
                    inputMultiplier: Fraction(entry["inputMultiplier"]) ?? .one,
                    outputMultiplier: Fraction(entry["outputMultiplier"]) ?? .one
                ))
            }
            tiers.sort { ($0.maxInputTokens ?? .max) < ($1.maxInputTokens ?? .max) }
        }
        var divisor: UInt256? = nil
        if let cache = info["cacheTokenBilling"] as? [String: Any], let value = (cache["divisor"] as? NSNumber)?.intValue, value > 0 {
            divisor = UInt256(value)
        }
        self.init(inputPrice: service.inputPrice, outputPrice: service.outputPrice, tiers: tiers, cacheDivisor: divisor)
    }

    /// The tier a prompt of `promptTokens` falls in (the first whose limit covers it).
    public func tier(forPromptTokens promptTokens: Int) -> Tier? {
        tiers.first { ($0.maxInputTokens ?? .max) >= promptTokens } ?? tiers.last
    }

    /// The fee of one response, in neuron.
    public func fee(for usage: Usage) -> UInt256 {
        // Plain prices (no tiers, no cache billing), the usual case: the formula below with
        // every multiplier and divisor 1.
        if tiers.isEmpty && cacheDivisor == nil {
            return inputPrice * UInt256(usage.promptTokens) + outputPrice * UInt256(usage.completionTokens)
        }
        let tier = tier(forPromptTokens: usage.promptTokens)
        let inMultiplier = tier?.inputMultiplier ?? .one
        let outMultiplier = tier?.outputMultiplier ?? .one
        let cached = cacheDivisor == nil ? 0 : usage.cachedTokens
        let uncached = UInt256(usage.promptTokens - cached)
        // input = price·m_in·(uncached + cached/divisor), over the common denominator.
        let divisor = cacheDivisor ?? .one
        let inputNumerator = inputPrice * inMultiplier.numerator * (uncached * divisor + UInt256(cached))
        let input = inputNumerator / (inMultiplier.denominator * divisor)
        let output = outputPrice * outMultiplier.numerator * UInt256(usage.completionTokens) / outMultiplier.denominator
        return input + output
    }
}

/// Fee schedules by service, built once: a schedule parses the service's `additionalInfo`
/// JSON, and the gateway meters every answer. Keyed by provider (hashing a whole `Service`,
/// strings and all, would cost more than the fee); the entry is used while the service is equal
/// to the one it was built from, so a provider that changes its prices gets a new schedule.
final class FeeScheduleCache: Sendable {
    private let schedules = Mutex<[Address: (service: Service, schedule: FeeSchedule)]>([:])

    func schedule(for service: Service) -> FeeSchedule {
        if let known = schedules.withLock({ $0[service.provider] }), known.service == service { return known.schedule }
        let schedule = FeeSchedule(service: service)
        schedules.withLock { cache in
            // Services change rarely; a catalog full of stale entries is simply started over.
            if cache.count >= 1024 { cache.removeAll(keepingCapacity: true) }
            cache[service.provider] = (service, schedule)
        }
        return schedule
    }
}
