import EVM
import Foundation
import ZGBroker

/// The checks of a provider's broker attestation (`GET {url}/v1/quote`) that can be made
/// without a TEE verifier, as the official CLI's `verify` walks through them (PROTOCOL.md §7):
///
/// 1. `report_data` is base64 of the TEE signer's `"0x…"` address, NUL-padded: it must name the
///    signer the chain expects (``ResponseVerifier/expectedSigner(of:)``).
/// 2. For dstack, `sha256(tcb_info.app_compose)` must equal the `event_payload` of the
///    `event_log` entry whose `event` is `"compose-hash"` (the hash the TEE measured).
///
/// The quote's own signature chain (Intel TDX) is verified offline with dstack-verifier; this
/// only lists the images the compose file runs so a person can judge them.
struct QuoteCheck {
    /// The address found in `report_data`, if any.
    let reportedSigner: Address?
    /// The decoded `report_data` text without NULs (or why it could not be read).
    let reportData: Result<String, QuoteProblem>
    /// sha256 of `tcb_info.app_compose`, hex; nil when absent.
    let composeHash: String?
    /// The `compose-hash` event's payload, hex; nil when absent.
    let measuredComposeHash: String?
    /// `image:` lines of the compose file.
    let images: [String]

    struct QuoteProblem: Error, CustomStringConvertible {
        let description: String
    }

    init(quote: [String: Any]) {
        let reportData = Self.decodeReportData(quote["report_data"])
        self.reportData = reportData
        if case .success(let text) = reportData {
            reportedSigner = Self.firstAddress(in: text)
        } else if let signer = quote["provider_signer"] as? String {
            // Older brokers name the signer directly.
            reportedSigner = try? Address(hex: signer)
        } else {
            reportedSigner = nil
        }
        let tcbInfo = Self.jsonObject(quote["tcb_info"]) as? [String: Any]
        let appCompose = tcbInfo?["app_compose"] as? String
        composeHash = appCompose.map { ResponseVerifier.sha256Hex(Array($0.utf8)) }
        let events = Self.jsonObject(quote["event_log"]) as? [[String: Any]] ?? []
        measuredComposeHash = (events.first { $0["event"] as? String == "compose-hash" }?["event_payload"] as? String)
            .map { Self.normalizedHex($0) }
        images = appCompose.map(Self.images(inCompose:)) ?? []
    }

    /// Adds the checks to `report`, against the signer the chain expects.
    func check(expectedSigner: Address, into report: inout CheckReport) {
        switch (reportData, reportedSigner) {
        case (_, .some(let signer)) where signer == expectedSigner:
            report.pass("report-data signer", "report_data names \(signer), the signer registered on chain")
        case (_, .some(let signer)):
            report.fail("report-data signer", "report_data names \(signer), but the chain expects \(expectedSigner)")
        case (.failure(let problem), nil):
            report.fail("report-data signer", problem.description)
        case (.success(let text), nil):
            report.fail("report-data signer", "report_data holds no 0x address (\"\(text.prefix(80))\")")
        }
        switch (composeHash, measuredComposeHash) {
        case (let computed?, let measured?) where computed == measured:
            report.pass("compose hash", "sha256(tcb_info.app_compose) = event_log compose-hash = \(computed)")
        case (let computed?, let measured?):
            report.fail("compose hash", "sha256(tcb_info.app_compose) = \(computed), but the event_log compose-hash is \(measured)")
        case (nil, _):
            report.skip("compose hash", "tcb_info has no app_compose (not a dstack quote)")
        case (_, nil):
            report.skip("compose hash", "event_log has no compose-hash event")
        }
    }

    static func decodeReportData(_ value: Any?) -> Result<String, QuoteProblem> {
        guard let text = value as? String, !text.isEmpty else { return .failure(QuoteProblem(description: "the quote has no report_data")) }
        var padded = text.trimmingCharacters(in: .whitespacesAndNewlines)
        while padded.count % 4 != 0 { padded += "=" }
        guard let data = Data(base64Encoded: padded) else {
            return .failure(QuoteProblem(description: "report_data is not base64"))
        }
        return .success(String(decoding: data.filter { $0 != 0 }, as: UTF8.self))
    }

    /// The first `0x` followed by 40 hex digits.
    static func firstAddress(in text: String) -> Address? {
        let characters = Array(text)
        var index = 0
        while index + 42 <= characters.count {
            if characters[index] == "0", characters[index + 1] == "x" || characters[index + 1] == "X" {
                let candidate = String(characters[index..<(index + 42)])
                if candidate.dropFirst(2).allSatisfy(\.isHexDigit), let address = try? Address(hex: candidate.lowercased()) {
                    return address
                }
            }
            index += 1
        }
        return nil
    }

    /// A value that is JSON itself or a string holding JSON (brokers send both).
    static func jsonObject(_ value: Any?) -> Any? {
        if let text = value as? String { return try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
        return value
    }

    static func normalizedHex(_ text: String) -> String {
        let lower = text.lowercased()
        return lower.hasPrefix("0x") ? String(lower.dropFirst(2)) : lower
    }

    /// `image:` values of a docker-compose text, wherever the compose file is embedded.
    static func images(inCompose appCompose: String) -> [String] {
        var compose = appCompose
        if let object = try? JSONSerialization.jsonObject(with: Data(appCompose.utf8)) as? [String: Any],
           let file = object["docker_compose_file"] as? String {
            compose = file
        }
        return compose.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("image:") else { return nil }
            return trimmed.dropFirst(6).trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
        }
    }
}
