/// Exact decimal amounts of an 18-decimal token ("1.5" ⇄ 1500000000000000000), with no floating point.

/// Why a decimal amount was refused.
public struct DecimalAmountError: Error, Equatable, CustomStringConvertible {
    public let input: String
    public let reason: String
    public var description: String { "invalid amount \"\(input)\": \(reason)" }
}

extension UInt256 {
    /// Parses a non-negative decimal such as `"1.5"`, `"3"` or `"0.000000000000000001"` into
    /// base units with `decimals` fractional digits. The grammar is `DIGITS ['.' DIGITS]`: a digit
    /// is required on both sides of the point (`".5"` and `"1."` are refused, as a typo is likelier
    /// than intent when money moves), and signs, spaces, exponents, separators, more fractional
    /// digits than `decimals`, and values above 2^256 − 1 are refused.
    public init(decimalUnits text: String, decimals: Int) throws(DecimalAmountError) {
        func fail(_ reason: String) -> DecimalAmountError { DecimalAmountError(input: text, reason: reason) }
        guard !text.isEmpty else { throw fail("empty") }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw fail("more than one decimal point") }
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard !whole.isEmpty else { throw fail("a digit is required before the decimal point") }
        guard parts.count == 1 || !fraction.isEmpty else { throw fail("a digit is required after the decimal point") }
        guard whole.utf8.allSatisfy(isDigit), fraction.utf8.allSatisfy(isDigit) else {
            throw fail("only digits and one decimal point are allowed")
        }
        guard fraction.count <= decimals else { throw fail("more than \(decimals) decimal places") }
        let digits = String(whole) + fraction + String(repeating: "0", count: decimals - fraction.count)
        let significant = digits.drop(while: { $0 == "0" })
        guard let value = UInt256(decimal: significant.isEmpty ? "0" : significant) else {
            throw fail("too large")
        }
        self = value
    }

    /// Prints base units as a decimal with `decimals` fractional digits, trailing zeros removed:
    /// 1500000000000000000 with 18 decimals is `"1.5"`, zero is `"0"`.
    public func decimalUnits(decimals: Int) -> String {
        let digits = description
        if decimals == 0 { return digits }
        let padded = String(repeating: "0", count: Swift.max(0, decimals + 1 - digits.count)) + digits
        let whole = padded.dropLast(decimals)
        var fraction = padded.suffix(decimals)
        while fraction.last == "0" { fraction = fraction.dropLast() }
        return fraction.isEmpty ? String(whole) : "\(whole).\(fraction)"
    }
}

private func isDigit(_ char: UInt8) -> Bool { char >= UInt8(ascii: "0") && char <= UInt8(ascii: "9") }

extension String {
    func trimmingWhitespace() -> Substring {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return slice
    }
}
