// The runtime's bookkeeping, kept in three tables of the read-model store itself so it commits
// with the read model:
//   sluice_projections  projection -> epoch, owner, state, error, updated_at_us, paused_until_us
//   sluice_checkpoints  (projection, partitions, partition) -> position, updated_at_us
//   sluice_parked       (projection, position) -> the parked event and its failure
// A projection's "key" is its name, or "<name>__rebuild" for the shadow of a rebuild.
//
// The epoch is a fencing token: a worker reads it in every transaction and stops writing when it
// changed. A new worker takes over (new owner); a reset or a rebuild's switch bumps the epoch but
// keeps the owner, and the running worker reloads its checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/status.h"
#include "sluice/projections/dead_letters.h"
#include "sluice/projections/read_model_store.h"

namespace sluice::projection_internal {

inline constexpr std::string_view kProjectionsTable = "sluice_projections";
inline constexpr std::string_view kCheckpointsTable = "sluice_checkpoints";
inline constexpr std::string_view kParkedTable = "sluice_parked";
inline constexpr std::string_view kShadowSuffix = "__rebuild";

// Persisted worker states (ProjectionState is richer while running).
inline constexpr std::string_view kStateRunning = "running";
inline constexpr std::string_view kStateStopped = "stopped";
inline constexpr std::string_view kStateFailed = "failed";

struct ProjectionRecord {
  std::string key;
  std::int64_t epoch = 0;
  std::string owner;
  std::string state;
  std::string error;
  std::int64_t updated_at_us = 0;
  // A rebuild about to switch asks the live worker to hold still until then (microseconds since
  // the epoch; 0: not paused), so the switch does not keep conflicting with its commits.
  std::int64_t paused_until_us = 0;
};

// One way of partitioning the projection's streams and how far each partition got.
struct Layout {
  int partitions = 1;
  std::vector<GlobalPosition> positions;  // one per partition

  GlobalPosition Low() const;
  GlobalPosition High() const;
};

std::int64_t NowMicros();

// InvalidArgument unless `name` is 1-64 bytes of [A-Za-z0-9_.-] and does not end in "__rebuild".
Status ValidateProjectionName(std::string_view name);

// The stable partition of a stream among `partitions` (FNV-1a of the name).
int PartitionOf(std::string_view stream, int partitions);

// Runs `work` in a transaction and commits it, beginning again when Commit reports a conflict
// (Unavailable), up to a bound. `work` may be called several times.
Status RunTransaction(ReadModelStore& store, const std::function<Status(ReadModelBatch& tx)>& work);

// Creates the three tables if missing.
Status EnsureSystemTables(ReadModelStore& store);

Result<std::optional<ProjectionRecord>> LoadRecord(ReadModelStore& store, std::string_view key);
Result<std::optional<ProjectionRecord>> LoadRecord(ReadModelTransaction& tx, std::string_view key);
Status PutRecord(ReadModelTransaction& tx, const ProjectionRecord& record);
Status DeleteRecord(ReadModelTransaction& tx, std::string_view key);
// Every projection key in the store.
Result<std::vector<std::string>> ListRecordKeys(ReadModelStore& store);

// All layouts of `key`, by partition count.
Result<std::vector<Layout>> LoadLayouts(ReadModelStore& store, std::string_view key);
Status PutCheckpoint(ReadModelTransaction& tx, std::string_view key, int partitions, int partition,
                     GlobalPosition position);
// Deletes every checkpoint row of `key` (as read from the committed store) in `tx`.
Status DeleteCheckpoints(ReadModelStore& store, ReadModelTransaction& tx, std::string_view key);
Status DeleteLayout(ReadModelTransaction& tx, std::string_view key, const Layout& layout);

Status PutParked(ReadModelTransaction& tx, std::string_view key, const ParkedEvent& parked);
Status DeleteParked(ReadModelTransaction& tx, std::string_view key, GlobalPosition position);
Result<std::optional<ParkedEvent>> LoadParked(ReadModelTransaction& tx, std::string_view key,
                                              GlobalPosition position);
// Up to `limit` parked events of `key` with position > after.
Result<std::vector<ParkedEvent>> ScanParked(ReadModelStore& store, std::string_view key,
                                            GlobalPosition after, std::size_t limit);

// A ParkedEvent describing `event`.
ParkedEvent ParkedFrom(const RecordedEvent& event, std::string error, std::int64_t attempts);

}  // namespace sluice::projection_internal
