import EVM
import Testing

@Suite("Contract ABI")
struct ABITests {
    @Test("encodes and decodes every case like eth-abi, the 0G structs included")
    func cases() throws {
        let vectors = try Vectors.list(try Vectors.load("abi.json"), "cases")
        for vector in vectors {
            let name = vector["name"] as? String ?? ""
            let types = try (vector["types"] as! [String]).map { try ABIType(parsing: $0) }
            let values = try zip(types, vector["values"] as! [Any]).map { try Vectors.abiValue($0, $1) }
            let encoded = try Vectors.bytes(vector["encoded"])
            #expect(try ABI.encode(types, values) == encoded, "\(name)")
            #expect(try ABI.decode(types, from: encoded) == values, "\(name)")
        }
    }

    @Test("struct types written from the deployed ABI round-trip through the parser")
    func structTypes() throws {
        let structs = try Vectors.load("abi.json")["structs"] as! [String: String]
        #expect(structs.keys.contains("Account") && structs.keys.contains("Service"))
        for (_, text) in structs {
            #expect(try ABIType(parsing: text).canonical == text)
        }
    }

    @Test("call data for every function of both 0G contracts")
    func calls() throws {
        let vectors = try Vectors.list(try Vectors.load("abi.json"), "calls")
        for vector in vectors {
            let function = try ABIFunction(vector["signature"] as! String, returns: vector["outputTypes"] as! [String])
            #expect(function.selector == (try Vectors.bytes(vector["selector"])), "\(function.signature)")
            let arguments = try zip(function.inputs, vector["args"] as! [Any]).map { try Vectors.abiValue($0, $1) }
            let calldata = try Vectors.bytes(vector["calldata"])
            #expect(try function.encodeCall(arguments) == calldata, "\(function.signature)")
            #expect(try function.decodeCall(calldata) == arguments, "\(function.signature)")
        }
    }

    @Test("hostile data is refused with an error, never a crash")
    func decodeFailures() throws {
        let vectors = try Vectors.list(try Vectors.load("abi.json"), "decodeFailures")
        for vector in vectors {
            let types = try (vector["types"] as! [String]).map { try ABIType(parsing: $0) }
            let data = try Vectors.bytes(vector["data"])
            #expect(throws: ABIError.self, "\(vector["name"] ?? "")") { try ABI.decode(types, from: data) }
        }
    }

    @Test("random bytes decode as Account and Service[] without trapping")
    func fuzzDecode() throws {
        let structs = try Vectors.load("abi.json")["structs"] as! [String: String]
        let account = try ABIType(parsing: structs["Account"]!)
        let services = try ABIType(parsing: structs["Service"]! + "[]")
        var generator = SystemRandomNumberGenerator()
        let valid = try ABI.encode([account], [try Vectors.abiValue(account, sampleAccount)])
        for round in 0..<2000 {
            var data = valid
            // Flip a few bytes, truncate or extend: the decoder must answer, not crash.
            for _ in 0..<(1 + round % 4) {
                let index = Int.random(in: 0..<data.count, using: &generator)
                data[index] = UInt8.random(in: 0...255, using: &generator)
            }
            if round % 7 == 0 { data = Array(data.prefix(Int.random(in: 0..<data.count, using: &generator))) }
            _ = try? ABI.decode([account], from: data)
            _ = try? ABI.decode([services, .uint256], from: data)
        }
    }

