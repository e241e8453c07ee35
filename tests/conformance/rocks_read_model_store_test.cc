// What only the RocksDB read-model store does, beyond the conformance suite: one process at a
// time, refusing folders that are not its own, damaged bytes, optimistic conflicts, and no rows
// left behind by dropped tables.
#include "sluice/projections/rocks_read_model_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conformance/read_model_store_conformance.h"
#include "conformance/temp_dir.h"

namespace sluice {
namespace {

using conformance::B;
using conformance::HasCode;
using conformance::I;
using conformance::Int;
using conformance::IsOk;
using conformance::N;
using conformance::Schema;
using conformance::Simple;
using conformance::T;
using conformance::Text;

class RocksReadModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(const RocksReadModelStoreOptions& options = {}) {
    Result<std::unique_ptr<ReadModelStore>> opened = OpenRocksReadModelStore(Path(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  void Close() { store_.reset(); }
  std::string Path() const { return dir_.Sub("read-model"); }

  Status Apply(const std::function<Status(ReadModelBatch&)>& work) {
    Result<std::unique_ptr<ReadModelBatch>> batch = store_->Begin();
    if (!batch.ok()) return batch.status();
    SLUICE_RETURN_IF_ERROR(work(**batch));
    return (*batch)->Commit();
  }
  std::unique_ptr<ReadModelBatch> Begin() {
    Result<std::unique_ptr<ReadModelBatch>> batch = store_->Begin();
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    return batch.ok() ? std::move(*batch) : nullptr;
  }

  // Every key/value of the (closed) store's database, through a raw RocksDB handle.
  std::vector<std::pair<std::string, std::string>> RawEntries() {
    std::unique_ptr<rocksdb::DB> db = OpenRaw();
    std::vector<std::pair<std::string, std::string>> out;
    if (db == nullptr) return out;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.emplace_back(it->key().ToString(), it->value().ToString());
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return out;
  }
  // Row keys start with a table id >= 1 (id 0 is the store's own metadata).
  static bool IsRowKey(const std::string& key) {
    return key.size() >= 8 && key.compare(0, 8, std::string(8, '\0')) != 0;
  }
  std::unique_ptr<rocksdb::DB> OpenRaw() {
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(rocksdb::Options(), Path(), &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::unique_ptr<rocksdb::DB>(raw);
  }

  testing::TempDir dir_;
  std::unique_ptr<ReadModelStore> store_;
};

TEST_F(RocksReadModelStoreTest, SecondOpenOfTheSameFolderIsUnavailable) {
  Result<std::unique_ptr<ReadModelStore>> second = OpenRocksReadModelStore(Path());
  EXPECT_TRUE(HasCode(second, StatusCode::kUnavailable));
  Close();
  Result<std::unique_ptr<ReadModelStore>> after_close = OpenRocksReadModelStore(Path());
  EXPECT_TRUE(IsOk(after_close));
}

TEST_F(RocksReadModelStoreTest, DescribeNamesTheFolder) {
  EXPECT_EQ(store_->Describe(), "rocksdb:" + Path());
}

TEST_F(RocksReadModelStoreTest, MissingStoreWithoutCreateIsNotFound) {
  RocksReadModelStoreOptions options;
  options.create_if_missing = false;
  Result<std::unique_ptr<ReadModelStore>> opened =
      OpenRocksReadModelStore(dir_.Sub("nothing-here"), options);
  EXPECT_TRUE(HasCode(opened, StatusCode::kNotFound));
}

TEST_F(RocksReadModelStoreTest, FolderWithAForeignRocksDbIsInvalidArgument) {
  const std::string foreign = dir_.Sub("foreign");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, foreign, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "some", "data").ok());
  }
  Result<std::unique_ptr<ReadModelStore>> opened = OpenRocksReadModelStore(foreign);
  EXPECT_TRUE(HasCode(opened, StatusCode::kInvalidArgument));

  // Nor one with column families of its own (an event store has several).
  const std::string families = dir_.Sub("families");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"log", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, families, descriptors, &handles, &raw).ok());
    for (rocksdb::ColumnFamilyHandle* h : handles)
      ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
    delete raw;
  }
  EXPECT_TRUE(HasCode(OpenRocksReadModelStore(families), StatusCode::kInvalidArgument));
}

TEST_F(RocksReadModelStoreTest, FolderWithOtherFilesIsInvalidArgument) {
  const std::string other = dir_.Sub("other");
  std::filesystem::create_directories(other);
  std::ofstream(other + "/notes.txt") << "not a database";
  EXPECT_TRUE(HasCode(OpenRocksReadModelStore(other), StatusCode::kInvalidArgument));
  EXPECT_FALSE(std::filesystem::exists(other + "/CURRENT"));  // nothing created there
}

