#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, in a directory of its own.
#
#   pg_fixture.sh start DIR   fresh cluster in DIR/data, listening on 127.0.0.1:<free port> only,
#                             sockets in DIR, log in DIR/postgres.log, database zgproxy_test;
#                             prints one line: postgres://zgproxy@127.0.0.1:<port>/zgproxy_test
#   pg_fixture.sh stop DIR    stops it and removes DIR (fine if already gone)
#
# Durability is off (fsync, synchronous_commit, full_page_writes): the data is thrown away.
# PostgreSQL refuses to run as root, so as root the server runs as the Debian `postgres` user.
set -euo pipefail

die() { echo "pg_fixture: $*" >&2; exit 1; }
case "${1:-}:$#" in start:2 | stop:2) ;; *) die "usage: $0 start|stop DIR" ;; esac
cmd=$1 dir=$2

# initdb/pg_ctl on PATH (resolved, so createdb is found beside them), else the newest Debian install.
bindir=""
if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    bindir=$(dirname "$(readlink -f "$(command -v initdb)")")
else
    newest=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [ -x "$newest" ] && bindir=$(dirname "$newest")
fi

# Runs a command as the owner of the cluster: ourselves, or `postgres` when we are root
# (runuser lives in /usr/sbin, which a root PATH may lack).
runuser=$(command -v runuser || echo /usr/sbin/runuser)
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then (cd / && "$runuser" -u postgres -- "$@"); else "$@"; fi
}

if [ "$cmd" = stop ]; then
    [ -d "$dir" ] || exit 0
    # Refuse to delete a directory this script did not set up.
    [ -e "$dir/.pg_fixture" ] || [ -z "$(ls -A "$dir")" ] || die "$dir is not a pg_fixture directory; not removing it"
    if [ -n "$bindir" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" stop -D "$dir/data" -m fast -s >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    exit 0
fi

[ -n "$bindir" ] || die "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); run scripts/bootstrap.sh"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
[ ! -e "$dir/data" ] || die "$dir/data already exists; start needs a fresh directory"
touch "$dir/.pg_fixture"
if [ "$(id -u)" -eq 0 ]; then
    getent passwd postgres >/dev/null || die "running as root but there is no 'postgres' user to run the server as"
    chown -R postgres: "$dir"
    as_owner test -w "$dir" || die "user postgres cannot write to $dir (is a parent directory private?)"
fi

as_owner "$bindir/initdb" -D "$dir/data" --auth=trust -U zgproxy --encoding=UTF8 --locale=C \
    >"$dir/initdb.log" 2>&1 || { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed (log: $dir/initdb.log)"; }
cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF

# A free port from the kernel; another process may take it before the server binds it
# (e.g. two fixtures starting at once), so a failed bind is retried with a new port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
started=""
for _ in 1 2 3 4 5; do
    port=$(free_port) || die "python3 is needed to pick a free port"
    rm -f "$dir/postgres.log"    # keep only the last attempt's log
    if as_owner "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -o "-p $port" -w -t 60 -s >/dev/null 2>&1; then
        started=1; break
    fi
    grep -q "could not create any TCP/IP sockets" "$dir/postgres.log" 2>/dev/null || break
done
if [ -z "$started" ]; then
    tail -n 20 "$dir/postgres.log" >&2 2>/dev/null || true
    die "PostgreSQL did not start (log: $dir/postgres.log)"
fi

as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U zgproxy zgproxy_test \
    || { as_owner "$bindir/pg_ctl" stop -D "$dir/data" -m fast -s || true; die "could not create database zgproxy_test"; }
echo "postgres://zgproxy@127.0.0.1:$port/zgproxy_test"
