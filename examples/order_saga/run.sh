#!/usr/bin/env bash
# Runs the order_saga example against a throwaway RabbitMQ broker (scripts/rabbitmq-test-server.sh)
# on 127.0.0.1:5695, stopped afterwards:
#   examples/order_saga/run.sh ORDER_SAGA_BINARY [WORK_DIR]
# WORK_DIR (default: a temporary folder, removed afterwards) holds the broker's data and both
# services' stores; anything from an earlier run there is replaced.
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 ORDER_SAGA_BINARY [WORK_DIR]" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
binary=$1
if [[ $# -eq 2 ]]; then
  work=$2
  rm -rf "$work"
  mkdir -p "$work"
  remove_work=0
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/order-saga-XXXXXX")
  remove_work=1
fi
port=${SLUICE_EXAMPLE_AMQP_PORT:-5695}
cleanup() {
  "$root/scripts/rabbitmq-test-server.sh" stop "$work/broker" >/dev/null 2>&1 || true
  if [[ $remove_work -eq 1 ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
"$root/scripts/rabbitmq-test-server.sh" start "$work/broker" "$port"
"$binary" "amqp://guest:guest@127.0.0.1:$port/%2F" "$work/services"
