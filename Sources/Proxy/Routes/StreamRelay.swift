import AsyncHTTPClient
import Crypto
import EVM
import Foundation
import Hummingbird
import Logging
import NIOCore
import ZGBroker

/// Relays one upstream SSE stream to the client.
///
/// Two child tasks feed one queue: the upstream reader and a heartbeat ticker. The writer
/// drains the queue, so events go out as they arrive and an SSE comment goes out when the
/// stream is quiet. If the client goes away the write fails, the task group is cancelled and
/// with it the upstream request. The raw upstream bytes are hashed for verification and
/// scanned for usage whatever is shown to the client.
struct StreamRelay<Transform: StreamTransform>: Sendable {
    let upstream: HTTPClientResponse
    let exchange: Exchange
    let transform: Transform
    let heartbeat: Duration
    let totalDeadline: ContinuousClock.Instant

    private enum Event: Sendable {
        case bytes(ByteBuffer)
        case heartbeat
        case end
        case failed(String)
    }

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        var relay = transform
        var scanner = SSEUsageScanner()
        var hasher = SHA256()
        var lastWrite = ContinuousClock.now
        var failure: String? = nil
        var clientGone = false
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        let upstream = self.upstream
        let heartbeat = self.heartbeat
        let hashes = exchange.answer.hashesResponse
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await buffer in upstream.body { continuation.yield(.bytes(buffer)) }
                    continuation.yield(.end)
                } catch {
                    continuation.yield(.failed("the 0G provider's stream broke off"))
                }
                continuation.finish()
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: heartbeat)
                    continuation.yield(.heartbeat)
                }
            }
            defer { group.cancelAll() }
            loop: for await event in events {
                switch event {
                case .bytes(let buffer):
                    let bytes = Array(buffer: buffer)
                    if hashes { hasher.update(data: bytes) }
                    scanner.feed(bytes)
                    let out = relay.feed(bytes)
                    if !out.isEmpty {
                        do {
                            try await writer.write(ByteBuffer(bytes: out))
                        } catch {
                            clientGone = true
                            break loop
                        }
                        lastWrite = .now
                    }
                    if ContinuousClock.now > totalDeadline {
                        failure = "the stream exceeded the gateway's total time limit"
                        break loop
                    }
                case .heartbeat:
                    if ContinuousClock.now - lastWrite >= heartbeat {
                        do {
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        } catch {
                            clientGone = true
                            break loop
                        }
                        lastWrite = .now
                    }
                case .end:
                    let rest = relay.flush()
                    if !rest.isEmpty { try await writer.write(ByteBuffer(bytes: rest)) }
                    if !scanner.sawDone && scanner.errorMessage == nil { failure = "the 0G provider ended the stream early" }
                    break loop
                case .failed(let reason):
                    failure = reason
                    break loop
                }
            }
            if let failure, !clientGone {
                let error = OpenAIError.upstream(.badGateway, "Stream interrupted: \(failure).", code: "stream_interrupted")
                try await writer.write(ByteBuffer(bytes: relay.failureEvent(error)))
                exchange.answer.reportFailure(failure)
                exchange.metrics.error(code: "stream_interrupted")
            }
        }
        // Leaving the task group cancelled the upstream reader, and with it the upstream request.
        let chatID = exchange.chatIDHeader ?? scanner.streamID
        // A stream cut short is billed and logged for what it used.
        let usage = scanner.usageOrEstimate(requestBytes: exchange.answer.sentBody.count)
        if clientGone {
            exchange.logger.debug("client went away mid-stream; upstream cancelled", metadata: ["zg.provider": "\(exchange.answer.servedBy)"])
            await exchange.finish(usage: usage, chatID: nil, responseSHA256: "", status: 499)
            throw CancellationError()
        }
        try await writer.finish(nil)
        await exchange.finish(usage: usage, chatID: chatID, responseSHA256: hashes ? Array(hasher.finalize()).hexString : "", status: failure == nil ? 200 : 502)
    }
}
