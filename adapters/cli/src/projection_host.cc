#include "sluice/cli/projection_host.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>

#include "sluice/cli/read_model_url.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "store_access.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// How often Run looks at the stop flag and, with `once`, at the workers' progress.
constexpr milliseconds kPollInterval{20};
// How often Run asks the workers for their state (a report counts parked events, so not on
// every poll).
constexpr milliseconds kStateInterval{250};

constexpr GlobalPosition kEndOfTime = ~GlobalPosition{0};

}  // namespace

class ProjectionHost::Impl {
 public:
  Impl(ProjectionHostOptions options, std::unique_ptr<RocksEventStore> events,
       std::unique_ptr<ReadModelStore> read_model)
      : options_(std::move(options)),
        events_(std::move(events)),
        read_model_(std::move(read_model)),
        start_head_(events_->HeadPosition()) {}

  ~Impl() { StopWorkers(); }

  Status StartWorkers(const std::vector<std::shared_ptr<Projection>>& projections) {
    for (const std::shared_ptr<Projection>& projection : projections) {
      const std::string name = projection->Name();
      Result<std::unique_ptr<ProjectionWorker>> worker =
          ProjectionWorker::Start(*events_, *read_model_, projection, options_.worker);
      if (!worker.ok()) {
        StopWorkers();
        return worker.status().WithContext("cannot start projection " + name);
      }
      workers_.push_back(std::move(worker).value());
    }
    return Status::Ok();
  }

  Status Run(const std::atomic<bool>* stop_flag) {
    Status failure;
    auto next_state_check = steady_clock::now();
    while (true) {
      if (stop_flag != nullptr && stop_flag->load()) break;
      if (steady_clock::now() >= next_state_check) {
        failure = FirstFailure();
        if (!failure.ok()) break;
        next_state_check = steady_clock::now() + kStateInterval;
      }
      if (options_.once && AllReached(start_head_)) break;
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, kPollInterval, [this] { return stop_requested_; })) break;
    }
    StopWorkers();
    // A worker may have failed while the others drained, or just before the end was noticed.
    if (failure.ok()) failure = FirstFailure();
    return failure;
  }

  void Stop() {
    std::lock_guard lock(mu_);
    stop_requested_ = true;
    cv_.notify_all();
  }

  std::vector<ProjectionReport> Reports() const {
    std::vector<ProjectionReport> reports;
    for (const std::unique_ptr<ProjectionWorker>& worker : workers_) {
      reports.push_back(worker->Report());
    }
    return reports;
  }

  GlobalPosition start_head() const { return start_head_; }

 private:
  bool AllReached(GlobalPosition position) {
    for (const std::unique_ptr<ProjectionWorker>& worker : workers_) {
      if (!worker->WaitFor(position, milliseconds(0)).ok()) return false;
    }
    return true;
  }

  // The error of the first worker that stopped with one, named; OK if none did.
  Status FirstFailure() {
    for (const std::unique_ptr<ProjectionWorker>& worker : workers_) {
      const ProjectionReport report = worker->Report();
      if (report.state != ProjectionState::kFailed) continue;
      // A stopped worker's WaitFor returns the error that stopped it.
      Status error = worker->WaitFor(kEndOfTime, milliseconds(0));
      if (error.ok()) error = Status::Unavailable(report.error);
      return error.WithContext("projection " + report.name + " failed");
    }
    return Status::Ok();
  }

  void StopWorkers() {
    for (const std::unique_ptr<ProjectionWorker>& worker : workers_) worker->Stop();
  }

  const ProjectionHostOptions options_;
  // Declared before the workers, which use them: destroyed after them.
  const std::unique_ptr<RocksEventStore> events_;
  const std::unique_ptr<ReadModelStore> read_model_;
  const GlobalPosition start_head_;
  // Filled by Start before the host is handed out; fixed afterwards.
  std::vector<std::unique_ptr<ProjectionWorker>> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;  // GUARDED_BY(mu_)
};

Result<std::unique_ptr<ProjectionHost>> ProjectionHost::Start(const ProjectionHostOptions& options,
                                                              const ProjectionRegistry& registry) {
  if (options.projections.empty()) return Status::InvalidArgument("no projection named");
  if (options.follow_interval_ms < 1) {
    return Status::InvalidArgument("follow_interval_ms must be at least 1");
  }
  std::set<std::string> seen;
  std::vector<std::shared_ptr<Projection>> projections;
  for (const std::string& name : options.projections) {
    if (!seen.insert(name).second) {
      return Status::InvalidArgument("projection " + name + " is named twice");
    }
    Result<std::shared_ptr<Projection>> projection = registry.Create(name);
    if (!projection.ok()) return projection.status();
    if ((*projection)->Name() != name) {
      return Status::InvalidArgument("the projection registered as " + name + " calls itself " +
                                     (*projection)->Name());
    }
    projections.push_back(std::move(projection).value());
  }
  if (Result<ReadModelUrl> url = ParseReadModelUrl(options.read_model_url); !url.ok()) {
    return url.status();
  }
  Result<std::unique_ptr<RocksEventStore>> events =
      cli::OpenFollowerStore(options.store_dir, options.follow_interval_ms);
  if (!events.ok()) return events.status();
  Result<std::unique_ptr<ReadModelStore>> read_model = OpenReadModel(options.read_model_url);
  if (!read_model.ok()) {
    return read_model.status().WithContext("cannot open read model '" +
                                           RedactedReadModelUrl(options.read_model_url) + "'");
  }
  auto impl =
      std::make_unique<Impl>(options, std::move(events).value(), std::move(read_model).value());
  SLUICE_RETURN_IF_ERROR(impl->StartWorkers(projections));
  return std::unique_ptr<ProjectionHost>(new ProjectionHost(std::move(impl)));
}

ProjectionHost::ProjectionHost(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProjectionHost::~ProjectionHost() = default;
Status ProjectionHost::Run(const std::atomic<bool>* stop_flag) { return impl_->Run(stop_flag); }
void ProjectionHost::Stop() { impl_->Stop(); }
std::vector<ProjectionReport> ProjectionHost::Reports() const { return impl_->Reports(); }
GlobalPosition ProjectionHost::start_head() const { return impl_->start_head(); }

}  // namespace sluice