TEST_F(RocksReadModelStoreTest, DamagedRowValueIsCorruptionNotACrash) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.CreateTable(conformance::AllTypes("t")));
    SLUICE_RETURN_IF_ERROR(b.Put("t", {I(1), I(5), N(), T("x"), B("y")}));
    return b.Put("t", {I(2), I(6), N(), T("x"), B("y")});
  })));
  Close();
  const std::vector<std::string> garbage = {
      "",                                  // no values at all
      "\x07",                              // unknown tag
      std::string("\x01\x02\x00\x03", 4),  // text without its length
      std::string("\x01\x02\x00\x03\x7f"
                  "ab",
                  7),                                         // text longer than what is left
      std::string("\x01\x02\x02\x01", 4),                     // real cut short
      std::string("\x01\x0a\x00\x03\x01x\x04\x01y\x00", 10),  // a value too many
      "\x03\x01x",                                            // text in the integer column
      std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11),  // varint overflow
  };
  for (const std::string& bad : garbage) {
    {
      std::unique_ptr<rocksdb::DB> db = OpenRaw();
      ASSERT_NE(db, nullptr);
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
      std::string first_row;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (IsRowKey(it->key().ToString())) {
          first_row = it->key().ToString();
          break;
        }
      }
      it.reset();
      ASSERT_FALSE(first_row.empty());
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), first_row, bad).ok());
    }
    Open();
    EXPECT_TRUE(HasCode(store_->Get("t", {I(1)}), StatusCode::kCorruption));
    Result<std::vector<Row>> scanned = store_->Scan("t", nullptr, 10);
    EXPECT_TRUE(HasCode(scanned, StatusCode::kCorruption));
    if (!scanned.ok()) {
      EXPECT_NE(scanned.status().message().find("'t'"), std::string::npos)
          << scanned.status().ToString();
    }
    {
      auto batch = Begin();
      ASSERT_NE(batch, nullptr);
      EXPECT_TRUE(HasCode(batch->Get("t", {I(1)}), StatusCode::kCorruption));
    }
    // The undamaged row is still readable.
    EXPECT_TRUE(IsOk(store_->Get("t", {I(2)})));
    Close();
  }
}

TEST_F(RocksReadModelStoreTest, DamagedRowKeyIsCorruptionOnScan) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Schema("t", {Text("id")}, {})));
    return b.Put("t", {T("a")});
  })));
  Close();
  {
    std::unique_ptr<rocksdb::DB> db = OpenRaw();
    ASSERT_NE(db, nullptr);
    std::string key;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (IsRowKey(it->key().ToString())) key = it->key().ToString();
    }
    it.reset();
    ASSERT_FALSE(key.empty());
    // The same table id, then text without its terminator.
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), key.substr(0, 8) + std::string("b\x00\x01", 3), "").ok());
  }
  Open();
  EXPECT_TRUE(HasCode(store_->Scan("t", nullptr, 10), StatusCode::kCorruption));
}

TEST_F(RocksReadModelStoreTest, DroppedTableLeavesNoRowsBehind) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("doomed")));
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("kept")));
    for (int i = 0; i < 100; ++i) {
      SLUICE_RETURN_IF_ERROR(b.Put("doomed", {I(i), T("row")}));
    }
    return b.Put("kept", {I(1), T("kept")});
  })));
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.DropTable("doomed"); })));
  Close();
  int rows = 0;
  for (const auto& [key, value] : RawEntries()) rows += IsRowKey(key) ? 1 : 0;
  EXPECT_EQ(rows, 1);  // only the kept table's row
}

// A crash between a drop's commit and the removal of its rows leaves rows under a table id no
// longer in the catalog; the next open removes them.
TEST_F(RocksReadModelStoreTest, OpenRemovesRowsOfDroppedTablesLeftByACrash) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("doomed")));
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("kept")));
    SLUICE_RETURN_IF_ERROR(b.Put("doomed", {I(1), T("row")}));
    return b.Put("kept", {I(1), T("kept")});
  })));
  Close();
  std::vector<std::pair<std::string, std::string>> before = RawEntries();
  std::vector<std::pair<std::string, std::string>> row_entries;
  for (const auto& entry : before) {
    if (IsRowKey(entry.first)) row_entries.push_back(entry);
  }
  ASSERT_EQ(row_entries.size(), 2u);
  Open();
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.DropTable("doomed"); })));
  Close();
  {
    // Put the dropped table's rows back, as if the range deletion had never happened.
    std::unique_ptr<rocksdb::DB> db = OpenRaw();
    ASSERT_NE(db, nullptr);
    for (const auto& [key, value] : row_entries) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, value).ok());
    }
  }
  Open();
  EXPECT_EQ(store_->Scan("kept", nullptr, 10)->size(), 1u);
  Close();
  int rows = 0;
  for (const auto& [key, value] : RawEntries()) rows += IsRowKey(key) ? 1 : 0;
  EXPECT_EQ(rows, 1);
}

