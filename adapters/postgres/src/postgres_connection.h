// One connection of the store, with its copy of the catalog and its prepared statements, and the
// pool that hands connections to batches and reads. A connection is used by one owner at a time:
// a batch from Begin to its end, or one store-level read.
//
// The catalog copy is trusted by a batch only after comparing the catalog version read in the
// batch's own snapshot with the version the copy was read at; store-level reads check the table
// they read against the catalog inside each statement. Prepared statements are named per
// connection and bound to a table's name and columns: when the copy changes they are forgotten,
// and deallocated the next time the connection is idle.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "postgres_support.h"
#include "postgres_url.h"
#include "sluice/core/status.h"
#include "sluice/projections/table.h"

namespace sluice::postgres_internal {

// What every connection of a store shares; immutable once the store is open.
struct StoreContext {
  ServerAddress address;
  std::string connection_string;  // holds the password: never in a message
  std::string pg_schema;
  std::string where;  // the store's Describe(), the prefix of messages
  std::size_t max_idle_connections = 4;
};

// A read-model table in the catalog: its schema and the catalog text of it.
struct CatalogEntry {
  TableSchema schema;
  std::string text;
  friend bool operator==(const CatalogEntry&, const CatalogEntry&) = default;
};
using Catalog = std::map<std::string, CatalogEntry, std::less<>>;

class Connection {
 public:
  // Connects; Unavailable (naming host:port) if the server cannot be reached or refuses;
  // InvalidArgument for a database whose encoding the store cannot use.
  static Result<std::unique_ptr<Connection>> Open(std::shared_ptr<const StoreContext> context);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  pqxx::connection& raw() { return *conn_; }
  const StoreContext& context() const { return *context_; }
  const std::string& where() const { return context_->where; }
  int backend_pid() const { return backend_pid_; }
  // True in a UTF8 database (text is checked to be UTF-8); false in SQL_ASCII.
  bool utf8() const { return utf8_; }

  // A connection that failed in a way that may have left it unusable is closed, not reused.
  bool broken() const { return broken_; }
  void MarkBroken() { broken_ = true; }
  // The Status for `error` while doing `what`; marks the connection broken if it was lost.
  Status Error(const std::exception& error, std::string_view what);

  // The catalog copy and the version it was read at (nullopt: not read, or forgotten).
  const Catalog& catalog() const { return catalog_; }
  std::optional<std::int64_t> catalog_version() const { return catalog_version_; }
  const CatalogEntry* Find(std::string_view table) const;
  // Reads the catalog and its version in `tx` (one statement, one snapshot) into the copy.
  // Corruption if an entry is damaged.
  Status LoadCatalog(pqxx::transaction_base& tx);
  // Drops the copy and every table statement (after DDL, committed or not).
  void ForgetCatalog();

  // The name of the prepared statement of `kind` on the PostgreSQL table `table` with `schema`'s
  // columns, defined on first use (prepared by the server when first executed).
  const std::string& Statement(StatementKind kind, std::string_view table,
                               const TableSchema& schema);
  // Deallocates forgotten statements. REQUIRES: no transaction open on the connection.
  void DropForgottenStatements();

  // Names of the statements on the store's own tables.
  static constexpr const char* kVersionStatement = "sluice_version";
  static constexpr const char* kCatalogStatement = "sluice_catalog";
  static constexpr const char* kCatalogInsert = "sluice_catalog_insert";
  static constexpr const char* kCatalogDelete = "sluice_catalog_delete";
  static constexpr const char* kCatalogRename = "sluice_catalog_rename";
  static constexpr const char* kCatalogBump = "sluice_catalog_bump";
  static constexpr const char* kRelationExists = "sluice_relation_exists";

 private:
  Connection(std::shared_ptr<const StoreContext> context, std::unique_ptr<pqxx::connection> conn);
  void ForgetStatements();

  std::shared_ptr<const StoreContext> context_;
  std::unique_ptr<pqxx::connection> conn_;
  // Keeps server notices (e.g. "identifier will be truncated") off stderr; destroyed first.
  std::unique_ptr<pqxx::quiet_errorhandler> quiet_;
  int backend_pid_ = 0;
  bool utf8_ = true;
  bool broken_ = false;
  Catalog catalog_;
  std::optional<std::int64_t> catalog_version_;
  // By PostgreSQL table name: the statement names, "" where not defined yet.
  std::map<std::string, std::array<std::string, kStatementKinds>, std::less<>> statements_;
  std::vector<std::string> forgotten_;
  std::uint64_t statement_counter_ = 0;
};

// Connections for batches and reads: an idle one if there is one, else a new one.
class ConnectionPool {
 public:
  explicit ConnectionPool(std::shared_ptr<const StoreContext> context)
      : context_(std::move(context)) {}

  const StoreContext& context() const { return *context_; }
  // `*reused` tells whether it was idle in the pool (it may have died since).
  Result<std::unique_ptr<Connection>> Take(bool* reused);
  // Keeps `conn` for reuse unless it is broken or enough are idle.
  void Give(std::unique_ptr<Connection> conn);

 private:
  const std::shared_ptr<const StoreContext> context_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(mu_)
};

}  // namespace sluice::postgres_internal
