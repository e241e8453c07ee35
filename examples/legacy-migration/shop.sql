-- The legacy shop: the database a legacy application has written for years. Plain SQLite, nothing
-- Sluice-specific. order_lines has a composite primary key.
PRAGMA journal_mode = WAL;  -- readers never block the application

CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  vip BOOLEAN NOT NULL DEFAULT 0,
  created_at DATETIME NOT NULL
);

CREATE TABLE products (
  sku TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  price DECIMAL(10, 2) NOT NULL,
  weight_kg REAL,
  photo BLOB
);

CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers (id),
  status TEXT NOT NULL,
  note TEXT,
  placed_at DATETIME NOT NULL
);

CREATE TABLE order_lines (
  order_id INTEGER NOT NULL REFERENCES orders (id),
  line_no INTEGER NOT NULL,
  sku TEXT NOT NULL REFERENCES products (sku),
  quantity INTEGER NOT NULL,
  unit_price DECIMAL(10, 2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);

-- Years of history, made up: 200 customers, 50 products, 1000 orders of 1-4 lines.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO customers (id, email, name, vip, created_at)
SELECT i, 'customer' || i || '@example.com', 'Customer ' || i, i % 7 = 0,
       datetime('2019-01-01', '+' || (i * 3) || ' days')
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
INSERT INTO products (sku, title, price, weight_kg, photo)
SELECT printf('SKU-%03d', i), 'Product ' || i, round(1.5 + i * 2.25, 2),
       CASE WHEN i % 5 = 0 THEN NULL ELSE i * 0.1 END,
       CASE WHEN i % 3 = 0 THEN randomblob(16) ELSE NULL END
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO orders (id, customer_id, status, note, placed_at)
SELECT i, 1 + i % 200, CASE i % 4 WHEN 0 THEN 'shipped' WHEN 1 THEN 'paid' ELSE 'placed' END,
       CASE WHEN i % 10 = 0 THEN 'leave at the door' END,
       datetime('2023-01-01', '+' || (i * 7) || ' hours')
FROM n;

WITH RECURSIVE l(o, line) AS (
  SELECT id, 1 FROM orders
  UNION ALL SELECT o, line + 1 FROM l WHERE line < 1 + o % 4)
INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price)
SELECT o, line, printf('SKU-%03d', 1 + (o * line) % 50), 1 + (o + line) % 3,
       (SELECT price FROM products WHERE sku = printf('SKU-%03d', 1 + (o * line) % 50))
FROM l;
