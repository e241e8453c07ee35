// `sluice migrate backfill` and `sluice migrate mirror` as a user runs them: exit codes, JSON
// lines, and backfills and tailers killed with SIGKILL at random points while the legacy
// application keeps writing, then run to completion: the mirror equals the legacy table, nothing
// lost, nothing duplicated.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_process.h"
#include "event_checks.h"
#include "legacy_db.h"
#include "mirror_check.h"
#include "postgres/postgres_test_server.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/migration/sqlite_legacy_source.h"
#include "sluice/postgres/postgres_read_model_store.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

namespace sluice::migration {
namespace {

using cli_testing::json;
using cli_testing::ParseLines;
using cli_testing::Process;
using std::chrono::milliseconds;
using testing::LegacyDb;

class BackfillCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("backfill-cli");
    db_path_ = (dir_ / "legacy.db").string();
    legacy_ = "sqlite:" + db_path_;
    store_ = (dir_ / "store").string();
    read_model_ = "sqlite:" + (dir_ / "read.db").string();
    db_ = std::make_unique<LegacyDb>(db_path_);
    db_->Exec("PRAGMA journal_mode = WAL");
    db_->Exec(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER, s TEXT);"
        "CREATE TABLE pairs (a INTEGER, b TEXT, r REAL, PRIMARY KEY (b, a));");
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  cli_testing::RunResult Run(const std::vector<std::string>& args) {
    return cli_testing::RunSluice(dir_, args);
  }

  void Fill(int rows) {
    std::string sql = "BEGIN;";
    for (int id = 1; id <= rows; ++id) {
      const std::string n = std::to_string(id);
      sql += "INSERT INTO items VALUES (" + n + ", " + n + ", 's" + n + "');";
      if (id % 3 == 0) sql += "INSERT INTO pairs VALUES (" + n + ", 'b" + n + "', 0.5);";
    }
    db_->Exec(sql + "COMMIT;");
  }

  std::vector<std::string> Backfill() {
    return {"migrate",  "backfill",    "--legacy", legacy_,
            "--tables", "items,pairs", "--store",  store_};
  }
  std::vector<std::string> Tail(bool once) {
    std::vector<std::string> args = {"migrate",  "tail",        "--legacy", legacy_,
                                     "--tables", "items,pairs", "--store",  store_};
    if (once) args.push_back("--once");
    return args;
  }
  std::vector<std::string> Mirror(const std::string& read_model, bool once,
                                  const std::string& tables = "items,pairs") {
    std::vector<std::string> args = {"migrate",  "mirror", "--store",      store_,
                                     "--tables", tables,   "--read-model", read_model};
    if (once) args.push_back("--once");
    return args;
  }

  std::vector<RecordedEvent> StoreEvents() { return testing::StoreEvents(store_); }

  void ExpectNoDuplicates() {
    const testing::AppendedChanges appended = testing::ExpectNoDuplicates(StoreEvents());
    // Every change in the log was appended exactly once.
    EXPECT_EQ(appended.change_ids.size(),
              db_->Query("SELECT change_id FROM sluice_change_log").size());
  }

  void ExpectSqliteMirrorEqualsLegacy() {
    Result<std::unique_ptr<LegacySource>> source = OpenSqliteLegacySource(db_path_);
    ASSERT_TRUE(source.ok());
    Result<std::unique_ptr<ReadModelStore>> read =
        OpenSqliteReadModelStore((dir_ / "read.db").string());
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    for (const std::string table : {"items", "pairs"}) {
      EXPECT_EQ(testing::Describe(testing::ReadModelRows(**read, table)),
                testing::Describe(testing::ExpectedMirrorRows(**source, table)))
          << table;
    }
  }

  std::filesystem::path dir_;
  std::string db_path_;
  std::string legacy_;
  std::string store_;
  std::string read_model_;
  std::unique_ptr<LegacyDb> db_;
};

