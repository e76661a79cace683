import ArgumentParser
import EVM
import Foundation
import ZGBroker

/// `zgproxy token …`: `app-sk-…` session keys, the credential a provider accepts directly
/// (the official CLI's `get-secret`, `revoke-token` and `revoke-all-tokens`).
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create or revoke app-sk session keys for a provider.",
        discussion: """
            A session key lets any HTTP client call the provider directly \
            (POST {url}/v1/proxy/chat/completions with the printed Authorization header), paid from this wallet's \
            sub-account with that provider. Treat it as a secret.

            `zgproxy token --provider <address>` is short for `zgproxy token create --provider <address>`.
            """,
        subcommands: [Create.self, Revoke.self],
        defaultSubcommand: Create.self
    )
}

// MARK: create

extension TokenCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Sign a new app-sk session key for a provider and print its Authorization header.",
            discussion: """
                Prints the Authorization header value (`Bearer app-sk-…`) on stdout and the details on stderr. \
                Ephemeral keys (the default) use token id 255 and live at most 24 hours (--expires, default 24h). \
                Persistent keys (--persistent) take the lowest token id not revoked in the sub-account (0–254), never \
                expire unless --expires says so, and stop working when revoked with `zgproxy token revoke`. Both carry \
                the sub-account's current generation: `token revoke --all` invalidates every key at once. \
                Minting only signs: it sends no transaction.

                JSON (--json):
                  {"authorization": "Bearer app-sk-…", "tokenId": <int>,
                   "persistent": <bool>, "provider", "user", "generation", "url",
                   "model", "issuedAt" (ISO 8601), "expiresAt": null | ISO 8601,
                   "expiresAtMillis" (0 = never)}
                """
        )

        @Option(help: ArgumentHelp("The provider the key is for.", valueName: "address"), transform: Parse.address)
        var provider: Address
        @Flag(help: "A persistent key (token id 0–254) instead of an ephemeral one (id 255, at most 24 h).")
        var persistent = false
        @Option(help: ArgumentHelp("How long the key lives: 30d, 12h, 90m, 1d12h, or 0 for never (persistent only).", valueName: "duration"))
        var expires: String?
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            do {
                _ = try lifetime()
            } catch {
                throw ValidationError(error.message)
            }
        }

        /// nil for a key that never expires.
        func lifetime() throws(CLIFailure) -> Duration? {
            let seconds = try expires.map { (text) throws(CLIFailure) in try LifetimeText(parsing: text).seconds }
            guard persistent else {
                let value = seconds ?? 86_400
                guard value != 0 else { throw .usage("ephemeral keys must expire: give --expires up to 24h, or pass --persistent for a key that never expires") }
                guard value <= 86_400 else { throw .usage("ephemeral keys live at most 24h (got \(TimeText.span(seconds: value))); pass --persistent for longer") }
                return .seconds(value)
            }
            guard let seconds, seconds != 0 else { return nil }
            return .seconds(seconds)
        }

        func run() async throws {
            let lifetime = try lifetime()
            let context = try CLIContext.load(global)
            let output = Output(json: global.json)
            let key = context.configuration.privateKey
            try await context.withBroker { broker in
                let service = try await broker.chain.inference.service(of: provider)
                guard let account = try await broker.chain.inference.account(user: broker.wallet, provider: provider) else {
                    throw BrokerError.accountNotFound(user: broker.wallet, provider: provider)
                }
                let tokenID = persistent ? try account.lowestFreeTokenID() : SessionToken.ephemeralTokenID
                let token = try SessionToken.mint(key: key, provider: provider, generation: account.generation, tokenID: tokenID, lifetime: lifetime)
                let issued = Date(timeIntervalSince1970: Double(token.timestamp) / 1000)
                output.document([
                    "authorization": .string(token.authorization), "tokenId": .int(Int(token.tokenID)), "persistent": .bool(persistent),
                    "provider": .string(provider.checksummed), "user": .string(broker.wallet.checksummed), "generation": .integer(token.generation),
                    "url": .string(service.url), "model": .string(service.model), "issuedAt": .string(TimeText.iso(issued)),
                    "expiresAt": .optional(token.expiry.map(TimeText.iso)), "expiresAtMillis": .integer(UInt256(token.expiresAt)),
                ])
                guard !output.json else { return }
                // Only the header value goes to stdout, so KEY="$(zgproxy token --provider …)" works.
                output.line(token.authorization)
                let expiry = token.expiry.map { "\(TimeText.iso($0)) (in \(TimeText.span(seconds: Int($0.timeIntervalSince(issued)))))" } ?? "never"
                Output.stderr("""
                    \(persistent ? "persistent" : "ephemeral") key, token id \(token.tokenID), generation \(token.generation), expires \(expiry)
                    provider \(provider) (\(service.model)); use it with:
                      curl \(service.url)/v1/proxy/chat/completions -H 'Authorization: Bearer app-sk-…' -H 'Content-Type: application/json' \\
                        -d '{"model":"\(service.model)","messages":[{"role":"user","content":"Hello"}]}'
                    \(persistent ? "revoke it with: zgproxy token revoke --provider \(provider) --id \(token.tokenID)\n" : "")
                    """)
            }
        }
    }
}

