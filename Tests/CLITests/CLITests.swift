import AsyncHTTPClient
import EVM
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// `zgproxy` as people and scripts use it: the built binary, run as a child process against the
/// sandbox (a chain with the 0G contracts, simulated providers, and 55 extra services so the
/// catalog has more than one page).
@Suite("zgproxy command line", .serialized)
struct CLITests {
    static let world = LazyFixture { try await Sandbox(arguments: ["--extra-services", "55"]) }
    static let noEnvFile = ["--env-file", "/nonexistent"]

    /// Runs `zgproxy` for `wallet` against the sandbox.
    static func zgproxy(
        _ arguments: [String], _ sandbox: Sandbox, wallet: PrivateKey, rpc: String? = nil, stdin: String? = nil
    ) async throws -> CLIRunner.Result {
        try await CLIRunner.run(arguments + noEnvFile, environment: CLIRunner.environment(sandbox, wallet: wallet, rpc: rpc), stdin: stdin)
    }

    /// The cheaper of the two providers of the sandbox's shared model (the default model's first choice).
    static func cheapQwen(_ sandbox: Sandbox) throws -> Sandbox.Provider {
        try #require(sandbox.providers.filter { $0.model == "qwen-2.5-7b-instruct" }.min { $0.inputPrice < $1.inputPrice })
    }

    static func zeroG(_ object: Any?) -> String? { (object as? [String: Any])?["zeroG"] as? String }

