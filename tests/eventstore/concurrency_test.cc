// The RocksDB store under concurrent use (DESIGN.md, promises 1, 2, 5 and 6): racing expected
// versions, readers that must never see a gap or half a batch, and subscriptions that must hand
// over from catch-up to live without losing or repeating an event while writers keep appending.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

constexpr auto kHangTimeout = std::chrono::seconds(60);

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
  }
  RocksEventStore& store() { return *store_; }

  TempDir dir_;
  std::unique_ptr<RocksEventStore> store_;
};

// Records the first failure seen by a worker thread (gtest assertions belong on the main thread).
class Failures {
 public:
  void Add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (list_.size() < 20) list_.push_back(what);
    ++count_;
  }
  bool empty() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_ == 0;
  }
  std::string Describe() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out = std::to_string(count_) + " failures:";
    for (const std::string& f : list_) out += "\n  " + f;
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> list_;
  std::size_t count_ = 0;
};

TEST_F(ConcurrencyTest, SixteenThreadsRacingOnOneVersionHaveExactlyOneWinner) {
  constexpr int kThreads = 16;
  constexpr int kRounds = 120;
  const StreamId stream = Sid("race-1");
  // Each round every thread appends 1-3 events at the same exact expected version.
  std::vector<std::vector<Result<AppendResult>>> results(
      kRounds, std::vector<Result<AppendResult>>(kThreads, Status::Unavailable("not run")));
  std::vector<StreamVersion> expected_at(kRounds + 1, kNoStream);
  std::barrier sync(kThreads);
  std::atomic<StreamVersion> current{kNoStream};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        sync.arrive_and_wait();  // everyone sees the `current` thread 0 set after the last round
        const StreamVersion at = current.load();
        results[round][t] = store().Append(
            stream, ExpectedVersion::Exact(at),
            TaggedBatch("r" + std::to_string(round) + "t" + std::to_string(t), 1 + t % 3));
        sync.arrive_and_wait();  // every append of this round has returned
        if (t == 0) {
          expected_at[round] = at;
          current = store().StreamHead(stream).value_or(-100);
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  StreamVersion version = kNoStream;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(expected_at[round], version);
    int winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      if (results[round][t].ok()) {
        ASSERT_EQ(winner, -1) << "threads " << winner << " and " << t << " both won";
        winner = t;
      }
    }
    ASSERT_NE(winner, -1) << "nobody won";
    const AppendResult& won = *results[round][winner];
    const int size = 1 + winner % 3;
    EXPECT_EQ(won.next_expected_version, version + size);
    EXPECT_EQ(won.last_position - won.first_position + 1, static_cast<GlobalPosition>(size));
    version += size;
    for (int t = 0; t < kThreads; ++t) {
      if (t == winner) continue;
      const Status s = results[round][t].status();
      EXPECT_EQ(s.code(), StatusCode::kWrongExpectedVersion) << s.ToString();
      EXPECT_EQ(s.actual_version(), std::optional<std::int64_t>(version)) << s.ToString();
    }
  }
  Result<std::vector<RecordedEvent>> log = ReadWholeLog(store());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log->size(), static_cast<std::size_t>(version + 1));
  EXPECT_TRUE(CheckLogInvariants(*log));
  EXPECT_EQ(store().HeadPosition(), log->size());
  EXPECT_TRUE(CheckIsClean(store()));
}

