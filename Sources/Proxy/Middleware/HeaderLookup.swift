import HTTPTypes
import NIOHTTP1

/// A request header read by name from either header type the gateway sees: swift-http-types'
/// `HTTPFields` in the router, and NIO's `HTTPHeaders` in the direct relay, which reads requests
/// before they are converted (see ``DirectRelayHandler``). Helpers that inspect a request's
/// headers (its credential, request id, client address) are written once against this.
protocol HeaderLookup {
    /// The first value of the header `name` (names compare case-insensitively).
    subscript(header name: HTTPField.Name) -> String? { get }
}

extension HTTPFields: HeaderLookup {
    subscript(header name: HTTPField.Name) -> String? { self[name] }
}

extension HTTPHeaders: HeaderLookup {
    subscript(header name: HTTPField.Name) -> String? { first(name: name.rawName) }
}

extension HeaderLookup {
    /// `Authorization: Bearer …` or `x-api-key`, without surrounding spaces.
    var credential: Substring? {
        if let header = self[header: .authorization], header.utf8.count > 7 {
            let scheme = header.utf8.prefix(7)
            if scheme.elementsEqual("bearer ".utf8, by: { $0 | 0x20 == $1 }) { return trimmedBlanks(Substring(header.utf8.dropFirst(7))) }
        }
        return self[header: .apiKey].map { trimmedBlanks($0[...]) }
    }
}

/// Without leading and trailing spaces and tabs (on bytes: no grapheme breaking per request).
private func trimmedBlanks(_ text: Substring) -> Substring {
    let bytes = text.utf8
    var start = bytes.startIndex
    var end = bytes.endIndex
    func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
    while start < end, isBlank(bytes[start]) { bytes.formIndex(after: &start) }
    while start < end, isBlank(bytes[bytes.index(before: end)]) { bytes.formIndex(before: &end) }
    return Substring(bytes[start..<end])
}
