#include "sluice/migration/sqlite_legacy_source.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "sluice/core/uuid.h"
#include "sqlite_db.h"
#include "typed_json.h"

namespace sluice::migration {
namespace {

using RawJson = nlohmann::json;

constexpr std::string_view kLogTable = "sluice_change_log";
constexpr std::string_view kStateTable = "sluice_capture_state";
constexpr std::string_view kTriggerPrefix = "sluice_capture_";
// Columns per json_object() call: SQLite allows at most 127 function arguments.
constexpr std::size_t kColumnsPerObject = 50;

constexpr const char* kCreateLog =
    "CREATE TABLE IF NOT EXISTS sluice_change_log ("
    "change_id INTEGER PRIMARY KEY, table_name TEXT NOT NULL, op TEXT NOT NULL, "
    "key_json TEXT NOT NULL, row_json TEXT)";
constexpr const char* kCreateState =
    "CREATE TABLE IF NOT EXISTS sluice_capture_state (name TEXT PRIMARY KEY, value)";

struct TableShape {
  std::vector<std::string> columns;  // table order
  std::vector<std::string> keys;     // primary-key order
};

// The raw typed value (typed_json.h) of column `column` of row `ref` (NEW or OLD).
std::string RawValue(std::string_view ref, const std::string& column) {
  const std::string v = std::string(ref) + "." + QuoteIdentifier(column);
  return "json_array(typeof(" + v + "), CASE typeof(" + v + ") WHEN 'real' THEN printf('%!.20e', " +
         v + ") WHEN 'blob' THEN hex(" + v + ") ELSE " + v + " END)";
}

// A SQL expression giving the raw JSON object of `columns` of row `ref`.
std::string RawObject(std::string_view ref, const std::vector<std::string>& columns) {
  std::string expression;
  for (std::size_t start = 0; start < columns.size(); start += kColumnsPerObject) {
    std::string object = "json_object(";
    for (std::size_t i = start; i < columns.size() && i < start + kColumnsPerObject; ++i) {
      if (i > start) object += ", ";
      object += QuoteLiteral(columns[i]) + ", " + RawValue(ref, columns[i]);
    }
    object += ")";
    expression = expression.empty() ? object : "json_patch(" + expression + ", " + object + ")";
  }
  return expression;
}

std::string TriggerName(std::string_view kind, const std::string& table) {
  return QuoteIdentifier(std::string(kTriggerPrefix) + std::string(kind) + "_" + table);
}

std::string LogInsert(const std::string& table, char op, const std::string& key,
                      const std::string& row) {
  return "INSERT INTO sluice_change_log (table_name, op, key_json, row_json) VALUES (" +
         QuoteLiteral(table) + ", '" + op + "', " + key + ", " + row + ");";
}

std::vector<std::string> TriggerStatements(const std::string& table, const TableShape& shape) {
  const std::string on = " ON " + QuoteIdentifier(table);
  const std::string new_key = RawObject("NEW", shape.keys);
  const std::string old_key = RawObject("OLD", shape.keys);
  const std::string new_row = RawObject("NEW", shape.columns);
  // Keys compared by their exact typed encoding (not by collation or numeric affinity).
  const std::string same_key = "(" + new_key + ") IS (" + old_key + ")";
  return {
      "CREATE TRIGGER " + TriggerName("ins", table) + " AFTER INSERT" + on + " BEGIN " +
          LogInsert(table, 'I', new_key, new_row) + " END",
      "CREATE TRIGGER " + TriggerName("upd", table) + " AFTER UPDATE" + on + " WHEN " + same_key +
          " BEGIN " + LogInsert(table, 'U', new_key, new_row) + " END",
      "CREATE TRIGGER " + TriggerName("updkey", table) + " AFTER UPDATE" + on + " WHEN NOT " +
          same_key + " BEGIN " + LogInsert(table, 'D', old_key, "NULL") + " " +
          LogInsert(table, 'I', new_key, new_row) + " END",
      "CREATE TRIGGER " + TriggerName("del", table) + " AFTER DELETE" + on + " BEGIN " +
          LogInsert(table, 'D', old_key, "NULL") + " END",
  };
}

std::vector<std::string> DropStatements(const std::string& table) {
  std::vector<std::string> out;
  for (const char* kind : {"ins", "upd", "updkey", "del"}) {
    out.push_back("DROP TRIGGER IF EXISTS " + TriggerName(kind, table));
  }
  return out;
}

Result<ChangeOp> OpFromCode(const std::string& code) {
  if (code == "I") return ChangeOp::kInsert;
  if (code == "U") return ChangeOp::kUpdate;
  if (code == "D") return ChangeOp::kDelete;
  return Status::Corruption("change log: unknown operation '" + code + "'");
}

// A value of the raw form (typed_json.h) as a sluice::Value, as ReadRows gives it.
Result<Value> ValueFromRaw(const RawJson& raw) {
  if (!raw.is_array() || raw.size() != 2 || !raw[0].is_string()) {
    return Status::Corruption("change log: malformed value " + raw.dump());
  }
  const std::string type = raw[0].get<std::string>();
  const RawJson& value = raw[1];
  if (type == "null") return Value{};
  if (type == "integer" && value.is_number_integer()) return Value{value.get<std::int64_t>()};
  if (type == "text" && value.is_string()) return Value{value.get<std::string>()};
  if (type == "real" && value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "Inf" || text == "+Inf") return Value{std::numeric_limits<double>::infinity()};
    if (text == "-Inf") return Value{-std::numeric_limits<double>::infinity()};
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) return Value{number};
  }
  if (type == "blob" && value.is_string()) {
    const std::string hex = value.get<std::string>();
    if (hex.size() % 2 == 0) {
      Blob blob;
      blob.bytes.reserve(hex.size() / 2);
      bool good = true;
      for (std::size_t i = 0; i < hex.size() && good; i += 2) {
        unsigned char byte = 0;
        const auto [ptr, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, byte, 16);
        good = ec == std::errc() && ptr == hex.data() + i + 2;
        blob.bytes += static_cast<char>(byte);
      }
      if (good) return Value{std::move(blob)};
    }
  }
  return Status::Corruption("change log: malformed value " + raw.dump());
}

