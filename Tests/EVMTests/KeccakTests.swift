import EVM
import Testing

@Suite("Keccak-256")
struct KeccakTests {
    @Test("standard vectors")
    func standardVectors() {
        #expect(keccak256("").prefixedHex == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(keccak256("abc").prefixedHex == "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
        #expect(
            keccak256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").prefixedHex
                == "0x45d3b367a6904e6e8d502ee04999a7c27647f91fa845d456525fd352ae3d7371"
        )
    }

    @Test("1,307 inputs match eth-hash, across every rate boundary")
    func matchesEthHash() throws {
        let vectors = try Vectors.list(try Vectors.load("keccak.json"), "vectors")
        #expect(vectors.count >= 1300)
        for vector in vectors {
            let input = try Vectors.bytes(vector["input"])
            #expect(keccak256(input) == (try Vectors.bytes(vector["hash"])), "input of \(input.count) bytes")
        }
    }

    @Test("long repeated messages, fed in uneven pieces")
    func repeatedMessages() throws {
        let vectors = try Vectors.list(try Vectors.load("keccak.json"), "repeated")
        for vector in vectors {
            let byte = try Vectors.bytes(vector["byte"])[0]
            let count = vector["count"] as? Int ?? 0
            var hasher = Keccak256()
            var remaining = count
            var piece = 1
            while remaining > 0 {
                let size = min(piece, remaining)
                hasher.update(repeatElement(byte, count: size))
                remaining -= size
                piece = piece * 3 % 1009 + 1
            }
            #expect(hasher.finalize() == (try Vectors.bytes(vector["hash"])), "\(count) × \(byte)")
        }
    }
}