TEST_F(ConcurrencyTest, SixteenThreadsRacingToCreateAStreamHaveExactlyOneWinner) {
  constexpr int kThreads = 16;
  constexpr int kStreams = 40;
  std::vector<std::vector<Status>> results(kStreams, std::vector<Status>(kThreads));
  std::barrier sync(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int s = 0; s < kStreams; ++s) {
        sync.arrive_and_wait();
        results[s][t] =
            store()
                .Append(Sid("new-" + std::to_string(s)), ExpectedVersion::NoStream(),
                        TaggedBatch("s" + std::to_string(s) + "t" + std::to_string(t), 1 + t % 2))
                .status();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int s = 0; s < kStreams; ++s) {
    int winners = 0;
    int winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      if (results[s][t].ok()) {
        ++winners;
        winner = t;
      }
    }
    ASSERT_EQ(winners, 1) << "stream " << s;
    const StreamVersion head = winner % 2;  // the winner wrote 1 + winner % 2 events
    for (int t = 0; t < kThreads; ++t) {
      if (t == winner) continue;
      EXPECT_EQ(results[s][t].code(), StatusCode::kWrongExpectedVersion);
      EXPECT_EQ(results[s][t].actual_version(), std::optional<std::int64_t>(head));
    }
  }
  Result<std::vector<RecordedEvent>> log = ReadWholeLog(store());
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(CheckLogInvariants(*log));
  EXPECT_TRUE(CheckIsClean(store()));
}

