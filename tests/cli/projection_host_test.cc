// The library side of out-of-process workers (sluice::cli): read-model URLs and ProjectionHost,
// in this process, following a writer opened here.
#include "sluice/cli/projection_host.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "conformance/temp_dir.h"
#include "sluice/cli/read_model_url.h"
#include "sluice/core/stream_id.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/projections/projection_registry.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::vector<EventData> Events(int n, const std::string& type = "test.Happened.v1") {
  std::vector<EventData> events(static_cast<std::size_t>(n));
  for (EventData& e : events) {
    e.type = type;
    e.content_type = ContentType::kJson;
    e.payload = "{}";
  }
  return events;
}

// Fails on every event of type "test.Poison.v1".
class PoisonedProjection final : public Projection {
 public:
  std::string Name() const override { return "poisoned"; }
  std::vector<TableSchema> Tables() const override {
    return {{"poisoned", {{"stream", ColumnType::kText}}, {{"count", ColumnType::kInteger}}}};
  }
  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    if (event.type == "test.Poison.v1") return Status::InvalidArgument("indigestible");
    return tx.Put("poisoned", {event.stream, std::int64_t{1}});
  }
};

class ProjectionHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto writer = RocksEventStore::Open(store_dir_);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    writer_ = std::move(writer).value();
  }

  void Append(const std::string& stream, int n, const std::string& type = "test.Happened.v1") {
    ASSERT_TRUE(
        writer_->Append(*StreamId::Make(stream), ExpectedVersion::Any(), Events(n, type)).ok());
  }

  ProjectionHostOptions Options(std::vector<std::string> projections) {
    ProjectionHostOptions options;
    options.store_dir = store_dir_;
    options.read_model_url = "sqlite:" + dir_.Sub("read.db");
    options.projections = std::move(projections);
    return options;
  }

  testing::TempDir dir_;
  const std::string store_dir_ = dir_.Sub("store");
  std::unique_ptr<RocksEventStore> writer_;
  ProjectionRegistry registry_;
};

TEST(ReadModelUrlTest, ParsesSqliteAndRocksdbUrls) {
  Result<ReadModelUrl> sqlite = ParseReadModelUrl("sqlite:/tmp/x.db");
  ASSERT_TRUE(sqlite.ok());
  EXPECT_EQ(sqlite->kind, ReadModelKind::kSqlite);
  EXPECT_EQ(sqlite->path, "/tmp/x.db");
  Result<ReadModelUrl> rocks = ParseReadModelUrl("rocksdb:relative/dir");
  ASSERT_TRUE(rocks.ok());
  EXPECT_EQ(rocks->kind, ReadModelKind::kRocksDb);
  EXPECT_EQ(rocks->path, "relative/dir");
}

TEST(ReadModelUrlTest, RejectsBadAndUnsupportedUrls) {
  for (const char* url : {"", "sqlite:", "rocksdb:", "mysql://x", "/tmp/x.db", "SQLITE:x"}) {
    Result<std::unique_ptr<ReadModelStore>> store = OpenReadModel(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << url;
  }
  for (const char* url : {"postgresql:x/db", "postgres:x", "postgresql://"}) {
    Result<std::unique_ptr<ReadModelStore>> store = OpenReadModel(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << url;
  }
}

TEST(ReadModelUrlTest, PostgresUrlsOpenThePostgresStore) {
  const std::string url = "postgresql://u:secret@127.0.0.1:1/db";
  Result<ReadModelUrl> parsed = ParseReadModelUrl(url);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->kind, ReadModelKind::kPostgres);
  EXPECT_EQ(parsed->path, url);
  ASSERT_TRUE(ParseReadModelUrl("postgres://u@h:5432/db").ok());
  // Nothing listens on port 1: the store's Unavailable, without the password.
  Result<std::unique_ptr<ReadModelStore>> store = OpenReadModel(url);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
  EXPECT_EQ(store.status().message().find("secret"), std::string::npos);
}

TEST(ReadModelUrlTest, OpensEachKindAndCreatesOnlyWhenAsked) {
  testing::TempDir dir;
  for (const std::string& url : {"sqlite:" + dir.Sub("a.db"), "rocksdb:" + dir.Sub("rocks")}) {
    OpenReadModelOptions look;
    look.create_if_missing = false;
    Result<std::unique_ptr<ReadModelStore>> missing = OpenReadModel(url, look);
    ASSERT_FALSE(missing.ok()) << url;
    EXPECT_TRUE(missing.status().IsNotFound()) << url;
    EXPECT_FALSE(std::filesystem::exists(url.substr(url.find(':') + 1))) << url;

    Result<std::unique_ptr<ReadModelStore>> created = OpenReadModel(url);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    created->reset();
    Result<std::unique_ptr<ReadModelStore>> again = OpenReadModel(url, look);
    EXPECT_TRUE(again.ok()) << again.status().ToString();
  }
}

TEST_F(ProjectionHostTest, RunWithOnceReturnsAfterEveryProjectionProcessedTheStartHead) {
  Append("a-1", 3);
  Append("b-1", 2, "test.Other.v1");
  ProjectionHostOptions options = Options({"stream-index", "type-counts"});
  options.once = true;
  auto host = ProjectionHost::Start(options, registry_);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  EXPECT_EQ((*host)->start_head(), 5u);
  ASSERT_TRUE((*host)->Run().ok());
  const std::vector<ProjectionReport> reports = (*host)->Reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].name, "stream-index");
  EXPECT_EQ(reports[1].name, "type-counts");
  for (const ProjectionReport& report : reports) {
    EXPECT_EQ(report.checkpoint, 5u) << report.name;
    EXPECT_EQ(report.lag_events, 0u) << report.name;
    EXPECT_EQ(report.state, ProjectionState::kStopped) << report.name;
  }
}

