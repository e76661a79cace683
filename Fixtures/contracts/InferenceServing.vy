# pragma version 0.4.3
# @title InferenceServing (test double)
# @notice A Vyper re-implementation of 0G's InferenceServing v1.0. The ABI
#         matches the deployed contract for every function, event and error
#         (see Fixtures/contracts/README.md). Behaviour follows the 0G Solidity
#         sources. Differences are bounds (Vyper needs them) and a plain
#         contract with initialize() instead of a beacon proxy.
#
# Custom errors: Vyper 0.4.3 cannot declare them, so they are raised with
# raw_revert(selector ++ abi_encode(args)). build.py reads the "@abi-error"
# lines below, adds the error entries to the ABI and checks that every
# method_id("Xxx(...)") used here is declared.
#
# @abi-error AccountExists(address user, address provider)
# @abi-error AccountNotExists(address user, address provider)
# @abi-error AdditionalInfoTooLong()
# @abi-error AlreadyInitialized()
# @abi-error BatchSizeTooLarge(uint256 size, uint256 max)
# @abi-error CallerNotLedger(address caller)
# @abi-error CannotAddStakeWhenUpdating()
# @abi-error CannotRevokeWithNonZeroBalance(address user, address provider, uint256 balance)
# @abi-error DirectDepositsDisabled()
# @abi-error InsufficientStake(uint256 provided, uint256 required)
# @abi-error InvalidAddress(address addr)
# @abi-error InvalidTEESignature(string reason)
# @abi-error LimitTooLarge(uint256 limit, uint256 max)
# @abi-error LockTimeOutOfRange(uint256 lockTime, uint256 min, uint256 max)
# @abi-error NoSettlementsProvided()
# @abi-error ProviderCannotBeUser()
# @abi-error ServiceNotExist(address provider)
# @abi-error TooManyRefunds(address user, address provider)
# @abi-error TooManySettlements(uint256 count, uint256 max)
# @abi-error TransferFailed()
#
# Output names (Vyper cannot name return values; build.py adds them):
# @abi-outputs getService: service
# @abi-outputs getAllServices: services, total
# @abi-outputs getAllAccounts: accounts, total
# @abi-outputs getAccountsByProvider: accounts, total
# @abi-outputs getAccountsByUser: accounts, total
# @abi-outputs getBatchAccountsByUsers: accounts
# @abi-outputs processRefund: totalAmount, balance, pendingRefund
# @abi-outputs settleFeesWithTEE: statuses
# @abi-outputs previewSettlementResults: failedUsers, failureReasons, partialUsers, partialAmounts
#
# __default__ only accepts empty calldata, so it is a Solidity receive():
# @abi-receive

interface ILedger:
    def spendFund(user: address, amount: uint256): nonpayable

# ---------------------------------------------------------------- constants

MIN_LOCKTIME: public(constant(uint256)) = 3600            # 1 hour
MAX_LOCKTIME: public(constant(uint256)) = 604800          # 7 days
MIN_PROVIDER_STAKE: public(constant(uint256)) = 100 * 10**18

MAX_REFUNDS_PER_ACCOUNT: constant(uint256) = 5
MAX_ADDITIONAL_INFO_LENGTH: constant(uint256) = 4096
PAGE_LIMIT: constant(uint256) = 50
MAX_SETTLEMENTS: constant(uint256) = 50
MAX_BATCH_USERS: constant(uint256) = 32       # real contract: 500

# Vyper bounds (inputs longer than a bound fail ABI decoding with empty data).
INFO_BOUND: constant(uint256) = 4200          # > 4096 so the real error fires
TYPE_BOUND: constant(uint256) = 128
URL_BOUND: constant(uint256) = 1024
MODEL_BOUND: constant(uint256) = 512
SIG_BOUND: constant(uint256) = 256
SETTLE_INPUT_BOUND: constant(uint256) = 64    # > 50 so TooManySettlements fires
BATCH_INPUT_BOUND: constant(uint256) = 64
TOKEN_IDS_BOUND: constant(uint256) = 256
MAX_SERVICES: constant(uint256) = 256
MAX_ACCOUNTS: constant(uint256) = 65536
MAX_ACCOUNTS_PER_KEY: constant(uint256) = 8192

SUCCESS: constant(uint8) = 0
PARTIAL: constant(uint8) = 1
PROVIDER_MISMATCH: constant(uint8) = 2
NO_TEE_SIGNER: constant(uint8) = 3
INVALID_NONCE: constant(uint8) = 4
INVALID_SIGNATURE: constant(uint8) = 5

DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
SETTLEMENT_TYPEHASH: constant(bytes32) = keccak256(
    "TEESettlement(bytes32 requestsHash,uint256 nonce,address provider,address user,uint256 totalFee)"
)
DOMAIN_NAME_HASH: constant(bytes32) = keccak256("0G Inference Serving")
DOMAIN_VERSION_HASH: constant(bytes32) = keccak256("1")
SECP256K1N_HALF: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

ERC165_ID: constant(bytes4) = 0x01ffc9a7
ISERVING_ID: constant(bytes4) = 0x160841b1   # xor of the 7 IServing selectors

# ---------------------------------------------------------------- structs

struct Refund:
    index: uint256
    amount: uint256
    createdAt: uint256
    processed: bool

struct Account:
    user: address
    provider: address
    nonce: uint256
    balance: uint256
    pendingRefund: uint256
    refunds: DynArray[Refund, MAX_REFUNDS_PER_ACCOUNT]
    additionalInfo: String[INFO_BOUND]
    acknowledged: bool
    validRefundsLength: uint256
    generation: uint256
    revokedBitmap: uint256

struct Service:
    provider: address
    serviceType: String[TYPE_BOUND]
    url: String[URL_BOUND]
    inputPrice: uint256
    outputPrice: uint256
    updatedAt: uint256
    model: String[MODEL_BOUND]
    verifiability: String[TYPE_BOUND]
    additionalInfo: String[INFO_BOUND]
    teeSignerAddress: address
    teeSignerAcknowledged: bool

struct ServiceParams:
    serviceType: String[TYPE_BOUND]
    url: String[URL_BOUND]
    model: String[MODEL_BOUND]
    verifiability: String[TYPE_BOUND]
    inputPrice: uint256
    outputPrice: uint256
    additionalInfo: String[INFO_BOUND]
    teeSignerAddress: address

struct TEESettlementData:
    user: address
    provider: address
    totalFee: uint256
    requestsHash: bytes32
    nonce: uint256
    signature: Bytes[SIG_BOUND]

struct AccountKey:
    user: address
    provider: address

# ---------------------------------------------------------------- events

event BalanceUpdated:
    user: indexed(address)
    provider: indexed(address)
    amount: uint256
    pendingRefund: uint256

event RefundRequested:
    user: indexed(address)
    provider: indexed(address)
    index: indexed(uint256)
    timestamp: uint256

event ServiceUpdated:
    service: indexed(address)
    serviceType: String[TYPE_BOUND]
    url: String[URL_BOUND]
    inputPrice: uint256
    outputPrice: uint256
    updatedAt: uint256
    model: String[MODEL_BOUND]
    verifiability: String[TYPE_BOUND]

event ServiceRemoved:
    service: indexed(address)

event TEESettlementResult:
    user: indexed(address)
    status: uint8
    unsettledAmount: uint256

event BatchBalanceUpdated:
    users: DynArray[address, 1]
    balances: DynArray[uint256, 1]
    pendingRefunds: DynArray[uint256, 1]

event ProviderTEESignerAcknowledged:
    provider: indexed(address)
    teeSignerAddress: indexed(address)
    acknowledged: bool

event ProviderStaked:
    provider: indexed(address)
    amount: uint256

event ProviderStakeReturned:
    provider: indexed(address)
    amount: uint256

event TokenRevoked:
    user: indexed(address)
    provider: indexed(address)
    tokenId: uint8

event TokensRevoked:
    user: indexed(address)
    provider: indexed(address)
    tokenIds: DynArray[uint8, TOKEN_IDS_BOUND]

event AllTokensRevoked:
    user: indexed(address)
    provider: indexed(address)
    newGeneration: uint256

event LockTimeUpdated:
    oldLockTime: uint256
    newLockTime: uint256

event ContractInitialized:
    owner: indexed(address)
    lockTime: uint256
    ledgerAddress: address

event AccountDeleted:
    user: indexed(address)
    provider: indexed(address)
    refundedAmount: uint256

event Initialized:
    version: uint8

event OwnershipTransferred:
    previousOwner: indexed(address)
    newOwner: indexed(address)

# ---------------------------------------------------------------- storage

owner: public(address)
initialized: public(bool)
lockTime: public(uint256)
ledgerAddress: public(address)

