// What the RocksDB store promises beyond the shared conformance suite: one writer per store,
// followers in other processes, listing, statistics and the consistency check.
#include "sluice/eventstore/rocks_event_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>

#include <boost/signals2/connection.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "eventstore/child_process.h"
#include "eventstore/store_test_util.h"

namespace sluice {
namespace {

using testing::CheckIsClean;
using testing::CheckLogInvariants;
using testing::OpenStore;
using testing::ReadWholeLog;
using testing::Sid;
using testing::TaggedBatch;
using testing::TempDir;

constexpr int kHangTimeoutMs = 60'000;

EventData Ev(const std::string& payload = "x") {
  EventData e;
  e.type = "test.Happened.v1";
  e.payload = payload;
  return e;
}

class RocksEventStoreTest : public ::testing::Test {
 protected:
  std::string StoreDir() const { return dir_.Sub("store"); }
  TempDir dir_;
};

TEST_F(RocksEventStoreTest, SecondWriterInTheSameProcessIsUnavailable) {
  std::unique_ptr<RocksEventStore> first = OpenStore(StoreDir());
  ASSERT_NE(first, nullptr);
  Result<std::unique_ptr<RocksEventStore>> second = RocksEventStore::Open(StoreDir());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
  // The first writer is unharmed.
  ASSERT_TRUE(first->Append(Sid("a-1"), ExpectedVersion::Any(), {Ev()}).ok());
  first.reset();
  // And once it is closed the store can be opened again.
  std::unique_ptr<RocksEventStore> third = OpenStore(StoreDir());
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->HeadPosition(), 1u);
}

TEST_F(RocksEventStoreTest, SecondWriterInAnotherProcessIsUnavailableAtOnce) {
  std::unique_ptr<RocksEventStore> writer = OpenStore(StoreDir());
  ASSERT_NE(writer, nullptr);
  testing::ChildProcess child(SLUICE_CRASH_HELPER, {"try-open", StoreDir()});
  ASSERT_GT(child.pid(), 0) << "cannot start " << SLUICE_CRASH_HELPER;
  // A hang would show as a timeout here (a safety net: the child normally ends at once).
  const bool ended = child.WaitForEndOfOutput(kHangTimeoutMs);
  if (!ended) child.Kill();
  const int status = child.Wait();
  ASSERT_TRUE(ended) << "second writer hung instead of failing";
  ASSERT_TRUE(WIFEXITED(status)) << "child status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 10) << "expected Unavailable (exit 10)";

  writer.reset();
  testing::ChildProcess after(SLUICE_CRASH_HELPER, {"try-open", StoreDir()});
  ASSERT_TRUE(after.WaitForEndOfOutput(kHangTimeoutMs));
  const int after_status = after.Wait();
  ASSERT_TRUE(WIFEXITED(after_status));
  EXPECT_EQ(WEXITSTATUS(after_status), 0) << "store not openable after the writer closed";
}

TEST_F(RocksEventStoreTest, OpenRefusesAFolderThatIsNotASluiceStore) {
  const std::string dir = dir_.Sub("not-a-store");
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/CURRENT") << "garbage\n"; }
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir);
  EXPECT_FALSE(store.ok());
}

TEST_F(RocksEventStoreTest, OpenOfAPlainRocksDbIsInvalidArgument) {
  const std::string dir = dir_.Sub("plain-rocksdb");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "some", "data").ok());
  }
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << store.status().ToString();
}

TEST_F(RocksEventStoreTest, OpenOfARegularFileFails) {
  const std::string file = dir_.Sub("file");
  { std::ofstream(file) << "x"; }
  EXPECT_FALSE(RocksEventStore::Open(file).ok());
  EXPECT_FALSE(RocksEventStore::OpenFollower(file).ok());
}

TEST_F(RocksEventStoreTest, OpenWithoutCreateIfMissingFailsOnAnEmptyFolder) {
  RocksEventStoreOptions options;
  options.create_if_missing = false;
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(StoreDir(), options);
  EXPECT_FALSE(store.ok());
  EXPECT_FALSE(std::filesystem::exists(StoreDir() + "/CURRENT"));
}

TEST_F(RocksEventStoreTest, FollowerOfAMissingStoreFails) {
  EXPECT_FALSE(RocksEventStore::OpenFollower(StoreDir()).ok());
}

