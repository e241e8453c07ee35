#include "sluice/projections/rebuild.h"

#include <thread>

#include "projection_engine.h"
#include "sluice/core/uuid.h"
#include "system_tables.h"

namespace sluice {

using namespace projection_internal;

namespace {

constexpr std::size_t kPage = 512;

Status DeleteAllParked(ReadModelStore& store, ReadModelTransaction& tx, std::string_view key) {
  GlobalPosition after = 0;
  while (true) {
    Result<std::vector<ParkedEvent>> page = ScanParked(store, key, after, kPage);
    if (!page.ok()) return page.status();
    for (const ParkedEvent& parked : *page) {
      SLUICE_RETURN_IF_ERROR(DeleteParked(tx, key, parked.position));
    }
    if (page->size() < kPage) return Status::Ok();
    after = page->back().position;
  }
}

// Removes what an interrupted rebuild left behind.
Status DiscardShadow(ReadModelStore& store, const Projection& projection, const Target& shadow) {
  SLUICE_RETURN_IF_ERROR(EnsureSystemTables(store));
  return RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
    for (const TableSchema& table : projection.Tables()) {
      SLUICE_RETURN_IF_ERROR(tx.DropTable(table.name + shadow.table_suffix));
    }
    SLUICE_RETURN_IF_ERROR(DeleteCheckpoints(store, tx, shadow.key));
    SLUICE_RETURN_IF_ERROR(DeleteAllParked(store, tx, shadow.key));
    return DeleteRecord(tx, shadow.key);
  });
}

// How long a live worker holds still for a switch; if the rebuild dies meanwhile, it goes on after.
constexpr std::int64_t kPauseMicros = 10'000'000;

// Asks a live worker of the projection to hold still (see ProjectionRecord::paused_until_us).
Status PauseLiveWorker(ReadModelStore& store, const std::string& name) {
  return RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
    Result<std::optional<ProjectionRecord>> live = LoadRecord(tx, name);
    if (!live.ok()) return live.status();
    if (!live->has_value()) return Status::Ok();
    ProjectionRecord next = **live;
    next.epoch += 1;  // its next transaction fails the fence, so it reloads and sees the pause
    next.paused_until_us = NowMicros() + kPauseMicros;
    return PutRecord(tx, next);
  });
}

// The shadow takes the live projection's place, in one transaction.
Status Switch(ReadModelStore& store, const Projection& projection, const Target& shadow,
              const std::string& owner, std::int64_t epoch) {
  const std::string name = projection.Name();
  return RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
    Result<std::optional<ProjectionRecord>> mine = LoadRecord(tx, shadow.key);
    if (!mine.ok()) return mine.status();
    if (!mine->has_value() || (*mine)->owner != owner || (*mine)->epoch != epoch) {
      return Status::Rejected("another rebuild of " + name + " took over");
    }
    Result<std::optional<ProjectionRecord>> live = LoadRecord(tx, name);
    if (!live.ok()) return live.status();
    for (const TableSchema& table : projection.Tables()) {
      SLUICE_RETURN_IF_ERROR(tx.DropTable(table.name));
      SLUICE_RETURN_IF_ERROR(tx.RenameTable(table.name + shadow.table_suffix, table.name));
    }
    SLUICE_RETURN_IF_ERROR(DeleteCheckpoints(store, tx, name));
    Result<std::vector<Layout>> layouts = LoadLayouts(store, shadow.key);
    if (!layouts.ok()) return layouts.status();
    for (const Layout& layout : *layouts) {
      for (int p = 0; p < layout.partitions; ++p) {
        SLUICE_RETURN_IF_ERROR(
            PutCheckpoint(tx, name, layout.partitions, p, layout.positions[std::size_t(p)]));
      }
      SLUICE_RETURN_IF_ERROR(DeleteLayout(tx, shadow.key, layout));
    }
    SLUICE_RETURN_IF_ERROR(DeleteAllParked(store, tx, name));
    GlobalPosition after = 0;
    while (true) {
      Result<std::vector<ParkedEvent>> page = ScanParked(store, shadow.key, after, kPage);
      if (!page.ok()) return page.status();
      for (const ParkedEvent& parked : *page) {
        SLUICE_RETURN_IF_ERROR(PutParked(tx, name, parked));
        SLUICE_RETURN_IF_ERROR(DeleteParked(tx, shadow.key, parked.position));
      }
      if (page->size() < kPage) break;
      after = page->back().position;
    }
    ProjectionRecord next;
    if (live->has_value()) {
      next = **live;
    } else {
      next.key = name;
      next.state = std::string(kStateStopped);
    }
    next.epoch += 1;  // a running worker notices and reloads from the new checkpoint
    next.paused_until_us = 0;
    next.updated_at_us = NowMicros();
    SLUICE_RETURN_IF_ERROR(PutRecord(tx, next));
    return DeleteRecord(tx, shadow.key);
  });
}

}  // namespace

