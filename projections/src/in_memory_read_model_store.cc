#include "sluice/projections/in_memory_read_model_store.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {
namespace {

struct KeyLess {
  bool operator()(const Key& a, const Key& b) const { return CompareKeys(a, b) < 0; }
};

// One committed table. Changed only by a commit, under the store's exclusive data lock.
struct TableData {
  TableSchema schema;
  std::map<Key, Row, KeyLess> rows;
};

using Tables = std::map<std::string, std::shared_ptr<TableData>, std::less<>>;

Status NoTable(std::string_view table) {
  return Status::NotFound("no table '" + std::string(table) + "' in the read-model store memory:");
}

class InMemoryReadModelStore;

// A transaction's view of one table name: whether it exists, its schema, the committed rows it
// reads through (`base`, null for a table created in this transaction) and its own changes on top
// (a nullopt row is a delete).
struct StagedTable {
  bool exists = false;
  std::shared_ptr<const TableSchema> schema;
  std::shared_ptr<TableData> base;
  std::map<Key, std::optional<Row>, KeyLess> changes;
  bool ddl = false;  // created, dropped or renamed in this transaction
};

class InMemoryBatch final : public ReadModelBatch {
 public:
  InMemoryBatch(InMemoryReadModelStore* store, std::unique_lock<std::mutex> turn)
      : store_(store), turn_(std::move(turn)) {}

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override;
  Status Put(std::string_view table, Row row) override;
  Status Delete(std::string_view table, const Key& key) override;
  Status CreateTable(const TableSchema& schema) override;
  Status DropTable(std::string_view table) override;
  Status RenameTable(std::string_view from, std::string_view to) override;
  Status Commit() override;

 private:
  Status CheckUsable() const {
    if (!turn_.owns_lock()) {
      return Status::InvalidArgument("read-model transaction already committed");
    }
    return Status::Ok();
  }
  // The staged view of `table`, created from the committed table on first use.
  StagedTable& Stage(std::string_view table);
  // Stage(table) if the table exists, else NotFound.
  Result<StagedTable*> Existing(std::string_view table);

  InMemoryReadModelStore* store_;
  std::unique_lock<std::mutex> turn_;  // the store's transaction turn, held until Commit or death
  std::map<std::string, StagedTable, std::less<>> staged_;
};

class InMemoryReadModelStore final : public ReadModelStore {
 public:
  Result<std::unique_ptr<ReadModelBatch>> Begin() override {
    std::unique_lock<std::mutex> turn(turn_mu_);
    return std::unique_ptr<ReadModelBatch>(std::make_unique<InMemoryBatch>(this, std::move(turn)));
  }

  Result<std::optional<TableSchema>> DescribeTable(std::string_view table) override {
    std::shared_lock<std::shared_mutex> lock(data_mu_);
    auto it = tables_.find(table);
    if (it == tables_.end()) return std::optional<TableSchema>();
    return std::optional<TableSchema>(it->second->schema);
  }

  Result<std::vector<std::string>> ListTables() override {
    std::shared_lock<std::shared_mutex> lock(data_mu_);
    std::vector<std::string> names;
    names.reserve(tables_.size());
    for (const auto& [name, data] : tables_) names.push_back(name);
    return names;
  }

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override {
    std::shared_lock<std::shared_mutex> lock(data_mu_);
    auto it = tables_.find(table);
    if (it == tables_.end()) return NoTable(table);
    SLUICE_RETURN_IF_ERROR(ValidateKey(it->second->schema, key));
    auto row = it->second->rows.find(key);
    if (row == it->second->rows.end()) return std::optional<Row>();
    return std::optional<Row>(row->second);
  }

  Result<std::vector<Row>> Scan(std::string_view table, const Key* after,
                                std::size_t limit) override {
    std::shared_lock<std::shared_mutex> lock(data_mu_);
    auto it = tables_.find(table);
    if (it == tables_.end()) return NoTable(table);
    const auto& rows = it->second->rows;
    auto row = rows.begin();
    if (after != nullptr) {
      SLUICE_RETURN_IF_ERROR(ValidateKey(it->second->schema, *after));
      row = rows.upper_bound(*after);
    }
    std::vector<Row> out;
    for (; row != rows.end() && out.size() < limit; ++row) out.push_back(row->second);
    return out;
  }

  std::string Describe() const override { return "memory:"; }

 private:
  friend class InMemoryBatch;

  // Held by the one open transaction (in its batch) from Begin to Commit or destruction.
  std::mutex turn_mu_;
  // Guards tables_ and every TableData in it: shared by store-level reads, exclusive while a
  // commit applies its changes. The batch holding the turn reads tables_ without it: only a
  // commit, which that batch makes itself, writes them.
  mutable std::shared_mutex data_mu_;
  Tables tables_;  // GUARDED_BY(data_mu_) for writes
};

StagedTable& InMemoryBatch::Stage(std::string_view table) {
  auto it = staged_.find(table);
  if (it != staged_.end()) return it->second;
  StagedTable staged;
  auto committed = store_->tables_.find(table);
  if (committed != store_->tables_.end()) {
    staged.exists = true;
    staged.base = committed->second;
    staged.schema =
        std::shared_ptr<const TableSchema>(committed->second, &committed->second->schema);
  }
  return staged_.emplace(std::string(table), std::move(staged)).first->second;
}

Result<StagedTable*> InMemoryBatch::Existing(std::string_view table) {
  StagedTable& staged = Stage(table);
  if (!staged.exists) return NoTable(table);
  return &staged;
}

Result<std::optional<Row>> InMemoryBatch::Get(std::string_view table, const Key& key) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  Result<StagedTable*> staged = Existing(table);
  if (!staged.ok()) return staged.status();
  StagedTable& t = **staged;
  SLUICE_RETURN_IF_ERROR(ValidateKey(*t.schema, key));
  auto change = t.changes.find(key);
  if (change != t.changes.end()) return change->second;
  if (t.base != nullptr) {
    auto row = t.base->rows.find(key);
    if (row != t.base->rows.end()) return std::optional<Row>(row->second);
  }
  return std::optional<Row>();
}

