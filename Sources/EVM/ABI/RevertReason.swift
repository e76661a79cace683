/// A custom error a contract declares (`error LedgerNotExists(address)`), matched by selector.
public struct ABIErrorDefinition: Sendable, Hashable {
    public let name: String
    public let inputs: [ABIType]
    public var signature: String { "\(name)(\(inputs.map(\.canonical).joined(separator: ",")))" }
    public let selector: [UInt8]

    public init(name: String, inputs: [ABIType] = []) {
        self.name = name
        self.inputs = inputs
        self.selector = Array(keccak256("\(name)(\(inputs.map(\.canonical).joined(separator: ",")))").prefix(4))
    }

    /// The revert data a contract produces for this error (used by tests and simulators).
    public func encode(_ arguments: [ABIValue]) throws(ABIError) -> [UInt8] {
        selector + (try ABI.encode(inputs, arguments))
    }

    /// `Error(string)`, what `require(cond, "reason")` reverts with.
    public static let errorString = ABIErrorDefinition(name: "Error", inputs: [.string])
    /// `Panic(uint256)`, what failed asserts, overflow and bad array indexes revert with.
    public static let panic = ABIErrorDefinition(name: "Panic", inputs: [.uint256])
}

/// Why a call reverted, decoded from its revert data.
public enum RevertReason: Sendable, Hashable, CustomStringConvertible {
    /// No data at all (a bare `revert()` or an out-of-gas).
    case empty
    /// `Error(string)`.
    case message(String)
    /// `Panic(uint256)` with its code (0x11 overflow, 0x12 division by zero, …).
    case panic(UInt256)
    /// A custom error the caller knows, with its decoded arguments.
    case custom(ABIErrorDefinition, [ABIValue])
    /// Data that matches nothing known (kept raw).
    case unknown([UInt8])

    /// Decodes `data` against `Error(string)`, `Panic(uint256)` and the given custom errors.
    public init(data: [UInt8], knownErrors: [ABIErrorDefinition] = []) {
        guard data.count >= 4 else {
            self = data.isEmpty ? .empty : .unknown(data)
            return
        }
        let selector = Array(data.prefix(4))
        let arguments = Array(data.dropFirst(4))
        if selector == ABIErrorDefinition.errorString.selector,
           let values = try? ABI.decode([.string], from: arguments), let text = try? values[0].string() {
            self = .message(text)
        } else if selector == ABIErrorDefinition.panic.selector,
                  let values = try? ABI.decode([.uint256], from: arguments), let code = try? values[0].uint256() {
            self = .panic(code)
        } else if let definition = knownErrors.first(where: { $0.selector == selector }),
                  let values = try? ABI.decode(definition.inputs, from: arguments) {
            self = .custom(definition, values)
        } else {
            self = .unknown(data)
        }
    }

    /// The custom error's name, if it is one.
    public var customErrorName: String? {
        if case .custom(let definition, _) = self { return definition.name }
        return nil
    }

    public var description: String {
        switch self {
        case .empty: return "reverted without a reason"
        case .message(let text): return "reverted: \(text)"
        case .panic(let code): return "panicked with code \(code.quantityHex) (\(Self.panicMeaning(code)))"
        case .custom(let definition, let values):
            return "\(definition.name)(\(values.map(Self.render).joined(separator: ", ")))"
        case .unknown(let data): return "reverted with unknown data \(data.prefixedHex)"
        }
    }

    static func render(_ value: ABIValue) -> String {
        switch value {
        case .uint(let number): return number.description
        case .int(let word): return word.quantityHex
        case .address(let address): return address.checksummed
        case .bool(let flag): return flag ? "true" : "false"
        case .fixedBytes(let bytes), .bytes(let bytes): return bytes.prefixedHex
        case .string(let text): return "\"\(text)\""
        case .array(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
        case .tuple(let items): return "(" + items.map(render).joined(separator: ", ") + ")"
        }
    }

    static func panicMeaning(_ code: UInt256) -> String {
        switch code.uint64Value {
        case 0x01: return "assertion failed"
        case 0x11: return "arithmetic overflow"
        case 0x12: return "division by zero"
        case 0x21: return "invalid enum value"
        case 0x31: return "pop on empty array"
        case 0x32: return "array index out of bounds"
        case 0x41: return "out of memory"
        case 0x51: return "call to an uninitialised function"
        default: return "unknown panic"
        }
    }
}
