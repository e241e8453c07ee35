#!/usr/bin/env bash
# README quick-start command 1: installs what is missing, builds the examples in build/ and runs
# five of them: bank_account (commands through a command bus into the RocksDB event store, then
# the resulting streams), shopping_cart (asynchronous dispatch from several threads, with the
# correlation and causation ids of every event), shop_projections (projection workers building
# read models in SQLite and RocksDB while commands arrive; a poisoned event retried, parked and
# replayed), and legacy-migration (a legacy SQLite shop migrated with the `sluice` tool while it
# keeps being written: capture, backfill, the mirror read model, the sync watcher, a corruption
# found and repaired), and order_saga (an order-fulfilment saga across two processes connected
# through a throwaway RabbitMQ broker: commands over a queue, events through a relay, a durable
# payment deadline and compensation). The quickstart example is built too.
#   scripts/demo.sh [STORE_DIR]
# With STORE_DIR the first three write to the RocksDB store kept there (run again to add more accounts
# and carts; shop_projections rebuilds its read models from the whole store in a temporary folder);
# without it each uses a temporary folder and removes it.
# SLUICE_JOBS sets the build's parallel jobs (default 2); SLUICE_BUILD_LOCK, when set, names a file
# to `flock` around the build; SLUICE_BUILD_ROOT names the build folder (default build).
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ $# -gt 1 ]]; then
  echo "usage: $0 [STORE_DIR]" >&2
  exit 2
fi
# Resolve a relative store folder against where the caller stood, not the repository root.
store=()
if [[ $# -eq 1 ]]; then
  case "$1" in
    /*) store=("$1") ;;
    *) store=("$caller_dir/$1") ;;
  esac
fi

heavy=()
if [[ -n "${SLUICE_BUILD_LOCK:-}" ]]; then heavy=(flock "$SLUICE_BUILD_LOCK"); fi
build=${SLUICE_BUILD_ROOT:-build}

./scripts/setup.sh
"${heavy[@]}" cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
"${heavy[@]}" cmake --build "$build" -j"${SLUICE_JOBS:-2}" \
  --target sluice_quickstart sluice_bank_account sluice_shopping_cart sluice_shop_projections \
  sluice_cli sluice_order_saga
echo
echo "== examples/bank_account: commands through the bus into the store, and the streams"
"$build/examples/bank_account" "${store[@]}"
echo
echo "== examples/shopping_cart: DispatchAsync from several threads; correlation and causation"
"$build/examples/shopping_cart" "${store[@]}"
echo
echo "== examples/shop_projections: read models in SQLite and RocksDB, built while commands arrive"
"$build/examples/shop_projections" "${store[@]}"
echo
echo "== examples/legacy-migration: a legacy SQLite shop migrated while it keeps being written"
examples/legacy-migration/run.sh "$build/adapters/cli/sluice"
echo
echo "== examples/order_saga: a saga across two processes connected through RabbitMQ"
exec examples/order_saga/run.sh "$build/examples/order_saga"
