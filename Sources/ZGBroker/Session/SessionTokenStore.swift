import EVM
import Foundation
import Synchronization

/// Ephemeral session tokens, one per provider, reused until less than an hour is left.
///
/// Minting costs a signature and, the first time, a chain read of the sub-account's
/// generation; both stay off the request path afterwards because tokens are cached here.
/// When a provider says the generation expired (someone called `revokeAllTokens`), the
/// caller invalidates the provider and the next token is minted with a fresh generation.
public actor SessionTokenStore {
    public let key: PrivateKey
    private let lifetime: Duration
    private let renewBefore: Duration
    private let generationSource: @Sendable (Address) async throws(BrokerError) -> UInt256
    private var tokens: [Address: SessionToken] = [:] {
        didSet { cached.withLock { $0 = tokens } }
    }
    /// The tokens again, readable without the actor by ``cachedToken(for:)``.
    private nonisolated let cached = Mutex<[Address: SessionToken]>([:])
    private var generations: [Address: UInt256] = [:]
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - generationSource: reads a provider's sub-account generation (0 when there is none).
    public init(
        key: PrivateKey, lifetime: Duration = .seconds(86_400), renewBefore: Duration = .seconds(3600),
        now: @escaping @Sendable () -> Date = Date.init,
        generationSource: @escaping @Sendable (Address) async throws(BrokerError) -> UInt256
    ) {
        self.key = key
        self.lifetime = lifetime
        self.renewBefore = renewBefore
        self.now = now
        self.generationSource = generationSource
    }

    /// A valid ephemeral token for `provider`, minted when missing or close to expiry.
    public func token(for provider: Address) async throws(BrokerError) -> SessionToken {
        let current = now()
        if let token = tokens[provider], isFresh(token, at: current) { return token }
        let generation: UInt256
        if let known = generations[provider] {
            generation = known
        } else {
            generation = try await generationSource(provider)
            generations[provider] = generation
        }
        do {
            let token = try SessionToken.mint(key: key, provider: provider, generation: generation, lifetime: lifetime, now: current)
            tokens[provider] = token
            return token
        } catch {
            throw .invalidResponse("cannot mint a session token: \(error)")
        }
    }

    /// The cached token when it is still fresh, without minting (nil otherwise).
    public nonisolated func cachedToken(for provider: Address) -> SessionToken? {
        guard let token = cached.withLock({ $0[provider] }), isFresh(token, at: now()) else { return nil }
        return token
    }

    private nonisolated func isFresh(_ token: SessionToken, at current: Date) -> Bool {
        guard let expiry = token.expiry else { return false }
        return expiry.timeIntervalSince(current) > Double(renewBefore.components.seconds)
    }

    /// Forgets the provider's token and generation (after a revocation or a generation error).
    public func invalidate(_ provider: Address) {
        tokens[provider] = nil
        generations[provider] = nil
    }
}
