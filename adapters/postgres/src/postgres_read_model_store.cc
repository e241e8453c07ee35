#include "sluice/postgres/postgres_read_model_store.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "postgres_connection.h"
#include "postgres_support.h"
#include "postgres_url.h"
#include "sluice/projections/sql_schema_text.h"

namespace sluice {
namespace {

using postgres_internal::ArrayBuilder;
using postgres_internal::Catalog;
using postgres_internal::CatalogEntry;
using postgres_internal::ColumnAt;
using postgres_internal::Connection;
using postgres_internal::ConnectionPool;
using postgres_internal::StatementKind;
using postgres_internal::StoreContext;
using postgres_internal::StoredName;

// A Put whose key takes more bytes than this is written at once, so that PostgreSQL's limit on
// index entries (about 2.7 KB after compression) fails that Put rather than the commit.
constexpr std::size_t kWriteThroughKeyBytes = 2000;
// A batch writes its buffered rows early once they take this much memory (or this many rows are
// cached), and forgets the rows it cached.
constexpr std::size_t kMaxBufferedBytes = 16 << 20;
constexpr std::size_t kMaxCachedRows = 20000;
// Rounds of a store-level read whose table changes under it before it gives up.
constexpr int kReadRounds = 4;
// Begin starts again (a new snapshot) when it waited for a batch that changed tables.
constexpr int kBeginAttempts = 3;
// How long a batch whose connection broke while committing tries to learn the outcome.
constexpr auto kInDoubtPatience = std::chrono::seconds(10);

using SerializableTransaction = pqxx::transaction<pqxx::serializable>;

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

Result<Row> ReadRow(const pqxx::row& row, const TableSchema& schema, const std::string& where) {
  if (row.size() != schema.width()) {
    return Status::Corruption(where + ": table " + Quoted(schema.name) +
                              " has other columns than its catalog entry");
  }
  Row values;
  values.reserve(schema.width());
  for (std::size_t i = 0; i < schema.width(); ++i) {
    const pqxx::field field = row[static_cast<pqxx::row::size_type>(i)];
    if (field.is_null()) {
      values.emplace_back();
      continue;
    }
    const Column& column = ColumnAt(schema, i);
    Result<Value> value =
        postgres_internal::ParseField(column.type, {field.c_str(), field.size()}, column.name);
    if (!value.ok()) {
      return Status::Corruption(where + ": table " + Quoted(schema.name) + ": " +
                                value.status().message());
    }
    values.push_back(std::move(value).value());
  }
  return values;
}

// ReadRow into `*values`, overwriting them in place (text keeps its capacity).
Status AssignRow(const pqxx::row& row, const TableSchema& schema, const std::string& where,
                 Row* values) {
  if (row.size() != schema.width()) {
    return Status::Corruption(where + ": table " + Quoted(schema.name) +
                              " has other columns than its catalog entry");
  }
  values->resize(schema.width());
  for (std::size_t i = 0; i < schema.width(); ++i) {
    const pqxx::field field = row[static_cast<pqxx::row::size_type>(i)];
    Value& value = (*values)[i];
    if (field.is_null()) {
      value = std::monostate{};
      continue;
    }
    const Column& column = ColumnAt(schema, i);
    const std::string_view text(field.c_str(), field.size());
    if (column.type == ColumnType::kText) {
      if (auto* existing = std::get_if<std::string>(&value)) {
        existing->assign(text);
      } else {
        value.emplace<std::string>(text);
      }
      continue;
    }
    Result<Value> parsed = postgres_internal::ParseField(column.type, text, column.name);
    if (!parsed.ok()) {
      return Status::Corruption(where + ": table " + Quoted(schema.name) + ": " +
                                parsed.status().message());
    }
    value = std::move(parsed).value();
  }
  return Status::Ok();
}

std::vector<std::string> KeyParameters(const Key& key, std::vector<std::string> first = {}) {
  for (const Value& value : key) first.push_back(postgres_internal::KeyParameter(value));
  return first;
}

struct KeyLess {
  bool operator()(const Key& a, const Key& b) const { return CompareKeys(a, b) < 0; }
};

// A row as a batch knows it: read from the table (clean) or written by the batch and not yet
// sent (dirty). No row: absent, or deleted.
struct CachedRow {
  std::optional<Row> row;
  bool dirty = false;
};

// A table as one batch sees it.
struct BatchTable {
  TableSchema schema;    // schema.name: the table's name in this batch
  std::string physical;  // the PostgreSQL table that holds its rows until the batch commits
  std::map<Key, CachedRow, KeyLess> rows;
  std::size_t dirty = 0;  // dirty entries in `rows`
};

class PostgresBatch final : public ReadModelBatch {
 public:
  PostgresBatch(std::shared_ptr<ConnectionPool> pool, std::unique_ptr<Connection> conn,
                std::unique_ptr<SerializableTransaction> tx, std::int64_t xid)
      : pool_(std::move(pool)), conn_(std::move(conn)), tx_(std::move(tx)), xid_(xid) {}

