// The sync watcher (watcher.h) and repair (repair.h) on a SQLite legacy database and a SQLite read
// model: A/A runs, drift of every kind found exactly, chunk boundaries, composite keys, a writer at
// full speed with a live pipeline (tailer + mirror projection), and repair.
#include "sluice/migration/watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "legacy_db.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/migration/mirror_projection.h"
#include "sluice/migration/repair.h"
#include "sluice/migration/schema_event.h"
#include "sluice/migration/sqlite_legacy_source.h"
#include "sluice/migration/tailer.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

namespace sluice::migration {
namespace {

using Json = nlohmann::json;
using testing::LegacyDb;

struct Found {
  std::string table;
  std::string kind;
  std::string key;
  std::string column;  // changed only
  friend auto operator<=>(const Found&, const Found&) = default;
};

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("watcher");
    db_path_ = (dir_ / "legacy.db").string();
  }
  void TearDown() override {
    read_model_.reset();
    source_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Creates the legacy database with `schema` (and `pragma` first) and installs capture.
  void MakeLegacy(const std::string& schema, const std::vector<std::string>& tables,
                  const std::string& pragma = "") {
    db_ = std::make_unique<LegacyDb>(db_path_);
    if (!pragma.empty()) db_->Exec(pragma);
    db_->Exec(schema);
    Result<std::unique_ptr<LegacySource>> source = OpenSqliteLegacySource(db_path_);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    source_ = std::move(*source);
    ASSERT_TRUE(source_->Install(tables).ok());
    Result<std::unique_ptr<ReadModelStore>> rm =
        OpenSqliteReadModelStore((dir_ / "read.db").string());
    ASSERT_TRUE(rm.ok()) << rm.status().ToString();
    read_model_ = std::move(*rm);
  }

  // Copies legacy table `table` faithfully into the read model, as the mirror would.
  void CopyToReadModel(const std::string& table) {
    Result<LegacyTable> legacy = source_->DescribeTable(table);
    ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
    Result<TableSchema> schema = MirrorTableSchema(*legacy);
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    Result<std::unique_ptr<LegacySnapshot>> snapshot = source_->OpenSnapshot();
    ASSERT_TRUE(snapshot.ok());
    Result<std::vector<Row>> rows = (*snapshot)->ReadRows(*legacy, nullptr, 10'000'000);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    auto batch = read_model_->Begin();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE((*batch)->CreateTable(*schema).ok());
    std::vector<bool> is_key(legacy->columns.size(), false);
    for (std::size_t k : legacy->key) is_key[k] = true;
    for (const Row& row : *rows) {
      Row out;
      std::size_t i = 0;
      for (std::size_t k : legacy->key) {
        out.push_back(*ToReadModelValue(row[k], schema->key[i++].type));
      }
      i = 0;
      for (std::size_t c = 0; c < row.size(); ++c) {
        if (is_key[c]) continue;
        out.push_back(*ToReadModelValue(row[c], schema->columns[i++].type));
      }
      ASSERT_TRUE((*batch)->Put(table, std::move(out)).ok());
    }
    ASSERT_TRUE((*batch)->Commit().ok());
  }

  void Rm(const std::function<void(ReadModelBatch&)>& change) {
    auto batch = read_model_->Begin();
    ASSERT_TRUE(batch.ok());
    change(**batch);
    ASSERT_TRUE((*batch)->Commit().ok());
  }

  WatcherOptions NoWait(std::size_t chunk_rows) {
    WatcherOptions options;
    options.chunk_rows = chunk_rows;
    options.wait = [](const std::string&, const CapturePosition&) { return Status::Ok(); };
    options.recheck_delay = std::chrono::milliseconds(1);
    options.on_difference = [this](const RowDifference& d) {
      differences_.push_back(d);
      if (d.kind != DifferenceKind::kChanged) {
        found_.insert(Found{d.table, std::string(DifferenceKindName(d.kind)), d.key_json, ""});
      }
      for (const ColumnDifference& c : d.columns) {
        found_.insert(Found{d.table, "changed", d.key_json, c.column});
      }
    };
    return options;
  }

  Result<WatchFigures> Check(const std::vector<std::string>& tables, std::size_t chunk_rows) {
    SyncWatcher watcher(*source_, *read_model_, NoWait(chunk_rows));
    return watcher.Check(tables);
  }

  std::filesystem::path dir_;
  std::string db_path_;
  std::unique_ptr<LegacyDb> db_;
  std::unique_ptr<LegacySource> source_;
  std::unique_ptr<ReadModelStore> read_model_;
  std::vector<RowDifference> differences_;
  std::set<Found> found_;
};

constexpr const char* kMixedSchema =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC(10,2), weight REAL, "
    "active BOOLEAN, at TIMESTAMPTZ, data BLOB);";

void FillItems(LegacyDb& db, int count) {
  std::string sql = "BEGIN;";
  for (int i = 1; i <= count; ++i) {
    const std::string n = std::to_string(i);
    sql += "INSERT INTO items VALUES (" + n + ", " +
           (i % 7 == 0 ? "NULL" : (i % 5 == 0 ? "''" : "'name " + n + " caf\xc3\xa9'")) + ", " +
           (i % 3 == 0 ? "'1.10'" : n + ".5") + ", " + (i % 4 == 0 ? "-0.0" : n) + ", " +
           (i % 2 == 0 ? "1" : "0") + ", '2024-01-01 12:00:00+02', x'00ff" +
           (i % 2 == 0 ? "00" : "") + "');";
  }
  db.Exec(sql + "COMMIT;");
}

TEST_F(WatcherTest, AaRunOfAFaithfulCopyReportsNothing) {
  MakeLegacy(kMixedSchema, {"items"});
  FillItems(*db_, 100);
  CopyToReadModel("items");
  for (std::size_t chunk : {1u, 7u, 100u, 1000u}) {
    Result<WatchFigures> figures = Check({"items"}, chunk);
    ASSERT_TRUE(figures.ok()) << figures.status().ToString();
    EXPECT_TRUE(figures->in_sync()) << chunk;
    EXPECT_EQ(figures->rows_checked, 100u);
    EXPECT_EQ(figures->rechecked, 0u);
    EXPECT_TRUE(found_.empty());
  }
}

TEST_F(WatcherTest, InjectedDriftOfEveryKindIsFoundExactly) {
  MakeLegacy(kMixedSchema, {"items"});
  FillItems(*db_, 50);
  CopyToReadModel("items");
  Rm([](ReadModelBatch& b) {
    ASSERT_TRUE(b.Delete("items", Key{std::int64_t{1}}).ok());   // first row
    ASSERT_TRUE(b.Delete("items", Key{std::int64_t{10}}).ok());  // a chunk boundary
    ASSERT_TRUE(b.Delete("items", Key{std::int64_t{50}}).ok());  // last row
    Row extra{std::int64_t{1000},
              Value{std::string("ghost")},
              Value{},
              Value{},
              Value{},
              Value{},
              Value{}};
    ASSERT_TRUE(b.Put("items", extra).ok());  // after the last legacy key
    extra[0] = std::int64_t{0};
    ASSERT_TRUE(b.Put("items", extra).ok());  // before the first
    extra[0] = std::int64_t{-5};
    ASSERT_TRUE(b.Put("items", extra).ok());
  });
  std::optional<Row> row = *read_model_->Get("items", Key{std::int64_t{22}});
  ASSERT_TRUE(row.has_value());
  (*row)[1] = std::string("changed");  // name
  (*row)[3] = Value{};                 // weight
  Rm([&](ReadModelBatch& b) { ASSERT_TRUE(b.Put("items", *row).ok()); });

  for (std::size_t chunk : {1u, 2u, 10u, 1000u}) {
    found_.clear();
    Result<WatchFigures> figures = Check({"items"}, chunk);
    ASSERT_TRUE(figures.ok()) << figures.status().ToString();
    const std::set<Found> expected = {
        {"items", "missing", "{\"id\":1}", ""},      {"items", "missing", "{\"id\":10}", ""},
        {"items", "missing", "{\"id\":50}", ""},     {"items", "extra", "{\"id\":1000}", ""},
        {"items", "extra", "{\"id\":0}", ""},        {"items", "extra", "{\"id\":-5}", ""},
        {"items", "changed", "{\"id\":22}", "name"}, {"items", "changed", "{\"id\":22}", "weight"},
    };
    EXPECT_EQ(found_, expected) << "chunk " << chunk;
    EXPECT_EQ(figures->missing, 3u);
    EXPECT_EQ(figures->extra, 3u);
    EXPECT_EQ(figures->changed, 2u);
    EXPECT_EQ(figures->rows_checked, 50u);
  }
  const auto changed = std::find_if(differences_.begin(), differences_.end(),
                                    [](auto& d) { return d.kind == DifferenceKind::kChanged; });
  ASSERT_NE(changed, differences_.end());
  ASSERT_EQ(changed->columns.size(), 2u);
  EXPECT_EQ(changed->columns[0].legacy_json, "\"name 22 caf\xc3\xa9\"");
  EXPECT_EQ(changed->columns[0].read_model_json, "\"changed\"");
  EXPECT_EQ(changed->columns[1].legacy_json, "22.0");
  EXPECT_EQ(changed->columns[1].read_model_json, "null");
}

TEST_F(WatcherTest, CompositeKeysCompareColumnByColumnAndCaseMatters) {
  MakeLegacy(
      "CREATE TABLE order_lines (order_id INTEGER, name TEXT, qty INTEGER, "
      "PRIMARY KEY (order_id, name));",
      {"order_lines"});
  db_->Exec(
      "INSERT INTO order_lines VALUES (1, 'Bob', 1), (1, 'bob', 2), (2, 'Bob', 3), (2, 'a', 4), "
      "(10, 'x', 5);");
  CopyToReadModel("order_lines");
  Result<WatchFigures> same = Check({"order_lines"}, 2);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->in_sync());
  Rm([](ReadModelBatch& b) {
    ASSERT_TRUE(b.Delete("order_lines", Key{std::int64_t{1}, std::string("bob")}).ok());
    ASSERT_TRUE(
        b.Put("order_lines", Row{std::int64_t{1}, std::string("BOB"), std::int64_t{2}}).ok());
    ASSERT_TRUE(
        b.Put("order_lines", Row{std::int64_t{2}, std::string("Bob"), std::int64_t{30}}).ok());
  });
  Result<WatchFigures> figures = Check({"order_lines"}, 2);
  ASSERT_TRUE(figures.ok()) << figures.status().ToString();
  const std::set<Found> expected = {
      {"order_lines", "missing", "{\"order_id\":1,\"name\":\"bob\"}", ""},
      {"order_lines", "extra", "{\"order_id\":1,\"name\":\"BOB\"}", ""},
      {"order_lines", "changed", "{\"order_id\":2,\"name\":\"Bob\"}", "qty"},
  };
  EXPECT_EQ(found_, expected);
}

