import EVM
import Foundation

/// A compiled contract from `Fixtures/contracts/build` (Vyper output, committed).
public struct ContractArtifact: Sendable {
    public let bytecode: [UInt8]

    public init(named name: String) throws {
        guard let object = try FixturePaths.json("contracts/build/\(name).json") as? [String: Any],
              let hex = object["bytecode"] as? String else {
            throw FixtureError("contracts/build/\(name).json has no bytecode")
        }
        bytecode = try [UInt8](hex: hex)
    }
}
