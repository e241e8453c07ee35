#!/usr/bin/env bash
# Installs the Debian 12 packages Sluice needs to build and test, and nothing else.
# Idempotent: asks dpkg which packages are missing and installs only those (no apt-get update, no
# network, when everything is already there). Runs as root (CI) or through sudo.
set -euo pipefail

packages=(
  build-essential      # g++ 12, make
  cmake                # 3.25
  ccache
  pkg-config
  clang-14             # second compiler and the libFuzzer build
  libclang-rt-14-dev   # libFuzzer and the clang sanitizer runtimes
  clang-format-14      # scripts/check-format.sh
  librocksdb-dev
  libcereal-dev
  libboost-dev         # Boost.Signals2 (header-only)
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  libcli11-dev         # the sluice command-line tool
  nlohmann-json3-dev   # the sluice command-line tool
  libsqlite3-dev       # SQLite read-model store
  sqlite3              # tests and operators inspect SQLite read models
  libpqxx-dev          # PostgreSQL read-model store (libpqxx 6.4, with libpq)
  postgresql           # PostgreSQL 15: the throwaway test server (scripts/postgres-test-server.sh)
  libxxhash-dev        # XXH3 128-bit hashes of the sync watcher's chunks
  librabbitmq-dev      # rabbitmq-c 0.11: messaging over RabbitMQ (sluice::rabbitmq)
  rabbitmq-server      # RabbitMQ 3.10: the throwaway test broker (scripts/rabbitmq-test-server.sh)
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup: not root and sudo is missing; install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