    @Test("selectors, event topics and error selectors of both deployed ABIs")
    func selectors() throws {
        let file = try Vectors.load("selectors.json")
        for vector in try Vectors.list(file, "functions") {
            let function = try ABIFunction(vector["signature"] as! String)
            #expect(function.selector == (try Vectors.bytes(vector["selector"])), "\(function.signature)")
        }
        for vector in try Vectors.list(file, "events") {
            let signature = vector["signature"] as! String
            let parsed = try ABIFunction(signature)
            let indexed = vector["indexed"] as? [Bool] ?? []
            let event = ABIEvent(name: parsed.name, parameters: zip(parsed.inputs, indexed).map { .init($0, indexed: $1) })
            #expect(event.topic == (try Vectors.bytes(vector["topic"])), "\(signature)")
        }
        for vector in try Vectors.list(file, "errors") {
            let parsed = try ABIFunction(vector["signature"] as! String)
            let error = ABIErrorDefinition(name: parsed.name, inputs: parsed.inputs)
            #expect(error.selector == (try Vectors.bytes(vector["selector"])), "\(error.signature)")
        }
    }

    @Test("revert data decodes into Error(string), Panic(uint256) and custom errors")
    func reverts() throws {
        let message = try ABIErrorDefinition.errorString.encode([.string("not enough")])
        #expect(RevertReason(data: message) == .message("not enough"))
        let panic = try ABIErrorDefinition.panic.encode([.uint(0x11)])
        #expect(RevertReason(data: panic) == .panic(0x11))
        #expect(RevertReason(data: panic).description.contains("arithmetic overflow"))
        let custom = ABIErrorDefinition(name: "InsufficientAvailableBalance", inputs: [.uint256, .uint256])
        #expect(custom.selector.prefixedHex == "0xadb9e043")
        let data = try custom.encode([.uint(5), .uint(7)])
        let reason = RevertReason(data: data, knownErrors: [custom])
        #expect(reason == .custom(custom, [.uint(5), .uint(7)]))
        #expect(reason.description == "InsufficientAvailableBalance(5, 7)")
        #expect(RevertReason(data: data) == .unknown(data))
        #expect(RevertReason(data: []) == .empty)
        // A known selector with undecodable arguments is not misreported as that error.
        #expect(RevertReason(data: custom.selector + [1, 2, 3], knownErrors: [custom]) == .unknown(custom.selector + [1, 2, 3]))
    }

    @Test("event logs decode, indexed and not")
    func events() throws {
        let event = ABIEvent(
            name: "BalanceUpdated",
            parameters: [.init(.address, indexed: true), .init(.address, indexed: true), .init(.uint256), .init(.uint256)]
        )
        #expect(event.topic.prefixedHex == "0x526824944047da5b81071fb6349412005c5da81380b336103fbe5dd34556c776")
        let user = try Address(hex: "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")
        let provider = try Address(hex: "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF")
        let topics = [event.topic, [UInt8](repeating: 0, count: 12) + user.bytes, [UInt8](repeating: 0, count: 12) + provider.bytes]
        let data = try ABI.encode([.uint256, .uint256], [.uint(10), .uint(3)])
        #expect(try event.decode(topics: topics, data: data) == [.address(user), .address(provider), .uint(10), .uint(3)])
        #expect(throws: ABIError.self) { try event.decode(topics: Array(topics.prefix(2)), data: data) }
    }

    @Test("type parsing refuses malformed types")
    func typeParsing() throws {
        #expect(try ABIType(parsing: "uint").canonical == "uint256")
        #expect(try ABIType(parsing: "(uint256,(address,bytes)[])[2][]").canonical == "(uint256,(address,bytes)[])[2][]")
        for bad in ["uint7", "uint264", "bytes33", "bytes0", "(uint256", "uint256[", "foo", "uint256]", "uint08"] {
            #expect(throws: ABIError.self, "\(bad)") { try ABIType(parsing: bad) }
        }
        #expect(throws: ABIError.self) { try ABI.encode([.uint8], [.uint(256)]) }
        #expect(throws: ABIError.self) { try ABI.encode([.address], [.uint(1)]) }
    }
}

/// An `Account` in the vectors' JSON form (a tuple with a `Refund[]`).
private var sampleAccount: [Any] { [
    "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf", "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF", "4",
    "3000000000000000000", "1000000000000000000",
    [["0", "1000000000000000000", "1700000000", false], ["1", "5", "1700000100", true]],
    "info", true, "2", "1", "5",
] }