TEST_F(ConcurrencyTest, OptimisticRetryLoopsLoseNoAppend) {
  // The documented way to use WrongExpectedVersion: reload (actual_version) and try again.
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  const StreamId stream = Sid("counter-1");
  Failures failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      StreamVersion known = kNoStream;
      for (int i = 0; i < kPerThread; ++i) {
        const std::string batch = "t" + std::to_string(t) + "i" + std::to_string(i);
        for (int attempt = 0;; ++attempt) {
          Result<AppendResult> r =
              store().Append(stream, ExpectedVersion::Exact(known), TaggedBatch(batch, 1));
          if (r.ok()) {
            known = r->next_expected_version;
            break;
          }
          if (!r.status().IsWrongExpectedVersion() || !r.status().actual_version()) {
            failures.Add(r.status().ToString());
            return;
          }
          if (*r.status().actual_version() <= known && known != kNoStream) {
            failures.Add("actual version went backwards: " + r.status().ToString());
            return;
          }
          known = *r.status().actual_version();
          if (attempt > 10'000) {
            failures.Add("no progress for " + batch);
            return;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(failures.empty()) << failures.Describe();
  Result<std::vector<RecordedEvent>> events = store().ReadStream(stream, 0, 100'000);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), static_cast<std::size_t>(kThreads * kPerThread));
  // Each thread's appends appear in its own order.
  std::map<std::string, int> next_of_thread;
  for (const RecordedEvent& e : *events) {
    const std::string& batch = e.metadata.extra.at(testing::kBatchKey);
    const std::string thread = batch.substr(0, batch.find('i'));
    const int i = std::stoi(batch.substr(batch.find('i') + 1));
    EXPECT_EQ(i, next_of_thread[thread]++) << batch;
  }
  EXPECT_TRUE(CheckIsClean(store()));
}

TEST_F(ConcurrencyTest, ReadersNeverSeeAGapOrHalfABatchWhileWritersAppend) {
  constexpr int kWriters = 6;
  constexpr int kAppendsPerWriter = 300;
  std::atomic<int> writers_running{kWriters};
  std::atomic<std::uint64_t> events_written{0};
  Failures failures;

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      AppendOptions options;
      options.sync = w < 2;  // synced and unsynced appends share group commits
      for (int k = 0; k < kAppendsPerWriter; ++k) {
        const int size = 1 + (k * 7 + w) % 4;
        const std::string stream = k % 3 == 0
                                       ? "shared-" + std::to_string(k % 5)
                                       : "w" + std::to_string(w) + "-" + std::to_string(k % 20);
        const std::string batch = "w" + std::to_string(w) + "k" + std::to_string(k);
        Result<AppendResult> r =
            store().Append(Sid(stream), ExpectedVersion::Any(), TaggedBatch(batch, size), options);
        if (!r.ok()) {
          failures.Add("append " + batch + ": " + r.status().ToString());
          break;
        }
        events_written += size;
      }
      --writers_running;
    });
  }

  // Full scans: the log read from 1 has no gap, no half batch, and reaches at least the head
  // position announced before the read began.
  std::atomic<int> full_scans{0};
  threads.emplace_back([&] {
    while (writers_running.load() > 0 && failures.empty()) {
      const GlobalPosition head_before = store().HeadPosition();
      Result<std::vector<RecordedEvent>> log = ReadWholeLog(store(), 997);
      if (!log.ok()) {
        failures.Add("ReadAll: " + log.status().ToString());
        return;
      }
      if (log->size() < head_before) {
        failures.Add("head position was " + std::to_string(head_before) + " but only " +
                     std::to_string(log->size()) + " events were readable");
      }
      ::testing::AssertionResult ok = CheckLogInvariants(*log);
      if (!ok) failures.Add(ok.message());
      ++full_scans;
    }
  });

  // A tailing reader: small reads from where it stopped; each must continue exactly there.
  std::atomic<int> tail_reads{0};
  threads.emplace_back([&] {
    GlobalPosition next = 1;
    std::map<std::string, std::pair<int, int>> open_batches;  // batch -> (seen, size)
    while (failures.empty()) {
      const bool last_pass = writers_running.load() == 0;
      const GlobalPosition head_before = store().HeadPosition();
      Result<std::vector<RecordedEvent>> part = store().ReadAll(next, 37);
      if (!part.ok()) {
        failures.Add("ReadAll: " + part.status().ToString());
        return;
      }
      for (const RecordedEvent& e : *part) {
        if (e.position != next) {
          failures.Add("tail read expected position " + std::to_string(next) + ", got " +
                       std::to_string(e.position));
          return;
        }
        ++next;
        auto& [seen, size] = open_batches[e.metadata.extra.at(testing::kBatchKey)];
        size = std::stoi(e.metadata.extra.at(testing::kBatchSizeKey));
        if (++seen == size) open_batches.erase(e.metadata.extra.at(testing::kBatchKey));
      }
      if (part->size() < 37) {
        if (next - 1 < head_before) {
          failures.Add("read ended at " + std::to_string(next - 1) + " below the head " +
                       std::to_string(head_before));
        }
        // At the end of the log every batch must be whole.
        if (!open_batches.empty()) {
          failures.Add("end of log at " + std::to_string(next - 1) + " inside batch " +
                       open_batches.begin()->first);
          return;
        }
        if (last_pass) break;
      }
      ++tail_reads;
    }
  });

  // Stream reads: versions 0.. without a gap and whole batches, forward and backward.
  threads.emplace_back([&] {
    int i = 0;
    while (writers_running.load() > 0 && failures.empty()) {
      const std::string name =
          i % 2 ? "shared-" + std::to_string(i % 5) : "w0-" + std::to_string(i % 20);
      ++i;
      Result<std::vector<RecordedEvent>> fwd = store().ReadStream(Sid(name), 0, 1'000'000);
      if (fwd.status().IsNotFound()) continue;
      if (!fwd.ok()) {
        failures.Add("ReadStream: " + fwd.status().ToString());
        return;
      }
      std::map<std::string, int> counts;
      for (std::size_t v = 0; v < fwd->size(); ++v) {
        const RecordedEvent& e = (*fwd)[v];
        if (e.version != static_cast<StreamVersion>(v)) {
          failures.Add(name + ": version " + std::to_string(e.version) + " at index " +
                       std::to_string(v));
          return;
        }
        ++counts[e.metadata.extra.at(testing::kBatchKey)];
      }
      for (const RecordedEvent& e : *fwd) {
        const std::string& batch = e.metadata.extra.at(testing::kBatchKey);
        if (counts[batch] != std::stoi(e.metadata.extra.at(testing::kBatchSizeKey))) {
          failures.Add(name + ": partial batch " + batch);
          return;
        }
      }
      Result<std::vector<RecordedEvent>> back =
          store().ReadStream(Sid(name), kStreamEnd, 1'000'000, Direction::kBackward);
      if (!back.ok() || back->size() < fwd->size()) {
        failures.Add(name + ": backward read shorter than an earlier forward read");
        return;
      }
      for (std::size_t k = 0; k < back->size(); ++k) {
        if ((*back)[k].version != static_cast<StreamVersion>(back->size() - 1 - k)) {
          failures.Add(name + ": backward read out of order");
          return;
        }
      }
    }
  });

  for (auto& th : threads) th.join();
  ASSERT_TRUE(failures.empty()) << failures.Describe();
  EXPECT_GT(full_scans.load(), 0);
  EXPECT_GT(tail_reads.load(), 0);
  Result<std::vector<RecordedEvent>> log = ReadWholeLog(store());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), events_written.load());
  EXPECT_TRUE(CheckLogInvariants(*log));
  EXPECT_TRUE(CheckIsClean(store()));
}

