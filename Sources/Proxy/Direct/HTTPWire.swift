import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization

/// The direct relay's two HTTP/1.1 messages, each written as one buffer: a request with a
/// known length to an upstream, and a whole answer to a client.
///
/// NIO's general encoders write head, body and end as separate buffers and validate every
/// header of every message; the relay's messages have fixed shapes, so they are laid out
/// directly. An upstream request's head is the same for every request to one upstream path
/// with one credential, so it is laid out (and checked) once, by ``UpstreamRequestHeads``.
enum HTTPWire {
    /// The head of a `POST` with a JSON body to `origin` at `uri`, up to (not including) its
    /// `Content-Length`; nil when a part cannot go on the wire as it is: a control character (CR,
    /// LF, NUL… which would let a value inject headers; a tab is allowed in values), a space in
    /// the URI, or an empty URI.
    static func requestHead(origin: UpstreamOrigin, uri: String, authorization: String?) -> [UInt8]? {
        let host = origin.hostHeader
        guard !uri.isEmpty, isClean(uri, isValue: false), isClean(host, isValue: false), authorization.map({ isClean($0, isValue: true) }) ?? true else {
            return nil
        }
        var head = "POST \(uri) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\n"
        if let authorization { head += "Authorization: \(authorization)\r\n" }
        return Array(head.utf8)
    }

    private static func isClean(_ text: String, isValue: Bool) -> Bool {
        text.utf8.allSatisfy { byte in
            // Spaces and tabs may be inside a value.
            byte >= 0x21 && byte != 0x7f || (isValue && (byte == 0x20 || byte == 0x09))
        }
    }

    /// A whole upstream request: its head (from ``requestHead(origin:uri:authorization:)``),
    /// `Content-Length`, the empty line and the body.
    static func request(head: [UInt8], body: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: head.count + 32 + body.count)
        buffer.writeBytes(head)
        buffer.writeStaticString("Content-Length: ")
        buffer.writeString(String(body.count))
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeBytes(body)
        return buffer
    }

    /// A whole answer written into one buffer: the status line, then headers as they are added,
    /// then (``finish(body:)``) the empty line and the body. Values must come from a parsed
    /// message or from the gateway itself (no CR or LF).
    struct Answer {
        private var buffer: ByteBuffer

        init(status: HTTPResponseStatus, bodyLength: Int, allocator: ByteBufferAllocator) {
            buffer = allocator.buffer(capacity: 512 + bodyLength)
            if status == .ok {
                buffer.writeStaticString("HTTP/1.1 200 OK\r\n")
            } else {
                buffer.writeStaticString("HTTP/1.1 ")
                buffer.writeString(String(status.code))
                buffer.writeStaticString(" ")
                buffer.writeString(status.reasonPhrase)
                buffer.writeStaticString("\r\n")
            }
        }

        mutating func add(_ name: HTTPField.Name, _ value: String) {
            buffer.writeString(name.rawName)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }

        mutating func add(contentsOf fields: HTTPFields) {
            for field in fields { add(field.name, field.value) }
        }

        /// The whole answer (written into while this owns it alone: no copy).
        mutating func finish(body: ByteBuffer) -> ByteBuffer {
            var body = body
            buffer.writeStaticString("\r\n")
            buffer.writeBuffer(&body)
            return buffer
        }
    }
}

/// The request heads of one upstream (its origin and base path), laid out and checked once
/// per route path and credential (see ``HTTPWire/requestHead(origin:uri:authorization:)``),
/// shared by the event loops.
///
/// A backend's plans name the same few heads over and over (one per route, signed with the
/// endpoint's key or a 0G provider's session token); building and checking each per request
/// showed in the relay's profile. A changed credential (a rotated session token) lays the
/// route's head out again; the credential is compared, not hashed, on every request.
final class UpstreamRequestHeads: Sendable {
    let origin: UpstreamOrigin
    /// The base URL's path, to which a route's path is appended.
    let basePath: String
    private let heads = Mutex<[String: (authorization: String?, head: [UInt8]?)]>([:])

    init(origin: UpstreamOrigin, basePath: String) {
        self.origin = origin
        self.basePath = basePath
    }

    /// The head of requests to the route `path`, nil when it cannot be sent (see ``HTTPWire``).
    func head(path: String, authorization: String?) -> [UInt8]? {
        if let known = heads.withLock({ $0[path] }), known.authorization == authorization { return known.head }
        let head = HTTPWire.requestHead(origin: origin, uri: basePath + path, authorization: authorization)
        heads.withLock { $0[path] = (authorization, head) }
        return head
    }
}

/// NIO's HTTP/1 response decoder for connections whose requests are written as whole
/// buffers (``HTTPWire/request(head:body:allocator:)``), one `POST` each.
///
/// The decoder must see each request's head to read its answer (a `HEAD` has no body, an
/// answer with no request is refused); written as bytes, the head never passes as a part,
/// so every buffer written is noted as the `POST` it is.
struct UpstreamResponseDecoder: WriteObservingByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart
    typealias OutboundIn = ByteBuffer

    private let decoder = HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)
    private static let post = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")

    mutating func write(data: ByteBuffer) {
        decoder.write(data: .head(Self.post))
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try decoder.decode(context: context, buffer: &buffer)
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    mutating func decoderAdded(context: ChannelHandlerContext) {
        decoder.decoderAdded(context: context)
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) {
        decoder.decoderRemoved(context: context)
    }
}
