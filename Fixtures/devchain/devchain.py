#!/usr/bin/env python3
"""A local EVM chain for the Swift tests, served over JSON-RPC on loopback.

    .venv/bin/python Fixtures/devchain/devchain.py [--host 127.0.0.1] [--port 0]
        [--chain-id 16602] [--accounts 10] [--balance-eth 1000000] [--block-time 0]
        [--priority-fee-gwei 1] [--exit-with-parent] [--quiet | --verbose]

When it serves, it prints exactly one line to stdout:

    DEVCHAIN READY {"rpc":"http://127.0.0.1:PORT","chainId":16602,"accounts":[...]}

Logs go to stderr. SIGTERM / SIGINT stop it cleanly. See README.md next to this file.
"""

import signal
import sys

from devnode.server import main

if __name__ == "__main__":
    # A parent that spawned this process from a thread with these signals blocked (Swift's
    # Foundation.Process on Linux does) leaves them blocked here too; SIGTERM would then never stop it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    sys.exit(main())
