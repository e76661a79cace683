# pragma version 0.4.3
# @title LedgerManager (test double)
# @notice A Vyper re-implementation of 0G's LedgerManager. The ABI matches the
#         deployed contract for every function, event and error. Behaviour
#         follows the 0G Solidity sources; bounds are Vyper's (see README.md).
#
# @abi-error AdditionalInfoTooLong(uint256 length, uint256 max)
# @abi-error AlreadyInitialized()
# @abi-error CallFailed()
# @abi-error CallerNotRegisteredService(address caller)
# @abi-error DirectDepositsDisabled()
# @abi-error InsufficientAvailableBalance(uint256 available, uint256 required)
# @abi-error InsufficientBalance(address user)
# @abi-error InvalidServiceAddress(address serviceAddress)
# @abi-error InvalidServiceType(string serviceType)
# @abi-error LedgerExists(address user)
# @abi-error LedgerLocked()
# @abi-error LedgerNotExists(address user)
# @abi-error MinimumDepositRequired(uint256 provided, uint256 required)
# @abi-error MustWithdrawAllFundsFirst(uint256 remainingBalance)
# @abi-error NoRecommendedService(string serviceType)
# @abi-error ServiceAlreadyRegistered(address serviceAddress)
# @abi-error ServiceMustImplementIServing(address serviceAddress)
# @abi-error ServiceNameExists(string serviceName)
# @abi-error ServiceNotFound(address serviceAddress)
# @abi-error ServiceNotRegistered(address serviceAddress)
# @abi-error ServiceRegistryLimitReached(uint256 limit)
# @abi-error ServiceTypeRequired()
# @abi-error TooManyProviders(uint256 requested, uint256 maximum)
# @abi-error TooManyProvidersForService(uint256 current, uint256 maximum)
# @abi-error TransferFailed()
# @abi-error VersionRequired()
# @abi-error ZeroAddressNotAllowed()
# @abi-error ZeroAmountNotAllowed()
#
# @abi-outputs getAllLedgers: ledgers, total
# @abi-outputs getRecommendedService: version, serviceAddress
# @abi-outputs getAllVersions: versions, addresses, isRecommendedFlags
#
# @abi-receive

interface IServing:
    def accountExists(user: address, provider: address) -> bool: view
    def getPendingRefund(user: address, provider: address) -> uint256: view
    def requestRefundAll(user: address, provider: address): nonpayable
    def processRefund(user: address, provider: address) -> (uint256, uint256, uint256): nonpayable

# ---------------------------------------------------------------- constants

MAX_PROVIDERS_PER_BATCH: public(constant(uint256)) = 20
MAX_SERVICES: public(constant(uint256)) = 500
MAX_PROVIDERS_PER_USER_PER_SERVICE: public(constant(uint256)) = 50
MAX_ADDITIONAL_INFO_LENGTH: public(constant(uint256)) = 4096
MIN_ACCOUNT_BALANCE: public(constant(uint256)) = 3 * 10**18
MIN_TRANSFER_AMOUNT: public(constant(uint256)) = 1 * 10**18

# Vyper bounds
INFO_BOUND: constant(uint256) = 4200          # > 4096 so AdditionalInfoTooLong fires
NAME_BOUND: constant(uint256) = 256           # serviceName arguments
TYPE_BOUND: constant(uint256) = 64            # serviceType / version
FULLNAME_BOUND: constant(uint256) = 129       # type + "-" + version
DESC_BOUND: constant(uint256) = 1024
PROVIDERS_INPUT_BOUND: constant(uint256) = 256  # > 20 so TooManyProviders fires
REGISTRY_BOUND: constant(uint256) = 32        # stored services (real: 500)
LEDGER_PAGE_BOUND: constant(uint256) = 100    # getAllLedgers returns at most this many
MAX_LEDGERS: constant(uint256) = 1048576

ERC165_ID: constant(bytes4) = 0x01ffc9a7
ISERVING_ID: constant(bytes4) = 0x160841b1