accounts: HashMap[address, HashMap[address, Account]]
accountKeys: DynArray[AccountKey, MAX_ACCOUNTS]
accountPos: HashMap[address, HashMap[address, uint256]]          # 1-based; 0 = absent
userProviders: HashMap[address, DynArray[address, MAX_ACCOUNTS_PER_KEY]]
userPos: HashMap[address, HashMap[address, uint256]]
providerUsers: HashMap[address, DynArray[address, MAX_ACCOUNTS_PER_KEY]]
providerPos: HashMap[address, HashMap[address, uint256]]

services: HashMap[address, Service]
serviceKeys: DynArray[address, MAX_SERVICES]
servicePos: HashMap[address, uint256]                             # 1-based
providerStake: HashMap[address, uint256]


@deploy
def __init__():
    pass


# ---------------------------------------------------------------- errors

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
def _err_aa(sel: Bytes[4], a: address, b: address):
    raw_revert(concat(sel, abi_encode(a, b)))


@internal
@pure
def _err_uu(sel: Bytes[4], a: uint256, b: uint256):
    raw_revert(concat(sel, abi_encode(a, b)))


@internal
@view
def _require_account(user: address, provider: address):
    if self.accountPos[user][provider] == 0:
        self._err_aa(method_id("AccountNotExists(address,address)"), user, provider)


@internal
@view
def _require_service(provider: address):
    if self.servicePos[provider] == 0:
        self._err_a(method_id("ServiceNotExist(address)"), provider)


@internal
@view
def _only_owner():
    assert msg.sender == self.owner, "Ownable: caller is not the owner"


@internal
@view
def _only_ledger():
    if msg.sender != self.ledgerAddress:
        self._err_a(method_id("CallerNotLedger(address)"), msg.sender)


@internal
@pure
def _check_lock_time(t: uint256):
    if t < MIN_LOCKTIME or t > MAX_LOCKTIME:
        raw_revert(concat(
            method_id("LockTimeOutOfRange(uint256,uint256,uint256)"),
            abi_encode(t, MIN_LOCKTIME, MAX_LOCKTIME),
        ))


@internal
@pure
def _check_limit(limit: uint256) -> uint256:
    if limit > PAGE_LIMIT:
        self._err_uu(method_id("LimitTooLarge(uint256,uint256)"), limit, PAGE_LIMIT)
    if limit == 0:
        return PAGE_LIMIT
    return limit


# ---------------------------------------------------------------- owner / init

@internal
def _transfer_ownership(new_owner: address):
    old: address = self.owner
    self.owner = new_owner
    log OwnershipTransferred(previousOwner=old, newOwner=new_owner)


@external
def initialize(_locktime: uint256, _ledgerAddress: address, owner: address):
    if self.initialized:
        self._err0(method_id("AlreadyInitialized()"))
    self.initialized = True
    self._transfer_ownership(owner)
    self._check_lock_time(_locktime)
    self.lockTime = _locktime
    self.ledgerAddress = _ledgerAddress
    log ContractInitialized(owner=owner, lockTime=_locktime, ledgerAddress=_ledgerAddress)
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


@external
def updateLockTime(_locktime: uint256):
    self._only_owner()
    self._check_lock_time(_locktime)
    old: uint256 = self.lockTime
    self.lockTime = _locktime
    log LockTimeUpdated(oldLockTime=old, newLockTime=_locktime)


@external
@view
def supportsInterface(interfaceId: bytes4) -> bool:
    return interfaceId == ERC165_ID or interfaceId == ISERVING_ID


# ---------------------------------------------------------------- account views

@external
@view
def accountExists(user: address, provider: address) -> bool:
    return self.accountPos[user][provider] != 0


@external
@view
def getAccount(user: address, provider: address) -> Account:
    self._require_account(user, provider)
    return self.accounts[user][provider]


@external
@view
def getPendingRefund(user: address, provider: address) -> uint256:
    self._require_account(user, provider)
    return self.accounts[user][provider].pendingRefund


@external
@view
def getAllAccounts(offset: uint256, limit: uint256) -> (DynArray[Account, PAGE_LIMIT], uint256):
    lim: uint256 = self._check_limit(limit)
    total: uint256 = len(self.accountKeys)
    result: DynArray[Account, PAGE_LIMIT] = []
    if offset >= total:
        return result, total
    n: uint256 = min(lim, total - offset)
    for i: uint256 in range(n, bound=PAGE_LIMIT):
        k: AccountKey = self.accountKeys[offset + i]
        result.append(self.accounts[k.user][k.provider])
    return result, total


