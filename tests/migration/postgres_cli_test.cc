// The `sluice` tool on a PostgreSQL legacy database and a PostgreSQL read model, as a user runs
// it: migrate install, backfill, tail, mirror and watch (exit codes, the difference lines, repair
// dry run and --apply), and `migrate tail` and `migrate backfill` killed with SIGKILL at random
// points while the legacy application keeps writing: nothing lost, nothing duplicated.
// The legacy tables live in a schema of the test's own on the throwaway server (fixture
// postgres_server); the read model is the database's public schema, shared, so the tables have
// names of their own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <pqxx/pqxx>
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
#include "sluice/migration/change_mapping.h"
#include "sluice/migration/postgres_legacy_source.h"
#include "sluice/migration/watcher.h"
#include "sluice/postgres/postgres_read_model_store.h"

namespace sluice::migration {
namespace {

using cli_testing::json;
using cli_testing::ParseLines;
using cli_testing::Process;
using std::chrono::milliseconds;

class PostgresCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = sluice::testing::RequirePostgres();
    if (server_.empty()) return;
    dir_ = testing::FreshTestDir("pg-cli");
    store_ = (dir_ / "store").string();
    schema_ = std::make_unique<sluice::testing::ScratchSchema>(server_);
    legacy_ = server_ + "?options=-csearch_path%3D" + schema_->name();
    conn_ = std::make_unique<pqxx::connection>(legacy_);
    Exec("CREATE SCHEMA " + schema_->name());
    static int counter = 0;
    const std::string prefix =
        "pgcli_" + std::to_string(getpid()) + "_" + std::to_string(++counter) + "_" +
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
    items_ = prefix + "_items";
    lines_ = prefix + "_lines";
    tables_ = items_ + "," + lines_;
  }