TEST_F(RocksReadModelStoreTest, ConflictingCommitIsUnavailableAndWritesNothing) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Schema("counter", {Int("id")}, {Int("n")})));
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("log")));
    return b.Put("counter", {I(0), I(0)});
  })));
  auto first = Begin();
  auto second = Begin();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(IsOk(first->Get("counter", {I(0)})));
  ASSERT_TRUE(IsOk(second->Get("counter", {I(0)})));
  ASSERT_TRUE(IsOk(first->Put("counter", {I(0), I(1)})));
  ASSERT_TRUE(IsOk(second->Put("counter", {I(0), I(1)})));
  ASSERT_TRUE(IsOk(second->Put("log", {I(2), T("second")})));
  ASSERT_TRUE(IsOk(first->Commit()));
  Status s = second->Commit();
  EXPECT_TRUE(HasCode(s, StatusCode::kUnavailable));
  EXPECT_NE(s.message().find("conflict"), std::string::npos) << s.ToString();
  EXPECT_TRUE(store_->Scan("log", nullptr, 10)->empty());
  EXPECT_EQ(*store_->Get("counter", {I(0)}), (std::optional<Row>(Row{I(0), I(1)})));
}

TEST_F(RocksReadModelStoreTest, DroppingATableConflictsWithAConcurrentWriterOfIt) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.CreateTable(Simple("t")); })));
  auto writer = Begin();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(IsOk(writer->Put("t", {I(1), T("late")})));
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.DropTable("t"); })));
  EXPECT_TRUE(HasCode(writer->Commit(), StatusCode::kUnavailable));
  EXPECT_FALSE(store_->DescribeTable("t")->has_value());

  // A rename committed meanwhile conflicts too. (A writer that commits first does not conflict
  // with a later drop or rename: its rows go, or move, with the table, as if run one after the
  // other.)
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.CreateTable(Simple("t")); })));
  auto late = Begin();
  ASSERT_NE(late, nullptr);
  ASSERT_TRUE(IsOk(late->Put("t", {I(1), T("late")})));
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.RenameTable("t", "u"); })));
  EXPECT_TRUE(HasCode(late->Commit(), StatusCode::kUnavailable));
  EXPECT_EQ(store_->ListTables().value(), std::vector<std::string>{"u"});
  EXPECT_TRUE(store_->Scan("u", nullptr, 10)->empty());
}

TEST_F(RocksReadModelStoreTest, TransactionsOnDifferentRowsBothCommit) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.CreateTable(Simple("t")); })));
  auto first = Begin();
  auto second = Begin();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(IsOk(first->Get("t", {I(1)})));
  ASSERT_TRUE(IsOk(first->Put("t", {I(1), T("one")})));
  ASSERT_TRUE(IsOk(second->Get("t", {I(2)})));
  ASSERT_TRUE(IsOk(second->Put("t", {I(2), T("two")})));
  EXPECT_TRUE(IsOk(first->Commit()));
  EXPECT_TRUE(IsOk(second->Commit()));
  EXPECT_EQ(store_->Scan("t", nullptr, 10)->size(), 2u);
}

// Rows only written, not read, do not conflict: the later commit wins, which is what running the
// two transactions one after the other would give.
TEST_F(RocksReadModelStoreTest, RowsOnlyWrittenDoNotConflictAndTheLaterCommitWins) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.CreateTable(Simple("t")); })));
  auto first = Begin();
  auto second = Begin();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(IsOk(first->Put("t", {I(1), T("first")})));
  ASSERT_TRUE(IsOk(second->Put("t", {I(1), T("second")})));
  ASSERT_TRUE(IsOk(second->Delete("t", {I(2)})));
  EXPECT_TRUE(IsOk(second->Commit()));
  EXPECT_TRUE(IsOk(first->Commit()));
  EXPECT_EQ(*store_->Get("t", {I(1)}), (std::optional<Row>(Row{I(1), T("first")})));
}

