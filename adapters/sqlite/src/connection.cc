#include "connection.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace sluice::sqlite_internal {
namespace {

// "k1" = ?1 AND "k2" = ?2 ...
std::string KeyMatch(const TableSchema& schema) {
  std::string match;
  for (std::size_t i = 0; i < schema.key.size(); ++i) {
    if (i > 0) match += " AND ";
    match += QuoteSqlIdentifier(schema.key[i].name) + " = ?" + std::to_string(i + 1);
  }
  return match;
}

std::string GetSql(const TableSchema& schema) {
  return "SELECT " + SqlColumnList(schema) + " FROM " + QuoteSqlIdentifier(schema.name) +
         " WHERE " + KeyMatch(schema);
}

std::string PutSql(const TableSchema& schema) {
  std::string params;
  for (std::size_t i = 0; i < schema.width(); ++i) {
    if (i > 0) params += ", ";
    params += "?" + std::to_string(i + 1);
  }
  return "INSERT INTO " + QuoteSqlIdentifier(schema.name) + " (" + SqlColumnList(schema) +
         ") VALUES (" + params + ")" + SqlReplaceOnConflict(schema);
}

std::string DeleteSql(const TableSchema& schema) {
  return "DELETE FROM " + QuoteSqlIdentifier(schema.name) + " WHERE " + KeyMatch(schema);
}

// Keys in order (BINARY collation: text and blobs bytewise, as CompareKeys), resuming after a key
// with a row-value comparison, which SQLite answers from the primary key.
std::string ScanSql(const TableSchema& schema, bool after) {
  const std::size_t n = schema.key.size();
  std::string sql = "SELECT " + SqlColumnList(schema) + " FROM " + QuoteSqlIdentifier(schema.name);
  if (after) {
    std::string params;
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) params += ", ";
      params += "?" + std::to_string(i + 1);
    }
    if (n == 1) {
      sql += " WHERE " + SqlKeyList(schema) + " > " + params;
    } else {
      sql += " WHERE (" + SqlKeyList(schema) + ") > (" + params + ")";
    }
  }
  sql += " ORDER BY " + SqlKeyList(schema) + " LIMIT ?" + std::to_string(after ? n + 1 : 1);
  return sql;
}

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

}  // namespace

Connection::Connection(DbPtr db, std::string where, std::chrono::milliseconds busy_timeout)
    : db_(std::move(db)), where_(std::move(where)), busy_timeout_(busy_timeout) {}

