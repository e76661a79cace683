import EVM
import Foundation
import Testing
@testable import ZGBroker

@Suite("Configuration")
struct ConfigurationTests {
    @Test("no network settings means the sandbox; presets and custom networks")
    func networks() throws {
        #expect(try ZGNetwork.from(Environment([:])) == nil)
        #expect(try ZGNetwork.from(Environment(["ZG_NETWORK": "mainnet"]))?.expectedChainID == 16661)
        #expect(try ZGNetwork.from(Environment(["ZG_NETWORK": "testnet"]))?.expectedChainID == 16602)
        let custom = try #require(try ZGNetwork.from(Environment([
            "ZG_NETWORK": "custom", "ZG_CHAIN_RPC": "http://127.0.0.1:8545",
            "ZG_LEDGER_CONTRACT": "0x2dE54c845Cd948B72D2e32e39586fe89607074E3",
            "ZG_INFERENCE_CONTRACT": "0x47340d900bdFec2BD393c626E12ea0656F938d84",
        ])))
        #expect(custom.kind == .custom && custom.expectedChainID == nil && custom.rpcURL == "http://127.0.0.1:8545")
        let testnetOwnRPC = try #require(try ZGNetwork.from(Environment(["ZG_NETWORK": "testnet", "ZG_CHAIN_RPC": "https://rpc.example"])))
        #expect(testnetOwnRPC.rpcURL == "https://rpc.example")
    }

    @Test("a bad setting is refused with one line naming it")
    func badSettings() {
        let cases: [([String: String], String)] = [
            (["ZG_NETWORK": "moon"], "ZG_NETWORK"),
            (["ZG_NETWORK": "custom"], "ZG_CHAIN_RPC"),
            (["ZG_NETWORK": "custom", "ZG_CHAIN_RPC": "http://x"], "ZG_LEDGER_CONTRACT"),
            (["ZG_NETWORK": "custom", "ZG_CHAIN_RPC": "http://x", "ZG_LEDGER_CONTRACT": "0x12", "ZG_INFERENCE_CONTRACT": "0x12"], "ZG_LEDGER_CONTRACT"),
            (["ZG_CHAIN_RPC": "ftp://x"], "ZG_CHAIN_RPC"),
        ]
        for (values, setting) in cases {
            do {
                _ = try ZGNetwork.from(Environment(values))
                Issue.record("\(values) should be refused")
            } catch {
                #expect(error.setting == setting)
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test("PRIVATE_KEY errors never echo the key")
    func privateKey() throws {
        let secret = "0xnot-a-key-but-secret-ish-0123456789abcdef0123456789abcdef01234567"
        do {
            _ = try Environment(["PRIVATE_KEY": secret]).privateKey()
            Issue.record("accepted a bad key")
        } catch {
            #expect(error.setting == "PRIVATE_KEY")
            #expect(!error.description.contains("0123456789abcdef"))
        }
        let key = try #require(try Environment(["ZG_PRIVATE_KEY": "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"]).privateKey())
        #expect(key.address.checksummed == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
    }

    @Test(".env files: comments, export, quotes; the process environment wins")
    func dotEnv() throws {
        let parsed = try Environment.parseDotEnv(
            """
            # a comment
            export ZG_NETWORK=testnet
            PORT = 8080 # trailing comment
            AUTH_TOKEN="sk local \\"quoted\\""
            NAME='single # not a comment'

            """, path: ".env"
        )
        #expect(parsed == ["ZG_NETWORK": "testnet", "PORT": "8080", "AUTH_TOKEN": "sk local \"quoted\"", "NAME": "single # not a comment"])
        #expect(throws: ConfigurationError.self) { try Environment.parseDotEnv("JUST_A_WORD\n", path: ".env") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(".env").path
        try "ZG_TEST_ONLY_IN_FILE=file\nPATH=from-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        let loaded = try Environment.load(dotEnvPath: file)
        #expect(loaded["ZG_TEST_ONLY_IN_FILE"] == "file")
        #expect(loaded["PATH"] != "from-file")
    }

    @Test("broker settings parse and refuse nonsense")
    func brokerSettings() throws {
        let key = PrivateKey.random()
        let configuration = try BrokerConfiguration(network: .testnet(), privateKey: key, environment: Environment([
            "ZG_VERIFY": "sampled:0.25", "ZG_CATALOG_TTL_SECONDS": "5", "ZG_AUTO_FUND": "false",
            "ZG_FUNDING_BUFFER": "0.5", "ZG_DAILY_FUNDING_CAP": "20",
        ]))
        #expect(configuration.verification == .sampled(0.25))
        #expect(configuration.catalogTTL == .seconds(5))
        #expect(!configuration.autoFund)
        #expect(configuration.funding.buffer == (try UInt256.zeroG("0.5")))
        #expect(configuration.funding.dailyCap == UInt256.oneZeroG * 20)
        for (key, value) in [("ZG_VERIFY", "sometimes"), ("ZG_AUTO_FUND", "maybe"), ("ZG_FUNDING_BUFFER", "-1"), ("ZG_CATALOG_TTL_SECONDS", "0")] {
            #expect(throws: ConfigurationError.self, "\(key)=\(value)") {
                try BrokerConfiguration(network: .testnet(), privateKey: PrivateKey.random(), environment: Environment([key: value]))
            }
        }
    }
}
