#include "sluice/projections/rocks_read_model_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/optimistic_transaction_db.h>
#include <rocksdb/utilities/transaction.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "rocks_table_codec.h"

namespace sluice {
namespace {

// Write history kept in memory after a memtable flush, so a transaction that began before the
// flush can still be validated at commit (otherwise its commit fails with TryAgain).
constexpr std::int64_t kWriteHistoryBytes = 64 << 20;
constexpr std::size_t kWriteBufferBytes = 32 << 20;
// Parallel validation locks keys through hashed buckets; RocksDB's default (2^20 mutexes) costs
// tens of MB and a slow open, far more than the few writers of a read model need.
constexpr std::uint32_t kOccLockBuckets = 1 << 14;
// Transaction objects kept for reuse (each holds an indexed write batch).
constexpr std::size_t kMaxPooledTransactions = 8;

std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

// A table as the catalog holds it. Immutable once built; shared between the store's cache and
// transactions.
struct TableInfo {
  std::uint64_t id = 0;
  TableSchema schema;
  std::string encoded;  // the catalog entry's bytes (a rename moves them to the new name)
  std::string prefix;   // be64(id): every row key of the table starts with it
};
using TableInfoPtr = std::shared_ptr<const TableInfo>;

TableInfoPtr MakeInfo(std::uint64_t id, TableSchema schema, std::string encoded) {
  auto info = std::make_shared<TableInfo>();
  info->id = id;
  info->schema = std::move(schema);
  info->encoded = std::move(encoded);
  internal::PutTableId(&info->prefix, id);
  return info;
}

std::string TablePrefixEnd(std::uint64_t id) {
  std::string end;
  internal::PutTableId(&end, id + 1);
  return end;
}

std::string KeyText(const TableSchema& schema, const Row& row_or_key) {
  std::string out = "(";
  for (std::size_t i = 0; i < schema.key.size() && i < row_or_key.size(); ++i) {
    if (i > 0) out += ", ";
    out += DescribeValue(row_or_key[i]);
  }
  return out + ")";
}

class RocksReadModelStore;

class RocksBatch final : public ReadModelBatch {
 public:
  RocksBatch(RocksReadModelStore* store, rocksdb::Transaction* txn) : store_(store), txn_(txn) {}
  ~RocksBatch() override;

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override;
  Status Put(std::string_view table, Row row) override;
  Status Delete(std::string_view table, const Key& key) override;
  Status CreateTable(const TableSchema& schema) override;
  Status DropTable(std::string_view table) override;
  Status RenameTable(std::string_view from, std::string_view to) override;
  Status Commit() override;

 private:
  struct Entry {
    std::string name;
    TableInfoPtr info;  // null: no such table (as this transaction sees it)
  };

  Status CheckUsable() const {
    if (txn_ == nullptr) return Status::InvalidArgument("read-model transaction already committed");
    return Status::Ok();
  }
  // This transaction's catalog entry for `table`: tracked for conflicts on first use and taken
  // from the store's catalog cache, then changed by this transaction's own DDL.
  Result<Entry*> Lookup(std::string_view table);
  // Lookup, NotFound if the table does not exist.
  Result<const TableInfo*> Existing(std::string_view table);
  Result<std::uint64_t> NewTableId();
  // key_buf_ = the row key of `key` (validated) in the table.
  void RowKey(const TableInfo& info, const Value* key);

  RocksReadModelStore* store_;
  rocksdb::Transaction* txn_;  // owned; returned to the store's pool when the batch dies
  std::deque<Entry> entries_;  // a deque: Entry pointers stay valid as it grows
  Entry* last_ = nullptr;      // the entry used last: most transactions write one table
  bool ddl_ = false;
  std::vector<std::uint64_t> dropped_ids_;
  std::uint64_t next_id_ = 0;  // 0: not read yet
  std::string key_buf_;
  std::string value_buf_;
  std::string read_buf_;
  std::string catalog_key_;
};

class RocksReadModelStore final : public ReadModelStore {
 public:
  ~RocksReadModelStore() override {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      for (rocksdb::Transaction* txn : pool_) delete txn;
      pool_.clear();
    }
    if (db_ != nullptr) db_->Close().PermitUncheckedError();
  }

