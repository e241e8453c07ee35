// The stream-head cache is bounded (stream_head_cache_entries); heads it dropped are read back
// from disk. Expected-version checks and idempotency must stay exact for evicted streams.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/store_test_util.h"

namespace sluice {
namespace {

using testing::CheckIsClean;
using testing::OpenStore;
using testing::Sid;
using testing::TaggedBatch;
using testing::TempDir;

constexpr int kStreams = 200'000;
constexpr std::size_t kCacheEntries = 1000;
constexpr int kThreads = 4;

std::string Name(int i) { return "many-" + std::to_string(i); }

std::vector<EventData> First(int i) {
  return TaggedBatch("first-" + std::to_string(i), 1, "head-cache-test");
}

TEST(HeadCacheTest, ExpectedVersionsStayExactForStreamsEvictedFromTheCache) {
  TempDir dir;
  RocksEventStoreOptions options;
  options.stream_head_cache_entries = kCacheEntries;
  std::unique_ptr<RocksEventStore> store = OpenStore(dir.Sub("store"), options);
  ASSERT_NE(store, nullptr);

  // One event in each of many streams, far more than the cache holds.
  AppendOptions unsynced;
  unsynced.sync = false;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kStreams; i += kThreads) {
        if (!store->Append(Sid(Name(i)), ExpectedVersion::NoStream(), First(i), unsynced).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(store->HeadPosition(), static_cast<GlobalPosition>(kStreams));

  auto check_streams = [&](RocksEventStore& s, int step, int offset) {
    for (int i = offset; i < kStreams; i += step) {
      SCOPED_TRACE(Name(i));
      // The stream exists with version 0, whether or not its head is cached.
      Result<AppendResult> no_stream =
          s.Append(Sid(Name(i)), ExpectedVersion::NoStream(), {TaggedBatch("x", 1)});
      ASSERT_TRUE(no_stream.status().IsWrongExpectedVersion()) << no_stream.status().ToString();
      ASSERT_EQ(no_stream.status().actual_version(), std::optional<std::int64_t>(0));
      ASSERT_EQ(*s.StreamHead(Sid(Name(i))), 0);
      // Repeating the first append is recognised from the id index.
      Result<AppendResult> again = s.Append(Sid(Name(i)), ExpectedVersion::NoStream(), First(i));
      ASSERT_TRUE(again.ok()) << again.status().ToString();
      ASSERT_EQ(again->next_expected_version, 0);
      ASSERT_EQ(again->first_position, again->last_position);
      // Exact versions work from the disk head and then from the refreshed cache.
      ASSERT_TRUE(s.Append(Sid(Name(i)), ExpectedVersion::Exact(0),
                           {TaggedBatch("second-" + std::to_string(i), 1)}, unsynced)
                      .ok());
      Result<AppendResult> stale =
          s.Append(Sid(Name(i)), ExpectedVersion::Exact(0), {TaggedBatch("stale", 1)}, unsynced);
      ASSERT_TRUE(stale.status().IsWrongExpectedVersion()) << stale.status().ToString();
      ASSERT_EQ(stale.status().actual_version(), std::optional<std::int64_t>(1));
    }
  };
  // Streams written first are long evicted; walk a sample of all of them.
  check_streams(*store, 997, 0);
  const GlobalPosition head_before_reopen = store->HeadPosition();
  EXPECT_EQ(head_before_reopen, static_cast<GlobalPosition>(kStreams + (kStreams + 996) / 997));

  // After a restart every head comes from disk.
  store.reset();
  store = OpenStore(dir.Sub("store"), options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->HeadPosition(), head_before_reopen);
  check_streams(*store, 991, 1);  // no stream in both samples
  // Streams touched before the restart kept their second event.
  EXPECT_EQ(*store->StreamHead(Sid(Name(997))), 1);
  EXPECT_EQ(*store->StreamHead(Sid(Name(2))), 0);

  Result<StoreStats> stats = store->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->stream_count, static_cast<std::uint64_t>(kStreams));
  EXPECT_TRUE(CheckIsClean(*store));
}

TEST(HeadCacheTest, RacingAppendsToEvictedStreamsHaveExactlyOneWinner) {
  TempDir dir;
  RocksEventStoreOptions options;
  options.stream_head_cache_entries = 16;
  std::unique_ptr<RocksEventStore> store = OpenStore(dir.Sub("store"), options);
  ASSERT_NE(store, nullptr);
  constexpr int kRaceStreams = 300;
  AppendOptions unsynced;
  unsynced.sync = false;
  for (int i = 0; i < kRaceStreams; ++i) {
    ASSERT_TRUE(
        store->Append(Sid(Name(i)), ExpectedVersion::NoStream(), {TaggedBatch("a", 1)}, unsynced)
            .ok());
  }
  // Every thread tries each stream at version 0; the cache is far too small to hold them.
  std::vector<std::vector<bool>> won(kThreads, std::vector<bool>(kRaceStreams));
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kRaceStreams; ++k) {
        const int i = (k * 7 + t * 13) % kRaceStreams;
        Result<AppendResult> r =
            store->Append(Sid(Name(i)), ExpectedVersion::Exact(0), {TaggedBatch("b", 1)}, unsynced);
        if (r.ok()) {
          won[t][i] = true;
        } else if (!r.status().IsWrongExpectedVersion() ||
                   r.status().actual_version() != std::optional<std::int64_t>(1)) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(unexpected.load(), 0);
  for (int i = 0; i < kRaceStreams; ++i) {
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) winners += won[t][i];
    EXPECT_EQ(winners, 1) << Name(i);
    EXPECT_EQ(*store->StreamHead(Sid(Name(i))), 1) << Name(i);
  }
  EXPECT_TRUE(CheckIsClean(*store));
}

}  // namespace
}  // namespace sluice
