// The dead-letter store: events a projection failed to apply after its retries, parked with the
// error, the attempt count and the time (FailurePolicy kPark). They live in the read-model store
// beside the checkpoint, and are listed, replayed or discarded here, page by page so memory stays
// bounded however many there are. Nothing leaves it except by a successful replay or a discard.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

struct ParkedEvent {
  GlobalPosition position = 0;
  std::string stream;
  StreamVersion version = 0;
  std::string event_id;
  std::string type;
  std::string error;              // the last failure
  std::int64_t attempts = 0;      // failed attempts so far, replays included
  std::int64_t parked_at_us = 0;  // when it was (last) parked, microseconds since the Unix epoch

  friend bool operator==(const ParkedEvent&, const ParkedEvent&) = default;
};

// Positions [from, to], both inclusive.
struct PositionRange {
  GlobalPosition from = 1;
  GlobalPosition to = kLastPosition;
  static constexpr GlobalPosition kLastPosition = ~GlobalPosition{0};
};

// Up to `limit` parked events of `projection` with position > `after`, by position.
Result<std::vector<ParkedEvent>> ListParked(ReadModelStore& store, std::string_view projection,
                                            GlobalPosition after, std::size_t limit);
Result<std::uint64_t> CountParked(ReadModelStore& store, std::string_view projection);

struct ReplayResult {
  std::uint64_t replayed = 0;       // applied and removed from the dead-letter store
  std::uint64_t still_failing = 0;  // failed again: kept, attempts and error updated
};

// Reads each parked event in `range` again from `events` (pass an UpcastingEventStore to replay
// through the current upcasters) and applies it with `projection`'s current code, each in its own
// transaction that also removes it from the dead-letter store. `batch` events are in memory at a
// time. Safe while the projection's worker runs.
Result<ReplayResult> ReplayParked(EventStore& events, ReadModelStore& store, Projection& projection,
                                  PositionRange range = {}, std::size_t batch = 256);

// Removes the parked events in `range` without applying them; returns how many.
Result<std::uint64_t> DiscardParked(ReadModelStore& store, std::string_view projection,
                                    PositionRange range = {});

}  // namespace sluice