TEST_F(WatcherTest, NormalisedValuesAreInSyncAndRealDifferencesAreReported) {
  MakeLegacy(
      "CREATE TABLE v (id INTEGER PRIMARY KEY, r REAL, d DECIMAL(10,3), t TEXT, b BOOLEAN, "
      "tz TIMESTAMPTZ, ts TIMESTAMP);",
      {"v"});
  db_->Exec(
      "INSERT INTO v VALUES (1, 1, '1.10', '', 't', '2024-01-01 12:00:00+02', "
      "'2024-01-01 12:00:00.500'), (2, -0.0, 100, NULL, 0, NULL, NULL), "
      "(3, 1.5, '1e2', '<null>', 'TRUE', NULL, NULL);");
  Result<TableSchema> schema = MirrorTableSchema(*source_->DescribeTable("v"));
  ASSERT_TRUE(schema.ok());
  // Values as another writer (or a PostgreSQL pipeline) might have spelled them.
  Rm([&](ReadModelBatch& b) {
    ASSERT_TRUE(b.CreateTable(*schema).ok());
    ASSERT_TRUE(
        b.Put("v", Row{std::int64_t{1}, 1.0, std::string("1.1"), std::string(""), std::int64_t{1},
                       std::string("2024-01-01T10:00:00Z"), std::string("2024-01-01T12:00:00.5")})
            .ok());
    ASSERT_TRUE(b.Put("v", Row{std::int64_t{2}, 0.0, std::string("1e2"), Value{}, std::int64_t{0},
                               Value{}, Value{}})
                    .ok());
    ASSERT_TRUE(b.Put("v", Row{std::int64_t{3}, 1.5, std::string("100.000"), std::string("<null>"),
                               std::int64_t{1}, Value{}, Value{}})
                    .ok());
  });
  Result<WatchFigures> same = Check({"v"}, 1000);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->in_sync());
  EXPECT_TRUE(found_.empty());
  Rm([&](ReadModelBatch& b) {
    ASSERT_TRUE(
        b.Put("v", Row{std::int64_t{1}, 1.5, std::string("1.11"), Value{}, std::int64_t{0},
                       std::string("2024-01-01T12:00:00Z"), std::string("2024-01-01T12:00:00.05")})
            .ok());
    ASSERT_TRUE(b.Put("v", Row{std::int64_t{3}, 1.5, std::string("100.000"), Value{},
                               std::int64_t{1}, Value{}, Value{}})
                    .ok());
  });
  Result<WatchFigures> figures = Check({"v"}, 1000);
  ASSERT_TRUE(figures.ok());
  const std::set<Found> expected = {
      {"v", "changed", "{\"id\":1}", "r"},  {"v", "changed", "{\"id\":1}", "d"},
      {"v", "changed", "{\"id\":1}", "t"},  {"v", "changed", "{\"id\":1}", "b"},
      {"v", "changed", "{\"id\":1}", "tz"}, {"v", "changed", "{\"id\":1}", "ts"},
      {"v", "changed", "{\"id\":3}", "t"},
  };
  EXPECT_EQ(found_, expected);
}

