#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (docs: /work/shared/SERVICES.md), started and stopped
# by the CTest fixture `postgres_server` (tests/postgres/CMakeLists.txt):
#
#   postgres-test-server.sh start DIR PORT   a fresh cluster in DIR/data (anything there before is
#                                            stopped and removed), listening on 127.0.0.1:PORT
#                                            only, superuser `sluice` with trust authentication,
#                                            and an empty database `sluice_test`
#   postgres-test-server.sh stop DIR         stops it and removes DIR/data (the log DIR/log stays);
#                                            fine when nothing runs
#
# As root it runs the server as the `postgres` user (initdb refuses root); as anyone else, as that
# user. The server is built for speed, not durability (fsync off): it holds nothing worth keeping.
# PG_BINDIR overrides where initdb, pg_ctl and psql are found (default: the newest
# /usr/lib/postgresql/*/bin).
set -euo pipefail

usage() {
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
}

[[ $# -ge 2 ]] || usage
command=$1
dir=$2

bindir=${PG_BINDIR:-}
if [[ -z "$bindir" ]]; then
  bindir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
    sort -V | tail -n 1)
fi
if [[ -z "$bindir" || ! -x "$bindir/pg_ctl" ]]; then
  echo "postgres-test-server: no PostgreSQL server found (apt-get install postgresql)" >&2
  exit 1
fi

# Runs a server program as the user that owns the cluster.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Stops the server of DIR/data if one runs; quiet and successful when none does.
stop_server() {
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
  fi
  if [[ -f "$dir/data/postmaster.pid" ]]; then
    # pg_ctl could not stop it (e.g. a damaged pid file): end that one process by its id.
    local pid
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      kill -QUIT "$pid" 2>/dev/null || true
      sleep 1
    fi
  fi
  rm -rf "$dir/data"
}

case "$command" in
  start)
    [[ $# -eq 3 && "$3" =~ ^[0-9]+$ ]] || usage
    port=$3
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    stop_server  # a server left behind by an interrupted run
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; then
      echo "postgres-test-server: something already answers on 127.0.0.1:$port" >&2
      exit 1
    fi
    if [[ $(id -u) -eq 0 ]]; then
      if ! id postgres >/dev/null 2>&1; then
        echo "postgres-test-server: running as root needs the postgres user" >&2
        exit 1
      fi
      chown postgres "$dir"
    fi
    : >"$dir/log" && if [[ $(id -u) -eq 0 ]]; then chown postgres "$dir/log"; fi
    if ! as_owner "$bindir/initdb" -D "$dir/data" -A trust -U sluice -E UTF8 --locale=C \
      --no-sync >>"$dir/log" 2>&1; then
      echo "postgres-test-server: initdb failed; see $dir/log" >&2
      tail -n 20 "$dir/log" >&2
      exit 1
    fi
    # TCP on 127.0.0.1 only: no Unix socket (its path could be too long under a build tree).
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null; then
      echo "postgres-test-server: the server did not start; see $dir/log" >&2
      tail -n 20 "$dir/log" >&2
      stop_server
      exit 1
    fi
    if ! "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U sluice -d postgres \
      -c 'CREATE DATABASE sluice_test' >>"$dir/log" 2>&1; then
      echo "postgres-test-server: could not create the database sluice_test; see $dir/log" >&2
      stop_server
      exit 1
    fi
    echo "postgres-test-server: postgresql://sluice@127.0.0.1:$port/sluice_test (data $dir/data)"
    ;;
  stop)
    [[ $# -eq 2 ]] || usage
    [[ -d "$dir" ]] || exit 0
    stop_server
    echo "postgres-test-server: stopped ($dir)"
    ;;
  *)
    usage
    ;;
esac