Connection::~Connection() {
  // Statements first (members after db_ go first anyway), and never leave a transaction open.
  tables_.clear();
  if (InTransaction()) Rollback();
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                     const ConnectionSettings& settings,
                                                     Role role) {
  const std::string where = "sqlite:" + path;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (role == Role::kWriter && settings.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return SqliteStatus(raw, rc, where, "open");
  sqlite3_extended_result_codes(db.get(), 1);
  // Hardening against a damaged or hostile file: no writes to sqlite_schema through SQL, and no
  // functions with side effects called from the schema (views, triggers, defaults).
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  const auto max_wait = std::chrono::milliseconds(std::numeric_limits<int>::max());
  const auto busy_timeout =
      std::clamp(settings.busy_timeout, std::chrono::milliseconds(0), max_wait);
  sqlite3_busy_timeout(db.get(), static_cast<int>(busy_timeout.count()));

  std::unique_ptr<Connection> conn(new Connection(std::move(db), where, busy_timeout));
  if (role == Role::kWriter) {
    // WAL: readers see the last commit and are never blocked by the writer. The mode is kept in
    // the file, so readers (and other processes) use it too.
    StmtPtr wal;
    SLUICE_RETURN_IF_ERROR(conn->Prepare("PRAGMA journal_mode=WAL", "use WAL", &wal));
    StmtReset reset(wal.get());
    const int step = sqlite3_step(wal.get());
    if (step != SQLITE_ROW) return conn->Error(step, "switch to WAL mode");
    const Value mode = ColumnValue(wal.get(), 0);
    if (!std::holds_alternative<std::string>(mode) ||
        !EqualsIgnoreCase(std::get<std::string>(mode), "wal")) {
      return Status::InvalidArgument(where + ": cannot use WAL mode (journal mode is " +
                                     DescribeValue(mode) + ")");
    }
    SLUICE_RETURN_IF_ERROR(
        conn->RunOnce(settings.sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                      "set synchronous"));
    SLUICE_RETURN_IF_ERROR(conn->CreateCatalogIfMissing());
  } else {
    SLUICE_RETURN_IF_ERROR(conn->RunOnce("PRAGMA query_only=1", "set query_only"));
  }

  const std::string catalog = QuoteSqlIdentifier(kCatalogTable);
  Connection& c = *conn;
  SLUICE_RETURN_IF_ERROR(c.Prepare("BEGIN", "prepare begin", &c.begin_));
  SLUICE_RETURN_IF_ERROR(c.Prepare("BEGIN IMMEDIATE", "prepare begin", &c.begin_immediate_));
  SLUICE_RETURN_IF_ERROR(c.Prepare("COMMIT", "prepare commit", &c.commit_));
  SLUICE_RETURN_IF_ERROR(c.Prepare("ROLLBACK", "prepare rollback", &c.rollback_));
  SLUICE_RETURN_IF_ERROR(
      c.Prepare("PRAGMA schema_version", "prepare schema_version", &c.schema_version_));
  // A "_sluice_catalog" that is not ours (other columns) fails here, before anything is written.
  const StatusCode not_ours = StatusCode::kInvalidArgument;
  SLUICE_RETURN_IF_ERROR(c.Prepare("SELECT name, schema FROM " + catalog, "read the catalog",
                                   &c.load_catalog_, not_ours));
  SLUICE_RETURN_IF_ERROR(c.Prepare("INSERT INTO " + catalog + " (name, schema) VALUES (?1, ?2)",
                                   "prepare catalog insert", &c.catalog_insert_, not_ours));
  SLUICE_RETURN_IF_ERROR(c.Prepare("DELETE FROM " + catalog + " WHERE name = ?1",
                                   "prepare catalog delete", &c.catalog_delete_, not_ours));
  SLUICE_RETURN_IF_ERROR(c.Prepare("UPDATE " + catalog + " SET name = ?2 WHERE name = ?1",
                                   "prepare catalog rename", &c.catalog_rename_, not_ours));
  return conn;
}

Status Connection::CreateCatalogIfMissing() {
  StmtPtr exists;
  SLUICE_RETURN_IF_ERROR(
      Prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
              "look for the catalog", &exists));
  bool found = false;
  {
    StmtReset reset(exists.get());
    const int bound = sqlite3_bind_text(exists.get(), 1, kCatalogTable.data(),
                                        static_cast<int>(kCatalogTable.size()), SQLITE_STATIC);
    if (bound != SQLITE_OK) return Error(bound, "look for the catalog");
    const int rc = sqlite3_step(exists.get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(rc, "look for the catalog");
    found = rc == SQLITE_ROW;
  }
  if (found) return Status::Ok();
  // IF NOT EXISTS: another process may create it between the look and here.
  return RunOnce(
      "CREATE TABLE IF NOT EXISTS " + QuoteSqlIdentifier(kCatalogTable) +
          " (name TEXT NOT NULL PRIMARY KEY, schema TEXT NOT NULL) STRICT, WITHOUT ROWID",
      "create the catalog");
}

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

Status Connection::Error(int rc, std::string_view what, StatusCode generic_error) const {
  return SqliteStatus(db_.get(), rc, where_, what, generic_error);
}

Status Connection::Prepare(const std::string& sql, std::string_view what, StmtPtr* slot,
                           StatusCode generic_error) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size() + 1),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, what, generic_error);
  }
  slot->reset(stmt);
  return Status::Ok();
}

Status Connection::Run(sqlite3_stmt* stmt, std::string_view what, StatusCode generic_error) {
  StmtReset reset(stmt);
  int rc = sqlite3_step(stmt);
  while (rc == SQLITE_ROW) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return Error(rc, what, generic_error);
  return Status::Ok();
}