  ~PostgresBatch() override {
    tx_.reset();  // rolls back, unless committed
    End();
  }

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    Result<BatchTable*> found = Find(table);
    if (!found.ok()) return found.status();
    BatchTable& t = **found;
    SLUICE_RETURN_IF_ERROR(ValidateKey(t.schema, key));
    if (auto it = t.rows.find(key); it != t.rows.end()) return it->second.row;
    std::optional<Row> row;
    try {
      const pqxx::result r =
          tx_->exec_prepared(conn_->Statement(StatementKind::kGet, t.physical, t.schema),
                             pqxx::prepare::make_dynamic_params(KeyParameters(key)));
      if (!r.empty()) {
        Result<Row> read = ReadRow(r[0], t.schema, where());
        if (!read.ok()) return read.status();
        row = std::move(read).value();
      }
    } catch (const std::exception& error) {
      return Fail(error, "get from " + Quoted(table));
    }
    Cache(t, key, CachedRow{row, false});
    SLUICE_RETURN_IF_ERROR(FlushIfFull());
    return row;
  }

  Status Put(std::string_view table, Row row) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    Result<BatchTable*> found = Find(table);
    if (!found.ok()) return found.status();
    BatchTable& t = **found;
    SLUICE_RETURN_IF_ERROR(ValidateRow(t.schema, &row));
    Status text = postgres_internal::CheckText(t.schema, row, conn_->utf8());
    if (!text.ok()) return Status::InvalidArgument(where() + ": " + text.message());
    Key key = KeyOf(t.schema, row);
    if (postgres_internal::ByteSize(key) > kWriteThroughKeyBytes) {
      return WriteThrough(t, std::move(key), std::move(row));
    }
    buffered_bytes_ += postgres_internal::ByteSize(row);
    Cache(t, std::move(key), CachedRow{std::move(row), true});
    return FlushIfFull();
  }

