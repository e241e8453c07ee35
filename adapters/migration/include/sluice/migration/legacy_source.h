// The LegacySource port: change capture on a legacy database (SQLite or PostgreSQL).
//
// Install adds a change log and AFTER INSERT/UPDATE/DELETE triggers to the chosen tables; from then
// on every committed change of those tables is recorded by the legacy application's own
// transaction, so a rolled-back change (or savepoint) is never captured. ReadChanges returns them
// in commit order. Consumers (the tailer) keep their checkpoints in the source too, beside the log.
//
// A primary-key UPDATE is captured as a kDelete of the old key followed by a kInsert of the new
// one (two changes, same transaction), so every change belongs to exactly one key. When the same
// statement moved another row onto the old key (PostgreSQL with a deferrable key: a shift
// `SET id = id + 1` or a swap), the old key's change is a kUpdate to that row instead.
//
// Thread safety: one object is used by one thread at a time. A snapshot is an object of its own:
// it may be used (and destroyed) on one thread while its source is used on another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/migration/change.h"
#include "sluice/projections/table.h"

namespace sluice::migration {

// What a legacy column holds, from its declared type. It decides the read-model column type of
// the mirror (ReadModelTypeOf) and how the sync watcher normalises values (docs/migration.md).
enum class LogicalType : std::uint8_t {
  kInteger,      // SQLite INTEGER affinity; PostgreSQL smallint, integer, bigint
  kReal,         // SQLite REAL affinity; PostgreSQL real, double precision
  kDecimal,      // SQLite NUMERIC affinity (DECIMAL, NUMERIC, ...); PostgreSQL numeric
  kBoolean,      // a declared type containing BOOL; PostgreSQL boolean
  kText,         // SQLite TEXT affinity; PostgreSQL text, varchar, char(n), ...
  kBlob,         // a declared type containing BLOB; PostgreSQL bytea
  kTimestamp,    // DATETIME, TIMESTAMP; PostgreSQL timestamp without time zone
  kTimestampTz,  // TIMESTAMPTZ, ... WITH TIME ZONE; PostgreSQL timestamp with time zone
  kDate,         // DATE
  kOther,        // anything else (SQLite: no declared type; PostgreSQL: json, uuid, arrays, ...)
};

// "integer", "real", "decimal", "boolean", "text", "blob", "timestamp", "timestamptz", "date",
// "other".
std::string_view LogicalTypeName(LogicalType type);

// The read-model column type the mirror gives a legacy column: integer and boolean -> kInteger,
// real -> kReal, blob -> kBlob, everything else -> kText (decimals stay exact as text).
ColumnType ReadModelTypeOf(LogicalType type);

// `value` (as LegacySnapshot::ReadRows and the mirror's decoding give it) as a value of a
// read-model column of type `type`: the same type is kept; NULL stays NULL; an integer becomes a
// real for kReal; an integer or real becomes its shortest exact decimal text for kText ("1", "1.5",
// "1e+300"); a NaN real becomes NULL (read models cannot hold NaN). Anything else (text into an
// integer column, ...) is InvalidArgument naming the value.
Result<Value> ToReadModelValue(const Value& value, ColumnType type);

struct LegacyColumn {
  std::string name;
  std::string declared_type;  // as the database reports it, e.g. "numeric(10,2)", "VARCHAR(20)"
  LogicalType type = LogicalType::kOther;
  friend bool operator==(const LegacyColumn&, const LegacyColumn&) = default;
};

struct LegacyTable {
  std::string name;
  std::vector<LegacyColumn> columns;  // table order
  std::vector<std::size_t> key;       // indexes into `columns`, primary-key order
  friend bool operator==(const LegacyTable&, const LegacyTable&) = default;
};

// Where a consistent read (LegacySnapshot) stands in the change log.
struct CapturePosition {
  // Every change the read sees has a change id <= change_id, so a consumer whose checkpoint is
  // >= change_id has processed all of them. On PostgreSQL some changes the read does not see may
  // also have ids <= change_id; KeysChangedAfter tells them apart.
  ChangeId change_id = 0;
  // PostgreSQL: the read's transaction snapshot (pg_snapshot text "xmin:xmax:xip,..."). SQLite: "".
  std::string snapshot;
  friend bool operator==(const CapturePosition&, const CapturePosition&) = default;
};

// One consistent read of the legacy database (one read transaction, so one point in its commit
// history): chunks of rows and their capture position. It holds the transaction until destroyed,
// so keep it short. Used by the backfill and the sync watcher.
//
// Values (sluice::Value) come out as the mirror stores them before ToReadModelValue: integers
// (and PostgreSQL booleans as 0/1) as int64, reals as double (NaN and infinities included), blobs
// as Blob, NULL as monostate, everything else as UTF-8 text: SQLite text as stored; PostgreSQL
// numeric, dates, times and other types as PostgreSQL prints them with DateStyle ISO and TimeZone
// UTC. Rows are in table column order.
class LegacySnapshot {
 public:
  virtual ~LegacySnapshot() = default;

