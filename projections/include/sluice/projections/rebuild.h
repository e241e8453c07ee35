// Rebuild: builds a new copy of a projection's read model from position 0 beside the live one (a
// shadow: tables named "<table>__rebuild", its own checkpoint), then switches in one transaction:
// the old tables are dropped, the shadow ones take their names, and the shadow's checkpoint and
// parked events become the projection's. Until the switch the old tables serve reads. A worker
// running the projection (in this or another process sharing the store) notices the switch and
// goes on from the new checkpoint, so no event is missed or applied twice.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

struct RebuildProgress {
  std::uint64_t events_done = 0;  // events processed by the shadow so far
  GlobalPosition position = 0;    // the shadow's checkpoint
  GlobalPosition head = 0;        // the event store's head
  double events_per_second = 0;
  double eta_seconds = 0;  // at the current rate; 0 when done
  bool switched = false;   // true in the last report, after the switch
};

struct RebuildOptions {
  std::size_t batch_size = 1024;
  // Throttle: at most this many events per second (0: as fast as possible), so a rebuild does not
  // starve the live workers.
  double max_events_per_second = 0;
  FailurePolicy failure;
  // Called on the rebuilding thread about every `progress_interval`, and once after the switch.
  std::function<void(const RebuildProgress&)> on_progress;
  std::chrono::milliseconds progress_interval{500};
};

// Runs the rebuild to the switch on the calling thread; returns the final progress. A shadow left
// by an interrupted rebuild is discarded first.
Result<RebuildProgress> Rebuild(EventStore& events, ReadModelStore& store,
                                std::shared_ptr<Projection> projection,
                                const RebuildOptions& options = {});

}  // namespace sluice