// A transaction takes a table from the catalog at its first use, not when it begins.
TEST_F(RocksReadModelStoreTest, TransactionSeesTablesCommittedBeforeItsFirstUse) {
  auto early = Begin();
  ASSERT_NE(early, nullptr);
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) { return b.CreateTable(Simple("t")); })));
  ASSERT_TRUE(IsOk(early->Put("t", {I(1), T("x")})));
  EXPECT_TRUE(IsOk(early->Commit()));
  EXPECT_EQ(store_->Scan("t", nullptr, 10)->size(), 1u);
}

// Writers and a thread that drops and creates their table again and again: every commit either
// conflicts or lands whole, and no row outlives the table it was written to.
TEST_F(RocksReadModelStoreTest, ConcurrentDdlAndWritesKeepTablesConsistent) {
  constexpr int kRounds = 60;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto writer = [&](int id) {
    for (int i = 0; !stop.load(); ++i) {
      Status s = Apply([&](ReadModelBatch& b) {
        SLUICE_RETURN_IF_ERROR(b.Put("t", {I(id * 1'000'000 + i), T("w")}));
        return b.Put("marks", {I(id * 1'000'000 + i), T("w")});
      });
      if (!s.ok() && s.code() != StatusCode::kUnavailable && s.code() != StatusCode::kNotFound) {
        ADD_FAILURE() << s.ToString();
        failures.fetch_add(1);
        return;
      }
    }
  };
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("t")));
    return b.CreateTable(Simple("marks"));
  })));
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) threads.emplace_back(writer, t + 1);
  for (int round = 0; round < kRounds; ++round) {
    // Drop both and create both in one transaction: the tables stay in step.
    Status s = Apply([](ReadModelBatch& b) {
      SLUICE_RETURN_IF_ERROR(b.DropTable("t"));
      SLUICE_RETURN_IF_ERROR(b.DropTable("marks"));
      SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("t")));
      return b.CreateTable(Simple("marks"));
    });
    ASSERT_TRUE(s.ok() || s.code() == StatusCode::kUnavailable) << s.ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop.store(true);
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  // Each writer transaction wrote the same key to both tables, so they hold the same keys.
  Result<std::vector<Row>> t_rows = store_->Scan("t", nullptr, 1'000'000);
  Result<std::vector<Row>> mark_rows = store_->Scan("marks", nullptr, 1'000'000);
  ASSERT_TRUE(IsOk(t_rows));
  ASSERT_TRUE(IsOk(mark_rows));
  EXPECT_EQ(*t_rows, *mark_rows);
  Close();
  std::size_t raw_rows = 0;
  for (const auto& [key, value] : RawEntries()) raw_rows += IsRowKey(key) ? 1 : 0;
  EXPECT_EQ(raw_rows, t_rows->size() + mark_rows->size());
}

// The memtable history kept for validation lets a transaction that began before a memtable
// flush still commit, instead of failing for want of history.
TEST_F(RocksReadModelStoreTest, TransactionSpanningAMemtableFlushCommits) {
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Schema("counter", {Int("id")}, {Int("n")})));
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Schema("bulk", {Int("id")}, {conformance::Bytes("b")})));
    return b.Put("counter", {I(0), I(0)});
  })));
  auto slow = Begin();
  ASSERT_NE(slow, nullptr);
  ASSERT_TRUE(IsOk(slow->Get("counter", {I(0)})));
  // 40 MB in other rows: more than one write buffer, so the memtable is switched and flushed.
  const std::string megabyte(1 << 20, 'x');
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(IsOk(Apply([&](ReadModelBatch& b) { return b.Put("bulk", {I(i), B(megabyte)}); })));
  }
  ASSERT_TRUE(IsOk(slow->Put("counter", {I(0), I(1)})));
  EXPECT_TRUE(IsOk(slow->Commit()));
  EXPECT_EQ(*store_->Get("counter", {I(0)}), (std::optional<Row>(Row{I(0), I(1)})));
}

TEST_F(RocksReadModelStoreTest, UnsyncedStoreKeepsCommitsAcrossReopen) {
  Close();
  RocksReadModelStoreOptions options;
  options.sync = false;
  Open(options);
  ASSERT_TRUE(IsOk(Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("t")));
    return b.Put("t", {I(1), T("x")});
  })));
  Close();
  Open();
  EXPECT_EQ(*store_->Get("t", {I(1)}), (std::optional<Row>(Row{I(1), T("x")})));
}

}  // namespace
}  // namespace sluice