  virtual const CapturePosition& position() const = 0;

  // Up to `limit` rows of `table` with key > *after (from the first when null), in CompareKeys
  // order (table.h): integers numerically, text and blobs bytewise (binary collation, whatever the
  // column's collation).
  virtual Result<std::vector<Row>> ReadRows(const LegacyTable& table, const Key* after,
                                            std::size_t limit) = 0;

  // ReadRows into `*rows`: on success `*rows` holds exactly the rows ReadRows would return. Rows
  // and values already in `*rows` are overwritten in place, so a caller that reuses one vector
  // across chunks keeps the capacity of its rows and strings. On failure `*rows` is left in an
  // unspecified but valid state. The default calls ReadRows.
  virtual Status ReadRowsInto(const LegacyTable& table, const Key* after, std::size_t limit,
                              std::vector<Row>* rows) {
    Result<std::vector<Row>> read = ReadRows(table, after, limit);
    if (!read.ok()) return read.status();
    *rows = std::move(*read);
    return Status::Ok();
  }

  // The row with this key (key values in primary-key order), or nullopt.
  virtual Result<std::optional<Row>> ReadRow(const LegacyTable& table, const Key& key) = 0;
};

struct SourceDescription {
  std::string kind;      // "sqlite" or "postgresql"
  std::string location;  // file path or connection target (never a password)
  // A UUID made by the first Install and kept until the last Uninstall. Event ids derive from it,
  // so a reinstalled change log (whose ids start again at 1) never collides with the old one.
  // Empty when nothing is installed.
  std::string source_id;
  std::vector<std::string> tables;  // tables with capture installed, by name
  ChangeId last_change_id = 0;      // newest change in the log (0: none, or not installed)
};

class LegacySource {
 public:
  virtual ~LegacySource() = default;

  // Creates the change log (if missing) and the capture triggers of `tables` (replacing any of
  // ours already there), in one transaction. Identifiers are always quoted: any table or column
  // name works and none can inject SQL. Key columns come from the schema.
  // Returns InvalidArgument (installing nothing) for no tables, an unknown table, a table without
  // a primary key, or one of the change log's own tables.
  virtual Status Install(const std::vector<std::string>& tables) = 0;

  // Drops the triggers of `tables`; once no table is captured any more, drops the change log and
  // the checkpoints too, leaving the schema exactly as before Install. Idempotent: tables without
  // capture (or missing) are fine.
  virtual Status Uninstall(const std::vector<std::string>& tables) = 0;

  // Up to `limit` changes with change_id > `after`, in commit order. Empty when there are none or
  // nothing is installed.
  virtual Result<std::vector<Change>> ReadChanges(ChangeId after, std::size_t limit) = 0;

  virtual Result<SourceDescription> Describe() = 0;

  // The columns and primary key of a table of the legacy database (captured or not). NotFound for
  // a missing table; InvalidArgument for one without a primary key.
  virtual Result<LegacyTable> DescribeTable(const std::string& table) = 0;

  // Starts a consistent read. Needs capture installed (InvalidArgument otherwise), since the
  // position is a place in the change log.
  virtual Result<std::unique_ptr<LegacySnapshot>> OpenSnapshot() = 0;

  // Keys of `table` with a committed change that a read at `position` did not see (SQLite: change
  // id > position.change_id; PostgreSQL: also changes invisible to position.snapshot), as of now,
  // in no particular order, possibly repeated. nullopt when there are more than `limit`, or when
  // such a change was a TRUNCATE (every key changed).
  virtual Result<std::optional<std::vector<Key>>> KeysChangedAfter(const LegacyTable& table,
                                                                   const CapturePosition& position,
                                                                   std::size_t limit) = 0;

  // The last change a consumer has fully processed (0 when it has none). Durable once
  // SaveCheckpoint returns OK. Without an installed change log, LoadCheckpoint gives 0 and
  // SaveCheckpoint InvalidArgument.
  virtual Result<ChangeId> LoadCheckpoint(std::string_view consumer) = 0;
  virtual Status SaveCheckpoint(std::string_view consumer, ChangeId change_id) = 0;
};

}  // namespace sluice::migration