@external
@view
def getAccountsByProvider(provider: address, offset: uint256, limit: uint256) -> (DynArray[Account, PAGE_LIMIT], uint256):
    lim: uint256 = self._check_limit(limit)
    total: uint256 = len(self.providerUsers[provider])
    result: DynArray[Account, PAGE_LIMIT] = []
    if offset >= total:
        return result, total
    n: uint256 = min(lim, total - offset)
    for i: uint256 in range(n, bound=PAGE_LIMIT):
        u: address = self.providerUsers[provider][offset + i]
        result.append(self.accounts[u][provider])
    return result, total


@external
@view
def getAccountsByUser(user: address, offset: uint256, limit: uint256) -> (DynArray[Account, PAGE_LIMIT], uint256):
    lim: uint256 = self._check_limit(limit)
    total: uint256 = len(self.userProviders[user])
    result: DynArray[Account, PAGE_LIMIT] = []
    if offset >= total:
        return result, total
    n: uint256 = min(lim, total - offset)
    for i: uint256 in range(n, bound=PAGE_LIMIT):
        p: address = self.userProviders[user][offset + i]
        result.append(self.accounts[user][p])
    return result, total


@external
@view
def getBatchAccountsByUsers(users: DynArray[address, BATCH_INPUT_BOUND]) -> DynArray[Account, MAX_BATCH_USERS]:
    if len(users) > MAX_BATCH_USERS:
        self._err_uu(method_id("BatchSizeTooLarge(uint256,uint256)"), len(users), MAX_BATCH_USERS)
    result: DynArray[Account, MAX_BATCH_USERS] = []
    for u: address in users:
        if self.accountPos[u][msg.sender] != 0:
            result.append(self.accounts[u][msg.sender])
        else:
            result.append(empty(Account))
    return result


# ---------------------------------------------------------------- user functions

@external
def acknowledgeTEESigner(provider: address, acknowledged: bool):
    self._require_account(msg.sender, provider)
    if self.accounts[msg.sender][provider].acknowledged and not acknowledged:
        bal: uint256 = self.accounts[msg.sender][provider].balance
        if bal != 0:
            raw_revert(concat(
                method_id("CannotRevokeWithNonZeroBalance(address,address,uint256)"),
                abi_encode(msg.sender, provider, bal),
            ))
    self.accounts[msg.sender][provider].acknowledged = acknowledged


@external
def revokeToken(provider: address, tokenId: uint8):
    self._require_account(msg.sender, provider)
    self.accounts[msg.sender][provider].revokedBitmap |= (1 << convert(tokenId, uint256))
    log TokenRevoked(user=msg.sender, provider=provider, tokenId=tokenId)


@external
def revokeTokens(provider: address, tokenIds: DynArray[uint8, TOKEN_IDS_BOUND]):
    self._require_account(msg.sender, provider)
    bitmap: uint256 = self.accounts[msg.sender][provider].revokedBitmap
    for t: uint8 in tokenIds:
        bitmap |= (1 << convert(t, uint256))
    self.accounts[msg.sender][provider].revokedBitmap = bitmap
    log TokensRevoked(user=msg.sender, provider=provider, tokenIds=tokenIds)


@external
def revokeAllTokens(provider: address):
    self._require_account(msg.sender, provider)
    gen: uint256 = self.accounts[msg.sender][provider].generation + 1
    self.accounts[msg.sender][provider].generation = gen
    self.accounts[msg.sender][provider].revokedBitmap = 0
    log AllTokensRevoked(user=msg.sender, provider=provider, newGeneration=gen)


@external
@view
def isTokenRevoked(user: address, provider: address, tokenId: uint8) -> bool:
    self._require_account(user, provider)
    return (self.accounts[user][provider].revokedBitmap & (1 << convert(tokenId, uint256))) != 0


# ---------------------------------------------------------------- ledger-only

@internal
def _index_add(user: address, provider: address):
    self.accountKeys.append(AccountKey(user=user, provider=provider))
    self.accountPos[user][provider] = len(self.accountKeys)
    self.userProviders[user].append(provider)
    self.userPos[user][provider] = len(self.userProviders[user])
    self.providerUsers[provider].append(user)
    self.providerPos[user][provider] = len(self.providerUsers[provider])


