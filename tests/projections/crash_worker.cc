// The worker process of the projection crash test: follows the store in STORE_DIR (a RocksDB
// secondary instance) and runs the built-in projections stream-index and type-counts into a
// read model until it is killed.
//
//   sluice_projection_crash_worker STORE_DIR rocksdb|sqlite READ_MODEL_PATH PARTITIONS
//
// Prints "ready\n" once the workers run.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/projections/builtin_projections.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/projections/rocks_read_model_store.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

namespace {

int Fail(const std::string& what, const sluice::Status& status) {
  std::fprintf(stderr, "crash worker: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s STORE_DIR rocksdb|sqlite READ_MODEL_PATH PARTITIONS\n",
                 argv[0]);
    return 2;
  }
  const std::string kind = argv[2];
  sluice::RocksEventStoreOptions follow;
  follow.create_if_missing = false;
  follow.follow_interval_ms = 5;
  auto events = sluice::RocksEventStore::OpenFollower(argv[1], follow);
  if (!events.ok()) return Fail("opening the store", events.status());
  sluice::Result<std::unique_ptr<sluice::ReadModelStore>> store =
      sluice::Status::InvalidArgument("unknown read model kind " + kind);
  if (kind == "rocksdb") {
    sluice::RocksReadModelStoreOptions options;
    options.sync = false;  // kill -9 loses no unsynced commit: the WAL is written
    store = sluice::OpenRocksReadModelStore(argv[3], options);
  } else if (kind == "sqlite") {
    sluice::SqliteReadModelStoreOptions options;
    options.sync = false;  // WAL with synchronous=NORMAL survives a process crash
    store = sluice::OpenSqliteReadModelStore(argv[3], options);
  }
  if (!store.ok()) return Fail("opening the read model", store.status());
  sluice::ProjectionOptions options;
  options.partitions = std::atoi(argv[4]);
  options.batch_size = 64;
  options.failure.then = sluice::OnFailure::kStop;
  auto index = sluice::ProjectionWorker::Start(**events, **store,
                                               sluice::NewStreamIndexProjection(), options);
  if (!index.ok()) return Fail("starting stream-index", index.status());
  auto counts = sluice::ProjectionWorker::Start(**events, **store,
                                                sluice::NewTypeCountsProjection(), options);
  if (!counts.ok()) return Fail("starting type-counts", counts.status());
  const char ready[] = "ready\n";
  if (::write(STDOUT_FILENO, ready, sizeof(ready) - 1) < 0) return 1;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (auto* worker : {index->get(), counts->get()}) {
      sluice::ProjectionReport report = worker->Report();
      if (report.state == sluice::ProjectionState::kFailed) {
        std::fprintf(stderr, "crash worker: %s failed: %s\n", report.name.c_str(),
                     report.error.c_str());
        return 1;
      }
    }
  }
}