    @Test("help reads well at every level")
    func help() async throws {
        let root = try await CLIRunner.run(["--help"], environment: [:])
        #expect(root.status == 0)
        for command in ["serve", "ledger", "providers", "token", "chat", "doctor", "keys", "users", "usage"] { #expect(root.stdout.contains(command)) }
        #expect(root.stdout.contains("Exit codes"))
        let fund = try await CLIRunner.run(["ledger", "fund", "--help"], environment: [:])
        #expect(fund.status == 0 && fund.stdout.contains("--yes") && fund.stdout.contains("\"createdLedger\""))
    }

    @Test("usage and configuration errors exit 64 with one line and no key")
    func usageErrors() async throws {
        let unconfigured = try await CLIRunner.run(["ledger", "balance"] + Self.noEnvFile, environment: [:])
        #expect(unconfigured.status == 64)
        #expect(unconfigured.stderr.hasPrefix("error: no 0G network configured"))

        let sandbox = try await Self.world.get()
        let key = try await sandbox.fundedKey()
        let badAmount = try await Self.zgproxy(["ledger", "fund", "1.2.3", "--yes"], sandbox, wallet: key)
        #expect(badAmount.status == 64)
        #expect(badAmount.stderr.contains("more than one decimal point"))
        let unconfirmed = try await Self.zgproxy(["ledger", "fund", "5"], sandbox, wallet: key)
        #expect(unconfirmed.status == 64)
        #expect(unconfirmed.stderr.contains("pass --yes"))
        let noKey = try await CLIRunner.run(["ledger", "balance"] + Self.noEnvFile, environment: CLIRunner.environment(sandbox, wallet: key).filter { $0.key != "PRIVATE_KEY" })
        #expect(noKey.status == 64 && noKey.stderr.contains("PRIVATE_KEY"))
        let badKey = try await CLIRunner.run(
            ["ledger", "balance"] + Self.noEnvFile, environment: CLIRunner.environment(sandbox, wallet: key).merging(["PRIVATE_KEY": "0x1234abcd"]) { $1 }
        )
        #expect(badKey.status == 64 && !badKey.stderr.contains("1234abcd"))
        let badThreads = try await CLIRunner.run(
            ["serve"] + Self.noEnvFile, environment: CLIRunner.environment(sandbox, wallet: key).merging(["EVENT_LOOP_THREADS": "0"]) { $1 }
        )
        #expect(badThreads.status == 64 && badThreads.stderr.contains("EVENT_LOOP_THREADS"), "\(badThreads.stderr)")
        // Nothing was sent.
        #expect(try await sandbox.client.transactionCount(of: key.address) == 0)
    }

    @Test("ledger: fund creates the ledger, transfer, balance, retrieve with its unlock time, insufficient funds")
    func ledger() async throws {
        let sandbox = try await Self.world.get()
        let key = try await sandbox.fundedKey(ether: 100)
        let provider = try Self.cheapQwen(sandbox)

        var balance = try await Self.zgproxy(["ledger", "balance", "--json"], sandbox, wallet: key).json()
        #expect(balance["ledger"] is NSNull)
        #expect(Self.zeroG(balance[path: "wallet", "balance"]) == "100")

        let tooLittle = try await Self.zgproxy(["ledger", "fund", "2", "--yes"], sandbox, wallet: key)
        #expect(tooLittle.status == 66, "\(tooLittle.stderr)")
        #expect(tooLittle.stderr.contains("MinimumDepositRequired"))

        let fund = try await Self.zgproxy(["ledger", "fund", "5", "--yes", "--json"], sandbox, wallet: key)
        #expect(fund.status == 0, "\(fund.stderr)")
        let funded = try fund.json()
        #expect(funded["createdLedger"] as? Bool == true)
        #expect(Self.zeroG(funded[path: "ledger", "available"]) == "5")
        #expect(((funded["transactions"] as? [[String: Any]])?.first?["hash"] as? String)?.hasPrefix("0x") == true)

        let transfer = try await Self.zgproxy(["ledger", "transfer", "--provider", provider.address.checksummed, "2", "--yes"], sandbox, wallet: key)
        #expect(transfer.status == 0, "\(transfer.stderr)")
        #expect(transfer.stdout.contains("mined in block"))

        balance = try await Self.zgproxy(["ledger", "show", "--json"], sandbox, wallet: key).json()
        #expect(Self.zeroG(balance[path: "ledger", "total"]) == "5")
        #expect(Self.zeroG(balance[path: "ledger", "locked"]) == "2")
        #expect(Self.zeroG(balance[path: "ledger", "available"]) == "3")
        var accounts = try #require(balance["accounts"] as? [[String: Any]])
        #expect(accounts.count == 1)
        #expect(accounts.first?["provider"] as? String == provider.address.checksummed)
        #expect(Self.zeroG(accounts.first?["balance"]) == "2")

        // More than is available: refused before sending, with the funds exit code.
        let tooMuch = try await Self.zgproxy(["ledger", "transfer", "--provider", provider.address.checksummed, "200", "--yes"], sandbox, wallet: key)
        #expect(tooMuch.status == 66)
        #expect(tooMuch.stderr.hasPrefix("error: ") && tooMuch.stderr.contains("InsufficientAvailableBalance"))

        let retrieve = try await Self.zgproxy(["ledger", "retrieve", "--yes", "--json"], sandbox, wallet: key)
        #expect(retrieve.status == 0, "\(retrieve.stderr)")
        #expect(try retrieve.json()["providers"] as? [String] == [provider.address.checksummed])

        balance = try await Self.zgproxy(["ledger", "balance", "--json", "--neuron"], sandbox, wallet: key).json()
        #expect(balance["lockTimeSeconds"] as? Int == Int(sandbox.lockTime))
        accounts = try #require(balance["accounts"] as? [[String: Any]])
        #expect(Self.zeroG(accounts.first?["pendingRefund"]) == "2")
        let refund = try #require((accounts.first?["refunds"] as? [[String: Any]])?.first)
        #expect(Self.zeroG(refund["amount"]) == "2")
        #expect(refund["unlocked"] as? Bool == false)
        let remaining = try #require(refund["remainingSeconds"] as? Int)
        #expect(remaining > Int(sandbox.lockTime) - 120 && remaining <= Int(sandbox.lockTime))
        #expect((refund["unlocksAt"] as? String)?.hasSuffix("Z") == true)
        let text = try await Self.zgproxy(["ledger", "balance"], sandbox, wallet: key)
        #expect(text.stdout.contains("refund #0: 2 0G, unlocks "))
        #expect(text.stdout.contains("(in 59m") || text.stdout.contains("(in 1h 0m)"))

        // After the lock time the refund is shown unlocked, and a second retrieve returns it.
        try await sandbox.increaseTime(seconds: sandbox.lockTime + 1)
        #expect(try await Self.zgproxy(["ledger", "balance"], sandbox, wallet: key).stdout.contains("(unlocked)"))
        let second = try await Self.zgproxy(["ledger", "retrieve", "--provider", provider.address.checksummed, "--yes", "--json"], sandbox, wallet: key)
        #expect(Self.zeroG(try second.json()[path: "ledger", "available"]) == "5")
        // Refunding everything closes the ledger (a contract rule) and pays the wallet.
        let before = try await sandbox.client.balance(of: key.address)
        let refundAll = try await Self.zgproxy(["ledger", "refund", "5", "--yes", "--json"], sandbox, wallet: key)
        #expect(refundAll.status == 0, "\(refundAll.stderr)")
        #expect(try refundAll.json()["ledger"] is NSNull)
        #expect(try await sandbox.client.balance(of: key.address) > before + UInt256.power(ofTen: 18) * 4)
    }

    @Test("providers: list pages past 50, show, verify a simulator, verify fails on a dead provider")
    func providers() async throws {
        let sandbox = try await Self.world.get()
        let provider = try Self.cheapQwen(sandbox)

        let all = try await Self.zgproxy(["providers", "list", "--all", "--json"], sandbox, wallet: sandbox.wallet)
        #expect(all.status == 0, "\(all.stderr)")
        let listed = try all.json()
        let services = try #require(listed["services"] as? [[String: Any]])
        #expect(services.count == 58 && listed["count"] as? Int == 58)
        #expect(services.contains { $0["model"] as? String == "extra-model-55" })
        let row = try #require(services.first { $0["provider"] as? String == provider.address.checksummed })
        // 1 gwei per token = 10^15 neuron = 0.001 0G per million tokens.
        #expect(Self.zeroG(row["inputPricePerMillion"]) == "0.001")
        #expect((row["inputPricePerMillion"] as? [String: Any])?["neuron"] as? String == "1000000000000000")
        #expect(row["acknowledged"] as? Bool == true && row["verifiability"] as? String == "TeeML")

        let qwen = try await Self.zgproxy(["providers", "list", "--model", "qwen-2.5-7b-instruct", "--json"], sandbox, wallet: sandbox.wallet).json()
        #expect(qwen["count"] as? Int == 2)
        let table = try await Self.zgproxy(["providers"], sandbox, wallet: sandbox.wallet)
        #expect(table.status == 0 && table.stdout.contains("INPUT/1M 0G") && table.stdout.contains("58 service(s)"))

        let show = try await Self.zgproxy(["providers", "show", provider.address.checksummed, "--json"], sandbox, wallet: sandbox.wallet).json()
        #expect(show["url"] as? String == provider.url)
        #expect(show["teeSigner"] as? String == provider.teeSigner.checksummed)
        #expect((show["additionalInfo"] as? String)?.contains("TargetSeparated") == true)
        #expect(show[path: "account", "user"] as? String == sandbox.wallet.address.checksummed)

        let verify = try await Self.zgproxy(["providers", "verify", provider.address.checksummed, "--json"], sandbox, wallet: sandbox.wallet)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let report = try verify.json()
        #expect(report["ok"] as? Bool == true)
        #expect(report["reportedSigner"] as? String == provider.teeSigner.checksummed)
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(Set(checks.compactMap { $0["name"] as? String }) == ["acknowledged", "quote", "report-data signer", "compose hash"])
        #expect(checks.allSatisfy { $0["status"] as? String == "pass" })

        let ack = try await Self.zgproxy(["providers", "ack", provider.address.checksummed, "--yes", "--json"], sandbox, wallet: sandbox.wallet)
        #expect(ack.status == 0, "\(ack.stderr)")
        #expect(try ack.json()["action"] as? String == "ack")

        let extra = try #require(services.first { $0["model"] as? String == "extra-model-1" }?["provider"] as? String)
        let dead = try await Self.zgproxy(["providers", "verify", extra], sandbox, wallet: sandbox.wallet)
        #expect(dead.status == 69)
        #expect(dead.stdout.contains("FAIL  quote"))
    }

    @Test("token: ephemeral and persistent keys work against the provider; revoke one id and all")
    func tokens() async throws {
        let sandbox = try await Self.world.get()
        let key = try await sandbox.fundedKey()
        let provider = try Self.cheapQwen(sandbox)
        let address = provider.address.checksummed
        let noAccount = try await Self.zgproxy(["token", "--provider", address], sandbox, wallet: key)
        #expect(noAccount.status == 65 && noAccount.stderr.contains("ledger transfer"))
        #expect(try await Self.zgproxy(["ledger", "fund", "4", "--yes"], sandbox, wallet: key).status == 0)
        #expect(try await Self.zgproxy(["ledger", "transfer", "--provider", address, "2", "--yes"], sandbox, wallet: key).status == 0)

        let plain = try await Self.zgproxy(["token", "--provider", address], sandbox, wallet: key)
        #expect(plain.status == 0)
        #expect(plain.stdout.hasPrefix("Bearer app-sk-") && plain.stdout.split(separator: "\n").count == 1)
        #expect(try await Self.chatStatus(provider, authorization: plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == 200)

        let ephemeral = try await Self.zgproxy(["token", "--provider", address, "--expires", "2h", "--json"], sandbox, wallet: key).json()
        #expect(ephemeral["tokenId"] as? Int == 255 && ephemeral["persistent"] as? Bool == false && ephemeral["generation"] as? Int == 0)
        let expiresIn = Double(try #require(ephemeral["expiresAtMillis"] as? Int)) / 1000 - Date().timeIntervalSince1970
        #expect(expiresIn > 7000 && expiresIn <= 7200)
        #expect(try await Self.zgproxy(["token", "--provider", address, "--expires", "48h"], sandbox, wallet: key).status == 64)

        let persistent = try await Self.zgproxy(["token", "create", "--provider", address, "--persistent", "--json"], sandbox, wallet: key).json()
        #expect(persistent["tokenId"] as? Int == 0 && persistent["expiresAt"] is NSNull)
        let persistentKey = try #require(persistent["authorization"] as? String)
        #expect(try await Self.chatStatus(provider, authorization: persistentKey) == 200)

        let revoke = try await Self.zgproxy(["token", "revoke", "--provider", address, "--id", "0", "--yes"], sandbox, wallet: key)
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let next = try await Self.zgproxy(["token", "--provider", address, "--persistent", "--json"], sandbox, wallet: key).json()
        #expect(next["tokenId"] as? Int == 1)
        try await Task.sleep(for: .milliseconds(2200))  // the simulator caches accounts for 2 s
        #expect(try await Self.chatStatus(provider, authorization: persistentKey) == 400)

        let revokeAll = try await Self.zgproxy(["token", "revoke", "--provider", address, "--all", "--yes", "--json"], sandbox, wallet: key)
        #expect(revokeAll.status == 0, "\(revokeAll.stderr)")
        #expect(try revokeAll.json()["generation"] as? Int == 1)
        #expect(try await Self.zgproxy(["token", "--provider", address, "--json"], sandbox, wallet: key).json()["generation"] as? Int == 1)
        #expect(try await Self.zgproxy(["token", "revoke", "--provider", address, "--yes"], sandbox, wallet: key).status == 64)
    }

    /// POSTs a tiny chat straight to the provider with `authorization`; returns the status.
    static func chatStatus(_ provider: Sandbox.Provider, authorization: String) async throws -> UInt {
        var request = HTTPClientRequest(url: provider.url + "/v1/proxy/chat/completions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"model":"\#(provider.model)","messages":[{"role":"user","content":"hi"}]}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status.code
    }

    @Test("chat: prompt as argument and on stdin, streamed and whole, --json with usage, fee and verification")
    func chat() async throws {
        let sandbox = try await Self.world.get()
        let provider = try Self.cheapQwen(sandbox)

        let streamed = try await Self.zgproxy(["chat", "tell", "me", "about", "zero", "gravity"], sandbox, wallet: sandbox.wallet)
        #expect(streamed.status == 0, "\(streamed.stderr)")
        #expect(streamed.stdout.contains("zero gravity"))
        #expect(streamed.stdout.hasSuffix("\n"))

        let piped = try await Self.zgproxy(["chat", "--no-stream"], sandbox, wallet: sandbox.wallet, stdin: "a question from stdin\n")
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout.contains("question from stdin"))

        let empty = try await Self.zgproxy(["chat"], sandbox, wallet: sandbox.wallet, stdin: "  \n")
        #expect(empty.status == 64)

        for stream in [true, false] {
            let result = try await Self.zgproxy(
                ["chat", stream ? "--stream" : "--no-stream", "--json", "--max-tokens", "4", "count the tokens please"], sandbox, wallet: sandbox.wallet
            )
            #expect(result.status == 0, "\(result.stderr)")
            let json = try result.json()
            #expect(json["stream"] as? Bool == stream)
            #expect(json["provider"] as? String == provider.address.checksummed)
            #expect(json["model"] as? String == "qwen-2.5-7b-instruct")
            #expect((json["content"] as? String)?.hasPrefix("Echo:") == true)
            let prompt = try #require(json[path: "usage", "promptTokens"] as? Int)
            let completion = try #require(json[path: "usage", "completionTokens"] as? Int)
            #expect(completion > 0)
            let fee = UInt256(prompt) * provider.inputPrice + UInt256(completion) * provider.outputPrice
            #expect(json[path: "fee", "neuron"] as? String == fee.description)
            #expect(Self.zeroG(json["fee"]) == fee.decimalUnits(decimals: 18))
            #expect(json[path: "verification", "status"] as? String == "verified")
            #expect(json["chatId"] is String)
        }

        let unknown = try await Self.zgproxy(["chat", "--model", "no-such-model", "hi"], sandbox, wallet: sandbox.wallet)
        #expect(unknown.status == 64 && unknown.stderr.contains("no-such-model"))
    }

    @Test("doctor passes on the sandbox and fails with the network code on a dead RPC")
    func doctor() async throws {
        let sandbox = try await Self.world.get()
        let healthy = try await Self.zgproxy(["doctor", "--json"], sandbox, wallet: sandbox.wallet)
        #expect(healthy.status == 0, "\(healthy.stdout) \(healthy.stderr)")
        let report = try healthy.json()
        #expect(report["ok"] as? Bool == true)
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.map { $0["name"] as? String } == ["configuration", "accounts", "rpc", "chain id", "contracts", "wallet", "ledger", "catalog", "round trip"])
        #expect(checks.allSatisfy { $0["status"] as? String == "pass" })

        let text = try await Self.zgproxy(["doctor"], sandbox, wallet: sandbox.wallet)
        #expect(text.status == 0 && text.stdout.split(separator: "\n").count == 9)

        let broken = try await Self.zgproxy(["doctor"], sandbox, wallet: sandbox.wallet, rpc: "http://127.0.0.1:9")
        #expect(broken.status == 69)
        #expect(broken.stdout.contains("FAIL  rpc") && broken.stdout.contains("fix:"))
        #expect(broken.stdout.contains("skip  round trip"))
        #expect(broken.stderr.hasPrefix("error: "))

        // A fresh wallet: everything up to the ledger works, then the missing ledger is named with its fix.
        let fresh = try await sandbox.fundedKey()
        let empty = try await Self.zgproxy(["doctor", "--json"], sandbox, wallet: fresh)
        #expect(empty.status == 65)
        let ledger = try #require((try empty.json()["checks"] as? [[String: Any]])?.first { $0["name"] as? String == "ledger" })
        #expect(ledger["status"] as? String == "fail")
        #expect((ledger["fix"] as? String)?.contains("zgproxy ledger fund 3") == true)
    }
}
