// The projection commands of the `sluice` tool, run as real processes: project, projections, dlq
// and rebuild, their JSON and exit codes, read models in SQLite (checked with plain SQL) and
// RocksDB, workers following a live writer in this process, and dead letters driven through a
// tool built on sluice::cli with an application's projection (poison_cli_main.cc).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli/cli_process.h"
#include "sluice/core/stream_id.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/projections/rocks_read_model_store.h"

namespace sluice {
namespace {

using cli_testing::ParseLines;
using cli_testing::Process;
using cli_testing::RunResult;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

using Rows = std::vector<std::vector<std::string>>;

constexpr milliseconds kCatchUpTimeout{60'000};

// Every row of `sql` in the SQLite file, each cell as text ("NULL" for NULL); an empty result if
// the query fails (e.g. the table does not exist yet).
Rows Query(const std::string& path, const std::string& sql, std::string* error = nullptr) {
  Rows rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    if (error != nullptr) *error = sqlite3_errmsg(db);
    sqlite3_close(db);
    return rows;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    if (error != nullptr) *error = sqlite3_errmsg(db);
    sqlite3_close(db);
    return rows;
  }
  while (sqlite3_step(statement) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      const unsigned char* text = sqlite3_column_text(statement, i);
      row.emplace_back(text == nullptr ? "NULL" : reinterpret_cast<const char*>(text));
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

// SELECT of a single integer, or -1 if there is none yet.
std::int64_t QueryNumber(const std::string& path, const std::string& sql) {
  Rows rows = Query(path, sql);
  if (rows.empty() || rows[0].empty() || rows[0][0] == "NULL") return -1;
  return std::stoll(rows[0][0]);
}

std::string Text(const Value& value) {
  if (const auto* number = std::get_if<std::int64_t>(&value)) return std::to_string(*number);
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  return "NULL";
}

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

const std::set<std::string> kReportKeys = {"name",  "checkpoint", "head",      "lag",
                                           "state", "parked",     "partitions"};

// The shop-like history every test starts from: 6 events in 3 streams of 4 types.
const std::vector<std::pair<std::string, std::string>> kHistory = {
    {"order-1", "shop.OrderPlaced.v1"}, {"cart-7", "shop.ItemAdded.v1"},
    {"order-2", "shop.OrderPlaced.v1"}, {"order-1", "shop.OrderPaid.v1"},
    {"cart-7", "shop.ItemAdded.v1"},    {"order-1", "shop.OrderShipped.v1"}};

// "stream-index" rows for kHistory, by stream: stream, version, event_count, first_position,
// last_position, last_type.
const Rows kStreamIndex = {{"cart-7", "1", "2", "2", "5", "shop.ItemAdded.v1"},
                           {"order-1", "2", "3", "1", "6", "shop.OrderShipped.v1"},
                           {"order-2", "0", "1", "3", "3", "shop.OrderPlaced.v1"}};
// "type-counts" rows for kHistory, by type.
const Rows kTypeCounts = {{"shop.ItemAdded.v1", "2"},
                          {"shop.OrderPaid.v1", "1"},
                          {"shop.OrderPlaced.v1", "2"},
                          {"shop.OrderShipped.v1", "1"}};

constexpr const char* kStreamIndexSql =
    "SELECT stream, version, event_count, first_position, last_position, last_type "
    "FROM \"stream-index\" ORDER BY stream";
constexpr const char* kTypeCountsSql = "SELECT type, count FROM \"type-counts\" ORDER BY type";

class ProjectionCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = std::filesystem::temp_directory_path() /
            ("sluice-projection-cli-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(work_);
    std::filesystem::create_directories(work_);
    store_ = (work_ / "store").string();
    db_ = (work_ / "read.db").string();
    sqlite_ = "sqlite:" + db_;
    rocks_dir_ = (work_ / "read-rocks").string();
    rocks_ = "rocksdb:" + rocks_dir_;
  }
  void TearDown() override {
    writer_.reset();
    std::filesystem::remove_all(work_);
  }

  RunResult Run(const std::vector<std::string>& args, const std::string& binary = SLUICE_CLI_PATH,
                const std::vector<std::string>& env = {}) {
    Process process(work_, args, "", binary, env);
    RunResult result;
    result.exit_code = process.Wait();
    result.out = process.out();
    result.err = process.err();
    return result;
  }

  // Runs the tool built with the "poisoned" projection (poison_cli_main.cc).
  RunResult RunPoisoned(const std::vector<std::string>& args, bool fixed = false) {
    return Run(args, SLUICE_POISON_CLI_PATH,
               {fixed ? "SLUICE_TEST_POISON_FIXED=1" : "SLUICE_TEST_POISON_FIXED=0"});
  }

  std::unique_ptr<Process> Start(const std::vector<std::string>& args) {
    return std::make_unique<Process>(work_, args, "");
  }

  RocksEventStore& Writer() {
    if (writer_ == nullptr) {
      auto store = RocksEventStore::Open(store_);
      EXPECT_TRUE(store.ok()) << store.status().ToString();
      writer_ = std::move(store).value();
    }
    return *writer_;
  }
  // Closes the writer: the commands then follow a store nobody writes.
  void CloseWriter() { writer_.reset(); }

  void Append(const std::string& stream, const std::string& type, int n = 1) {
    std::vector<EventData> events(static_cast<std::size_t>(n));
    for (EventData& e : events) {
      e.type = type;
      e.content_type = ContentType::kJson;
      e.payload = "{}";
    }
    Result<AppendResult> appended =
        Writer().Append(*StreamId::Make(stream), ExpectedVersion::Any(), std::move(events));
    ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  }

  void AppendHistory() {
    for (const auto& [stream, type] : kHistory) Append(stream, type);
  }

  std::vector<std::string> Project(const std::string& url, const std::string& names) {
    return {"project", "--store", store_, "--read-model", url, "--projection", names};
  }
  std::vector<std::string> OnStore(const std::string& command, const std::string& url) {
    return {command, "--store", store_, "--read-model", url};
  }
  std::vector<std::string> Dlq(const std::string& action, const std::string& projection,
                               const std::string& url) {
    return {"dlq", action, "--store", store_, "--read-model", url, "--projection", projection};
  }

  // The `projections` lines by name; expects exit 0.
  std::map<std::string, json> Projections(const std::string& url) {
    RunResult r = Run(OnStore("projections", url));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, json> by_name;
    for (const json& line : ParseLines(r.out)) by_name[line.at("name")] = line;
    return by_name;
  }

  // Rows of a table of the RocksDB read model (no worker may hold it), each cell as text.
  Rows RocksRows(const std::string& table) {
    RocksReadModelStoreOptions options;
    options.create_if_missing = false;
    auto store = OpenRocksReadModelStore(rocks_dir_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return {};
    auto rows = (*store)->Scan(table, nullptr, 1000);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    Rows out;
    if (!rows.ok()) return out;
    for (const Row& row : *rows) {
      std::vector<std::string> cells;
      for (const Value& value : row) cells.push_back(Text(value));
      out.push_back(std::move(cells));
    }
    return out;
  }

  // Waits until the SQLite read model's tables account for `head` events.
  bool WaitForSqliteCounts(std::int64_t head, bool stream_index, bool type_counts) {
    const auto deadline = steady_clock::now() + kCatchUpTimeout;
    while (steady_clock::now() < deadline) {
      const bool index_done =
          !stream_index ||
          QueryNumber(db_, "SELECT sum(event_count) FROM \"stream-index\"") == head;
      const bool counts_done =
          !type_counts || QueryNumber(db_, "SELECT sum(count) FROM \"type-counts\"") == head;
      if (index_done && counts_done) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  std::filesystem::path work_;
  std::string store_;
  std::string db_;
  std::string sqlite_;
  std::string rocks_dir_;
  std::string rocks_;
  std::unique_ptr<RocksEventStore> writer_;
};

void ExpectFinalReport(const json& line, const std::string& name, std::uint64_t head) {
  EXPECT_EQ(Keys(line), kReportKeys) << line;
  EXPECT_EQ(line["name"], name);
  EXPECT_EQ(line["checkpoint"], head) << line;
  EXPECT_EQ(line["head"], head) << line;
  EXPECT_EQ(line["lag"], 0) << line;
  EXPECT_EQ(line["state"], "stopped") << line;
  EXPECT_EQ(line["parked"], 0) << line;
}

std::vector<std::string> With(std::vector<std::string> args,
                              const std::vector<std::string>& extra) {
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// --- project --once ---------------------------------------------------------------------------

TEST_F(ProjectionCliTest, ProjectOnceBuildsBothBuiltinsAsSqliteTables) {
  AppendHistory();
  RunResult r = Run(With(Project(sqlite_, "stream-index,type-counts"), {"--once"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> lines = ParseLines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  ExpectFinalReport(lines[0], "stream-index", 6);
  ExpectFinalReport(lines[1], "type-counts", 6);
  EXPECT_EQ(lines[0]["partitions"], 1);

  EXPECT_EQ(Query(db_, kStreamIndexSql), kStreamIndex);
  EXPECT_EQ(Query(db_, kTypeCountsSql), kTypeCounts);
}

TEST_F(ProjectionCliTest, ProjectOnceBuildsBothBuiltinsInRocksdb) {
  AppendHistory();
  CloseWriter();
  RunResult r = Run(With(Project(rocks_, "type-counts,stream-index"), {"--once"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> lines = ParseLines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  ExpectFinalReport(lines[0], "type-counts", 6);  // in the order named
  ExpectFinalReport(lines[1], "stream-index", 6);

  EXPECT_EQ(RocksRows("stream-index"), kStreamIndex);
  EXPECT_EQ(RocksRows("type-counts"), kTypeCounts);
}

TEST_F(ProjectionCliTest, ProjectOnceGoesOnFromItsCheckpoint) {
  AppendHistory();
  ASSERT_EQ(Run(With(Project(sqlite_, "type-counts"), {"--once"})).exit_code, 0);
  Append("order-3", "shop.OrderPlaced.v1", 2);
  RunResult r = Run(With(Project(sqlite_, "type-counts"), {"--once"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectFinalReport(ParseLines(r.out).at(0), "type-counts", 8);
  EXPECT_EQ(
      QueryNumber(db_, "SELECT count FROM \"type-counts\" WHERE type = 'shop.OrderPlaced.v1'"),
      4);  // each event counted once
}

TEST_F(ProjectionCliTest, ProjectTakesTheProjectionFlagSeveralTimes) {
  AppendHistory();
  RunResult r = Run({"project", "--store", store_, "--read-model", sqlite_, "--projection",
                     "type-counts", "--projection=stream-index", "--once"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> lines = ParseLines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  ExpectFinalReport(lines[0], "type-counts", 6);
  ExpectFinalReport(lines[1], "stream-index", 6);
  EXPECT_EQ(Run({"project", "--store", store_, "--read-model", sqlite_, "--projection",
                 "type-counts", "--projection", "type-counts", "--once"})
                .exit_code,
            2);
  EXPECT_EQ(Run({"project", "--store", store_, "--read-model", sqlite_, "--projection",
                 "type-counts", "stream-index", "--once"})
                .exit_code,
            2);
}

TEST_F(ProjectionCliTest, ProjectOnceWithPartitions) {
  AppendHistory();
  for (int i = 0; i < 20; ++i) Append("cart-" + std::to_string(i), "shop.ItemAdded.v1", 3);
  RunResult r =
      Run(With(Project(sqlite_, "stream-index,type-counts"), {"--once", "--partitions", "4"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> lines = ParseLines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  ExpectFinalReport(lines[0], "stream-index", 66);
  EXPECT_EQ(lines[0]["partitions"], 4);
  EXPECT_EQ(QueryNumber(db_, "SELECT sum(event_count) FROM \"stream-index\""), 66);
  EXPECT_EQ(QueryNumber(db_, "SELECT event_count FROM \"stream-index\" WHERE stream = 'cart-7'"),
            5);
  EXPECT_EQ(QueryNumber(db_, "SELECT last_position FROM \"stream-index\" WHERE stream = 'order-1'"),
            6);
  EXPECT_EQ(QueryNumber(db_, "SELECT sum(count) FROM \"type-counts\""), 66);
}

TEST_F(ProjectionCliTest, ProjectOnceOnAnEmptyStoreExitsAtOnce) {
  Writer();
  CloseWriter();
  RunResult r = Run(With(Project(sqlite_, "stream-index"), {"--once"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectFinalReport(ParseLines(r.out).at(0), "stream-index", 0);
  EXPECT_TRUE(Query(db_, kStreamIndexSql).empty());
}

TEST_F(ProjectionCliTest, ProjectBadUsageExits2) {
  AppendHistory();
  struct Case {
    std::vector<std::string> args;
    std::string message;  // a part of standard error
  };
  const std::vector<Case> cases = {
      {{"project"}, ""},
      {{"project", "--store", store_, "--read-model", sqlite_}, "--projection"},
      {{"project", "--store", store_, "--projection", "type-counts"}, "--read-model"},
      {Project(sqlite_, "nope"), "stream-index, type-counts"},
      {Project(sqlite_, "type-counts,nope"), "nope"},
      {Project(sqlite_, "type-counts,type-counts"), "twice"},
      {Project(sqlite_, ""), "--projection"},
      {Project(sqlite_, ","), "--projection"},
      {Project(sqlite_, "type-counts,"), "--projection"},
      {Project("foo:" + db_, "type-counts"), "sqlite:PATH"},
      {Project(db_, "type-counts"), "sqlite:PATH"},
      {Project("sqlite:", "type-counts"), "--read-model"},
      {Project("postgresql:localhost/shop", "type-counts"), "postgresql://"},
      {With(Project(sqlite_, "type-counts"), {"--partitions", "0"}), "--partitions"},
      {With(Project(sqlite_, "type-counts"), {"--partitions", "65"}), "--partitions"},
      {With(Project(sqlite_, "type-counts"), {"--partitions", "x"}), "--partitions"},
      {With(Project(sqlite_, "type-counts"), {"--partitions", "-1"}), ""},
      {With(Project(sqlite_, "type-counts"), {"--bogus"}), ""},
  };
  for (const Case& c : cases) {
    RunResult r = Run(c.args);
    EXPECT_EQ(r.exit_code, 2) << testing::PrintToString(c.args) << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << testing::PrintToString(c.args);
  }
  EXPECT_FALSE(std::filesystem::exists(db_));
}

TEST_F(ProjectionCliTest, ProjectWithoutAStoreExits1AndCreatesNothing) {
  RunResult r = Run(With(Project(sqlite_, "type-counts"), {"--once"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no store"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(std::filesystem::exists(store_));
  EXPECT_FALSE(std::filesystem::exists(db_));
}

TEST_F(ProjectionCliTest, ProjectIntoARocksdbReadModelInUseExits1) {
  AppendHistory();
  auto held = OpenRocksReadModelStore(rocks_dir_);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  RunResult r = Run(With(Project(rocks_, "type-counts"), {"--once"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot open read model"), std::string::npos) << r.err;
}

TEST_F(ProjectionCliTest, ProjectWhoseWorkerCannotStartExits1) {
  AppendHistory();
  RunResult r = RunPoisoned(With(Project(sqlite_, "bad-tables"), {"--once"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad-tables"), std::string::npos) << r.err;
}

// --- projections ------------------------------------------------------------------------------

TEST_F(ProjectionCliTest, ProjectionsShowsEachProjectionOfTheReadModel) {
  AppendHistory();
  ASSERT_EQ(Run(With(Project(sqlite_, "type-counts,stream-index"), {"--once"})).exit_code, 0);
  Append("order-9", "shop.OrderPlaced.v1", 3);

  RunResult r = Run(OnStore("projections", sqlite_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> lines = ParseLines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["name"], "stream-index");  // by name
  EXPECT_EQ(lines[1]["name"], "type-counts");
  for (const json& line : lines) {
    EXPECT_EQ(Keys(line), kReportKeys) << line;
    EXPECT_EQ(line["checkpoint"], 6) << line;
    EXPECT_EQ(line["head"], 9) << line;
    EXPECT_EQ(line["lag"], 3) << line;
    EXPECT_EQ(line["state"], "stopped") << line;
    EXPECT_EQ(line["parked"], 0) << line;
  }
}

TEST_F(ProjectionCliTest, ProjectionsOnRocksdb) {
  AppendHistory();
  ASSERT_EQ(Run(With(Project(rocks_, "stream-index"), {"--once"})).exit_code, 0);
  std::map<std::string, json> projections = Projections(rocks_);
  ASSERT_EQ(projections.size(), 1u);
  EXPECT_EQ(projections["stream-index"]["checkpoint"], 6);
  EXPECT_EQ(projections["stream-index"]["lag"], 0);
}

TEST_F(ProjectionCliTest, ProjectionsOnAnEmptyOrMissingReadModelPrintsNothing) {
  AppendHistory();
  for (const std::string& url : {sqlite_, rocks_}) {
    RunResult r = Run(OnStore("projections", url));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(std::filesystem::exists(db_));  // looking creates nothing
  EXPECT_FALSE(std::filesystem::exists(rocks_dir_));

  ASSERT_TRUE(OpenRocksReadModelStore(rocks_dir_).ok());  // exists, but empty
  RunResult r = Run(OnStore("projections", rocks_));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(ProjectionCliTest, ProjectionsErrors) {
  EXPECT_EQ(Run(OnStore("projections", sqlite_)).exit_code, 1);  // no store
  AppendHistory();
  EXPECT_EQ(Run(OnStore("projections", "mysql://x")).exit_code, 2);
  EXPECT_EQ(Run(OnStore("projections", "postgresql:x/y")).exit_code, 2);
  // A well-formed PostgreSQL URL whose server cannot be reached: 1 (tests/migration runs
  // PostgreSQL read models against the test server).
  RunResult unreachable = Run(OnStore("projections", "postgresql://u:secret@127.0.0.1:1/y"));
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.err;
  EXPECT_EQ(unreachable.err.find("not supported"), std::string::npos) << unreachable.err;
  EXPECT_EQ(Run({"projections", "--store", store_}).exit_code, 2);
  EXPECT_EQ(Run({"projections", "--read-model", sqlite_}).exit_code, 2);
  EXPECT_EQ(Run({"projection", "--store", store_, "--read-model", sqlite_}).exit_code, 2);
}

// --- rebuild ----------------------------------------------------------------------------------

TEST_F(ProjectionCliTest, RebuildPrintsJsonProgressAndSwitches) {
  AppendHistory();
  ASSERT_EQ(Run(With(Project(sqlite_, "stream-index,type-counts"), {"--once"})).exit_code, 0);
  RunResult r =
      Run({"rebuild", "--store", store_, "--read-model", sqlite_, "--projection", "stream-index"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<json> lines = ParseLines(r.out);
  ASSERT_FALSE(lines.empty());
  for (const json& line : lines) {
    EXPECT_EQ(Keys(line), (std::set<std::string>{"events_done", "position", "head",
                                                 "events_per_second", "eta_seconds", "switched"}))
        << line;
  }
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i]["switched"], false);
  const json& last = lines.back();
  EXPECT_EQ(last["switched"], true);
  EXPECT_EQ(last["events_done"], 6);
  EXPECT_EQ(last["position"], 6);
  EXPECT_EQ(last["head"], 6);
  EXPECT_EQ(last["eta_seconds"], 0);

  EXPECT_EQ(Query(db_, kStreamIndexSql), kStreamIndex);
  EXPECT_EQ(Query(db_, kTypeCountsSql), kTypeCounts);
  EXPECT_TRUE(Query(db_, "SELECT * FROM \"stream-index__rebuild\"").empty());
  std::map<std::string, json> projections = Projections(sqlite_);
  ASSERT_EQ(projections.size(), 2u);  // the shadow is not listed
  EXPECT_EQ(projections["stream-index"]["checkpoint"], 6);

  // The switched read model goes on from the rebuilt checkpoint.
  Append("order-1", "shop.OrderRefunded.v1");
  ASSERT_EQ(Run(With(Project(sqlite_, "stream-index"), {"--once"})).exit_code, 0);
  EXPECT_EQ(Query(db_,
                  "SELECT event_count, last_type FROM \"stream-index\" WHERE stream = "
                  "'order-1'"),
            (Rows{{"4", "shop.OrderRefunded.v1"}}));
}

TEST_F(ProjectionCliTest, RebuildOfAProjectionThatNeverRanBuildsIt) {
  AppendHistory();
  CloseWriter();
  RunResult r =
      Run({"rebuild", "--store", store_, "--read-model", rocks_, "--projection", "type-counts"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseLines(r.out).back()["switched"], true);
  EXPECT_EQ(RocksRows("type-counts"), kTypeCounts);
}

TEST_F(ProjectionCliTest, RebuildErrors) {
  auto rebuild = [&](const std::string& url, const std::string& projection) {
    return Run({"rebuild", "--store", store_, "--read-model", url, "--projection", projection});
  };
  EXPECT_EQ(rebuild(sqlite_, "type-counts").exit_code, 1);  // no store
  EXPECT_FALSE(std::filesystem::exists(db_));
  AppendHistory();
  RunResult unknown = rebuild(sqlite_, "nope");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("stream-index, type-counts"), std::string::npos) << unknown.err;
  EXPECT_EQ(rebuild("nope:x", "type-counts").exit_code, 2);
  EXPECT_EQ(Run({"rebuild", "--store", store_, "--read-model", sqlite_}).exit_code, 2);
}

// --- dlq ----------------------------------------------------------------------------------------

TEST_F(ProjectionCliTest, DlqOnAnEmptyDeadLetterStore) {
  AppendHistory();
  // Before any read model exists, and after the projection ran without parking anything.
  for (int round = 0; round < 2; ++round) {
    RunResult list = Run(Dlq("list", "type-counts", sqlite_));
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_EQ(list.out, "");
    RunResult discard = Run(Dlq("discard", "type-counts", sqlite_));
    EXPECT_EQ(discard.exit_code, 0) << discard.err;
    EXPECT_EQ(json::parse(discard.out), json({{"discarded", 0}}));
    RunResult replay = Run(Dlq("replay", "type-counts", sqlite_));
    EXPECT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_EQ(json::parse(replay.out), json({{"replayed", 0}, {"still_failing", 0}}));

    RunResult one = Run(With(Dlq("list", "type-counts", sqlite_), {"--position", "3"}));
    EXPECT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(one.out, "");
    for (const char* action : {"discard", "replay"}) {
      RunResult r = Run(With(Dlq(action, "type-counts", sqlite_), {"--position", "3"}));
      EXPECT_EQ(r.exit_code, 1) << action;
      EXPECT_NE(r.err.find("position 3"), std::string::npos) << r.err;
      EXPECT_EQ(r.out, "");
    }
    if (round == 0) {
      EXPECT_FALSE(std::filesystem::exists(db_));  // looking created nothing
      ASSERT_EQ(Run(With(Project(sqlite_, "type-counts"), {"--once"})).exit_code, 0);
    }
  }
}

TEST_F(ProjectionCliTest, DlqBadUsageExits2) {
  AppendHistory();
  const std::vector<std::vector<std::string>> cases = {
      {"dlq"},
      {"dlq", "frob", "--store", store_, "--read-model", sqlite_, "--projection", "type-counts"},
      {"dlq", "list", "--store", store_, "--read-model", sqlite_},
      {"dlq", "list", "--store", store_, "--projection", "type-counts"},
      Dlq("list", "nope", sqlite_),
      Dlq("discard", "nope", sqlite_),
      Dlq("replay", "nope", sqlite_),
      Dlq("list", "type-counts", "bogus:x"),
      Dlq("replay", "type-counts", "postgresql:h/db"),
      With(Dlq("list", "type-counts", sqlite_), {"--position", "x"}),
      With(Dlq("discard", "type-counts", sqlite_), {"--position", "0"}),
      With(Dlq("replay", "type-counts", sqlite_), {"--position", "-4"}),
      With(Dlq("replay", "type-counts", sqlite_), {"--position", "0x10"}),
  };
  for (const auto& args : cases) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << testing::PrintToString(args) << "\n" << r.err;
    EXPECT_EQ(r.out, "") << testing::PrintToString(args);
  }
  RunResult unknown = Run(Dlq("list", "nope", sqlite_));
  EXPECT_NE(unknown.err.find("stream-index, type-counts"), std::string::npos) << unknown.err;
  // No store: 1.
  std::filesystem::path other = work_ / "other";
  EXPECT_EQ(Run({"dlq", "list", "--store", other.string(), "--read-model", sqlite_, "--projection",
                 "type-counts"})
                .exit_code,
            1);
}

// Park -> list -> replay (still failing) -> discard one -> replay after the fix, through a tool
// built on sluice::cli with the application's own projection.
TEST_F(ProjectionCliTest, DeadLettersOfAnApplicationProjection) {
  Append("order-1", "shop.OrderPlaced.v1");  // 1
  Append("order-1", "test.Poison.v1");       // 2
  Append("order-2", "shop.OrderPlaced.v1");  // 3
  Append("order-2", "test.Poison.v1");       // 4
  Append("order-3", "test.Poison.v1");       // 5
  Append("order-1", "shop.OrderPaid.v1");    // 6

  RunResult project = RunPoisoned(With(Project(sqlite_, "poisoned,type-counts"), {"--once"}));
  ASSERT_EQ(project.exit_code, 0) << project.err;
  const std::vector<json> reports = ParseLines(project.out);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0]["name"], "poisoned");
  EXPECT_EQ(reports[0]["checkpoint"], 6);
  EXPECT_EQ(reports[0]["parked"], 3);
  EXPECT_EQ(reports[1]["parked"], 0);
  EXPECT_EQ(Query(db_, "SELECT stream, count FROM poisoned ORDER BY stream"),
            (Rows{{"order-1", "2"}, {"order-2", "1"}}));
  EXPECT_EQ(Projections(sqlite_)["poisoned"]["parked"], 3);

  // The plain tool lists an application's parked events too (the projection ran in this read
  // model), but cannot replay them without its code.
  RunResult list = Run(Dlq("list", "poisoned", sqlite_));
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::vector<json> parked = ParseLines(list.out);
  ASSERT_EQ(parked.size(), 3u);
  EXPECT_EQ(Keys(parked[0]), (std::set<std::string>{"position", "stream", "version", "event_id",
                                                    "type", "error", "attempts", "parked_at_us"}));
  EXPECT_EQ(parked[0]["position"], 2);
  EXPECT_EQ(parked[0]["stream"], "order-1");
  EXPECT_EQ(parked[0]["version"], 1);
  EXPECT_EQ(parked[0]["type"], "test.Poison.v1");
  EXPECT_EQ(parked[0]["event_id"].get<std::string>().size(), 36u);
  EXPECT_NE(parked[0]["error"].get<std::string>().find("cannot digest"), std::string::npos);
  EXPECT_EQ(parked[0]["attempts"], 5);  // the default policy: 5 attempts, then park
  EXPECT_GT(parked[0]["parked_at_us"].get<std::int64_t>(), 1'600'000'000'000'000);
  EXPECT_EQ(parked[1]["position"], 4);
  EXPECT_EQ(parked[2]["position"], 5);
  EXPECT_EQ(Run(Dlq("replay", "poisoned", sqlite_)).exit_code, 2);

  RunResult one = Run(With(Dlq("list", "poisoned", sqlite_), {"--position", "4"}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(ParseLines(one.out).size(), 1u);
  EXPECT_EQ(ParseLines(one.out)[0]["stream"], "order-2");
  EXPECT_EQ(Run(With(Dlq("list", "poisoned", sqlite_), {"--position", "3"})).out, "");

  // Replaying before the fix: still failing, kept, one more attempt recorded.
  RunResult replay = RunPoisoned(With(Dlq("replay", "poisoned", sqlite_), {"--position", "2"}));
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(json::parse(replay.out), json({{"replayed", 0}, {"still_failing", 1}}));
  parked = ParseLines(Run(Dlq("list", "poisoned", sqlite_)).out);
  ASSERT_EQ(parked.size(), 3u);
  EXPECT_EQ(parked[0]["attempts"], 6);
  EXPECT_EQ(parked[1]["attempts"], 5);

  RunResult discard = Run(With(Dlq("discard", "poisoned", sqlite_), {"--position", "5"}));
  ASSERT_EQ(discard.exit_code, 0) << discard.err;
  EXPECT_EQ(json::parse(discard.out), json({{"discarded", 1}}));
  EXPECT_EQ(Run(With(Dlq("discard", "poisoned", sqlite_), {"--position", "5"})).exit_code, 1);

  // After the fix: every parked event applies and leaves the dead-letter store.
  RunResult fixed = RunPoisoned(Dlq("replay", "poisoned", sqlite_), /*fixed=*/true);
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_EQ(json::parse(fixed.out), json({{"replayed", 2}, {"still_failing", 0}}));
  EXPECT_EQ(Run(Dlq("list", "poisoned", sqlite_)).out, "");
  EXPECT_EQ(Query(db_, "SELECT stream, count FROM poisoned ORDER BY stream"),
            (Rows{{"order-1", "3"}, {"order-2", "2"}}));  // order-3's event was discarded
  EXPECT_EQ(Projections(sqlite_)["poisoned"]["parked"], 0);
}

// --- workers in another process -----------------------------------------------------------------

TEST_F(ProjectionCliTest, ProjectFollowsALiveWriterUntilSigterm) {
  Append("order-0", "shop.OrderPlaced.v1");  // the store must exist before a follower opens it
  auto worker = Start(Project(sqlite_, "stream-index,type-counts"));
  ASSERT_TRUE(WaitForSqliteCounts(1, true, true)) << worker->err();

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      Append("order-" + std::to_string(i % 17),
             i % 3 == 0 ? "shop.OrderPaid.v1" : "shop.OrderPlaced.v1", 1 + i % 4);
      std::this_thread::sleep_for(milliseconds(2));
    }
    writing = false;
  });
  // It follows while the writer writes: the read model moves before the writer is done.
  bool moved_while_writing = false;
  while (writing.load()) {
    if (QueryNumber(db_, "SELECT sum(count) FROM \"type-counts\"") > 1) moved_while_writing = true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  writer.join();
  const auto head = static_cast<std::int64_t>(Writer().HeadPosition());
  EXPECT_TRUE(moved_while_writing);
  ASSERT_TRUE(WaitForSqliteCounts(head, true, true)) << worker->err();

  std::map<std::string, json> running = Projections(sqlite_);
  ASSERT_EQ(running.size(), 2u);
  for (const auto& [name, line] : running) {
    EXPECT_EQ(line["checkpoint"], head) << line;
    EXPECT_EQ(line["state"], "live") << line;
  }

  worker->Signal(SIGTERM);
  EXPECT_EQ(worker->Wait(), 0) << worker->err();
  const std::vector<json> lines = ParseLines(worker->out());
  ASSERT_EQ(lines.size(), 2u) << worker->out();
  ExpectFinalReport(lines[0], "stream-index", static_cast<std::uint64_t>(head));
  ExpectFinalReport(lines[1], "type-counts", static_cast<std::uint64_t>(head));
  EXPECT_EQ(QueryNumber(db_, "SELECT count(*) FROM \"stream-index\""), 17);
  EXPECT_EQ(QueryNumber(db_, "SELECT sum(event_count) FROM \"stream-index\""), head);
  EXPECT_EQ(QueryNumber(db_, "SELECT max(last_position) FROM \"stream-index\""), head);
  for (const auto& [name, line] : Projections(sqlite_)) EXPECT_EQ(line["state"], "stopped");
}

TEST_F(ProjectionCliTest, TwoWorkerProcessesForDifferentProjectionsFollowOneWriter) {
  Append("order-0", "shop.OrderPlaced.v1");
  // Two processes share one SQLite file; a third keeps its read model in RocksDB.
  auto index = Start(Project(sqlite_, "stream-index"));
  auto counts = Start(With(Project(sqlite_, "type-counts"), {"--partitions", "2"}));
  auto rocks = Start(Project(rocks_, "type-counts"));
  for (int i = 0; i < 100; ++i) {
    Append("cart-" + std::to_string(i % 5), "shop.ItemAdded.v1", 1 + i % 3);
    std::this_thread::sleep_for(milliseconds(1));
  }
  const auto head = static_cast<std::int64_t>(Writer().HeadPosition());
  ASSERT_TRUE(WaitForSqliteCounts(head, true, true)) << index->err() << counts->err();

  index->Signal(SIGTERM);
  counts->Signal(SIGINT);
  EXPECT_EQ(index->Wait(), 0) << index->err();
  EXPECT_EQ(counts->Wait(), 0) << counts->err();
  // The RocksDB worker cannot be watched while it holds its read model: stop it wherever it is.
  rocks->Signal(SIGTERM);
  EXPECT_EQ(rocks->Wait(), 0) << rocks->err();
  const json rocks_report = ParseLines(rocks->out()).at(0);
  EXPECT_EQ(rocks_report["state"], "stopped");
  EXPECT_LE(rocks_report["checkpoint"].get<std::int64_t>(), head);

  ExpectFinalReport(ParseLines(index->out()).at(0), "stream-index", head);
  ExpectFinalReport(ParseLines(counts->out()).at(0), "type-counts", head);
  EXPECT_EQ(ParseLines(counts->out()).at(0)["partitions"], 2);
  EXPECT_EQ(QueryNumber(db_, "SELECT count(*) FROM \"stream-index\""), 6);
  EXPECT_EQ(Query(db_, kTypeCountsSql),
            (Rows{{"shop.ItemAdded.v1", std::to_string(head - 1)}, {"shop.OrderPlaced.v1", "1"}}));

  // The RocksDB worker's checkpoint was committed with its rows: --once finishes the job.
  RunResult finish = Run(With(Project(rocks_, "type-counts"), {"--once"}));
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  ExpectFinalReport(ParseLines(finish.out).at(0), "type-counts", head);
  EXPECT_EQ(RocksRows("type-counts"), Query(db_, kTypeCountsSql));
}

// --- the tool as a library
// ------------------------------------------------------------------------

TEST_F(ProjectionCliTest, AnApplicationToolKeepsTheBuiltinsAndEveryCommand) {
  AppendHistory();
  RunResult help = RunPoisoned({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("project"), std::string::npos);
  RunResult stats = RunPoisoned({"stats", "--store", store_});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(json::parse(stats.out)["head_position"], 6);
  RunResult r = RunPoisoned(With(Project(sqlite_, "stream-index"), {"--once"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Query(db_, kStreamIndexSql), kStreamIndex);
  RunResult unknown = RunPoisoned(Project(sqlite_, "nope"));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("bad-tables, poisoned, stream-index, type-counts"), std::string::npos)
      << unknown.err;
}

TEST_F(ProjectionCliTest, HelpDescribesTheProjectionCommands) {
  for (const char* command : {"project", "projections", "rebuild"}) {
    RunResult r = Run({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("--read-model"), std::string::npos) << command;
  }
  for (const char* action : {"list", "replay", "discard"}) {
    RunResult r = Run({"dlq", action, "--help"});
    EXPECT_EQ(r.exit_code, 0) << action;
    EXPECT_NE(r.out.find("--position"), std::string::npos) << action;
  }
}

}  // namespace
}  // namespace sluice