TEST_F(BackfillCliTest, BackfillThenMirrorOnce) {
  Fill(2500);
  ASSERT_EQ(Run({"migrate", "install", "--legacy", legacy_, "--tables", "items,pairs"}).exit_code,
            0);
  db_->Exec("UPDATE items SET v = -1 WHERE id = 5; DELETE FROM items WHERE id = 6;");
  cli_testing::RunResult backfill = Run(Backfill());
  ASSERT_EQ(backfill.exit_code, 0) << backfill.err;
  std::vector<json> lines = ParseLines(backfill.out);
  ASSERT_GE(lines.size(), 2u);
  const json items = lines[lines.size() - 2];
  const json pairs = lines.back();
  EXPECT_EQ(items["table"], "items");
  EXPECT_EQ(items["final"], true);
  EXPECT_EQ(items["done"], true);
  EXPECT_EQ(items["rows"], 2499);
  EXPECT_EQ(items["loaded"], 2498);  // id 5 has a change (with its newer image) already
  EXPECT_EQ(items["skipped"], 1);
  EXPECT_EQ(items["chunks"], 3);
  EXPECT_TRUE(items.contains("position"));
  EXPECT_EQ(pairs["table"], "pairs");
  EXPECT_EQ(pairs["rows"], 833);
  for (std::size_t i = 0; i + 2 < lines.size(); ++i) {
    for (const char* key : {"table", "rows", "loaded", "skipped", "chunks", "position", "done"}) {
      EXPECT_TRUE(lines[i].contains(key)) << lines[i].dump();
    }
  }
  // Again: complete already, nothing appended.
  const std::size_t events = StoreEvents().size();
  ASSERT_EQ(Run(Backfill()).exit_code, 0);
  EXPECT_EQ(StoreEvents().size(), events);

  cli_testing::RunResult mirror = Run(Mirror(read_model_, true));
  ASSERT_EQ(mirror.exit_code, 0) << mirror.err;
  lines = ParseLines(mirror.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["table"], "items");
  EXPECT_EQ(lines[0]["name"], "mirror.items");
  EXPECT_EQ(lines[0]["lag"], 0);
  EXPECT_EQ(lines[1]["name"], "mirror.pairs");
  ExpectNoDuplicates();
  ExpectSqliteMirrorEqualsLegacy();
}

TEST_F(BackfillCliTest, BadInputExitsTwoAndOtherFailuresOne) {
  Fill(10);
  EXPECT_EQ(Run(Backfill()).exit_code, 2);  // no capture installed
  ASSERT_EQ(Run({"migrate", "install", "--legacy", legacy_, "--tables", "items"}).exit_code, 0);
  cli_testing::RunResult pairs = Run(Backfill());  // pairs has no capture
  EXPECT_EQ(pairs.exit_code, 2);
  EXPECT_NE(pairs.err.find("pairs"), std::string::npos) << pairs.err;
  EXPECT_EQ(Run({"migrate", "backfill", "--legacy", legacy_, "--tables", "nope", "--store", store_})
                .exit_code,
            2);
  EXPECT_EQ(
      Run({"migrate", "backfill", "--legacy", "mysql://x", "--tables", "items", "--store", store_})
          .exit_code,
      2);
  EXPECT_EQ(
      Run({"migrate", "backfill", "--legacy", legacy_, "--tables", "items,", "--store", store_})
          .exit_code,
      2);
  EXPECT_FALSE(std::filesystem::exists(store_));
  // The mirror: a bad read-model URL, a store that is not there, no schema event with --once.
  EXPECT_EQ(Run(Mirror("nope:x", true)).exit_code, 2);
  EXPECT_EQ(Run(Mirror(read_model_, true)).exit_code, 1);  // no store
  ASSERT_EQ(
      Run({"migrate", "backfill", "--legacy", legacy_, "--tables", "items", "--store", store_})
          .exit_code,
      0);
  cli_testing::RunResult no_schema = Run(Mirror(read_model_, true));
  EXPECT_EQ(no_schema.exit_code, 1);
  EXPECT_NE(no_schema.err.find("pairs"), std::string::npos) << no_schema.err;
  EXPECT_EQ(Run(Mirror(read_model_, true, "items")).exit_code, 0);
}

TEST_F(BackfillCliTest, MirrorWaitsForTheSchemaAndFollowsUntilSigterm) {
  ASSERT_EQ(Run({"migrate", "install", "--legacy", legacy_, "--tables", "items,pairs"}).exit_code,
            0);
  db_->Exec("INSERT INTO items VALUES (1, 1, 'a')");
  ASSERT_EQ(Run({"migrate", "tail", "--legacy", legacy_, "--tables", "items,pairs", "--store",
                 store_, "--once"})
                .exit_code,
            0);
  Process mirror(dir_, Mirror(read_model_, false), "");
  std::this_thread::sleep_for(milliseconds(300));
  db_->Exec("INSERT INTO pairs VALUES (1, 'x', 2.5); INSERT INTO items VALUES (2, 2, 'b');");
  ASSERT_EQ(Run(Tail(true)).exit_code, 0);
  // Wait until the mirror holds both tables' rows.
  Result<std::unique_ptr<ReadModelStore>> read = Status::NotFound("");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    read = OpenSqliteReadModelStore((dir_ / "read.db").string());
    if (read.ok()) {
      Result<std::vector<Row>> items = (*read)->Scan("items", nullptr, 100);
      Result<std::vector<Row>> pairs = (*read)->Scan("pairs", nullptr, 100);
      if (items.ok() && pairs.ok() && items->size() == 2 && pairs->size() == 1) break;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  mirror.Signal(SIGTERM);
  ASSERT_EQ(mirror.Wait(), 0) << mirror.err();
  EXPECT_NE(mirror.err().find("waiting"), std::string::npos) << mirror.err();
  const std::vector<json> lines = ParseLines(mirror.out());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["table"], "pairs");
  EXPECT_EQ(lines[1]["state"], "stopped");
  ExpectSqliteMirrorEqualsLegacy();
}

