import EVM

/// Typed reads of LedgerManager. Writes go through ``Ledger`` operations (they need a sender).
public struct LedgerManagerContract: Sendable {
    public let address: Address
    let caller: ContractCaller

    public init(address: Address, client: JSONRPCClient) {
        self.address = address
        self.caller = ContractCaller(client: client, address: address)
    }

    /// The user's ledger, or nil when there is none.
    public func ledger(of user: Address) async throws(BrokerError) -> Ledger? {
        do {
            let values = try await caller.call(LedgerManagerABI.getLedger, [.address(user)])
            return try ContractCaller.decode(LedgerManagerABI.getLedger) { () throws(ABIError) in try Ledger(values[0]) }
        } catch .ledgerNotFound {
            return nil
        }
    }

    /// The ledger's service record for a serving contract (its `fullName` names it in fund calls).
    public func serviceInfo(of serviceContract: Address) async throws(BrokerError) -> ServiceInfo {
        let values = try await caller.call(LedgerManagerABI.getServiceInfo, [.address(serviceContract)])
        return try ContractCaller.decode(LedgerManagerABI.getServiceInfo) { () throws(ABIError) in try ServiceInfo(values[0]) }
    }

    /// Providers holding a sub-account of the user's under `serviceName`.
    public func providers(of user: Address, serviceName: String) async throws(BrokerError) -> [Address] {
        let values = try await caller.call(LedgerManagerABI.getLedgerProviders, [.address(user), .string(serviceName)])
        return try ContractCaller.decode(LedgerManagerABI.getLedgerProviders) { () throws(ABIError) in
            try values[0].array().map { (value) throws(ABIError) -> Address in try value.address() }
        }
    }
}
