import HTTPTypes
import NIOCore
import NIOHTTP1

/// The direct relay's two HTTP/1.1 messages, each written as one buffer: a request with a
/// known length to an upstream, and a whole answer to a client.
///
/// NIO's general encoders write head, body and end as separate buffers and validate every
/// header of every message; the relay's messages have fixed shapes, so they are laid out
/// directly, and an upstream request's headers are checked with ``canSend(_:)`` first.
enum HTTPWire {
    /// Whether a request head can go on the wire as it is: no control character (CR, LF, NUL…
    /// which would let a value inject headers; a tab is allowed in values), no space in the
    /// URI or a name, no `:` in a name.
    static func canSend(_ head: HTTPRequestHead) -> Bool {
        guard isClean(head.uri, isValue: false, allowsColon: true) else { return false }
        for (name, value) in head.headers where !isClean(name, isValue: false, allowsColon: false) || !isClean(value, isValue: true, allowsColon: true) {
            return false
        }
        return true
    }

    private static func isClean(_ text: String, isValue: Bool, allowsColon: Bool) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            for byte in bytes where byte < 0x21 || byte == 0x7f || (!allowsColon && byte == UInt8(ascii: ":")) {
                // Spaces and tabs may be inside a value.
                guard isValue, byte == 0x20 || byte == 0x09 else { return false }
            }
            return true
        }
    }

    /// `METHOD uri HTTP/1.1` and the headers, up to the empty line.
    static func writeHead(_ head: HTTPRequestHead, into buffer: inout ByteBuffer) {
        buffer.writeString(head.method.rawValue)
        buffer.writeStaticString(" ")
        buffer.writeString(head.uri)
        buffer.writeStaticString(" HTTP/1.1\r\n")
        for (name, value) in head.headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
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

        consuming func finish(body: ByteBuffer) -> ByteBuffer {
            var body = body
            buffer.writeStaticString("\r\n")
            buffer.writeBuffer(&body)
            return buffer
        }
    }

}

/// Writes the relay's upstream requests (head, body, end) as one buffer, in the place of NIO's
/// `HTTPRequestEncoder`: the response decoder still sees each head on its way (it needs the
/// method to read the answer).
final class UpstreamRequestWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = ByteBuffer

    private var pending: ByteBuffer?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            let length = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            var buffer = context.channel.allocator.buffer(capacity: 256 + head.headers.count * 48 + length)
            HTTPWire.writeHead(head, into: &buffer)
            pending = buffer
            promise?.succeed()
        case .body(.byteBuffer(var part)):
            pending?.writeBuffer(&part)
            promise?.succeed()
        case .body(.fileRegion):
            promise?.fail(ChannelError.operationUnsupported)
        case .end:
            guard let buffer = pending else {
                promise?.succeed()
                return
            }
            pending = nil
            context.write(wrapOutboundOut(buffer), promise: promise)
        }
    }
}