  Status Open(const std::string& dir, const RocksReadModelStoreOptions& options);

  Result<std::unique_ptr<ReadModelBatch>> Begin() override {
    rocksdb::Transaction* reuse = nullptr;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        reuse = pool_.back();
        pool_.pop_back();
      }
    }
    rocksdb::Transaction* txn = db_->BeginTransaction(write_options_, {}, reuse);
    return std::unique_ptr<ReadModelBatch>(std::make_unique<RocksBatch>(this, txn));
  }

  Result<std::optional<TableSchema>> DescribeTable(std::string_view table) override {
    TableInfoPtr info = Cached(table);
    if (info == nullptr) return std::optional<TableSchema>();
    return std::optional<TableSchema>(info->schema);
  }

  Result<std::vector<std::string>> ListTables() override {
    std::shared_lock<std::shared_mutex> lock(catalog_mu_);
    std::vector<std::string> names;
    names.reserve(catalog_.size());
    for (const auto& [name, info] : catalog_) names.push_back(name);
    return names;
  }

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override;
  Result<std::vector<Row>> Scan(std::string_view table, const Key* after,
                                std::size_t limit) override;
  Status ScanInto(std::string_view table, const Key* after, std::size_t limit,
                  std::vector<Row>* rows) override;

  std::string Describe() const override { return "rocksdb:" + dir_; }

 private:
  friend class RocksBatch;

  TableInfoPtr Cached(std::string_view table) const {
    std::shared_lock<std::shared_mutex> lock(catalog_mu_);
    auto it = catalog_.find(table);
    return it == catalog_.end() ? nullptr : it->second;
  }
  Status NoTable(std::string_view table) const {
    return Status::NotFound("no table '" + std::string(table) + "' in the read-model store " +
                            Describe());
  }
  Status FromRocks(const rocksdb::Status& s, std::string_view what) const {
    std::string message = std::string(what) + " in " + Describe() + ": " + s.ToString();
    if (s.IsCorruption()) return Status::Corruption(std::move(message));
    if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) {
      return Status::Unavailable(std::move(message));
    }
    if (s.IsInvalidArgument() || s.IsNotSupported()) {
      return Status::InvalidArgument(std::move(message));
    }
    return Status::IOError(std::move(message));
  }
  Status RowCorruption(const TableSchema& schema, const Row& key, const Status& s) const {
    return Status::Corruption("table '" + schema.name + "' row " + KeyText(schema, key) + " in " +
                              Describe() + ": " + s.message());
  }
  Status CheckFormat(bool created);
  Status LoadCatalog();
  // Deletes the rows of table ids that are no longer in the catalog (a crash may have come
  // between a drop's commit and its DeleteRange).
  Status RemoveDroppedRows();
  void DeleteTableRows(std::uint64_t id);
  void Recycle(rocksdb::Transaction* txn) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.size() < kMaxPooledTransactions) {
      pool_.push_back(txn);
      return;
    }
    delete txn;
  }

  std::string dir_;
  rocksdb::WriteOptions write_options_;
  std::unique_ptr<rocksdb::OptimisticTransactionDB> db_;
  std::uint64_t next_table_id_at_open_ = 1;

  // The committed catalog, loaded at Open and updated by every commit that changes it (no other
  // process writes the database), so it answers for the database's catalog entries.
  mutable std::shared_mutex catalog_mu_;
  std::map<std::string, TableInfoPtr, std::less<>> catalog_;  // GUARDED_BY(catalog_mu_)
  // Held exclusively across the commit of a transaction that changed the catalog and the update
  // of catalog_ that follows; shared by transactions while they take a table from catalog_. So
  // a transaction never sees a catalog change in the database that catalog_ does not show yet,
  // and two catalog updates land in the order of their commits.
  std::shared_mutex commit_mu_;

  std::mutex pool_mu_;
  std::vector<rocksdb::Transaction*> pool_;  // GUARDED_BY(pool_mu_)
};

