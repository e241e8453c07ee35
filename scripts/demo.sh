#!/usr/bin/env bash
# README quick-start command 1: installs what is missing, builds the quickstart example in build/
# and runs it.
#   scripts/demo.sh [STORE_DIR]
# With STORE_DIR the RocksDB store is kept there (run again to append more); without it the demo
# uses a temporary folder and removes it.
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
"${heavy[@]}" cmake --build "$build" -j"${SLUICE_JOBS:-2}" --target sluice_quickstart
echo
exec "$build/examples/quickstart" "${store[@]}"
