/// The Solidity contract ABI encoding (head/tail), for calls, return data, events and errors.
public enum ABI {
    /// Encodes `values` as the tuple `types` (the form of call arguments and return data).
    public static func encode(_ types: [ABIType], _ values: [ABIValue]) throws(ABIError) -> [UInt8] {
        guard types.count == values.count else { throw .wrongArgumentCount(expected: types.count, found: values.count) }
        var out = [UInt8]()
        try encodeTuple(types, values, into: &out)
        return out
    }

    /// Decodes data holding the tuple `types`. Every offset and length is bounds-checked.
    public static func decode(_ types: [ABIType], from data: [UInt8]) throws(ABIError) -> [ABIValue] {
        var reader = ABIReader(data: data)
        return try reader.decodeTuple(types, base: 0, depth: 0)
    }

    // MARK: Encoding

    static func encodeTuple(_ types: [ABIType], _ values: [ABIValue], into out: inout [UInt8]) throws(ABIError) {
        let headLength = types.reduce(0) { $0 + $1.headSize }
        var head = [UInt8]()
        head.reserveCapacity(headLength)
        var tail = [UInt8]()
        for (type, value) in zip(types, values) {
            if type.isDynamic {
                head.append(contentsOf: UInt256(UInt64(headLength + tail.count)).bigEndianBytes)
                try encodeValue(type, value, into: &tail)
            } else {
                try encodeValue(type, value, into: &head)
            }
        }
        out.append(contentsOf: head)
        out.append(contentsOf: tail)
    }

    static func encodeValue(_ type: ABIType, _ value: ABIValue, into out: inout [UInt8]) throws(ABIError) {
        switch (type, value) {
        case (.uint(let bits), .uint(let number)):
            guard number.bitLength <= bits else { throw .outOfRange(type: type.canonical, value: number.description) }
            out.append(contentsOf: number.bigEndianBytes)
        case (.int(let bits), .int(let word)):
            guard fitsSigned(word, bits: bits) else { throw .outOfRange(type: type.canonical, value: word.quantityHex) }
            out.append(contentsOf: word.bigEndianBytes)
        case (.address, .address(let address)):
            out.append(contentsOf: [UInt8](repeating: 0, count: 12))
            out.append(contentsOf: address.bytes)
        case (.bool, .bool(let flag)):
            out.append(contentsOf: UInt256(flag ? 1 : 0).bigEndianBytes)
        case (.fixedBytes(let size), .fixedBytes(let bytes)):
            guard bytes.count == size else { throw .outOfRange(type: type.canonical, value: "\(bytes.count) bytes") }
            out.append(contentsOf: bytes)
            out.append(contentsOf: [UInt8](repeating: 0, count: 32 - size))
        case (.bytes, .bytes(let bytes)):
            appendDynamicBytes(bytes, into: &out)
        case (.string, .string(let text)):
            appendDynamicBytes(Array(text.utf8), into: &out)
        case (.array(let element), .array(let elements)):
            out.append(contentsOf: UInt256(UInt64(elements.count)).bigEndianBytes)
            try encodeTuple(Array(repeating: element, count: elements.count), elements, into: &out)
        case (.fixedArray(let element, let count), .array(let elements)):
            guard elements.count == count else { throw .wrongArgumentCount(expected: count, found: elements.count) }
            try encodeTuple(Array(repeating: element, count: count), elements, into: &out)
        case (.tuple(let components), .tuple(let fields)):
            guard components.count == fields.count else { throw .wrongArgumentCount(expected: components.count, found: fields.count) }
            try encodeTuple(components, fields, into: &out)
        default:
            throw .typeMismatch(expected: type.canonical, found: value.kind)
        }
    }

    private static func appendDynamicBytes(_ bytes: [UInt8], into out: inout [UInt8]) {
        out.append(contentsOf: UInt256(UInt64(bytes.count)).bigEndianBytes)
        out.append(contentsOf: bytes)
        let padding = (32 - bytes.count % 32) % 32
        out.append(contentsOf: [UInt8](repeating: 0, count: padding))
    }

    /// Whether a two's complement word is a sign extension of a `bits`-wide value.
    static func fitsSigned(_ word: UInt256, bits: Int) -> Bool {
        guard bits < 256 else { return true }
        let negative = word.bit(255)
        let upper = word >> (bits - 1)
        return negative ? upper == (UInt256.max >> (bits - 1)) : upper.isZero
    }
}

/// Reads ABI data with checked offsets. Offsets are relative to the start of the enclosing
/// tuple or array body (`base`), as the ABI specifies.
struct ABIReader {
    let data: [UInt8]
    static let maxDepth = 32
    /// Values left to decode. Offsets may point at shared data, so without a budget a small
    /// hostile input could expand exponentially.
    var budget = 1_000_000