@internal
def _index_remove(user: address, provider: address):
    # EnumerableSet semantics: move the last element into the hole.
    pos: uint256 = self.accountPos[user][provider]
    last: uint256 = len(self.accountKeys)
    if pos != last:
        moved: AccountKey = self.accountKeys[last - 1]
        self.accountKeys[pos - 1] = moved
        self.accountPos[moved.user][moved.provider] = pos
    self.accountKeys.pop()
    self.accountPos[user][provider] = 0

    pos = self.userPos[user][provider]
    last = len(self.userProviders[user])
    if pos != last:
        mp: address = self.userProviders[user][last - 1]
        self.userProviders[user][pos - 1] = mp
        self.userPos[user][mp] = pos
    self.userProviders[user].pop()
    self.userPos[user][provider] = 0

    pos = self.providerPos[user][provider]
    last = len(self.providerUsers[provider])
    if pos != last:
        mu: address = self.providerUsers[provider][last - 1]
        self.providerUsers[provider][pos - 1] = mu
        self.providerPos[mu][provider] = pos
    self.providerUsers[provider].pop()
    self.providerPos[user][provider] = 0


@internal
@pure
def _check_user_provider(user: address, provider: address):
    if user == empty(address):
        self._err_a(method_id("InvalidAddress(address)"), user)
    if provider == empty(address):
        self._err_a(method_id("InvalidAddress(address)"), provider)
    if user == provider:
        self._err0(method_id("ProviderCannotBeUser()"))


@external
@payable
def addAccount(user: address, provider: address, additionalInfo: String[INFO_BOUND]):
    self._only_ledger()
    self._check_user_provider(user, provider)
    if self.accountPos[user][provider] != 0:
        self._err_aa(method_id("AccountExists(address,address)"), user, provider)
    # nonce and generation survive a deleted account (replay protection)
    self.accounts[user][provider].user = user
    self.accounts[user][provider].provider = provider
    self.accounts[user][provider].balance = msg.value
    self.accounts[user][provider].pendingRefund = 0
    self.accounts[user][provider].additionalInfo = additionalInfo
    self.accounts[user][provider].validRefundsLength = 0
    self.accounts[user][provider].acknowledged = True     # auto-acknowledge on first transfer
    self._index_add(user, provider)
    log BalanceUpdated(user=user, provider=provider, amount=msg.value, pendingRefund=0)


@external
def deleteAccount(user: address, provider: address):
    self._only_ledger()
    if self.accountPos[user][provider] == 0:
        return
    bal: uint256 = self.accounts[user][provider].balance
    self.accounts[user][provider].balance = 0
    self.accounts[user][provider].pendingRefund = 0
    self.accounts[user][provider].acknowledged = False
    self.accounts[user][provider].validRefundsLength = 0
    self.accounts[user][provider].revokedBitmap = 0
    self.accounts[user][provider].refunds = []
    self.accounts[user][provider].additionalInfo = ""
    self._index_remove(user, provider)
    log AccountDeleted(user=user, provider=provider, refundedAmount=bal)


@internal
def _cancel_refunds_newest_first(user: address, provider: address, amount: uint256):
    # Takes `amount` out of the live refunds, newest first. amount <= pendingRefund.
    remaining: uint256 = amount
    vlen: uint256 = self.accounts[user][provider].validRefundsLength
    for _j: uint256 in range(MAX_REFUNDS_PER_ACCOUNT):
        if vlen == 0 or remaining == 0:
            break
        i: uint256 = vlen - 1
        ra: uint256 = self.accounts[user][provider].refunds[i].amount
        if ra <= remaining:
            remaining -= ra
            self.accounts[user][provider].refunds[i].amount = 0
            vlen -= 1
        else:
            self.accounts[user][provider].refunds[i].amount = ra - remaining
            remaining = 0
    self.accounts[user][provider].validRefundsLength = vlen
    self.accounts[user][provider].pendingRefund -= amount - remaining


@external
@payable
def depositFund(user: address, provider: address, cancelRetrievingAmount: uint256):
    self._only_ledger()
    self._check_user_provider(user, provider)
    self._require_account(user, provider)
    if cancelRetrievingAmount > 0 and self.accounts[user][provider].validRefundsLength > 0:
        self._cancel_refunds_newest_first(
            user, provider, min(cancelRetrievingAmount, self.accounts[user][provider].pendingRefund)
        )
    self.accounts[user][provider].balance += msg.value
    if not self.accounts[user][provider].acknowledged:
        self.accounts[user][provider].acknowledged = True
    log BalanceUpdated(
        user=user,
        provider=provider,
        amount=self.accounts[user][provider].balance,
        pendingRefund=self.accounts[user][provider].pendingRefund,
    )


