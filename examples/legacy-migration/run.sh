#!/usr/bin/env bash
# Migrating a legacy shop database to events, with the `sluice` tool only, while the legacy
# application keeps writing:
#   1. capture: change log and triggers on customers, products, orders, order_lines;
#   2. backfill: the rows the shop already holds become events, converging with live changes;
#   3. tail + mirror: captured changes keep flowing into the store, and the generic mirror
#      projection builds a read model with the same tables in SQLite;
#   4. watch: the sync watcher proves the read model matches the legacy tables, while writes go on;
#   5. drift: one deliberate corruption of the read model, which the watcher reports exactly;
#      repair appends a corrective event (dry run first), and the watcher finds nothing again.
#   run.sh SLUICE_BINARY [WORK_DIR]
# Without WORK_DIR it works in a temporary folder and removes it. Exits non-zero if any step does
# not turn out as described.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sluice=$1
temporary=0
if [[ $# -ge 2 ]]; then
  work=$2
  rm -rf "$work"
  mkdir -p "$work"
else
  work=$(mktemp -d)
  temporary=1
fi
legacy="sqlite:$work/legacy.db"
read_model="sqlite:$work/read-model.db"
store="$work/store"
tables=customers,products,orders,order_lines
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $temporary -eq 1 ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "legacy-migration: $*" >&2
  exit 1
}

step "the legacy shop: $(basename "$work")/legacy.db"
sqlite3 "$work/legacy.db" <"$here/shop.sql" >/dev/null
for table in ${tables//,/ }; do
  echo "$table: $(sqlite3 "$work/legacy.db" "SELECT count(*) FROM $table") rows"
done

step "1. capture: sluice migrate install"
"$sluice" migrate install --legacy "$legacy" --tables "$tables"

step "2. backfill while the legacy application writes (300 transactions in the background)"
"$here/legacy_writes.sh" "$work/legacy.db" 300 &
writer=$!
pids+=("$writer")
"$sluice" migrate backfill --legacy "$legacy" --tables "$tables" --store "$store" |
  grep -v '"progress"' || fail "backfill failed"

step "3. tail and mirror run in the background; the application keeps writing"
"$sluice" migrate tail --legacy "$legacy" --tables "$tables" --store "$store" >"$work/tail.log" &
tailer=$!
pids+=("$tailer")
"$sluice" migrate mirror --store "$store" --read-model "$read_model" --tables "$tables" \
  >"$work/mirror.log" &
pids+=("$!")

step "4. watch, while writes go on: every table must be in sync"
if ! "$sluice" watch --legacy "$legacy" --read-model "$read_model" --tables "$tables" \
  --store "$store" 2>"$work/watch.log"; then
  cat "$work/watch.log" >&2
  fail "the watcher found differences in a faithful migration"
fi
wait "$writer" || fail "the legacy writer failed"
echo "legacy writes done; watch once more at rest:"
"$sluice" watch --legacy "$legacy" --read-model "$read_model" --tables "$tables" \
  --store "$store" 2>/dev/null | tail -n 1 || fail "not in sync at rest"

step "5. drift: someone edits the read model behind the log (a product's price)"
sqlite3 "$work/read-model.db" "UPDATE products SET price = '999.99' WHERE sku = 'SKU-007'"
set +e
report=$("$sluice" watch --legacy "$legacy" --read-model "$read_model" --tables "$tables" \
  --store "$store" 2>/dev/null)
status=$?
set -e
echo "$report"
[[ $status -eq 1 ]] || fail "watch exited $status on a corrupted read model, expected 1"
[[ $(grep -c '"kind"' <<<"$report") -eq 1 ]] || fail "expected exactly one difference"
grep -q '"SKU-007"' <<<"$report" || fail "the difference is not SKU-007"

echo
echo "repair, dry run (the store is not touched):"
kill "$tailer" && wait "$tailer" || true # --apply needs the store's writer lock
watch=("$sluice" watch --legacy "$legacy" --read-model "$read_model" --tables "$tables"
  --store "$store")
planned=$("${watch[@]}" --repair 2>/dev/null || true)
grep '"repair"' <<<"$planned" || fail "no repair planned"
echo "repair, applied (a corrective event through the normal append path):"
applied=$("${watch[@]}" --repair --apply 2>/dev/null || true)
grep '"repair"' <<<"$applied" || fail "no repair applied"
echo "watch again:"
"${watch[@]}" 2>/dev/null | tail -n 1 || fail "still not in sync after the repair"
echo
echo "legacy-migration: migrated with zero differences; drift found exactly and repaired"