Status Connection::RunOnce(const std::string& sql, std::string_view what,
                           StatusCode generic_error) {
  sqlite3_stmt* raw = nullptr;
  const int rc =
      sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size() + 1), &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what, generic_error);
  return Run(stmt.get(), what, generic_error);
}

Status Connection::Begin(bool immediate, std::chrono::milliseconds wait) {
  if (InTransaction()) Rollback();  // left over from a batch whose rollback failed
  // The wait left of the caller's budget (Begin may already have waited for this process's
  // previous batch); later statements get the full timeout again.
  wait = std::clamp(wait, std::chrono::milliseconds(0), busy_timeout_);
  const bool shorter = wait != busy_timeout_;
  if (shorter) sqlite3_busy_timeout(db_.get(), static_cast<int>(wait.count()));
  Status status = Run(immediate ? begin_immediate_.get() : begin_.get(), "begin a transaction");
  if (shorter) sqlite3_busy_timeout(db_.get(), static_cast<int>(busy_timeout_.count()));
  if (status.code() == StatusCode::kUnavailable) {
    return Status::Unavailable(status.message() + " (another connection or process held the " +
                               "write lock for " + std::to_string(wait.count()) + " ms)");
  }
  return status;
}

Status Connection::Commit() { return Run(commit_.get(), "commit"); }

void Connection::Rollback() {
  if (!InTransaction()) return;
  if (rollback_) {
    Run(rollback_.get(), "roll back").PermitUncheckedError();
  } else {
    RunOnce("ROLLBACK", "roll back").PermitUncheckedError();
  }
}

Result<std::int64_t> Connection::SchemaVersion() {
  sqlite3_stmt* stmt = schema_version_.get();
  StmtReset reset(stmt);
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return Error(rc, "read the schema version");
  return static_cast<std::int64_t>(sqlite3_column_int64(stmt, 0));
}

Status Connection::RefreshCatalog() {
  Result<std::int64_t> version = SchemaVersion();
  if (!version.ok()) return version.status();
  if (catalog_version_ == *version) return Status::Ok();
  return LoadCatalog();
}

void Connection::ForgetCatalog() {
  tables_.clear();
  catalog_version_.reset();
}

Status Connection::LoadCatalog() {
  ForgetCatalog();
  Result<std::int64_t> version = SchemaVersion();
  if (!version.ok()) return version.status();
  std::map<std::string, std::unique_ptr<Table>, std::less<>> tables;
  sqlite3_stmt* stmt = load_catalog_.get();
  StmtReset reset(stmt);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const Value name = ColumnValue(stmt, 0);
    const Value text = ColumnValue(stmt, 1);
    if (!std::holds_alternative<std::string>(name) || !std::holds_alternative<std::string>(text)) {
      return Status::Corruption(
          where_ + ": the catalog holds a row that is not (text, text): " + DescribeValue(name));
    }
    Result<TableSchema> schema =
        DecodeSchemaText(std::get<std::string>(name), std::get<std::string>(text));
    if (!schema.ok()) return Status::Corruption(where_ + ": " + schema.status().message());
    auto table = std::make_unique<Table>();
    table->schema = std::move(schema).value();
    tables.emplace(std::get<std::string>(name), std::move(table));
  }
  if (rc != SQLITE_DONE) return Error(rc, "read the catalog", StatusCode::kCorruption);
  tables_ = std::move(tables);
  catalog_version_ = *version;
  return Status::Ok();
}

Result<Table*> Connection::Find(std::string_view name) {
  if (!catalog_version_.has_value()) SLUICE_RETURN_IF_ERROR(LoadCatalog());
  auto it = tables_.find(name);
  if (it == tables_.end()) {
    return Status::NotFound(where_ + ": no table " + Quoted(name));
  }
  return it->second.get();
}

std::vector<std::string> Connection::TableNames() const {
  std::vector<std::string> names;
  names.reserve(tables_.size());
  for (const auto& [name, table] : tables_) names.push_back(name);
  return names;
}

