/// Keccak-256 as Ethereum uses it: the original Keccak padding (`0x01`), not SHA3-256's (`0x06`).
///
/// swift-crypto has SHA-3 on some platforms only and no Keccak at all, so this is written out
/// here. It is a straightforward Keccak-f[1600] over 25 lanes of 64 bits with a 136-byte rate.
public struct Keccak256: Sendable {
    /// Bytes absorbed per permutation.
    public static let rate = 136

    private var state = [UInt64](repeating: 0, count: 25)
    private var buffer = [UInt8]()

    public init() {
        buffer.reserveCapacity(Self.rate)
    }

    /// Absorbs more input.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            buffer.append(byte)
            if buffer.count == Self.rate {
                absorbBlock()
            }
        }
    }

    /// Pads, permutes and returns the 32-byte digest. The hasher must not be used afterwards.
    public mutating func finalize() -> [UInt8] {
        var block = buffer
        block.append(0x01)
        while block.count < Self.rate { block.append(0) }
        block[Self.rate - 1] |= 0x80
        buffer = block
        absorbBlock()
        var digest = [UInt8]()
        digest.reserveCapacity(32)
        for lane in 0..<4 {
            var value = state[lane]
            for _ in 0..<8 {
                digest.append(UInt8(truncatingIfNeeded: value))
                value >>= 8
            }
        }
        return digest
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = Keccak256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    private mutating func absorbBlock() {
        buffer.withUnsafeBufferPointer { block in
            for lane in 0..<(Self.rate / 8) {
                var value: UInt64 = 0
                for byte in 0..<8 {
                    value |= UInt64(block[lane * 8 + byte]) << (8 * UInt64(byte))
                }
                state[lane] ^= value
            }
        }
        buffer.removeAll(keepingCapacity: true)
        state.withUnsafeMutableBufferPointer { keccakF1600($0) }
    }
}

/// Keccak-256 of a UTF-8 string.
public func keccak256(_ text: String) -> [UInt8] { Keccak256.hash(Array(text.utf8)) }

/// Keccak-256 of bytes.
public func keccak256(_ bytes: [UInt8]) -> [UInt8] { Keccak256.hash(bytes) }

private let roundConstants: [UInt64] = [
    0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
    0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
    0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
    0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
    0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
    0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
]

/// Rotation offsets of the rho step, indexed by lane (x + 5y).
private let rotations: [UInt64] = [
    0, 1, 62, 28, 27,
    36, 44, 6, 55, 20,
    3, 10, 43, 25, 39,
    41, 45, 15, 21, 8,
    18, 2, 61, 56, 14,
]

@inline(__always)
private func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { n == 0 ? x : (x << n) | (x >> (64 - n)) }

private func keccakF1600(_ a: UnsafeMutableBufferPointer<UInt64>) {
    var c = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    var b = [UInt64](repeating: 0, count: 25)
    for round in 0..<24 {
        // θ
        c.0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20]
        c.1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
        c.2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22]
        c.3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
        c.4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
        let d0 = c.4 ^ rotl(c.1, 1)
        let d1 = c.0 ^ rotl(c.2, 1)
        let d2 = c.1 ^ rotl(c.3, 1)
        let d3 = c.2 ^ rotl(c.4, 1)
        let d4 = c.3 ^ rotl(c.0, 1)
        for y in stride(from: 0, to: 25, by: 5) {
            a[y] ^= d0
            a[y + 1] ^= d1
            a[y + 2] ^= d2
            a[y + 3] ^= d3
            a[y + 4] ^= d4
        }
        // ρ and π: lane (x, y) moves to (y, 2x + 3y).
        for x in 0..<5 {
            for y in 0..<5 {
                let from = x + 5 * y
                let to = y + 5 * ((2 * x + 3 * y) % 5)
                b[to] = rotl(a[from], rotations[from])
            }
        }
        // χ
        for y in stride(from: 0, to: 25, by: 5) {
            for x in 0..<5 {
                a[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5])
            }
        }
        // ι
        a[0] ^= roundConstants[round]
    }
}
