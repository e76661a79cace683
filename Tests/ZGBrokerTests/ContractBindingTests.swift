import EVM
import Foundation
import Testing
import TestSupport
@testable import ZGBroker

/// The bindings must match the deployed contracts exactly: every function, event and error
/// zgproxy uses is looked up in the real ABI JSON (and in the test contracts' compiled ABI),
/// with the same canonical signature, outputs and indexed flags.
@Suite("0G contract bindings")
struct ContractBindingTests {
    /// An ABI file's entries by canonical signature.
    struct ABIFile {
        var functions: [String: (outputs: [String], mutability: String)] = [:]
        var events: [String: [Bool]] = [:]
        var errors: Set<String> = []

        init(path: String) throws {
            // The deployed ABI is a bare list; the Vyper build wraps it as {"abi": […], "bytecode": …}.
            let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
            let entries = try #require((parsed as? [[String: Any]]) ?? ((parsed as? [String: Any])?["abi"] as? [[String: Any]]))
            func type(_ parameter: [String: Any]) -> String {
                let raw = parameter["type"] as? String ?? ""
                guard raw.hasPrefix("tuple") else { return raw }
                let components = (parameter["components"] as? [[String: Any]] ?? []).map(type)
                return "(" + components.joined(separator: ",") + ")" + raw.dropFirst(5)
            }
            for entry in entries {
                let name = entry["name"] as? String ?? ""
                let inputs = entry["inputs"] as? [[String: Any]] ?? []
                let signature = name + "(" + inputs.map(type).joined(separator: ",") + ")"
                switch entry["type"] as? String {
                case "function":
                    functions[signature] = ((entry["outputs"] as? [[String: Any]] ?? []).map(type), entry["stateMutability"] as? String ?? "")
                case "event": events[signature] = inputs.map { $0["indexed"] as? Bool ?? false }
                case "error": errors.insert(signature)
                default: break
                }
            }
        }

        func check(functions bound: [ABIFunction], events boundEvents: [ABIEvent], errors boundErrors: [ABIErrorDefinition], file: String) {
            for function in bound {
                guard let deployed = functions[function.signature] else {
                    Issue.record("\(file) has no function \(function.signature)")
                    continue
                }
                #expect(deployed.outputs == function.outputs.map(\.canonical), "\(file): outputs of \(function.signature)")
            }
            for event in boundEvents {
                #expect(events[event.signature] == event.parameters.map(\.indexed), "\(file): event \(event.signature)")
            }
            for error in boundErrors {
                #expect(errors.contains(error.signature), "\(file): error \(error.signature)")
            }
        }
    }

    @Test("LedgerManager and InferenceServing bindings are in the deployed ABIs", arguments: ["abi", "contracts/build"])
    func bindingsMatch(folder: String) throws {
        let root = FixturePaths.fixtures.appendingPathComponent(folder).path
        let ledger = try ABIFile(path: root + "/LedgerManager.json")
        let serving = try ABIFile(path: root + "/InferenceServing.json")
        ledger.check(functions: LedgerManagerABI.functions, events: LedgerManagerABI.events, errors: LedgerManagerABI.errors, file: folder + "/LedgerManager")
        serving.check(functions: InferenceServingABI.functions, events: InferenceServingABI.events, errors: InferenceServingABI.errors, file: folder + "/InferenceServing")
    }

    @Test("selectors and topics are the ones PROTOCOL.md lists")
    func knownSelectors() {
        #expect(InferenceServingABI.getAllServices.selector.hexString == "a09cfca9")
        #expect(InferenceServingABI.getAccount.selector.hexString == "fd590847")
        #expect(InferenceServingABI.accountExists.selector.hexString == "147500e3")
        #expect(InferenceServingABI.revokeToken.selector.hexString == "1d07cb97")
        #expect(LedgerManagerABI.transferFund.selector.hexString == "2ba43b82")
        #expect(LedgerManagerABI.retrieveFund.selector.hexString == "31404a19")
        #expect(LedgerManagerABI.addLedger.selector.hexString == "c5e53f7e")
        #expect(LedgerManagerABI.ledgerNotExists.selector.hexString == "7d2d536b")
        #expect(InferenceServingABI.accountNotExists.selector.hexString == "08ca03ac")
        #expect(InferenceServingABI.balanceUpdated.topic.hexString == "526824944047da5b81071fb6349412005c5da81380b336103fbe5dd34556c776")
        #expect(LedgerManagerABI.fundSpent.topic.hexString == "6f81b9cf4ed9328799879be7651da4420ab1bc260b34ea71f72e9659aa548e68")
    }

    @Test("the committed ABI copies are the shared deployed ABIs", .enabled(if: FileManager.default.fileExists(atPath: FixturePaths.root.appendingPathComponent("../shared/0g/abi").path)))
    func copiesAreCurrent() throws {
        for name in ["LedgerManager.json", "InferenceServing.json", "deployments.json"] {
            let shared = try Data(contentsOf: FixturePaths.root.appendingPathComponent("../shared/0g/abi/\(name)"))
            let copy = try Data(contentsOf: FixturePaths.fixtures.appendingPathComponent("abi/\(name)"))
            #expect(shared == copy, "Fixtures/abi/\(name) differs from shared/0g/abi/\(name)")
        }
    }

    @Test("network presets carry the deployed addresses and chain ids")
    func presets() throws {
        let deployments = try #require(try FixturePaths.json("abi/deployments.json") as? [String: [String: Any]])
        let mainnet = ZGNetwork.mainnet()
        let testnet = ZGNetwork.testnet()
        #expect(mainnet.expectedChainID == UInt64(deployments["zgMainnet"]?["chainId"] as? Int ?? 0))
        #expect(mainnet.ledgerContract.checksummed == deployments["zgMainnet"]?["LedgerManager"] as? String)
        #expect(mainnet.inferenceContract.checksummed == deployments["zgMainnet"]?["InferenceServing_v1.0"] as? String)
        #expect(testnet.expectedChainID == UInt64(deployments["zgTestnetV4"]?["chainId"] as? Int ?? 0))
        #expect(testnet.ledgerContract.checksummed == deployments["zgTestnetV4"]?["LedgerManager"] as? String)
        #expect(testnet.inferenceContract.checksummed == deployments["zgTestnetV4"]?["InferenceServing_v1.0"] as? String)
    }
}
