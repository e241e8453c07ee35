// `sluice watch` as a user runs it, after `sluice migrate install`, `tail --once` and
// `mirror --once`: exit codes 0/1/2, the JSON lines' fields, repair dry run and --apply.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_process.h"
#include "legacy_db.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

namespace sluice::migration {
namespace {

using cli_testing::json;
using cli_testing::ParseLines;
using cli_testing::Process;
using testing::LegacyDb;

class WatchCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("watch-cli");
    db_path_ = (dir_ / "legacy.db").string();
    legacy_ = "sqlite:" + db_path_;
    rm_path_ = (dir_ / "read.db").string();
    read_model_ = "sqlite:" + rm_path_;
    store_ = (dir_ / "store").string();
    db_ = std::make_unique<LegacyDb>(db_path_);
    db_->Exec(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, balance NUMERIC(10,2));"
        "CREATE TABLE order_lines (order_id INTEGER, line INTEGER, qty INTEGER, "
        "PRIMARY KEY (order_id, line));"
        "INSERT INTO customers VALUES (1, 'Ann', '1.10'), (2, 'Bob', 20), (3, '', NULL);"
        "INSERT INTO order_lines VALUES (1, 1, 5), (1, 2, 6), (2, 1, 7);");
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  cli_testing::RunResult Run(const std::vector<std::string>& args) {
    return cli_testing::RunSluice(dir_, args);
  }

  void Pipeline() {
    const std::string tables = "customers,order_lines";
    ASSERT_EQ(Run({"migrate", "install", "--legacy", legacy_, "--tables", tables}).exit_code, 0);
    cli_testing::RunResult backfill =
        Run({"migrate", "backfill", "--legacy", legacy_, "--tables", tables, "--store", store_});
    ASSERT_EQ(backfill.exit_code, 0) << backfill.err;
    CatchUp();
  }

  void CatchUp() {
    const std::string tables = "customers,order_lines";
    cli_testing::RunResult tail = Run(
        {"migrate", "tail", "--legacy", legacy_, "--tables", tables, "--store", store_, "--once"});
    ASSERT_EQ(tail.exit_code, 0) << tail.err;
    cli_testing::RunResult mirror = Run({"migrate", "mirror", "--store", store_, "--read-model",
                                         read_model_, "--tables", tables, "--once"});
    ASSERT_EQ(mirror.exit_code, 0) << mirror.err;
  }

  std::vector<std::string> Watch(std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"watch",
                                     "--legacy",
                                     legacy_,
                                     "--read-model",
                                     read_model_,
                                     "--tables",
                                     "customers,order_lines",
                                     "--store",
                                     store_};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  // Runs SQL on the read model behind the mirror's back.
  void CorruptReadModel(const std::string& sql) {
    LegacyDb rm(rm_path_);
    rm.Exec(sql);
  }

  std::filesystem::path dir_;
  std::string db_path_, legacy_, rm_path_, read_model_, store_;
  std::unique_ptr<LegacyDb> db_;
};

TEST_F(WatchCliTest, InSyncExitsZeroWithASummaryLine) {
  Pipeline();
  cli_testing::RunResult watch = Run(Watch());
  ASSERT_EQ(watch.exit_code, 0) << watch.err << watch.out;
  const std::vector<json> lines = ParseLines(watch.out);
  ASSERT_EQ(lines.size(), 1u) << watch.out;
  const json& summary = lines.back();
  EXPECT_EQ(summary["in_sync"], true);
  EXPECT_EQ(summary["rows_checked"], 6);
  EXPECT_EQ(summary["tables"], json::array({"customers", "order_lines"}));
  EXPECT_EQ(summary["differences"], json({{"missing", 0}, {"extra", 0}, {"changed", 0}}));
  EXPECT_TRUE(summary.contains("chunks"));
  EXPECT_TRUE(summary.contains("position"));
  EXPECT_TRUE(summary.contains("rechecked"));
  EXPECT_TRUE(summary.contains("unsettled"));
}

TEST_F(WatchCliTest, DifferencesExitOneWithOneLineEach) {
  Pipeline();
  CorruptReadModel(
      "DELETE FROM customers WHERE id = 2; UPDATE customers SET name = 'Anne' WHERE id = 1;"
      "INSERT INTO order_lines VALUES (9, 9, 9);");
  cli_testing::RunResult watch = Run(Watch());
  ASSERT_EQ(watch.exit_code, 1) << watch.err << watch.out;
  const std::vector<json> lines = ParseLines(watch.out);
  ASSERT_EQ(lines.size(), 4u) << watch.out;
  std::vector<json> differences(lines.begin(), lines.end() - 1);
  EXPECT_EQ(differences[0], json({{"table", "customers"},
                                  {"key", {{"id", 1}}},
                                  {"kind", "changed"},
                                  {"column", "name"},
                                  {"legacy", "Ann"},
                                  {"read_model", "Anne"}}));
  EXPECT_EQ(differences[1],
            json({{"table", "customers"}, {"key", {{"id", 2}}}, {"kind", "missing"}}));
  EXPECT_EQ(
      differences[2],
      json({{"table", "order_lines"}, {"key", {{"order_id", 9}, {"line", 9}}}, {"kind", "extra"}}));
  EXPECT_EQ(lines.back()["in_sync"], false);
  EXPECT_EQ(lines.back()["differences"], json({{"missing", 1}, {"extra", 1}, {"changed", 1}}));
}

