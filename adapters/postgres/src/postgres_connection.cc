#include "postgres_connection.h"

#include <utility>

#include "sluice/projections/sql_schema_text.h"

namespace sluice::postgres_internal {

Connection::Connection(std::shared_ptr<const StoreContext> context,
                       std::unique_ptr<pqxx::connection> conn)
    : context_(std::move(context)),
      conn_(std::move(conn)),
      quiet_(std::make_unique<pqxx::quiet_errorhandler>(*conn_)) {}

Connection::~Connection() {
  quiet_.reset();
  try {
    conn_->disconnect();
  } catch (...) {  // closing cannot fail in a way anyone could act on
  }
}

Result<std::unique_ptr<Connection>> Connection::Open(std::shared_ptr<const StoreContext> context) {
  const StoreContext& c = *context;
  std::unique_ptr<pqxx::connection> raw;
  try {
    raw = std::make_unique<pqxx::connection>(c.connection_string);
  } catch (const std::exception& error) {
    std::string why = Redact(error.what(), c.address);
    return Status::Unavailable(c.where + ": cannot connect to " + c.address.HostPort() + " as " +
                               c.address.user + ": " + why);
  }
  std::unique_ptr<Connection> conn(new Connection(std::move(context), std::move(raw)));
  try {
    pqxx::nontransaction tx(*conn->conn_);
    const pqxx::result r = tx.exec("SELECT current_setting('server_encoding'), pg_backend_pid()");
    const std::string encoding = r[0][0].c_str();
    if (encoding != "UTF8" && encoding != "SQL_ASCII") {
      return Status::InvalidArgument(c.where + ": the database's encoding is " + encoding +
                                     "; the store needs UTF8 (or SQL_ASCII)");
    }
    conn->utf8_ = encoding == "UTF8";
    conn->backend_pid_ = r[0][1].as<int>();
  } catch (const std::exception& error) {
    return conn->Error(error, "set up the connection");
  }
  const std::string catalog = Qualified(c.pg_schema, kCatalogTable);
  const std::string version = Qualified(c.pg_schema, kCatalogVersionTable);
  pqxx::connection& p = *conn->conn_;
  // Defined now, prepared by the server on first use.
  p.prepare(kVersionStatement,
            "SELECT version, txid_current() FROM " + version + " WHERE id = 1 FOR SHARE");
  p.prepare(kCatalogStatement, "SELECT sluice_v.version, sluice_c.name, sluice_c.schema FROM " +
                                   version + " AS sluice_v LEFT JOIN " + catalog +
                                   " AS sluice_c ON true WHERE sluice_v.id = 1");
  p.prepare(kCatalogInsert, "INSERT INTO " + catalog + " (name, schema) VALUES ($1, $2)");
  p.prepare(kCatalogDelete, "DELETE FROM " + catalog + " WHERE name = $1");
  p.prepare(kCatalogRename, "UPDATE " + catalog + " SET name = $2 WHERE name = $1");
  p.prepare(kCatalogBump, "UPDATE " + version + " SET version = version + 1 WHERE id = 1");
  p.prepare(kRelationExists, "SELECT to_regclass($1) IS NOT NULL");
  return conn;
}

Status Connection::Error(const std::exception& error, std::string_view what) {
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr || !conn_->is_open()) {
    broken_ = true;
  }
  return ErrorStatus(error, context_->address, context_->where, what);
}

const CatalogEntry* Connection::Find(std::string_view table) const {
  auto it = catalog_.find(table);
  return it == catalog_.end() ? nullptr : &it->second;
}

Status Connection::LoadCatalog(pqxx::transaction_base& tx) {
  const pqxx::result r = tx.exec_prepared(kCatalogStatement);
  if (r.empty()) {
    return Status::Corruption(where() + ": the row of table \"" +
                              std::string(kCatalogVersionTable) + "\" is missing");
  }
  Catalog catalog;
  const std::int64_t version = r[0][0].as<std::int64_t>();
  for (const pqxx::row& row : r) {
    if (row[1].is_null()) continue;  // no tables: the version row only
    std::string name = row[1].c_str();
    std::string text(row[2].c_str(), row[2].size());
    Result<TableSchema> schema = DecodeSchemaText(name, text);
    if (!schema.ok()) return Status::Corruption(where() + ": " + schema.status().message());
    catalog.emplace(std::move(name), CatalogEntry{std::move(schema).value(), std::move(text)});
  }
  if (catalog != catalog_) ForgetStatements();
  catalog_ = std::move(catalog);
  catalog_version_ = version;
  return Status::Ok();
}

void Connection::ForgetCatalog() {
  catalog_.clear();
  catalog_version_.reset();
  ForgetStatements();
}

void Connection::ForgetStatements() {
  for (auto& [table, names] : statements_) {
    for (std::string& name : names) {
      if (!name.empty()) forgotten_.push_back(std::move(name));
    }
  }
  statements_.clear();
}

const std::string& Connection::Statement(StatementKind kind, std::string_view table,
                                         const TableSchema& schema) {
  auto it = statements_.find(table);
  if (it == statements_.end())
    it = statements_.emplace(std::string(table), decltype(it->second){}).first;
  std::string& name = it->second[static_cast<std::size_t>(kind)];
  if (name.empty()) {
    name = "sluice_s" + std::to_string(++statement_counter_);
    conn_->prepare(name, StatementSql(kind, context_->pg_schema, table, schema));
  }
  return name;
}

void Connection::DropForgottenStatements() {
  try {
    while (!forgotten_.empty()) {
      conn_->unprepare(forgotten_.back());
      forgotten_.pop_back();
    }
  } catch (const std::exception&) {
    broken_ = true;  // the caller finds out when it uses the connection
  }
}

Result<std::unique_ptr<Connection>> ConnectionPool::Take(bool* reused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return conn;
    }
  }
  *reused = false;
  return Connection::Open(context_);
}

void ConnectionPool::Give(std::unique_ptr<Connection> conn) {
  if (conn == nullptr || conn->broken()) return;  // closed here
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < context_->max_idle_connections) {
      idle_.push_back(std::move(conn));
      return;
    }
  }
  // Enough are idle: `conn` is closed here, outside the lock.
}

}  // namespace sluice::postgres_internal
