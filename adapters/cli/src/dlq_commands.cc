// `sluice dlq list|replay|discard`: a projection's parked events.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "commands.h"
#include "exit_codes.h"
#include "output.h"
#include "read_model_access.h"
#include "sluice/projections/dead_letters.h"
#include "sluice/projections/projection_catalog.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

// Parked events read per call: memory stays bounded however many there are.
constexpr std::size_t kPage = 256;

nlohmann::ordered_json ParkedToJson(const ParkedEvent& parked) {
  nlohmann::ordered_json out;
  out["position"] = parked.position;
  out["stream"] = parked.stream;
  out["version"] = parked.version;
  out["event_id"] = parked.event_id;
  out["type"] = parked.type;
  out["error"] = parked.error;
  out["attempts"] = parked.attempts;
  out["parked_at_us"] = parked.parked_at_us;
  return out;
}

// A projection name dlq accepts: one the registry knows, or one that has run against the read
// model (an application's projection, looked at with the plain `sluice`). Prints the problem.
bool KnownProjection(const ProjectionRegistry& registry, ReadModelStore* read_model,
                     const std::string& name) {
  std::vector<std::string> known = registry.Names();
  if (read_model != nullptr) {
    Result<std::vector<std::string>> in_store = ListProjections(*read_model);
    if (in_store.ok()) known.insert(known.end(), in_store->begin(), in_store->end());
  }
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  if (std::find(known.begin(), known.end(), name) != known.end()) return true;
  std::string list;
  for (const std::string& each : known) list += (list.empty() ? "" : ", ") + each;
  PrintError("--projection: no projection named '" + name + "' (known: " + list + ")");
  return false;
}

// Whether the event at `position` is parked for `projection`; prints a read failure.
Result<bool> IsParked(ReadModelStore& read_model, const std::string& projection,
                      GlobalPosition position) {
  Result<std::vector<ParkedEvent>> page = ListParked(read_model, projection, position - 1, 1);
  if (!page.ok()) return page.status();
  return !page->empty() && page->front().position == position;
}

int List(ReadModelStore* read_model, const std::string& projection, PositionRange range) {
  GlobalPosition after = range.from - 1;
  while (read_model != nullptr) {
    Result<std::vector<ParkedEvent>> page = ListParked(*read_model, projection, after, kPage);
    if (!page.ok()) {
      PrintError("listing the parked events of " + projection + " failed", page.status());
      return kExitFailure;
    }
    for (const ParkedEvent& parked : *page) {
      if (parked.position > range.to) return FinishOutput() ? kExitOk : kExitFailure;
      PrintJsonLine(ParkedToJson(parked));
    }
    if (page->size() < kPage) break;
    after = page->back().position;
  }
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace

int RunDlq(DlqAction action, const DlqFlags& flags, const ProjectionRegistry& registry) {
  if (!CheckReadModelUrl(flags.read_model)) return kExitUsage;
  const std::optional<std::int64_t> position = ParseBoundedFlag(
      "--position", flags.position, 0, 1, std::numeric_limits<std::int64_t>::max());
  if (!position) return kExitUsage;
  std::shared_ptr<Projection> projection;
  if (action == DlqAction::kReplay) {
    projection = CreateProjection(registry, flags.projection);
    if (projection == nullptr) return kExitUsage;
  }
  PositionRange range;
  if (flags.position) range.from = range.to = static_cast<GlobalPosition>(*position);

  std::unique_ptr<RocksEventStore> events = OpenForReading(flags.store);
  if (events == nullptr) return kExitFailure;
  bool missing = false;  // no read model yet: nothing is parked
  std::unique_ptr<ReadModelStore> read_model = OpenExistingReadModel(flags.read_model, &missing);
  if (read_model == nullptr && !missing) return kExitFailure;
  if (action != DlqAction::kReplay &&
      !KnownProjection(registry, read_model.get(), flags.projection)) {
    return kExitUsage;
  }

  if (action == DlqAction::kList) return List(read_model.get(), flags.projection, range);

  if (flags.position) {
    Result<bool> parked = read_model == nullptr
                              ? Result<bool>(false)
                              : IsParked(*read_model, flags.projection, range.from);
    if (!parked.ok()) {
      PrintError("reading the parked events of " + flags.projection + " failed", parked.status());
      return kExitFailure;
    }
    if (!*parked) {
      PrintError("no event at position " + std::to_string(range.from) + " is parked for " +
                 flags.projection);
      return kExitFailure;
    }
  }

  nlohmann::ordered_json out;
  if (action == DlqAction::kReplay) {
    ReplayResult result;
    if (read_model != nullptr) {
      Result<ReplayResult> replayed = ReplayParked(*events, *read_model, *projection, range);
      if (!replayed.ok()) {
        PrintError("replaying the parked events of " + flags.projection + " failed",
                   replayed.status());
        return kExitFailure;
      }
      result = *replayed;
    }
    out["replayed"] = result.replayed;
    out["still_failing"] = result.still_failing;
  } else {
    std::uint64_t discarded = 0;
    if (read_model != nullptr) {
      Result<std::uint64_t> removed = DiscardParked(*read_model, flags.projection, range);
      if (!removed.ok()) {
        PrintError("discarding the parked events of " + flags.projection + " failed",
                   removed.status());
        return kExitFailure;
      }
      discarded = *removed;
    }
    out["discarded"] = discarded;
  }
  PrintJsonLine(out);
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
