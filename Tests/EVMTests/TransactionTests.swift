import EVM
import Testing

@Suite("Transactions")
struct TransactionTests {
    @Test("legacy EIP-155 and EIP-1559 transactions sign to eth-account's exact bytes")
    func vectors() throws {
        let vectors = try Vectors.list(try Vectors.load("transactions.json"), "transactions")
        var kinds = Set<String>()
        for vector in vectors {
            let type = vector["type"] as! String
            kinds.insert(type)
            let fees: TransactionFees
            if type == "legacy" {
                fees = .legacy(gasPrice: try Vectors.uint(vector["gasPrice"]))
            } else {
                fees = .eip1559(
                    maxFeePerGas: try Vectors.uint(vector["maxFeePerGas"]),
                    maxPriorityFeePerGas: try Vectors.uint(vector["maxPriorityFeePerGas"])
                )
            }
            let accessList = try (vector["accessList"] as? [[String: Any]] ?? []).map { entry in
                AccessListEntry(
                    address: try Address(hex: entry["address"] as! String),
                    storageKeys: try (entry["storageKeys"] as! [String]).map { try [UInt8](hex: $0) }
                )
            }
            let transaction = Transaction(
                chainID: UInt64(vector["chainId"] as! Int),
                nonce: try Vectors.uint(vector["nonce"]).uint64Value!,
                fees: fees,
                gasLimit: try Vectors.uint(vector["gas"]).uint64Value!,
                to: try (vector["to"] as? String).map { try Address(hex: $0) },
                value: try Vectors.uint(vector["value"]),
                data: try Vectors.bytes(vector["data"]),
                accessList: accessList
            )
            #expect(transaction.signingHash == (try Vectors.bytes(vector["signingHash"])))
            let key = try PrivateKey(hex: vector["privateKey"] as! String)
            let signed = try transaction.signed(with: key)
            #expect(signed.raw == (try Vectors.bytes(vector["raw"])), "\(type) chain \(transaction.chainID)")
            #expect(signed.hash == (try Vectors.bytes(vector["hash"])))
            #expect(signed.from.checksummed == vector["from"] as? String)
        }
        #expect(kinds == ["legacy", "eip1559"])
    }
}
