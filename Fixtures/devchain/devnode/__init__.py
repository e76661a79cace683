"""devchain's node: eth-tester's py-evm chain behind a geth-compatible JSON-RPC server.

Modules: ``chain`` (the node logic over py-evm), ``rpc`` (JSON-RPC methods and parameter
decoding), ``encoding`` (geth's JSON shapes), ``errors`` (geth's error codes and wording),
``server`` (HTTP transport, command line, process lifetime).
"""
