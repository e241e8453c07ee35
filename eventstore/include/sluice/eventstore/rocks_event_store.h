// RocksEventStore: the EventStore port on an embedded RocksDB database.
//
// One process writes a store at a time (RocksDB's LOCK file); a second writer gets Unavailable at
// once. Any number of readers in other processes open the same folder as followers (RocksDB
// secondary instances) while the writer runs.
//
// Appends from many threads are group-committed: queued, written together in one WriteBatch with
// one WAL sync, and given their global positions inside the commit, so positions are contiguous
// and a reader never sees position p before every position below it. Reads use one consistent
// RocksDB snapshot each.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/core/snapshot_store.h"

namespace sluice {

struct RocksEventStoreOptions {
  // Create the store if the folder holds none. Default true.
  bool create_if_missing = true;
  // Stream heads kept in memory to check expected versions without a read; beyond this many the
  // least recently used are dropped (and read back from disk when needed). Default 100,000.
  std::size_t stream_head_cache_entries = 100'000;
  // RocksDB block cache for reads, in bytes. Default 64 MiB.
  std::size_t block_cache_bytes = 64 << 20;
  // Followers only: the longest wait before catching up with the writer when no change in the
  // store's folder was noticed, in milliseconds. Default 100.
  int follow_interval_ms = 100;
};

// A stream and the version of its last event.
struct StreamInfo {
  std::string stream;
  StreamVersion version = kNoStream;
};

struct StoreStats {
  GlobalPosition head_position = 0;
  std::uint64_t stream_count = 0;
  std::uint64_t event_count = 0;
  std::uint64_t bytes_on_disk = 0;
};

// What `Check` found: sound when `problems` is empty.
struct CheckReport {
  GlobalPosition head_position = 0;
  std::uint64_t events_checked = 0;
  std::uint64_t streams_checked = 0;
  std::vector<std::string> problems;  // capped at 1000 entries; `problem_count` has the total
  std::uint64_t problem_count = 0;
  bool ok() const { return problem_count == 0; }
};

class RocksEventStore final : public EventStore, public SnapshotStore {
 public:
  // Opens (or creates) the store in `dir` for writing. Unavailable if another process (or another
  // RocksEventStore in this one) has it open for writing; InvalidArgument if `dir` holds something
  // that is not a Sluice store.
  static Result<std::unique_ptr<RocksEventStore>> Open(const std::string& dir,
                                                       const RocksEventStoreOptions& options = {});

  // Opens the store in `dir` read-only as a follower of the process writing it (a RocksDB secondary
  // instance). A background thread catches up with the writer as soon as the writer writes to the
  // folder (inotify) and at least every follow_interval_ms, and fires OnCommitted when new events
  // appear; Refresh() catches up at once. Append returns InvalidArgument.
  static Result<std::unique_ptr<RocksEventStore>> OpenFollower(
      const std::string& dir, const RocksEventStoreOptions& options = {});

  ~RocksEventStore() override;

  Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                              std::vector<EventData> events,
                              const AppendOptions& options = {}) override;
  Result<std::vector<RecordedEvent>> ReadStream(const StreamId& stream, StreamVersion from,
                                                std::size_t max_count,
                                                Direction direction = Direction::kForward) override;
  Result<std::vector<RecordedEvent>> ReadAll(GlobalPosition from, std::size_t max_count) override;
  Status ReadAllInto(GlobalPosition from, std::size_t max_count,
                     std::vector<RecordedEvent>* out) override;
  Result<std::optional<EventLocation>> FindEvent(std::string_view event_id) override;
  Result<StreamVersion> StreamHead(const StreamId& stream) override;
  GlobalPosition HeadPosition() override;
  boost::signals2::connection OnCommitted(std::function<void(GlobalPosition)> slot) override;

  // Snapshots live in their own column family beside the streams (see snapshot_store.h).
  Status SaveSnapshot(const StreamId& stream, const Snapshot& snapshot) override;
  Result<std::optional<Snapshot>> LoadSnapshot(const StreamId& stream) override;

  // Follower: catch up with the writer now. No-op for a writer.
  Status Refresh();
  bool is_follower() const;

  // Streams in name order, starting after `after` (empty: from the first), at most `max_count`.
  Result<std::vector<StreamInfo>> ListStreams(const std::string& after, std::size_t max_count);
  Result<StoreStats> Stats();
  // Verifies every invariant of the store (see CheckReport); reads everything once.
  Result<CheckReport> Check();

  RocksEventStore(const RocksEventStore&) = delete;
  RocksEventStore& operator=(const RocksEventStore&) = delete;

  class Impl;

 private:
  explicit RocksEventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