@external
def requestRefundAll(user: address, provider: address):
    self._only_ledger()
    self._require_account(user, provider)
    bal: uint256 = self.accounts[user][provider].balance
    pending: uint256 = self.accounts[user][provider].pendingRefund
    vlen: uint256 = self.accounts[user][provider].validRefundsLength
    amount: uint256 = bal - pending
    if amount != 0:
        if vlen >= MAX_REFUNDS_PER_ACCOUNT:
            self._err_aa(method_id("TooManyRefunds(address,address)"), user, provider)
        r: Refund = Refund(index=vlen, amount=amount, createdAt=block.timestamp, processed=False)
        if len(self.accounts[user][provider].refunds) <= vlen:
            self.accounts[user][provider].refunds.append(r)
        else:
            self.accounts[user][provider].refunds[vlen] = r
        vlen += 1
        self.accounts[user][provider].validRefundsLength = vlen
        self.accounts[user][provider].pendingRefund = pending + amount
    if vlen > 0:
        log RefundRequested(user=user, provider=provider, index=vlen - 1, timestamp=block.timestamp)


@external
def processRefund(user: address, provider: address) -> (uint256, uint256, uint256):
    self._only_ledger()
    self._require_account(user, provider)
    vlen: uint256 = self.accounts[user][provider].validRefundsLength
    if vlen == 0:
        return 0, self.accounts[user][provider].balance, self.accounts[user][provider].pendingRefund
    total: uint256 = 0
    pending: uint256 = 0
    w: uint256 = 0
    lt: uint256 = self.lockTime
    for i: uint256 in range(vlen, bound=MAX_REFUNDS_PER_ACCOUNT):
        r: Refund = self.accounts[user][provider].refunds[i]
        if block.timestamp >= r.createdAt + lt:
            total += r.amount
        else:
            pending += r.amount
            if i != w:
                r.index = w
                self.accounts[user][provider].refunds[w] = r
            w += 1
    self.accounts[user][provider].validRefundsLength = w
    bal: uint256 = self.accounts[user][provider].balance - total
    self.accounts[user][provider].balance = bal
    self.accounts[user][provider].pendingRefund = pending
    if total > 0:
        log BalanceUpdated(user=user, provider=provider, amount=bal, pendingRefund=pending)
        if not raw_call(msg.sender, b"", value=total, revert_on_failure=False):
            self._err0(method_id("TransferFailed()"))
    return total, bal, pending


# ---------------------------------------------------------------- services

@external
@view
def serviceExists(provider: address) -> bool:
    return self.servicePos[provider] != 0


@external
@view
def getService(provider: address) -> Service:
    self._require_service(provider)
    return self.services[provider]


@external
@view
def getAllServices(offset: uint256, limit: uint256) -> (DynArray[Service, PAGE_LIMIT], uint256):
    lim: uint256 = self._check_limit(limit)
    total: uint256 = len(self.serviceKeys)
    result: DynArray[Service, PAGE_LIMIT] = []
    if offset >= total:
        return result, total
    n: uint256 = min(lim, total - offset)
    for i: uint256 in range(n, bound=PAGE_LIMIT):
        result.append(self.services[self.serviceKeys[offset + i]])
    return result, total


@external
@payable
def addOrUpdateService(params: ServiceParams):
    if self.providerStake[msg.sender] > 0:
        if msg.value != 0:
            self._err0(method_id("CannotAddStakeWhenUpdating()"))
    else:
        if msg.value < MIN_PROVIDER_STAKE:
            self._err_uu(method_id("InsufficientStake(uint256,uint256)"), msg.value, MIN_PROVIDER_STAKE)
        self.providerStake[msg.sender] = msg.value
        log ProviderStaked(provider=msg.sender, amount=msg.value)

    if len(params.additionalInfo) > MAX_ADDITIONAL_INFO_LENGTH:
        self._err0(method_id("AdditionalInfoTooLong()"))

    if self.servicePos[msg.sender] == 0:
        self.services[msg.sender] = Service(
            provider=msg.sender,
            serviceType=params.serviceType,
            url=params.url,
            inputPrice=params.inputPrice,
            outputPrice=params.outputPrice,
            updatedAt=block.timestamp,
            model=params.model,
            verifiability=params.verifiability,
            additionalInfo=params.additionalInfo,
            teeSignerAddress=params.teeSignerAddress,
            teeSignerAcknowledged=False,
        )
        self.serviceKeys.append(msg.sender)
        self.servicePos[msg.sender] = len(self.serviceKeys)
    else:
        critical: bool = (
            keccak256(self.services[msg.sender].serviceType) != keccak256(params.serviceType)
            or keccak256(self.services[msg.sender].model) != keccak256(params.model)
            or keccak256(self.services[msg.sender].verifiability) != keccak256(params.verifiability)
            or self.services[msg.sender].teeSignerAddress != params.teeSignerAddress
            or keccak256(self.services[msg.sender].additionalInfo) != keccak256(params.additionalInfo)
        )
        ack: bool = self.services[msg.sender].teeSignerAcknowledged and not critical
        self.services[msg.sender] = Service(
            provider=msg.sender,
            serviceType=params.serviceType,
            url=params.url,
            inputPrice=params.inputPrice,
            outputPrice=params.outputPrice,
            updatedAt=block.timestamp,
            model=params.model,
            verifiability=params.verifiability,
            additionalInfo=params.additionalInfo,
            teeSignerAddress=params.teeSignerAddress,
            teeSignerAcknowledged=ack,
        )

    log ServiceUpdated(
        service=msg.sender,
        serviceType=params.serviceType,
        url=params.url,
        inputPrice=params.inputPrice,
        outputPrice=params.outputPrice,
        updatedAt=block.timestamp,
        model=params.model,
        verifiability=params.verifiability,
    )