int Connection::BindKey(sqlite3_stmt* stmt, const Key& key) {
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int rc = BindValue(stmt, static_cast<int>(i + 1), key[i]);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

Result<Row> Connection::ReadRow(sqlite3_stmt* stmt, std::size_t width) const {
  if (static_cast<std::size_t>(sqlite3_column_count(stmt)) != width) {
    return Status::Corruption(where_ + ": a table has other columns than its catalog entry");
  }
  Row row;
  row.reserve(width);
  for (std::size_t i = 0; i < width; ++i) row.push_back(ColumnValue(stmt, static_cast<int>(i)));
  return row;
}

// Messages are built only on failure: these run once per row of a projection.
//
// A table statement that does not prepare means the SQL table no longer matches its catalog entry
// (changed behind the store's back): damaged stored state.
constexpr StatusCode kMismatch = StatusCode::kCorruption;

Result<std::optional<Row>> Connection::Get(Table& table, const Key& key) {
  SLUICE_RETURN_IF_ERROR(ValidateKey(table.schema, key));
  auto what = [&table] { return "get from " + Quoted(table.schema.name); };
  if (!table.get)
    SLUICE_RETURN_IF_ERROR(Prepare(GetSql(table.schema), what(), &table.get, kMismatch));
  sqlite3_stmt* stmt = table.get.get();
  StmtReset reset(stmt);
  int rc = BindKey(stmt, key);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return std::optional<Row>();
  if (rc != SQLITE_ROW) return Error(rc, what());
  Result<Row> row = ReadRow(stmt, table.schema.width());
  if (!row.ok()) return row.status();
  return std::optional<Row>(std::move(row).value());
}

Status Connection::Put(Table& table, Row row) {
  SLUICE_RETURN_IF_ERROR(ValidateRow(table.schema, &row));
  auto what = [&table] { return "put into " + Quoted(table.schema.name); };
  if (!table.put)
    SLUICE_RETURN_IF_ERROR(Prepare(PutSql(table.schema), what(), &table.put, kMismatch));
  sqlite3_stmt* stmt = table.put.get();
  StmtReset reset(stmt);
  int rc = SQLITE_OK;
  for (std::size_t i = 0; i < row.size() && rc == SQLITE_OK; ++i) {
    rc = BindValue(stmt, static_cast<int>(i + 1), row[i]);
  }
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return Error(rc, what());
  return Status::Ok();
}

Status Connection::Delete(Table& table, const Key& key) {
  SLUICE_RETURN_IF_ERROR(ValidateKey(table.schema, key));
  auto what = [&table] { return "delete from " + Quoted(table.schema.name); };
  if (!table.del)
    SLUICE_RETURN_IF_ERROR(Prepare(DeleteSql(table.schema), what(), &table.del, kMismatch));
  sqlite3_stmt* stmt = table.del.get();
  StmtReset reset(stmt);
  int rc = BindKey(stmt, key);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return Error(rc, what());
  return Status::Ok();
}

Result<std::vector<Row>> Connection::Scan(Table& table, const Key* after, std::size_t limit) {
  std::vector<Row> rows;
  SLUICE_RETURN_IF_ERROR(ScanInto(table, after, limit, &rows));
  return rows;
}

Status Connection::ScanInto(Table& table, const Key* after, std::size_t limit,
                            std::vector<Row>* rows) {
  if (after != nullptr) SLUICE_RETURN_IF_ERROR(ValidateKey(table.schema, *after));
  if (limit == 0) {
    rows->clear();
    return Status::Ok();
  }
  auto what = [&table] { return "scan " + Quoted(table.schema.name); };
  StmtPtr& slot = after != nullptr ? table.scan_after : table.scan_first;
  if (!slot)
    SLUICE_RETURN_IF_ERROR(
        Prepare(ScanSql(table.schema, after != nullptr), what(), &slot, kMismatch));
  sqlite3_stmt* stmt = slot.get();
  StmtReset reset(stmt);
  int rc = SQLITE_OK;
  int limit_param = 1;
  if (after != nullptr) {
    rc = BindKey(stmt, *after);
    limit_param += static_cast<int>(after->size());
  }
  const auto max = static_cast<std::uint64_t>(std::numeric_limits<sqlite3_int64>::max());
  const auto bounded = static_cast<sqlite3_int64>(std::min<std::uint64_t>(limit, max));
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(stmt, limit_param, bounded);
  if (rc != SQLITE_OK) return Error(rc, what());
  const std::size_t width = table.schema.width();
  if (static_cast<std::size_t>(sqlite3_column_count(stmt)) != width) {
    return Status::Corruption(where_ + ": a table has other columns than its catalog entry");
  }
  std::size_t count = 0;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (count == rows->size()) rows->emplace_back();
    Row& row = (*rows)[count++];
    row.resize(width);
    for (std::size_t i = 0; i < width; ++i) AssignColumnValue(stmt, static_cast<int>(i), &row[i]);
  }
  if (rc != SQLITE_DONE) return Error(rc, what());
  rows->resize(count);
  return Status::Ok();
}