// The key (values in primary-key order) of a raw key object of the change log.
Result<Key> KeyFromRaw(const LegacyTable& table, const std::string& raw) {
  try {
    const RawJson parsed = RawJson::parse(raw);
    if (!parsed.is_object()) return Status::Corruption("change log: key is not an object");
    Key key;
    for (const std::size_t index : table.key) {
      const std::string& name = table.columns.at(index).name;
      const auto found = parsed.find(name);
      if (found == parsed.end()) {
        return Status::Corruption("change log: key " + raw + " has no column '" + name + "'");
      }
      Result<Value> value = ValueFromRaw(*found);
      if (!value.ok()) return value.status();
      key.push_back(std::move(*value));
    }
    return key;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("change log: ") + e.what());
  }
}

// A connection for snapshots and the statements prepared on it, by SQL text. Statements are
// prepared once and reset after each use (sqlite3_prepare_v2 re-prepares them by itself after a
// schema change).
class SnapshotConnection {
 public:
  static Result<std::unique_ptr<SnapshotConnection>> Open(const std::string& path) {
    sqlite3* raw = nullptr;
    // No connection mutex: a snapshot, like every object of legacy_source.h, is used by one thread
    // at a time, and the pool's mutex orders hand-overs (a mutex per column read costs ~5%).
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<SnapshotConnection> connection(new SnapshotConnection(raw));
    if (rc != SQLITE_OK) {
      return Status::IOError("cannot open " + path + ": " + sqlite3_errstr(rc));
    }
    sqlite3_busy_timeout(raw, 5000);
    return connection;
  }

  ~SnapshotConnection() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  SnapshotConnection(const SnapshotConnection&) = delete;
  SnapshotConnection& operator=(const SnapshotConnection&) = delete;

  sqlite3* db() const { return db_; }

  Status Error(int rc) const {
    const int primary = rc & 0xff;
    std::string message = std::string("SQLite: ") + sqlite3_errmsg(db_);
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::Unavailable(message);
    return Status::IOError(message);
  }

  Status Exec(const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : Error(rc);
  }