Result<RebuildProgress> Rebuild(EventStore& events, ReadModelStore& store,
                                std::shared_ptr<Projection> projection,
                                const RebuildOptions& options) {
  if (projection == nullptr) return Status::InvalidArgument("projection is null");
  SLUICE_RETURN_IF_ERROR(ValidateProjectionName(projection->Name()));
  if (options.batch_size == 0) return Status::InvalidArgument("batch_size must be at least 1");
  if (options.failure.max_attempts < 1) {
    return Status::InvalidArgument("failure.max_attempts must be at least 1");
  }
  if (options.max_events_per_second < 0) {
    return Status::InvalidArgument("max_events_per_second must not be negative");
  }
  const Target shadow{projection->Name() + std::string(kShadowSuffix), std::string(kShadowSuffix)};
  SLUICE_RETURN_IF_ERROR(DiscardShadow(store, *projection, shadow));
  SLUICE_RETURN_IF_ERROR(PrepareTables(store, *projection, shadow));
  const std::string owner = NewUuid();
  Result<std::int64_t> epoch = Claim(store, shadow, owner);
  if (!epoch.ok()) return epoch.status();

  RunControl control;
  Telemetry telemetry;
  RunContext context;
  context.events = &events;
  context.store = &store;
  context.projection = projection.get();
  context.target = shadow;
  context.options.batch_size = options.batch_size;
  context.options.partitions = 1;
  context.options.failure = options.failure;
  context.filter = projection->Filter();
  context.owner = owner;
  context.epoch = *epoch;
  context.control = &control;
  context.telemetry = &telemetry;
  context.stop_at = events.HeadPosition();  // later events are the live worker's after the switch

  RebuildProgress progress;
  const auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  auto update = [&] {
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    progress.position = telemetry.Processed();
    progress.head = events.HeadPosition();
    progress.events_per_second =
        elapsed > 0 ? static_cast<double>(progress.events_done) / elapsed : 0;
    GlobalPosition left = progress.head > progress.position ? progress.head - progress.position : 0;
    progress.eta_seconds =
        progress.events_per_second > 0 ? static_cast<double>(left) / progress.events_per_second : 0;
  };
  context.after_page = [&](std::size_t count) {
    progress.events_done += count;
    auto now = std::chrono::steady_clock::now();
    if (options.max_events_per_second > 0) {
      auto due =
          started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(progress.events_done) /
                                                      options.max_events_per_second));
      if (due > now) std::this_thread::sleep_until(due);
    }
    if (options.on_progress && now - last_report >= options.progress_interval) {
      last_report = now;
      update();
      options.on_progress(progress);
    }
  };

  while (true) {
    control.Reset(/*clear_stop=*/false);
    StepResult step = RunOnce(context, /*until_caught_up=*/true);
    if (step.outcome == Outcome::kReload) continue;
    if (step.outcome != Outcome::kOk) {
      Status error = step.error.ok() ? Status::Unavailable("rebuild interrupted") : step.error;
      RecordState(store, shadow, owner, kStateFailed, error.ToString());
      return error.WithContext("rebuilding " + projection->Name());
    }
    SLUICE_RETURN_IF_ERROR(PauseLiveWorker(store, projection->Name()));
    Status switched = Switch(store, *projection, shadow, owner, *epoch);
    if (switched.ok()) break;
    if (switched.code() != StatusCode::kUnavailable) {
      return switched.WithContext("switching the rebuilt " + projection->Name());
    }
  }
  update();
  progress.eta_seconds = 0;
  progress.switched = true;
  if (options.on_progress) options.on_progress(progress);
  return progress;
}

}  // namespace sluice
