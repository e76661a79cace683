import EVM
import Foundation
import Testing

@Suite("Keys, addresses and signatures")
struct KeyAndSignatureTests {
    @Test("public keys and addresses match eth-keys")
    func keys() throws {
        let file = try Vectors.load("keys.json")
        for vector in try Vectors.list(file, "keys") {
            let key = try PrivateKey(hex: vector["privateKey"] as! String)
            #expect(key.publicKey.uncompressed == (try Vectors.bytes(vector["publicKey"])))
            #expect(key.address.checksummed == vector["address"] as? String)
        }
    }

    @Test("EIP-55 checksums; any case accepted, strict mode checks mixed case")
    func checksums() throws {
        let file = try Vectors.load("keys.json")
        for vector in try Vectors.list(file, "checksums") {
            let lower = vector["lower"] as! String
            let checksummed = vector["checksummed"] as! String
            #expect(try Address(hex: lower).checksummed == checksummed)
            #expect(try Address(hex: checksummed, strict: true).checksummed == checksummed)
            #expect(try Address(hex: "0x" + lower.dropFirst(2).uppercased()) == (try Address(hex: lower)))
        }
        let good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        let bad = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"
        #expect(throws: AddressError.self) { try Address(hex: bad, strict: true) }
        #expect(try Address(hex: bad) == (try Address(hex: good)))
        for malformed in ["5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x1234", "0xZZAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"] {
            #expect(throws: AddressError.self) { try Address(hex: malformed) }
        }
    }

    @Test("private keys outside the curve order are refused, and never printed")
    func invalidKeys() throws {
        #expect(throws: SigningError.self) { try PrivateKey(hex: "0x" + String(repeating: "0", count: 64)) }
        #expect(throws: SigningError.self) {
            try PrivateKey(hex: "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        }
        #expect(throws: SigningError.self) { try PrivateKey(hex: "0x1234") }
        let secret = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
        let key = try PrivateKey(hex: secret)
        #expect(!"\(key)".contains(secret))
        #expect(!String(reflecting: key).contains(secret.prefix(16)))
    }

    @Test("hash signatures are byte-identical to eth-account's (RFC 6979, low s) and recover")
    func hashSignatures() throws {
        let vectors = try Vectors.list(try Vectors.load("signatures.json"), "hashSignatures")
        let halfOrder = try UInt256(bigEndian: [UInt8](hex: "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"))!
        for vector in vectors {
            let key = try PrivateKey(hex: vector["privateKey"] as! String)
            let hash = try Vectors.bytes(vector["hash"])
            let signature = try key.sign(hash: hash)
            #expect(signature.bytesWithV27 == (try Vectors.bytes(vector["signature"])))
            #expect(Int(signature.recoveryID) == vector["v"] as? Int)
            #expect(UInt256(bigEndian: signature.s)! <= halfOrder)
            #expect(try signature.recoverAddress(hash: hash) == key.address)
        }
    }

    @Test("personal_sign over bytes and text, and the 0G session tokens")
    func personalSign() throws {
        let vectors = try Vectors.list(try Vectors.load("signatures.json"), "personalSign")
        var tokens = 0
        for vector in vectors {
            let key = try PrivateKey(hex: vector["privateKey"] as! String)
            let expected = try Vectors.bytes(vector["signature"])
            let signature: Signature
            if let text = vector["text"] as? String {
                #expect(PersonalMessage.hash(text: text) == (try Vectors.bytes(vector["digest"])))
                signature = try key.personalSign(text: text)
                #expect(try Signature(bytes: expected).recoverPersonalSigner(text: text) == key.address)
            } else {
                let message = try Vectors.bytes(vector["messageHex"])
                #expect(PersonalMessage.hash(message) == (try Vectors.bytes(vector["digest"])))
                signature = try key.personalSign(message)
                #expect(try Signature(bytes: expected).recoverPersonalSigner(message) == key.address)
            }
            #expect(signature.bytesWithV27 == expected)
            if let token = vector["sessionToken"] as? String, let authorization = vector["authorization"] as? String {
                // The 0G token signs keccak256(json) as a 32-byte message.
                #expect(keccak256(token) == (try Vectors.bytes(vector["messageHex"])))
                let payload = Array(token.utf8) + Array("|".utf8) + Array(signature.bytesWithV27.prefixedHex.utf8)
                #expect(authorization == "Bearer app-sk-" + Data(payload).base64EncodedString())
                tokens += 1
            }
        }
        #expect(tokens > 0)
    }

    @Test("malformed signatures are refused")
    func malformedSignatures() throws {
        #expect(throws: SigningError.self) { try Signature(bytes: [UInt8](repeating: 1, count: 64)) }
        #expect(throws: SigningError.self) { try Signature(bytes: [UInt8](repeating: 1, count: 64) + [29]) }
        let zero = try Signature(bytes: [UInt8](repeating: 0, count: 64) + [27])
        #expect(throws: SigningError.self) { try zero.recoverAddress(hash: [UInt8](repeating: 7, count: 32)) }
    }
}