  // The statement for `sql`, prepared on first use; owned by the connection.
  Result<sqlite3_stmt*> Prepare(const std::string& sql) {
    const auto found = statements_.find(sql);
    if (found != statements_.end()) return found->second;
    if (statements_.size() >= kMaxStatements) {
      for (auto& [text, stmt] : statements_) sqlite3_finalize(stmt);
      statements_.clear();
    }
    sqlite3_stmt* stmt = nullptr;
    const int rc =
        sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return Error(rc);
    }
    statements_.emplace(sql, stmt);
    return stmt;
  }

 private:
  // A few per table (ReadRows with and without a start key, ReadRow) and two of the snapshot's.
  static constexpr std::size_t kMaxStatements = 256;

  explicit SnapshotConnection(sqlite3* db) : db_(db) {}

  sqlite3* const db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// The source's idle snapshot connection, kept between snapshots so that each does not pay for a
// new connection and for parsing the schema again. Shared by the source and its snapshots, so a
// snapshot may outlive the source.
struct SnapshotPool {
  std::mutex mutex;
  std::unique_ptr<SnapshotConnection> idle;  // guarded by mutex
};

// A read transaction on a connection of its own (so the source stays usable meanwhile): in
// rollback-journal mode it holds a SHARED lock that keeps writers from committing until it is
// destroyed; in WAL mode writers go on. The connection is the source's pooled one when no other
// snapshot holds it (else a new one), and goes back to the pool after COMMIT.
class SqliteSnapshot final : public LegacySnapshot {
 public:
  static Result<std::unique_ptr<LegacySnapshot>> Open(const std::string& path,
                                                      std::shared_ptr<SnapshotPool> pool) {
    std::unique_ptr<SnapshotConnection> connection;
    {
      std::lock_guard<std::mutex> lock(pool->mutex);
      connection = std::move(pool->idle);
    }
    if (connection == nullptr) {
      Result<std::unique_ptr<SnapshotConnection>> opened = SnapshotConnection::Open(path);
      if (!opened.ok()) return opened.status();
      connection = std::move(*opened);
    }
    std::unique_ptr<SqliteSnapshot> snapshot(
        new SqliteSnapshot(std::move(connection), std::move(pool)));
    if (Status s = snapshot->connection_->Exec("BEGIN"); !s.ok()) return s;
    snapshot->open_ = true;
    // The first read starts the read transaction: the position and every row come from it.
    Result<std::vector<Row>> log = snapshot->Query(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sluice_change_log'",
        {});
    if (!log.ok()) return log.status();
    if (std::get<std::int64_t>((*log)[0][0]) == 0) {
      return Status::InvalidArgument("capture is not installed in " + path +
                                     ": a snapshot needs a change log to be placed in");
    }
    Result<std::vector<Row>> last =
        snapshot->Query("SELECT coalesce(max(change_id), 0) FROM sluice_change_log", {});
    if (!last.ok()) return last.status();
    snapshot->position_.change_id = std::get<std::int64_t>((*last)[0][0]);
    return std::unique_ptr<LegacySnapshot>(std::move(snapshot));
  }

