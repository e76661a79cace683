import CSecp256k1

/// The process-wide libsecp256k1 context.
///
/// libsecp256k1 allows concurrent use of one context by any number of threads for signing,
/// verification and recovery; only randomisation and destruction need exclusive access, and both
/// happen once, here, before the context is shared.
final class Secp256k1Context: @unchecked Sendable {
    static let shared = Secp256k1Context()
    let pointer: OpaquePointer

    private init() {
        pointer = secp256k1_context_create(UInt32(1))!  // SECP256K1_CONTEXT_NONE
        var seed = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in seed.indices { seed[index] = generator.next() }
        _ = secp256k1_context_randomize(pointer, seed)
    }
}

/// A secp256k1 private key: signs hashes with recoverable, low-s ECDSA (RFC 6979 nonces).
///
/// The key's bytes are never printed: `description` shows only the address, so a key that
/// ends up in a log line or an error message does not leak.
public struct PrivateKey: Sendable, CustomStringConvertible {
    private let secret: [UInt8]
    /// The public key, computed once.
    public let publicKey: PublicKey

    /// Reads a 32-byte key from hex (with or without `0x`); refuses zero and values ≥ the curve order.
    public init(hex text: String) throws(SigningError) {
        guard let bytes = try? [UInt8](hex: text.trimmingWhitespace()) else { throw .invalidPrivateKey("not hexadecimal") }
        try self.init(bytes: bytes)
    }

    public init(bytes: [UInt8]) throws(SigningError) {
        guard bytes.count == 32 else { throw .invalidPrivateKey("expected 32 bytes, got \(bytes.count)") }
        let context = Secp256k1Context.shared.pointer
        guard secp256k1_ec_seckey_verify(context, bytes) == 1 else { throw .invalidPrivateKey("outside the curve order") }
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_create(context, &pubkey, bytes) == 1 else { throw .invalidPrivateKey("no public key") }
        self.secret = bytes
        self.publicKey = PublicKey(pubkey)
    }

    /// A fresh random key (for ephemeral wallets in tests and the sandbox).
    public static func random() -> PrivateKey {
        var generator = SystemRandomNumberGenerator()
        while true {
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if let key = try? PrivateKey(bytes: bytes) { return key }
        }
    }

    public var address: Address { publicKey.address }

    /// The raw 32 bytes. Only for handing the key to something that must hold it
    /// (a keystore, a test fixture); never log them.
    public var rawBytes: [UInt8] { secret }

    /// Signs a 32-byte hash. The signature is low-s, as Ethereum requires.
    public func sign(hash: [UInt8]) throws(SigningError) -> Signature {
        guard hash.count == 32 else { throw .invalidHash(hash.count) }
        let context = Secp256k1Context.shared.pointer
        var signature = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_sign_recoverable(context, &signature, hash, secret, nil, nil) == 1 else {
            throw .signingFailed
        }
        var compact = [UInt8](repeating: 0, count: 64)
        var recoveryID: Int32 = 0
        secp256k1_ecdsa_recoverable_signature_serialize_compact(context, &compact, &recoveryID, &signature)
        return Signature(r: Array(compact[0..<32]), s: Array(compact[32..<64]), recoveryID: UInt8(recoveryID))
    }

    public var description: String { "PrivateKey(\(address))" }
}

/// An uncompressed secp256k1 public key.
public struct PublicKey: Sendable, Hashable {
    /// X ‖ Y, 64 bytes (without the 0x04 prefix).
    public let coordinates: [UInt8]

    init(_ key: secp256k1_pubkey) {
        var key = key
        var output = [UInt8](repeating: 0, count: 65)
        var length = 65
        secp256k1_ec_pubkey_serialize(Secp256k1Context.shared.pointer, &output, &length, &key, UInt32(2))  // SECP256K1_EC_UNCOMPRESSED
        coordinates = Array(output[1...])
    }

    /// The 65-byte SEC1 uncompressed form (0x04 ‖ X ‖ Y).
    public var uncompressed: [UInt8] { [0x04] + coordinates }

    public var address: Address { Address(publicKeyCoordinates: coordinates) }
}

/// A recoverable ECDSA signature: r, s and the recovery id (0 or 1).
public struct Signature: Sendable, Hashable {
    public let r: [UInt8]
    public let s: [UInt8]
    /// 0 or 1: which of the two candidate public keys signed.
    public let recoveryID: UInt8

    public init(r: [UInt8], s: [UInt8], recoveryID: UInt8) {
        self.r = r
        self.s = s
        self.recoveryID = recoveryID
    }

    /// Reads the 65-byte `r ‖ s ‖ v` form; `v` may be 0/1 or 27/28.
    public init(bytes: [UInt8]) throws(SigningError) {
        guard bytes.count == 65 else { throw .invalidSignature("expected 65 bytes, got \(bytes.count)") }
        let v = bytes[64]
        let recovery: UInt8
        switch v {
        case 0, 1: recovery = v
        case 27, 28: recovery = v - 27
        default: throw .invalidSignature("v must be 0, 1, 27 or 28, got \(v)")
        }
        self.init(r: Array(bytes[0..<32]), s: Array(bytes[32..<64]), recoveryID: recovery)
    }

    /// `r ‖ s ‖ v` with v = 27 or 28, the form of `personal_sign` and of the 0G tokens.
    public var bytesWithV27: [UInt8] { r + s + [recoveryID + 27] }

    /// Recovers the public key that made this signature over `hash`.
    public func recoverPublicKey(hash: [UInt8]) throws(SigningError) -> PublicKey {
        guard hash.count == 32 else { throw .invalidHash(hash.count) }
        let context = Secp256k1Context.shared.pointer
        var signature = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_recoverable_signature_parse_compact(context, &signature, r + s, Int32(recoveryID)) == 1 else {
            throw .invalidSignature("r or s out of range")
        }
        var pubkey = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(context, &pubkey, &signature, hash) == 1 else {
            throw .invalidSignature("no public key recovers from it")
        }
        return PublicKey(pubkey)
    }

    /// `ecrecover`: the address that signed `hash`.
    public func recoverAddress(hash: [UInt8]) throws(SigningError) -> Address {
        try recoverPublicKey(hash: hash).address
    }
}

/// Why a key, a signature or a signing operation was refused.
public enum SigningError: Error, Equatable, CustomStringConvertible {
    case invalidPrivateKey(String)
    case invalidHash(Int)
    case invalidSignature(String)
    case signingFailed

    public var description: String {
        switch self {
        case .invalidPrivateKey(let reason): return "invalid private key: \(reason)"
        case .invalidHash(let count): return "a signed hash must be 32 bytes, got \(count)"
        case .invalidSignature(let reason): return "invalid signature: \(reason)"
        case .signingFailed: return "signing failed"
        }
    }
}
