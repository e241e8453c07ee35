#include "sluice/core/subscription.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sluice/core/in_memory_event_store.h"

namespace sluice {
namespace {

// Safety net against hangs only; no test relies on timing.
constexpr auto kHangTimeout = std::chrono::seconds(60);

StreamId Stream(const std::string& name) { return *StreamId::Make(name); }

EventData Event(const std::string& payload = "x") {
  EventData e;
  e.type = "test.Happened.v1";
  e.payload = payload;
  return e;
}

void AppendN(EventStore& store, const std::string& stream, int n) {
  for (int i = 0; i < n; ++i) {
    Result<AppendResult> r = store.Append(Stream(stream), ExpectedVersion::Any(), {Event()});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

// Thread-safe record of what a handler received.
class Collector {
 public:
  void Add(const RecordedEvent& e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      positions_.push_back(e.position);
    }
    cv_.notify_all();
  }
  // False if `n` events did not arrive (a hang).
  bool WaitForCount(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kHangTimeout, [&] { return positions_.size() >= n; });
  }
  std::vector<GlobalPosition> positions() {
    std::lock_guard<std::mutex> lock(mu_);
    return positions_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<GlobalPosition> positions_;
};

// A one-shot flag to wait on.
class Flag {
 public:
  void Set() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      set_ = true;
    }
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kHangTimeout, [&] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

std::vector<GlobalPosition> Range(GlobalPosition first, GlobalPosition last) {
  std::vector<GlobalPosition> out;
  for (GlobalPosition p = first; p <= last; ++p) out.push_back(p);
  return out;
}

TEST(SubscriptionTest, CatchesUpInBatchesThenFollowsLive) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 6);
  AppendN(store, "b-1", 4);

  Collector got;
  std::atomic<int> live_calls{0};
  std::atomic<std::size_t> delivered_when_live{0};
  Flag live;
  SubscriptionOptions options;
  options.batch_size = 3;
  options.on_live = [&] {
    delivered_when_live = got.positions().size();
    ++live_calls;
    live.Set();
  };
  auto sub = store.SubscribeToAll(
      0, [&](const RecordedEvent& e) { got.Add(e); }, options);
  ASSERT_TRUE(live.Wait());
  EXPECT_EQ(delivered_when_live.load(), 10u);
  EXPECT_TRUE(sub->is_live());

  AppendN(store, "a-1", 5);
  ASSERT_TRUE(got.WaitForCount(15));
  // position() moves after the handler returns: stop (join) before reading it.
  sub->Stop();
  EXPECT_EQ(got.positions(), Range(1, 15));
  EXPECT_EQ(sub->position(), 15u);
  EXPECT_TRUE(sub->status().ok());
  sub.reset();
  EXPECT_EQ(live_calls.load(), 1);
}

TEST(SubscriptionTest, StartsAfterTheCheckpoint) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 10);
  Collector got;
  auto sub = store.SubscribeToAll(4, [&](const RecordedEvent& e) { got.Add(e); });
  ASSERT_TRUE(got.WaitForCount(6));
  AppendN(store, "a-1", 2);
  ASSERT_TRUE(got.WaitForCount(8));
  sub.reset();
  EXPECT_EQ(got.positions(), Range(5, 12));
}

TEST(SubscriptionTest, EmptyStoreGoesLiveAtOnceAndDeliversLaterEvents) {
  InMemoryEventStore store;
  Flag live;
  Collector got;
  SubscriptionOptions options;
  options.on_live = [&] { live.Set(); };
  auto sub = store.SubscribeToAll(
      0, [&](const RecordedEvent& e) { got.Add(e); }, options);
  ASSERT_TRUE(live.Wait());
  EXPECT_EQ(sub->position(), 0u);
  AppendN(store, "a-1", 3);
  ASSERT_TRUE(got.WaitForCount(3));
  EXPECT_EQ(got.positions(), Range(1, 3));
}

TEST(SubscriptionTest, OnLiveIsCalledExactlyOnce) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 5);
  std::atomic<int> live_calls{0};
  Flag live;
  Collector got;
  SubscriptionOptions options;
  options.batch_size = 2;
  options.on_live = [&] {
    ++live_calls;
    live.Set();
  };
  auto sub = store.SubscribeToAll(
      0, [&](const RecordedEvent& e) { got.Add(e); }, options);
  ASSERT_TRUE(live.Wait());
  for (int i = 0; i < 20; ++i) {
    AppendN(store, "a-1", 1);
    ASSERT_TRUE(got.WaitForCount(6 + i));
  }
  sub.reset();
  EXPECT_EQ(live_calls.load(), 1);
}