TEST_F(WatcherTest, Utf16LegacyDatabaseWithNonAsciiTextIsInSync) {
  MakeLegacy("CREATE TABLE people (name TEXT PRIMARY KEY, city TEXT);", {"people"},
             "PRAGMA encoding = 'UTF-16le';");
  ASSERT_EQ(db_->Query("PRAGMA encoding")[0][0], "UTF-16le");
  db_->Exec(
      "INSERT INTO people VALUES ('J\xc3\xbcrgen', 'M\xc3\xbcnchen'), ('\xe5\xb1\xb1\xe7\x94\xb0', "
      "'\xe6\x9d\xb1\xe4\xba\xac'), ('Zo\xc3\xab', 'Cura\xc3\xa7\x61o');");
  Result<TableSchema> schema = MirrorTableSchema(*source_->DescribeTable("people"));
  ASSERT_TRUE(schema.ok());
  Rm([&](ReadModelBatch& b) {
    ASSERT_TRUE(b.CreateTable(*schema).ok());
    ASSERT_TRUE(
        b.Put("people", Row{std::string("J\xc3\xbcrgen"), std::string("M\xc3\xbcnchen")}).ok());
    ASSERT_TRUE(b.Put("people", Row{std::string("\xe5\xb1\xb1\xe7\x94\xb0"),
                                    std::string("\xe6\x9d\xb1\xe4\xba\xac")})
                    .ok());
    // Decomposed ü: a different string, reported.
    ASSERT_TRUE(
        b.Put("people", Row{std::string("Zo\xc3\xab"), std::string("Curac\xcc\xa7\x61o")}).ok());
  });
  Result<WatchFigures> figures = Check({"people"}, 2);
  ASSERT_TRUE(figures.ok()) << figures.status().ToString();
  const std::set<Found> expected = {{"people", "changed", "{\"name\":\"Zo\xc3\xab\"}", "city"}};
  EXPECT_EQ(found_, expected);
  EXPECT_EQ(figures->rows_checked, 3u);
}