// What one subscription received.
struct Received {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RecordedEvent> events;
  int live_calls = 0;
  Status error;

  void Add(const RecordedEvent& e) {
    {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(e);
    }
    cv.notify_all();
  }
  bool WaitForPosition(GlobalPosition p) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kHangTimeout,
                       [&] { return !events.empty() && events.back().position >= p; });
  }
  SubscriptionOptions Options(std::size_t batch_size) {
    SubscriptionOptions options;
    options.batch_size = batch_size;
    options.on_live = [this] {
      std::lock_guard<std::mutex> lock(mu);
      ++live_calls;
    };
    options.on_error = [this](const Status& s) {
      {
        std::lock_guard<std::mutex> lock(mu);
        error = s;
      }
      cv.notify_all();
    };
    return options;
  }
};

TEST_F(ConcurrencyTest, SubscriptionsHandOverFromCatchUpToLiveWithoutLossOrRepeat) {
  // A backlog to catch up on.
  for (int i = 0; i < 100; ++i) {
    AppendOptions unsynced;
    unsynced.sync = false;
    ASSERT_TRUE(store()
                    .Append(Sid("backlog-" + std::to_string(i % 10)), ExpectedVersion::Any(),
                            TaggedBatch("backlog" + std::to_string(i), 10), unsynced)
                    .ok());
  }
  constexpr int kWriters = 4;
  constexpr int kAppendsPerWriter = 250;
  Failures failures;
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      while (!go.load()) std::this_thread::yield();
      AppendOptions options;
      options.sync = w % 2 == 0;
      for (int k = 0; k < kAppendsPerWriter; ++k) {
        Result<AppendResult> r = store().Append(
            Sid("live-" + std::to_string(w)), ExpectedVersion::Any(),
            TaggedBatch("w" + std::to_string(w) + "k" + std::to_string(k), 1 + k % 3), options);
        if (!r.ok()) failures.Add(r.status().ToString());
      }
    });
  }

  // Subscriptions start at different moments and checkpoints while the writers run. One of them
  // is slow: its handler blocks until the writers are done, which must not hold the writers up.
  constexpr int kSubscriptions = 6;
  std::vector<std::unique_ptr<Received>> received;
  std::vector<GlobalPosition> checkpoints;
  std::vector<std::unique_ptr<Subscription>> subscriptions;
  std::mutex slow_mu;
  std::condition_variable slow_cv;
  bool writers_done = false;
  bool slow_timed_out = false;
  go = true;
  for (int s = 0; s < kSubscriptions; ++s) {
    received.push_back(std::make_unique<Received>());
    Received* r = received.back().get();
    const GlobalPosition checkpoint = s % 2 == 0 ? 0 : store().HeadPosition() / 2;
    checkpoints.push_back(checkpoint);
    EventHandler handler = [r](const RecordedEvent& e) { r->Add(e); };
    if (s == 1) {
      handler = [&, r](const RecordedEvent& e) {
        {
          std::unique_lock<std::mutex> lock(slow_mu);
          if (!slow_cv.wait_for(lock, kHangTimeout, [&] { return writers_done; })) {
            slow_timed_out = true;
          }
        }
        r->Add(e);
      };
    }
    subscriptions.push_back(
        store().SubscribeToAll(checkpoint, handler, r->Options(s % 3 == 0 ? 1 : 64)));
  }
  for (auto& w : writers) w.join();
  {
    std::lock_guard<std::mutex> lock(slow_mu);
    writers_done = true;
  }
  slow_cv.notify_all();
  ASSERT_TRUE(failures.empty()) << failures.Describe();

  const GlobalPosition head = store().HeadPosition();
  Result<std::vector<RecordedEvent>> log = ReadWholeLog(store());
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), head);
  ASSERT_TRUE(CheckLogInvariants(*log));
  for (int s = 0; s < kSubscriptions; ++s) {
    SCOPED_TRACE("subscription " + std::to_string(s));
    ASSERT_TRUE(received[s]->WaitForPosition(head))
        << "stalled at " << subscriptions[s]->position() << " of " << head;
    subscriptions[s]->Stop();
    std::lock_guard<std::mutex> lock(received[s]->mu);
    EXPECT_TRUE(received[s]->error.ok()) << received[s]->error.ToString();
    EXPECT_TRUE(subscriptions[s]->status().ok()) << subscriptions[s]->status().ToString();
    const std::vector<RecordedEvent> want(log->begin() + checkpoints[s], log->end());
    ASSERT_EQ(received[s]->events.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(received[s]->events[i].position, want[i].position) << "at index " << i;
      ASSERT_EQ(received[s]->events[i].event_id, want[i].event_id) << "at index " << i;
    }
    EXPECT_LE(received[s]->live_calls, 1);
  }
  {
    std::lock_guard<std::mutex> lock(slow_mu);
    EXPECT_FALSE(slow_timed_out) << "writers waited for a slow subscriber";
  }
  subscriptions.clear();
}

