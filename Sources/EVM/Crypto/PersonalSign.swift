/// EIP-191 version 0x45 messages (`personal_sign`): what wallets sign for log-ins and what
/// the 0G session tokens and response signatures use.
public enum PersonalMessage {
    /// keccak256("\u{19}Ethereum Signed Message:\n" + len(message) + message).
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        var hasher = Keccak256()
        hasher.update(Array("\u{19}Ethereum Signed Message:\n\(message.count)".utf8))
        hasher.update(message)
        return hasher.finalize()
    }

    /// The digest of a text message's UTF-8 bytes.
    public static func hash(text: String) -> [UInt8] { hash(Array(text.utf8)) }
}

extension PrivateKey {
    /// `personal_sign` over raw bytes (for example a 32-byte hash, signed as 32 bytes of message).
    public func personalSign(_ message: [UInt8]) throws(SigningError) -> Signature {
        try sign(hash: PersonalMessage.hash(message))
    }

    /// `personal_sign` over a text's UTF-8 bytes.
    public func personalSign(text: String) throws(SigningError) -> Signature {
        try sign(hash: PersonalMessage.hash(text: text))
    }
}

extension Signature {
    /// The address that `personal_sign`ed `message`.
    public func recoverPersonalSigner(_ message: [UInt8]) throws(SigningError) -> Address {
        try recoverAddress(hash: PersonalMessage.hash(message))
    }

    public func recoverPersonalSigner(text: String) throws(SigningError) -> Address {
        try recoverAddress(hash: PersonalMessage.hash(text: text))
    }
}
