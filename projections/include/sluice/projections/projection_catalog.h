// The projections a read-model store holds, read from their bookkeeping (checkpoints, state and
// parked events live in the store's "sluice_" tables): for tools and for workers in other
// processes. Also resets a projection to a position.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/core/version.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

// Names of the projections that have run against `store`, sorted.
Result<std::vector<std::string>> ListProjections(ReadModelStore& store);

// The last state the projection's worker recorded, its checkpoint (the lowest over its
// partitions), its lag behind `head` and its parked count. A worker that was killed keeps the
// state it last recorded; a running one is kLive when its checkpoint has reached `head`.
// NotFound if the projection never ran against `store`. Rates are 0.
Result<ProjectionReport> DescribeProjection(ReadModelStore& store, std::string_view projection,
                                            GlobalPosition head);

// Sets the projection's checkpoint to `position`, so its next worker (or the running one, which
// notices) processes the events after it again. The read model is not changed: use it when the
// projection's writes are idempotent, or after clearing its tables; Rebuild (rebuild.h) is the
// safe way to start over. Parked events are kept.
Status ResetProjection(ReadModelStore& store, std::string_view projection, GlobalPosition position);

}  // namespace sluice
