#!/usr/bin/env bash
# The legacy application at work: ROUNDS transactions against the legacy shop database, each
# placing an order with lines, repricing a product, changing a customer, shipping or cancelling an
# order (deleting its lines), and now and then renumbering an order line (a primary-key update).
#   legacy_writes.sh DATABASE ROUNDS
set -euo pipefail
db=$1
rounds=$2
for ((i = 1; i <= rounds; i++)); do
  order=$((100000 + i))
  customer=$((1 + i % 200))
  sku=$(printf 'SKU-%03d' $((1 + i % 50)))
  other=$(printf 'SKU-%03d' $((1 + (i * 7) % 50)))
  old=$((1 + (i * 13) % 1000))
  renumber=""
  if ((i % 5 == 0)); then
    renumber="UPDATE order_lines SET line_no = line_no + 10 WHERE order_id = $((1 + (i * 31) % 1000)) AND line_no = 1;"
  fi
  sqlite3 -bail "$db" >/dev/null <<SQL
.timeout 10000
BEGIN IMMEDIATE;
INSERT INTO orders (id, customer_id, status, note, placed_at)
  VALUES ($order, $customer, 'placed', CASE WHEN $i % 3 = 0 THEN 'gift, wrap it' END,
          datetime('now'));
INSERT INTO order_lines VALUES ($order, 1, '$sku', 1 + $i % 3, (SELECT price FROM products WHERE sku = '$sku'));
INSERT INTO order_lines VALUES ($order, 2, '$other', 1, (SELECT price FROM products WHERE sku = '$other'));
UPDATE products SET price = round(price * 1.01, 2) WHERE sku = '$sku';
UPDATE customers SET vip = NOT vip, name = name || '.' WHERE id = $customer;
UPDATE orders SET status = CASE WHEN $i % 2 = 0 THEN 'shipped' ELSE 'cancelled' END WHERE id = $old;
DELETE FROM order_lines WHERE order_id = $old AND $i % 2 = 1;
$renumber
COMMIT;
SQL
done
