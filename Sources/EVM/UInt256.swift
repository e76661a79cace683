/// An unsigned 256-bit integer: the EVM's word.
///
/// Fixed width on purpose: a value that does not fit in 256 bits is an error at the edge
/// (parsing, ABI decoding), never a silently larger number. Arithmetic operators trap on
/// overflow like Swift's own integers; the `…ReportingOverflow` forms let callers check.
/// Stored as four 64-bit limbs, least significant first, so it never allocates.
public struct UInt256: Sendable, Hashable {
    @usableFromInline var w0: UInt64
    @usableFromInline var w1: UInt64
    @usableFromInline var w2: UInt64
    @usableFromInline var w3: UInt64

    @inlinable
    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    public init(_ value: UInt64) { self.init(w0: value, w1: 0, w2: 0, w3: 0) }

    public init(_ value: Int) {
        precondition(value >= 0, "UInt256 cannot hold a negative value")
        self.init(UInt64(value))
    }

    public static let zero = UInt256(0)
    public static let one = UInt256(1)
    public static let max = UInt256(w0: .max, w1: .max, w2: .max, w3: .max)

    /// Limbs, least significant first.
    public var limbs: [UInt64] { [w0, w1, w2, w3] }

    public init(limbs: [UInt64]) {
        precondition(limbs.count == 4)
        self.init(w0: limbs[0], w1: limbs[1], w2: limbs[2], w3: limbs[3])
    }

    public var isZero: Bool { (w0 | w1 | w2 | w3) == 0 }

    /// The value as a `UInt64` when it fits.
    public var uint64Value: UInt64? { (w1 | w2 | w3) == 0 ? w0 : nil }

    /// The value as an `Int` when it fits.
    public var intValue: Int? {
        guard let small = uint64Value, small <= UInt64(Int.max) else { return nil }
        return Int(small)
    }

    public var leadingZeroBitCount: Int {
        if w3 != 0 { return w3.leadingZeroBitCount }
        if w2 != 0 { return 64 + w2.leadingZeroBitCount }
        if w1 != 0 { return 128 + w1.leadingZeroBitCount }
        return 192 + w0.leadingZeroBitCount
    }

    /// Number of significant bits (0 for zero).
    public var bitLength: Int { 256 - leadingZeroBitCount }

    subscript(limb index: Int) -> UInt64 {
        get {
            switch index {
            case 0: return w0
            case 1: return w1
            case 2: return w2
            default: return w3
            }
        }
        set {
            switch index {
            case 0: w0 = newValue
            case 1: w1 = newValue
            case 2: w2 = newValue
            default: w3 = newValue
            }
        }
    }
}

// MARK: Bytes

extension UInt256 {
    /// Reads a big-endian byte string of at most 32 bytes (leading zeros allowed).
    public init?(bigEndian bytes: some Collection<UInt8>) {
        guard bytes.count <= 32 else {
            // Allow longer input only when the extra leading bytes are zero.
            let extra = bytes.count - 32
            guard bytes.prefix(extra).allSatisfy({ $0 == 0 }) else { return nil }
            self.init(bigEndian: bytes.dropFirst(extra))
            return
        }
        var value = UInt256.zero
        var shift = 0
        for byte in bytes.reversed() {
            value[limb: shift / 64] |= UInt64(byte) << UInt64(shift % 64)
            shift += 8
        }
        self = value
    }

    /// The 32-byte big-endian form (an ABI word).
    public var bigEndianBytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        for index in 0..<32 {
            let limb = self[limb: index / 8]
            out[31 - index] = UInt8(truncatingIfNeeded: limb >> UInt64(8 * (index % 8)))
        }
        return out
    }

    /// The shortest big-endian form, empty for zero (RLP's integer encoding).
    public var minimalBigEndianBytes: [UInt8] {
        Array(bigEndianBytes.drop(while: { $0 == 0 }))
    }
}

// MARK: Comparison

extension UInt256: Comparable {
    public static func < (lhs: UInt256, rhs: UInt256) -> Bool {
        if lhs.w3 != rhs.w3 { return lhs.w3 < rhs.w3 }
        if lhs.w2 != rhs.w2 { return lhs.w2 < rhs.w2 }
        if lhs.w1 != rhs.w1 { return lhs.w1 < rhs.w1 }
        return lhs.w0 < rhs.w0
    }
}

extension UInt256: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: UInt64) { self.init(value) }
}

// MARK: Arithmetic

