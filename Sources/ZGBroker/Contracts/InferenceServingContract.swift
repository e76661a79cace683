import EVM

/// Typed reads of InferenceServing.
public struct InferenceServingContract: Sendable {
    public let address: Address
    let caller: ContractCaller
    /// The contract refuses pages larger than this (`LimitTooLarge`).
    public static let maxPageSize = 50

    public init(address: Address, client: JSONRPCClient) {
        self.address = address
        self.caller = ContractCaller(client: client, address: address)
    }

    /// One page of services and the total count.
    public func services(offset: Int, limit: Int = maxPageSize) async throws(BrokerError) -> (services: [Service], total: Int) {
        let function = InferenceServingABI.getAllServices
        let values = try await caller.call(function, [.uint(UInt256(offset)), .uint(UInt256(limit))])
        return try ContractCaller.decode(function) { () throws(ABIError) in
            (try values[0].array().map { (value) throws(ABIError) -> Service in try Service(value) }, try values[1].int())
        }
    }

    /// Every service, paging through `getAllServices` until `total` (the official SDK stops at 50).
    public func allServices() async throws(BrokerError) -> [Service] {
        var services = [Service]()
        var offset = 0
        while true {
            let page = try await self.services(offset: offset)
            services.append(contentsOf: page.services)
            offset += Self.maxPageSize
            if page.services.isEmpty || offset >= page.total { return services }
        }
    }

    public func service(of provider: Address) async throws(BrokerError) -> Service {
        let values = try await caller.call(InferenceServingABI.getService, [.address(provider)])
        return try ContractCaller.decode(InferenceServingABI.getService) { () throws(ABIError) in try Service(values[0]) }
    }

    /// The user's sub-account with a provider, or nil when there is none.
    public func account(user: Address, provider: Address) async throws(BrokerError) -> Account? {
        do {
            let values = try await caller.call(InferenceServingABI.getAccount, [.address(user), .address(provider)])
            return try ContractCaller.decode(InferenceServingABI.getAccount) { () throws(ABIError) in try Account(values[0]) }
        } catch .accountNotFound {
            return nil
        }
    }

    /// Every sub-account of the user, paged.
    public func accounts(of user: Address) async throws(BrokerError) -> [Account] {
        let function = InferenceServingABI.getAccountsByUser
        var accounts = [Account]()
        var offset = 0
        while true {
            let values = try await caller.call(function, [.address(user), .uint(UInt256(offset)), .uint(UInt256(Self.maxPageSize))])
            let (page, total) = try ContractCaller.decode(function) { () throws(ABIError) in
                (try values[0].array().map { (value) throws(ABIError) -> Account in try Account(value) }, try values[1].int())
            }
            accounts.append(contentsOf: page)
            offset += Self.maxPageSize
            if page.isEmpty || offset >= total { return accounts }
        }
    }

    /// Seconds a refund stays locked before `retrieveFund` can return it.
    public func lockTime() async throws(BrokerError) -> UInt256 {
        let values = try await caller.call(InferenceServingABI.lockTime)
        return try ContractCaller.decode(InferenceServingABI.lockTime) { () throws(ABIError) in try values[0].uint256() }
    }
}