# ---------------------------------------------------------------- structs

struct Ledger:
    user: address
    availableBalance: uint256
    totalBalance: uint256
    additionalInfo: String[INFO_BOUND]

struct ServiceInfo:
    serviceAddress: address
    serviceContract: address
    serviceType: String[TYPE_BOUND]
    version: String[TYPE_BOUND]
    fullName: String[FULLNAME_BOUND]
    description: String[DESC_BOUND]
    isRecommended: bool
    registeredAt: uint256

# ---------------------------------------------------------------- events

event FundSpent:
    user: indexed(address)
    service: indexed(address)
    amount: uint256

event Initialized:
    version: uint8

event LedgerInfoUpdated:
    user: indexed(address)
    additionalInfo: String[INFO_BOUND]

event OwnershipTransferred:
    previousOwner: indexed(address)
    newOwner: indexed(address)

event RecommendedServiceUpdated:
    serviceType: String[TYPE_BOUND]
    version: String[TYPE_BOUND]
    serviceAddress: address

event ServiceRegistered:
    serviceAddress: indexed(address)
    serviceName: String[FULLNAME_BOUND]

# ---------------------------------------------------------------- storage

owner: public(address)
initialized: public(bool)

ledgers: HashMap[address, Ledger]
ledgerKeys: DynArray[address, MAX_LEDGERS]
ledgerPos: HashMap[address, uint256]                 # 1-based; 0 = no ledger

registeredServices: HashMap[address, ServiceInfo]
serviceNameToAddress: HashMap[bytes32, address]      # keccak256(fullName)
serviceAddresses: DynArray[address, REGISTRY_BOUND]
recommendedByType: HashMap[bytes32, address]

# user => service contract => providers (an EnumerableSet)
userServiceProviders: HashMap[address, HashMap[address, DynArray[address, MAX_PROVIDERS_PER_USER_PER_SERVICE]]]
userServiceProviderPos: HashMap[address, HashMap[address, HashMap[address, uint256]]]

locks: transient(HashMap[address, bool])


@deploy
def __init__():
    pass


# ---------------------------------------------------------------- errors / guards

@internal
@pure
def _err0(sel: Bytes[4]):
    raw_revert(sel)


@internal
@pure
def _err_a(sel: Bytes[4], a: address):
    raw_revert(concat(sel, abi_encode(a)))


@internal
@pure
def _err_u(sel: Bytes[4], a: uint256):
    raw_revert(concat(sel, abi_encode(a)))


@internal
@pure
def _err_uu(sel: Bytes[4], a: uint256, b: uint256):
    raw_revert(concat(sel, abi_encode(a, b)))


@internal
@view
def _only_owner():
    assert msg.sender == self.owner, "Ownable: caller is not the owner"


@internal
def _lock(user: address):
    if self.locks[user]:
        self._err0(method_id("LedgerLocked()"))
    self.locks[user] = True


@internal
def _unlock(user: address):
    self.locks[user] = False


@internal
@view
def _require_ledger(user: address):
    if self.ledgerPos[user] == 0:
        self._err_a(method_id("LedgerNotExists(address)"), user)


@internal
@pure
def _check_info(info: String[INFO_BOUND]):
    if len(info) > MAX_ADDITIONAL_INFO_LENGTH:
        self._err_uu(method_id("AdditionalInfoTooLong(uint256,uint256)"), len(info), MAX_ADDITIONAL_INFO_LENGTH)


@internal
@view
def _service_by_name(serviceName: String[NAME_BOUND]) -> address:
    svc: address = self.serviceNameToAddress[keccak256(serviceName)]
    if svc == empty(address):
        self._err_a(method_id("ServiceNotFound(address)"), svc)
    return svc


# ---------------------------------------------------------------- owner / init

@internal
def _transfer_ownership(new_owner: address):
    old: address = self.owner
    self.owner = new_owner
    log OwnershipTransferred(previousOwner=old, newOwner=new_owner)