// ---- Batch ----

RocksBatch::~RocksBatch() {
  if (txn_ != nullptr) {
    txn_->Rollback().PermitUncheckedError();
    store_->Recycle(txn_);
  }
}

Result<RocksBatch::Entry*> RocksBatch::Lookup(std::string_view table) {
  if (last_ != nullptr && last_->name == table) return last_;
  for (Entry& e : entries_) {
    if (e.name == table) {
      last_ = &e;
      return &e;
    }
  }
  // Track the catalog key without reading it (a null value): a drop, rename or create of the
  // table committed after this point makes this transaction conflict. One committed before this
  // point is in the cache once the shared commit lock is ours (a catalog-changing commit holds
  // it exclusively until the cache is updated), so the cache answers for the database here.
  catalog_key_.assign(internal::CatalogPrefix());
  catalog_key_.append(table);
  rocksdb::Status s =
      txn_->GetForUpdate(rocksdb::ReadOptions(), catalog_key_, static_cast<std::string*>(nullptr));
  if (!s.ok()) {
    return store_->FromRocks(s,
                             "cannot read the catalog entry of table '" + std::string(table) + "'");
  }
  TableInfoPtr info;
  {
    std::shared_lock<std::shared_mutex> commit_lock(store_->commit_mu_);
    info = store_->Cached(table);
  }
  entries_.push_back(Entry{std::string(table), std::move(info)});
  last_ = &entries_.back();
  return last_;
}

Result<const TableInfo*> RocksBatch::Existing(std::string_view table) {
  Result<Entry*> entry = Lookup(table);
  if (!entry.ok()) return entry.status();
  if ((*entry)->info == nullptr) return store_->NoTable(table);
  return (*entry)->info.get();
}

void RocksBatch::RowKey(const TableInfo& info, const Value* key) {
  key_buf_.assign(info.prefix);
  internal::EncodeKey(info.schema, key, &key_buf_);
}

Result<std::optional<Row>> RocksBatch::Get(std::string_view table, const Key& key) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  Result<const TableInfo*> found = Existing(table);
  if (!found.ok()) return found.status();
  const TableInfo& info = **found;
  SLUICE_RETURN_IF_ERROR(ValidateKey(info.schema, key));
  RowKey(info, key.data());
  rocksdb::Status s = txn_->GetForUpdate(rocksdb::ReadOptions(), key_buf_, &read_buf_);
  if (s.IsNotFound()) return std::optional<Row>();
  if (!s.ok()) return store_->FromRocks(s, "cannot read table '" + info.schema.name + "'");
  Row row(info.schema.width());
  std::copy(key.begin(), key.end(), row.begin());
  Status decoded = internal::DecodeRowValue(info.schema, read_buf_, &row);
  if (!decoded.ok()) return store_->RowCorruption(info.schema, row, decoded);
  return std::optional<Row>(std::move(row));
}

Status RocksBatch::Put(std::string_view table, Row row) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  Result<const TableInfo*> found = Existing(table);
  if (!found.ok()) return found.status();
  const TableInfo& info = **found;
  SLUICE_RETURN_IF_ERROR(ValidateRow(info.schema, &row));
  RowKey(info, row.data());
  value_buf_.clear();
  internal::EncodeRowValue(info.schema, row, &value_buf_);
  // Untracked: a row only written (not read) by this transaction does not make it conflict. The
  // outcome is still that of the transactions run one after the other in commit order, as no
  // decision here depended on the row's old value; rows read through Get are tracked there.
  // Tracking every write would double the cost of a projection's write path.
  rocksdb::Status s = txn_->PutUntracked(key_buf_, value_buf_);
  if (!s.ok()) return store_->FromRocks(s, "cannot write table '" + info.schema.name + "'");
  return Status::Ok();
}