TEST_F(WatcherTest, MissingReadModelTableReportsEveryRowMissing) {
  MakeLegacy(kMixedSchema, {"items"});
  FillItems(*db_, 5);
  Result<WatchFigures> figures = Check({"items"}, 2);
  ASSERT_TRUE(figures.ok()) << figures.status().ToString();
  EXPECT_EQ(figures->missing, 5u);
  EXPECT_EQ(found_.size(), 5u);
}

TEST_F(WatcherTest, ReadModelTableWithoutAColumnIsAnErrorNamingIt) {
  MakeLegacy(kMixedSchema, {"items"});
  Rm([](ReadModelBatch& b) {
    TableSchema schema{"items", {{"id", ColumnType::kInteger}}, {{"name", ColumnType::kText}}};
    ASSERT_TRUE(b.CreateTable(schema).ok());
  });
  Result<WatchFigures> figures = Check({"items"}, 2);
  ASSERT_FALSE(figures.ok());
  EXPECT_EQ(figures.status().code(), StatusCode::kCorruption);
  EXPECT_NE(figures.status().message().find("'price'"), std::string::npos)
      << figures.status().message();
}

TEST_F(WatcherTest, UnknownTableIsInvalidArgument) {
  MakeLegacy(kMixedSchema, {"items"});
  Result<WatchFigures> figures = Check({"nope"}, 2);
  ASSERT_FALSE(figures.ok());
  EXPECT_EQ(figures.status().code(), StatusCode::kInvalidArgument);
}

