// A small RAII layer over the SQLite C API for the migration module (adapters never share private
// sources, so this is the module's own). Errors become Status: busy/locked -> Unavailable,
// anything else -> IOError, each naming what was being done.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"

namespace sluice::migration {

// "name" with every '"' doubled: a SQL identifier, whatever the name holds.
std::string QuoteIdentifier(std::string_view name);
// 'text' with every '\'' doubled: a SQL string literal.
std::string QuoteLiteral(std::string_view text);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  void Bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void Bind(int index, std::string_view value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  // true: a row is ready; false: done.
  Result<bool> Step();
  std::int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string Text(int column) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Opens an existing file read-write (NotFound if it does not exist), busy timeout 5 s.
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database() { sqlite3_close_v2(db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status Exec(const std::string& sql);
  Result<Statement> Prepare(std::string_view sql);
  // The error of the last failed call, as a Status saying what was being done.
  Status Error(std::string_view context) const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// Runs BEGIN IMMEDIATE now and ROLLBACK in the destructor unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction() {
    if (open_) db_.Exec("ROLLBACK").PermitUncheckedError();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status Begin();
  Status Commit();

 private:
  Database& db_;
  bool open_ = false;
};

// The logical type of a SQLite column from its declared type, by SQLite's affinity rules
// (https://sqlite.org/datatype3.html 3.1) refined by name: BOOL, DATE, DATETIME/TIMESTAMP,
// TIMESTAMPTZ or WITH TIME ZONE.
LogicalType SqliteLogicalType(std::string_view declared_type);

}  // namespace sluice::migration