extension UInt256 {
    public func addingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        var result = UInt256.zero
        var carry = false
        for index in 0..<4 {
            let (sum1, o1) = self[limb: index].addingReportingOverflow(other[limb: index])
            let (sum2, o2) = sum1.addingReportingOverflow(carry ? 1 : 0)
            result[limb: index] = sum2
            carry = o1 || o2
        }
        return (result, carry)
    }

    public func subtractingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        var result = UInt256.zero
        var borrow = false
        for index in 0..<4 {
            let (diff1, o1) = self[limb: index].subtractingReportingOverflow(other[limb: index])
            let (diff2, o2) = diff1.subtractingReportingOverflow(borrow ? 1 : 0)
            result[limb: index] = diff2
            borrow = o1 || o2
        }
        return (result, borrow)
    }

    public func multipliedReportingOverflow(by other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        // Schoolbook on eight limbs held on the stack (fees are computed on every answer).
        var product: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &product) { raw in
            let limbs = raw.bindMemory(to: UInt64.self)
            for i in 0..<4 {
                let a = self[limb: i]
                if a == 0 { continue }
                var carry: UInt64 = 0
                for j in 0..<4 {
                    let (high, low) = a.multipliedFullWidth(by: other[limb: j])
                    let (s1, o1) = limbs[i + j].addingReportingOverflow(low)
                    let (s2, o2) = s1.addingReportingOverflow(carry)
                    limbs[i + j] = s2
                    carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
                }
                limbs[i + 4] = carry
            }
            let overflow = (limbs[4] | limbs[5] | limbs[6] | limbs[7]) != 0
            return (UInt256(w0: limbs[0], w1: limbs[1], w2: limbs[2], w3: limbs[3]), overflow)
        }
    }

    /// Quotient and remainder; traps when dividing by zero.
    public func quotientAndRemainder(dividingBy divisor: UInt256) -> (quotient: UInt256, remainder: UInt256) {
        precondition(!divisor.isZero, "division by zero")
        if self < divisor { return (.zero, self) }
        if let small = divisor.uint64Value {
            let (q, r) = quotientAndRemainder(dividingBy: small)
            return (q, UInt256(r))
        }
        // Shift-subtract long division; only reached for divisors wider than 64 bits.
        var quotient = UInt256.zero
        var remainder = UInt256.zero
        for bit in stride(from: bitLength - 1, through: 0, by: -1) {
            remainder = remainder << 1
            if self.bit(bit) { remainder.w0 |= 1 }
            if remainder >= divisor {
                remainder = remainder.subtractingReportingOverflow(divisor).partialValue
                quotient[limb: bit / 64] |= 1 << UInt64(bit % 64)
            }
        }
        return (quotient, remainder)
    }

    /// Division by a single limb, one `dividingFullWidth` per limb.
    public func quotientAndRemainder(dividingBy divisor: UInt64) -> (quotient: UInt256, remainder: UInt64) {
        precondition(divisor != 0, "division by zero")
        var quotient = UInt256.zero
        var remainder: UInt64 = 0
        for index in stride(from: 3, through: 0, by: -1) {
            let (q, r) = divisor.dividingFullWidth((remainder, self[limb: index]))
            quotient[limb: index] = q
            remainder = r
        }
        return (quotient, remainder)
    }

    func bit(_ index: Int) -> Bool { (self[limb: index / 64] >> UInt64(index % 64)) & 1 == 1 }

    public static func + (lhs: UInt256, rhs: UInt256) -> UInt256 {
        let (value, overflow) = lhs.addingReportingOverflow(rhs)
        precondition(!overflow, "UInt256 addition overflow")
        return value
    }

    public static func - (lhs: UInt256, rhs: UInt256) -> UInt256 {
        let (value, overflow) = lhs.subtractingReportingOverflow(rhs)
        precondition(!overflow, "UInt256 subtraction underflow")
        return value
    }

    public static func * (lhs: UInt256, rhs: UInt256) -> UInt256 {
        let (value, overflow) = lhs.multipliedReportingOverflow(by: rhs)
        precondition(!overflow, "UInt256 multiplication overflow")
        return value
    }

    public static func / (lhs: UInt256, rhs: UInt256) -> UInt256 { lhs.quotientAndRemainder(dividingBy: rhs).quotient }
    public static func % (lhs: UInt256, rhs: UInt256) -> UInt256 { lhs.quotientAndRemainder(dividingBy: rhs).remainder }
    public static func += (lhs: inout UInt256, rhs: UInt256) { lhs = lhs + rhs }
    public static func -= (lhs: inout UInt256, rhs: UInt256) { lhs = lhs - rhs }
    public static func *= (lhs: inout UInt256, rhs: UInt256) { lhs = lhs * rhs }

    public static func & (lhs: UInt256, rhs: UInt256) -> UInt256 {
        UInt256(w0: lhs.w0 & rhs.w0, w1: lhs.w1 & rhs.w1, w2: lhs.w2 & rhs.w2, w3: lhs.w3 & rhs.w3)
    }

    public static func | (lhs: UInt256, rhs: UInt256) -> UInt256 {
        UInt256(w0: lhs.w0 | rhs.w0, w1: lhs.w1 | rhs.w1, w2: lhs.w2 | rhs.w2, w3: lhs.w3 | rhs.w3)
    }

    /// `self - other`, or zero when `other` is larger.
    public func saturatingSubtract(_ other: UInt256) -> UInt256 {
        let (value, overflow) = subtractingReportingOverflow(other)
        return overflow ? .zero : value
    }

    public static func << (lhs: UInt256, rhs: Int) -> UInt256 {
        guard rhs > 0 else { return rhs == 0 ? lhs : lhs >> -rhs }
        guard rhs < 256 else { return .zero }
        let limbShift = rhs / 64
        let bitShift = UInt64(rhs % 64)
        var result = UInt256.zero
        for index in stride(from: 3, through: limbShift, by: -1) {
            var limb = lhs[limb: index - limbShift] << bitShift
            if bitShift > 0, index - limbShift - 1 >= 0 {
                limb |= lhs[limb: index - limbShift - 1] >> (64 - bitShift)
            }
            result[limb: index] = limb
        }
        return result
    }

    public static func >> (lhs: UInt256, rhs: Int) -> UInt256 {
        guard rhs > 0 else { return rhs == 0 ? lhs : lhs << -rhs }
        guard rhs < 256 else { return .zero }
        let limbShift = rhs / 64
        let bitShift = UInt64(rhs % 64)
        var result = UInt256.zero
        for index in 0..<(4 - limbShift) {
            var limb = lhs[limb: index + limbShift] >> bitShift
            if bitShift > 0, index + limbShift + 1 < 4 {
                limb |= lhs[limb: index + limbShift + 1] << (64 - bitShift)
            }
            result[limb: index] = limb
        }
        return result
    }

    /// 10^exponent; traps past 10^77.
    public static func power(ofTen exponent: Int) -> UInt256 {
        var value = UInt256.one
        for _ in 0..<exponent { value = value * 10 }
        return value
    }
}