// A source whose snapshots ignore `after` and return the first rows again, as a key type that
// compares differently in SQL and in CompareKeys would (PostgreSQL char(n) did).
class RestartingSource final : public LegacySource {
 public:
  explicit RestartingSource(LegacySource& inner) : inner_(inner) {}
  Status Install(const std::vector<std::string>& t) override { return inner_.Install(t); }
  Status Uninstall(const std::vector<std::string>& t) override { return inner_.Uninstall(t); }
  Result<std::vector<Change>> ReadChanges(ChangeId after, std::size_t limit) override {
    return inner_.ReadChanges(after, limit);
  }
  Result<SourceDescription> Describe() override { return inner_.Describe(); }
  Result<LegacyTable> DescribeTable(const std::string& t) override {
    return inner_.DescribeTable(t);
  }
  Result<std::unique_ptr<LegacySnapshot>> OpenSnapshot() override {
    Result<std::unique_ptr<LegacySnapshot>> snapshot = inner_.OpenSnapshot();
    if (!snapshot.ok()) return snapshot.status();
    return std::unique_ptr<LegacySnapshot>(new Restarting(std::move(*snapshot)));
  }
  Result<std::optional<std::vector<Key>>> KeysChangedAfter(const LegacyTable& t,
                                                           const CapturePosition& p,
                                                           std::size_t limit) override {
    return inner_.KeysChangedAfter(t, p, limit);
  }
  Result<ChangeId> LoadCheckpoint(std::string_view c) override { return inner_.LoadCheckpoint(c); }
  Status SaveCheckpoint(std::string_view c, ChangeId id) override {
    return inner_.SaveCheckpoint(c, id);
  }

 private:
  class Restarting final : public LegacySnapshot {
   public:
    explicit Restarting(std::unique_ptr<LegacySnapshot> inner) : inner_(std::move(inner)) {}
    const CapturePosition& position() const override { return inner_->position(); }
    Result<std::vector<Row>> ReadRows(const LegacyTable& t, const Key*, std::size_t n) override {
      return inner_->ReadRows(t, nullptr, n);
    }
    Result<std::optional<Row>> ReadRow(const LegacyTable& t, const Key& key) override {
      return inner_->ReadRow(t, key);
    }

   private:
    std::unique_ptr<LegacySnapshot> inner_;
  };
  LegacySource& inner_;
};