  ~SqliteSnapshot() override {
    // Back to the pool only if the transaction ended cleanly and the pool is free.
    if (open_ && !connection_->Exec("COMMIT").ok()) {
      sqlite3_exec(connection_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
      return;
    }
    if (sqlite3_get_autocommit(connection_->db()) == 0) return;
    std::lock_guard<std::mutex> lock(pool_->mutex);
    if (pool_->idle == nullptr) pool_->idle = std::move(connection_);
  }
  SqliteSnapshot(const SqliteSnapshot&) = delete;
  SqliteSnapshot& operator=(const SqliteSnapshot&) = delete;

  const CapturePosition& position() const override { return position_; }

  Result<std::vector<Row>> ReadRows(const LegacyTable& table, const Key* after,
                                    std::size_t limit) override {
    std::vector<Row> rows;
    rows.reserve(std::min<std::size_t>(limit, 1 << 16));
    if (Status s = ReadRowsInto(table, after, limit, &rows); !s.ok()) return s;
    return rows;
  }

  Status ReadRowsInto(const LegacyTable& table, const Key* after, std::size_t limit,
                      std::vector<Row>* rows) override {
    if (Status s = CheckShape(table, after); !s.ok()) return s;
    std::string sql = Select(table);
    const std::size_t keys = table.key.size();
    if (after != nullptr) {
      // A row-value comparison, in binary collation like the ORDER BY, so the primary key's
      // index serves both.
      std::string left;
      std::string right;
      for (std::size_t i = 0; i < keys; ++i) {
        if (i > 0) {
          left += ", ";
          right += ", ";
        }
        left += QuoteIdentifier(table.columns[table.key[i]].name) + " COLLATE BINARY";
        right += "?" + std::to_string(i + 1);
      }
      sql += " WHERE (" + left + ") > (" + right + ")";
    }
    sql += " ORDER BY ";
    for (std::size_t i = 0; i < keys; ++i) {
      if (i > 0) sql += ", ";
      sql += QuoteIdentifier(table.columns[table.key[i]].name) + " COLLATE BINARY";
    }
    // The limit is a parameter (after the key's), so one statement serves every chunk.
    const std::size_t limit_at = after != nullptr ? keys + 1 : 1;
    sql += " LIMIT ?" + std::to_string(limit_at);
    std::vector<Value> parameters;
    parameters.reserve(limit_at);
    if (after != nullptr) parameters.assign(after->begin(), after->end());
    parameters.emplace_back(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    return QueryInto(sql, parameters, rows);
  }

  Result<std::optional<Row>> ReadRow(const LegacyTable& table, const Key& key) override {
    if (Status s = CheckShape(table, &key); !s.ok()) return s;
    std::string sql = Select(table) + " WHERE ";
    for (std::size_t i = 0; i < table.key.size(); ++i) {
      if (i > 0) sql += " AND ";
      sql += QuoteIdentifier(table.columns[table.key[i]].name) + " COLLATE BINARY = ?" +
             std::to_string(i + 1);
    }
    Result<std::vector<Row>> rows = Query(sql, key);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<Row>();
    return std::optional<Row>(std::move(rows->front()));
  }

 private:
  SqliteSnapshot(std::unique_ptr<SnapshotConnection> connection, std::shared_ptr<SnapshotPool> pool)
      : connection_(std::move(connection)), pool_(std::move(pool)) {}

  static Status CheckShape(const LegacyTable& table, const Key* key) {
    if (table.key.empty()) return Status::InvalidArgument("table '" + table.name + "' has no key");
    for (const std::size_t index : table.key) {
      if (index >= table.columns.size()) {
        return Status::InvalidArgument("table '" + table.name + "': key column out of range");
      }
    }
    if (key != nullptr && key->size() != table.key.size()) {
      return Status::InvalidArgument("a key of table '" + table.name + "' has " +
                                     std::to_string(table.key.size()) + " values, not " +
                                     std::to_string(key->size()));
    }
    return Status::Ok();
  }

  static std::string Select(const LegacyTable& table) {
    std::string sql = "SELECT ";
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += QuoteIdentifier(table.columns[i].name);
    }
    return sql + " FROM " + QuoteIdentifier(table.name);
  }

  // Every row of `sql` with `parameters` bound to ?1, ?2, ...; values by their storage class.
  Result<std::vector<Row>> Query(const std::string& sql, const std::vector<Value>& parameters) {
    std::vector<Row> rows;
    if (Status s = QueryInto(sql, parameters, &rows); !s.ok()) return s;
    return rows;
  }

  // Query into `*rows`, overwriting the rows and values already there in place (keeping the
  // capacity of their strings).
  Status QueryInto(const std::string& sql, const std::vector<Value>& parameters,
                   std::vector<Row>* rows) {
    Result<sqlite3_stmt*> prepared = connection_->Prepare(sql);
    if (!prepared.ok()) return prepared.status();
    sqlite3_stmt* const raw = *prepared;
    // Reset (ending the statement's read) and unbind whatever happens.
    const auto reset = [](sqlite3_stmt* stmt) {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    };
    const std::unique_ptr<sqlite3_stmt, decltype(reset)> guard(raw, reset);
    int rc = SQLITE_OK;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      const int at = static_cast<int>(i + 1);
      const Value& value = parameters[i];
      if (const auto* integer = std::get_if<std::int64_t>(&value)) {
        rc = sqlite3_bind_int64(raw, at, *integer);
      } else if (const auto* real = std::get_if<double>(&value)) {
        rc = sqlite3_bind_double(raw, at, *real);
      } else if (const auto* text = std::get_if<std::string>(&value)) {
        rc =
            sqlite3_bind_text64(raw, at, text->data(), text->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      } else if (const auto* blob = std::get_if<Blob>(&value)) {
        rc = sqlite3_bind_blob64(raw, at, blob->bytes.data(), blob->bytes.size(), SQLITE_TRANSIENT);
      } else {
        rc = sqlite3_bind_null(raw, at);
      }
      if (rc != SQLITE_OK) return connection_->Error(rc);
    }
    std::size_t count = 0;
    const auto width = static_cast<std::size_t>(sqlite3_column_count(raw));
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      if (count == rows->size()) rows->emplace_back();
      Row& row = (*rows)[count++];
      row.resize(width);
      for (std::size_t c = 0; c < width; ++c) {
        const int at = static_cast<int>(c);
        Value& value = row[c];
        switch (sqlite3_column_type(raw, at)) {
          case SQLITE_INTEGER:
            value = static_cast<std::int64_t>(sqlite3_column_int64(raw, at));
            break;
          case SQLITE_FLOAT:
            value = sqlite3_column_double(raw, at);
            break;
          case SQLITE_TEXT: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, at));
            const auto size = static_cast<std::size_t>(sqlite3_column_bytes(raw, at));
            if (auto* existing = std::get_if<std::string>(&value)) {
              existing->assign(text, size);
            } else {
              value.emplace<std::string>(text, size);
            }
            break;
          }
          case SQLITE_BLOB: {
            const auto* bytes = static_cast<const char*>(sqlite3_column_blob(raw, at));
            const auto size = static_cast<std::size_t>(sqlite3_column_bytes(raw, at));
            Blob* blob = std::get_if<Blob>(&value);
            if (blob == nullptr) blob = &value.emplace<Blob>();
            if (bytes == nullptr) {
              blob->bytes.clear();
            } else {
              blob->bytes.assign(bytes, size);
            }
            break;
          }
          default:
            value = std::monostate{};
            break;
        }
      }
    }
    if (rc != SQLITE_DONE) return connection_->Error(rc);
    rows->resize(count);
    return Status::Ok();
  }

  std::unique_ptr<SnapshotConnection> connection_;
  const std::shared_ptr<SnapshotPool> pool_;
  bool open_ = false;
  CapturePosition position_;
};