TEST_F(BackfillCliTest, BackfillAndTailKilledAtRandomPointsLoseAndDuplicateNothing) {
  Fill(100000);
  ASSERT_EQ(Run({"migrate", "install", "--legacy", legacy_, "--tables", "items,pairs"}).exit_code,
            0);
  std::atomic<bool> stop{false};
  std::thread writer([this, &stop] {
    LegacyDb db(db_path_);
    std::mt19937 random(3);
    int next = 30001;
    for (int n = 0; !stop.load(); ++n) {
      const std::string id = std::to_string(1 + random() % 31000);
      const std::string v = std::to_string(n);
      switch (random() % 5) {
        case 0:
          db.TryExec("INSERT INTO items VALUES (" + std::to_string(next++) + ", " + v + ", 'w')");
          break;
        case 1:
          db.TryExec("UPDATE items SET v = " + v + " WHERE id = " + id);
          break;
        case 2:
          db.TryExec("DELETE FROM items WHERE id = " + id);
          break;
        case 3:
          db.TryExec("UPDATE items SET id = " + std::to_string(next++) + " WHERE id = " + id);
          break;
        default:
          db.TryExec("INSERT OR REPLACE INTO pairs VALUES (" + id + ", 'b" + id + "', " + v +
                     ".5)");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::mt19937 random(42);
  int killed_midway = 0;
  for (int round = 0; round < 10; ++round) {
    // Mostly the backfill; every third round the tailer (never both: one writer per store).
    const bool tail = round % 3 == 2;
    Process process(dir_, tail ? Tail(false) : Backfill(), "");
    std::this_thread::sleep_for(milliseconds(100 + random() % 400));
    if (!tail && process.out().find("\"final\"") == std::string::npos) ++killed_midway;
    // ~Process sends SIGKILL and reaps the child.
  }
  EXPECT_GE(killed_midway, 2);
  cli_testing::RunResult finish = Run(Backfill());
  stop.store(true);
  writer.join();
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  const std::vector<json> lines = ParseLines(finish.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[lines.size() - 2]["done"], true);
  ASSERT_EQ(Run(Tail(true)).exit_code, 0);
  cli_testing::RunResult mirror = Run(Mirror(read_model_, true));
  ASSERT_EQ(mirror.exit_code, 0) << mirror.err;
  ExpectNoDuplicates();
  ExpectSqliteMirrorEqualsLegacy();
}

TEST_F(BackfillCliTest, MirrorIntoAPostgresReadModel) {
  const std::string url = sluice::testing::RequirePostgres();
  if (url.empty()) return;
  // The read model is the database's public schema, shared: tables of this test's own names.
  const std::string table =
      "bf_items_" + std::to_string(getpid()) + "_" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
  db_->Exec("CREATE TABLE " + table +
            " (id INTEGER, code TEXT, price DECIMAL(10,2), r REAL, data BLOB, "
            "PRIMARY KEY (code, id))");
  db_->Exec("INSERT INTO " + table +
            " VALUES (1, 'a', '1.50', 0.25, x'00ff'), (2, 'b', NULL, 9e999, NULL)");
  ASSERT_EQ(Run({"migrate", "install", "--legacy", legacy_, "--tables", table}).exit_code, 0);
  ASSERT_EQ(Run({"migrate", "backfill", "--legacy", legacy_, "--tables", table, "--store", store_})
                .exit_code,
            0);
  db_->Exec("UPDATE " + table + " SET price = 3 WHERE id = 2; INSERT INTO " + table +
            " VALUES (3, 'c', 7, NULL, x'')");
  ASSERT_EQ(
      Run({"migrate", "tail", "--legacy", legacy_, "--tables", table, "--store", store_, "--once"})
          .exit_code,
      0);
  cli_testing::RunResult mirror = Run(Mirror(url, true, table));
  EXPECT_EQ(mirror.exit_code, 0) << mirror.err;
  {
    Result<std::unique_ptr<LegacySource>> source = OpenSqliteLegacySource(db_path_);
    ASSERT_TRUE(source.ok());
    Result<std::unique_ptr<ReadModelStore>> read = OpenPostgresReadModelStore(url);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(testing::Describe(testing::ReadModelRows(**read, table)),
              testing::Describe(testing::ExpectedMirrorRows(**source, table)));
    // Plain SQL sees the same table.
    pqxx::result count =
        sluice::testing::Sql(url, "SELECT count(*) FROM " + QuoteSqlIdentifier(table));
    EXPECT_EQ(count[0][0].as<int>(), 3);
    Result<std::unique_ptr<ReadModelBatch>> batch = (*read)->Begin();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE((*batch)->DropTable(table).ok());
    ASSERT_TRUE((*batch)->Commit().ok());
  }
}

}  // namespace
}  // namespace sluice::migration
