#!/usr/bin/env bash
# A throwaway RabbitMQ broker for the tests (docs: /work/shared/SERVICES.md), started and stopped
# by the CTest fixture `rabbitmq_server` (tests/rabbitmq/CMakeLists.txt):
#
#   rabbitmq-test-server.sh start DIR PORT   a private node (name sluice<PORT>@localhost) with its
#                                            data in DIR/mnesia and logs in DIR/log (anything there
#                                            before is stopped and removed), AMQP on
#                                            127.0.0.1:PORT only, user guest/guest, vhost /
#   rabbitmq-test-server.sh stop DIR         stops it and removes DIR/mnesia (the logs stay); fine
#                                            when nothing runs
#   rabbitmq-test-server.sh restart DIR      stops the node and starts it again on the same data
#                                            (tests of broker outages)
#
# The node's Erlang distribution port is PORT + 20000; epmd is stopped again when no node is left.
# RABBITMQ_BINDIR overrides where rabbitmq-server and rabbitmqctl are found.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR PORT | stop DIR | restart DIR" >&2
  exit 2
}

[[ $# -ge 2 ]] || usage
command=$1
dir=$2
bindir=${RABBITMQ_BINDIR:-/usr/lib/rabbitmq/bin}
if [[ ! -x "$bindir/rabbitmq-server" ]]; then
  echo "rabbitmq-test-server: no RabbitMQ server found (apt-get install rabbitmq-server)" >&2
  exit 1
fi

# The node's settings, from the port written at start.
node_env() {
  local port
  port=$(cat "$dir/port")
  export RABBITMQ_NODENAME="sluice${port}@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$port
  export RABBITMQ_DIST_PORT=$((port + 20000))
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_PID_FILE="$dir/node.pid"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"  # rabbitmq.conf, written at start
  # Erlang writes its cookie to $HOME; keep it private to the folder.
  export HOME="$dir"
}

ctl() {
  "$bindir/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"
}

start_node() {
  "$bindir/rabbitmq-server" -detached >>"$dir/log/start.out" 2>&1
  # `wait` waits for the pid file, then for the node to boot (await_startup alone fails while
  # the detached node has not registered yet).
  if ! timeout 120 "$bindir/rabbitmqctl" -n "$RABBITMQ_NODENAME" --timeout 110 wait \
    "$RABBITMQ_PID_FILE" >>"$dir/log/start.out" 2>&1; then
    echo "rabbitmq-test-server: the node did not start; see $dir/log" >&2
    tail -n 30 "$dir/log/start.out" >&2 || true
    exit 1
  fi
}

stop_node() {
  if [[ -f "$dir/port" ]]; then
    node_env
    ctl stop >/dev/null 2>&1 || true
    if [[ -f "$dir/node.pid" ]]; then
      pid=$(cat "$dir/node.pid" 2>/dev/null || true)
      if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$dir/node.pid"
    fi
  fi
}

case "$command" in
  start)
    [[ $# -eq 3 ]] || usage
    port=$3
    stop_node
    rm -rf "$dir/mnesia"
    mkdir -p "$dir/log" "$dir/mnesia"
    echo "$port" >"$dir/port"
    # Small disk and memory thresholds: a test machine must not block publishers.
    printf '%s\n' "loopback_users = none" "disk_free_limit.absolute = 50MB" \
      "vm_memory_high_watermark.relative = 0.6" >"$dir/rabbitmq.conf"
    printf '[].\n' >"$dir/enabled_plugins"
    node_env
    start_node
    echo "rabbitmq-test-server: amqp://guest:guest@127.0.0.1:$port/ (node $RABBITMQ_NODENAME)"
    ;;
  restart)
    node_env
    ctl stop >/dev/null 2>&1 || true
    start_node
    ;;
  stop)
    stop_node
    rm -rf "$dir/mnesia"
    # epmd stays behind each node; stop it once no node is registered.
    if command -v epmd >/dev/null 2>&1 && ! epmd -names 2>/dev/null | grep -q '^name '; then
      epmd -kill >/dev/null 2>&1 || true
    fi
    ;;
  *)
    usage
    ;;
esac
