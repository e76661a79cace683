import Crypto
import EVM
import Foundation

/// Checks that a response really came from the provider's TEE and matches what was exchanged.
///
/// Like the official SDK it fetches the response's signature and recovers the EIP-191 signer,
/// comparing it with the signer registered on chain (or the separated LLM's `TargetTeeAddress`).
/// Beyond the SDK, it checks that the signed text is `sha256(request bytes sent) ":"
/// sha256(response bytes received)`, so a signature of some other exchange does not pass.
public struct ResponseVerifier: Sendable {
    /// How often responses are verified.
    public enum Mode: Sendable, Hashable {
        case off
        /// Verify this fraction of responses (0…1).
        case sampled(Double)
        /// Verify every response of a verifiable service; a failure is an error.
        case required

        /// Reads `off`, `required`, `sampled` (10 %) or `sampled:0.25`.
        public init(parsing text: String) throws(ConfigurationError) {
            let lower = text.lowercased()
            switch lower {
            case "off", "false", "0", "none": self = .off
            case "required", "on", "true", "all": self = .required
            case "sampled": self = .sampled(0.1)
            default:
                guard lower.hasPrefix("sampled:"), let rate = Double(lower.dropFirst(8)), (0...1).contains(rate) else {
                    throw ConfigurationError(setting: "ZG_VERIFY", reason: "must be off, required, sampled or sampled:<0..1> (got \"\(text)\")")
                }
                self = .sampled(rate)
            }
        }

        func shouldVerify() -> Bool {
            switch self {
            case .off: return false
            case .required: return true
            case .sampled(let rate): return Double.random(in: 0..<1) < rate
            }
        }
    }

    /// The outcome of one verification.
    public struct Result: Sendable, Hashable {
        public enum Status: String, Sendable, Hashable {
            case verified
            /// The signature or the signed text did not match.
            case failed
            /// The service is not verifiable, or the response had no chat id.
            case unverifiable
            case skipped
        }

        public let status: Status
        public let reason: String?
        public let signer: Address?

        static func failed(_ reason: String, signer: Address? = nil) -> Result { Result(status: .failed, reason: reason, signer: signer) }
    }

    public let mode: Mode
    public let providers: ProviderClient

    public init(mode: Mode, providers: ProviderClient) {
        self.mode = mode
        self.providers = providers
    }

    /// The address that must have signed responses of `service` (PROTOCOL.md §4.2 step 4).
    public static func expectedSigner(of service: Service) -> Address {
        guard let info = (try? JSONSerialization.jsonObject(with: Data(service.additionalInfo.utf8))) as? [String: Any] else {
            return service.teeSignerAddress
        }
        let separated = (info["TargetSeparated"] as? Bool) ?? false
        let providerType = (info["ProviderType"] as? String)?.lowercased() ?? "decentralized"
        if separated, providerType != "centralized", let target = info["TargetTeeAddress"] as? String,
           let address = try? Address(hex: target) {
            return address
        }
        return service.teeSignerAddress
    }

    /// The chat id of a response: the `ZG-Res-Key` header, else the body's `id`.
    public static func chatID(header: String?, body: [UInt8]?) -> String? {
        if let header, !header.isEmpty { return header }
        guard let body, let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return nil }
        return object["id"] as? String
    }

    /// Whether this response should be verified under the mode (a coin toss when sampled).
    public func shouldVerify() -> Bool { mode.shouldVerify() }

    /// Verifies one exchange, given the hex SHA-256 of the exact request body sent and of the
    /// exact bytes received (for a stream, the whole SSE byte stream).
    public func verify(service: Service, chatID: String?, requestSHA256: String, responseSHA256: String) async -> Result {
        guard service.isVerifiable, service.isUsable else {
            return Result(status: .unverifiable, reason: "service \(service.provider) is \(service.verifiability), not TEE-verifiable", signer: nil)
        }
        guard let chatID else { return Result(status: .unverifiable, reason: "the response has no chat id", signer: nil) }
        let signature: ResponseSignature
        do {
            signature = try await providers.responseSignature(service: service, chatID: chatID)
        } catch {
            return .failed("no signature for \(chatID): \(error)")
        }
        let expected = Self.expectedSigner(of: service)
        let recovered: Address
        do {
            recovered = try Signature(bytes: signature.signature).recoverPersonalSigner(text: signature.text)
        } catch {
            return .failed("malformed signature: \(error)")
        }
        guard recovered == expected else {
            return .failed("signed by \(recovered), but the chain names \(expected)", signer: recovered)
        }
        let exchange = requestSHA256 + ":" + responseSHA256
        guard signature.text == exchange || signature.text.hasPrefix(exchange + ":") else {
            return .failed("the signed text does not match the bytes exchanged", signer: recovered)
        }
        return Result(status: .verified, reason: nil, signer: recovered)
    }

    /// Hex SHA-256 of bytes, the form the signed text uses.
    public static func sha256Hex(_ bytes: [UInt8]) -> String { Array(SHA256.hash(data: bytes)).hexString }
}
