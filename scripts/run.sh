#!/usr/bin/env bash
# Installs what is missing, builds zgproxy and runs the gateway.
# With no ZG_NETWORK / ZG_CHAIN_RPC configured (environment or .env) it serves the local sandbox:
# a devchain with the 0G contracts, simulated providers and a funded demo wallet, all offline.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
printf '\033[1m==> %s\033[0m\n' "building zgproxy (the first build takes several minutes)" >&2
swift build -c "${ZGPROXY_BUILD_CONFIGURATION:-debug}" --product zgproxy
exec "$(swift build -c "${ZGPROXY_BUILD_CONFIGURATION:-debug}" --show-bin-path)/zgproxy" serve "$@"