template <typename Body>
Status Connection::Atomically(std::string_view what, Body body) {
  // A savepoint, so a DDL step that fails after another succeeded leaves no half change behind in
  // the transaction.
  SLUICE_RETURN_IF_ERROR(RunOnce("SAVEPOINT sluice_ddl", what));
  Status status = body();
  if (!status.ok() && InTransaction()) {
    RunOnce("ROLLBACK TO sluice_ddl", what).PermitUncheckedError();
  }
  if (InTransaction()) {
    Status released = RunOnce("RELEASE sluice_ddl", what);
    if (status.ok()) status = released;
  }
  // The catalog copy follows the transaction's schema, whatever happened.
  if (!InTransaction()) {
    ForgetCatalog();
    return status;
  }
  Status reloaded = LoadCatalog();
  return status.ok() ? reloaded : status;
}

Status Connection::BindNames(sqlite3_stmt* stmt, std::string_view first, std::string_view second,
                             std::string_view what) {
  int rc = sqlite3_bind_text64(stmt, 1, first.data(), first.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc == SQLITE_OK && sqlite3_bind_parameter_count(stmt) >= 2) {
    rc = sqlite3_bind_text64(stmt, 2, second.data(), second.size(), SQLITE_STATIC, SQLITE_UTF8);
  }
  if (rc != SQLITE_OK) return Error(rc, what);
  return Status::Ok();
}

Status Connection::CreateTable(const TableSchema& schema) {
  // The runtime creates its own "sluice_" tables through this port, so reserved names pass.
  SLUICE_RETURN_IF_ERROR(ValidateSchema(schema, /*allow_reserved=*/true));
  if (IsReservedTableName(schema.name)) {
    return Status::InvalidArgument(where_ + ": the table name " + Quoted(schema.name) +
                                   " is reserved by SQLite or the store");
  }
  if (!catalog_version_.has_value()) SLUICE_RETURN_IF_ERROR(LoadCatalog());
  if (auto it = tables_.find(schema.name); it != tables_.end()) {
    if (it->second->schema == schema) return Status::Ok();
    return Status::InvalidArgument(where_ + ": table " + Quoted(schema.name) +
                                   " exists with another schema");
  }
  for (const auto& [name, table] : tables_) {
    if (EqualsIgnoreCase(name, schema.name)) {
      return Status::InvalidArgument(where_ + ": table " + Quoted(schema.name) +
                                     " clashes with table " + Quoted(name) +
                                     " (SQLite ignores the case of table names)");
    }
  }
  const std::string what = "create table " + Quoted(schema.name);
  return Atomically(what, [&]() -> Status {
    // SQLITE_ERROR here means SQLite refused the name or a column (e.g. an object of that name
    // that is not a read-model table, or two columns differing only in case).
    SLUICE_RETURN_IF_ERROR(RunOnce(CreateTableSql(schema), what, StatusCode::kInvalidArgument));
    const std::string text = EncodeSchemaText(schema);
    sqlite3_stmt* stmt = catalog_insert_.get();
    StmtReset reset(stmt);
    SLUICE_RETURN_IF_ERROR(BindNames(stmt, schema.name, text, what));
    return Run(stmt, what);
  });
}