TEST_F(WatchCliTest, RepairDryRunThenApplyThenNothingLeft) {
  Pipeline();
  CorruptReadModel("DELETE FROM customers WHERE id = 2; INSERT INTO order_lines VALUES (9, 9, 9);");
  cli_testing::RunResult dry = Run(Watch({"--repair"}));
  ASSERT_EQ(dry.exit_code, 1) << dry.err;
  std::vector<json> lines = ParseLines(dry.out);
  int repairs = 0;
  for (const json& line : lines) {
    if (!line.contains("repair")) continue;
    ++repairs;
    EXPECT_TRUE(line.contains("stream"));
    EXPECT_TRUE(line.contains("type"));
    if (line["repair"] == "missing") {
      EXPECT_EQ(line["type"], "customers.RowUpdated.v1");
      EXPECT_EQ(line["stream"], "customers-2");
    }
    if (line["repair"] == "extra") {
      EXPECT_EQ(line["type"], "order_lines.RowDeleted.v1");
    }
  }
  EXPECT_EQ(repairs, 2);
  // A dry run changes nothing.
  EXPECT_EQ(Run(Watch()).exit_code, 1);

  cli_testing::RunResult apply = Run(Watch({"--repair", "--apply"}));
  ASSERT_EQ(apply.exit_code, 1) << apply.err;
  lines = ParseLines(apply.out);
  EXPECT_EQ(lines.back()["repairs"]["appended"], 2) << apply.out;
  CatchUp();
  cli_testing::RunResult after = Run(Watch({"--repair", "--apply"}));
  ASSERT_EQ(after.exit_code, 0) << after.err << after.out;
  lines = ParseLines(after.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines.back()["repairs"]["appended"], 0);
}

TEST_F(WatchCliTest, BadInputExitsTwo) {
  Pipeline();
  EXPECT_EQ(Run(Watch({"--interval", "0"})).exit_code, 2);
  EXPECT_EQ(Run(Watch({"--interval", "soon"})).exit_code, 2);
  EXPECT_EQ(Run(Watch({"--apply"})).exit_code, 2);
  EXPECT_EQ(Run({"watch", "--legacy", "mysql://x", "--read-model", read_model_, "--tables",
                 "customers", "--store", store_})
                .exit_code,
            2);
  EXPECT_EQ(Run({"watch", "--legacy", legacy_, "--read-model", "nope:x", "--tables", "customers",
                 "--store", store_})
                .exit_code,
            2);
  EXPECT_EQ(Run({"watch", "--legacy", legacy_, "--read-model", read_model_, "--tables",
                 "customers,nosuch", "--store", store_})
                .exit_code,
            2);
  EXPECT_EQ(Run({"watch", "--legacy", legacy_, "--read-model", read_model_, "--tables", "",
                 "--store", store_})
                .exit_code,
            2);
}

TEST_F(WatchCliTest, ReadModelTableMissingAColumnExitsOneNamingIt) {
  Pipeline();
  const std::string bad_path = (dir_ / "bad.db").string();
  {
    Result<std::unique_ptr<ReadModelStore>> rm = OpenSqliteReadModelStore(bad_path);
    ASSERT_TRUE(rm.ok());
    auto batch = (*rm)->Begin();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE((*batch)
                    ->CreateTable(TableSchema{
                        "customers", {{"id", ColumnType::kInteger}}, {{"name", ColumnType::kText}}})
                    .ok());
    ASSERT_TRUE((*batch)->Commit().ok());
  }
  read_model_ = "sqlite:" + bad_path;
  cli_testing::RunResult watch = Run(Watch());
  EXPECT_EQ(watch.exit_code, 1);
  EXPECT_NE(watch.err.find("balance"), std::string::npos) << watch.err;
}

TEST_F(WatchCliTest, IntervalChecksUntilSigterm) {
  Pipeline();
  Process process(dir_, Watch({"--interval", "0.2"}), "");
  ASSERT_TRUE(process.WaitForLines(2));
  process.Signal(SIGTERM);
  EXPECT_EQ(process.Wait(), 0);
  const std::vector<json> lines = ParseLines(process.out());
  ASSERT_GE(lines.size(), 2u);
  for (const json& line : lines) EXPECT_EQ(line["in_sync"], true);
  // Progress goes to standard error, never to standard output.
  for (const json& line : lines) EXPECT_FALSE(line.contains("progress"));
}

}  // namespace
}  // namespace sluice::migration