Status RocksBatch::Delete(std::string_view table, const Key& key) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  Result<const TableInfo*> found = Existing(table);
  if (!found.ok()) return found.status();
  const TableInfo& info = **found;
  SLUICE_RETURN_IF_ERROR(ValidateKey(info.schema, key));
  RowKey(info, key.data());
  rocksdb::Status s = txn_->DeleteUntracked(key_buf_);  // untracked: see Put
  if (!s.ok()) return store_->FromRocks(s, "cannot write table '" + info.schema.name + "'");
  return Status::Ok();
}

Result<std::uint64_t> RocksBatch::NewTableId() {
  if (next_id_ == 0) {
    rocksdb::Status s =
        txn_->GetForUpdate(rocksdb::ReadOptions(), internal::NextTableIdKey(), &read_buf_);
    if (!s.ok() && !s.IsNotFound()) return store_->FromRocks(s, "cannot read the table counter");
    if (s.ok() && read_buf_.size() != internal::kTableIdBytes) {
      return Status::Corruption("the table counter in " + store_->Describe() + " is damaged");
    }
    next_id_ = s.ok() ? internal::GetTableId(read_buf_) : 1;
    if (next_id_ == 0) next_id_ = 1;
  }
  const std::uint64_t id = next_id_++;
  std::string counter;
  internal::PutTableId(&counter, next_id_);
  rocksdb::Status s = txn_->Put(internal::NextTableIdKey(), counter);
  if (!s.ok()) return store_->FromRocks(s, "cannot write the table counter");
  return id;
}

Status RocksBatch::CreateTable(const TableSchema& schema) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  // The store cannot tell the runtime from a projection: the runtime validates projections'
  // tables without allow_reserved; the store accepts the runtime's "sluice_" tables.
  SLUICE_RETURN_IF_ERROR(ValidateSchema(schema, /*allow_reserved=*/true));
  Result<Entry*> entry = Lookup(schema.name);
  if (!entry.ok()) return entry.status();
  if ((*entry)->info != nullptr) {
    if ((*entry)->info->schema == schema) return Status::Ok();
    return Status::InvalidArgument("table '" + schema.name +
                                   "' already exists with another schema");
  }
  Result<std::uint64_t> id = NewTableId();
  if (!id.ok()) return id.status();
  std::string encoded;
  internal::EncodeCatalogEntry(*id, schema, &encoded);
  rocksdb::Status s = txn_->Put(internal::CatalogKey(schema.name), encoded);
  if (!s.ok()) return store_->FromRocks(s, "cannot write the catalog");
  (*entry)->info = MakeInfo(*id, schema, std::move(encoded));
  ddl_ = true;
  return Status::Ok();
}

Status RocksBatch::DropTable(std::string_view table) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  Result<Entry*> entry = Lookup(table);
  if (!entry.ok()) return entry.status();
  if ((*entry)->info == nullptr) return Status::Ok();
  rocksdb::Status s = txn_->Delete(internal::CatalogKey(table));
  if (!s.ok()) return store_->FromRocks(s, "cannot write the catalog");
  dropped_ids_.push_back((*entry)->info->id);
  (*entry)->info = nullptr;
  ddl_ = true;
  return Status::Ok();
}

Status RocksBatch::RenameTable(std::string_view from, std::string_view to) {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  SLUICE_RETURN_IF_ERROR(ValidateTableName(to, /*allow_reserved=*/true));
  Result<const TableInfo*> source = Existing(from);
  if (!source.ok()) return source.status();
  Result<Entry*> target = Lookup(to);
  if (!target.ok()) return target.status();
  if ((*target)->info != nullptr) {
    return Status::InvalidArgument("cannot rename table '" + std::string(from) + "' to '" +
                                   std::string(to) + "': a table with that name exists");
  }
  Entry* target_entry = *target;
  Entry* source_entry = *Lookup(from);
  TableSchema schema = source_entry->info->schema;
  schema.name = std::string(to);
  TableInfoPtr renamed =
      MakeInfo(source_entry->info->id, std::move(schema), source_entry->info->encoded);
  rocksdb::Status s = txn_->Delete(internal::CatalogKey(from));
  if (s.ok()) s = txn_->Put(internal::CatalogKey(to), renamed->encoded);
  if (!s.ok()) return store_->FromRocks(s, "cannot write the catalog");
  source_entry->info = nullptr;
  target_entry->info = std::move(renamed);
  ddl_ = true;
  return Status::Ok();
}

