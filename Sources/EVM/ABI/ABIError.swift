/// Why ABI encoding or decoding failed. Decoding never traps on hostile input: every
/// offset and length is checked against the data first and refused with one of these.
public enum ABIError: Error, Equatable, CustomStringConvertible {
    case invalidType(String, String)
    /// A value does not match the type it is encoded as.
    case typeMismatch(expected: String, found: String)
    /// A value does not fit its type (e.g. 256 in a `uint8`).
    case outOfRange(type: String, value: String)
    /// The data is too short, an offset points outside it, or a length runs past its end.
    case outOfBounds(String)
    /// Padding bytes that must be zero are not, or a `bool` is neither 0 nor 1.
    case invalidEncoding(String)
    case wrongArgumentCount(expected: Int, found: Int)
    case selectorMismatch(expected: String, found: String)

    public var description: String {
        switch self {
        case .invalidType(let text, let reason): return "invalid ABI type \"\(text)\": \(reason)"
        case .typeMismatch(let expected, let found): return "ABI value mismatch: expected \(expected), found \(found)"
        case .outOfRange(let type, let value): return "value \(value) does not fit \(type)"
        case .outOfBounds(let what): return "ABI data out of bounds: \(what)"
        case .invalidEncoding(let what): return "invalid ABI encoding: \(what)"
        case .wrongArgumentCount(let expected, let found): return "expected \(expected) ABI values, found \(found)"
        case .selectorMismatch(let expected, let found): return "selector \(found) is not \(expected)"
        }
    }
}