@external
@nonreentrant
def removeService():
    self._require_service(msg.sender)
    pos: uint256 = self.servicePos[msg.sender]
    last: uint256 = len(self.serviceKeys)
    if pos != last:
        moved: address = self.serviceKeys[last - 1]
        self.serviceKeys[pos - 1] = moved
        self.servicePos[moved] = pos
    self.serviceKeys.pop()
    self.servicePos[msg.sender] = 0
    self.services[msg.sender] = empty(Service)

    stake: uint256 = self.providerStake[msg.sender]
    if stake > 0:
        self.providerStake[msg.sender] = 0
        log ProviderStakeReturned(provider=msg.sender, amount=stake)
        log ServiceRemoved(service=msg.sender)
        if not raw_call(msg.sender, b"", value=stake, revert_on_failure=False):
            self._err0(method_id("TransferFailed()"))
    else:
        log ServiceRemoved(service=msg.sender)


@external
def acknowledgeTEESignerByOwner(provider: address):
    self._only_owner()
    self._require_service(provider)
    self.services[provider].teeSignerAcknowledged = True
    log ProviderTEESignerAcknowledged(
        provider=provider, teeSignerAddress=self.services[provider].teeSignerAddress, acknowledged=True
    )


@external
def revokeTEESignerAcknowledgement(provider: address):
    self._only_owner()
    self._require_service(provider)
    self.services[provider].teeSignerAcknowledged = False
    log ProviderTEESignerAcknowledged(
        provider=provider, teeSignerAddress=self.services[provider].teeSignerAddress, acknowledged=False
    )


# ---------------------------------------------------------------- settlement

@internal
@view
def _verify_signature(s: TEESettlementData, signer: address) -> bool:
    if len(s.signature) != 65:
        return False
    struct_hash: bytes32 = keccak256(abi_encode(
        SETTLEMENT_TYPEHASH, s.requestsHash, s.nonce, s.provider, s.user, s.totalFee
    ))
    domain: bytes32 = keccak256(abi_encode(
        DOMAIN_TYPEHASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, chain.id, self
    ))
    digest: bytes32 = keccak256(concat(b"\x19\x01", domain, struct_hash))
    r: uint256 = convert(extract32(s.signature, 0), uint256)
    sv: uint256 = convert(extract32(s.signature, 32), uint256)
    v: uint256 = convert(convert(slice(s.signature, 64, 1), bytes1), uint256)
    if sv > SECP256K1N_HALF:
        return False
    if v != 27 and v != 28:
        return False
    recovered: address = ecrecover(digest, v, r, sv)
    return recovered != empty(address) and recovered == signer


@internal
@view
def _check_settlement(s: TEESettlementData) -> uint8:
    # msg.sender is the provider. Returns 255 when every check passes.
    if self.accountPos[s.user][msg.sender] == 0:
        return INVALID_SIGNATURE
    if self.servicePos[msg.sender] == 0:
        return PROVIDER_MISMATCH
    signer: address = self.services[msg.sender].teeSignerAddress
    if (not self.accounts[s.user][msg.sender].acknowledged
            or not self.services[msg.sender].teeSignerAcknowledged
            or signer == empty(address)):
        return NO_TEE_SIGNER
    if self.accounts[s.user][msg.sender].nonce >= s.nonce:
        return INVALID_NONCE
    if not self._verify_signature(s, signer):
        return INVALID_SIGNATURE
    return 255


