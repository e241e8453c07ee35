#include "sluice/projections/projection_catalog.h"

#include <algorithm>

#include "sluice/projections/dead_letters.h"
#include "system_tables.h"

namespace sluice {

using namespace projection_internal;

Result<std::vector<std::string>> ListProjections(ReadModelStore& store) {
  Result<std::optional<TableSchema>> table = store.DescribeTable(kProjectionsTable);
  if (!table.ok()) return table.status();
  if (!table->has_value()) return std::vector<std::string>();
  Result<std::vector<std::string>> keys = ListRecordKeys(store);
  if (!keys.ok()) return keys.status();
  std::erase_if(*keys, [](const std::string& key) { return key.ends_with(kShadowSuffix); });
  return keys;
}

Result<ProjectionReport> DescribeProjection(ReadModelStore& store, std::string_view projection,
                                            GlobalPosition head) {
  Result<std::optional<TableSchema>> table = store.DescribeTable(kProjectionsTable);
  if (!table.ok()) return table.status();
  Result<std::optional<ProjectionRecord>> record =
      table->has_value() ? LoadRecord(store, projection) : std::optional<ProjectionRecord>();
  if (!record.ok()) return record.status();
  if (!record->has_value()) {
    return Status::NotFound("projection " + std::string(projection) + " has not run against " +
                            store.Describe());
  }
  Result<std::vector<Layout>> layouts = LoadLayouts(store, projection);
  if (!layouts.ok()) return layouts.status();
  ProjectionReport report;
  report.name = std::string(projection);
  report.head = head;
  for (const Layout& layout : *layouts) {
    if (layout.Low() >= report.checkpoint) {
      report.checkpoint = layout.Low();
      report.partitions = layout.partitions;
    }
  }
  report.lag_events = head > report.checkpoint ? head - report.checkpoint : 0;
  Result<std::uint64_t> parked = CountParked(store, projection);
  if (!parked.ok()) return parked.status();
  report.parked = *parked;
  const ProjectionRecord& r = **record;
  if (r.state == kStateFailed) {
    report.state = ProjectionState::kFailed;
    report.error = r.error;
  } else if (r.state == kStateRunning) {
    report.state = report.lag_events == 0 ? ProjectionState::kLive : ProjectionState::kCatchingUp;
  } else {
    report.state = ProjectionState::kStopped;
  }
  return report;
}

Status ResetProjection(ReadModelStore& store, std::string_view projection,
                       GlobalPosition position) {
  SLUICE_RETURN_IF_ERROR(ValidateProjectionName(projection));
  SLUICE_RETURN_IF_ERROR(EnsureSystemTables(store));
  return RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
    Result<std::optional<ProjectionRecord>> record = LoadRecord(tx, projection);
    if (!record.ok()) return record.status();
    if (!record->has_value()) {
      return Status::NotFound("projection " + std::string(projection) + " has not run against " +
                              store.Describe());
    }
    SLUICE_RETURN_IF_ERROR(DeleteCheckpoints(store, tx, projection));
    SLUICE_RETURN_IF_ERROR(PutCheckpoint(tx, projection, 1, 0, position));
    ProjectionRecord next = **record;
    next.epoch += 1;  // the running worker, if any, notices and reloads
    next.updated_at_us = NowMicros();
    return PutRecord(tx, next);
  });
}

}  // namespace sluice
