#include "sluice/migration/repair.h"

#include <thread>
#include <utility>

#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"
#include "sluice/migration/canonical.h"
#include "sluice/migration/change_mapping.h"
#include "typed_json.h"

namespace sluice::migration {
namespace {

constexpr std::string_view kRepairNamespace = "sluice.migration.repair";

}  // namespace

Result<RepairEvent> PlanRepair(const LegacyTable& table, const RowDifference& difference) {
  Change change;
  change.change_id = difference.position.change_id;
  change.table = table.name;
  change.key_json = difference.key_json;
  std::string row_hash = "deleted";
  if (difference.kind == DifferenceKind::kExtra) {
    change.op = ChangeOp::kDelete;
  } else {
    if (!difference.legacy_row || difference.legacy_row->size() != table.columns.size()) {
      return Status::InvalidArgument("repair of table '" + table.name + "' key " +
                                     difference.key_json + ": no legacy row image");
    }
    change.op = ChangeOp::kUpdate;
    std::vector<std::string> names;
    std::string canonical;
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      names.push_back(table.columns[i].name);
      AppendCanonical((*difference.legacy_row)[i], CanonicalColumnOf(table.columns[i]), &canonical);
    }
    change.row_json = TypedJsonOf(names, *difference.legacy_row);
    row_hash = HashHex(HashBytes(canonical));
  }
  Result<std::optional<MappedChange>> mapped = MirrorMapping()->Map(change);
  if (!mapped.ok()) return mapped.status();
  if (!mapped->has_value() || (*mapped)->events.size() != 1) {
    return Status::InvalidArgument("the mirror mapping gives no event for the repair of " +
                                   table.name + " key " + difference.key_json);
  }
  RepairEvent repair;
  repair.stream = std::move((*mapped)->stream);
  repair.event = std::move((*mapped)->events.front());
  repair.event.event_id =
      DeriveUuid(kRepairNamespace, table.name + "\n" + difference.key_json + "\n" + row_hash +
                                       "\n" + std::to_string(difference.position.change_id) + "\n" +
                                       difference.position.snapshot);
  repair.event.metadata.extra["repair"] = "true";
  repair.event.metadata.extra["position"] = std::to_string(difference.position.change_id);
  return repair;
}

RepairAppender::RepairAppender(EventStore& store, RepairOptions options)
    : store_(store), options_(options), next_(std::chrono::steady_clock::now()) {}

Result<bool> RepairAppender::Append(RepairEvent repair) {
  Result<StreamId> stream = StreamId::Make(repair.stream);
  if (!stream.ok()) return stream.status();
  if (options_.events_per_second > 0) {
    std::this_thread::sleep_until(next_);
    const auto step = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / options_.events_per_second));
    next_ = std::max(next_, std::chrono::steady_clock::now() - step) + step;
  }
  std::vector<EventData> events;
  events.push_back(std::move(repair.event));
  Result<AppendResult> appended = store_.Append(*stream, ExpectedVersion::Any(), std::move(events));
  if (!appended.ok()) return appended.status();
  return !appended->repeated;
}

}  // namespace sluice::migration