TEST_F(WatcherTest, KeysThatDoNotIncreaseAreCorruptionNotAnEndlessLoop) {
  MakeLegacy(kMixedSchema, {"items"});
  FillItems(*db_, 30);
  CopyToReadModel("items");
  RestartingSource restarting(*source_);
  SyncWatcher watcher(restarting, *read_model_, NoWait(2));
  Result<WatchFigures> figures = watcher.Check({"items"});
  ASSERT_FALSE(figures.ok());
  EXPECT_EQ(figures.status().code(), StatusCode::kCorruption) << figures.status().ToString();
  EXPECT_NE(figures.status().message().find("'items'"), std::string::npos)
      << figures.status().ToString();
  // Decimal keys (looked up by key, not compared by range) too.
  db_->Exec("CREATE TABLE prices (p NUMERIC PRIMARY KEY, label TEXT);");
  db_->Exec("INSERT INTO prices VALUES (2, 'two'), (10, 'ten'), (1.5, 'one and a half');");
  CopyToReadModel("prices");
  Result<WatchFigures> points = watcher.Check({"prices"});
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.status().code(), StatusCode::kCorruption) << points.status().ToString();
  EXPECT_NE(points.status().message().find("'prices'"), std::string::npos)
      << points.status().ToString();
}

TEST_F(WatcherTest, DecimalKeysAreLookedUpByKey) {
  MakeLegacy("CREATE TABLE prices (p NUMERIC PRIMARY KEY, label TEXT);", {"prices"});
  db_->Exec("INSERT INTO prices VALUES (2, 'two'), (10, 'ten'), (1.5, 'one and a half');");
  CopyToReadModel("prices");
  Result<WatchFigures> same = Check({"prices"}, 2);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->in_sync());
  Rm([](ReadModelBatch& b) {
    ASSERT_TRUE(b.Delete("prices", Key{std::string("10")}).ok());
    ASSERT_TRUE(b.Put("prices", Row{std::string("7"), std::string("seven")}).ok());
  });
  Result<WatchFigures> figures = Check({"prices"}, 2);
  ASSERT_TRUE(figures.ok()) << figures.status().ToString();
  const std::set<Found> expected = {{"prices", "missing", "{\"p\":10}", ""},
                                    {"prices", "extra", "{\"p\":\"7\"}", ""}};
  EXPECT_EQ(found_, expected);
}

// Changes between the legacy read and the read-model read (at chunk boundaries, on both sides of
// them) are in flight: rechecked, never reported, and a read model that follows them is in sync.
TEST_F(WatcherTest, ChangesDuringTheCheckAreRecheckedNotReported) {
  MakeLegacy("CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER);", {"items"});
  std::string sql = "BEGIN;";
  for (int i = 1; i <= 40; ++i) sql += "INSERT INTO items VALUES (" + std::to_string(i) + ", 0);";
  db_->Exec(sql + "COMMIT;");
  CopyToReadModel("items");
  WatcherOptions options = NoWait(10);
  int calls = 0;
  options.wait = [&](const std::string&, const CapturePosition&) {
    // Legacy writes the read model follows at once: deletes and inserts at chunk boundaries.
    ++calls;
    const std::string a = std::to_string(calls * 10);
    const std::string b = std::to_string(calls * 10 + 1);
    const std::string c = std::to_string(100 + calls);
    db_->Exec("DELETE FROM items WHERE id IN (" + a + ", " + b + "); INSERT INTO items VALUES (" +
              c + ", 1), (" + std::to_string(calls * 10 + 5) + "5, 2);");
    Rm([&](ReadModelBatch& batch) {
      ASSERT_TRUE(batch.Delete("items", Key{std::int64_t{calls * 10}}).ok());
      ASSERT_TRUE(batch.Delete("items", Key{std::int64_t{calls * 10 + 1}}).ok());
      ASSERT_TRUE(batch.Put("items", Row{std::int64_t{100 + calls}, std::int64_t{1}}).ok());
      ASSERT_TRUE(
          batch.Put("items", Row{std::int64_t{(calls * 10 + 5) * 10 + 5}, std::int64_t{2}}).ok());
    });
    return Status::Ok();
  };
  SyncWatcher watcher(*source_, *read_model_, options);
  Result<WatchFigures> figures = watcher.Check({"items"});
  ASSERT_TRUE(figures.ok()) << figures.status().ToString();
  EXPECT_TRUE(found_.empty());
  EXPECT_TRUE(figures->in_sync());
  EXPECT_GT(figures->rechecked, 0u);
  EXPECT_EQ(figures->unsettled, 0u);
}