TEST(SubscriptionTest, OnLiveFiresWhenCatchUpEndsOnAFullBatch) {
  // 6 events in batches of 3: the last catch-up read is full, so only an empty read shows the end.
  InMemoryEventStore store;
  AppendN(store, "a-1", 6);
  Flag live;
  std::atomic<std::size_t> delivered_when_live{0};
  Collector got;
  SubscriptionOptions options;
  options.batch_size = 3;
  options.on_live = [&] {
    delivered_when_live = got.positions().size();
    live.Set();
  };
  auto sub = store.SubscribeToAll(
      0, [&](const RecordedEvent& e) { got.Add(e); }, options);
  ASSERT_TRUE(live.Wait());
  EXPECT_EQ(delivered_when_live.load(), 6u);
}

TEST(SubscriptionTest, StopFromInsideTheHandlerEndsDelivery) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 10);
  std::promise<Subscription*> handle;
  std::shared_future<Subscription*> handle_future = handle.get_future().share();
  Collector got;
  Flag stopped;
  auto sub = store.SubscribeToAll(0, [&](const RecordedEvent& e) {
    got.Add(e);
    if (e.position == 3) {
      handle_future.get()->Stop();
      handle_future.get()->Stop();  // more than once is fine
      stopped.Set();
    }
  });
  handle.set_value(sub.get());
  ASSERT_TRUE(stopped.Wait());
  AppendN(store, "a-1", 5);
  sub.reset();  // joins the thread: nothing can be delivered after this
  EXPECT_EQ(got.positions(), Range(1, 3));
}

TEST(SubscriptionTest, StopFromOutsideJoinsAndStatusStaysOk) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 3);
  Collector got;
  auto sub = store.SubscribeToAll(0, [&](const RecordedEvent& e) { got.Add(e); });
  ASSERT_TRUE(got.WaitForCount(3));
  sub->Stop();
  const std::size_t after_stop = got.positions().size();
  AppendN(store, "a-1", 3);
  sub->Stop();
  EXPECT_TRUE(sub->status().ok()) << sub->status().ToString();
  EXPECT_EQ(got.positions().size(), after_stop);
  EXPECT_EQ(after_stop, 3u);
}

// Signals when the handler (and so the subscription's state) is destroyed.
struct LifetimeProbe {
  explicit LifetimeProbe(Flag* on_destroyed) : flag(on_destroyed) {}
  ~LifetimeProbe() { flag->Set(); }
  Flag* flag;
};

TEST(SubscriptionTest, DestroyingTheSubscriptionFromInsideTheHandlerIsSafe) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 10);
  std::unique_ptr<Subscription> sub;
  std::promise<void> assigned;
  std::shared_future<void> assigned_future = assigned.get_future().share();
  Collector got;
  Flag destroyed_inside;
  Flag state_freed;
  auto probe = std::make_shared<LifetimeProbe>(&state_freed);
  sub = store.SubscribeToAll(0, [&, probe](const RecordedEvent& e) {
    got.Add(e);
    if (e.position == 3) {
      assigned_future.get();
      sub.reset();
      destroyed_inside.Set();
    }
  });
  probe.reset();
  assigned.set_value();
  ASSERT_TRUE(destroyed_inside.Wait());
  // The thread ends and frees its state (with the handler) once the handler returns.
  ASSERT_TRUE(state_freed.Wait());
  EXPECT_EQ(sub, nullptr);
  AppendN(store, "a-1", 5);
  EXPECT_EQ(got.positions(), Range(1, 3));
}

TEST(SubscriptionTest, HandlerThrowingStopsWithAnErrorAndCallsOnError) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 10);
  Collector got;
  Flag errored;
  std::mutex error_mu;
  Status reported;
  std::atomic<int> error_calls{0};
  SubscriptionOptions options;
  options.on_error = [&](const Status& s) {
    {
      std::lock_guard<std::mutex> lock(error_mu);
      reported = s;
    }
    ++error_calls;
    errored.Set();
  };
  auto sub = store.SubscribeToAll(
      0,
      [&](const RecordedEvent& e) {
        if (e.position == 4) throw std::runtime_error("projection exploded");
        got.Add(e);
      },
      options);
  ASSERT_TRUE(errored.Wait());
  AppendN(store, "a-1", 3);
  sub->Stop();
  EXPECT_FALSE(sub->status().ok());
  {
    std::lock_guard<std::mutex> lock(error_mu);
    EXPECT_FALSE(reported.ok());
    EXPECT_EQ(reported, sub->status());
    EXPECT_NE(reported.message().find("projection exploded"), std::string::npos)
        << reported.ToString();
  }
  EXPECT_EQ(error_calls.load(), 1);
  EXPECT_EQ(got.positions(), Range(1, 3));
  EXPECT_EQ(sub->position(), 3u);
}

