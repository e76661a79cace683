import ArgumentParser
import AsyncHTTPClient
import EVM
import Foundation
import Logging
import Proxy
import ZGBroker

/// `zgproxy doctor`: everything `serve` needs, checked in the order it needs it, each with the
/// fix when it fails, so a broken setup is diagnosed in one run.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the configuration, the chain, the wallet, the catalog and one provider round trip.",
        discussion: """
            Checks, in order: settings parse; the account store (DATABASE_URL or the SQLite file) opens and is \
            migrated; the RPC answers; its chain id matches the network preset; the 0G \
            contracts answer; the wallet's key and gas balance; its ledger and available balance; the provider \
            catalog; and one tiny chat through a provider this wallet has a sub-account with (it costs a few tokens). \
            A check that depends on a failed one is skipped. Exits non-zero when a check fails, with the code of the \
            first failure (64 configuration, 69 network, 65 chain, 66 funds, 1 other).

            JSON (--json):
              {"ok": <bool>,
               "checks": [{"name", "status": "pass" | "fail" | "skip", "detail",
                           "fix": null | <string>}]}
            """
    )

    @OptionGroup var global: GlobalOptions

    static let order = ["configuration", "accounts", "rpc", "chain id", "contracts", "wallet", "ledger", "catalog", "round trip"]

    func run() async throws {
        var report = CheckReport()
        await diagnose(&report)
        for name in Self.order.dropFirst(report.checks.count) { report.skip(name, "skipped: an earlier check failed") }
        let output = Output(json: global.json)
        output.document(["ok": .bool(report.passed), "checks": report.json()])
        for line in report.lines() { output.line(line) }
        if let failure = report.failures.first {
            throw CLIFailure(failure.failure, "\(report.failures.count) check(s) failed; first: \(failure.name): \(failure.detail)")
        }
    }

    /// Runs the checks until one fails that the rest depend on.
    private func diagnose(_ report: inout CheckReport) async {
        let context: CLIContext
        do {
            context = try CLIContext.load(global)
            // Only scheme, host and port: the URL may carry an API key.
            let url = URLComponents(string: context.network.rpcURL)
            let host = "\(url?.scheme ?? "?")://\(url?.host ?? "?")" + (url?.port.map { ":\($0)" } ?? "")
            report.pass("configuration", "\(context.network.kind.rawValue) network, RPC \(host), wallet \(context.wallet)")
        } catch {
            report.fail("configuration", CLIFailure(error).message, fix: "set the named setting in the environment or in \(global.envFile)", kind: .usage)
            return
        }
        // Independent of the chain: reported, and the chain checks run whatever it says.
        await checkAccounts(context.environment, &report)
        // Few retries: a doctor should answer quickly about an unreachable RPC.
        var rpcConfiguration = context.configuration.rpc
        rpcConfiguration.maxRetries = min(rpcConfiguration.maxRetries, 1)
        do {
            try await context.withHTTPClient { client in
                let rpc = JSONRPCClient(url: context.network.rpcURL, httpClient: client, configuration: rpcConfiguration, logger: context.logger)
                guard await checkRPC(rpc, context, &report) else { return }
                var configuration = context.configuration
                configuration.rpc = rpcConfiguration
                let broker: ZGBroker
                do {
                    broker = try await ZGBroker.connect(configuration: configuration, httpClient: client, logger: context.logger)
                    report.pass("contracts", "ledger \(context.network.ledgerContract) lists inference \(context.network.inferenceContract) as \"\(broker.chain.serviceName)\"")
                } catch {
                    report.fail(
                        "contracts", CLIFailure(error).message,
                        fix: "check ZG_LEDGER_CONTRACT and ZG_INFERENCE_CONTRACT (or ZG_NETWORK) name the 0G contracts of this chain",
                        kind: CLIFailure(error).kind
                    )
                    return
                }
                await checkAccount(broker, &report)
            }
        } catch {
            report.fail("doctor", CLIFailure(error).message, kind: CLIFailure(error).kind)
        }
    }

    private func checkRPC(_ rpc: JSONRPCClient, _ context: CLIContext, _ report: inout CheckReport) async -> Bool {
        do {
            let block = try await rpc.blockNumber()
            report.pass("rpc", "\(rpc.displayHost) answers, latest block \(block)")
        } catch {
            report.fail(
                "rpc", CLIFailure(error).message,
                fix: "check that ZG_CHAIN_RPC (\(rpc.displayHost)) is a reachable Ethereum JSON-RPC endpoint", kind: CLIFailure(error).kind
            )
            return false
        }
        do {
            let chainID = try await rpc.chainID()
            if let expected = context.network.expectedChainID {
                guard expected == chainID else {
                    report.fail(
                        "chain id", "the RPC is chain \(chainID), but \(context.network.kind.rawValue) is \(expected)",
                        fix: "point ZG_CHAIN_RPC at a \(context.network.kind.rawValue) node, or set ZG_NETWORK to match the RPC", kind: .usage
                    )
                    return false
                }
                report.pass("chain id", "\(chainID), as \(context.network.kind.rawValue) expects")
            } else {
                report.pass("chain id", "\(chainID) (custom network: any id is accepted)")
            }
        } catch {
            report.fail("chain id", CLIFailure(error).message, fix: "check ZG_CHAIN_RPC", kind: CLIFailure(error).kind)
            return false
        }
        return true
    }

    private func checkAccount(_ broker: ZGBroker, _ report: inout CheckReport) async {
        let wallet = broker.wallet
        let overview: LedgerOverview
        do {
            overview = try await broker.ledger.overview()
        } catch {
            report.fail("wallet", CLIFailure(error).message, kind: CLIFailure(error).kind)
            return
        }
        if overview.walletBalance.isZero {
            report.fail("wallet", "\(wallet) holds 0 0G and cannot pay gas", fix: "send some 0G to \(wallet)", kind: .funds)
        } else {
            report.pass("wallet", "\(wallet) holds \(overview.walletBalance.zeroG)")
        }
        if let ledger = overview.ledger {
            report.pass("ledger", "available \(ledger.availableBalance.zeroG) of \(ledger.totalBalance.zeroG), \(overview.accounts.count) provider sub-account(s)")
        } else {
            report.fail("ledger", "\(wallet) has no 0G ledger", fix: "zgproxy ledger fund 3 (the contract requires at least 3 0G)", kind: .chain)
        }
        let snapshot: ServiceCatalog.Snapshot
        do {
            snapshot = try await broker.catalog.current()
        } catch {
            report.fail("catalog", CLIFailure(error).message, kind: CLIFailure(error).kind)
            return
        }
        let usable = snapshot.services.filter { $0.isUsable && $0.serviceType == "chatbot" }
        let models = Set(usable.map(\.model))
        guard !usable.isEmpty else {
            report.fail("catalog", "\(snapshot.services.count) service(s) on chain, none a usable chatbot", fix: "check ZG_INFERENCE_CONTRACT", kind: .other)
            return
        }
        report.pass("catalog", "\(snapshot.services.count) service(s), \(usable.count) usable chatbot(s), \(models.count) model(s)")
        await roundTrip(broker, overview: overview, usable: usable, &report)
    }

    /// One tiny chat with a provider the wallet has funds with (the cheapest such).
    private func roundTrip(_ broker: ZGBroker, overview: LedgerOverview, usable: [Service], _ report: inout CheckReport) async {
        let funded = Set(overview.accounts.filter { !$0.lockedBalance.isZero }.map(\.provider))
        let candidates = usable.filter { funded.contains($0.provider) }
            .sorted { ($0.inputPrice + $0.outputPrice, $0.provider) < ($1.inputPrice + $1.outputPrice, $1.provider) }
        guard let service = candidates.first else {
            let cheapest = usable.min { $0.inputPrice + $0.outputPrice < $1.inputPrice + $1.outputPrice }!
            report.fail(
                "round trip", "no funded sub-account with a usable provider",
                fix: "zgproxy ledger transfer --provider \(cheapest.provider) 1   (\(cheapest.model))", kind: .funds
            )
            return
        }
        let started = ContinuousClock.now
        do {
            let body: [String: Any] = [
                "model": service.provider.checksummed, "messages": [["role": "user", "content": "ping"]], "max_tokens": 1, "stream": false,
            ]
            let result = try await broker.send(body: body, headTimeout: .seconds(30))
            let elapsed = ContinuousClock.now - started
            let millis = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            var detail = "\(service.model) by \(service.provider) answered in \(millis) ms"
            if let fee = result.fee { detail += ", fee \(fee.zeroG)" }
            detail += ", signature \(result.verification.status.rawValue)"
            if result.verification.status == .failed {
                report.fail("round trip", detail + ": " + (result.verification.reason ?? ""), fix: "try another provider; this one's signatures do not check out")
            } else {
                report.pass("round trip", detail)
            }
        } catch {
            let failure = CLIFailure(error)
            report.fail(
                "round trip", failure.message,
                fix: "zgproxy providers verify \(service.provider); or fund it: zgproxy ledger transfer --provider \(service.provider) 1",
                kind: failure.kind
            )
        }
    }

    /// Opens the account store `serve` would use and counts its users and keys.
    private func checkAccounts(_ environment: Environment, _ report: inout CheckReport) async {
        do {
            let configuration = try AccountsConfiguration(environment: environment)
            let store = try await AccountStore.open(
                url: configuration.databaseURL, sqlitePath: configuration.databasePath, logger: Logger(label: "zgproxy") { _ in SwiftLogNoOpLogHandler() }
            )
            let users = try await store.users().count
            let keys = try await store.keys().filter { $0.status() == .active }.count
            await store.close()
            let place = configuration.databaseURL == nil ? "SQLite \(configuration.databasePath ?? ":memory:")" : "PostgreSQL (DATABASE_URL)"
            let admin = configuration.adminToken == nil ? "; admin API off (set ADMIN_TOKEN)" : ""
            report.pass("accounts", "\(place): \(users) user(s), \(keys) active key(s)\(admin)")
        } catch {
            let fix = environment["DATABASE_URL"] == nil
                ? "make DATA_DIR (or DATABASE_PATH's folder) writable"
                : "check DATABASE_URL: the server is up, the user and password are right and the database exists"
            report.fail("accounts", CLIFailure(error).message, fix: fix, kind: .network)
        }
    }
}
