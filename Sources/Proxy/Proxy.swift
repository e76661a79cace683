import EVM
