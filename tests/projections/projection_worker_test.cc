// The projection runtime (issue 4, DESIGN.md "Promises of projections") on every read-model store:
// catch-up then live, checkpoints that survive restarts, filters, partitions that keep per-stream
// order across repartitioning, the failure policy and dead letters, rebuild, reset, takeover.
#include "sluice/projections/projection_worker.h"

#include <gtest/gtest.h>

#include <thread>

#include "projections/projection_fixtures.h"
#include "sluice/projections/builtin_projections.h"
#include "sluice/projections/dead_letters.h"
#include "sluice/projections/projection_catalog.h"
#include "sluice/projections/rebuild.h"

namespace sluice::testing {
namespace {

template <typename F>
class ProjectionWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<ReadModelStore>> opened = factory_.Open();
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  // Closes and opens the read-model store again (workers must be gone).
  void Reopen() {
    store_.reset();
    Result<std::unique_ptr<ReadModelStore>> opened = factory_.Open();
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  std::unique_ptr<ProjectionWorker> StartWorker(std::shared_ptr<Projection> projection,
                                                ProjectionOptions options = {}) {
    Result<std::unique_ptr<ProjectionWorker>> worker =
        ProjectionWorker::Start(events_, *store_, std::move(projection), options);
    EXPECT_TRUE(worker.ok()) << worker.status().ToString();
    return worker.ok() ? std::move(*worker) : nullptr;
  }
  static ProjectionOptions Strict(int partitions = 1) {
    ProjectionOptions options;
    options.partitions = partitions;
    options.batch_size = 64;
    options.failure.max_attempts = 1;
    options.failure.then = OnFailure::kStop;
    return options;
  }
  static ProjectionOptions QuickPark(int attempts = 3) {
    ProjectionOptions options;
    options.failure.max_attempts = attempts;
    options.failure.initial_backoff = std::chrono::milliseconds(1);
    options.failure.max_backoff = std::chrono::milliseconds(4);
    return options;
  }
  // Every stream's version in "streams" equals its head in the event store, and "applied" has one
  // row per event: nothing missed, nothing twice.
  void ExpectRecordedEverything() {
    GlobalPosition head = events_.HeadPosition();
    EXPECT_EQ(AllRows(*store_, "applied").size(), head);
    for (const Row& row : AllRows(*store_, "streams")) {
      const std::string& stream = std::get<std::string>(row[0]);
      Result<StreamVersion> version = events_.StreamHead(Sid(stream));
      ASSERT_TRUE(version.ok());
      EXPECT_EQ(std::get<std::int64_t>(row[1]), *version) << stream;
    }
  }

  F factory_;
  InMemoryEventStore events_;
  std::unique_ptr<ReadModelStore> store_;
};

TYPED_TEST_SUITE(ProjectionWorkerTest, ReadModels, ReadModelNames);

TYPED_TEST(ProjectionWorkerTest, CatchesUpThenFollowsLive) {
  AppendEvents(this->events_, "order-1", 300, "shop.OrderPlaced.v1");
  auto worker = this->StartWorker(NewTypeCountsProjection());
  ASSERT_NE(worker, nullptr);
  ASSERT_TRUE(worker->WaitFor(300, kWait).ok());
  EXPECT_EQ(CountOf(*this->store_, "type-counts", {std::string("shop.OrderPlaced.v1")}, 1), 300);
  GlobalPosition last = AppendEvents(this->events_, "order-2", 5, "shop.OrderPaid.v1");
  ASSERT_TRUE(worker->WaitFor(last, kWait).ok());
  EXPECT_EQ(CountOf(*this->store_, "type-counts", {std::string("shop.OrderPaid.v1")}, 1), 5);
  ProjectionReport report = worker->Report();
  EXPECT_EQ(report.state, ProjectionState::kLive);
  EXPECT_EQ(report.checkpoint, last);
  EXPECT_EQ(report.head, last);
  EXPECT_EQ(report.lag_events, 0u);
  EXPECT_EQ(report.parked, 0u);
}

TYPED_TEST(ProjectionWorkerTest, RestartResumesFromTheCommittedCheckpoint) {
  AppendEvents(this->events_, "a-1", 50);
  {
    auto worker = this->StartWorker(std::make_shared<RecordingProjection>(), this->Strict());
    ASSERT_TRUE(worker->WaitFor(50, kWait).ok());
  }
  AppendEvents(this->events_, "a-1", 30);
  AppendEvents(this->events_, "b-1", 20);
  this->Reopen();
  auto worker = this->StartWorker(std::make_shared<RecordingProjection>(), this->Strict());
  ASSERT_TRUE(worker->WaitFor(100, kWait).ok()) << worker->Report().error;
  this->ExpectRecordedEverything();
  EXPECT_EQ(worker->Report().state, ProjectionState::kLive);
}

TYPED_TEST(ProjectionWorkerTest, FilterSkipsOtherEventsButTheCheckpointPassesThem) {
  Result<std::shared_ptr<Projection>> orders =
      ProjectionBuilder("orders-only")
          .Table({"orders", {{"stream", ColumnType::kText}}, {{"n", ColumnType::kInteger}}})
          .OnType("shop.OrderPlaced.v1",
                  [](const RecordedEvent& e, ReadModelTransaction& tx) {
                    return tx.Put("orders", {e.stream, std::int64_t{e.version}});
                  })
          .Build();
  ASSERT_TRUE(orders.ok()) << orders.status().ToString();
  AppendEvents(this->events_, "order-1", 3, "shop.OrderPlaced.v1");
  GlobalPosition last = AppendEvents(this->events_, "cart-1", 40, "shop.ItemAdded.v1");
  auto worker = this->StartWorker(*orders);
  ASSERT_TRUE(worker->WaitFor(last, kWait).ok());
  EXPECT_EQ(AllRows(*this->store_, "orders").size(), 1u);
  worker->Stop();
  Result<ProjectionReport> stored = DescribeProjection(*this->store_, "orders-only", last);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->checkpoint, last) << "the checkpoint of skipped events is committed at stop";
  EXPECT_EQ(stored->state, ProjectionState::kStopped);
}

TYPED_TEST(ProjectionWorkerTest, CategoryFilterMatchesThePartBeforeTheFirstDash) {
  EventFilter filter{{"order"}, {}};
  RecordedEvent event;
  event.stream = "order-1-a";
  EXPECT_TRUE(filter.Matches(event));
  event.stream = "orders-1";
  EXPECT_FALSE(filter.Matches(event));
  event.stream = "order";
  EXPECT_TRUE(filter.Matches(event));
}

TYPED_TEST(ProjectionWorkerTest, PartitionsKeepOrderPerStreamUnderConcurrentAppends) {
  auto worker = this->StartWorker(std::make_shared<RecordingProjection>(), this->Strict(4));
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 60; ++i)
        AppendEvents(this->events_, "s-" + std::to_string((w * 7 + i) % 13), 1);
    });
  }
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(worker->WaitFor(this->events_.HeadPosition(), kWait).ok()) << worker->Report().error;
  EXPECT_EQ(worker->Report().partitions, 4);
  this->ExpectRecordedEverything();
}

