// Snapshots: an aggregate's state saved at a stream version, so loading reads only later events.
// A snapshot is a cache of what the events already say: losing one costs time, never data, and one
// whose schema version differs from the aggregate's current one is ignored, never misread.
#pragma once

#include <optional>
#include <string>

#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/version.h"

namespace sluice {

struct Snapshot {
  StreamVersion version = kNoStream;  // the last event the state includes
  int schema_version = 1;             // the aggregate's snapshot schema when it was written
  std::string payload;                // the state, cereal portable binary

  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// Implemented by the event stores, beside their streams. Thread-safe.
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  // Keeps `snapshot` as the stream's latest unless a snapshot at a later version is already kept
  // (then it does nothing and returns OK). InvalidArgument if the version is beyond the stream's
  // head or negative. Not synced: a crash may lose it, which only costs a longer load.
  virtual Status SaveSnapshot(const StreamId& stream, const Snapshot& snapshot) = 0;

  // The stream's latest snapshot, or nullopt. Corruption if its bytes are damaged.
  virtual Result<std::optional<Snapshot>> LoadSnapshot(const StreamId& stream) = 0;
};

}  // namespace sluice