Status RocksBatch::Commit() {
  SLUICE_RETURN_IF_ERROR(CheckUsable());
  rocksdb::Transaction* txn = txn_;
  txn_ = nullptr;
  rocksdb::Status s;
  if (!ddl_) {
    s = txn->Commit();
  } else {
    std::unique_lock<std::shared_mutex> commit_lock(store_->commit_mu_);
    s = txn->Commit();
    if (s.ok()) {
      // Every entry's catalog key was tracked when it was taken, so none changed since (or the
      // commit would have conflicted): they are all the committed state now.
      std::unique_lock<std::shared_mutex> lock(store_->catalog_mu_);
      for (Entry& e : entries_) {
        if (e.info == nullptr) {
          auto it = store_->catalog_.find(e.name);
          if (it != store_->catalog_.end()) store_->catalog_.erase(it);
        } else {
          store_->catalog_.insert_or_assign(e.name, e.info);
        }
      }
    }
  }
  if (!s.ok()) {
    txn->Rollback().PermitUncheckedError();
    store_->Recycle(txn);
    if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) {
      return Status::Unavailable(
          "read-model transaction conflict in " + store_->Describe() +
          " (a row or table it used was changed since it began): " + s.ToString());
    }
    return store_->FromRocks(s, "cannot commit a read-model transaction");
  }
  store_->Recycle(txn);
  for (std::uint64_t id : dropped_ids_) store_->DeleteTableRows(id);
  return Status::Ok();
}

// ---- Store ----

Result<std::optional<Row>> RocksReadModelStore::Get(std::string_view table, const Key& key) {
  TableInfoPtr info = Cached(table);
  if (info == nullptr) return NoTable(table);
  SLUICE_RETURN_IF_ERROR(ValidateKey(info->schema, key));
  std::string row_key = info->prefix;
  internal::EncodeKey(info->schema, key.data(), &row_key);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), row_key, &value);
  if (s.IsNotFound()) return std::optional<Row>();
  if (!s.ok()) return FromRocks(s, "cannot read table '" + info->schema.name + "'");
  Row row(info->schema.width());
  std::copy(key.begin(), key.end(), row.begin());
  Status decoded = internal::DecodeRowValue(info->schema, ToView(value), &row);
  if (!decoded.ok()) return RowCorruption(info->schema, row, decoded);
  return std::optional<Row>(std::move(row));
}

Result<std::vector<Row>> RocksReadModelStore::Scan(std::string_view table, const Key* after,
                                                   std::size_t limit) {
  std::vector<Row> rows;
  SLUICE_RETURN_IF_ERROR(ScanInto(table, after, limit, &rows));
  return rows;
}

Status RocksReadModelStore::ScanInto(std::string_view table, const Key* after, std::size_t limit,
                                     std::vector<Row>* rows) {
  TableInfoPtr info = Cached(table);
  if (info == nullptr) return NoTable(table);
  std::string start = info->prefix;
  if (after != nullptr) {
    SLUICE_RETURN_IF_ERROR(ValidateKey(info->schema, *after));
    internal::EncodeKey(info->schema, after->data(), &start);
    start.push_back('\0');  // the least key after *after: no encoded key is a prefix of another
  }
  std::size_t count = 0;
  if (limit == 0) {
    rows->clear();
    return Status::Ok();
  }
  const std::string end = TablePrefixEnd(info->id);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  const std::size_t width = info->schema.width();
  for (it->Seek(start); it->Valid() && count < limit; it->Next()) {
    // The decoders overwrite values in place, keeping the capacity of strings already there.
    if (count == rows->size()) rows->emplace_back();
    Row& row = (*rows)[count++];
    row.resize(width);
    std::string_view key = ToView(it->key());
    key.remove_prefix(internal::kTableIdBytes);
    Status decoded = internal::DecodeKey(info->schema, key, &row);
    if (decoded.ok()) decoded = internal::DecodeRowValue(info->schema, ToView(it->value()), &row);
    if (!decoded.ok()) return RowCorruption(info->schema, row, decoded);
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), "cannot scan table '" + info->schema.name + "'");
  }
  rows->resize(count);
  return Status::Ok();
}