  Status Delete(std::string_view table, const Key& key) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    Result<BatchTable*> found = Find(table);
    if (!found.ok()) return found.status();
    BatchTable& t = **found;
    SLUICE_RETURN_IF_ERROR(ValidateKey(t.schema, key));
    buffered_bytes_ += postgres_internal::ByteSize(key);
    Cache(t, key, CachedRow{std::nullopt, true});
    return FlushIfFull();
  }

  Status CreateTable(const TableSchema& schema) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    // The runtime creates its own "sluice_" tables through this port, so reserved names pass.
    SLUICE_RETURN_IF_ERROR(ValidateSchema(schema, /*allow_reserved=*/true));
    const std::string& name = schema.name;
    SLUICE_RETURN_IF_ERROR(CheckName(name));
    for (std::size_t i = 0; i < schema.width(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (StoredName(ColumnAt(schema, i).name) == StoredName(ColumnAt(schema, j).name)) {
          return Status::InvalidArgument(where() + ": columns " + Quoted(ColumnAt(schema, j).name) +
                                         " and " + Quoted(ColumnAt(schema, i).name) + " of table " +
                                         Quoted(name) +
                                         " share their first 63 bytes, all PostgreSQL keeps");
        }
      }
    }
    Result<BatchTable*> existing = Find(name);
    if (existing.ok()) {
      if ((*existing)->schema == schema) return Status::Ok();
      return Status::InvalidArgument(where() + ": table " + Quoted(name) +
                                     " exists with another schema");
    }
    if (!existing.status().IsNotFound()) return existing.status();
    SLUICE_RETURN_IF_ERROR(CheckClash(name, name));
    // A table this batch dropped or renamed keeps its PostgreSQL name until the commit: the new
    // one waits under a temporary name.
    const std::string physical = Occupied(name) ? TemporaryName("new") : name;
    try {
      InSavepoint([&](pqxx::transaction_base& step) {
        if (!bumped_) step.exec_prepared(Connection::kCatalogBump);  // waits for other batches
        step.exec_prepared(Connection::kCatalogInsert, name, EncodeSchemaText(schema));
        step.exec(postgres_internal::CreateTableSql(conn_->context().pg_schema, physical, schema));
      });
    } catch (const std::exception& error) {
      const std::string state = postgres_internal::SqlState(error);
      Status status;
      if (state == "23505") {
        status = Status::Unavailable(where() + ": table " + Quoted(name) +
                                     " was created by a concurrent transaction; begin again");
      } else if (state == "42P07") {
        status = Status::InvalidArgument(
            where() + ": a table or other relation named " + Quoted(name) + " exists in schema " +
            Quoted(conn_->context().pg_schema) + " and is not a read-model table of this store");
      } else {
        status = conn_->Error(error, "create table " + Quoted(name));
      }
      // Only the savepoint was rolled back, unless the connection or the transaction is lost.
      if (conn_->broken() || status.code() == StatusCode::kUnavailable) broken_ = status;
      return status;
    }
    bumped_ = true;
    ddl_ = true;
    auto table = std::make_unique<BatchTable>();
    table->schema = schema;
    table->physical = physical;
    view_[name] = std::move(table);
    return Status::Ok();
  }

  Status DropTable(std::string_view table) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    Result<BatchTable*> found = Find(table);
    if (found.status().IsNotFound()) return Status::Ok();
    if (!found.ok()) return found.status();
    const std::string name(table);
    try {
      BumpVersion();
      tx_->exec_prepared(Connection::kCatalogDelete, name);
    } catch (const std::exception& error) {
      return Fail(error, "drop table " + Quoted(name));
    }
    drops_.push_back((*found)->physical);
    view_.erase(name);
    gone_.insert(name);
    ddl_ = true;
    return Status::Ok();
  }

  Status RenameTable(std::string_view from, std::string_view to) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    Result<BatchTable*> source = Find(from);
    if (!source.ok()) return source.status();
    const std::string from_name(from);
    const std::string to_name(to);
    TableSchema renamed = (*source)->schema;
    renamed.name = to_name;
    SLUICE_RETURN_IF_ERROR(ValidateSchema(renamed, /*allow_reserved=*/true));
    SLUICE_RETURN_IF_ERROR(CheckName(to_name));
    Result<BatchTable*> target = Find(to_name);
    if (target.ok()) {
      return Status::InvalidArgument(where() + ": cannot rename " + Quoted(from_name) + " to " +
                                     Quoted(to_name) + ": a table of that name exists");
    }
    if (!target.status().IsNotFound()) return target.status();
    SLUICE_RETURN_IF_ERROR(CheckClash(to_name, from_name));
    try {
      if (!Occupied(to_name)) {
        const pqxx::result r = tx_->exec_prepared(
            Connection::kRelationExists,
            postgres_internal::Qualified(conn_->context().pg_schema, StoredName(to_name)));
        if (r[0][0].as<bool>()) {
          return Status::InvalidArgument(
              where() + ": cannot rename " + Quoted(from_name) + " to " + Quoted(to_name) +
              ": a relation of that name exists in schema " + Quoted(conn_->context().pg_schema) +
              " and is not a read-model table of this store");
        }
      }
      BumpVersion();
      tx_->exec_prepared(Connection::kCatalogRename, from_name, to_name);
    } catch (const std::exception& error) {
      return Fail(error, "rename table " + Quoted(from_name) + " to " + Quoted(to_name));
    }
    auto node = view_.extract(from_name);  // Find put it there
    node.key() = to_name;
    node.mapped()->schema.name = to_name;
    view_.insert(std::move(node));
    gone_.insert(from_name);
    ddl_ = true;
    return Status::Ok();
  }

  Status Commit() override {
    SLUICE_RETURN_IF_ERROR(Usable());
    done_ = true;
    Status status = Flush();
    if (status.ok()) {
      try {
        const std::string ddl = DeferredDdl();
        if (!ddl.empty()) tx_->exec(ddl);
        tx_->commit();
      } catch (const pqxx::in_doubt_error& error) {
        status = ResolveInDoubt(error);
      } catch (const std::exception& error) {
        status = conn_->Error(error, "commit");
      }
    }
    tx_.reset();
    End();
    return status;
  }

 private:
  const std::string& where() const { return pool_->context().where; }

  Status Usable() const {
    if (done_) return Status::InvalidArgument(where() + ": the transaction has ended");
    return broken_;
  }

  // After a server error the transaction is aborted: nothing more can happen in it, and every
  // later call says why.
  Status Fail(const std::exception& error, std::string_view what) {
    Status status = conn_->Error(error, what);
    if (postgres_internal::TableChanged(postgres_internal::SqlState(error))) {
      // The catalog this batch read says the table is there: another transaction changed it
      // since (a retry sees the change), or someone did behind the store's back.
      status = Status::Unavailable(status.message() +
                                   " (the table was changed since the transaction began)");
    }
    broken_ = status;
    return status;
  }

  // The table named `name` in this batch: created or renamed here, or the committed one unless
  // this batch dropped or renamed it.
  Result<BatchTable*> Find(std::string_view name) {
    if (auto it = view_.find(name); it != view_.end()) return it->second.get();
    if (gone_.find(name) == gone_.end()) {
      if (const CatalogEntry* entry = conn_->Find(name)) {
        auto table = std::make_unique<BatchTable>();
        table->schema = entry->schema;
        table->physical = entry->schema.name;
        return view_.emplace(std::string(name), std::move(table)).first->second.get();
      }
    }
    return Status::NotFound(where() + ": no table " + Quoted(name));
  }

  Status CheckName(std::string_view name) const {
    if (!postgres_internal::IsReservedName(name)) return Status::Ok();
    return Status::InvalidArgument(where() + ": the table name " + Quoted(name) +
                                   " is reserved by the store (names starting with " +
                                   std::string(postgres_internal::kReservedPrefix) + ")");
  }

  // InvalidArgument if another table (but `except`) has the same first 63 bytes as `name`.
  Status CheckClash(std::string_view name, std::string_view except) {
    auto clash = [&](std::string_view other) -> Status {
      if (other == name || other == except || StoredName(other) != StoredName(name)) {
        return Status::Ok();
      }
      return Status::InvalidArgument(where() + ": table " + Quoted(name) + " and table " +
                                     Quoted(other) +
                                     " share their first 63 bytes, all PostgreSQL keeps of a name");
    };
    for (const auto& [other, table] : view_) SLUICE_RETURN_IF_ERROR(clash(other));
    for (const auto& [other, entry] : conn_->catalog()) {
      if (gone_.find(other) == gone_.end()) SLUICE_RETURN_IF_ERROR(clash(other));
    }
    return Status::Ok();
  }

  // True if one of the store's PostgreSQL tables has the name `physical` now (in this batch).
  bool Occupied(std::string_view physical) const {
    const std::string_view stored = StoredName(physical);
    for (const auto& [name, table] : view_) {
      if (StoredName(table->physical) == stored) return true;
    }
    for (const std::string& dropped : drops_) {
      if (StoredName(dropped) == stored) return true;
    }
    for (const auto& [name, entry] : conn_->catalog()) {
      // A committed table this batch has not touched still has its own name.
      if (StoredName(name) == stored && gone_.find(name) == gone_.end() &&
          view_.find(name) == view_.end()) {
        return true;
      }
    }
    return false;
  }

  std::string TemporaryName(std::string_view role) {
    return std::string(postgres_internal::kReservedPrefix) + std::string(role) + "_" +
           std::to_string(conn_->backend_pid()) + "_" + std::to_string(++temporary_names_);
  }

  // The first change of tables in a batch increments the catalog version: it waits until the
  // other batches (which hold the row FOR SHARE from Begin) have ended, keeps new ones from
  // beginning until this one ends, and makes every connection reload its catalog copy.
  void BumpVersion() {
    if (bumped_) return;
    tx_->exec_prepared(Connection::kCatalogBump);
    bumped_ = true;
  }

  void Cache(BatchTable& t, Key key, CachedRow row) {
    auto [it, inserted] = t.rows.try_emplace(std::move(key));
    if (inserted) ++cached_rows_;
    if (row.dirty && !it->second.dirty) ++t.dirty;
    if (!row.dirty && it->second.dirty) --t.dirty;
    it->second = std::move(row);
  }

  Status FlushIfFull() {
    if (buffered_bytes_ <= kMaxBufferedBytes && cached_rows_ <= kMaxCachedRows) return Status::Ok();
    SLUICE_RETURN_IF_ERROR(Flush());
    for (auto& [name, table] : view_) table->rows.clear();
    cached_rows_ = 0;
    return Status::Ok();
  }

  // Writes every buffered change: per table, one statement for the deletes and one for the rest.
  Status Flush() {
    for (auto& [name, table] : view_) {
      if (table->dirty > 0) SLUICE_RETURN_IF_ERROR(FlushTable(*table));
    }
    buffered_bytes_ = 0;
    return Status::Ok();
  }

  Status FlushTable(BatchTable& t) {
    const std::size_t width = t.schema.width();
    std::vector<ArrayBuilder> puts(width);
    std::vector<ArrayBuilder> erases(t.schema.key.size());
    bool any_put = false;
    bool any_erase = false;
    for (const auto& [key, cached] : t.rows) {
      if (!cached.dirty) continue;
      if (cached.row.has_value()) {
        for (std::size_t i = 0; i < width; ++i) puts[i].Add((*cached.row)[i]);
        any_put = true;
      } else {
        for (std::size_t i = 0; i < key.size(); ++i) erases[i].Add(key[i]);
        any_erase = true;
      }
    }
    try {
      if (any_erase) Execute(StatementKind::kErase, t, &erases, *tx_);
      if (any_put) Execute(StatementKind::kUpsert, t, &puts, *tx_);
    } catch (const std::exception& error) {
      return Fail(error, "write the rows of " + Quoted(t.schema.name));
    }
    for (auto& [key, cached] : t.rows) cached.dirty = false;
    t.dirty = 0;
    return Status::Ok();
  }

  // Runs an array statement (upsert or erase) in `target`: the transaction or a savepoint.
  void Execute(StatementKind kind, BatchTable& t, std::vector<ArrayBuilder>* arrays,
               pqxx::transaction_base& target) {
    std::vector<std::string> params;
    params.reserve(arrays->size());
    for (ArrayBuilder& array : *arrays) params.push_back(array.Finish());
    target.exec_prepared(conn_->Statement(kind, t.physical, t.schema),
                         pqxx::prepare::make_dynamic_params(params));
  }

  // Runs `body` (statements on the transaction_base it is given) in a savepoint: if it throws,
  // only what it did is undone and the batch goes on. (An error outside a savepoint ends the
  // transaction: libpqxx closes it, as PostgreSQL aborts it.)
  template <typename Body>
  void InSavepoint(Body body) {
    pqxx::subtransaction step(*tx_, "sluice_step");
    // libpqxx 6.4 sends the SAVEPOINT before the first plain statement only, not before a
    // prepared one: this empty statement makes sure it is there.
    step.exec("");
    body(step);
    step.commit();
  }

  // Writes one row now, in a savepoint, so that a failure leaves the batch usable.
  Status WriteThrough(BatchTable& t, Key key, Row row) {
    std::vector<ArrayBuilder> columns(t.schema.width());
    for (std::size_t i = 0; i < row.size(); ++i) columns[i].Add(row[i]);
    try {
      InSavepoint([&](pqxx::transaction_base& step) {
        Execute(StatementKind::kUpsert, t, &columns, step);
      });
    } catch (const std::exception& error) {
      Status status = conn_->Error(error, "put into " + Quoted(t.schema.name));
      if (conn_->broken() || status.code() == StatusCode::kUnavailable) broken_ = status;
      return status;
    }
    Cache(t, std::move(key), CachedRow{std::move(row), false});
    return Status::Ok();
  }

  // The drops and renames this batch deferred, as SQL run just before COMMIT: dropped tables
  // first, then each moved table to its name (through a temporary name where names are swapped).
  std::string DeferredDdl() {
    const std::string& pg_schema = conn_->context().pg_schema;
    std::string sql;
    for (const std::string& dropped : drops_) {
      sql += "DROP TABLE IF EXISTS " + postgres_internal::Qualified(pg_schema, dropped) + ";\n";
    }
    std::set<std::string, std::less<>> taken;  // PostgreSQL names in use after the drops
    std::vector<BatchTable*> moves;
    for (const auto& [name, table] : view_) {
      taken.insert(std::string(StoredName(table->physical)));
      if (StoredName(table->physical) != StoredName(name)) moves.push_back(table.get());
    }
    for (const auto& [name, entry] : conn_->catalog()) {
      if (gone_.find(name) == gone_.end() && view_.find(name) == view_.end()) {
        taken.insert(std::string(StoredName(name)));
      }
    }
    auto rename = [&](BatchTable* table, const std::string& to) {
      sql += "ALTER TABLE " + postgres_internal::Qualified(pg_schema, table->physical) +
             " RENAME TO " + QuoteSqlIdentifier(to) + ";\n";
      taken.erase(std::string(StoredName(table->physical)));
      taken.insert(std::string(StoredName(to)));
      table->physical = to;
    };
    while (!moves.empty()) {
      bool moved = false;
      for (auto it = moves.begin(); it != moves.end();) {
        if (taken.find(StoredName((*it)->schema.name)) == taken.end()) {
          rename(*it, (*it)->schema.name);
          it = moves.erase(it);
          moved = true;
        } else {
          ++it;
        }
      }
      if (!moved) rename(moves.front(), TemporaryName("move"));  // a cycle of renames
    }
    return sql;
  }

  // The connection broke while committing: asks the server, on a new connection, whether the
  // transaction committed.
  Status ResolveInDoubt(const std::exception& error) {
    conn_->MarkBroken();
    const StoreContext& c = pool_->context();
    const std::string lost =
        where() + ": the connection to " + c.address.HostPort() +
        " was lost while committing: " + postgres_internal::Redact(error.what(), c.address);
    const auto deadline = std::chrono::steady_clock::now() + kInDoubtPatience;
    while (std::chrono::steady_clock::now() < deadline) {
      bool reused = false;
      Result<std::unique_ptr<Connection>> other = pool_->Take(&reused);
      if (other.ok()) {
        std::optional<std::string> outcome;
        try {
          pqxx::nontransaction tx((*other)->raw());
          const pqxx::result r = tx.exec_params("SELECT txid_status($1)", xid_);
          outcome = r[0][0].is_null() ? "unknown" : r[0][0].c_str();
        } catch (const std::exception&) {
          (*other)->MarkBroken();
        }
        pool_->Give(std::move(other).value());
        if (outcome == "committed") return Status::Ok();
        if (outcome == "aborted") {
          return Status::Unavailable(lost + "; it did not commit: begin again");
        }
        if (outcome == "unknown") break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return Status::IOError(lost + "; whether it committed is unknown");
  }

  // Gives the connection back, with its catalog copy forgotten if this batch changed tables.
  void End() {
    if (conn_ == nullptr) return;
    if (ddl_) conn_->ForgetCatalog();
    pool_->Give(std::move(conn_));
  }

  std::shared_ptr<ConnectionPool> pool_;  // keeps the connections alive past the store
  std::unique_ptr<Connection> conn_;      // null once given back
  std::unique_ptr<SerializableTransaction> tx_;
  const std::int64_t xid_;
  // Tables this batch used, created or renamed, by name.
  std::map<std::string, std::unique_ptr<BatchTable>, std::less<>> view_;
  // Committed tables this batch dropped or renamed: no longer under their names.
  std::set<std::string, std::less<>> gone_;
  // PostgreSQL tables to drop when the batch commits.
  std::vector<std::string> drops_;
  std::size_t buffered_bytes_ = 0;
  std::size_t cached_rows_ = 0;
  int temporary_names_ = 0;
  bool bumped_ = false;
  bool ddl_ = false;
  bool done_ = false;
  Status broken_;
};

class PostgresReadModelStore final : public ReadModelStore {
 public:
  explicit PostgresReadModelStore(std::shared_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {}

  Result<std::unique_ptr<ReadModelBatch>> Begin() override {
    using Begun = std::unique_ptr<ReadModelBatch>;
    return WithConnection<Begun>([&](std::unique_ptr<Connection>& conn) -> Result<Begun> {
      Status status;
      for (int attempt = 0; attempt < kBeginAttempts; ++attempt) {
        std::unique_ptr<SerializableTransaction> tx;
        try {
          tx = std::make_unique<SerializableTransaction>(conn->raw());
          // The first statement takes the snapshot, and the catalog copy must be the one it sees.
          // It also locks the version row (FOR SHARE) until the batch ends, so no other batch can
          // change tables meanwhile (see the header).
          const pqxx::result r = tx->exec_prepared(Connection::kVersionStatement);
          if (r.empty()) {
            return Status::Corruption(where() + ": the row of table \"" +
                                      std::string(postgres_internal::kCatalogVersionTable) +
                                      "\" is missing");
          }
          const auto xid = r[0][1].as<std::int64_t>();
          if (conn->catalog_version() != r[0][0].as<std::int64_t>()) {
            SLUICE_RETURN_IF_ERROR(conn->LoadCatalog(*tx));
          }
          return Begun(new PostgresBatch(pool_, std::move(conn), std::move(tx), xid));
        } catch (const pqxx::transaction_rollback& error) {
          // Waited for a batch that changed tables and committed: a new snapshot sees its work.
          status = conn->Error(error, "begin a transaction");
        } catch (const std::exception& error) {
          return conn->Error(error, "begin a transaction");
        }
      }
      return status;
    });
  }

  Result<std::optional<TableSchema>> DescribeTable(std::string_view table) override {
    return Read<std::optional<TableSchema>>(
        "describe table " + Quoted(table),
        [&](Connection& conn, pqxx::nontransaction& tx) -> Result<std::optional<TableSchema>> {
          SLUICE_RETURN_IF_ERROR(conn.LoadCatalog(tx));
          const CatalogEntry* entry = conn.Find(table);
          if (entry == nullptr) return std::optional<TableSchema>();
          return std::optional<TableSchema>(entry->schema);
        });
  }

  Result<std::vector<std::string>> ListTables() override {
    return Read<std::vector<std::string>>(
        "list tables",
        [&](Connection& conn, pqxx::nontransaction& tx) -> Result<std::vector<std::string>> {
          SLUICE_RETURN_IF_ERROR(conn.LoadCatalog(tx));
          std::vector<std::string> names;
          for (const auto& [name, entry] : conn.catalog()) names.push_back(name);
          return names;
        });
  }

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override {
    return Read<std::optional<Row>>(
        "get from " + Quoted(table),
        [&](Connection& conn, pqxx::nontransaction& tx) -> Result<std::optional<Row>> {
          return Checked<std::optional<Row>>(
              conn, tx, table,
              [&](const CatalogEntry& entry) -> Result<std::vector<std::string>> {
                SLUICE_RETURN_IF_ERROR(ValidateKey(entry.schema, key));
                return KeyParameters(key, {entry.schema.name, entry.text});
              },
              StatementKind::kCheckedGet,
              [&](const CatalogEntry& entry, const pqxx::result& r) -> Result<std::optional<Row>> {
                if (r[0][0].is_null()) return std::optional<Row>();
                Result<Row> row = ReadRow(r[0], entry.schema, where());
                if (!row.ok()) return row.status();
                return std::optional<Row>(std::move(row).value());
              });
        });
  }

  Result<std::vector<Row>> Scan(std::string_view table, const Key* after,
                                std::size_t limit) override {
    std::vector<Row> rows;
    SLUICE_RETURN_IF_ERROR(ScanInto(table, after, limit, &rows));
    return rows;
  }

  Status ScanInto(std::string_view table, const Key* after, std::size_t limit,
                  std::vector<Row>* rows) override {
    if (limit == 0) rows->clear();
    const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    const std::string bounded = std::to_string(std::min(limit, max));
    Result<bool> scanned = Read<bool>(
        "scan " + Quoted(table), [&](Connection& conn, pqxx::nontransaction& tx) -> Result<bool> {
          return Checked<bool>(
              conn, tx, table,
              [&](const CatalogEntry& entry) -> Result<std::vector<std::string>> {
                if (after != nullptr) SLUICE_RETURN_IF_ERROR(ValidateKey(entry.schema, *after));
                std::vector<std::string> params{entry.schema.name, entry.text};
                if (after != nullptr) params = KeyParameters(*after, std::move(params));
                params.push_back(bounded);
                return params;
              },
              after != nullptr ? StatementKind::kCheckedScanAfter
                               : StatementKind::kCheckedScanFirst,
              [&](const CatalogEntry& entry, const pqxx::result& r) -> Result<bool> {
                if (r[0][0].is_null()) {  // no row: the single row of NULLs
                  rows->clear();
                  return true;
                }
                rows->resize(r.size());
                std::size_t i = 0;
                for (const pqxx::row& row : r) {
                  SLUICE_RETURN_IF_ERROR(AssignRow(row, entry.schema, where(), &(*rows)[i++]));
                }
                // The order of the inner ORDER BY survives the join in practice; make sure. Keys
                // are unique, so rows order by their key columns alone (CompareKeys stops at the
                // first difference), without copying the keys out.
                auto less = [](const Row& a, const Row& b) { return CompareKeys(a, b) < 0; };
                if (!std::is_sorted(rows->begin(), rows->end(), less)) {
                  std::sort(rows->begin(), rows->end(), less);
                }
                return true;
              },
              limit == 0);
        });
    return scanned.status();
  }

  std::string Describe() const override { return where(); }

 private:
  const std::string& where() const { return pool_->context().where; }

  // Calls `attempt` with a pooled connection, which it may keep (by moving it out); otherwise the
  // connection goes back to the pool afterwards. If the connection was idle in the pool and turns
  // out closed by the server meanwhile, once more with a new one.
  template <typename T, typename Attempt>
  Result<T> WithConnection(Attempt attempt) {
    for (int tries = 0;; ++tries) {
      bool reused = false;
      Result<std::unique_ptr<Connection>> taken = pool_->Take(&reused);
      if (!taken.ok()) return taken.status();
      std::unique_ptr<Connection> conn = std::move(taken).value();
      conn->DropForgottenStatements();
      Result<T> result = attempt(conn);
      const bool lost = conn != nullptr && conn->broken();
      pool_->Give(std::move(conn));
      if (!lost || !reused || tries > 0) return result;
    }
  }

  // Runs `body` in autocommit mode: each statement sees the data committed when it starts.
  template <typename T, typename Body>
  Result<T> Read(const std::string& what, Body body) {
    return WithConnection<T>([&](std::unique_ptr<Connection>& conn) -> Result<T> {
      try {
        pqxx::nontransaction tx(conn->raw());
        return body(*conn, tx);
      } catch (const std::exception& error) {
        return conn->Error(error, what);
      }
    });
  }

  // A read of one table by a statement that checks the catalog entry it was built for: `params`
  // makes the parameters from the entry, `parse` the result (at least one row). Re-reads the
  // catalog and tries again when the table changed since the copy was read.
  template <typename T, typename Params, typename Parse>
  Result<T> Checked(Connection& conn, pqxx::nontransaction& tx, std::string_view table,
                    Params params, StatementKind kind, Parse parse, bool nothing = false) {
    bool loaded = false;
    bool changed = false;
    for (int round = 0; round < kReadRounds; ++round) {
      if (conn.Find(table) == nullptr && !loaded) {
        SLUICE_RETURN_IF_ERROR(conn.LoadCatalog(tx));
        loaded = true;
      }
      const CatalogEntry* entry = conn.Find(table);
      if (entry == nullptr) return Status::NotFound(where() + ": no table " + Quoted(table));
      Result<std::vector<std::string>> values = params(*entry);
      if (!values.ok()) return values.status();
      if (nothing) return T{};
      std::optional<pqxx::result> r;
      try {
        r = tx.exec_prepared(conn.Statement(kind, entry->schema.name, entry->schema),
                             pqxx::prepare::make_dynamic_params(*values));
      } catch (const std::exception& error) {
        if (!postgres_internal::TableChanged(postgres_internal::SqlState(error))) throw;
        changed = true;
      }
      if (r.has_value() && !r->empty()) return parse(*entry, *r);
      // The catalog holds another schema for the table, or none: read it again.
      SLUICE_RETURN_IF_ERROR(conn.LoadCatalog(tx));
      loaded = true;
    }
    if (changed) {
      return Status::Corruption(where() + ": table " + Quoted(table) +
                                " does not match its catalog entry (changed behind the store)");
    }
    return Status::Unavailable(where() + ": table " + Quoted(table) +
                               " kept changing while it was read");
  }

  std::shared_ptr<ConnectionPool> pool_;
};

// Creates the schema and the catalog tables if they are missing, and reads the catalog (which
// checks they are the store's).
Status SetUpCatalog(Connection& conn) {
  const StoreContext& c = conn.context();
  const std::string schema = QuoteSqlIdentifier(c.pg_schema);
  const std::string catalog =
      postgres_internal::Qualified(c.pg_schema, postgres_internal::kCatalogTable);
  const std::string version =
      postgres_internal::Qualified(c.pg_schema, postgres_internal::kCatalogVersionTable);
  Status status;
  for (int attempt = 0; attempt < 5; ++attempt) {
    try {
      pqxx::work tx(conn.raw());
      const pqxx::result r = tx.exec_params(
          "SELECT to_regnamespace($1) IS NOT NULL, to_regclass($2) IS NOT NULL, "
          "to_regclass($3) IS NOT NULL",
          schema, catalog, version);
      // Only what is missing is created: CREATE ... IF NOT EXISTS needs the privilege even when
      // there is nothing to create.
      if (!r[0][0].as<bool>()) tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema);
      if (!r[0][1].as<bool>()) {
        tx.exec("CREATE TABLE IF NOT EXISTS " + catalog +
                " (name TEXT COLLATE \"C\" NOT NULL PRIMARY KEY, schema TEXT NOT NULL)");
      }
      if (!r[0][2].as<bool>()) {
        tx.exec("CREATE TABLE IF NOT EXISTS " + version +
                " (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)");
        tx.exec("INSERT INTO " + version + " (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING");
      }
      SLUICE_RETURN_IF_ERROR(conn.LoadCatalog(tx));
      tx.commit();
      return Status::Ok();
    } catch (const std::exception& error) {
      const std::string state = postgres_internal::SqlState(error);
      status = conn.Error(error, "set up the catalog");
      if (state == "23505" || state == "42P06" || state == "42P07" ||
          status.code() == StatusCode::kUnavailable) {
        if (conn.broken()) return status;
        continue;  // another store created them at the same time: look again
      }
      if (postgres_internal::TableChanged(state) || state == "42883") {
        return Status::InvalidArgument(c.where + ": the tables " +
                                       Quoted(postgres_internal::kCatalogTable) + " and " +
                                       Quoted(postgres_internal::kCatalogVersionTable) +
                                       " are not the store's catalog: " + status.message());
      }
      return status;
    }
  }
  return status;
}

}  // namespace

