// The backfill: existing rows loaded while the legacy application keeps writing converge with live
// capture (the mirror equals the legacy table), resume after a stop, survive changes at chunk
// boundaries and never append anything twice.
#include "sluice/migration/backfill.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "event_checks.h"
#include "legacy_db.h"
#include "mirror_check.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/migration/sqlite_legacy_source.h"
#include "sluice/projections/in_memory_read_model_store.h"
#include "sluice/projections/projection_worker.h"

namespace sluice::migration {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::LegacyDb;

using testing::AllEvents;

void ExpectNoDuplicates(EventStore& store) { testing::ExpectNoDuplicates(AllEvents(store)); }

std::size_t CountBackfilled(EventStore& store) {
  std::size_t count = 0;
  for (const RecordedEvent& event : AllEvents(store)) {
    if (event.metadata.extra.count("backfill") != 0 && event.type.ends_with(".RowInserted.v1")) {
      ++count;
    }
  }
  return count;
}

class BackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("backfill");
    path_ = (dir_ / "legacy.db").string();
    db_ = std::make_unique<LegacyDb>(path_);
    db_->Exec("PRAGMA journal_mode = WAL");
    db_->Exec(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER, s TEXT);"
        "CREATE TABLE lines (o INTEGER, k TEXT, q REAL, PRIMARY KEY (o, k));");
    source_ = Open();
  }
  void TearDown() override {
    source_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<LegacySource> Open() {
    Result<std::unique_ptr<LegacySource>> source = OpenSqliteLegacySource(path_);
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return source.ok() ? std::move(*source) : nullptr;
  }

  void Insert(int from, int to, int step = 1) {
    std::string sql = "BEGIN;";
    for (int id = from; id < to; id += step) {
      sql += "INSERT INTO items VALUES (" + std::to_string(id) + ", " + std::to_string(id * 3) +
             ", 's" + std::to_string(id) + "');";
      sql += "INSERT INTO lines VALUES (" + std::to_string(id % 7) + ", 'k" + std::to_string(id) +
             "', " + std::to_string(id) + ".5);";
    }
    db_->Exec(sql + "COMMIT;");
  }

  Result<std::vector<BackfillProgress>> RunBackfill(EventStore& store, BackfillOptions options) {
    Backfill backfill(*source_, store, {"items", "lines"}, std::move(options));
    return backfill.Run();
  }

  // Runs the mirrors over the whole log and compares them with the legacy tables.
  void ExpectMirrorsEqualLegacy(EventStore& store) {
    std::unique_ptr<ReadModelStore> read_model = NewInMemoryReadModelStore();
    Result<std::vector<std::shared_ptr<Projection>>> projections =
        MakeMirrorProjections(store, {"items", "lines"});
    ASSERT_TRUE(projections.ok()) << projections.status().ToString();
    for (const auto& projection : *projections) {
      ProjectionOptions options;
      options.failure.then = OnFailure::kStop;
      options.failure.max_attempts = 1;
      auto worker = ProjectionWorker::Start(store, *read_model, projection, options);
      ASSERT_TRUE(worker.ok()) << worker.status().ToString();
      const Status reached = (*worker)->WaitFor(store.HeadPosition(), milliseconds(60'000));
      ASSERT_TRUE(reached.ok()) << reached.ToString();
    }
    for (const std::string table : {"items", "lines"}) {
      const std::vector<Row> expected = testing::ExpectedMirrorRows(*source_, table);
      EXPECT_EQ(testing::Describe(testing::ReadModelRows(*read_model, table)),
                testing::Describe(expected))
          << table;
    }
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<LegacyDb> db_;
  std::unique_ptr<LegacySource> source_;
};

TEST_F(BackfillTest, LoadsExistingRowsAndReportsTotals) {
  Insert(1, 251);
  ASSERT_TRUE(source_->Install({"items", "lines"}).ok());
  InMemoryEventStore store;
  std::vector<BackfillProgress> seen;
  BackfillOptions options;
  options.chunk_rows = 100;
  options.on_progress = [&](const BackfillProgress& p) { seen.push_back(p); };
  Result<std::vector<BackfillProgress>> done = RunBackfill(store, options);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(done->size(), 2u);
  for (const BackfillProgress& p : *done) {
    EXPECT_TRUE(p.done) << p.table;
    EXPECT_EQ(p.rows, 250u) << p.table;
    EXPECT_EQ(p.loaded, 250u) << p.table;
    EXPECT_EQ(p.skipped, 0u) << p.table;
    EXPECT_EQ(p.chunks, 3u) << p.table;
  }
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(CountBackfilled(store), 500u);
  // The schema events come before the rows; progress is in <table>.backfill.
  const std::vector<RecordedEvent> events = AllEvents(store);
  EXPECT_EQ(events.front().type, "items.SchemaCaptured.v1");
  Result<std::vector<RecordedEvent>> progress =
      store.ReadStream(*StreamId::Make("items.backfill"), 0, 100);
  ASSERT_TRUE(progress.ok());
  ASSERT_EQ(progress->size(), 3u);
  const json last = json::parse(progress->back().payload);
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["rows"], 250);
  EXPECT_EQ(last["after"], json::parse(R"({"id": 250})"));
  const RecordedEvent& row = events[1];
  EXPECT_EQ(row.type, "items.RowInserted.v1");
  EXPECT_EQ(row.metadata.extra.at("backfill"), "true");
  EXPECT_EQ(row.metadata.extra.at("source").rfind("migration:", 0), 0u);
  ExpectNoDuplicates(store);
  ExpectMirrorsEqualLegacy(store);

  // Done is done: a rerun reads nothing and appends nothing.
  const std::size_t before = AllEvents(store).size();
  Result<std::vector<BackfillProgress>> again = RunBackfill(store, options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(AllEvents(store).size(), before);
  EXPECT_EQ((*again)[0].rows, 250u);
}

TEST_F(BackfillTest, ConvergesWithLiveCaptureWhileAWriterKeepsWriting) {
  Insert(1, 3001);
  ASSERT_TRUE(source_->Install({"items", "lines"}).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([this, &stop, &writes] {
    LegacyDb db(path_);
    std::mt19937 random(11);
    int next = 3001;
    while (!stop.load()) {
      const int id = 1 + static_cast<int>(random() % 3400);
      const std::string n = std::to_string(writes.load());
      switch (random() % 6) {
        case 0:
          db.TryExec("INSERT INTO items VALUES (" + std::to_string(next++) + ", " + n + ", 'w')");
          break;
        case 1:
          db.TryExec("UPDATE items SET v = " + n + " WHERE id = " + std::to_string(id));
          break;
        case 2:
          db.TryExec("DELETE FROM items WHERE id = " + std::to_string(id));
          break;
        case 3:  // a primary-key update
          db.TryExec("UPDATE items SET id = " + std::to_string(next++) +
                     " WHERE id = " + std::to_string(id));
          break;
        case 4:
          db.TryExec("UPDATE lines SET q = " + n + ".25 WHERE k = 'k" + std::to_string(id) + "'");
          break;
        default:
          db.TryExec("BEGIN; DELETE FROM lines WHERE k = 'k" + std::to_string(id) +
                     "'; INSERT OR IGNORE INTO lines VALUES (9, 'n" + n + "', 1.0); COMMIT;");
      }
      writes.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  InMemoryEventStore store;
  BackfillOptions options;
  options.chunk_rows = 97;
  Result<std::vector<BackfillProgress>> done = RunBackfill(store, options);
  // Let the writer go on a little after the backfill, then stop it.
  while (writes.load() < 500) std::this_thread::sleep_for(milliseconds(5));
  stop.store(true);
  writer.join();
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  Tailer tailer(*source_, store, TailerOptions{{"items", "lines"}, "", 500, nullptr});
  ASSERT_TRUE(tailer.CatchUp().ok());
  ExpectNoDuplicates(store);
  ExpectMirrorsEqualLegacy(store);
  EXPECT_GT((*done)[0].skipped + (*done)[0].loaded, 0u);
}

TEST_F(BackfillTest, AStoppedBackfillResumesWhereItStopped) {
  Insert(1, 1001);
  ASSERT_TRUE(source_->Install({"items", "lines"}).ok());
  InMemoryEventStore store;
  std::atomic<bool> stop{false};
  int chunks = 0;
  BackfillOptions options;
  options.chunk_rows = 64;
  options.stop = &stop;
  options.on_progress = [&](const BackfillProgress&) {
    if (++chunks == 5) stop.store(true);
  };
  Result<std::vector<BackfillProgress>> first = RunBackfill(store, options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE((*first)[0].done);
  EXPECT_EQ((*first)[0].rows, 5u * 64);
  EXPECT_FALSE((*first)[1].done);
  EXPECT_EQ((*first)[1].rows, 0u);
  db_->Exec("DELETE FROM items WHERE id = 2; UPDATE items SET v = -1 WHERE id = 900;");

  stop.store(false);
  options.on_progress = nullptr;
  Result<std::vector<BackfillProgress>> second = RunBackfill(store, options);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE((*second)[0].done);
  EXPECT_EQ((*second)[0].rows, 1000u);  // 320 before the stop, 680 after it
  EXPECT_EQ((*second)[0].chunks, 16u);
  EXPECT_TRUE((*second)[1].done);
  EXPECT_EQ((*second)[1].rows, 1000u);
  ExpectNoDuplicates(store);
  ExpectMirrorsEqualLegacy(store);
}

TEST_F(BackfillTest, RedoingChunksAfterACrashAppendsNothingTwice) {
  Insert(1, 301);
  ASSERT_TRUE(source_->Install({"items", "lines"}).ok());
  InMemoryEventStore complete;
  BackfillOptions options;
  options.chunk_rows = 50;
  ASSERT_TRUE(RunBackfill(complete, options).ok());
  // A store as a crash could leave it: every row event appended, the last progress events of
  // items (chunks 5, 6, 7) lost.
  InMemoryEventStore crashed;
  int items_progress = 0;
  for (const RecordedEvent& event : AllEvents(complete)) {
    if (event.stream == "items.backfill" && ++items_progress >= 5) continue;
    EventData data{event.event_id, event.type, event.content_type, event.payload, event.metadata};
    ASSERT_TRUE(crashed.Append(*StreamId::Make(event.stream), ExpectedVersion::Any(), {data}).ok());
  }
  Result<std::vector<BackfillProgress>> redone = RunBackfill(crashed, options);
  ASSERT_TRUE(redone.ok()) << redone.status().ToString();
  EXPECT_TRUE((*redone)[0].done);
  EXPECT_EQ((*redone)[0].rows, 300u);
  EXPECT_EQ((*redone)[0].loaded, 300u);  // redone rows are recognised as loaded before
  EXPECT_EQ(CountBackfilled(crashed), 600u);
  ExpectNoDuplicates(crashed);
  ExpectMirrorsEqualLegacy(crashed);
}

TEST_F(BackfillTest, ChangesAtChunkBoundariesConverge) {
  Insert(10, 1001, 10);  // ids 10, 20, ..., 1000
  ASSERT_TRUE(source_->Install({"items", "lines"}).ok());
  InMemoryEventStore store;
  BackfillOptions options;
  options.chunk_rows = 10;
  std::vector<std::int64_t> boundaries;
  options.on_progress = [&](const BackfillProgress& p) {
    if (p.table != "items" || p.done) return;
    Result<std::vector<RecordedEvent>> progress =
        store.ReadStream(*StreamId::Make("items.backfill"), kStreamEnd, 1, Direction::kBackward);
    ASSERT_TRUE(progress.ok());
    const std::int64_t last =  // the chunk's last id
        json::parse(progress->front().payload)["after"]["id"].get<std::int64_t>();
    boundaries.push_back(last);
    const std::string l = std::to_string(last);
    LegacyDb db(path_);
    db.Exec("INSERT INTO items VALUES (" + l + " + 1, 1, 'just after');" +
            "INSERT INTO items VALUES (" + l + " - 1, 1, 'just before');" +
            "DELETE FROM items WHERE id = " + l + " + 10;" +  // the next chunk's first row
            "UPDATE items SET s = 'changed' WHERE id = " + l + ";");
  };
  Result<std::vector<BackfillProgress>> done = RunBackfill(store, options);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_FALSE(boundaries.empty());
  ExpectNoDuplicates(store);
  ExpectMirrorsEqualLegacy(store);
}

TEST_F(BackfillTest, ExactMultiplesOfTheChunkSizeAndEmptyTablesFinish) {
  Insert(1, 41);
  db_->Exec("DELETE FROM lines");
  ASSERT_TRUE(source_->Install({"items", "lines"}).ok());
  for (std::size_t chunk : {1u, 20u, 40u, 41u}) {
    InMemoryEventStore store;
    BackfillOptions options;
    options.chunk_rows = chunk;
    Result<std::vector<BackfillProgress>> done = RunBackfill(store, options);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_TRUE((*done)[0].done);
    EXPECT_EQ((*done)[0].rows, 40u) << chunk;
    EXPECT_EQ((*done)[0].chunks, 40 / chunk + 1) << chunk;
    EXPECT_TRUE((*done)[1].done);
    EXPECT_EQ((*done)[1].rows, 0u);
    EXPECT_EQ(CountBackfilled(store), 40u);
    ExpectMirrorsEqualLegacy(store);
  }
}

TEST_F(BackfillTest, RefusesTablesWithoutCapture) {
  InMemoryEventStore store;
  EXPECT_EQ(RunBackfill(store, {}).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(source_->Install({"items"}).ok());
  Result<std::vector<BackfillProgress>> lines = RunBackfill(store, {});
  EXPECT_EQ(lines.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(lines.status().message().find("lines"), std::string::npos);
  Backfill twice(*source_, store, {"items", "items"});
  EXPECT_EQ(twice.Run().status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::migration