@external
def initialize(owner: address):
    if self.initialized:
        self._err0(method_id("AlreadyInitialized()"))
    self.initialized = True
    self._transfer_ownership(owner)
    log Initialized(version=1)


@external
def transferOwnership(newOwner: address):
    self._only_owner()
    assert newOwner != empty(address), "Ownable: new owner is the zero address"
    self._transfer_ownership(newOwner)


@external
def renounceOwnership():
    self._only_owner()
    self._transfer_ownership(empty(address))


# ---------------------------------------------------------------- ledger storage helpers

@internal
def _create_ledger(user: address, amount: uint256, info: String[INFO_BOUND]):
    self.ledgers[user] = Ledger(user=user, availableBalance=amount, totalBalance=amount, additionalInfo=info)
    self.ledgerKeys.append(user)
    self.ledgerPos[user] = len(self.ledgerKeys)


@internal
def _remove_ledger(user: address):
    pos: uint256 = self.ledgerPos[user]
    last: uint256 = len(self.ledgerKeys)
    if pos != last:
        moved: address = self.ledgerKeys[last - 1]
        self.ledgerKeys[pos - 1] = moved
        self.ledgerPos[moved] = pos
    self.ledgerKeys.pop()
    self.ledgerPos[user] = 0
    self.ledgers[user] = empty(Ledger)


@internal
def _add_provider_to_service(user: address, svc: address, provider: address):
    n: uint256 = len(self.userServiceProviders[user][svc])
    if n >= MAX_PROVIDERS_PER_USER_PER_SERVICE:
        self._err_uu(
            method_id("TooManyProvidersForService(uint256,uint256)"), n, MAX_PROVIDERS_PER_USER_PER_SERVICE
        )
    if self.userServiceProviderPos[user][svc][provider] == 0:
        self.userServiceProviders[user][svc].append(provider)
        self.userServiceProviderPos[user][svc][provider] = n + 1


@internal
def _delete_all_service_accounts(user: address):
    for svc: address in self.serviceAddresses:
        n: uint256 = len(self.userServiceProviders[user][svc])
        for i: uint256 in range(n, bound=MAX_PROVIDERS_PER_USER_PER_SERVICE):
            p: address = self.userServiceProviders[user][svc][i]
            # try/catch in Solidity: a failing deleteAccount is ignored
            ok: bool = raw_call(
                svc,
                abi_encode(user, p, method_id=method_id("deleteAccount(address,address)")),
                revert_on_failure=False,
            )
            self.userServiceProviderPos[user][svc][p] = 0
        self.userServiceProviders[user][svc] = []


# ---------------------------------------------------------------- ledger views

@external
@view
def getLedger(user: address) -> Ledger:
    self._require_ledger(user)
    return self.ledgers[user]


@external
@view
def getAllLedgers(offset: uint256, limit: uint256) -> (DynArray[Ledger, LEDGER_PAGE_BOUND], uint256):
    total: uint256 = len(self.ledgerKeys)
    result: DynArray[Ledger, LEDGER_PAGE_BOUND] = []
    if offset >= total:
        return result, total
    lim: uint256 = limit
    if lim == 0:
        lim = 50
    n: uint256 = min(min(lim, total - offset), LEDGER_PAGE_BOUND)
    for i: uint256 in range(n, bound=LEDGER_PAGE_BOUND):
        result.append(self.ledgers[self.ledgerKeys[offset + i]])
    return result, total


@external
@view
def getLedgerProviders(user: address, serviceName: String[NAME_BOUND]) -> DynArray[address, MAX_PROVIDERS_PER_USER_PER_SERVICE]:
    svc: address = self._service_by_name(serviceName)
    return self.userServiceProviders[user][svc]


# ---------------------------------------------------------------- user functions