class SqliteLegacySource final : public LegacySource {
 public:
  SqliteLegacySource(std::string path, std::unique_ptr<Database> db)
      : path_(std::move(path)), db_(std::move(db)) {}

  Status Install(const std::vector<std::string>& tables) override {
    if (tables.empty()) return Status::InvalidArgument("no tables to capture");
    Transaction transaction(*db_);
    if (Status s = transaction.Begin(); !s.ok()) return s;
    std::vector<std::string> statements = {kCreateLog, kCreateState};
    for (const std::string& table : tables) {
      Result<TableShape> shape = Shape(table);
      if (!shape.ok()) return shape.status();
      for (std::string& sql : DropStatements(table)) statements.push_back(std::move(sql));
      for (std::string& sql : TriggerStatements(table, *shape))
        statements.push_back(std::move(sql));
    }
    statements.push_back(
        "INSERT OR IGNORE INTO sluice_capture_state (name, value) VALUES "
        "('source_id', " +
        QuoteLiteral(NewUuid()) + ")");
    for (const std::string& sql : statements) {
      if (Status s = db_->Exec(sql); !s.ok()) return s;
    }
    return transaction.Commit();
  }

  Status Uninstall(const std::vector<std::string>& tables) override {
    Transaction transaction(*db_);
    if (Status s = transaction.Begin(); !s.ok()) return s;
    for (const std::string& table : tables) {
      for (const std::string& sql : DropStatements(table)) {
        if (Status s = db_->Exec(sql); !s.ok()) return s;
      }
    }
    Result<std::vector<std::string>> remaining = CapturedTables();
    if (!remaining.ok()) return remaining.status();
    if (remaining->empty()) {
      for (const std::string_view name : {kLogTable, kStateTable}) {
        if (Status s = db_->Exec("DROP TABLE IF EXISTS " + std::string(name)); !s.ok()) return s;
      }
    }
    return transaction.Commit();
  }

