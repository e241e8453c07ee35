// Small pieces the SQLite store is built from: owning handles, the mapping of SQLite result codes
// to Status, binding and reading Values, and the SQL text for a table (with the helpers it shares
// with the PostgreSQL store, sluice/projections/sql_schema_text.h).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "sluice/core/status.h"
#include "sluice/projections/sql_schema_text.h"
#include "sluice/projections/table.h"

namespace sluice::sqlite_internal {

// The private table that holds every read-model table's schema.
inline constexpr std::string_view kCatalogTable = "_sluice_catalog";

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Resets a statement and drops its bindings when a use of it ends, however it ends, so no statement
// stays active (which would keep a read open or block DROP TABLE) and none keeps pointers into a
// caller's row.
class StmtReset {
 public:
  explicit StmtReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtReset(const StmtReset&) = delete;
  StmtReset& operator=(const StmtReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// The Status for the SQLite result code `rc` (not OK) on `db`: BUSY/LOCKED -> Unavailable,
// constraint, type and size errors -> InvalidArgument, CORRUPT/NOTADB -> Corruption, SQLITE_ERROR
// -> `generic_error` (a statement the caller built was refused), anything else -> IOError. The
// message is "<where>: <what>: <sqlite3_errmsg>".
Status SqliteStatus(sqlite3* db, int rc, std::string_view where, std::string_view what,
                    StatusCode generic_error = StatusCode::kIOError);

// Binds `value` to parameter `index` (1-based) without copying: the value must outlive the use of
// the statement. An empty blob stays a blob (not NULL); text keeps embedded NULs.
int BindValue(sqlite3_stmt* stmt, int index, const Value& value);
// Column `index` (0-based) of the current row, by its stored type.
Value ColumnValue(sqlite3_stmt* stmt, int index);
// ColumnValue assigned to `*value` in place: a string or blob already there keeps its capacity.
void AssignColumnValue(sqlite3_stmt* stmt, int index, Value* value);

// The SQL type of a column type: INTEGER, REAL, TEXT, BLOB.
std::string_view SqlType(ColumnType type);

// CREATE TABLE for `schema`: STRICT, WITHOUT ROWID, the key columns as PRIMARY KEY.
std::string CreateTableSql(const TableSchema& schema, bool if_not_exists = false);

// ASCII case-insensitive equality, as SQLite compares identifiers.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// True for names SQLite or this store keep for themselves ("sqlite_...", the catalog).
bool IsReservedTableName(std::string_view name);

}  // namespace sluice::sqlite_internal
