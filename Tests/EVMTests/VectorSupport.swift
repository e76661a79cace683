import EVM
import Foundation
import TestSupport

/// Reads the cross-check vectors of `Fixtures/vectors` (made by eth-hash, rlp, eth-abi and eth-account).
enum Vectors {
    static func load(_ name: String) throws -> [String: Any] {
        guard let object = try FixturePaths.json("vectors/\(name)") as? [String: Any] else {
            throw FixtureError("vectors/\(name) is not a JSON object")
        }
        return object
    }

    static func list(_ object: [String: Any], _ key: String) throws -> [[String: Any]] {
        guard let list = object[key] as? [[String: Any]], !list.isEmpty else { throw FixtureError("no \(key) in vectors") }
        return list
    }

    static func bytes(_ value: Any?) throws -> [UInt8] {
        guard let text = value as? String else { throw FixtureError("expected hex, got \(String(describing: value))") }
        return try [UInt8](hex: text)
    }

    static func uint(_ value: Any?) throws -> UInt256 {
        if let number = value as? Int { return UInt256(UInt64(number)) }
        guard let text = value as? String, let number = UInt256(decimal: text) else {
            throw FixtureError("expected a decimal, got \(String(describing: value))")
        }
        return number
    }

    /// The vectors' JSON form of a value of `type` as an ``ABIValue``.
    static func abiValue(_ type: ABIType, _ json: Any) throws -> ABIValue {
        switch type {
        case .uint: return .uint(try uint(json))
        case .int:
            guard let text = json as? String else { throw FixtureError("int as string expected") }
            if text.hasPrefix("-") {
                let magnitude = try uint(String(text.dropFirst()))
                return .int(UInt256.max - magnitude + 1)
            }
            return .int(try uint(text))
        case .address: return .address(try Address(hex: json as? String ?? ""))
        case .bool:
            guard let flag = json as? Bool else { throw FixtureError("bool expected") }
            return .bool(flag)
        case .fixedBytes: return .fixedBytes(try bytes(json))
        case .bytes: return .bytes(try bytes(json))
        case .string:
            guard let text = json as? String else { throw FixtureError("string expected") }
            return .string(text)
        case .array(let element), .fixedArray(let element, _):
            guard let items = json as? [Any] else { throw FixtureError("array expected") }
            return .array(try items.map { try abiValue(element, $0) })
        case .tuple(let components):
            guard let items = json as? [Any], items.count == components.count else { throw FixtureError("tuple expected") }
            return .tuple(try zip(components, items).map { try abiValue($0, $1) })
        }
    }
}