TYPED_TEST(ProjectionWorkerTest, ChangingThePartitionCountNeverAppliesTwiceOrSkips) {
  int round = 0;
  for (int partitions : {4, 2, 1, 3, 4}) {
    for (int s = 0; s < 9; ++s) AppendEvents(this->events_, "p-" + std::to_string(s), 5 + round);
    auto worker =
        this->StartWorker(std::make_shared<RecordingProjection>(), this->Strict(partitions));
    // Stop partway through sometimes, so partitions are at different positions.
    if (round % 2 == 1) {
      worker->Stop();
    } else {
      ASSERT_TRUE(worker->WaitFor(this->events_.HeadPosition(), kWait).ok())
          << worker->Report().error;
    }
    ++round;
  }
  auto worker = this->StartWorker(std::make_shared<RecordingProjection>(), this->Strict(2));
  ASSERT_TRUE(worker->WaitFor(this->events_.HeadPosition(), kWait).ok()) << worker->Report().error;
  this->ExpectRecordedEverything();
}

TYPED_TEST(ProjectionWorkerTest, PoisonEventIsRetriedThenParkedAndOthersGoOn) {
  auto broken = std::make_shared<std::atomic<bool>>(true);
  auto projection = std::make_shared<PoisonableProjection>("shop.Poison.v1", broken);
  AppendEvents(this->events_, "shop-1", 2, "shop.Fine.v1");
  AppendEvents(this->events_, "shop-2", 1, "shop.Poison.v1");
  GlobalPosition last = AppendEvents(this->events_, "shop-1", 3, "shop.Fine.v1");
  auto worker = this->StartWorker(projection, this->QuickPark(3));
  ASSERT_TRUE(worker->WaitFor(last, kWait).ok()) << worker->Report().error;
  EXPECT_EQ(CountOf(*this->store_, "counts", {std::string("shop.Fine.v1")}, 1), 5);
  EXPECT_EQ(CountOf(*this->store_, "counts", {std::string("shop.Poison.v1")}, 1), -1)
      << "the failed attempts' writes are discarded";
  Result<std::vector<ParkedEvent>> parked = ListParked(*this->store_, "poisonable", 0, 10);
  ASSERT_TRUE(parked.ok()) << parked.status().ToString();
  ASSERT_EQ(parked->size(), 1u);
  EXPECT_EQ((*parked)[0].position, 3u);
  EXPECT_EQ((*parked)[0].stream, "shop-2");
  EXPECT_EQ((*parked)[0].type, "shop.Poison.v1");
  EXPECT_EQ((*parked)[0].attempts, 3);
  EXPECT_NE((*parked)[0].error.find("cannot digest"), std::string::npos) << (*parked)[0].error;
  EXPECT_GT((*parked)[0].parked_at_us, 0);
  EXPECT_EQ(worker->Report().parked, 1u);

  // Replay while broken: still parked, one more attempt.
  Result<ReplayResult> again = ReplayParked(this->events_, *this->store_, *projection);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->still_failing, 1u);
  EXPECT_EQ((*ListParked(*this->store_, "poisonable", 0, 10))[0].attempts, 4);

  broken->store(false);
  Result<ReplayResult> replayed = ReplayParked(this->events_, *this->store_, *projection);
  ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
  EXPECT_EQ(replayed->replayed, 1u);
  EXPECT_EQ(CountOf(*this->store_, "counts", {std::string("shop.Poison.v1")}, 1), 1);
  EXPECT_EQ(*CountParked(*this->store_, "poisonable"), 0u);
}