TEST_F(ConcurrencyTest, OnCommittedAnnouncesOnlyReadablePositions) {
  // Every announced head must already be readable (promise 6): a slot records heads, and a
  // checker thread reads each one back while writers keep committing.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<GlobalPosition> announced;
  bool done = false;
  boost::signals2::scoped_connection connection = store().OnCommitted([&](GlobalPosition head) {
    {
      std::lock_guard<std::mutex> lock(mu);
      announced.push_back(head);
    }
    cv.notify_one();
  });
  Failures failures;
  std::thread checker([&] {
    std::size_t checked = 0;
    while (true) {
      GlobalPosition head = 0;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return done || checked < announced.size(); });
        if (checked == announced.size()) return;
        head = announced[checked++];
      }
      Result<std::vector<RecordedEvent>> last = store().ReadAll(head, 1);
      if (!last.ok() || last->empty() || (*last)[0].position != head) {
        failures.Add("announced head " + std::to_string(head) + " is not readable");
      }
      if (store().HeadPosition() < head) {
        failures.Add("HeadPosition below announced head " + std::to_string(head));
      }
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      AppendOptions options;
      options.sync = w == 0;
      for (int k = 0; k < 200; ++k) {
        if (!store()
                 .Append(Sid("n-" + std::to_string(w)), ExpectedVersion::Any(),
                         TaggedBatch("w" + std::to_string(w) + "k" + std::to_string(k), 2), options)
                 .ok()) {
          failures.Add("append failed");
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_one();
  checker.join();
  connection.disconnect();
  ASSERT_TRUE(failures.empty()) << failures.Describe();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(announced.empty());
  EXPECT_EQ(*std::max_element(announced.begin(), announced.end()), store().HeadPosition());
}

}  // namespace
}  // namespace sluice
