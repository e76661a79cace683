import Foundation
import EVM
import Testing
@testable import ZGBroker

@Suite("Fees and usage")
struct FeeAndUsageTests {
    static func service(input: UInt64, output: UInt64, info: String = "{}") -> Service {
        Service(
            provider: PrivateKey.random().address, serviceType: "chatbot", url: "http://p", inputPrice: UInt256(input),
            outputPrice: UInt256(output), updatedAt: 0, model: "m", verifiability: "TeeML", additionalInfo: info,
            teeSignerAddress: PrivateKey.random().address, teeSignerAcknowledged: true
        )
    }

    @Test("flat prices: prompt × input + completion × output, exactly")
    func flat() {
        let schedule = FeeSchedule(service: Self.service(input: 1_000_000_000, output: 2_000_000_000))
        #expect(schedule.fee(for: Usage(promptTokens: 13, completionTokens: 7)) == UInt256(13 * 1_000_000_000 + 7 * 2_000_000_000))
        #expect(schedule.fee(for: Usage(promptTokens: 0, completionTokens: 0)) == .zero)
        // Plain prices take a shortcut; it agrees with the general formula (one tier of ×1).
        let oneTier = #"{"tieredPricing":{"tiers":[{"maxInputTokens":0,"inputMultiplier":1,"outputMultiplier":1}]}}"#
        for (input, output) in [(UInt64(1_000_000_000), UInt64(2_000_000_000)), (.max, .max - 7), (0, 3)] {
            let plain = FeeSchedule(service: Self.service(input: input, output: output))
            let general = FeeSchedule(service: Self.service(input: input, output: output, info: oneTier))
            #expect(plain.tiers.isEmpty && general.tiers.count == 1)
            for usage in [Usage(promptTokens: 1, completionTokens: 0), Usage(promptTokens: 123_456, completionTokens: 789, cachedTokens: 5)] {
                #expect(plain.fee(for: usage) == general.fee(for: usage))
            }
        }
    }

    @Test("tiered pricing picks the tier by prompt size; decimal multipliers stay exact")
    func tiers() {
        let info = #"{"tieredPricing":{"tiers":[{"maxInputTokens":0,"inputMultiplier":3,"outputMultiplier":"2.5"},{"maxInputTokens":100,"inputMultiplier":1,"outputMultiplier":1}]}}"#
        let schedule = FeeSchedule(service: Self.service(input: 10, output: 7, info: info))
        #expect(schedule.tiers.first?.maxInputTokens == 100)
        #expect(schedule.fee(for: Usage(promptTokens: 100, completionTokens: 1)) == UInt256(100 * 10 + 7))
        // 101 prompt tokens: the unlimited tier, ×3 input and ×2.5 output (3 × 7 × 2.5 = 52.5 → 52).
        #expect(schedule.fee(for: Usage(promptTokens: 101, completionTokens: 3)) == UInt256(101 * 10 * 3 + 52))
    }

    @Test("cached prompt tokens cost input / divisor")
    func cache() {
        let schedule = FeeSchedule(service: Self.service(input: 1000, output: 0, info: #"{"cacheTokenBilling":{"divisor":10}}"#))
        #expect(schedule.fee(for: Usage(promptTokens: 50, completionTokens: 0, cachedTokens: 20)) == UInt256(30 * 1000 + 20 * 100))
        let noCacheRate = FeeSchedule(service: Self.service(input: 1000, output: 0))
        #expect(noCacheRate.fee(for: Usage(promptTokens: 50, completionTokens: 0, cachedTokens: 20)) == UInt256(50 * 1000))
    }

    @Test("usage objects of chat, Responses and partial shapes")
    func usageParsing() {
        let chat = Usage(json: ["prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8, "prompt_tokens_details": ["cached_tokens": 2]])
        #expect(chat == Usage(promptTokens: 5, completionTokens: 3, cachedTokens: 2))
        #expect(Usage(json: ["input_tokens": 4, "output_tokens": 1]) == Usage(promptTokens: 4, completionTokens: 1))
        #expect(Usage(json: NSNullValue()) == nil)
        #expect(Usage(json: ["completion_tokens": 3]) == nil)
    }

    @Test("the byte scan of a usage object agrees with the full parse", arguments: [
        #"{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}"#,
        #"{"prompt_tokens": 120, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 9}}"#,
        #"{"completion_tokens_details":{"reasoning_tokens":2},"prompt_tokens_details":{"cached_tokens":500},"prompt_tokens":40,"completion_tokens":3}"#,
        #"{"input_tokens":5,"output_tokens":6,"input_tokens_details":{"cached_tokens":1}}"#,
        #"{"prompt_tokens":8}"#,
        #"{"total_tokens":3}"#,
    ])
    func usageByteScan(_ text: String) throws {
        let parsed = Usage(json: try JSONSerialization.jsonObject(with: Data(text.utf8)))
        #expect(Usage(jsonBytes: Array(text.utf8)[...]) == parsed)
    }

    @Test("the SSE scanner finds the terminal usage, the id, [DONE] and errors, across any split")
    func sseScanner() {
        let stream = """
        data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"Hi"}}],"usage":null}\r
        \r
        : keep-alive

        data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}

        data: [DONE]


        """
        let bytes = Array(stream.utf8)
        for split in [1, 2, 7, 64, bytes.count] {
            var scanner = SSEUsageScanner()
            var index = 0
            while index < bytes.count {
                scanner.feed(bytes[index..<min(index + split, bytes.count)])
                index += split
            }
            #expect(scanner.usage == Usage(promptTokens: 9, completionTokens: 2), "split \(split)")
            #expect(scanner.streamID == "chatcmpl-1")
            #expect(scanner.sawDone)
            #expect(scanner.errorMessage == nil)
        }
        var failing = SSEUsageScanner()
        failing.feed(Array("data: {\"error\":{\"message\":\"upstream died\",\"type\":\"server_error\"}}\n\n".utf8))
        #expect(failing.errorMessage == "upstream died")
        #expect(!failing.sawDone)
    }
}

private struct NSNullValue {}
