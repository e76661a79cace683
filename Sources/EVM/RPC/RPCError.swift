/// A failed JSON-RPC call.
///
/// A node's own error keeps its code, message and `data`, so a revert's bytes survive all the
/// way to the caller, which can decode them into the contract's custom error.
public struct RPCError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The request never got an answer (connection refused, reset, DNS, TLS).
        case transport
        /// No answer within the configured timeout.
        case timeout
        /// An HTTP status other than 200 (429 after the retries ran out, 5xx, …).
        case httpStatus(Int)
        /// The node answered with a JSON-RPC error object.
        case node(code: Int)
        /// The answer was not the JSON-RPC we expect.
        case invalidResponse
    }

    public let kind: Kind
    public let method: String
    public let message: String
    /// The error's `data`, raw. For reverts (`code 3`) this is the revert data.
    public let data: JSONValue?

    public init(kind: Kind, method: String, message: String, data: JSONValue? = nil) {
        self.kind = kind
        self.method = method
        self.message = message
        self.data = data
    }

    /// The revert bytes, when the node reported an execution revert with data.
    public var revertData: [UInt8]? {
        guard case .node = kind, let hex = data?.stringValue ?? data?["data"]?.stringValue,
              let bytes = try? [UInt8](hex: hex) else { return nil }
        return bytes
    }

    /// Whether the node said the execution reverted (geth's code 3, or its message).
    public var isExecutionRevert: Bool {
        if case .node(let code) = kind, code == 3 { return true }
        return message.lowercased().contains("execution reverted")
    }

    /// Transport failures, timeouts, 429 and 5xx are worth retrying; a node's verdict is not.
    public var isRetryable: Bool {
        switch kind {
        case .transport, .timeout: return true
        case .httpStatus(let status): return status == 429 || status >= 500
        case .node, .invalidResponse: return false
        }
    }

    public var description: String {
        switch kind {
        case .transport: return "\(method): RPC unreachable: \(message)"
        case .timeout: return "\(method): RPC timed out: \(message)"
        case .httpStatus(let status): return "\(method): RPC answered HTTP \(status): \(message)"
        case .node(let code): return "\(method): node error \(code): \(message)"
        case .invalidResponse: return "\(method): invalid RPC response: \(message)"
        }
    }
}