void RocksReadModelStore::DeleteTableRows(std::uint64_t id) {
  std::string begin;
  internal::PutTableId(&begin, id);
  const std::string end = TablePrefixEnd(id);
  // Outside any transaction: OptimisticTransactionDB refuses range deletions, since they escape
  // its conflict checks. Nothing can conflict here: the table id is out of the catalog and is
  // never reused, and a transaction still using it read the catalog entry the drop changed, so
  // it fails at commit. A failure here leaves rows that the next Open removes.
  db_->GetBaseDB()
      ->DeleteRange(write_options_, db_->DefaultColumnFamily(), begin, end)
      .PermitUncheckedError();
}

Status RocksReadModelStore::Open(const std::string& dir,
                                 const RocksReadModelStoreOptions& options) {
  dir_ = dir;
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(fs::path(dir) / "CURRENT", ec);
  if (!exists) {
    if (!options.create_if_missing) return Status::NotFound("no read-model store in '" + dir + "'");
    // A folder with other things in it is not ours to fill.
    if (fs::is_directory(dir, ec)) {
      for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        const bool rocks_file = name == "LOCK" || name == "IDENTITY" || name.starts_with("LOG") ||
                                name.starts_with("MANIFEST-") || name.starts_with("OPTIONS-");
        if (!rocks_file) {
          return Status::InvalidArgument(
              "'" + dir + "' is not a read-model store: it holds other files (" + name + ")");
        }
      }
    } else if (fs::exists(dir, ec)) {
      return Status::InvalidArgument("'" + dir + "' is not a folder");
    } else if (!fs::create_directories(dir, ec) && ec) {
      return Status::IOError("cannot create the folder '" + dir + "': " + ec.message());
    }
  }

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.compression = rocksdb::kLZ4Compression;
  cf.bottommost_compression = rocksdb::kZSTD;
  cf.write_buffer_size = kWriteBufferBytes;
  cf.max_write_buffer_size_to_maintain = kWriteHistoryBytes;
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.keep_log_file_num = 4;
  rocksdb::OptimisticTransactionDBOptions occ;
  occ.validate_policy = rocksdb::OccValidationPolicy::kValidateParallel;
  occ.occ_lock_buckets = kOccLockBuckets;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {{rocksdb::kDefaultColumnFamilyName, cf}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::OptimisticTransactionDB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::OptimisticTransactionDB::Open(db_options, occ, dir, families, &handles, &raw);
  if (!s.ok()) {
    const std::string text = s.ToString();
    if (s.IsIOError() &&
        (text.find("lock") != std::string::npos || text.find("Lock") != std::string::npos)) {
      return Status::Unavailable(
          "read-model store '" + dir +
          "' is open in another process (or elsewhere in this one): " + text);
    }
    if (s.IsInvalidArgument()) {
      return Status::InvalidArgument("'" + dir + "' is not a read-model store: " + text);
    }
    return FromRocks(s, "cannot open the read-model store");
  }
  db_.reset(raw);
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    if (h != db_->DefaultColumnFamily()) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  write_options_.sync = options.sync;

  SLUICE_RETURN_IF_ERROR(CheckFormat(!exists));
  SLUICE_RETURN_IF_ERROR(LoadCatalog());
  return RemoveDroppedRows();
}