    func word(at offset: Int) throws(ABIError) -> [UInt8] {
        guard offset >= 0, offset <= data.count - 32 else { throw .outOfBounds("word at \(offset) past \(data.count) bytes") }
        return Array(data[offset..<(offset + 32)])
    }

    func uint(at offset: Int) throws(ABIError) -> UInt256 {
        UInt256(bigEndian: try word(at: offset))!
    }

    /// A word used as an offset or length; must fit comfortably inside the data.
    func size(at offset: Int, what: String) throws(ABIError) -> Int {
        let value = try uint(at: offset)
        guard let small = value.intValue, small <= data.count else {
            throw .outOfBounds("\(what) \(value) larger than the \(data.count)-byte data")
        }
        return small
    }

    mutating func decodeTuple(_ types: [ABIType], base: Int, depth: Int) throws(ABIError) -> [ABIValue] {
        guard depth < Self.maxDepth else { throw .outOfBounds("nesting deeper than \(Self.maxDepth)") }
        budget -= types.count
        guard budget >= 0 else { throw .outOfBounds("more values than any real return data holds") }
        var values = [ABIValue]()
        values.reserveCapacity(types.count)
        var headOffset = base
        for type in types {
            if type.isDynamic {
                let relative = try size(at: headOffset, what: "offset")
                let start = base + relative
                guard start <= data.count else { throw .outOfBounds("offset \(relative) points past the data") }
                values.append(try decodeValue(type, at: start, depth: depth))
            } else {
                values.append(try decodeValue(type, at: headOffset, depth: depth))
            }
            headOffset += type.headSize
        }
        return values
    }

    mutating func decodeValue(_ type: ABIType, at offset: Int, depth: Int) throws(ABIError) -> ABIValue {
        switch type {
        case .uint(let bits):
            let value = try uint(at: offset)
            guard value.bitLength <= bits else { throw .invalidEncoding("\(type.canonical) with non-zero padding") }
            return .uint(value)
        case .int(let bits):
            let value = try uint(at: offset)
            guard ABI.fitsSigned(value, bits: bits) else { throw .invalidEncoding("\(type.canonical) not sign-extended") }
            return .int(value)
        case .address:
            let bytes = try word(at: offset)
            guard bytes.prefix(12).allSatisfy({ $0 == 0 }) else { throw .invalidEncoding("address with non-zero padding") }
            return .address(Address(unchecked: Array(bytes.suffix(20))))
        case .bool:
            let value = try uint(at: offset)
            guard value <= 1 else { throw .invalidEncoding("bool that is neither 0 nor 1") }
            return .bool(value == 1)
        case .fixedBytes(let size):
            let bytes = try word(at: offset)
            guard bytes.suffix(32 - size).allSatisfy({ $0 == 0 }) else { throw .invalidEncoding("bytes\(size) with non-zero padding") }
            return .fixedBytes(Array(bytes.prefix(size)))
        case .bytes:
            return .bytes(try dynamicBytes(at: offset))
        case .string:
            let bytes = try dynamicBytes(at: offset)
            guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidEncoding("string is not valid UTF-8") }
            return .string(text)
        case .array(let element):
            let count = try size(at: offset, what: "array length")
            let body = offset + 32
            // Each element takes at least one head slot: refuse counts the data cannot hold.
            guard count <= (data.count - min(body, data.count)) / element.headSize else {
                throw .outOfBounds("array of \(count) elements longer than the data")
            }
            return .array(try decodeTuple(Array(repeating: element, count: count), base: body, depth: depth + 1))
        case .fixedArray(let element, let count):
            guard count <= (data.count - min(offset, data.count)) / element.headSize else {
                throw .outOfBounds("array of \(count) elements longer than the data")
            }
            return .array(try decodeTuple(Array(repeating: element, count: count), base: offset, depth: depth + 1))
        case .tuple(let components):
            return .tuple(try decodeTuple(components, base: offset, depth: depth + 1))
        }
    }

    func dynamicBytes(at offset: Int) throws(ABIError) -> [UInt8] {
        let length = try size(at: offset, what: "length")
        let start = offset + 32
        guard length <= data.count - start else { throw .outOfBounds("\(length)-byte value runs past the data") }
        let padded = (length + 31) / 32 * 32
        if padded - length > 0, start + padded <= data.count {
            guard data[(start + length)..<(start + padded)].allSatisfy({ $0 == 0 }) else {
                throw .invalidEncoding("bytes with non-zero padding")
            }
        }
        return Array(data[start..<(start + length)])
    }
}
