// ProjectionWorker: runs one projection over the global log into a read-model store, on threads of
// its own. It catches up from its checkpoint in batches, then follows live, woken by the event
// store's commit signal (no polling). Each batch's read-model changes and the checkpoint commit in
// one transaction, so after a crash at any point the read model equals a full rebuild.
//
// With partitions > 1, one thread reads the log and hands each event to the partition of its
// stream (a stable hash of the name), so order per stream is kept; each partition commits its own
// checkpoint, and a restart (also with another partition count) applies exactly the events some
// partition had not committed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

// What happens when applying an event fails.
enum class OnFailure : std::uint8_t {
  kPark,  // park it in the dead-letter store (dead_letters.h) and go on with the next event
  kStop,  // stop the worker in state kFailed with the error; a restart tries the event again
};

struct FailurePolicy {
  int max_attempts = 5;  // attempts per event, the first included; at least 1
  // Delay before the second attempt, doubled for each further one up to max_backoff.
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{5000};
  OnFailure then = OnFailure::kPark;
};

struct ProjectionOptions {
  std::size_t batch_size = 512;  // events read, applied and committed together
  int partitions = 1;            // worker threads, 1-64
  FailurePolicy failure;
};

enum class ProjectionState : std::uint8_t {
  kCatchingUp,  // behind the head, reading in batches
  kLive,        // has processed everything committed and waits for the next commit
  kRetrying,    // an event or the read-model store failed; retrying with backoff
  kStopped,     // stopped by Stop() (or not running)
  kFailed,      // stopped by an error: FailurePolicy kStop, or a failure it cannot retry
};

// "catching_up", "live", "retrying", "stopped", "failed".
std::string_view ProjectionStateName(ProjectionState state);

// What a projection is doing, for status pages and tools.
struct ProjectionReport {
  std::string name;
  ProjectionState state = ProjectionState::kStopped;
  GlobalPosition checkpoint = 0;  // every event at or below it has been processed
  GlobalPosition head = 0;        // the event store's head position
  std::uint64_t lag_events = 0;   // head - checkpoint
  double lag_seconds = 0;         // age of the oldest unprocessed event (0 when none)
  double events_per_second = 0;   // recent processing rate
  std::uint64_t parked = 0;       // events in the dead-letter store
  int partitions = 1;
  std::string error;  // why it is retrying or failed
};

class ProjectionWorker {
 public:
  // Creates the projection's tables and bookkeeping if needed, loads its checkpoint and starts.
  // `events` and `store` must outlive the worker. InvalidArgument for bad options or tables.
  static Result<std::unique_ptr<ProjectionWorker>> Start(EventStore& events, ReadModelStore& store,
                                                         std::shared_ptr<Projection> projection,
                                                         ProjectionOptions options = {});

  // Stops (see Stop).
  ~ProjectionWorker();

  // Finishes the batch in progress, commits it and stops the threads. Idempotent; safe from any
  // thread except the worker's own.
  void Stop();
  // Stops if running, reloads the checkpoint from the store and starts again (also after kFailed).
  Status Restart();

  ProjectionReport Report() const;
  std::string name() const;

  // Blocks until every event at or below `position` has been processed ("read your writes").
  // Unavailable on timeout; the error that stopped the worker if it stops first (Rejected when
  // another worker took the projection over).
  Status WaitFor(GlobalPosition position, std::chrono::milliseconds timeout);

  ProjectionWorker(const ProjectionWorker&) = delete;
  ProjectionWorker& operator=(const ProjectionWorker&) = delete;

  class Impl;

 private:
  explicit ProjectionWorker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