Status RocksReadModelStore::CheckFormat(bool created) {
  std::string format;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), internal::FormatKey(), &format);
  if (s.ok()) {
    if (format == internal::kReadModelFormat) return Status::Ok();
    return Status::InvalidArgument("'" + dir_ + "' is not a read-model store of this version (" +
                                   "format '" + format + "')");
  }
  if (!s.IsNotFound()) return FromRocks(s, "cannot read the format marker");
  if (!created) {
    // An empty database is one whose creation was cut short before the marker was written.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->SeekToFirst();
    if (!it->status().ok()) return FromRocks(it->status(), "cannot read the database");
    if (it->Valid()) {
      return Status::InvalidArgument("'" + dir_ +
                                     "' holds a RocksDB database that is not a read-model store");
    }
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;
  s = db_->Put(sync, internal::FormatKey(), internal::kReadModelFormat);
  if (!s.ok()) return FromRocks(s, "cannot write the format marker");
  return Status::Ok();
}

Status RocksReadModelStore::LoadCatalog() {
  std::string counter;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), internal::NextTableIdKey(), &counter);
  if (s.ok()) {
    if (counter.size() != internal::kTableIdBytes) {
      return Status::Corruption("the table counter in " + Describe() + " is damaged");
    }
    next_table_id_at_open_ = internal::GetTableId(counter);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "cannot read the table counter");
  }

  const std::string prefix = internal::CatalogPrefix();
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::map<std::string, TableInfoPtr, std::less<>> catalog;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view name = ToView(it->key());
    name.remove_prefix(prefix.size());
    std::uint64_t id = 0;
    TableSchema schema;
    std::string_view value = ToView(it->value());
    Status decoded = internal::DecodeCatalogEntry(value, name, &id, &schema);
    if (!decoded.ok()) {
      return Status::Corruption(decoded.message() + " (in " + Describe() + ")");
    }
    if (id >= next_table_id_at_open_) {
      return Status::Corruption("table '" + std::string(name) + "' in " + Describe() +
                                " has an id beyond the table counter");
    }
    catalog.emplace(std::string(name), MakeInfo(id, std::move(schema), std::string(value)));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cannot read the catalog");
  std::unique_lock<std::shared_mutex> lock(catalog_mu_);
  catalog_ = std::move(catalog);
  return Status::Ok();
}

Status RocksReadModelStore::RemoveDroppedRows() {
  std::vector<std::uint64_t> live;
  {
    std::shared_lock<std::shared_mutex> lock(catalog_mu_);
    for (const auto& [name, info] : catalog_) live.push_back(info->id);
  }
  std::sort(live.begin(), live.end());
  live.push_back(std::max<std::uint64_t>(next_table_id_at_open_, 1));
  // Each gap [lo, hi) between live ids holds only dropped tables: remove what is left there.
  std::uint64_t lo = 1;
  for (std::uint64_t hi : live) {
    if (hi > lo) {
      std::string begin;
      std::string end;
      internal::PutTableId(&begin, lo);
      internal::PutTableId(&end, hi);
      rocksdb::Slice upper(end);
      rocksdb::ReadOptions ro;
      ro.iterate_upper_bound = &upper;
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
      it->Seek(begin);
      if (!it->status().ok()) return FromRocks(it->status(), "cannot read the database");
      if (it->Valid()) {
        rocksdb::Status s = db_->GetBaseDB()->DeleteRange(
            write_options_, db_->DefaultColumnFamily(), ToSlice(begin), ToSlice(end));
        if (!s.ok()) return FromRocks(s, "cannot remove the rows of dropped tables");
      }
    }
    lo = std::max(lo, hi + 1);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ReadModelStore>> OpenRocksReadModelStore(
    const std::string& dir, const RocksReadModelStoreOptions& options) {
  auto store = std::make_unique<RocksReadModelStore>();
  SLUICE_RETURN_IF_ERROR(store->Open(dir, options));
  return std::unique_ptr<ReadModelStore>(std::move(store));
}

}  // namespace sluice
