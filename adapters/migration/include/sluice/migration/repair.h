// Repair: corrective events for differences the sync watcher confirmed (watcher.h). Repairs go
// through the event log like every other change (never by writing read models): the mirror
// projection applies them as it applies captured changes.
//
//   missing or changed row -> "<table>.RowUpdated.v1" with the legacy row image (the mirror
//                             mapping's payload, change_mapping.h), on the row's mirror stream
//   extra row              -> "<table>.RowDeleted.v1" on the row's mirror stream
//   metadata extra "repair" = "true", "position" = the capture position's change id
//   event id  DeriveUuid of the table, the key, the legacy row's canonical hash (or "deleted") and
//             the capture position, so repairing the same difference again appends nothing.
#pragma once

#include <chrono>
#include <string>

#include "sluice/core/event.h"
#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"
#include "sluice/migration/watcher.h"

namespace sluice::migration {

struct RepairEvent {
  std::string stream;
  EventData event;
};

// The corrective event of `difference`, a difference of `table` found by the watcher.
// InvalidArgument when it lacks the legacy row it needs.
Result<RepairEvent> PlanRepair(const LegacyTable& table, const RowDifference& difference);

struct RepairOptions {
  // At most this many events appended per second (a sleep before an append that would go
  // faster). Default 1000; 0 means no limit.
  double events_per_second = 1000;
};

// Appends repair events, rate-limited, with ExpectedVersion::Any and synced appends.
// Thread safety: one thread at a time. `store` must outlive it.
class RepairAppender {
 public:
  RepairAppender(EventStore& store, RepairOptions options = {});
  // True when the event was appended, false when the store already had it (an earlier repair).
  Result<bool> Append(RepairEvent event);

 private:
  EventStore& store_;
  RepairOptions options_;
  std::chrono::steady_clock::time_point next_;
};

}  // namespace sluice::migration
