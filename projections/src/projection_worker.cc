#include "sluice/projections/projection_worker.h"

#include <boost/signals2/connection.hpp>
#include <thread>

#include "projection_engine.h"
#include "sluice/core/uuid.h"
#include "sluice/projections/dead_letters.h"

namespace sluice {

using projection_internal::Outcome;
using projection_internal::RunContext;
using projection_internal::StepResult;
using projection_internal::Target;

std::string_view ProjectionStateName(ProjectionState state) {
  switch (state) {
    case ProjectionState::kCatchingUp:
      return "catching_up";
    case ProjectionState::kLive:
      return "live";
    case ProjectionState::kRetrying:
      return "retrying";
    case ProjectionState::kStopped:
      return "stopped";
    case ProjectionState::kFailed:
      return "failed";
  }
  return "stopped";
}

namespace {

Status ValidateOptions(const ProjectionOptions& options) {
  if (options.batch_size == 0) return Status::InvalidArgument("batch_size must be at least 1");
  if (options.partitions < 1 || options.partitions > projection_internal::kMaxPartitions) {
    return Status::InvalidArgument("partitions must be between 1 and " +
                                   std::to_string(projection_internal::kMaxPartitions));
  }
  if (options.failure.max_attempts < 1) {
    return Status::InvalidArgument("failure.max_attempts must be at least 1");
  }
  if (options.failure.initial_backoff.count() < 0 || options.failure.max_backoff.count() < 0) {
    return Status::InvalidArgument("failure backoffs must not be negative");
  }
  return Status::Ok();
}

}  // namespace

class ProjectionWorker::Impl {
 public:
  Impl(EventStore& events, ReadModelStore& store, std::shared_ptr<Projection> projection,
       ProjectionOptions options)
      : events_(events),
        store_(store),
        projection_(std::move(projection)),
        options_(std::move(options)),
        target_{projection_->Name(), ""},
        owner_(NewUuid()) {}

  ~Impl() {
    Stop();
    connection_.disconnect();
  }