@external
@payable
def addLedger(additionalInfo: String[INFO_BOUND]) -> (uint256, uint256):
    self._lock(msg.sender)
    if msg.value < MIN_ACCOUNT_BALANCE:
        self._err_uu(method_id("MinimumDepositRequired(uint256,uint256)"), msg.value, MIN_ACCOUNT_BALANCE)
    self._check_info(additionalInfo)
    if self.ledgerPos[msg.sender] != 0:
        self._err_a(method_id("LedgerExists(address)"), msg.sender)
    self._create_ledger(msg.sender, msg.value, additionalInfo)
    self._unlock(msg.sender)
    return msg.value, 0


@external
def updateAdditionalInfo(additionalInfo: String[INFO_BOUND]):
    self._lock(msg.sender)
    self._check_info(additionalInfo)
    self._require_ledger(msg.sender)
    self.ledgers[msg.sender].additionalInfo = additionalInfo
    log LedgerInfoUpdated(user=msg.sender, additionalInfo=additionalInfo)
    self._unlock(msg.sender)


@internal
def _deposit(user: address, amount: uint256):
    if amount == 0:
        self._err0(method_id("ZeroAmountNotAllowed()"))
    if self.ledgerPos[user] == 0:
        if amount < MIN_ACCOUNT_BALANCE:
            self._err_uu(method_id("MinimumDepositRequired(uint256,uint256)"), amount, MIN_ACCOUNT_BALANCE)
        self._create_ledger(user, amount, "")
    else:
        self.ledgers[user].availableBalance += amount
        self.ledgers[user].totalBalance += amount


@external
@payable
def depositFund():
    self._lock(msg.sender)
    self._deposit(msg.sender, msg.value)
    self._unlock(msg.sender)


@external
@payable
def depositFundFor(recipient: address):
    self._lock(recipient)
    if recipient == empty(address):
        self._err0(method_id("ZeroAddressNotAllowed()"))
    self._deposit(recipient, msg.value)
    self._unlock(recipient)


@external
def refund(amount: uint256):
    self._lock(msg.sender)
    self._require_ledger(msg.sender)
    available: uint256 = self.ledgers[msg.sender].availableBalance
    if available < amount:
        self._err_a(method_id("InsufficientBalance(address)"), msg.sender)
    remaining: uint256 = available - amount
    if remaining != 0 and remaining < MIN_ACCOUNT_BALANCE:
        self._err_uu(method_id("MinimumDepositRequired(uint256,uint256)"), remaining, MIN_ACCOUNT_BALANCE)
    self.ledgers[msg.sender].availableBalance = remaining
    total: uint256 = self.ledgers[msg.sender].totalBalance - amount
    self.ledgers[msg.sender].totalBalance = total
    if total == 0:
        self._remove_ledger(msg.sender)
        self._delete_all_service_accounts(msg.sender)
    if not raw_call(msg.sender, b"", value=amount, revert_on_failure=False):
        self._err0(method_id("TransferFailed()"))
    self._unlock(msg.sender)


@external
def transferFund(provider: address, serviceName: String[NAME_BOUND], amount: uint256):
    self._lock(msg.sender)
    self._require_ledger(msg.sender)
    svc: address = self._service_by_name(serviceName)

    transfer_amount: uint256 = amount
    payload: Bytes[INFO_BOUND + 256] = b""
    if staticcall IServing(svc).accountExists(msg.sender, provider):
        # Existing sub-account: first cancel pending refunds, then take the rest.
        retrieving: uint256 = staticcall IServing(svc).getPendingRefund(msg.sender, provider)
        cancel: uint256 = min(amount, retrieving)
        transfer_amount -= cancel
        payload = abi_encode(
            msg.sender, provider, cancel,
            method_id=method_id("depositFund(address,address,uint256)"),
        )
    else:
        if amount < MIN_TRANSFER_AMOUNT:
            self._err_uu(method_id("MinimumDepositRequired(uint256,uint256)"), amount, MIN_TRANSFER_AMOUNT)
        payload = abi_encode(
            msg.sender, provider, self.ledgers[msg.sender].additionalInfo,
            method_id=method_id("addAccount(address,address,string)"),
        )
        self._add_provider_to_service(msg.sender, svc, provider)

    available: uint256 = self.ledgers[msg.sender].availableBalance
    if available < transfer_amount:
        self._err_uu(method_id("InsufficientAvailableBalance(uint256,uint256)"), available, transfer_amount)
    self.ledgers[msg.sender].availableBalance = available - transfer_amount

    if not raw_call(svc, payload, value=transfer_amount, revert_on_failure=False):
        self._err0(method_id("CallFailed()"))
    self._unlock(msg.sender)


