// One captured change of a legacy table, as the change log records it, and the typed JSON encoding
// of its values.
//
// Value encoding (exact, so the sync watcher can compare values without guessing):
//   NULL     -> null
//   integer  -> a JSON integer (64-bit signed), e.g. 42
//   real     -> a JSON number that always has a fraction or an exponent, e.g. 1.0, -0.0, 2.5e-300,
//               printed with enough digits to give back the same double; non-finite reals, which
//               JSON cannot hold, -> {"$real": "Infinity" | "-Infinity" | "NaN"}
//   text     -> a JSON string (the text's UTF-8 bytes)
//   blob     -> {"$blob": "<standard base64 with padding>"}
// So 1 and 1.0, "" and null, "1" and 1 all stay distinct. Text that is not valid UTF-8 cannot be
// captured faithfully and is reported as an error by ReadChanges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::migration {

// Position in a source's change log: 1, 2, 3, ... in commit order. 0 means "before the first".
using ChangeId = std::int64_t;

enum class ChangeOp : std::uint8_t {
  kInsert,
  kUpdate,
  kDelete,
  // Every row of the table removed at once (PostgreSQL TRUNCATE): key_json "{}", no row.
  kTruncate,
};

// "insert", "update", "delete" or "truncate".
std::string_view ChangeOpName(ChangeOp op);

struct Change {
  ChangeId change_id = 0;
  std::string table;
  ChangeOp op = ChangeOp::kInsert;
  // The primary key: a JSON object {column: value} with the key columns in primary-key order.
  std::string key_json;
  // The row after the change: a JSON object {column: value} of every column in table order.
  // Empty for kDelete.
  std::string row_json;
  // Transaction id where the database has one (PostgreSQL); nullopt for SQLite.
  std::optional<std::int64_t> transaction_id;

  friend bool operator==(const Change&, const Change&) = default;
};

}  // namespace sluice::migration
