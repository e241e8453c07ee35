// One SQLite connection of the store: its cached statements and its copy of the catalog (the
// schemas of the read-model tables). Not thread-safe: its owner serialises every use (the store's
// write slot, or the read pool handing it to one reader at a time).
//
// The catalog copy is trusted only inside a transaction and only after RefreshCatalog, which
// compares SQLite's schema cookie (PRAGMA schema_version) with the one the copy was read at:
// another connection or process may have created, dropped or renamed tables since.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/projections/table.h"
#include "sqlite_support.h"

namespace sluice::sqlite_internal {

struct ConnectionSettings {
  bool create_if_missing = true;
  bool sync = true;
  std::chrono::milliseconds busy_timeout{5000};
};

// A read-model table as the connection knows it, with its statements (prepared on first use).
struct Table {
  TableSchema schema;
  StmtPtr get;
  StmtPtr put;
  StmtPtr del;
  StmtPtr scan_first;
  StmtPtr scan_after;
};

class Connection {
 public:
  enum class Role { kWriter, kReader };

  // The writer switches the file to WAL mode, sets synchronous and creates the catalog if it is
  // missing; a reader only reads (query_only).
  static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                  const ConnectionSettings& settings, Role role);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // "sqlite:<path>", the prefix of every message.
  const std::string& where() const { return where_; }
  bool InTransaction() const;

  // BEGIN IMMEDIATE (takes the database's write lock, waiting up to `wait` for another
  // connection) or BEGIN (a read transaction, started at the first read).
  Status Begin(bool immediate, std::chrono::milliseconds wait);
  // COMMIT; on failure the transaction may still be open (the caller rolls it back).
  Status Commit();
  // Ends the transaction, if there is one, discarding its changes. Cannot fail in a way the caller
  // could handle; a connection left in a transaction is rolled back again before its next use.
  void Rollback();

  // REQUIRES: in a transaction. Re-reads the catalog if the schema changed since it was read.
  Status RefreshCatalog();
  // The next Find or RefreshCatalog re-reads the catalog (after a rollback that undid DDL).
  void ForgetCatalog();

  // REQUIRES: in a transaction, after RefreshCatalog. The table, or NotFound.
  Result<Table*> Find(std::string_view name);
  // Every table as of the last catalog read, by name.
  std::vector<std::string> TableNames() const;

  Result<std::optional<Row>> Get(Table& table, const Key& key);
  // Validates and normalises `row` (ValidateRow), then inserts or replaces it.
  Status Put(Table& table, Row row);
  Status Delete(Table& table, const Key& key);
  Result<std::vector<Row>> Scan(Table& table, const Key* after, std::size_t limit);
  // Scan into `*rows`, overwriting the rows and values already there in place.
  Status ScanInto(Table& table, const Key* after, std::size_t limit, std::vector<Row>* rows);

  // DDL in the current (write) transaction, catalog included; the catalog copy follows.
  Status CreateTable(const TableSchema& schema);
  Status DropTable(std::string_view name);
  Status RenameTable(std::string_view from, std::string_view to);

 private:
  Connection(DbPtr db, std::string where, std::chrono::milliseconds busy_timeout);

  // Prepares `sql` into `*slot`, persistent (kept until the catalog changes or the connection
  // closes).
  Status Prepare(const std::string& sql, std::string_view what, StmtPtr* slot,
                 StatusCode generic_error = StatusCode::kIOError);
  // Runs a statement that returns no rows (binds already made).
  Status Run(sqlite3_stmt* stmt, std::string_view what,
             StatusCode generic_error = StatusCode::kIOError);
  // Prepares, runs and finalises one statement (DDL, pragmas at open).
  Status RunOnce(const std::string& sql, std::string_view what,
                 StatusCode generic_error = StatusCode::kIOError);
  Result<std::int64_t> SchemaVersion();
  // Reads the whole catalog, dropping every cached table statement.
  Status LoadCatalog();
  Status CreateCatalogIfMissing();
  Status Error(int rc, std::string_view what,
               StatusCode generic_error = StatusCode::kIOError) const;
  Result<Row> ReadRow(sqlite3_stmt* stmt, std::size_t width) const;
  // Binds `key` to parameters 1..n; the first failing SQLite code, or SQLITE_OK.
  static int BindKey(sqlite3_stmt* stmt, const Key& key);
  // Binds text parameters 1 and (if the statement has it) 2.
  Status BindNames(sqlite3_stmt* stmt, std::string_view first, std::string_view second,
                   std::string_view what);
  // Runs `body` (DDL and its catalog change) inside a savepoint: all of it or nothing stays in the
  // transaction. Then re-reads the catalog.
  template <typename Body>
  Status Atomically(std::string_view what, Body body);

  DbPtr db_;  // first member: closed after every statement below is finalised
  std::string where_;
  std::chrono::milliseconds busy_timeout_;
  StmtPtr begin_;
  StmtPtr begin_immediate_;
  StmtPtr commit_;
  StmtPtr rollback_;
  StmtPtr schema_version_;
  StmtPtr load_catalog_;
  StmtPtr catalog_insert_;
  StmtPtr catalog_delete_;
  StmtPtr catalog_rename_;
  // The catalog as of `catalog_version_`; nullopt: not read (or forgotten).
  std::map<std::string, std::unique_ptr<Table>, std::less<>> tables_;
  std::optional<std::int64_t> catalog_version_;
};

}  // namespace sluice::sqlite_internal
