#!/usr/bin/env bash
# Runs every test: the fixtures' own checks (devchain, contracts, simulated provider, sandbox),
# then the Swift test suite (which starts its own devchains and simulators on loopback, and uses
# a throwaway PostgreSQL server started here, or the one ZGPROXY_TEST_DATABASE_URL names if set).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
py=.venv/bin/python

say "fixtures: compiled contracts are up to date"
$py Fixtures/contracts/build.py --check
say "fixtures: devchain self-test"
$py Fixtures/devchain/selftest.py
say "fixtures: 0G contracts"
$py Fixtures/zerog/test_contracts.py
say "fixtures: simulated 0G provider"
$py Fixtures/zerog/test_provider_sim.py
say "fixtures: sandbox"
$py Fixtures/zerog/test_sandbox.py
say "fixtures: OpenAI-compatible, OCF and Replicate simulators"
$py Fixtures/backends/test_backends.py
say "fixtures: SIWE signer"
$py Fixtures/accounts/siwe_sign.py --selftest

# PostgreSQL for the Swift tests: a throwaway server, stopped and removed on exit (failure too).
if [ -z "${ZGPROXY_TEST_DATABASE_URL:-}" ]; then
    pgdir=$(mktemp -d)
    trap 'Fixtures/postgres/pg_fixture.sh stop "$pgdir"' EXIT
    ZGPROXY_TEST_DATABASE_URL=$(Fixtures/postgres/pg_fixture.sh start "$pgdir")
fi
export ZGPROXY_TEST_DATABASE_URL
# The PostgreSQL tests must run here, not skip.
export ZGPROXY_REQUIRE_POSTGRES=1
pg_hostport=${ZGPROXY_TEST_DATABASE_URL#*://}; pg_hostport=${pg_hostport%%/*}
say "postgres: test server at ${pg_hostport##*@}"

say "swift: build"
swift build --build-tests
say "swift: tests"
swift test --skip-build