// MARK: revoke

extension TokenCommand {
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke one persistent session key, or every key for a provider.",
            discussion: """
                --id N revokes persistent token id N (0–254). --all starts a new generation: every key signed so far, \
                ephemeral ones included, stops working (the gateway mints new ones by itself). Providers may cache \
                accounts for a few seconds. Sends a transaction (asks first; --yes skips).

                JSON (--json):
                  {"action": "revoke", "provider", "tokenId": null | <int>,
                   "all": <bool>, "generation",
                   "transactions": [{"hash", "block", "gasUsed"}]}
                """
        )

        @Option(help: ArgumentHelp("The provider the keys are for.", valueName: "address"), transform: Parse.address)
        var provider: Address
        @Option(name: .customLong("id"), help: ArgumentHelp("The persistent token id to revoke (0–254).", valueName: "id"))
        var tokenID: UInt8?
        @Flag(help: "Revoke every key for the provider (new generation).") var all = false
        @OptionGroup var global: GlobalOptions
        @OptionGroup var confirm: ConfirmOptions

        func validate() throws {
            guard (tokenID == nil) != !all else { throw ValidationError("give exactly one of --id <0-254> and --all") }
            if let tokenID, tokenID == SessionToken.ephemeralTokenID {
                throw ValidationError("token id 255 is the ephemeral id and cannot be revoked alone; use --all")
            }
        }

        func run() async throws {
            try Terminal.requireConfirmable(yes: confirm.yes, action: "token revoke")
            let context = try CLIContext.load(global)
            let output = Output(json: global.json)
            try await context.withBroker { broker in
                guard let account = try await broker.chain.inference.account(user: broker.wallet, provider: provider) else {
                    throw BrokerError.accountNotFound(user: broker.wallet, provider: provider)
                }
                let plan = tokenID.map { ["Revoke persistent token id \($0) of \(broker.wallet) with provider \(provider)."] }
                    ?? ["Revoke every session key of \(broker.wallet) with provider \(provider) (generation \(account.generation) → \(account.generation + .one))."]
                let receipts = try await TransactionStep.run(plan: plan, yes: confirm.yes, label: "revoking", context: context, output: output) {
                    if let tokenID { return [try await broker.ledger.revokeToken(provider: provider, tokenID: tokenID)] }
                    return [try await broker.ledger.revokeAllTokens(provider: provider)]
                }
                let after = try await broker.chain.inference.account(user: broker.wallet, provider: provider)
                output.line(tokenID.map { "Revoked token id \($0)." } ?? "Revoked every key; the generation is now \(after?.generation ?? account.generation).")
                output.document([
                    "action": "revoke", "provider": .string(provider.checksummed), "tokenId": tokenID.map { .int(Int($0)) } ?? .null,
                    "all": .bool(all), "generation": .integer(after?.generation ?? account.generation), "transactions": TransactionStep.json(receipts),
                ])
            }
        }
    }
}