Status InMemoryBatch::Put(std::string_view table, Row row) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  Result<StagedTable*> staged = Existing(table);
  if (!staged.ok()) return staged.status();
  StagedTable& t = **staged;
  SLUICE_RETURN_IF_ERROR(ValidateRow(*t.schema, &row));
  Key key = KeyOf(*t.schema, row);
  t.changes.insert_or_assign(std::move(key), std::optional<Row>(std::move(row)));
  return Status::Ok();
}

Status InMemoryBatch::Delete(std::string_view table, const Key& key) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  Result<StagedTable*> staged = Existing(table);
  if (!staged.ok()) return staged.status();
  StagedTable& t = **staged;
  SLUICE_RETURN_IF_ERROR(ValidateKey(*t.schema, key));
  if (t.base == nullptr) {
    t.changes.erase(key);  // nothing committed underneath
  } else {
    t.changes.insert_or_assign(key, std::nullopt);
  }
  return Status::Ok();
}

Status InMemoryBatch::CreateTable(const TableSchema& schema) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  // The store cannot tell the runtime from a projection: the runtime validates projections'
  // tables without allow_reserved; the store accepts the runtime's "sluice_" tables.
  SLUICE_RETURN_IF_ERROR(ValidateSchema(schema, /*allow_reserved=*/true));
  StagedTable& t = Stage(schema.name);
  if (t.exists) {
    if (*t.schema == schema) return Status::Ok();
    return Status::InvalidArgument("table '" + schema.name +
                                   "' already exists with another schema");
  }
  t.exists = true;
  t.schema = std::make_shared<const TableSchema>(schema);
  t.base = nullptr;
  t.changes.clear();
  t.ddl = true;
  return Status::Ok();
}

Status InMemoryBatch::DropTable(std::string_view table) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  StagedTable& t = Stage(table);
  if (!t.exists) return Status::Ok();
  t.exists = false;
  t.schema = nullptr;
  t.base = nullptr;
  t.changes.clear();
  t.ddl = true;
  return Status::Ok();
}

Status InMemoryBatch::RenameTable(std::string_view from, std::string_view to) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  SLUICE_RETURN_IF_ERROR(ValidateTableName(to, /*allow_reserved=*/true));
  Result<StagedTable*> source = Existing(from);
  if (!source.ok()) return source.status();
  StagedTable& target = Stage(to);  // may rehash nothing: std::map keeps references valid
  if (target.exists) {
    return Status::InvalidArgument("cannot rename table '" + std::string(from) + "' to '" +
                                   std::string(to) + "': a table with that name exists");
  }
  StagedTable& s = **source;
  auto schema = std::make_shared<TableSchema>(*s.schema);
  schema->name = std::string(to);
  target.exists = true;
  target.schema = std::move(schema);
  target.base = std::move(s.base);
  target.changes = std::move(s.changes);
  target.ddl = true;
  s.exists = false;
  s.schema = nullptr;
  s.base = nullptr;
  s.changes.clear();
  s.ddl = true;
  return Status::Ok();
}

Status InMemoryBatch::Commit() {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  // Built before taking the data lock, so readers wait only for the pointer swaps and row edits.
  std::vector<std::pair<const std::string*, std::shared_ptr<TableData>>> replaced;
  for (auto& [name, t] : staged_) {
    if (!t.ddl || !t.exists) continue;
    if (t.base == nullptr) {
      auto data = std::make_shared<TableData>();
      data->schema = *t.schema;
      replaced.emplace_back(&name, std::move(data));
    } else {
      replaced.emplace_back(&name, t.base);  // renamed here: same rows under the new name
    }
  }
  {
    std::unique_lock<std::shared_mutex> lock(store_->data_mu_);
    Tables& tables = store_->tables_;
    for (auto& [name, t] : staged_) {
      if (t.ddl) {
        auto it = tables.find(name);
        if (it != tables.end()) tables.erase(it);
      }
    }
    for (auto& [name, data] : replaced) {
      data->schema.name = *name;
      tables.insert_or_assign(*name, std::move(data));
    }
    for (auto& [name, t] : staged_) {
      if (!t.exists || t.changes.empty()) continue;
      TableData& data = *tables.at(name);
      for (auto& [key, row] : t.changes) {
        if (row.has_value()) {
          data.rows.insert_or_assign(key, std::move(*row));
        } else {
          data.rows.erase(key);
        }
      }
    }
  }
  staged_.clear();
  turn_.unlock();
  return Status::Ok();
}

}  // namespace

std::unique_ptr<ReadModelStore> NewInMemoryReadModelStore() {
  return std::make_unique<InMemoryReadModelStore>();
}

}  // namespace sluice
