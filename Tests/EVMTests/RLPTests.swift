import EVM
import Testing

@Suite("RLP")
struct RLPTests {
    static func item(_ json: Any) throws -> RLP {
        if let list = json as? [Any] { return .list(try list.map(item)) }
        return .bytes(try Vectors.bytes(json))
    }

    @Test("encodes and decodes like pyrlp")
    func valid() throws {
        let vectors = try Vectors.list(try Vectors.load("rlp.json"), "valid")
        for vector in vectors {
            let expected = try Self.item(vector["value"]!)
            let encoded = try Vectors.bytes(vector["encoded"])
            #expect(expected.encoded == encoded, "\(vector["name"] ?? "")")
            #expect(try RLP.decode(encoded) == expected, "\(vector["name"] ?? "")")
            if let integer = vector["integer"] {
                #expect(RLP.uint(try Vectors.uint(integer)).encoded == encoded)
                #expect(try RLP.decode(encoded).uintValue() == (try Vectors.uint(integer)))
            }
        }
    }

    @Test("refuses every non-canonical or malformed input pyrlp refuses")
    func invalid() throws {
        let vectors = try Vectors.list(try Vectors.load("rlp.json"), "invalid")
        for vector in vectors {
            let encoded = try Vectors.bytes(vector["encoded"])
            #expect(throws: RLPError.self, "\(vector["name"] ?? "")") { try RLP.decode(encoded) }
        }
    }

    @Test("integers with leading zeros are refused")
    func integerLeadingZero() throws {
        #expect(throws: RLPError.self) { try RLP.decode([0x82, 0x00, 0x01]).uintValue() }
    }
}
