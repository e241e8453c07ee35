// InMemoryEventStore: the EventStore port held in memory, for unit tests and examples. Same
// contract as the RocksDB store (it passes the same conformance suite); nothing survives the
// process. Thread-safe.
#pragma once

#include <boost/signals2/signal.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/core/snapshot_store.h"

namespace sluice {

class InMemoryEventStore final : public EventStore, public SnapshotStore {
 public:
  InMemoryEventStore() = default;

  Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                              std::vector<EventData> events,
                              const AppendOptions& options = {}) override;
  Result<std::vector<RecordedEvent>> ReadStream(const StreamId& stream, StreamVersion from,
                                                std::size_t max_count,
                                                Direction direction = Direction::kForward) override;
  Result<std::vector<RecordedEvent>> ReadAll(GlobalPosition from, std::size_t max_count) override;
  Result<std::optional<EventLocation>> FindEvent(std::string_view event_id) override;
  Result<StreamVersion> StreamHead(const StreamId& stream) override;
  GlobalPosition HeadPosition() override;
  boost::signals2::connection OnCommitted(std::function<void(GlobalPosition)> slot) override;

  Status SaveSnapshot(const StreamId& stream, const Snapshot& snapshot) override;
  Result<std::optional<Snapshot>> LoadSnapshot(const StreamId& stream) override;

 private:
  std::mutex mu_;
  std::vector<RecordedEvent> log_;  // GUARDED_BY(mu_); log_[p-1]
  std::unordered_map<std::string, std::vector<GlobalPosition>> streams_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, GlobalPosition> ids_;                   // GUARDED_BY(mu_)
  std::unordered_map<std::string, Snapshot> snapshots_;                   // GUARDED_BY(mu_)
  boost::signals2::signal<void(GlobalPosition)> committed_;
};

}  // namespace sluice
