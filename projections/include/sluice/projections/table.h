// Read models are tables: typed columns, a primary key of one or more columns, rows ordered by
// key. Every read-model store (in-memory, RocksDB, SQLite, PostgreSQL) stores the same tables and
// orders keys the same way, so projections, the sync watcher and tools work on any of them.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sluice/core/status.h"

namespace sluice {

// Bytes that are not text (a BLOB column).
struct Blob {
  std::string bytes;
  friend bool operator==(const Blob&, const Blob&) = default;
  friend auto operator<=>(const Blob&, const Blob&) = default;
};

// One cell: NULL, a 64-bit integer, a double, UTF-8 text or a blob.
using Value = std::variant<std::monostate, std::int64_t, double, std::string, Blob>;

enum class ColumnType : std::uint8_t { kInteger, kReal, kText, kBlob };

// "integer", "real", "text", "blob".
std::string_view ColumnTypeName(ColumnType type);

struct Column {
  std::string name;  // [A-Za-z_][A-Za-z0-9_]*, at most 64 bytes; unique in its table, ignoring case
  ColumnType type = ColumnType::kText;
  friend bool operator==(const Column&, const Column&) = default;
};

struct TableSchema {
  // 1-64 bytes of [A-Za-z0-9_.-], not starting with "sluice_" (reserved for the runtime's own
  // tables) unless the runtime creates it.
  std::string name;
  std::vector<Column> key;      // at least one; integer, text or blob; never NULL
  std::vector<Column> columns;  // the other columns; any type; a value may be NULL
  friend bool operator==(const TableSchema&, const TableSchema&) = default;

  std::size_t width() const { return key.size() + columns.size(); }
  // Index of the column (key columns first) with this name, or -1.
  int IndexOf(std::string_view column) const;
};

// Values of the key columns, in schema order.
using Key = std::vector<Value>;
// Values of every column: the key columns first, then the others, in schema order.
using Row = std::vector<Value>;

// The order of keys in every store: column by column; integers numerically, text and blobs
// bytewise (memcmp, then shorter first). Only keys of one table's schema are compared.
std::strong_ordering CompareKeys(const Key& a, const Key& b);

// Whether `value` is of `type` (an integer for kInteger, a double for kReal, ...); NULL is not.
bool HasColumnType(const Value& value, ColumnType type);

// The first schema.key.size() values of `row`.
Key KeyOf(const TableSchema& schema, const Row& row);

// InvalidArgument naming what is wrong: bad table or column names, duplicate columns, no key,
// a REAL key column. `allow_reserved` lets the runtime create its "sluice_" tables.
Status ValidateSchema(const TableSchema& schema, bool allow_reserved = false);
// InvalidArgument unless `name` is a valid table name (see TableSchema::name).
Status ValidateTableName(std::string_view name, bool allow_reserved = false);
// InvalidArgument unless `key` has one value of the right type per key column, none NULL.
Status ValidateKey(const TableSchema& schema, const Key& key);
// As ValidateKey for the key part; every other value must be NULL or of its column's type (an
// integer is accepted for a REAL column and converted). NaN is refused (SQL stores cannot keep
// it); -0.0 is stored as 0.0. Normalises `*row` in place.
Status ValidateRow(const TableSchema& schema, Row* row);

// The value as text for messages and tools: NULL, 42, 1.5, 'text', x'0aff'.
std::string DescribeValue(const Value& value);

}  // namespace sluice
