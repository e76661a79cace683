/// A contract function: its signature, 4-byte selector, call encoding and output decoding.
public struct ABIFunction: Sendable, Hashable {
    public let name: String
    public let inputs: [ABIType]
    public let outputs: [ABIType]

    /// `name(type,type…)` with tuples written out, the text hashed for the selector.
    public var signature: String { "\(name)(\(inputs.map(\.canonical).joined(separator: ",")))" }
    /// The first four bytes of keccak256(signature).
    public let selector: [UInt8]

    public init(name: String, inputs: [ABIType], outputs: [ABIType] = []) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.selector = Array(keccak256("\(name)(\(inputs.map(\.canonical).joined(separator: ",")))").prefix(4))
    }

    /// Parses `"name(type,…)"` and the output types.
    public init(_ signature: String, returns outputs: [String] = []) throws(ABIError) {
        guard let open = signature.firstIndex(of: "("), signature.hasSuffix(")") else {
            throw .invalidType(signature, "expected name(types)")
        }
        let name = String(signature[..<open])
        let inputs = try ABIType(parsing: String(signature[open...]))
        guard case .tuple(let components) = inputs else { throw .invalidType(signature, "expected name(types)") }
        var parsedOutputs = [ABIType]()
        for output in outputs { parsedOutputs.append(try ABIType(parsing: output)) }
        self.init(name: name, inputs: components, outputs: parsedOutputs)
    }

    /// Selector followed by the encoded arguments.
    public func encodeCall(_ arguments: [ABIValue]) throws(ABIError) -> [UInt8] {
        selector + (try ABI.encode(inputs, arguments))
    }

    /// Decodes the arguments of calldata for this function (used by tests and simulators).
    public func decodeCall(_ calldata: [UInt8]) throws(ABIError) -> [ABIValue] {
        guard calldata.count >= 4 else { throw .outOfBounds("calldata shorter than a selector") }
        guard Array(calldata.prefix(4)) == selector else {
            throw .selectorMismatch(expected: selector.prefixedHex, found: Array(calldata.prefix(4)).prefixedHex)
        }
        return try ABI.decode(inputs, from: Array(calldata.dropFirst(4)))
    }

    /// Decodes the return data.
    public func decodeOutput(_ data: [UInt8]) throws(ABIError) -> [ABIValue] {
        try ABI.decode(outputs, from: data)
    }
}

/// An event: its topic and how to decode a log of it.
public struct ABIEvent: Sendable, Hashable {
    public struct Parameter: Sendable, Hashable {
        public let type: ABIType
        public let indexed: Bool
        public init(_ type: ABIType, indexed: Bool = false) {
            self.type = type
            self.indexed = indexed
        }
    }

    public let name: String
    public let parameters: [Parameter]
    public var signature: String { "\(name)(\(parameters.map(\.type.canonical).joined(separator: ",")))" }
    /// keccak256(signature): the log's first topic.
    public let topic: [UInt8]

    public init(name: String, parameters: [Parameter]) {
        self.name = name
        self.parameters = parameters
        self.topic = keccak256("\(name)(\(parameters.map(\.type.canonical).joined(separator: ",")))")
    }

    /// Decodes a log's values in declaration order. Indexed dynamic values (strings, arrays)
    /// are only stored as their hash, so they come back as that 32-byte hash in `.fixedBytes`.
    public func decode(topics: [[UInt8]], data: [UInt8]) throws(ABIError) -> [ABIValue] {
        guard topics.first == topic else {
            throw .selectorMismatch(expected: topic.prefixedHex, found: topics.first?.prefixedHex ?? "no topic")
        }
        let indexed = parameters.filter(\.indexed)
        guard topics.count == indexed.count + 1 else { throw .wrongArgumentCount(expected: indexed.count + 1, found: topics.count) }
        var dataValues = try ABI.decode(parameters.filter { !$0.indexed }.map(\.type), from: data).makeIterator()
        var topicIterator = topics.dropFirst().makeIterator()
        var values = [ABIValue]()
        for parameter in parameters {
            if parameter.indexed {
                let word = topicIterator.next()!
                guard word.count == 32 else { throw .outOfBounds("topic of \(word.count) bytes") }
                if parameter.type.isDynamic || { if case .tuple = parameter.type { return true } else { return false } }() {
                    values.append(.fixedBytes(word))
                } else {
                    values.append(try ABI.decode([parameter.type], from: word)[0])
                }
            } else {
                values.append(dataValues.next()!)
            }
        }
        return values
    }
}