extension UInt256 {
    /// The nearest `Double` (for metrics; exact below 2^53).
    public var doubleValue: Double {
        let base = 18_446_744_073_709_551_616.0  // 2^64
        return ((Double(w3) * base + Double(w2)) * base + Double(w1)) * base + Double(w0)
    }
}

// MARK: Text

extension UInt256: CustomStringConvertible, LosslessStringConvertible {
    /// Decimal digits.
    public var description: String {
        if isZero { return "0" }
        // Peel off 19 decimal digits at a time (10^19 fits in a UInt64).
        let chunk: UInt64 = 10_000_000_000_000_000_000
        var parts = [UInt64]()
        var rest = self
        while !rest.isZero {
            let (q, r) = rest.quotientAndRemainder(dividingBy: chunk)
            parts.append(r)
            rest = q
        }
        var text = String(parts.removeLast())
        for part in parts.reversed() {
            let digits = String(part)
            text += String(repeating: "0", count: 19 - digits.count) + digits
        }
        return text
    }

    /// Reads decimal digits only (no sign, no separators); nil when empty, malformed or too large.
    public init?(_ description: String) {
        self.init(decimal: description)
    }

    public init?(decimal text: some StringProtocol) {
        guard !text.isEmpty else { return nil }
        var value = UInt256.zero
        for char in text.utf8 {
            guard char >= UInt8(ascii: "0"), char <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt256(UInt64(char - UInt8(ascii: "0"))))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        self = value
    }

    /// Reads a JSON-RPC quantity or any hex number, with or without `0x`; nil when too large.
    public init?(hex text: some StringProtocol) {
        var digits = Substring(text)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.count <= 64 || digits.drop(while: { $0 == "0" }).count <= 64 else { return nil }
        digits = digits.drop(while: { $0 == "0" })
        let padded = digits.count % 2 == 1 ? "0" + digits : String(digits)
        guard let bytes = try? [UInt8](hex: padded), let value = UInt256(bigEndian: bytes) else { return nil }
        self = value
    }

    /// `0x`-prefixed minimal hex, as JSON-RPC writes quantities (`0x0` for zero).
    public var quantityHex: String {
        let bytes = minimalBigEndianBytes
        guard !bytes.isEmpty else { return "0x0" }
        var hex = bytes.hexString
        if hex.hasPrefix("0") { hex.removeFirst() }
        return "0x" + hex
    }
}
