/// How an upstream SSE stream becomes what the client receives: passed through with the
/// injected usage removed (``SSERelay``), or translated to another API's events
/// (``ResponsesStreamTranslator``).
protocol StreamTransform: Sendable {
    /// Upstream bytes in; bytes for the client out (possibly none yet).
    mutating func feed(_ bytes: some Collection<UInt8>) -> [UInt8]
    /// Called once when the upstream ends normally.
    mutating func flush() -> [UInt8]
    /// The event that tells this client the stream failed.
    func failureEvent(_ error: OpenAIError) -> [UInt8]
}

extension SSERelay: StreamTransform {
    /// A `data:` event carrying the OpenAI error envelope: the SDKs raise it as an APIError.
    func failureEvent(_ error: OpenAIError) -> [UInt8] {
        Array("data: ".utf8) + error.body + Array("\n\n".utf8)
    }
}
