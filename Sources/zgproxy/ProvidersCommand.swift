import ArgumentParser
import EVM
import Foundation
import ZGBroker

/// `zgproxy providers …`: the inference services registered on chain, read page by page (the
/// official CLI stops at the first 50).
struct ProvidersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "providers",
        abstract: "List, inspect, verify and acknowledge 0G inference providers.",
        discussion: """
            Reading providers needs no wallet: PRIVATE_KEY is only used to show this wallet's sub-account \
            (`providers show`) and to acknowledge a signer (`providers ack`).
            """,
        subcommands: [List.self, Show.self, Verify.self, Ack.self],
        defaultSubcommand: List.self
    )
}

/// A service as JSON, the same shape in `list` and `show`.
func serviceJSON(_ service: Service) -> JSONValue {
    [
        "provider": .string(service.provider.checksummed), "model": .string(service.model), "serviceType": .string(service.serviceType),
        "url": .string(service.url), "inputPrice": Output.amount(service.inputPrice), "outputPrice": Output.amount(service.outputPrice),
        "inputPricePerMillion": Output.amount(Output.perMillion(service.inputPrice)),
        "outputPricePerMillion": Output.amount(Output.perMillion(service.outputPrice)),
        "verifiability": .string(service.verifiability), "acknowledged": .bool(service.teeSignerAcknowledged),
        "usable": .bool(service.isUsable), "teeSigner": .string(service.teeSignerAddress.checksummed),
        "updatedAt": .integer(service.updatedAt), "additionalInfo": .string(service.additionalInfo),
    ]
}

private let serviceShape = """
      {"provider", "model", "serviceType", "url",
       "inputPrice", "outputPrice" (per token),
       "inputPricePerMillion", "outputPricePerMillion",
       "verifiability", "acknowledged", "usable", "teeSigner",
       "updatedAt" (unix seconds), "additionalInfo" (raw JSON text)}
    """

// MARK: list

extension ProvidersCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the inference services on chain (every page).",
            discussion: """
                By default only services you can use now are listed: chatbots whose TEE signer the contract owner \
                acknowledged. --all lists every registered service. Prices are per million tokens, in 0G \
                (or neuron with --neuron).

                JSON (--json); amounts are {"neuron": "<integer>", "zeroG": "<decimal>"}:
                  {"count": <int>, "total": <services on chain>, "services": [<service>]}
                where <service> is
                \(serviceShape)
                """,
            aliases: ["ls"]
        )

        @Option(help: ArgumentHelp("Only services of this model.", valueName: "model")) var model: String?
        @Flag(help: "List every service, including unusable and non-chatbot ones.") var all = false
        @OptionGroup var global: GlobalOptions
        @OptionGroup var unit: UnitOptions

        func run() async throws {
            let context = try CLIContext.load(global, wallet: .optional)
            let output = Output(json: global.json, neuron: unit.neuron)
            try await context.withBroker { broker in
                let everything = try await broker.catalog.current().services
                let services = everything.filter { service in
                    (all || (service.isUsable && service.serviceType == "chatbot")) && (model == nil || service.model == model)
                }
                output.document(["count": .int(services.count), "total": .int(everything.count), "services": .array(services.map(serviceJSON))])
                guard !output.json else { return }
                let unitName = unit.neuron ? "neuron" : "0G"
                let rows = services.map { service in
                    [
                        service.provider.checksummed, service.model,
                        price(Output.perMillion(service.inputPrice)), price(Output.perMillion(service.outputPrice)),
                        service.verifiability, service.teeSignerAcknowledged ? "yes" : "no",
                    ] + (all ? [service.serviceType] : [])
                }
                let header = ["provider", "model", "input/1M \(unitName)", "output/1M \(unitName)", "verifiability", "acknowledged"] + (all ? ["type"] : [])
                for line in Output.table(header, rows) { output.line(line) }
                let hidden = everything.count - services.count
                output.line("\(services.count) service(s)" + (hidden > 0 && !all ? "; \(hidden) more with --all or another --model" : ""))
            }
        }

        private func price(_ value: UInt256) -> String {
            unit.neuron ? value.description : value.decimalUnits(decimals: 18)
        }
    }
}

