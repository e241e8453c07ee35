// Projection workers survive kill -9 (DESIGN.md, promise 1 of projections): a worker process
// follows this process's store as a RocksDB secondary while events keep being appended, and is
// killed at random moments, with a different partition count each round. After every kill the
// read model must equal what a rebuild produces from exactly the events its checkpoints cover:
// nothing applied twice, nothing missed. Runs on the RocksDB and the SQLite read-model stores.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "eventstore/child_process.h"
#include "projections/projection_fixtures.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/projections/builtin_projections.h"
#include "system_tables.h"

namespace sluice::testing {
namespace {

constexpr int kRounds = 24;
constexpr int kHangTimeoutMs = 60'000;

// True when a layout of the projection says `event` was applied.
bool Covered(const std::vector<projection_internal::Layout>& layouts, const RecordedEvent& event) {
  for (const projection_internal::Layout& layout : layouts) {
    int p = projection_internal::PartitionOf(event.stream, layout.partitions);
    if (event.position <= layout.positions[std::size_t(p)]) return true;
  }
  return false;
}

// Applies, in a fresh in-memory store, exactly the events the projection's checkpoints in `store`
// cover, and compares its table with the read model's. Returns the highest covered position.
GlobalPosition ExpectEqualsRebuild(EventStore& events, ReadModelStore& store,
                                   std::shared_ptr<Projection> projection) {
  Result<std::vector<projection_internal::Layout>> layouts =
      projection_internal::LoadLayouts(store, projection->Name());
  if (!layouts.ok() && layouts.status().IsNotFound())
    layouts = std::vector<projection_internal::Layout>();
  EXPECT_TRUE(layouts.ok()) << layouts.status().ToString();
  if (!layouts.ok()) return 0;
  GlobalPosition high = 0;
  for (const auto& layout : *layouts) high = std::max(high, layout.High());
  std::unique_ptr<ReadModelStore> expected = NewInMemoryReadModelStore();
  const std::string table = projection->Tables()[0].name;
  {
    Result<std::unique_ptr<ReadModelBatch>> tx = expected->Begin();
    EXPECT_TRUE((*tx)->CreateTable(projection->Tables()[0]).ok());
    GlobalPosition from = 1;
    while (from <= high) {
      Result<std::vector<RecordedEvent>> page = events.ReadAll(from, 1024);
      EXPECT_TRUE(page.ok());
      if (!page.ok() || page->empty()) break;
      for (const RecordedEvent& event : *page) {
        if (event.position > high) break;
        if (Covered(*layouts, event)) {
          EXPECT_TRUE(projection->Apply(event, **tx).ok());
        }
      }
      from = page->back().position + 1;
    }
    EXPECT_TRUE((*tx)->Commit().ok());
  }
  std::vector<Row> want = AllRows(*expected, table);
  std::vector<Row> got = AllRows(store, table);
  EXPECT_EQ(got.size(), want.size()) << projection->Name();
  EXPECT_TRUE(got == want) << projection->Name() << ": the read model differs from the rebuild";
  return high;
}

class ProjectionCrashTest : public ::testing::TestWithParam<std::string> {
 protected:
  Result<std::unique_ptr<ReadModelStore>> OpenReadModel() {
    if (GetParam() == "rocksdb") {
      RocksReadModelStoreOptions options;
      options.create_if_missing = true;
      return OpenRocksReadModelStore(ReadModelPath(), options);
    }
    return OpenSqliteReadModelStore(ReadModelPath());
  }
  std::string ReadModelPath() const {
    return dir_.Sub(GetParam() == "rocksdb" ? "read-model" : "read-model.db");
  }
  TempDir dir_;
};

TEST_P(ProjectionCrashTest, ReadModelEqualsARebuildAfterEveryKill) {
  Result<std::unique_ptr<RocksEventStore>> events = RocksEventStore::Open(dir_.Sub("store"));
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    std::mt19937 random(7);
    while (writing.load()) {
      int n = 1 + static_cast<int>(random() % 4);
      std::vector<EventData> batch;
      for (int i = 0; i < n; ++i) {
        EventData event;
        event.type = "crash.Type" + std::to_string(random() % 5) + ".v1";
        event.payload = "x";
        batch.push_back(std::move(event));
      }
      AppendOptions unsynced;
      unsynced.sync = false;
      Result<AppendResult> appended = (*events)->Append(Sid("s-" + std::to_string(random() % 40)),
                                                        ExpectedVersion::Any(), batch, unsynced);
      EXPECT_TRUE(appended.ok()) << appended.status().ToString();
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::mt19937 random(42);
  GlobalPosition covered = 0;
  for (int round = 0; round < kRounds; ++round) {
    const int partitions = 1 + round % 3;
    ChildProcess child(
        SLUICE_PROJECTION_CRASH_WORKER,
        {dir_.Sub("store"), GetParam(), ReadModelPath(), std::to_string(partitions)});
    ASSERT_GT(child.pid(), 0);
    ASSERT_TRUE(child.ReadBytes(6, kHangTimeoutMs)) << "the worker did not start";
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 200));
    child.Kill();
    child.Wait();
    Result<std::unique_ptr<ReadModelStore>> store = OpenReadModel();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    GlobalPosition a = ExpectEqualsRebuild(**events, **store, NewStreamIndexProjection());
    GlobalPosition b = ExpectEqualsRebuild(**events, **store, NewTypeCountsProjection());
    covered = std::max({covered, a, b});
    if (HasFailure()) FAIL() << "round " << round;
  }
  writing.store(false);
  writer.join();
  EXPECT_GT(covered, 0u) << "the workers never committed anything";
  std::printf("read model covered %llu of %llu events over %d kills\n",
              static_cast<unsigned long long>(covered),
              static_cast<unsigned long long>((*events)->HeadPosition()), kRounds);
}

INSTANTIATE_TEST_SUITE_P(ReadModels, ProjectionCrashTest, ::testing::Values("rocksdb", "sqlite"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

}  // namespace
}  // namespace sluice::testing
