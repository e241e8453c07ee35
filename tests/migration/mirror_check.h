// Comparing a legacy table with its mirror read-model table, row for row (tests only; the sync
// watcher is the real tool).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sluice/migration/legacy_source.h"
#include "sluice/migration/mirror_projection.h"
#include "sluice/projections/read_model_store.h"

namespace sluice::migration::testing {

// Rows as text, for readable failure messages. -0.0 prints as 0 (stores keep 0.0).
inline std::vector<std::string> Describe(const std::vector<Row>& rows) {
  std::vector<std::string> out;
  for (const Row& row : rows) {
    std::string line;
    for (const Value& value : row) {
      Value shown = value;
      if (const auto* real = std::get_if<double>(&value); real != nullptr && *real == 0) {
        shown = 0.0;
      }
      line += DescribeValue(shown) + " | ";
    }
    out.push_back(line);
  }
  return out;
}

// What the mirror of `table` must hold now: every legacy row, key columns first, values as
// ToReadModelValue makes them, in key order.
inline std::vector<Row> ExpectedMirrorRows(LegacySource& source, const std::string& table_name) {
  std::vector<Row> out;
  Result<LegacyTable> table = source.DescribeTable(table_name);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  if (!table.ok()) return out;
  Result<TableSchema> schema = MirrorTableSchema(*table);
  EXPECT_TRUE(schema.ok()) << schema.status().ToString();
  if (!schema.ok()) return out;
  Result<std::unique_ptr<LegacySnapshot>> snapshot = source.OpenSnapshot();
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  if (!snapshot.ok()) return out;
  Result<std::vector<Row>> rows = (*snapshot)->ReadRows(*table, nullptr, 100'000'000);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (!rows.ok()) return out;
  for (const Row& legacy : *rows) {
    Row row;
    for (std::size_t i = 0; i < schema->width(); ++i) {
      const Column& column =
          i < schema->key.size() ? schema->key[i] : schema->columns[i - schema->key.size()];
      std::size_t index = 0;
      while (table->columns[index].name != column.name) ++index;
      Result<Value> value = ToReadModelValue(legacy[index], column.type);
      EXPECT_TRUE(value.ok()) << value.status().ToString();
      row.push_back(value.ok() ? *value : Value{});
    }
    out.push_back(std::move(row));
  }
  std::sort(out.begin(), out.end(), [&](const Row& a, const Row& b) {
    return CompareKeys(KeyOf(*schema, a), KeyOf(*schema, b)) < 0;
  });
  return out;
}

// Every row of a read-model table, in key order.
inline std::vector<Row> ReadModelRows(ReadModelStore& store, const std::string& table) {
  Result<std::vector<Row>> rows = store.Scan(table, nullptr, 100'000'000);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() ? *rows : std::vector<Row>{};
}

}  // namespace sluice::migration::testing