TEST_F(RocksEventStoreTest, FollowerSeesExistingEventsAndNewOnesAfterRefresh) {
  std::unique_ptr<RocksEventStore> writer = OpenStore(StoreDir());
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append(Sid("a-1"), ExpectedVersion::NoStream(), {Ev("1"), Ev("2")}).ok());

  Result<std::unique_ptr<RocksEventStore>> opened = RocksEventStore::OpenFollower(StoreDir());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  RocksEventStore& follower = **opened;
  EXPECT_TRUE(follower.is_follower());
  EXPECT_FALSE(writer->is_follower());
  EXPECT_EQ(follower.HeadPosition(), 2u);
  EXPECT_EQ(*follower.StreamHead(Sid("a-1")), 1);

  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(writer->Append(Sid("a-1"), ExpectedVersion::Any(), {Ev(), Ev()}).ok());
    ASSERT_TRUE(writer->Append(Sid("b-1"), ExpectedVersion::Any(), {Ev()}).ok());
    ASSERT_TRUE(follower.Refresh().ok());
    const GlobalPosition head = writer->HeadPosition();
    EXPECT_EQ(follower.HeadPosition(), head);
    Result<std::vector<RecordedEvent>> all = ReadWholeLog(follower);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    Result<std::vector<RecordedEvent>> writer_all = ReadWholeLog(*writer);
    ASSERT_TRUE(writer_all.ok());
    EXPECT_EQ(*all, *writer_all);
    EXPECT_EQ(*follower.StreamHead(Sid("a-1")), *writer->StreamHead(Sid("a-1")));
    Result<std::vector<RecordedEvent>> b = follower.ReadStream(Sid("b-1"), 0, 100);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->size(), static_cast<std::size_t>(round + 1));
  }
}

// The follower is woken by the writer's write-ahead log (inotify), not only by its interval: with
// an interval far longer than the wait, the commit still arrives.
TEST_F(RocksEventStoreTest, FollowerIsWokenByTheWritersWrites) {
  std::unique_ptr<RocksEventStore> writer = OpenStore(StoreDir());
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append(Sid("a-1"), ExpectedVersion::NoStream(), {Ev("1")}).ok());
  RocksEventStoreOptions options;
  options.follow_interval_ms = 600'000;
  Result<std::unique_ptr<RocksEventStore>> follower =
      RocksEventStore::OpenFollower(StoreDir(), options);
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  std::mutex mu;
  std::condition_variable cv;
  GlobalPosition seen = 0;
  boost::signals2::scoped_connection connection = (*follower)->OnCommitted([&](GlobalPosition p) {
    std::lock_guard lock(mu);
    seen = p;
    cv.notify_all();
  });
  ASSERT_TRUE(writer->Append(Sid("a-1"), ExpectedVersion::Any(), {Ev("2")}).ok());
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return seen >= 2; }))
      << "the follower was not woken by the append";
}

TEST_F(RocksEventStoreTest, FollowerReadsStreamsListsChecksAndCounts) {
  // The CLI's read commands (read, streams, stats, check) run on followers.
  std::unique_ptr<RocksEventStore> writer = OpenStore(StoreDir());
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append(Sid("a-1"), ExpectedVersion::Any(), TaggedBatch("x", 3)).ok());
  ASSERT_TRUE(writer->Append(Sid("b-1"), ExpectedVersion::Any(), TaggedBatch("y", 2)).ok());
  Result<std::unique_ptr<RocksEventStore>> opened = RocksEventStore::OpenFollower(StoreDir());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  RocksEventStore& follower = **opened;

  // Each call is checked on its own (EXPECT), so one failure does not hide the others.
  Result<std::vector<RecordedEvent>> fwd = follower.ReadStream(Sid("a-1"), 0, 100);
  EXPECT_TRUE(fwd.ok()) << fwd.status().ToString();
  if (fwd.ok()) {
    EXPECT_EQ(fwd->size(), 3u);
  }
  Result<std::vector<RecordedEvent>> back =
      follower.ReadStream(Sid("a-1"), kStreamEnd, 100, Direction::kBackward);
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  if (back.ok()) {
    EXPECT_EQ(back->size(), 3u);
  }
  EXPECT_TRUE(follower.ReadStream(Sid("c-1"), 0, 100).status().IsNotFound());

  Result<std::vector<StreamInfo>> streams = follower.ListStreams("", 10);
  EXPECT_TRUE(streams.ok()) << streams.status().ToString();
  if (streams.ok()) {
    EXPECT_EQ(streams->size(), 2u);
  }
  Result<StoreStats> stats = follower.Stats();
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  if (stats.ok()) {
    EXPECT_EQ(stats->event_count, 5u);
    EXPECT_EQ(stats->stream_count, 2u);
    EXPECT_EQ(stats->head_position, 5u);
  }
  EXPECT_TRUE(CheckIsClean(follower));
}

