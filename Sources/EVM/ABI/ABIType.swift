/// A Solidity ABI type, parsed from its canonical text (`"uint256"`, `"(address,string)[]"`).
///
/// Contract bindings are written with these types so that their signatures, and so their
/// selectors, are computed rather than typed by hand.
public indirect enum ABIType: Sendable, Hashable {
    case uint(bits: Int)
    case int(bits: Int)
    case address
    case bool
    /// `bytes1` … `bytes32`.
    case fixedBytes(Int)
    case bytes
    case string
    /// `T[]`
    case array(ABIType)
    /// `T[k]`
    case fixedArray(ABIType, Int)
    case tuple([ABIType])

    public static let uint256 = ABIType.uint(bits: 256)
    public static let uint8 = ABIType.uint(bits: 8)
    public static let bytes32 = ABIType.fixedBytes(32)

    /// The canonical text used in signatures: tuples written as `(…)`, `uint` as `uint256`.
    public var canonical: String {
        switch self {
        case .uint(let bits): return "uint\(bits)"
        case .int(let bits): return "int\(bits)"
        case .address: return "address"
        case .bool: return "bool"
        case .fixedBytes(let size): return "bytes\(size)"
        case .bytes: return "bytes"
        case .string: return "string"
        case .array(let element): return element.canonical + "[]"
        case .fixedArray(let element, let count): return element.canonical + "[\(count)]"
        case .tuple(let components): return "(" + components.map(\.canonical).joined(separator: ",") + ")"
        }
    }

    /// Whether values of this type live in the tail (encoded behind an offset).
    public var isDynamic: Bool {
        switch self {
        case .bytes, .string, .array: return true
        case .fixedArray(let element, _): return element.isDynamic
        case .tuple(let components): return components.contains(where: \.isDynamic)
        default: return false
        }
    }

    /// Bytes the type takes in the head of its enclosing tuple.
    var headSize: Int {
        guard !isDynamic else { return 32 }
        switch self {
        case .fixedArray(let element, let count): return element.headSize * count
        case .tuple(let components): return components.reduce(0) { $0 + $1.headSize }
        default: return 32
        }
    }

    /// Parses canonical or Solidity-style type text. `uint`/`int` are read as 256-bit.
    public init(parsing text: String) throws(ABIError) {
        var parser = TypeParser(text: Array(text.utf8), original: text)
        let type = try parser.parseType()
        guard parser.atEnd else { throw ABIError.invalidType(text, "unexpected text after the type") }
        self = type
    }
}

extension ABIType: CustomStringConvertible {
    public var description: String { canonical }
}

private struct TypeParser {
    let text: [UInt8]
    let original: String
    var position = 0

    var atEnd: Bool { position == text.count }

    mutating func parseType() throws(ABIError) -> ABIType {
        var base: ABIType
        if position < text.count, text[position] == UInt8(ascii: "(") {
            position += 1
            var components = [ABIType]()
            if position < text.count, text[position] == UInt8(ascii: ")") {
                position += 1
            } else {
                while true {
                    components.append(try parseType())
                    guard position < text.count else { throw ABIError.invalidType(original, "unclosed tuple") }
                    let char = text[position]
                    position += 1
                    if char == UInt8(ascii: ")") { break }
                    guard char == UInt8(ascii: ",") else { throw ABIError.invalidType(original, "expected , or )") }
                }
            }
            base = .tuple(components)
        } else {
            let start = position
            while position < text.count, isNameChar(text[position]) { position += 1 }
            let name = String(decoding: text[start..<position], as: UTF8.self)
            base = try Self.elementary(name, original: original)
        }
        while position < text.count, text[position] == UInt8(ascii: "[") {
            position += 1
            let start = position
            while position < text.count, text[position] >= UInt8(ascii: "0"), text[position] <= UInt8(ascii: "9") { position += 1 }
            let digits = String(decoding: text[start..<position], as: UTF8.self)
            guard position < text.count, text[position] == UInt8(ascii: "]") else { throw ABIError.invalidType(original, "unclosed [") }
            position += 1
            if digits.isEmpty {
                base = .array(base)
            } else {
                guard let count = Int(digits), count > 0, count <= 1 << 16 else { throw ABIError.invalidType(original, "bad array size") }
                base = .fixedArray(base, count)
            }
        }
        return base
    }

    static func elementary(_ name: String, original: String) throws(ABIError) -> ABIType {
        switch name {
        case "address": return .address
        case "bool": return .bool
        case "string": return .string
        case "bytes": return .bytes
        case "uint": return .uint256
        case "int": return .int(bits: 256)
        default: break
        }
        func size(after prefix: String) -> Int? {
            guard name.hasPrefix(prefix) else { return nil }
            let digits = name.dropFirst(prefix.count)
            guard !digits.hasPrefix("0") else { return nil }
            return Int(digits)
        }
        if let bits = size(after: "uint"), bits % 8 == 0, (8...256).contains(bits) { return .uint(bits: bits) }
        if let bits = size(after: "int"), bits % 8 == 0, (8...256).contains(bits) { return .int(bits: bits) }
        if let count = size(after: "bytes"), (1...32).contains(count) { return .fixedBytes(count) }
        throw ABIError.invalidType(original, "unknown type \"\(name)\"")
    }
}

private func isNameChar(_ char: UInt8) -> Bool {
    (char >= UInt8(ascii: "a") && char <= UInt8(ascii: "z")) || (char >= UInt8(ascii: "0") && char <= UInt8(ascii: "9"))
}