@external
def retrieveFund(providers: DynArray[address, PROVIDERS_INPUT_BOUND], serviceName: String[NAME_BOUND]):
    self._lock(msg.sender)
    if len(providers) > MAX_PROVIDERS_PER_BATCH:
        self._err_uu(method_id("TooManyProviders(uint256,uint256)"), len(providers), MAX_PROVIDERS_PER_BATCH)
    svc: address = self._service_by_name(serviceName)
    self._require_ledger(msg.sender)
    total: uint256 = 0
    for p: address in providers:
        if staticcall IServing(svc).accountExists(msg.sender, p):
            amount: uint256 = 0
            b: uint256 = 0
            pr: uint256 = 0
            amount, b, pr = extcall IServing(svc).processRefund(msg.sender, p)
            total += amount
            extcall IServing(svc).requestRefundAll(msg.sender, p)
    self.ledgers[msg.sender].availableBalance += total
    self._unlock(msg.sender)


@external
@nonreentrant
def deleteLedger():
    self._lock(msg.sender)
    self._require_ledger(msg.sender)
    total: uint256 = self.ledgers[msg.sender].totalBalance
    if total != 0:
        self._err_u(method_id("MustWithdrawAllFundsFirst(uint256)"), total)
    self._delete_all_service_accounts(msg.sender)
    self._remove_ledger(msg.sender)
    self._unlock(msg.sender)


# ---------------------------------------------------------------- called by serving contracts

@external
def spendFund(user: address, amount: uint256):
    if self.registeredServices[msg.sender].serviceAddress == empty(address):
        self._err_a(method_id("CallerNotRegisteredService(address)"), msg.sender)
    self._lock(user)
    self._require_ledger(user)
    total: uint256 = self.ledgers[user].totalBalance
    locked: uint256 = total - self.ledgers[user].availableBalance
    if locked < amount:
        self._err_uu(method_id("InsufficientAvailableBalance(uint256,uint256)"), locked, amount)
    self.ledgers[user].totalBalance = total - amount
    log FundSpent(user=user, service=msg.sender, amount=amount)
    self._unlock(user)


# ---------------------------------------------------------------- service registry