  Result<std::vector<Change>> ReadChanges(ChangeId after, std::size_t limit) override {
    std::vector<Change> changes;
    Result<bool> installed = TableExists(kLogTable);
    if (!installed.ok()) return installed.status();
    if (!*installed) return changes;
    Result<Statement> select = db_->Prepare(
        "SELECT change_id, table_name, op, key_json, row_json FROM sluice_change_log "
        "WHERE change_id > ?1 ORDER BY change_id LIMIT ?2");
    if (!select.ok()) return select.status();
    select->Bind(1, after);
    select->Bind(2, static_cast<std::int64_t>(limit));
    for (;;) {
      Result<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Change change;
      change.change_id = select->Int(0);
      change.table = select->Text(1);
      Result<ChangeOp> op = OpFromCode(select->Text(2));
      if (!op.ok()) return op.status();
      change.op = *op;
      Result<std::string> key = CanonicalFromRaw(select->Text(3));
      if (!key.ok()) return Located(key.status(), change.change_id);
      change.key_json = std::move(*key);
      if (!select->IsNull(4)) {
        Result<std::string> image = CanonicalFromRaw(select->Text(4));
        if (!image.ok()) return Located(image.status(), change.change_id);
        change.row_json = std::move(*image);
      }
      changes.push_back(std::move(change));
    }
    return changes;
  }

  Result<LegacyTable> DescribeTable(const std::string& table) override {
    Result<bool> exists = TableExists(table);
    if (!exists.ok()) return exists.status();
    if (!*exists) return Status::NotFound("no table '" + table + "' in " + path_);
    Result<Statement> select =
        db_->Prepare("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid");
    if (!select.ok()) return select.status();
    select->Bind(1, table);
    LegacyTable description;
    description.name = table;
    std::vector<std::pair<std::int64_t, std::size_t>> keys;  // (position in key, column index)
    for (;;) {
      Result<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      LegacyColumn column;
      column.name = select->Text(0);
      column.declared_type = select->Text(1);
      column.type = SqliteLogicalType(column.declared_type);
      if (select->Int(2) > 0) keys.emplace_back(select->Int(2), description.columns.size());
      description.columns.push_back(std::move(column));
    }
    if (keys.empty()) {
      return Status::InvalidArgument("table '" + table + "' has no primary key");
    }
    std::sort(keys.begin(), keys.end());
    for (const auto& key : keys) description.key.push_back(key.second);
    return description;
  }

  Result<std::unique_ptr<LegacySnapshot>> OpenSnapshot() override {
    return SqliteSnapshot::Open(path_, pool_);
  }

  Result<std::optional<std::vector<Key>>> KeysChangedAfter(const LegacyTable& table,
                                                           const CapturePosition& position,
                                                           std::size_t limit) override {
    Result<bool> installed = TableExists(kLogTable);
    if (!installed.ok()) return installed.status();
    if (!*installed) return Status::InvalidArgument("capture is not installed in " + path_);
    Result<Statement> select = db_->Prepare(
        "SELECT change_id, key_json FROM sluice_change_log WHERE table_name = ?1 AND "
        "change_id > ?2 ORDER BY change_id LIMIT ?3");
    if (!select.ok()) return select.status();
    select->Bind(1, table.name);
    select->Bind(2, position.change_id);
    // One more than the limit tells "more than limit" from "exactly limit".
    select->Bind(3, limit >= static_cast<std::size_t>(INT64_MAX)
                        ? INT64_MAX
                        : static_cast<std::int64_t>(limit) + 1);
    std::vector<Key> keys;
    for (;;) {
      Result<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (keys.size() == limit) return std::optional<std::vector<Key>>();
      Result<Key> key = KeyFromRaw(table, select->Text(1));
      if (!key.ok()) return Located(key.status(), select->Int(0));
      keys.push_back(std::move(*key));
    }
    return std::optional<std::vector<Key>>(std::move(keys));
  }

  Result<SourceDescription> Describe() override {
    SourceDescription description;
    description.kind = "sqlite";
    description.location = path_;
    Result<std::vector<std::string>> tables = CapturedTables();
    if (!tables.ok()) return tables.status();
    description.tables = std::move(*tables);
    Result<bool> installed = TableExists(kStateTable);
    if (!installed.ok()) return installed.status();
    if (!*installed) return description;
    Result<std::string> source_id = StateValue("source_id");
    if (!source_id.ok()) return source_id.status();
    description.source_id = std::move(*source_id);
    Result<Statement> last =
        db_->Prepare("SELECT coalesce(max(change_id), 0) FROM " + std::string(kLogTable));
    if (!last.ok()) return last.status();
    Result<bool> row = last->Step();
    if (!row.ok()) return row.status();
    description.last_change_id = last->Int(0);
    return description;
  }

