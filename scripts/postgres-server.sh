#!/usr/bin/env bash
# Runs a throw-away PostgreSQL server (Debian's postgresql) for the fleet store's tests, `make
# demo` and `make bench`: initdb into WORKDIR, listening only on a unix socket in WORKDIR (no TCP
# port), trust authentication for the one role `ota` (the socket's directory is private).
# Tests and the demo run it with fsync, synchronous_commit and full_page_writes off (nothing to
# keep); POSTGRES_DURABLE=1 (the benchmarks) keeps PostgreSQL's durable defaults, so a figure
# includes the cost of every commit reaching the disk.
#
# Usage: scripts/postgres-server.sh start WORKDIR [WATCH_PID]
#          prints the store URL: postgres://ota@/ota?host=WORKDIR/socket
#          with WATCH_PID, a watchdog stops the server when that process ends (a crashed test)
#        scripts/postgres-server.sh stop WORKDIR
#        scripts/postgres-server.sh psql WORKDIR SQL     runs SQL in the database ota, prints the rows
set -euo pipefail
cmd=$1 work=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres-server: PostgreSQL is not installed (Debian package postgresql; run scripts/install-deps.sh)" >&2
    exit 1
fi
as_owner() {
    # initdb and postgres refuse to run as root: run them as the postgres system user then.
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$cmd" = stop ]; then
    if [ -f "$work/data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 || true; fi
    exit 0
fi
if [ "$cmd" = psql ]; then
    as_owner "$bin/psql" -h "$(realpath "$work")/socket" -U ota -d ota -qAt -v ON_ERROR_STOP=1 -c "$3"
    exit 0
fi
mkdir -p "$work"
work=$(realpath "$work")
mkdir -p "$work/socket"
chmod 700 "$work" "$work/socket"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$work" "$work/socket"; fi
settings="-c listen_addresses='' -k $work/socket -c max_connections=200" no_sync=""
if [ "${POSTGRES_DURABLE:-0}" != 1 ]; then
    settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off" no_sync=--no-sync
fi
if [ ! -f "$work/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$work/data" -U ota -A trust -E UTF8 --locale=C.UTF-8 $no_sync >"$work/initdb.log" 2>&1 || {
        cat "$work/initdb.log" >&2; exit 1; }
fi
as_owner "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w -t 60 -o "$settings" \
    start >/dev/null </dev/null || { cat "$work/server.log" >&2; exit 1; }
as_owner "$bin/psql" -h "$work/socket" -U ota -d postgres -qAt -c "SELECT 1 FROM pg_database WHERE datname = 'ota'" | grep -q 1 ||
    as_owner "$bin/createdb" -h "$work/socket" -U ota ota
if [ -n "${3:-}" ]; then
    watched=$3
    nohup bash -c "while kill -0 $watched 2>/dev/null; do sleep 1; done; $(declare -f as_owner); as_owner '$bin/pg_ctl' -D '$work/data' -m immediate stop" \
        >/dev/null 2>&1 </dev/null &
fi
echo "postgres://ota@/ota?host=$work/socket"
