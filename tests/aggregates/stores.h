// The stores the aggregate tests run on, behind one shape for typed tests: the in-memory store and
// the RocksDB store in a temporary folder. Both are an EventStore and a SnapshotStore. Also a
// decorator that runs a hook in the middle of a command, for deterministic interleavings.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conformance/temp_dir.h"
#include "sluice/core/event_store.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/core/snapshot_store.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::testing {

inline StreamId Sid(const std::string& name) {
  Result<StreamId> id = StreamId::Make(name);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return *id;
}

// Every event of `stream` (none if it does not exist).
inline std::vector<RecordedEvent> ReadWholeStream(EventStore& store, const std::string& stream) {
  Result<std::vector<RecordedEvent>> events = store.ReadStream(Sid(stream), 0, 1'000'000);
  if (!events.ok()) {
    EXPECT_TRUE(events.status().IsNotFound()) << events.status().ToString();
    return {};
  }
  return std::move(*events);
}

// The whole global log.
inline std::vector<RecordedEvent> ReadWholeLog(EventStore& store) {
  Result<std::vector<RecordedEvent>> events = store.ReadAll(1, 1'000'000);
  EXPECT_TRUE(events.ok()) << events.status().ToString();
  return events.ok() ? std::move(*events) : std::vector<RecordedEvent>{};
}

class InMemoryStores {
 public:
  static constexpr const char* kName = "InMemory";
  static constexpr bool kPersistent = false;

  EventStore& events() { return *store_; }
  SnapshotStore& snapshots() { return *store_; }
  // Nothing to reopen: the same store goes on.
  void Reopen() {}

 private:
  std::unique_ptr<InMemoryEventStore> store_ = std::make_unique<InMemoryEventStore>();
};

class RocksStores {
 public:
  static constexpr const char* kName = "RocksDB";
  static constexpr bool kPersistent = true;

  RocksStores() { Open(); }

  EventStore& events() { return *store_; }
  SnapshotStore& snapshots() { return *store_; }
  RocksEventStore& rocks() { return *store_; }
  // Closes the store and opens the folder again. Services built on the old one must be rebuilt.
  void Reopen() {
    store_.reset();
    Open();
  }

 private:
  void Open() {
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  TempDir dir_;
  std::unique_ptr<RocksEventStore> store_;
};

using StoreTypes = ::testing::Types<InMemoryStores, RocksStores>;

struct StoreNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

// Passes everything to `inner`, and runs a one-shot hook right after the next FindEvent that finds
// nothing, or right after the next ReadStream. A hook runs once, on the calling thread, before the
// call returns; calls it makes itself do not run hooks.
class InterposingEventStore final : public EventStore {
 public:
  explicit InterposingEventStore(EventStore& inner) : inner_(inner) {}

  std::function<void()> after_find_event_misses;
  std::function<void()> after_read_stream;

  Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                              std::vector<EventData> events,
                              const AppendOptions& options = {}) override {
    return inner_.Append(stream, expected, std::move(events), options);
  }
  Result<std::vector<RecordedEvent>> ReadStream(
      const StreamId& stream, StreamVersion from, std::size_t max_count,
      Direction direction = Direction::kForward) override {
    Result<std::vector<RecordedEvent>> out = inner_.ReadStream(stream, from, max_count, direction);
    RunOnce(after_read_stream);
    return out;
  }
  Result<std::vector<RecordedEvent>> ReadAll(GlobalPosition from, std::size_t max_count) override {
    return inner_.ReadAll(from, max_count);
  }
  Result<std::optional<EventLocation>> FindEvent(std::string_view event_id) override {
    Result<std::optional<EventLocation>> out = inner_.FindEvent(event_id);
    if (out.ok() && !out->has_value()) RunOnce(after_find_event_misses);
    return out;
  }
  Result<StreamVersion> StreamHead(const StreamId& stream) override {
    return inner_.StreamHead(stream);
  }
  GlobalPosition HeadPosition() override { return inner_.HeadPosition(); }
  boost::signals2::connection OnCommitted(std::function<void(GlobalPosition)> slot) override {
    return inner_.OnCommitted(std::move(slot));
  }

 private:
  static void RunOnce(std::function<void()>& hook) {
    if (!hook) return;
    std::function<void()> run = std::move(hook);
    hook = nullptr;
    run();
  }

  EventStore& inner_;
};

}  // namespace sluice::testing