  Status Start() {
    SLUICE_RETURN_IF_ERROR(projection_internal::PrepareTables(store_, *projection_, target_));
    Result<std::int64_t> epoch = projection_internal::Claim(store_, target_, owner_);
    if (!epoch.ok()) return epoch.status();
    if (!connection_.connected()) {
      connection_ = events_.OnCommitted([this](GlobalPosition head) { control_.Notify(head); });
    }
    {
      std::lock_guard lock(mu_);
      failure_ = Status::Ok();
    }
    running_.store(true);
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() {
    control_.RequestStop();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

  Status Restart() {
    Stop();
    control_.Reset(/*clear_stop=*/true);
    return Start();
  }

  std::string name() const { return target_.key; }

  ProjectionReport Report() {
    ProjectionReport report;
    report.name = target_.key;
    report.partitions = options_.partitions;
    report.head = events_.HeadPosition();
    report.checkpoint = telemetry_.Processed();
    report.lag_events = report.head > report.checkpoint ? report.head - report.checkpoint : 0;
    if (report.lag_events > 0) {
      Result<std::vector<RecordedEvent>> next = events_.ReadAll(report.checkpoint + 1, 1);
      if (next.ok() && !next->empty()) {
        double age =
            static_cast<double>(projection_internal::NowMicros() - next->front().recorded_at_us) /
            1e6;
        report.lag_seconds = age > 0 ? age : 0;
      }
    }
    report.events_per_second = Rate(report.checkpoint);
    report.parked = CountParked(store_, target_.key).value_or(0);
    bool failed = false;
    {
      std::lock_guard lock(mu_);
      failed = !failure_.ok();
      if (failed) report.error = failure_.ToString();
    }
    if (!running_.load()) {
      report.state = failed ? ProjectionState::kFailed : ProjectionState::kStopped;
    } else if (telemetry_.retrying()) {
      report.state = ProjectionState::kRetrying;
      report.error = telemetry_.error();
    } else {
      report.state = report.lag_events == 0 ? ProjectionState::kLive : ProjectionState::kCatchingUp;
    }
    return report;
  }

  Status WaitFor(GlobalPosition position, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      telemetry_.WaitForProgress(
          deadline, [&] { return telemetry_.Processed() >= position || !running_.load(); });
      if (telemetry_.Processed() < position) break;
      // The position counts only for the read model the worker still writes: after a rebuild's
      // switch or a reset it has to reload and get there again.
      std::int64_t epoch = telemetry_.epoch();
      Result<std::optional<projection_internal::ProjectionRecord>> record =
          projection_internal::LoadRecord(store_, target_.key);
      if (!record.ok()) return record.status();
      if (record->has_value() && (*record)->epoch == epoch && telemetry_.epoch() == epoch &&
          telemetry_.Processed() >= position) {
        return Status::Ok();
      }
      if (std::chrono::steady_clock::now() >= deadline || !running_.load()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (telemetry_.Processed() >= position && running_.load()) {
      return Status::Unavailable("timed out waiting for projection " + target_.key +
                                 " to reload after a reset or a rebuild");
    }
    if (!running_.load()) {
      std::lock_guard lock(mu_);
      if (!failure_.ok()) return failure_;
      return Status::Unavailable("projection " + target_.key + " is stopped at position " +
                                 std::to_string(telemetry_.Processed()));
    }
    return Status::Unavailable("timed out waiting for projection " + target_.key +
                               " to reach position " + std::to_string(position) + " (it is at " +
                               std::to_string(telemetry_.Processed()) + ")");
  }

 private:
  void Run() {
    RunContext context;
    context.events = &events_;
    context.store = &store_;
    context.projection = projection_.get();
    context.target = target_;
    context.options = options_;
    context.filter = projection_->Filter();
    context.owner = owner_;
    context.control = &control_;
    context.telemetry = &telemetry_;
    Status failure;
    while (!control_.stop_requested()) {
      control_.Reset(/*clear_stop=*/false);
      Result<std::optional<projection_internal::ProjectionRecord>> record =
          projection_internal::LoadRecord(store_, target_.key);
      if (!record.ok()) {
        telemetry_.SetRetrying(record.status());
        control_.SleepUnlessStopping(std::chrono::milliseconds(500));
        continue;
      }
      if (!record->has_value() || (*record)->owner != owner_) {
        failure =
            Status::Rejected("projection " + target_.key + " was taken over by another worker");
        break;
      }
      if ((*record)->paused_until_us > projection_internal::NowMicros()) {
        // A rebuild is switching the read model: hold still until it is done (or the pause ends).
        control_.SleepUnlessStopping(std::chrono::milliseconds(10));
        continue;
      }
      context.epoch = (*record)->epoch;
      if (telemetry_.epoch() != context.epoch) {
        // What was processed counted for the previous epoch's read model: forget it first.
        telemetry_.SetPartitions(1, {0});
        telemetry_.SetEpoch(context.epoch);
      }
      StepResult result = projection_internal::RunOnce(context, /*until_caught_up=*/false);
      if (result.outcome == Outcome::kFailed || result.outcome == Outcome::kSuperseded) {
        failure = result.error;
        break;
      }
    }
    telemetry_.SetLive(false);
    if (!failure.ok()) {
      projection_internal::RecordState(store_, target_, owner_, projection_internal::kStateFailed,
                                       failure.ToString());
    } else {
      projection_internal::RecordState(store_, target_, owner_, projection_internal::kStateStopped,
                                       "");
    }
    {
      std::lock_guard lock(mu_);
      failure_ = failure;
    }
    running_.store(false);
    telemetry_.NotifyProgress();
  }

  double Rate(GlobalPosition checkpoint) {
    std::lock_guard lock(rate_mu_);
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - sample_time_).count();
    if (sample_time_ == std::chrono::steady_clock::time_point{}) {
      sample_time_ = now;
      sample_position_ = checkpoint;
    } else if (elapsed >= 1.0) {
      rate_ = checkpoint >= sample_position_
                  ? static_cast<double>(checkpoint - sample_position_) / elapsed
                  : 0;
      sample_time_ = now;
      sample_position_ = checkpoint;
    }
    return rate_;
  }

  EventStore& events_;
  ReadModelStore& store_;
  std::shared_ptr<Projection> projection_;
  const ProjectionOptions options_;
  const Target target_;
  const std::string owner_;
  projection_internal::RunControl control_;
  projection_internal::Telemetry telemetry_;
  boost::signals2::connection connection_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::mutex mu_;
  Status failure_;  // GUARDED_BY(mu_): why the last run ended, OK for Stop
  std::mutex rate_mu_;
  std::chrono::steady_clock::time_point sample_time_;  // GUARDED_BY(rate_mu_)
  GlobalPosition sample_position_ = 0;                 // GUARDED_BY(rate_mu_)
  double rate_ = 0;                                    // GUARDED_BY(rate_mu_)
};

Result<std::unique_ptr<ProjectionWorker>> ProjectionWorker::Start(
    EventStore& events, ReadModelStore& store, std::shared_ptr<Projection> projection,
    ProjectionOptions options) {
  if (projection == nullptr) return Status::InvalidArgument("projection is null");
  SLUICE_RETURN_IF_ERROR(projection_internal::ValidateProjectionName(projection->Name()));
  SLUICE_RETURN_IF_ERROR(ValidateOptions(options));
  auto impl = std::make_unique<Impl>(events, store, std::move(projection), std::move(options));
  SLUICE_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<ProjectionWorker>(new ProjectionWorker(std::move(impl)));
}

ProjectionWorker::ProjectionWorker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProjectionWorker::~ProjectionWorker() = default;
void ProjectionWorker::Stop() { impl_->Stop(); }
Status ProjectionWorker::Restart() { return impl_->Restart(); }
ProjectionReport ProjectionWorker::Report() const { return impl_->Report(); }
std::string ProjectionWorker::name() const { return impl_->name(); }
Status ProjectionWorker::WaitFor(GlobalPosition position, std::chrono::milliseconds timeout) {
  return impl_->WaitFor(position, timeout);
}

}  // namespace sluice
