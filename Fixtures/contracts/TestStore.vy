# pragma version 0.4.3
# @title TestStore
# @notice A tiny contract for the EVM module's end-to-end test: a value and a
#         note anyone can set, payable deposits per sender, a custom error and
#         an Error(string) revert.
#
# @abi-error TooLarge(uint256 value, uint256 limit)
# @abi-outputs get: value, note

LIMIT: public(constant(uint256)) = 1000

event Stored:
    who: indexed(address)
    value: uint256
    note: String[256]

event Deposited:
    who: indexed(address)
    amount: uint256

value: public(uint256)
note: public(String[256])
balances: public(HashMap[address, uint256])
totalDeposits: public(uint256)


@deploy
def __init__():
    pass


@external
def set(_value: uint256, _note: String[256]):
    self.value = _value
    self.note = _note
    log Stored(who=msg.sender, value=_value, note=_note)


@external
@view
def get() -> (uint256, String[256]):
    return self.value, self.note


@external
@payable
def deposit():
    assert msg.value > 0, "zero deposit"
    self.balances[msg.sender] += msg.value
    self.totalDeposits += msg.value
    log Deposited(who=msg.sender, amount=msg.value)


@external
@view
def balanceOf(who: address) -> uint256:
    return self.balances[who]


@external
def setChecked(_value: uint256):
    # Custom error TooLarge(uint256 value, uint256 limit) when _value > 1000.
    if _value > LIMIT:
        raw_revert(concat(method_id("TooLarge(uint256,uint256)"), abi_encode(_value, LIMIT)))
    self.value = _value
    log Stored(who=msg.sender, value=_value, note=self.note)


@external
@view
def checkLimit(_value: uint256) -> uint256:
    # The same custom error from a view, for eth_call paths.
    if _value > LIMIT:
        raw_revert(concat(method_id("TooLarge(uint256,uint256)"), abi_encode(_value, LIMIT)))
    return _value


@external
def fail(flag: bool):
    # Error(string) revert: assert ..., "reason".
    assert not flag, "TestStore: failed on purpose"
    self.value = 0