TEST_F(RocksEventStoreTest, FollowerRefusesAppends) {
  std::unique_ptr<RocksEventStore> writer = OpenStore(StoreDir());
  ASSERT_NE(writer, nullptr);
  Result<std::unique_ptr<RocksEventStore>> follower = RocksEventStore::OpenFollower(StoreDir());
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  Result<AppendResult> r = (*follower)->Append(Sid("a-1"), ExpectedVersion::Any(), {Ev()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*follower)->Refresh().ok());
  EXPECT_EQ(writer->HeadPosition(), 0u);
  EXPECT_EQ((*follower)->HeadPosition(), 0u);
}

TEST_F(RocksEventStoreTest, FollowerWorksWithoutAWriter) {
  {
    std::unique_ptr<RocksEventStore> writer = OpenStore(StoreDir());
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->Append(Sid("a-1"), ExpectedVersion::Any(), {Ev(), Ev(), Ev()}).ok());
  }
  Result<std::unique_ptr<RocksEventStore>> follower = RocksEventStore::OpenFollower(StoreDir());
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  EXPECT_EQ((*follower)->HeadPosition(), 3u);
  EXPECT_TRUE((*follower)->Refresh().ok());
  // A writer may still open while a follower is reading.
  std::unique_ptr<RocksEventStore> writer = OpenStore(StoreDir());
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append(Sid("a-1"), ExpectedVersion::Exact(2), {Ev()}).ok());
  ASSERT_TRUE((*follower)->Refresh().ok());
  EXPECT_EQ((*follower)->HeadPosition(), 4u);
}

TEST_F(RocksEventStoreTest, FollowerSubscriptionReceivesTheWritersEvents) {
  std::unique_ptr<RocksEventStore> writer = OpenStore(StoreDir());
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append(Sid("a-1"), ExpectedVersion::Any(), {Ev(), Ev()}).ok());
  RocksEventStoreOptions options;
  options.follow_interval_ms = 10;
  Result<std::unique_ptr<RocksEventStore>> follower =
      RocksEventStore::OpenFollower(StoreDir(), options);
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();

  std::mutex mu;
  std::condition_variable cv;
  std::vector<GlobalPosition> got;
  std::unique_ptr<Subscription> sub = (*follower)->SubscribeToAll(0, [&](const RecordedEvent& e) {
    {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back(e.position);
    }
    cv.notify_all();
  });
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(writer->Append(Sid("b-1"), ExpectedVersion::Any(), {Ev(), Ev()}).ok());
  }
  // Woken by the follower's own catch-up thread (no Refresh call here).
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::milliseconds(kHangTimeoutMs),
                            [&] { return got.size() >= 12; }))
        << "follower subscription got " << got.size() << " of 12 events";
  }
  sub.reset();
  std::vector<GlobalPosition> want;
  for (GlobalPosition p = 1; p <= 12; ++p) want.push_back(p);
  EXPECT_EQ(got, want);
}

TEST_F(RocksEventStoreTest, ListStreamsInNameOrderWithPaging) {
  std::unique_ptr<RocksEventStore> store = OpenStore(StoreDir());
  ASSERT_NE(store, nullptr);
  const std::vector<std::pair<std::string, int>> streams = {
      {"b-2", 1}, {"a-1", 3}, {"a", 2}, {"c-1", 1}, {"a-10", 4}, {"caf\xC3\xA9", 1}};
  for (const auto& [name, count] : streams) {
    std::vector<EventData> events(count, Ev());
    ASSERT_TRUE(store->Append(Sid(name), ExpectedVersion::NoStream(), events).ok());
  }
  Result<std::vector<StreamInfo>> all = store->ListStreams("", 100);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> names;
  std::vector<StreamVersion> versions;
  for (const StreamInfo& s : *all) {
    names.push_back(s.stream);
    versions.push_back(s.version);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "a-1", "a-10", "b-2", "c-1", "caf\xC3\xA9"}));
  EXPECT_EQ(versions, (std::vector<StreamVersion>{1, 2, 3, 0, 0, 0}));

  Result<std::vector<StreamInfo>> page1 = store->ListStreams("", 2);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[1].stream, "a-1");
  Result<std::vector<StreamInfo>> page2 = store->ListStreams("a-1", 2);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_EQ((*page2)[0].stream, "a-10");
  EXPECT_EQ((*page2)[1].stream, "b-2");
  Result<std::vector<StreamInfo>> between = store->ListStreams("a-0", 1);
  ASSERT_TRUE(between.ok());
  ASSERT_EQ(between->size(), 1u);
  EXPECT_EQ((*between)[0].stream, "a-1");
  Result<std::vector<StreamInfo>> end = store->ListStreams("caf\xC3\xA9", 10);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->empty());
}

