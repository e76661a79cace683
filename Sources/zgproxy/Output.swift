import EVM
import Foundation
import ZGBroker

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a command's results go: text for people, or one JSON object for scripts.
///
/// Results go to stdout, everything else (prompts, spinners, progress, errors) to stderr, so
/// `zgproxy … --json | jq` always sees exactly one JSON document. Writes go straight to the
/// file descriptors (no buffering), so streamed chat text appears as it arrives.
struct Output: Sendable {
    let json: Bool
    let neuron: Bool

    init(json: Bool, neuron: Bool = false) {
        self.json = json
        self.neuron = neuron
    }

    // MARK: Writing

    /// A line of text on stdout (ignored in JSON mode).
    func line(_ text: String = "") {
        guard !json else { return }
        Self.stdout(text + "\n")
    }

    /// The JSON document on stdout (ignored in text mode): keys sorted so the shape is stable.
    func document(_ value: JSONValue) {
        guard json else { return }
        Self.stdout(Self.render(value) + "\n")
    }

    static func render(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
    }

    static func stdout(_ text: String) {
        write(text, to: STDOUT_FILENO)
    }

    static func stderr(_ text: String) {
        write(text, to: STDERR_FILENO)
    }

    /// Writes everything, retrying short writes. When the reader went away (`zgproxy … | head`)
    /// the command ends quietly with 141, the status a shell reports for SIGPIPE (NIO ignores
    /// that signal, so the write fails with EPIPE instead of killing the process).
    private static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { buffer in
                #if canImport(Glibc)
                Glibc.write(descriptor, buffer.baseAddress, buffer.count)
                #else
                Darwin.write(descriptor, buffer.baseAddress, buffer.count)
                #endif
            }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if descriptor == STDOUT_FILENO { exit(141) }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }

    // MARK: Amounts

    /// An amount for people: `1.5 0G`, or `1500000000000000000 neuron` with `--neuron`.
    func amount(_ value: UInt256) -> String {
        neuron ? "\(value) neuron" : value.zeroG
    }

    /// An amount for scripts, always both exact forms as strings:
    /// `{"neuron": "1500000000000000000", "zeroG": "1.5"}`.
    static func amount(_ value: UInt256) -> JSONValue {
        ["neuron": .string(value.description), "zeroG": .string(value.decimalUnits(decimals: 18))]
    }

    /// A price per million tokens from a per-token price in neuron.
    static func perMillion(_ pricePerToken: UInt256) -> UInt256 {
        pricePerToken * UInt256.power(ofTen: 6)
    }

    // MARK: Tables

    /// Left-aligned columns separated by two spaces; the header row is upper case.
    static func table(_ header: [String], _ rows: [[String]], indent: String = "") -> [String] {
        let all = [header.map { $0.uppercased() }] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        return all.map { row in
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            return indent + cells.joined(separator: "  ")
        }
    }
}

extension JSONValue {
    static func int(_ value: Int) -> JSONValue { .number(Double(value)) }

    /// A whole number that may exceed a double's exact range: a number when it fits in 2^53,
    /// else its decimal string.
    static func integer(_ value: UInt256) -> JSONValue {
        if let small = value.uint64Value, small < (1 << 53) { return .number(Double(small)) }
        return .string(value.description)
    }

    static func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
}

/// Times for people: ISO dates and short relative spans.
enum TimeText {
    /// `2025-06-01T12:00:00Z`.
    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func iso(unixSeconds: UInt256) -> String {
        iso(Date(timeIntervalSince1970: Double(unixSeconds.uint64Value ?? 0)))
    }

    /// `2d 3h`, `23h 59m`, `5m 12s`, `42s`: the two largest units.
    static func span(seconds: Int) -> String {
        let seconds = max(0, seconds)
        let days = seconds / 86_400, hours = seconds % 86_400 / 3600, minutes = seconds % 3600 / 60, rest = seconds % 60
        if days > 0 { return hours > 0 ? "\(days)d \(hours)h" : "\(days)d" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        if minutes > 0 { return "\(minutes)m \(rest)s" }
        return "\(rest)s"
    }
}

/// Lifetimes such as `30d`, `12h`, `90m`, `1d12h`, or `0` for never.
struct LifetimeText {
    /// Seconds; 0 means never.
    let seconds: Int

    init(parsing text: String) throws(CLIFailure) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed == "0" || trimmed == "never" {
            seconds = 0
            return
        }
        var total = 0
        var digits = ""
        var sawUnit = false
        for character in trimmed {
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            let unit: Int
            switch character {
            case "d": unit = 86_400
            case "h": unit = 3600
            case "m": unit = 60
            case "s": unit = 1
            default: throw .usage("invalid duration \"\(text)\": use a number with d, h, m or s (e.g. 30d, 12h, 1d12h), or 0 for never")
            }
            guard let number = Int(digits), number <= 100_000 else {
                throw .usage("invalid duration \"\(text)\": each unit needs a number before it (e.g. 12h)")
            }
            total += number * unit
            digits = ""
            sawUnit = true
        }
        guard sawUnit, digits.isEmpty else {
            throw .usage("invalid duration \"\(text)\": give a unit (d, h, m or s), e.g. 30d or 12h, or 0 for never")
        }
        guard total > 0 else { throw .usage("invalid duration \"\(text)\": must be more than 0 (or exactly 0 for never)") }
        seconds = total
    }
}
