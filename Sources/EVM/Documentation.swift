/// # EVM
///
/// What zgproxy needs of an Ethereum-compatible chain, and nothing of 0G: Keccak-256, RLP,
/// the contract ABI, 256-bit integers and exact decimal amounts, EIP-55 addresses, secp256k1
/// signing and recovery (through Debian's libsecp256k1), EIP-191 messages, legacy and
/// EIP-1559 transactions, a JSON-RPC client and a transaction sender.
///
/// Everything here is checked byte for byte against independent Python implementations
/// (eth-hash, rlp, eth-abi, eth-account) by the vectors in `Fixtures/vectors`, and against a
/// real EVM (the devchain in `Fixtures/devchain`) by the end-to-end tests.
public enum EVMModule {}
