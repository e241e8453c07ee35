// ProjectionHost: projection workers in a process of their own, beside the process that writes the
// event store (what `sluice project` runs). It opens the store read-only as a follower (a RocksDB
// secondary instance that catches up as soon as the writer writes, at least every
// follow_interval_ms, and wakes the workers when it sees new events), opens the read model by URL
// (read_model_url.h) and runs one ProjectionWorker per named projection of a registry.
//
// Several hosts may follow one writer at once, for different projections, each with its own
// read-model store or sharing one SQLite file. Two workers of the same projection on one read
// model do not share: the later takes over and the earlier one fails.
//
//   ProjectionHostOptions options;
//   options.store_dir = "/var/lib/shop/events";
//   options.read_model_url = "sqlite:/var/lib/shop/read.db";
//   options.projections = {"stream-index", "order-summary"};
//   auto host = ProjectionHost::Start(options, registry);
//   if (!host.ok()) ...;
//   Status ended = (*host)->Run(&stop_requested);  // until stop_requested, Stop() or a failure
//
// Thread safety: Stop() and Reports() from any thread; Run() from one thread, once.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/core/version.h"
#include "sluice/projections/projection_registry.h"
#include "sluice/projections/projection_worker.h"

namespace sluice {

struct ProjectionHostOptions {
  std::string store_dir;       // folder of the event store; must exist (nothing is created)
  std::string read_model_url;  // sqlite:PATH or rocksdb:DIR; created if missing
  // Registry names of the projections to run: at least one, no repeats.
  std::vector<std::string> projections;
  // false: follow the writer until Stop() or the stop flag. true: Run returns once every
  // projection has processed start_head(), the store's head when Start opened it.
  bool once = false;
  // Options of every worker (batch size, partitions 1-64, failure policy; default: retry 5 times,
  // then park the event and go on).
  ProjectionOptions worker;
  // The longest the follower waits before catching up with the writer when it noticed no write
  // in the store's folder (it is woken by writes too). Default 20 ms.
  int follow_interval_ms = 20;
};

class ProjectionHost {
 public:
  // Checks the options, opens the store and the read model and starts the workers.
  // InvalidArgument: no projection named, one named twice, bad worker options, a bad read-model
  // URL. NotFound: a projection the registry does not have (the message lists the known ones), or
  // no store at store_dir. Otherwise the error of opening the store or read model or of starting a
  // worker (e.g. Unavailable: another process has the RocksDB read model open). Nothing keeps
  // running after an error.
  static Result<std::unique_ptr<ProjectionHost>> Start(const ProjectionHostOptions& options,
                                                       const ProjectionRegistry& registry);

  // Stops the workers (see Run) and closes the store and read model.
  ~ProjectionHost();

  // Blocks until Stop() is called, *stop_flag becomes true (checked every 20 ms, so a signal
  // handler may set it), a worker fails, or (once) every projection has processed start_head().
  // Then stops every worker, each finishing and committing its current batch. Returns OK on a
  // clean end, or the first failure, naming the projection (Reports() shows all). Call once.
  Status Run(const std::atomic<bool>* stop_flag = nullptr);

  // Makes Run return (it drains the workers). Idempotent; may come before Run.
  void Stop();

  // One report per projection, in the order of options.projections: live figures while Run runs,
  // the final ones (state stopped or failed) after it returned.
  std::vector<ProjectionReport> Reports() const;

  // The store's head position when Start opened it.
  GlobalPosition start_head() const;

  ProjectionHost(const ProjectionHost&) = delete;
  ProjectionHost& operator=(const ProjectionHost&) = delete;

  class Impl;

 private:
  explicit ProjectionHost(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
