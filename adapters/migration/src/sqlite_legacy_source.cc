#include "sluice/migration/sqlite_legacy_source.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/uuid.h"
#include "sqlite_db.h"
#include "typed_json.h"

namespace sluice::migration {
namespace {

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
    return Status::InvalidArgument("not implemented yet: SQLite DescribeTable: " + table);
  }

  Result<std::unique_ptr<LegacySnapshot>> OpenSnapshot() override {
    return Status::InvalidArgument("not implemented yet: SQLite OpenSnapshot");
  }

  Result<std::optional<std::vector<Key>>> KeysChangedAfter(const LegacyTable& table,
                                                           const CapturePosition&,
                                                           std::size_t) override {
    return Status::InvalidArgument("not implemented yet: SQLite KeysChangedAfter: " + table.name);
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
};

}  // namespace

Result<std::unique_ptr<LegacySource>> OpenSqliteLegacySource(const std::string& path) {
  Result<std::unique_ptr<Database>> db = Database::Open(path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<LegacySource>(new SqliteLegacySource(path, std::move(*db)));
}

}  // namespace sluice::migration