  Result<ChangeId> LoadCheckpoint(std::string_view consumer) override {
    Result<bool> installed = TableExists(kStateTable);
    if (!installed.ok()) return installed.status();
    if (!*installed) return ChangeId{0};
    Result<std::string> value = StateValue("checkpoint:" + std::string(consumer));
    if (!value.ok()) return value.status();
    return value->empty() ? ChangeId{0} : std::strtoll(value->c_str(), nullptr, 10);
  }

  Status SaveCheckpoint(std::string_view consumer, ChangeId change_id) override {
    Result<bool> installed = TableExists(kStateTable);
    if (!installed.ok()) return installed.status();
    if (!*installed) return Status::InvalidArgument("capture is not installed in " + path_);
    Result<Statement> upsert = db_->Prepare(
        "INSERT INTO sluice_capture_state (name, value) VALUES (?1, ?2) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
    if (!upsert.ok()) return upsert.status();
    upsert->Bind(1, "checkpoint:" + std::string(consumer));
    upsert->Bind(2, std::to_string(change_id));
    Result<bool> done = upsert->Step();
    return done.ok() ? Status::Ok() : done.status();
  }

 private:
  static Status Located(const Status& status, ChangeId change_id) {
    return Status::Corruption(status.message() + " (change " + std::to_string(change_id) + ")");
  }

  Result<bool> TableExists(std::string_view name) {
    Result<Statement> select =
        db_->Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    if (!select.ok()) return select.status();
    select->Bind(1, name);
    return select->Step();
  }

  // The text of a sluice_capture_state entry, empty if absent.
  Result<std::string> StateValue(const std::string& name) {
    Result<Statement> select =
        db_->Prepare("SELECT CAST(value AS TEXT) FROM sluice_capture_state WHERE name = ?1");
    if (!select.ok()) return select.status();
    select->Bind(1, name);
    Result<bool> row = select->Step();
    if (!row.ok()) return row.status();
    return *row ? select->Text(0) : std::string();
  }

  Result<std::vector<std::string>> CapturedTables() {
    Result<Statement> select = db_->Prepare(
        "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND "
        "substr(name, 1, 15) = 'sluice_capture_' ORDER BY tbl_name");
    if (!select.ok()) return select.status();
    std::vector<std::string> tables;
    for (;;) {
      Result<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) return tables;
      tables.push_back(select->Text(0));
    }
  }

  Result<TableShape> Shape(const std::string& table) {
    if (table == kLogTable || table == kStateTable || table.rfind("sqlite_", 0) == 0) {
      return Status::InvalidArgument("table '" + table + "' cannot be captured");
    }
    Result<bool> exists = TableExists(table);
    if (!exists.ok()) return exists.status();
    if (!*exists) return Status::InvalidArgument("no table '" + table + "' in " + path_);
    Result<Statement> select =
        db_->Prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid");
    if (!select.ok()) return select.status();
    select->Bind(1, table);
    TableShape shape;
    std::vector<std::pair<std::int64_t, std::string>> keys;
    for (;;) {
      Result<bool> row = select->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      shape.columns.push_back(select->Text(0));
      if (select->Int(1) > 0) keys.emplace_back(select->Int(1), select->Text(0));
    }
    if (keys.empty()) {
      return Status::InvalidArgument("table '" + table +
                                     "' has no primary key: capture needs one to name each row");
    }
    std::sort(keys.begin(), keys.end());
    for (auto& key : keys) shape.keys.push_back(std::move(key.second));
    return shape;
  }

  const std::string path_;
  const std::unique_ptr<Database> db_;
  const std::shared_ptr<SnapshotPool> pool_ = std::make_shared<SnapshotPool>();
};

}  // namespace

Result<std::unique_ptr<LegacySource>> OpenSqliteLegacySource(const std::string& path) {
  Result<std::unique_ptr<Database>> db = Database::Open(path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<LegacySource>(new SqliteLegacySource(path, std::move(*db)));
}

}  // namespace sluice::migration