TEST_F(RocksEventStoreTest, ListStreamsOfEmptyStoreIsEmpty) {
  std::unique_ptr<RocksEventStore> store = OpenStore(StoreDir());
  ASSERT_NE(store, nullptr);
  Result<std::vector<StreamInfo>> all = store->ListStreams("", 10);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(RocksEventStoreTest, StatsCountStreamsAndEvents) {
  std::unique_ptr<RocksEventStore> store = OpenStore(StoreDir());
  ASSERT_NE(store, nullptr);
  Result<StoreStats> empty = store->Stats();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->head_position, 0u);
  EXPECT_EQ(empty->stream_count, 0u);
  EXPECT_EQ(empty->event_count, 0u);

  ASSERT_TRUE(store->Append(Sid("a-1"), ExpectedVersion::Any(), {Ev(), Ev(), Ev()}).ok());
  ASSERT_TRUE(store->Append(Sid("b-1"), ExpectedVersion::Any(), {Ev()}).ok());
  ASSERT_TRUE(store->Append(Sid("a-1"), ExpectedVersion::Any(), {Ev()}).ok());
  // A failed append changes nothing.
  ASSERT_FALSE(store->Append(Sid("c-1"), ExpectedVersion::Exact(3), {Ev()}).ok());
  Result<StoreStats> stats = store->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->head_position, 5u);
  EXPECT_EQ(stats->stream_count, 2u);
  EXPECT_EQ(stats->event_count, 5u);
  EXPECT_GT(stats->bytes_on_disk, 0u);
}

TEST_F(RocksEventStoreTest, CheckIsCleanOnAHealthyStore) {
  std::unique_ptr<RocksEventStore> store = OpenStore(StoreDir());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(CheckIsClean(*store));
  for (int i = 0; i < 50; ++i) {
    const std::string batch = "b" + std::to_string(i);
    ASSERT_TRUE(store
                    ->Append(Sid("s-" + std::to_string(i % 7)), ExpectedVersion::Any(),
                             TaggedBatch(batch, 1 + i % 4))
                    .ok());
  }
  Result<CheckReport> report = store->Check();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->problem_count, 0u);
  EXPECT_TRUE(report->problems.empty());
  EXPECT_EQ(report->head_position, store->HeadPosition());
  EXPECT_EQ(report->events_checked, store->HeadPosition());
  EXPECT_EQ(report->streams_checked, 7u);
  store.reset();
  store = OpenStore(StoreDir());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(CheckIsClean(*store));
}

TEST_F(RocksEventStoreTest, UnsyncedAppendsAreReadableAndSurviveACleanClose) {
  std::unique_ptr<RocksEventStore> store = OpenStore(StoreDir());
  ASSERT_NE(store, nullptr);
  AppendOptions unsynced;
  unsynced.sync = false;
  for (int i = 0; i < 20; ++i) {
    Result<AppendResult> r =
        store->Append(Sid("a-1"), ExpectedVersion::Exact(i - 1), {Ev(std::to_string(i))}, unsynced);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->last_position, static_cast<GlobalPosition>(i + 1));
  }
  store.reset();
  store = OpenStore(StoreDir());
  ASSERT_NE(store, nullptr);
  Result<std::vector<RecordedEvent>> log = ReadWholeLog(*store);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 20u);
  EXPECT_TRUE(CheckLogInvariants(*log));
  EXPECT_EQ((*log)[19].payload, "19");
}

TEST_F(RocksEventStoreTest, StoreIsUsableAfterManyReopens) {
  for (int i = 0; i < 10; ++i) {
    std::unique_ptr<RocksEventStore> store = OpenStore(StoreDir());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(
        store->Append(Sid("a-1"), ExpectedVersion::Exact(i - 1), TaggedBatch(std::to_string(i), 1))
            .ok());
  }
  std::unique_ptr<RocksEventStore> store = OpenStore(StoreDir());
  Result<std::vector<RecordedEvent>> log = ReadWholeLog(*store);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 10u);
  EXPECT_TRUE(CheckLogInvariants(*log));
  EXPECT_TRUE(CheckIsClean(*store));
}

}  // namespace
}  // namespace sluice
