#!/usr/bin/env bash
# Installs what zgproxy needs on a Debian machine, idempotently:
#   - Debian packages: libsecp256k1-dev (with its recovery module), pkg-config, python3-venv,
#     postgresql (for its binaries: the tests run a throwaway server, Fixtures/postgres/pg_fixture.sh;
#     the package's own system cluster is never used, and the install does not fail when it is not
#     started, e.g. in containers whose /usr/sbin/policy-rc.d denies service starts)
#   - a Python venv in .venv with the pinned fixture packages (Fixtures/requirements.txt)
# The Swift toolchain itself (6.2 or newer) must already be on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (install Swift 6.2+ from swift.org)" >&2; exit 1; }

missing=()
[ -f /usr/include/secp256k1_recovery.h ] || missing+=(libsecp256k1-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
# initdb is not on PATH in Debian's packaging: look in /usr/lib/postgresql/*/bin too.
command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
for extra in "$@"; do dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra"); done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -f /usr/include/secp256k1_recovery.h ] || { echo "bootstrap: libsecp256k1-dev lacks secp256k1_recovery.h" >&2; exit 1; }

stamp=.venv/.requirements.sha256
want=$(sha256sum Fixtures/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "creating the Python venv for the fixtures (.venv)"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r Fixtures/requirements.txt
    echo "$want" > "$stamp"
fi
