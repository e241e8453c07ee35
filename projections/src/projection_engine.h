// The machinery shared by ProjectionWorker and Rebuild: reading the log in pages, handing events
// to partitions, applying them in transactions that also carry the checkpoint, and the failure
// policy. Private to the projections module.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/projections/read_model_store.h"
#include "system_tables.h"

namespace sluice::projection_internal {

inline constexpr int kMaxPartitions = 64;

// Where a run writes: the live projection, or a rebuild's shadow.
struct Target {
  std::string key;           // bookkeeping key: the name, or the name + kShadowSuffix
  std::string table_suffix;  // appended to every table name the projection uses
};

// Stop requests and commit wake-ups shared by the threads of a run.
class RunControl {
 public:
  void RequestStop();           // the user's Stop
  void Abort();                 // a thread of the run ended it (failure, reload)
  void Reset(bool clear_stop);  // before the next run; a restart also clears Stop
  bool stopping() const { return stop_.load() || abort_.load(); }
  bool stop_requested() const { return stop_.load(); }
  // Sleeps up to `duration`; true if the run is stopping.
  bool SleepUnlessStopping(std::chrono::milliseconds duration);
  // The event store announced `head`.
  void Notify(GlobalPosition head);
  // Waits until a commit beyond `position` was announced, `events` shows one, the run stops or
  // `at_most` passed. True if the run is stopping.
  bool WaitForCommitAfter(GlobalPosition position, EventStore& events,
                          std::chrono::milliseconds at_most);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> abort_{false};
  GlobalPosition announced_ = 0;  // GUARDED_BY(mu_)
};

// What a run reports while it works; read by ProjectionWorker::Report and WaitFor.
class Telemetry {
 public:
  void SetPartitions(int partitions, const std::vector<GlobalPosition>& start);
  void SetProcessed(int partition, GlobalPosition position);
  GlobalPosition Processed() const;  // lowest over the partitions
  void AddApplied(std::uint64_t count);
  std::uint64_t applied() const { return applied_.load(); }
  void SetRetrying(const Status& error);
  void ClearRetrying();
  bool retrying() const { return retrying_.load(); }
  void SetLive(bool live) { live_.store(live); }
  bool live() const { return live_.load(); }
  std::string error() const;
  void SetError(std::string error);
  int partitions() const { return partitions_.load(); }
  // The epoch the run works under; Processed() describes the read model of that epoch only.
  void SetEpoch(std::int64_t epoch) { epoch_.store(epoch); }
  std::int64_t epoch() const { return epoch_.load(); }
  // Wakes WaitFor callers.
  void WaitForProgress(std::chrono::steady_clock::time_point deadline,
                       const std::function<bool()>& done);
  void NotifyProgress();

 private:
  std::atomic<int> partitions_{1};
  std::array<std::atomic<GlobalPosition>, kMaxPartitions> processed_{};
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<bool> retrying_{false};
  std::atomic<bool> live_{false};
  std::atomic<std::int64_t> epoch_{0};
  mutable std::mutex mu_;
  std::condition_variable progress_cv_;
  std::string error_;  // GUARDED_BY(mu_)
};

enum class Outcome {
  kOk,
  kStopping,    // Stop() was called, or another thread of the run ended it
  kReload,      // the epoch changed under the same owner (reset, rebuild switch): load again
  kSuperseded,  // another worker took the projection over
  kFailed,      // FailurePolicy kStop, or an error that cannot be retried
};

struct StepResult {
  Outcome outcome = Outcome::kOk;
  Status error;
};

// Everything one run needs. References outlive the run.
struct RunContext {
  EventStore* events = nullptr;
  ReadModelStore* store = nullptr;
  Projection* projection = nullptr;
  Target target;
  ProjectionOptions options;
  EventFilter filter;
  std::string owner;
  std::int64_t epoch = 0;
  RunControl* control = nullptr;
  Telemetry* telemetry = nullptr;
  // With until_caught_up: also end once this position is processed (0: only when no events are
  // left), so a rebuild finishes however fast writers append.
  GlobalPosition stop_at = 0;
  // Rebuild: called after each page with the number of events in it (progress and throttling).
  std::function<void(std::size_t)> after_page;
};

// Creates the system tables and the projection's tables (with the target's suffix).
Status PrepareTables(ReadModelStore& store, const Projection& projection, const Target& target);

// Takes the target over: a new epoch and `owner`, state "running". Returns the epoch.
Result<std::int64_t> Claim(ReadModelStore& store, const Target& target, const std::string& owner);

// Records the final state of a run if `owner` still holds the target.
void RecordState(ReadModelStore& store, const Target& target, const std::string& owner,
                 std::string_view state, const std::string& error);

// Loads the layouts, adopts or creates the one with options.partitions, and runs the pipeline:
// catch up, then follow live until stopped (or, with `until_caught_up`, until a read finds no
// more events). Returns why it ended.
StepResult RunOnce(RunContext& context, bool until_caught_up);

// Applies `event` with `projection` through `tx`, mapping table names with `suffix`; exceptions
// become errors.
Status SafeApply(Projection& projection, const std::string& suffix, const RecordedEvent& event,
                 ReadModelTransaction& tx);

}  // namespace sluice::projection_internal