TYPED_TEST(ProjectionWorkerTest, AnExceptionIsAFailureLikeAnyOther) {
  auto broken = std::make_shared<std::atomic<bool>>(true);
  auto projection = std::make_shared<PoisonableProjection>("x.Bad.v1", broken);
  projection->throw_instead = true;
  GlobalPosition last = AppendEvents(this->events_, "x-1", 1, "x.Bad.v1");
  auto worker = this->StartWorker(projection, this->QuickPark(2));
  ASSERT_TRUE(worker->WaitFor(last, kWait).ok());
  Result<std::vector<ParkedEvent>> parked = ListParked(*this->store_, "poisonable", 0, 10);
  ASSERT_EQ(parked->size(), 1u);
  EXPECT_NE((*parked)[0].error.find("threw"), std::string::npos) << (*parked)[0].error;
}

TYPED_TEST(ProjectionWorkerTest, ATransientFailureIsRetriedNotParked) {
  auto broken = std::make_shared<std::atomic<bool>>(true);
  auto projection = std::make_shared<PoisonableProjection>("x.Flaky.v1", broken);
  GlobalPosition last = AppendEvents(this->events_, "x-1", 1, "x.Flaky.v1");
  ProjectionOptions options = this->QuickPark(1000);
  auto worker = this->StartWorker(projection, options);
  while (projection->attempts.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(worker->Report().state, ProjectionState::kRetrying);
  EXPECT_NE(worker->Report().error.find("cannot digest"), std::string::npos);
  broken->store(false);
  ASSERT_TRUE(worker->WaitFor(last, kWait).ok());
  EXPECT_EQ(CountOf(*this->store_, "counts", {std::string("x.Flaky.v1")}, 1), 1);
  EXPECT_EQ(*CountParked(*this->store_, "poisonable"), 0u);
  EXPECT_EQ(worker->Report().state, ProjectionState::kLive);
}

TYPED_TEST(ProjectionWorkerTest, StopPolicyFailsVisiblyAndRestartGoesOnAfterTheFix) {
  auto broken = std::make_shared<std::atomic<bool>>(true);
  auto projection = std::make_shared<PoisonableProjection>("x.Bad.v1", broken);
  AppendEvents(this->events_, "x-1", 2, "x.Good.v1");
  AppendEvents(this->events_, "x-1", 1, "x.Bad.v1");
  GlobalPosition last = AppendEvents(this->events_, "x-1", 2, "x.Good.v1");
  ProjectionOptions options = this->QuickPark(2);
  options.failure.then = OnFailure::kStop;
  auto worker = this->StartWorker(projection, options);
  Status waited = worker->WaitFor(last, kWait);
  ASSERT_FALSE(waited.ok());
  EXPECT_NE(waited.message().find("position 3"), std::string::npos) << waited.ToString();
  ProjectionReport report = worker->Report();
  EXPECT_EQ(report.state, ProjectionState::kFailed);
  EXPECT_EQ(report.checkpoint, 2u);
  EXPECT_NE(report.error.find("cannot digest"), std::string::npos);
  Result<ProjectionReport> stored = DescribeProjection(*this->store_, "poisonable", last);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, ProjectionState::kFailed);
  EXPECT_FALSE(stored->error.empty());

  broken->store(false);
  ASSERT_TRUE(worker->Restart().ok());
  ASSERT_TRUE(worker->WaitFor(last, kWait).ok()) << worker->Report().error;
  EXPECT_EQ(CountOf(*this->store_, "counts", {std::string("x.Good.v1")}, 1), 4);
  EXPECT_EQ(CountOf(*this->store_, "counts", {std::string("x.Bad.v1")}, 1), 1);
}