  void TearDown() override {
    conn_.reset();
    if (!server_.empty()) {
      // The read-model tables in the shared public schema.
      Result<std::unique_ptr<ReadModelStore>> read = OpenPostgresReadModelStore(server_);
      if (read.ok()) {
        Result<std::unique_ptr<ReadModelBatch>> batch = (*read)->Begin();
        if (batch.ok()) {
          for (const std::string& table : {items_, lines_}) {
            Result<std::optional<TableSchema>> exists = (*read)->DescribeTable(table);
            if (exists.ok() && exists->has_value()) {
              EXPECT_TRUE((*batch)->DropTable(table).ok());
            }
          }
          EXPECT_TRUE((*batch)->Commit().ok());
        }
      }
    }
    schema_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  pqxx::result Exec(const std::string& sql) {
    pqxx::nontransaction tx(*conn_);
    return tx.exec(sql);
  }

  std::string Q(const std::string& name) { return conn_->quote_name(name); }

  cli_testing::RunResult Run(const std::vector<std::string>& args) {
    Process process(dir_, args, "");
    cli_testing::RunResult result;
    result.exit_code = process.Wait(milliseconds(180'000));
    result.out = process.out();
    result.err = process.err();
    return result;
  }

  std::vector<std::string> Install() {
    return {"migrate", "install", "--legacy", legacy_, "--tables", tables_};
  }
  std::vector<std::string> Backfill() {
    return {"migrate", "backfill", "--legacy", legacy_, "--tables", tables_, "--store", store_};
  }
  std::vector<std::string> Tail(bool once) {
    std::vector<std::string> args = {"migrate",  "tail",  "--legacy", legacy_,
                                     "--tables", tables_, "--store",  store_};
    if (once) args.push_back("--once");
    return args;
  }
  std::vector<std::string> Mirror() {
    return {"migrate", "mirror",       "--store", store_,  "--tables",
            tables_,   "--read-model", server_,   "--once"};
  }
  std::vector<std::string> Watch(std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"watch",    "--legacy", legacy_,   "--read-model", server_,
                                     "--tables", tables_,    "--store", store_};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  void MustRun(const std::vector<std::string>& args) {
    cli_testing::RunResult result = Run(args);
    ASSERT_EQ(result.exit_code, 0) << args[0] << " " << args[1] << ": " << result.err;
  }

  // Tail and mirror everything committed so far.
  void CatchUp() {
    MustRun(Tail(true));
    MustRun(Mirror());
  }

  std::vector<RecordedEvent> StoreEvents() { return testing::StoreEvents(store_); }

  // Every captured change appended exactly once, to its row's stream: per stream, as many change
  // events as the change log has changes of that key; backfill images at most once per stream
  // and only as its first event; no event id twice.
  void ExpectEveryChangeOnce() {
    std::map<std::string, int> expected;  // stream -> changes in the log
    Result<std::unique_ptr<LegacySource>> source = OpenPostgresLegacySource(legacy_);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    Result<std::vector<Change>> changes = (*source)->ReadChanges(0, 10'000'000);
    ASSERT_TRUE(changes.ok()) << changes.status().ToString();
    const std::size_t sequenced = changes->size();
    EXPECT_EQ(Exec("SELECT count(*) FROM sluice_change_log")[0][0].as<std::size_t>(), sequenced);
    for (const Change& change : *changes) {
      Result<std::optional<MappedChange>> mapped = MirrorMapping()->Map(change);
      ASSERT_TRUE(mapped.ok() && mapped->has_value()) << change.key_json;
      ++expected[(*mapped)->stream];
    }
    const testing::AppendedChanges appended = testing::ExpectNoDuplicates(StoreEvents());
    EXPECT_EQ(appended.change_ids.size(), sequenced);
    EXPECT_EQ(appended.per_stream, expected);
  }

  // The PostgreSQL read model holds exactly what the mirror must make of the legacy rows.
  void ExpectMirrorEqualsLegacy() {
    Result<std::unique_ptr<LegacySource>> source = OpenPostgresLegacySource(legacy_);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    Result<std::unique_ptr<ReadModelStore>> read = OpenPostgresReadModelStore(server_);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    for (const std::string& table : {items_, lines_}) {
      const std::vector<Row> rows = testing::ReadModelRows(**read, table);
      EXPECT_EQ(testing::Describe(rows),
                testing::Describe(testing::ExpectedMirrorRows(**source, table)))
          << table;
      EXPECT_FALSE(rows.empty()) << table;
    }
  }

  std::string server_;
  std::filesystem::path dir_;
  std::string store_;
  std::unique_ptr<sluice::testing::ScratchSchema> schema_;
  std::string legacy_;
  std::unique_ptr<pqxx::connection> conn_;
  std::string items_, lines_, tables_;
};

TEST_F(PostgresCliTest, PipelineInSyncThenOneCorruptionFoundExactlyAndRepaired) {
  Exec("CREATE TABLE " + Q(items_) +
       " (id int PRIMARY KEY, name text, price numeric(10,2), r float8, ok bool, "
       "at timestamptz, data bytea, code char(4));"
       "CREATE TABLE " +
       Q(lines_) +
       " (sku text, n int, qty int, PRIMARY KEY (sku, n));"
       "SET TimeZone = 'Asia/Tokyo';"
       "INSERT INTO " +
       Q(items_) +
       " SELECT g, 'name ' || g, g * 1.10, CASE WHEN g % 10 = 0 THEN 'NaN'::float8 "
       "WHEN g % 10 = 1 THEN '-0'::float8 ELSE g / 4.0 END, g % 2 = 0, "
       "'2024-06-01 09:00:00'::timestamp + g * interval '1 hour', decode(lpad(to_hex(g), 4, '0'), "
       "'hex'), CASE WHEN g % 3 = 0 THEN 'ab' END FROM generate_series(1, 300) g;"
       "INSERT INTO " +
       Q(lines_) +
       " VALUES ('a', 1, 1), ('A', 1, 2), ('é', 2, 3), ('', 0, 4), ('a ', 1, 5);"
       "RESET TimeZone");
  cli_testing::RunResult install = Run(Install());
  ASSERT_EQ(install.exit_code, 0) << install.err;
  cli_testing::RunResult backfill = Run(Backfill());
  ASSERT_EQ(backfill.exit_code, 0) << backfill.err;
  const std::vector<json> progress = ParseLines(backfill.out);
  ASSERT_GE(progress.size(), 2u);
  EXPECT_EQ(progress[progress.size() - 2]["rows"], 300);
  EXPECT_EQ(progress.back()["rows"], 5);
  Exec("UPDATE " + Q(items_) + " SET price = 1.10, r = 'Infinity' WHERE id = 5;" + "DELETE FROM " +
       Q(items_) + " WHERE id = 6;" +  //
       "UPDATE " + Q(items_) + " SET id = 1000 WHERE id = 8;" + "INSERT INTO " + Q(lines_) +
       " VALUES ('Bob', 1, 6), ('bob', 1, 7);");
  // A rolled-back transaction (a statement of its own: in one query string with the others, its
  // ROLLBACK would undo them too).
  Exec("BEGIN; UPDATE " + Q(lines_) + " SET qty = 99; ROLLBACK;");
  CatchUp();
  ExpectMirrorEqualsLegacy();

  cli_testing::RunResult watch = Run(Watch());
  ASSERT_EQ(watch.exit_code, 0) << watch.err << watch.out;
  std::vector<json> lines = ParseLines(watch.out);
  ASSERT_EQ(lines.size(), 1u) << watch.out;
  EXPECT_EQ(lines[0]["in_sync"], true);
  EXPECT_EQ(lines[0]["rows_checked"], 299 + 7);
  EXPECT_EQ(lines[0]["differences"], json({{"missing", 0}, {"extra", 0}, {"changed", 0}}));
  {  // The same check in process, table by table (the pipeline is idle: no wait needed).
    Result<std::unique_ptr<LegacySource>> source = OpenPostgresLegacySource(legacy_);
    ASSERT_TRUE(source.ok());
    Result<std::unique_ptr<ReadModelStore>> read = OpenPostgresReadModelStore(server_);
    ASSERT_TRUE(read.ok());
    WatcherOptions options;
    options.wait = [](const std::string&, const CapturePosition&) { return Status::Ok(); };
    SyncWatcher watcher(**source, **read, options);
    for (const auto& [table, rows] : {std::pair(items_, 299u), std::pair(lines_, 7u)}) {
      Result<WatchFigures> figures = watcher.Check({table});
      ASSERT_TRUE(figures.ok()) << figures.status().ToString();
      EXPECT_TRUE(figures->in_sync());
      EXPECT_EQ(figures->rows_checked, rows) << table;
    }
  }

  // One read-model row corrupted behind the log's back, with plain SQL.
  sluice::testing::Sql(server_,
                       "UPDATE public." + Q(items_) + " SET name = 'corrupt' WHERE id = 7");
  watch = Run(Watch());
  ASSERT_EQ(watch.exit_code, 1) << watch.err << watch.out;
  lines = ParseLines(watch.out);
  ASSERT_EQ(lines.size(), 2u) << watch.out;
  EXPECT_EQ(lines[0], json({{"table", items_},
                            {"key", {{"id", 7}}},
                            {"kind", "changed"},
                            {"column", "name"},
                            {"legacy", "name 7"},
                            {"read_model", "corrupt"}}));
  std::vector<std::string> fields;  // in the order printed
  const nlohmann::ordered_json first =
      nlohmann::ordered_json::parse(watch.out.substr(0, watch.out.find('\n')));
  for (const auto& [field, value] : first.items()) fields.push_back(field);
  EXPECT_EQ(fields,
            (std::vector<std::string>{"table", "key", "kind", "column", "legacy", "read_model"}));
  EXPECT_EQ(lines[1]["in_sync"], false);
  EXPECT_EQ(lines[1]["differences"], json({{"missing", 0}, {"extra", 0}, {"changed", 1}}));

  // Dry run: the repair is shown, nothing appended.
  const std::size_t events = StoreEvents().size();
  cli_testing::RunResult dry = Run(Watch({"--repair"}));
  ASSERT_EQ(dry.exit_code, 1) << dry.err << dry.out;
  lines = ParseLines(dry.out);
  ASSERT_EQ(lines.size(), 3u) << dry.out;
  EXPECT_EQ(lines[1]["repair"], "changed");
  EXPECT_EQ(lines[1]["stream"], items_ + "-7");
  EXPECT_EQ(lines[1]["type"], items_ + ".RowUpdated.v1");
  EXPECT_EQ(lines[1]["payload"]["row"]["name"], "name 7");
  EXPECT_EQ(lines[2]["repairs"]["dry_run"], true);
  EXPECT_EQ(lines[2]["repairs"]["appended"], 0);
  EXPECT_EQ(StoreEvents().size(), events);
  EXPECT_EQ(Run(Watch()).exit_code, 1);

  cli_testing::RunResult apply = Run(Watch({"--repair", "--apply"}));
  ASSERT_EQ(apply.exit_code, 1) << apply.err << apply.out;
  lines = ParseLines(apply.out);
  EXPECT_EQ(lines.back()["repairs"]["appended"], 1) << apply.out;
  EXPECT_EQ(StoreEvents().size(), events + 1);
  MustRun(Mirror());
  watch = Run(Watch({"--repair", "--apply"}));
  ASSERT_EQ(watch.exit_code, 0) << watch.err << watch.out;
  lines = ParseLines(watch.out);
  ASSERT_EQ(lines.size(), 1u) << watch.out;
  EXPECT_EQ(lines[0]["in_sync"], true);
  EXPECT_EQ(lines[0]["repairs"]["appended"], 0);
  EXPECT_EQ(StoreEvents().size(), events + 1);
  ExpectMirrorEqualsLegacy();
}

TEST_F(PostgresCliTest, TailAndBackfillKilledAtRandomPointsLoseAndDuplicateNothing) {
  Exec("CREATE TABLE " + Q(items_) + " (id int PRIMARY KEY, v int, s text, amount numeric);" +
       "INSERT INTO " + Q(items_) +
       " SELECT g, g, 's' || g, g / 100.0 FROM generate_series(1, 20000) g;" + "CREATE TABLE " +
       Q(lines_) + " (k text, n int, q float8, PRIMARY KEY (k, n));" + "INSERT INTO " + Q(lines_) +
       " SELECT 'k' || (g % 97), g, g + 0.5 FROM generate_series(1, 3000) g;");
  MustRun(Install());
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    pqxx::connection conn(legacy_);
    std::mt19937 random(5);
    int next = 100'000;
    const std::string items = conn.quote_name(items_);
    const std::string lines = conn.quote_name(lines_);
    while (!stop.load()) {
      const std::string id = std::to_string(1 + random() % 21000);
      const std::string v = std::to_string(writes.load());
      try {
        pqxx::work tx(conn);
        switch (random() % 7) {
          case 0:
            tx.exec("INSERT INTO " + items + " VALUES (" + std::to_string(next++) + ", " + v +
                    ", 'w', 1.5)");
            break;
          case 1:
            tx.exec("UPDATE " + items + " SET v = " + v + ", amount = amount + 1 WHERE id = " + id);
            break;
          case 2:
            tx.exec("DELETE FROM " + items + " WHERE id = " + id);
            break;
          case 3:  // a primary-key update
            tx.exec("UPDATE " + items + " SET id = " + std::to_string(next++) +
                    " WHERE id = " + id);
            break;
          case 4:  // savepoint rolled back to
            tx.exec("UPDATE " + lines + " SET q = " + v + " WHERE n = " + id);
            tx.exec("SAVEPOINT s");
            tx.exec("DELETE FROM " + items + " WHERE id = " + id);
            tx.exec("ROLLBACK TO SAVEPOINT s");
            tx.exec("INSERT INTO " + lines + " VALUES ('w', " + std::to_string(next++) + ", 0)");
            break;
          case 5:  // several rows in one transaction
            tx.exec("UPDATE " + items + " SET s = 'multi' WHERE id BETWEEN " + id + " AND " + id +
                    " + 5");
            tx.exec("DELETE FROM " + lines + " WHERE n = " + id);
            break;
          default:  // rolled back
            tx.exec("DELETE FROM " + items + " WHERE id = " + id);
            tx.abort();
            continue;
        }
        tx.commit();
        ++writes;
      } catch (const pqxx::sql_error&) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::mt19937 random(42);
  int killed_backfills = 0;
  int killed_tails = 0;
  for (int round = 0; round < 9; ++round) {
    // Mostly the backfill; every third round the tailer (never both: one writer per store).
    const bool tail = round % 3 == 2;
    Process process(dir_, tail ? Tail(false) : Backfill(), "");
    std::this_thread::sleep_for(milliseconds(150 + random() % 400));
    if (tail) {
      ++killed_tails;
    } else if (process.out().find("\"final\"") == std::string::npos) {
      ++killed_backfills;
    }
    // ~Process sends SIGKILL and reaps the child.
  }
  EXPECT_GE(killed_backfills, 2);
  EXPECT_EQ(killed_tails, 3);
  cli_testing::RunResult finish = Run(Backfill());
  // One more tailer killed after the backfill, while the writer still writes.
  {
    Process tail(dir_, Tail(false), "");
    std::this_thread::sleep_for(milliseconds(200 + random() % 300));
  }
  stop.store(true);
  writer.join();
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  const std::vector<json> lines = ParseLines(finish.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[lines.size() - 2]["done"], true);
  EXPECT_EQ(lines.back()["done"], true);
  EXPECT_GT(writes.load(), 100);
  CatchUp();
  ExpectEveryChangeOnce();
  ExpectMirrorEqualsLegacy();
  cli_testing::RunResult watch = Run(Watch());
  EXPECT_EQ(watch.exit_code, 0) << watch.err << watch.out;
}

}  // namespace
}  // namespace sluice::migration
