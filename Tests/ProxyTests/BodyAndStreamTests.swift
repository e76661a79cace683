import Foundation
import HTTPTypes
import Testing
@testable import Proxy

@Suite("Opaque bodies and stream relaying")
struct BodyAndStreamTests {
    @Test("edits splice values in place and leave every other byte alone")
    func jsonBodyEdits() throws {
        let original = #"{ "messages" : [{"role":"user","content":"a \"quoted\" } ]"}], "model":"alias", "tools":[{"x":1e3,"strict":false}], "weird key":null }"#
        var body = try JSONBody(Array(original.utf8))
        #expect(body.string("model") == "alias")
        #expect(body.bool("stream") == nil)
        body.set("model", string: "real/model-1")
        let edited = String(decoding: body.bytes, as: UTF8.self)
        #expect(edited == original.replacingOccurrences(of: #""alias""#, with: #""real/model-1""#))
        body.set("stream_options", rawJSON: Array(#"{"include_usage":true}"#.utf8))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body.bytes)) as? [String: Any])
        #expect((object["stream_options"] as? [String: Bool]) == ["include_usage": true])
        #expect(String(decoding: body.bytes, as: UTF8.self).contains(#""tools":[{"x":1e3,"strict":false}]"#))
        var empty = try JSONBody(Array("{}".utf8))
        empty.set("model", string: "m")
        #expect(String(decoding: empty.bytes, as: UTF8.self) == #"{"model":"m"}"#)
    }

    @Test("non-objects and broken JSON are refused", arguments: ["", "[]", "{", #"{"a":}"#, #"{"a":1,}"#, #"{"a":1} x"#, #"{"a":"unterminated}"#, #"{"a":tru}"#, "\"s\""])
    func jsonBodyErrors(text: String) {
        #expect(throws: JSONBodyError.self) { try JSONBody(Array(text.utf8)) }
    }

    @Test("the injected usage chunk and usage:null members are removed, other events pass untouched")
    func relayStripsUsage() {
        let upstream = """
        data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}

        data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}

        data: {"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}

        data: [DONE]


        """
        let expected = """
        data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}]}

        data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

        data: [DONE]


        """
        let bytes = Array(upstream.utf8)
        for split in [1, 3, 17, bytes.count] {
            var relay = SSERelay(stripUsage: true)
            var output = [UInt8]()
            var index = 0
            while index < bytes.count {
                output += relay.feed(bytes[index..<min(index + split, bytes.count)])
                index += split
            }
            output += relay.flush()
            #expect(String(decoding: output, as: UTF8.self) == expected, "split \(split)")
        }
        var passthrough = SSERelay(stripUsage: false)
        #expect(passthrough.feed(bytes) + passthrough.flush() == bytes)
        // Whatever follows [DONE] (OCF heads add a comment) is not relayed.
        var trailing = SSERelay(stripUsage: false)
        let withComment = Array("data: {}\n\ndata: [DONE]\n\n: otela-head-first-byte=0.001\n\n".utf8)
        #expect(trailing.feed(withComment) + trailing.feed(Array("data: late\n\n".utf8)) + trailing.flush() == Array("data: {}\n\ndata: [DONE]\n\n".utf8))
    }

    @Test("errors use the OpenAI envelope with a string code")
    func envelope() throws {
        let error = OpenAIError.modelNotFound("x")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(error.body)) as? [String: [String: Any]])
        let inner = try #require(object["error"])
        #expect(Set(inner.keys) == ["message", "type", "param", "code"])
        #expect(inner["code"] as? String == "model_not_found")
        #expect(error.status.code == 404)
        let noParam = OpenAIError.invalidAPIKey()
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(noParam.body)) as? [String: [String: Any]])
        #expect(parsed["error"]?["param"] is NSNull)
    }
}