Result<std::unique_ptr<ReadModelStore>> OpenPostgresReadModelStore(
    const std::string& url, const PostgresReadModelStoreOptions& options) {
  Result<postgres_internal::ServerAddress> address = postgres_internal::ParseServerUrl(url);
  if (!address.ok()) return address.status();
  const std::string& schema = options.schema;
  if (schema.empty() || schema.size() > postgres_internal::kMaxNameBytes ||
      schema.find('\0') != std::string::npos) {
    return Status::InvalidArgument("PostgreSQL read-model store: the schema name must be 1-63 " +
                                   std::string("bytes without NUL"));
  }
  auto context = std::make_shared<StoreContext>();
  context->address = *address;
  postgres_internal::SessionSettings settings;
  settings.connect_timeout = options.connect_timeout;
  settings.sync = options.sync;
  settings.lock_timeout = options.lock_timeout;
  settings.application_name = options.application_name;
  context->connection_string = postgres_internal::ConnectionString(*address, settings);
  context->pg_schema = schema;
  context->where = address->Describe();
  if (schema != "public") context->where += " (schema " + QuoteSqlIdentifier(schema) + ")";
  context->max_idle_connections = options.max_idle_connections;
  auto pool = std::make_shared<ConnectionPool>(std::move(context));
  bool reused = false;
  Result<std::unique_ptr<Connection>> conn = pool->Take(&reused);
  if (!conn.ok()) return conn.status();
  SLUICE_RETURN_IF_ERROR(SetUpCatalog(**conn));
  pool->Give(std::move(conn).value());
  return std::unique_ptr<ReadModelStore>(new PostgresReadModelStore(std::move(pool)));
}

}  // namespace sluice