@internal
def _settle_fees(user: address, amount: uint256):
    bal: uint256 = self.accounts[user][msg.sender].balance
    pending: uint256 = self.accounts[user][msg.sender].pendingRefund
    if amount > bal - pending:
        self._cancel_refunds_newest_first(user, msg.sender, amount - (bal - pending))
    bal -= amount
    self.accounts[user][msg.sender].balance = bal
    extcall ILedger(self.ledgerAddress).spendFund(user, amount)
    log BalanceUpdated(
        user=user, provider=msg.sender, amount=bal,
        pendingRefund=self.accounts[user][msg.sender].pendingRefund,
    )


@internal
@pure
def _check_batch(n: uint256):
    if n == 0:
        self._err0(method_id("NoSettlementsProvided()"))
    if n > MAX_SETTLEMENTS:
        self._err_uu(method_id("TooManySettlements(uint256,uint256)"), n, MAX_SETTLEMENTS)


@external
@nonreentrant
def settleFeesWithTEE(settlements: DynArray[TEESettlementData, SETTLE_INPUT_BOUND]) -> DynArray[uint8, SETTLE_INPUT_BOUND]:
    self._check_batch(len(settlements))
    statuses: DynArray[uint8, SETTLE_INPUT_BOUND] = []
    total_transfer: uint256 = 0
    for s: TEESettlementData in settlements:
        if s.provider != msg.sender:
            statuses.append(PROVIDER_MISMATCH)
            log TEESettlementResult(user=s.user, status=PROVIDER_MISMATCH, unsettledAmount=s.totalFee)
            continue
        status: uint8 = self._check_settlement(s)
        if status != 255:
            statuses.append(status)
            log TEESettlementResult(user=s.user, status=status, unsettledAmount=s.totalFee)
            continue
        self.accounts[s.user][msg.sender].nonce = s.nonce
        bal: uint256 = self.accounts[s.user][msg.sender].balance
        to_settle: uint256 = min(s.totalFee, bal)
        unsettled: uint256 = s.totalFee - to_settle
        if to_settle > 0:
            self._settle_fees(s.user, to_settle)
        total_transfer += to_settle
        if unsettled > 0:
            statuses.append(PARTIAL)
            log TEESettlementResult(user=s.user, status=PARTIAL, unsettledAmount=unsettled)
        else:
            statuses.append(SUCCESS)
            log TEESettlementResult(user=s.user, status=SUCCESS, unsettledAmount=0)
    if total_transfer > 0:
        if not raw_call(msg.sender, b"", value=total_transfer, revert_on_failure=False):
            self._err0(method_id("TransferFailed()"))
    return statuses


@external
@view
def previewSettlementResults(settlements: DynArray[TEESettlementData, SETTLE_INPUT_BOUND]) -> (
    DynArray[address, SETTLE_INPUT_BOUND],
    DynArray[uint8, SETTLE_INPUT_BOUND],
    DynArray[address, SETTLE_INPUT_BOUND],
    DynArray[uint256, SETTLE_INPUT_BOUND],
):
    self._check_batch(len(settlements))
    failed_users: DynArray[address, SETTLE_INPUT_BOUND] = []
    reasons: DynArray[uint8, SETTLE_INPUT_BOUND] = []
    partial_users: DynArray[address, SETTLE_INPUT_BOUND] = []
    partial_amounts: DynArray[uint256, SETTLE_INPUT_BOUND] = []
    for s: TEESettlementData in settlements:
        if s.provider != msg.sender:
            failed_users.append(s.user)
            reasons.append(PROVIDER_MISMATCH)
            continue
        status: uint8 = self._check_settlement(s)
        if status != 255:
            failed_users.append(s.user)
            reasons.append(status)
            continue
        bal: uint256 = self.accounts[s.user][msg.sender].balance
        if s.totalFee > bal:
            partial_users.append(s.user)
            partial_amounts.append(s.totalFee - bal)
    return failed_users, reasons, partial_users, partial_amounts


# ---------------------------------------------------------------- receive

@external
@payable
def __default__():
    # Solidity `receive() { revert DirectDepositsDisabled(); }`: calls with
    # unknown selectors revert with empty data, as they would in Solidity.
    if len(msg.data) != 0:
        raw_revert(b"")
    self._err0(method_id("DirectDepositsDisabled()"))