// MARK: show

extension ProvidersCommand {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show every field of one provider's service, and this wallet's sub-account with it.",
            discussion: """
                JSON (--json): the <service> object of `providers list --help`, plus
                  "expectedSigner" (who signs responses) and
                  "account": null | {"user", "balance", "pendingRefund", "locked",
                                     "acknowledged", "generation", "nonce",
                                     "revokedTokenIDs": [<int>]}
                """
        )

        @Argument(help: ArgumentHelp("The provider's address.", valueName: "address"), transform: Parse.address)
        var provider: Address
        @OptionGroup var global: GlobalOptions
        @OptionGroup var unit: UnitOptions

        func run() async throws {
            let context = try CLIContext.load(global, wallet: .optional)
            let output = Output(json: global.json, neuron: unit.neuron)
            try await context.withBroker { broker in
                let service = try await broker.chain.inference.service(of: provider)
                let account = context.hasWallet ? try await broker.chain.inference.account(user: broker.wallet, provider: provider) : nil
                let expected = ResponseVerifier.expectedSigner(of: service)
                var document = serviceJSON(service)
                if case .object(var fields) = document {
                    fields["expectedSigner"] = .string(expected.checksummed)
                    fields["account"] = account.map(accountJSON) ?? .null
                    document = .object(fields)
                }
                output.document(document)
                guard !output.json else { return }
                let fields: [(String, String)] = [
                    ("provider", service.provider.checksummed), ("model", service.model), ("type", service.serviceType),
                    ("url", service.url),
                    ("input price", "\(output.amount(Output.perMillion(service.inputPrice))) per 1M tokens (\(service.inputPrice) neuron/token)"),
                    ("output price", "\(output.amount(Output.perMillion(service.outputPrice))) per 1M tokens (\(service.outputPrice) neuron/token)"),
                    ("verifiability", service.verifiability),
                    ("TEE signer", service.teeSignerAddress.checksummed + (service.teeSignerAcknowledged ? " (acknowledged)" : " (NOT acknowledged: unusable)")),
                    ("responses signed by", expected.checksummed),
                    ("updated", TimeText.iso(unixSeconds: service.updatedAt)),
                    ("additional info", service.additionalInfo.isEmpty ? "(none)" : service.additionalInfo),
                ]
                for (name, value) in fields { output.line(name.padding(toLength: 20, withPad: " ", startingAt: 0) + value) }
                output.line()
                if !context.hasWallet {
                    output.line("(set PRIVATE_KEY to see this wallet's sub-account)")
                } else if let account {
                    output.line("sub-account of \(broker.wallet):")
                    let revoked = revokedIDs(account).map(String.init).joined(separator: ", ").ifEmpty("none")
                    output.line("  balance \(output.amount(account.balance)), pending refund \(output.amount(account.pendingRefund)), locked \(output.amount(account.lockedBalance))")
                    output.line("  signer acknowledged: \(account.acknowledged ? "yes" : "no"), token generation \(account.generation), revoked token ids: \(revoked)")
                } else {
                    output.line("no sub-account of \(broker.wallet) with this provider; create one with: zgproxy ledger transfer --provider \(provider) 1")
                }
            }
        }

        private func accountJSON(_ account: Account) -> JSONValue {
            [
                "user": .string(account.user.checksummed), "balance": Output.amount(account.balance),
                "pendingRefund": Output.amount(account.pendingRefund), "locked": Output.amount(account.lockedBalance),
                "acknowledged": .bool(account.acknowledged), "generation": .integer(account.generation), "nonce": .integer(account.nonce),
                "revokedTokenIDs": .array(revokedIDs(account).map { .int(Int($0)) }),
            ]
        }
    }
}

func revokedIDs(_ account: Account) -> [UInt8] {
    (0..<UInt8(255)).filter { account.isTokenRevoked($0) }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}

// MARK: verify