TEST_F(ProjectionHostTest, FollowsTheWriterUntilStopped) {
  Append("a-1", 1);
  auto host = ProjectionHost::Start(Options({"type-counts"}), registry_);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  Status ended;
  std::thread runner([&] { ended = (*host)->Run(); });
  for (int i = 0; i < 20; ++i) Append("a-" + std::to_string(i % 3), 5);
  const GlobalPosition head = writer_->HeadPosition();
  const auto deadline = steady_clock::now() + milliseconds(30'000);
  while ((*host)->Reports()[0].checkpoint < head && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ((*host)->Reports()[0].checkpoint, head);
  (*host)->Stop();
  runner.join();
  EXPECT_TRUE(ended.ok()) << ended.ToString();
  EXPECT_EQ((*host)->Reports()[0].state, ProjectionState::kStopped);
}

TEST_F(ProjectionHostTest, StopFlagEndsTheRun) {
  Append("a-1", 1);
  auto host = ProjectionHost::Start(Options({"stream-index"}), registry_);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(100));
    stop.store(true);
  });
  EXPECT_TRUE((*host)->Run(&stop).ok());
  stopper.join();
}

TEST_F(ProjectionHostTest, StopBeforeRunReturnsAtOnce) {
  auto host = ProjectionHost::Start(Options({"stream-index"}), registry_);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  (*host)->Stop();
  EXPECT_TRUE((*host)->Run().ok());
}

TEST_F(ProjectionHostTest, AFailingProjectionEndsTheRunWithItsError) {
  ASSERT_TRUE(
      registry_.Add("poisoned", [] { return std::make_shared<PoisonedProjection>(); }).ok());
  Append("a-1", 2);
  Append("a-1", 1, "test.Poison.v1");
  ProjectionHostOptions options = Options({"type-counts", "poisoned"});
  options.worker.failure.max_attempts = 1;
  options.worker.failure.then = OnFailure::kStop;
  auto host = ProjectionHost::Start(options, registry_);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  const Status ended = (*host)->Run();
  ASSERT_FALSE(ended.ok());
  EXPECT_NE(ended.message().find("poisoned"), std::string::npos) << ended.ToString();
  EXPECT_NE(ended.message().find("indigestible"), std::string::npos) << ended.ToString();
  const std::vector<ProjectionReport> reports = (*host)->Reports();
  EXPECT_EQ(reports[1].state, ProjectionState::kFailed);
  EXPECT_EQ(reports[1].checkpoint, 2u);
}

TEST_F(ProjectionHostTest, ParksFailingEventsByDefaultAndGoesOn) {
  ASSERT_TRUE(
      registry_.Add("poisoned", [] { return std::make_shared<PoisonedProjection>(); }).ok());
  Append("a-1", 1, "test.Poison.v1");
  Append("a-1", 2);
  ProjectionHostOptions options = Options({"poisoned"});
  options.once = true;
  options.worker.failure.max_attempts = 2;
  options.worker.failure.initial_backoff = milliseconds(1);
  auto host = ProjectionHost::Start(options, registry_);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  ASSERT_TRUE((*host)->Run().ok());
  const ProjectionReport report = (*host)->Reports()[0];
  EXPECT_EQ(report.checkpoint, 3u);
  EXPECT_EQ(report.parked, 1u);
}

TEST_F(ProjectionHostTest, StartRefusesBadOptionsAndStartsNothing) {
  auto expect = [&](ProjectionHostOptions options, StatusCode code, const std::string& text) {
    auto host = ProjectionHost::Start(options, registry_);
    ASSERT_FALSE(host.ok()) << text;
    EXPECT_EQ(host.status().code(), code) << host.status().ToString();
    EXPECT_NE(host.status().message().find(text), std::string::npos) << host.status().ToString();
  };
  expect(Options({}), StatusCode::kInvalidArgument, "no projection");
  expect(Options({"nope"}), StatusCode::kNotFound, "stream-index, type-counts");
  expect(Options({"type-counts", "type-counts"}), StatusCode::kInvalidArgument, "twice");
  ProjectionHostOptions bad_url = Options({"type-counts"});
  bad_url.read_model_url = "postgresql:localhost/x";
  expect(bad_url, StatusCode::kInvalidArgument, "postgresql://");
  ProjectionHostOptions no_store = Options({"type-counts"});
  no_store.store_dir = dir_.Sub("nowhere");
  expect(no_store, StatusCode::kNotFound, "no store");
  ProjectionHostOptions partitions = Options({"type-counts"});
  partitions.worker.partitions = 0;
  expect(partitions, StatusCode::kInvalidArgument, "partitions");
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("nowhere")));
}

TEST_F(ProjectionHostTest, TwoHostsForDifferentProjectionsShareOneSqliteFile) {
  Append("a-1", 4);
  ProjectionHostOptions first = Options({"stream-index"});
  ProjectionHostOptions second = Options({"type-counts"});
  first.once = second.once = true;
  auto a = ProjectionHost::Start(first, registry_);
  auto b = ProjectionHost::Start(second, registry_);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Status a_ended;
  std::thread runner([&] { a_ended = (*a)->Run(); });
  EXPECT_TRUE((*b)->Run().ok());
  runner.join();
  EXPECT_TRUE(a_ended.ok()) << a_ended.ToString();
  EXPECT_EQ((*a)->Reports()[0].checkpoint, 4u);
  EXPECT_EQ((*b)->Reports()[0].checkpoint, 4u);
}

}  // namespace
}  // namespace sluice
