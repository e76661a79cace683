#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Substring search over bytes with `memchr` and `memcmp`: the relay and the usage scanner look
/// for a few fixed markers (`"usage"`, `data: [DONE]`) in every streamed event, and the
/// standard library's generic `firstRange(of:)` costs far more than the search itself.
public enum ByteSearch {
    /// The offset of the first `pattern` in `bytes`, or nil.
    public static func firstIndex(of pattern: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard !pattern.isEmpty else { return 0 }
        guard bytes.count >= pattern.count, let base = bytes.baseAddress else { return nil }
        return pattern.withUnsafeBytes { needle -> Int? in
            let first = Int32(needle[0])
            var offset = 0
            let last = bytes.count - pattern.count
            while offset <= last {
                guard let hit = memchr(base + offset, first, last - offset + 1) else { return nil }
                let position = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + position, needle.baseAddress!, pattern.count) == 0 { return position }
                offset = position + 1
            }
            return nil
        }
    }

    /// The index (in `bytes`' own indices) of the first `pattern`, or nil.
    public static func firstIndex(of pattern: [UInt8], in bytes: ArraySlice<UInt8>) -> Int? {
        bytes.withUnsafeBytes { firstIndex(of: pattern, in: $0) }.map { bytes.startIndex + $0 }
    }

    public static func firstIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { firstIndex(of: pattern, in: $0) }
    }

    public static func contains(_ pattern: [UInt8], in bytes: ArraySlice<UInt8>) -> Bool { firstIndex(of: pattern, in: bytes) != nil }
}