// The whole pipeline in process: a writer at full speed, the tailer and the mirror projection
// keep the read model in step; the watcher (with the real PipelineWait) reports nothing. Then
// drift, repair dry run and apply, and a second apply that appends nothing.
TEST_F(WatcherTest, LivePipelineHasNoFalsePositivesAndRepairConverges) {
  MakeLegacy("CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER, note TEXT);", {"items"},
             "PRAGMA journal_mode = WAL;");
  std::string sql = "BEGIN;";
  for (int i = 1; i <= 2000; ++i) {
    sql += "INSERT INTO items VALUES (" + std::to_string(i) + ", 0, 'n');";
  }
  db_->Exec(sql + "COMMIT;");
  InMemoryEventStore store;
  std::atomic<bool> stop{false};
  std::atomic<bool> tail_failed{false};
  std::thread tail;
  std::thread writer;
  std::atomic<bool> stop_writer{false};
  // Joins the threads however the test ends.
  struct Joiner {
    std::atomic<bool>& a;
    std::atomic<bool>& b;
    std::thread& x;
    std::thread& y;
    ~Joiner() {
      a = true;
      b = true;
      if (x.joinable()) x.join();
      if (y.joinable()) y.join();
    }
  } joiner{stop, stop_writer, tail, writer};
  tail = std::thread([&] {
    Result<std::unique_ptr<LegacySource>> source = OpenSqliteLegacySource(db_path_);
    ASSERT_TRUE(source.ok());
    TailerOptions tailer_options;
    tailer_options.tables = {"items"};
    Tailer tailer(**source, store, tailer_options);
    while (!stop.load()) {
      Result<TailProgress> step = tailer.Step();
      if (!step.ok() && step.status().code() == StatusCode::kUnavailable) {
        // The legacy writer held SQLite's write lock past the busy timeout: try again.
        continue;
      }
      if (!step.ok()) {
        tail_failed = true;
        ADD_FAILURE() << step.status().ToString();
        return;
      }
      if (step->changes == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  // Wait for the schema event, then start the mirror.
  Result<std::optional<LegacyTable>> schema = std::optional<LegacyTable>();
  for (int i = 0; i < 2000 && !tail_failed; ++i) {
    schema = LoadSchema(store, "items");
    if (schema.ok() && schema->has_value()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(schema.ok() && schema->has_value());
  Result<std::shared_ptr<Projection>> projection = MakeMirrorProjection(**schema);
  ASSERT_TRUE(projection.ok()) << projection.status().ToString();
  Result<std::unique_ptr<ProjectionWorker>> worker =
      ProjectionWorker::Start(store, *read_model_, *projection);
  ASSERT_TRUE(worker.ok()) << worker.status().ToString();

  std::atomic<int> writes{0};
  writer = std::thread([&] {
    LegacyDb db(db_path_);
    for (int i = 0; !stop_writer.load(); ++i) {
      const std::string id = std::to_string(i * 7919 % 2600 + 1);
      switch (i % 3) {
        case 0:
          (void)db.TryExec("UPDATE items SET v = v + 1, note = 'w" + std::to_string(i) +
                           "' WHERE id = " + id);
          break;
        case 1:
          (void)db.TryExec("DELETE FROM items WHERE id = " + id);
          break;
        default:
          (void)db.TryExec("INSERT OR IGNORE INTO items VALUES (" + id + ", " + std::to_string(i) +
                           ", 'i')");
      }
      ++writes;
    }
  });

  PipelineWaitOptions wait_options;
  wait_options.consumer = "tail:items";
  wait_options.store_head = [&]() -> Result<GlobalPosition> { return store.HeadPosition(); };
  wait_options.timeout = std::chrono::milliseconds(120'000);
  WatcherOptions options = NoWait(100);
  options.wait = PipelineWait(*source_, *read_model_, wait_options);
  options.recheck_delay = std::chrono::milliseconds(50);
  options.recheck_rounds = 20;
  SyncWatcher watcher(*source_, *read_model_, options);
  for (int round = 0; round < 3; ++round) {
    Result<WatchFigures> figures = watcher.Check({"items"});
    ASSERT_TRUE(figures.ok()) << figures.status().ToString();
    EXPECT_TRUE(figures->in_sync()) << "round " << round;
    EXPECT_GT(figures->rows_checked, 0u);
  }
  EXPECT_TRUE(found_.empty());
  stop_writer = true;
  writer.join();
  EXPECT_GT(writes.load(), 0);
  EXPECT_EQ(watcher.Figures().tables, std::vector<std::string>{"items"});

  // Drift behind the log's back: one of each kind, once the pipeline has applied every change
  // (so the restarted worker replays nothing over the drifted rows).
  Result<SourceDescription> now = source_->Describe();
  ASSERT_TRUE(now.ok());
  for (int i = 0; i < 12'000; ++i) {
    Result<ChangeId> tailed = source_->LoadCheckpoint("tail:items");
    ASSERT_TRUE(tailed.ok());
    if (*tailed >= now->last_change_id) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Result<LegacyTable> legacy = source_->DescribeTable("items");
  ASSERT_TRUE(legacy.ok());
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE((*worker)->WaitFor(store.HeadPosition(), std::chrono::milliseconds(120'000)).ok());
  (*worker)->Stop();
  Result<std::vector<Row>> some = read_model_->Scan("items", nullptr, 3);
  ASSERT_TRUE(some.ok() && some->size() == 3);
  Rm([&](ReadModelBatch& b) {
    ASSERT_TRUE(b.Delete("items", KeyOf(*MirrorTableSchema(*legacy), (*some)[0])).ok());
    Row changed = (*some)[1];
    changed[2] = std::string("drift");
    ASSERT_TRUE(b.Put("items", changed).ok());
    ASSERT_TRUE(b.Put("items", Row{std::int64_t{999'999}, std::int64_t{1}, Value{}}).ok());
  });
  worker = ProjectionWorker::Start(store, *read_model_, *projection);
  ASSERT_TRUE(worker.ok());

  found_.clear();
  differences_.clear();
  Result<WatchFigures> drift = watcher.Check({"items"});
  ASSERT_TRUE(drift.ok()) << drift.status().ToString();
  EXPECT_EQ(drift->missing, 1u);
  EXPECT_EQ(drift->extra, 1u);
  EXPECT_EQ(drift->changed, 1u);
  ASSERT_EQ(differences_.size(), 3u);

  // Dry run: plans, changes nothing.
  const GlobalPosition head = store.HeadPosition();
  std::vector<RepairEvent> planned;
  for (const RowDifference& d : differences_) {
    Result<RepairEvent> repair = PlanRepair(*legacy, d);
    ASSERT_TRUE(repair.ok()) << repair.status().ToString();
    EXPECT_EQ(repair->event.metadata.extra.at("repair"), "true");
    EXPECT_EQ(repair->event.type,
              d.kind == DifferenceKind::kExtra ? "items.RowDeleted.v1" : "items.RowUpdated.v1");
    planned.push_back(*repair);
  }
  EXPECT_EQ(store.HeadPosition(), head);

  RepairOptions repair_options;
  repair_options.events_per_second = 100;
  RepairAppender appender(store, repair_options);
  for (const RepairEvent& repair : planned) {
    Result<bool> appended = appender.Append(repair);
    ASSERT_TRUE(appended.ok()) << appended.status().ToString();
    EXPECT_TRUE(*appended);
  }
  found_.clear();
  Result<WatchFigures> after = watcher.Check({"items"});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->in_sync());
  EXPECT_TRUE(found_.empty());
  // Repairing again appends nothing.
  const GlobalPosition repaired_head = store.HeadPosition();
  for (const RepairEvent& repair : planned) {
    Result<bool> appended = appender.Append(repair);
    ASSERT_TRUE(appended.ok());
    EXPECT_FALSE(*appended);
  }
  EXPECT_EQ(store.HeadPosition(), repaired_head);

  stop = true;
  tail.join();
  (*worker)->Stop();
}

}  // namespace
}  // namespace sluice::migration