@internal
@view
def _supports(addr: address, iid: bytes4) -> bool:
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(
        addr,
        abi_encode(iid, method_id=method_id("supportsInterface(bytes4)")),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(out) < 32:
        return False
    return convert(out, uint256) == 1


@external
def registerService(
    serviceType: String[TYPE_BOUND],
    version: String[TYPE_BOUND],
    serviceAddress: address,
    description: String[DESC_BOUND],
):
    self._only_owner()
    if serviceAddress == empty(address):
        self._err_a(method_id("InvalidServiceAddress(address)"), serviceAddress)
    if len(serviceType) == 0:
        self._err0(method_id("ServiceTypeRequired()"))
    if len(version) == 0:
        self._err0(method_id("VersionRequired()"))
    if self.registeredServices[serviceAddress].serviceAddress != empty(address):
        self._err_a(method_id("ServiceAlreadyRegistered(address)"), serviceAddress)
    full_name: String[FULLNAME_BOUND] = concat(serviceType, "-", version)
    if self.serviceNameToAddress[keccak256(full_name)] != empty(address):
        raw_revert(concat(method_id("ServiceNameExists(string)"), abi_encode(full_name)))
    if not self._supports(serviceAddress, ERC165_ID) or not self._supports(serviceAddress, ISERVING_ID):
        self._err_a(method_id("ServiceMustImplementIServing(address)"), serviceAddress)
    if len(self.serviceAddresses) >= REGISTRY_BOUND:
        self._err_u(method_id("ServiceRegistryLimitReached(uint256)"), REGISTRY_BOUND)

    self.registeredServices[serviceAddress] = ServiceInfo(
        serviceAddress=serviceAddress,
        serviceContract=serviceAddress,
        serviceType=serviceType,
        version=version,
        fullName=full_name,
        description=description,
        isRecommended=False,
        registeredAt=block.timestamp,
    )
    self.serviceNameToAddress[keccak256(full_name)] = serviceAddress
    self.serviceAddresses.append(serviceAddress)
    log ServiceRegistered(serviceAddress=serviceAddress, serviceName=full_name)


@external
def setRecommendedService(serviceType: String[TYPE_BOUND], version: String[TYPE_BOUND]):
    self._only_owner()
    full_name: String[FULLNAME_BOUND] = concat(serviceType, "-", version)
    addr: address = self.serviceNameToAddress[keccak256(full_name)]
    if addr == empty(address):
        self._err_a(method_id("ServiceNotFound(address)"), addr)
    tkey: bytes32 = keccak256(serviceType)
    old: address = self.recommendedByType[tkey]
    if old != empty(address) and old != addr:
        self.registeredServices[old].isRecommended = False
    self.recommendedByType[tkey] = addr
    self.registeredServices[addr].isRecommended = True
    log RecommendedServiceUpdated(serviceType=serviceType, version=version, serviceAddress=addr)


@external
@view
def getServiceInfo(serviceAddress: address) -> ServiceInfo:
    return self.registeredServices[serviceAddress]


@external
@view
def getServiceAddressByName(serviceName: String[NAME_BOUND]) -> address:
    return self.serviceNameToAddress[keccak256(serviceName)]


@external
@view
def getAllActiveServices() -> DynArray[ServiceInfo, REGISTRY_BOUND]:
    result: DynArray[ServiceInfo, REGISTRY_BOUND] = []
    for a: address in self.serviceAddresses:
        result.append(self.registeredServices[a])
    return result


@external
@view
def getRecommendedService(serviceType: String[TYPE_BOUND]) -> (String[TYPE_BOUND], address):
    addr: address = self.recommendedByType[keccak256(serviceType)]
    if addr == empty(address):
        raw_revert(concat(method_id("NoRecommendedService(string)"), abi_encode(serviceType)))
    return self.registeredServices[addr].version, addr


@external
@view
def getAllVersions(serviceType: String[TYPE_BOUND]) -> (
    DynArray[String[TYPE_BOUND], REGISTRY_BOUND], DynArray[address, REGISTRY_BOUND], DynArray[bool, REGISTRY_BOUND]
):
    versions: DynArray[String[TYPE_BOUND], REGISTRY_BOUND] = []
    addresses: DynArray[address, REGISTRY_BOUND] = []
    flags: DynArray[bool, REGISTRY_BOUND] = []
    h: bytes32 = keccak256(serviceType)
    for a: address in self.serviceAddresses:
        if keccak256(self.registeredServices[a].serviceType) == h:
            versions.append(self.registeredServices[a].version)
            addresses.append(a)
            flags.append(self.registeredServices[a].isRecommended)
    return versions, addresses, flags


@external
@view
def isRecommendedVersion(serviceType: String[TYPE_BOUND], version: String[TYPE_BOUND]) -> bool:
    full_name: String[FULLNAME_BOUND] = concat(serviceType, "-", version)
    addr: address = self.serviceNameToAddress[keccak256(full_name)]
    if addr == empty(address):
        return False
    return self.registeredServices[addr].isRecommended


# ---------------------------------------------------------------- receive

@external
@payable
def __default__():
    # Only registered serving contracts may send plain value (processRefund
    # returns matured refunds this way). Everyone else: DirectDepositsDisabled.
    if len(msg.data) != 0:
        raw_revert(b"")
    if self.registeredServices[msg.sender].serviceAddress == empty(address):
        self._err0(method_id("DirectDepositsDisabled()"))
