/// A value to encode for, or decoded from, an ``ABIType``.
///
/// Signed integers are kept as their 256-bit two's complement word, which is how the EVM
/// holds them; ``ABIValue/int(_:)`` builds one from a Swift `Int`.
public indirect enum ABIValue: Sendable, Hashable {
    case uint(UInt256)
    /// Two's complement, sign-extended to 256 bits.
    case int(UInt256)
    case address(Address)
    case bool(Bool)
    case fixedBytes([UInt8])
    case bytes([UInt8])
    case string(String)
    /// Elements of `T[]` or `T[k]`.
    case array([ABIValue])
    case tuple([ABIValue])

    /// A signed integer from a Swift `Int`.
    public static func signed(_ value: Int) -> ABIValue {
        value >= 0 ? .int(UInt256(UInt64(value))) : .int(UInt256.max - UInt256(UInt64(-(value + 1))))
    }

    var kind: String {
        switch self {
        case .uint: return "uint"
        case .int: return "int"
        case .address: return "address"
        case .bool: return "bool"
        case .fixedBytes: return "bytesN"
        case .bytes: return "bytes"
        case .string: return "string"
        case .array: return "array"
        case .tuple: return "tuple"
        }
    }
}

// Typed accessors used by contract bindings; each throws a precise mismatch instead of trapping.
extension ABIValue {
    public func uint256() throws(ABIError) -> UInt256 {
        guard case .uint(let value) = self else { throw .typeMismatch(expected: "uint", found: kind) }
        return value
    }

    public func address() throws(ABIError) -> Address {
        guard case .address(let value) = self else { throw .typeMismatch(expected: "address", found: kind) }
        return value
    }

    public func bool() throws(ABIError) -> Bool {
        guard case .bool(let value) = self else { throw .typeMismatch(expected: "bool", found: kind) }
        return value
    }

    public func string() throws(ABIError) -> String {
        guard case .string(let value) = self else { throw .typeMismatch(expected: "string", found: kind) }
        return value
    }

    /// Bytes of `bytes` or `bytesN`.
    public func byteArray() throws(ABIError) -> [UInt8] {
        switch self {
        case .bytes(let value), .fixedBytes(let value): return value
        default: throw .typeMismatch(expected: "bytes", found: kind)
        }
    }

    public func array() throws(ABIError) -> [ABIValue] {
        guard case .array(let value) = self else { throw .typeMismatch(expected: "array", found: kind) }
        return value
    }

    /// Components of a tuple, checked to be exactly `count` long.
    public func tuple(count: Int) throws(ABIError) -> [ABIValue] {
        guard case .tuple(let value) = self else { throw .typeMismatch(expected: "tuple", found: kind) }
        guard value.count == count else { throw .wrongArgumentCount(expected: count, found: value.count) }
        return value
    }

    /// A `uintN` that must fit in a Swift `Int` (counts, indices, small ids).
    public func int() throws(ABIError) -> Int {
        let value = try uint256()
        guard let small = value.intValue else { throw .outOfRange(type: "Int", value: value.description) }
        return small
    }
}