TEST(SubscriptionTest, HandlerThrowingANonStandardExceptionAlsoStopsWithAnError) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 2);
  Flag errored;
  SubscriptionOptions options;
  options.on_error = [&](const Status&) { errored.Set(); };
  auto sub = store.SubscribeToAll(
      0, [](const RecordedEvent&) { throw 42; }, options);
  ASSERT_TRUE(errored.Wait());
  sub->Stop();
  EXPECT_FALSE(sub->status().ok());
  EXPECT_EQ(sub->position(), 0u);
}

TEST(SubscriptionTest, HandlerErrorWithoutOnErrorIsVisibleInStatus) {
  InMemoryEventStore store;
  AppendN(store, "a-1", 1);
  Flag threw;
  auto sub = store.SubscribeToAll(0, [&](const RecordedEvent&) {
    threw.Set();
    throw std::runtime_error("boom");
  });
  ASSERT_TRUE(threw.Wait());
  sub->Stop();  // joins, so the failure has been recorded
  EXPECT_FALSE(sub->status().ok());
}

// An EventStore whose ReadAll fails after `ok_reads` successful reads.
class FailingReadStore final : public EventStore {
 public:
  explicit FailingReadStore(int ok_reads) : ok_reads_(ok_reads) {}
  Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                              std::vector<EventData> events,
                              const AppendOptions& options) override {
    return inner_.Append(stream, expected, std::move(events), options);
  }
  Result<std::vector<RecordedEvent>> ReadStream(const StreamId& stream, StreamVersion from,
                                                std::size_t max_count,
                                                Direction direction) override {
    return inner_.ReadStream(stream, from, max_count, direction);
  }
  Result<std::vector<RecordedEvent>> ReadAll(GlobalPosition from, std::size_t max_count) override {
    if (ok_reads_-- <= 0) return Status::IOError("disk on fire");
    return inner_.ReadAll(from, max_count);
  }
  Result<std::optional<EventLocation>> FindEvent(std::string_view event_id) override {
    return inner_.FindEvent(event_id);
  }
  Result<StreamVersion> StreamHead(const StreamId& stream) override {
    return inner_.StreamHead(stream);
  }
  GlobalPosition HeadPosition() override { return inner_.HeadPosition(); }
  boost::signals2::connection OnCommitted(std::function<void(GlobalPosition)> slot) override {
    return inner_.OnCommitted(std::move(slot));
  }

 private:
  InMemoryEventStore inner_;
  std::atomic<int> ok_reads_;
};

TEST(SubscriptionTest, ReadErrorStopsTheSubscriptionAndIsReported) {
  FailingReadStore store(1);
  AppendN(store, "a-1", 5);
  Flag errored;
  Status reported;
  SubscriptionOptions options;
  options.batch_size = 2;
  options.on_error = [&](const Status& s) {
    reported = s;
    errored.Set();
  };
  Collector got;
  auto sub = store.SubscribeToAll(
      0, [&](const RecordedEvent& e) { got.Add(e); }, options);
  ASSERT_TRUE(errored.Wait());
  sub->Stop();
  EXPECT_EQ(reported.code(), StatusCode::kIOError);
  EXPECT_EQ(sub->status().code(), StatusCode::kIOError);
  EXPECT_EQ(got.positions(), Range(1, 2));
}

TEST(SubscriptionTest, DeliversEveryEventOnceInOrderUnderConcurrentAppends) {
  InMemoryEventStore store;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  AppendN(store, "seed-1", 50);
  Collector got;
  std::vector<std::thread> writers;
  std::atomic<bool> go{false};
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        Result<AppendResult> r = store.Append(Stream("w-" + std::to_string(t)),
                                              ExpectedVersion::Any(), {Event(), Event()});
        ASSERT_TRUE(r.ok());
      }
    });
  }
  SubscriptionOptions options;
  options.batch_size = 7;
  go = true;
  auto sub = store.SubscribeToAll(
      0, [&](const RecordedEvent& e) { got.Add(e); }, options);
  for (auto& w : writers) w.join();
  const std::size_t total = 50 + kThreads * kPerThread * 2;
  ASSERT_TRUE(got.WaitForCount(total));
  sub.reset();
  EXPECT_EQ(got.positions(), Range(1, total));
}

TEST(SubscriptionTest, ManySubscriptionsCanComeAndGoWhileAppending) {
  InMemoryEventStore store;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!done.load()) {
      ASSERT_TRUE(store.Append(Stream("w-1"), ExpectedVersion::Any(), {Event()}).ok());
    }
  });
  for (int i = 0; i < 50; ++i) {
    std::atomic<GlobalPosition> last{0};
    std::atomic<bool> ordered{true};
    auto sub = store.SubscribeToAll(0, [&](const RecordedEvent& e) {
      if (e.position != last.load() + 1) ordered = false;
      last = e.position;
    });
    if (i % 2 == 0) sub->Stop();
    sub.reset();
    EXPECT_TRUE(ordered.load());
  }
  done = true;
  writer.join();
}

}  // namespace
}  // namespace sluice