Status Connection::DropTable(std::string_view table) {
  if (!catalog_version_.has_value()) SLUICE_RETURN_IF_ERROR(LoadCatalog());
  auto it = tables_.find(table);
  if (it == tables_.end()) return Status::Ok();
  const TableSchema schema = it->second->schema;
  tables_.erase(it);  // finalises its statements first
  const std::string what = "drop table " + Quoted(schema.name);
  const std::string create_if_missing = CreateTableSql(schema, /*if_not_exists=*/true);
  return Atomically(what, [&]() -> Status {
    // A table dropped behind the store's back is created first, so it can be dropped: the DROP
    // changes the schema version, which is how other connections learn of the catalog change.
    SLUICE_RETURN_IF_ERROR(RunOnce(create_if_missing, what));
    SLUICE_RETURN_IF_ERROR(RunOnce("DROP TABLE " + QuoteSqlIdentifier(schema.name), what));
    sqlite3_stmt* stmt = catalog_delete_.get();
    StmtReset reset(stmt);
    SLUICE_RETURN_IF_ERROR(BindNames(stmt, schema.name, {}, what));
    return Run(stmt, what);
  });
}

Status Connection::RenameTable(std::string_view from, std::string_view to) {
  Result<Table*> source = Find(from);
  if (!source.ok()) return source.status();
  TableSchema renamed = (*source)->schema;
  renamed.name = std::string(to);
  SLUICE_RETURN_IF_ERROR(ValidateSchema(renamed, /*allow_reserved=*/true));
  if (IsReservedTableName(to)) {
    return Status::InvalidArgument(where_ + ": the table name " + Quoted(to) +
                                   " is reserved by SQLite or the store");
  }
  if (tables_.find(to) != tables_.end()) {
    return Status::InvalidArgument(where_ + ": cannot rename " + Quoted(from) + " to " +
                                   Quoted(to) + ": a table of that name exists");
  }
  for (const auto& [name, table] : tables_) {
    if (name != from && EqualsIgnoreCase(name, to)) {
      return Status::InvalidArgument(where_ + ": cannot rename " + Quoted(from) + " to " +
                                     Quoted(to) + ": it clashes with table " + Quoted(name) +
                                     " (SQLite ignores the case of table names)");
    }
  }
  // SQLite refuses a rename that changes only the case ("there is already another table ..."),
  // so such a rename goes through a name no catalog table uses.
  std::vector<std::string> steps;
  if (EqualsIgnoreCase(from, to)) {
    for (int n = 0;; ++n) {
      std::string between = std::string(kCatalogTable) + "_renaming_" + std::to_string(n);
      bool used = false;
      for (const auto& [name, table] : tables_) used = used || EqualsIgnoreCase(name, between);
      if (!used) {
        steps.push_back(std::move(between));
        break;
      }
    }
  }
  steps.push_back(std::string(to));
  const std::string from_name(from);       // `from` may point into the entry erased next
  tables_.erase(tables_.find(from_name));  // finalises its statements first
  const std::string what = "rename table " + Quoted(from_name) + " to " + Quoted(to);
  return Atomically(what, [&]() -> Status {
    std::string current = from_name;
    for (const std::string& next : steps) {
      SLUICE_RETURN_IF_ERROR(RunOnce(
          "ALTER TABLE " + QuoteSqlIdentifier(current) + " RENAME TO " + QuoteSqlIdentifier(next),
          what, StatusCode::kInvalidArgument));
      current = next;
    }
    sqlite3_stmt* stmt = catalog_rename_.get();
    StmtReset reset(stmt);
    SLUICE_RETURN_IF_ERROR(BindNames(stmt, from_name, to, what));
    return Run(stmt, what);
  });
}

}  // namespace sluice::sqlite_internal