TYPED_TEST(ProjectionWorkerTest, DiscardRemovesParkedEventsWithoutApplyingThem) {
  auto broken = std::make_shared<std::atomic<bool>>(true);
  auto projection = std::make_shared<PoisonableProjection>("x.Bad.v1", broken);
  GlobalPosition last = AppendEvents(this->events_, "x-1", 4, "x.Bad.v1");
  auto worker = this->StartWorker(projection, this->QuickPark(1));
  ASSERT_TRUE(worker->WaitFor(last, kWait).ok());
  ASSERT_EQ(*CountParked(*this->store_, "poisonable"), 4u);
  Result<std::uint64_t> one = DiscardParked(*this->store_, "poisonable", {2, 2});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1u);
  Result<std::uint64_t> rest = DiscardParked(*this->store_, "poisonable");
  EXPECT_EQ(*rest, 3u);
  EXPECT_EQ(*CountParked(*this->store_, "poisonable"), 0u);
  EXPECT_EQ(CountOf(*this->store_, "counts", {std::string("x.Bad.v1")}, 1), -1);
}

TYPED_TEST(ProjectionWorkerTest, RebuildUnderConcurrentAppendsSwitchesWithNoGap) {
  for (int s = 0; s < 10; ++s) AppendEvents(this->events_, "r-" + std::to_string(s), 30);
  auto worker = this->StartWorker(std::make_shared<RecordingProjection>(), this->Strict(2));
  ASSERT_TRUE(worker->WaitFor(300, kWait).ok());
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    int i = 0;
    while (writing.load()) {
      AppendEvents(this->events_, "r-" + std::to_string(i++ % 10), 1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<RebuildProgress> reports;
  RebuildOptions options;
  options.batch_size = 16;
  options.progress_interval = std::chrono::milliseconds(0);
  options.on_progress = [&](const RebuildProgress& p) { reports.push_back(p); };
  Result<RebuildProgress> rebuilt =
      Rebuild(this->events_, *this->store_, std::make_shared<RecordingProjection>(), options);
  writing.store(false);
  writer.join();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_TRUE(rebuilt->switched);
  EXPECT_GE(rebuilt->events_done, 300u);
  ASSERT_FALSE(reports.empty());
  EXPECT_TRUE(reports.back().switched);
  Status waited = worker->WaitFor(this->events_.HeadPosition(), kWait);
  ProjectionReport report = worker->Report();
  ASSERT_TRUE(waited.ok()) << waited.ToString() << "; state " << ProjectionStateName(report.state)
                           << ", checkpoint " << report.checkpoint << ", head " << report.head
                           << ": " << report.error;
  this->ExpectRecordedEverything();
  Result<std::vector<std::string>> tables = this->store_->ListTables();
  for (const std::string& table : *tables) {
    EXPECT_EQ(table.find("__rebuild"), std::string::npos) << table;
  }
  Result<std::vector<std::string>> names = ListProjections(*this->store_);
  EXPECT_EQ(*names, std::vector<std::string>{"recording"});
}

TYPED_TEST(ProjectionWorkerTest, RebuildWithoutALiveWorkerCreatesTheReadModel) {
  GlobalPosition last = AppendEvents(this->events_, "t-1", 25, "t.A.v1");
  Result<RebuildProgress> rebuilt =
      Rebuild(this->events_, *this->store_, NewTypeCountsProjection());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(rebuilt->position, last);
  EXPECT_EQ(CountOf(*this->store_, "type-counts", {std::string("t.A.v1")}, 1), 25);
  Result<ProjectionReport> stored = DescribeProjection(*this->store_, "type-counts", last);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->checkpoint, last);
  // A worker started afterwards goes on from the rebuilt checkpoint.
  auto worker = this->StartWorker(NewTypeCountsProjection());
  GlobalPosition more = AppendEvents(this->events_, "t-1", 5, "t.A.v1");
  ASSERT_TRUE(worker->WaitFor(more, kWait).ok());
  EXPECT_EQ(CountOf(*this->store_, "type-counts", {std::string("t.A.v1")}, 1), 30);
}

TYPED_TEST(ProjectionWorkerTest, ResetMakesTheRunningWorkerProcessAgain) {
  auto projection = std::make_shared<RecordingProjection>();
  GlobalPosition last = AppendEvents(this->events_, "z-1", 10);
  auto worker = this->StartWorker(NewStreamIndexProjection());
  ASSERT_TRUE(worker->WaitFor(last, kWait).ok());
  EXPECT_EQ(CountOf(*this->store_, "stream-index", {std::string("z-1")}, 2), 10);
  ASSERT_TRUE(ResetProjection(*this->store_, "stream-index", 5).ok());
  GlobalPosition more = AppendEvents(this->events_, "z-1", 1);
  ASSERT_TRUE(worker->WaitFor(more, kWait).ok());
  // Events 6..11 were processed again on top of the rows: the count shows the reprocessing.
  EXPECT_EQ(CountOf(*this->store_, "stream-index", {std::string("z-1")}, 2), 16);
  EXPECT_FALSE(ResetProjection(*this->store_, "never-ran", 0).ok());
}

TYPED_TEST(ProjectionWorkerTest, ASecondWorkerTakesOverAndTheFirstStops) {
  AppendEvents(this->events_, "k-1", 5);
  auto first = this->StartWorker(std::make_shared<RecordingProjection>(), this->Strict());
  ASSERT_TRUE(first->WaitFor(5, kWait).ok());
  auto second = this->StartWorker(std::make_shared<RecordingProjection>(), this->Strict());
  GlobalPosition last = AppendEvents(this->events_, "k-1", 5);
  ASSERT_TRUE(second->WaitFor(last, kWait).ok());
  Status first_end = first->WaitFor(last + 1000, kWait);
  EXPECT_NE(first_end.message().find("taken over"), std::string::npos) << first_end.ToString();
  EXPECT_EQ(first->Report().state, ProjectionState::kFailed);
  this->ExpectRecordedEverything();
}

TYPED_TEST(ProjectionWorkerTest, StopIsIdempotentAndInterruptsABackoff) {
  auto broken = std::make_shared<std::atomic<bool>>(true);
  auto projection = std::make_shared<PoisonableProjection>("x.Bad.v1", broken);
  AppendEvents(this->events_, "x-1", 1, "x.Bad.v1");
  ProjectionOptions options;
  options.failure.initial_backoff = std::chrono::seconds(60);
  options.failure.max_backoff = std::chrono::seconds(60);
  auto worker = this->StartWorker(projection, options);
  while (projection->attempts.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto started = std::chrono::steady_clock::now();
  worker->Stop();
  worker->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_EQ(worker->Report().state, ProjectionState::kStopped);
  EXPECT_EQ(*CountParked(*this->store_, "poisonable"), 0u) << "an interrupted retry parks nothing";
}

TYPED_TEST(ProjectionWorkerTest, WaitForTimesOutWithUnavailable) {
  auto worker = this->StartWorker(NewTypeCountsProjection());
  Status waited = worker->WaitFor(1000, std::chrono::milliseconds(20));
  EXPECT_EQ(waited.code(), StatusCode::kUnavailable);
}

TYPED_TEST(ProjectionWorkerTest, BadOptionsAndNamesAreRefused) {
  ProjectionOptions options;
  options.partitions = 0;
  EXPECT_FALSE(
      ProjectionWorker::Start(this->events_, *this->store_, NewTypeCountsProjection(), options)
          .ok());
  options.partitions = 1;
  options.batch_size = 0;
  EXPECT_FALSE(
      ProjectionWorker::Start(this->events_, *this->store_, NewTypeCountsProjection(), options)
          .ok());
  EXPECT_FALSE(ProjectionBuilder("bad name").Build().ok());
  EXPECT_FALSE(ProjectionBuilder("x__rebuild").Build().ok());
  EXPECT_FALSE(
      ProjectionBuilder("ok").Table({"sluice_mine", {{"k", ColumnType::kText}}, {}}).Build().ok());
  EXPECT_FALSE(
      ProjectionBuilder("ok")
          .OnType("a", [](const RecordedEvent&, ReadModelTransaction&) { return Status::Ok(); })
          .OnType("a", [](const RecordedEvent&, ReadModelTransaction&) { return Status::Ok(); })
          .Build()
          .ok());
}

}  // namespace
}  // namespace sluice::testing