extension ProvidersCommand {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a provider's TEE attestation against the chain.",
            discussion: """
                Fetches GET {url}/v1/quote and checks that its report_data names the TEE signer registered on chain \
                (or the separated LLM's TargetTeeAddress), and, for dstack quotes, that sha256(tcb_info.app_compose) \
                equals the compose-hash the TEE measured in event_log. The Intel TDX quote itself must be verified \
                offline (e.g. with dstacktee/dstack-verifier). Exits 1 when a check fails.

                JSON (--json):
                  {"provider", "ok": <bool>, "expectedSigner",
                   "reportedSigner": null | "0x…", "composeHash": null | "<hex>",
                   "images": [<string>],
                   "checks": [{"name", "status": "pass" | "fail" | "skip", "detail",
                               "fix"}]}
                """
        )

        @Argument(help: ArgumentHelp("The provider's address.", valueName: "address"), transform: Parse.address)
        var provider: Address
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let context = try CLIContext.load(global, wallet: .optional)
            let output = Output(json: global.json)
            try await context.withBroker { broker in
                let service = try await broker.chain.inference.service(of: provider)
                let expected = ResponseVerifier.expectedSigner(of: service)
                var report = CheckReport()
                if service.teeSignerAcknowledged {
                    report.pass("acknowledged", "the contract owner acknowledged TEE signer \(service.teeSignerAddress)")
                } else {
                    report.fail("acknowledged", "the contract owner has not acknowledged TEE signer \(service.teeSignerAddress)")
                }
                var quoteCheck: QuoteCheck?
                do {
                    let quote = try await broker.providers.quote(service: service)
                    report.pass("quote", "GET \(service.url)/v1/quote answered")
                    let check = QuoteCheck(quote: quote)
                    check.check(expectedSigner: expected, into: &report)
                    quoteCheck = check
                } catch {
                    report.fail("quote", "GET \(service.url)/v1/quote failed: \(error)", kind: CLIFailure(error).kind)
                }
                output.document([
                    "provider": .string(provider.checksummed), "ok": .bool(report.passed), "expectedSigner": .string(expected.checksummed),
                    "reportedSigner": .optional(quoteCheck?.reportedSigner?.checksummed), "composeHash": .optional(quoteCheck?.composeHash),
                    "images": .array((quoteCheck?.images ?? []).map { .string($0) }), "checks": report.json(),
                ])
                output.line("provider \(provider) (\(service.model)), responses signed by \(expected)")
                for line in report.lines() { output.line(line) }
                if let images = quoteCheck?.images, !images.isEmpty { output.line("images: " + images.joined(separator: ", ")) }
                output.line("note: the TDX quote itself is not verified here; use dstack-verifier for that")
                if let failure = report.failures.first {
                    throw CLIFailure(failure.failure, "verification of \(provider) failed: \(failure.detail)")
                }
            }
        }
    }
}

// MARK: ack

extension ProvidersCommand {
    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ack",
            abstract: "Acknowledge a provider's TEE signer for this wallet's sub-account.",
            discussion: """
                The first `ledger transfer` to a provider acknowledges its signer already; this is needed again only \
                after the acknowledgement was withdrawn. Sends a transaction (asks first; --yes skips).

                JSON (--json):
                  {"action": "ack", "provider",
                   "transactions": [{"hash", "block", "gasUsed"}]}
                """,
            aliases: ["acknowledge"]
        )

        @Argument(help: ArgumentHelp("The provider's address.", valueName: "address"), transform: Parse.address)
        var provider: Address
        @OptionGroup var global: GlobalOptions
        @OptionGroup var confirm: ConfirmOptions

        func run() async throws {
            try Terminal.requireConfirmable(yes: confirm.yes, action: "providers ack")
            let context = try CLIContext.load(global)
            let output = Output(json: global.json)
            try await context.withBroker { broker in
                let service = try await broker.chain.inference.service(of: provider)
                let plan = ["Acknowledge TEE signer \(service.teeSignerAddress) of provider \(provider) (\(service.model)) for \(broker.wallet)."]
                let receipts = try await TransactionStep.run(plan: plan, yes: confirm.yes, label: "acknowledging \(provider)", context: context, output: output) {
                    [try await broker.ledger.acknowledge(provider)]
                }
                output.line("Acknowledged the signer of \(provider).")
                output.document(["action": "ack", "provider": .string(provider.checksummed), "transactions": TransactionStep.json(receipts)])
            }
        }
    }
}
