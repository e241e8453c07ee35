#include "sluice/core/append_rules.h"

#include <unordered_set>

#include "sluice/core/uuid.h"
#include "text_rules.h"

namespace sluice {

Status ValidateStoredTypeName(std::string_view type) {
  SLUICE_RETURN_IF_ERROR(ValidateName("event type", type, 200));
  if (type.find_first_of(" \t") != std::string_view::npos) {
    return Status::InvalidArgument("event type '" + std::string(type) + "' contains whitespace");
  }
  return Status::Ok();
}

Status PrepareBatch(std::vector<EventData>& events, std::vector<bool>* generated) {
  if (events.empty()) return Status::InvalidArgument("an append needs at least one event");
  if (generated != nullptr) generated->assign(events.size(), false);
  std::unordered_set<std::string> seen;
  seen.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    EventData& e = events[i];
    if (Status valid = ValidateStoredTypeName(e.type); !valid.ok()) {
      return Status::InvalidArgument("event " + std::to_string(i) + ": " + valid.message());
    }
    if (e.event_id.empty()) {
      e.event_id = NewUuid();
      if (generated != nullptr) (*generated)[i] = true;
    } else {
      std::optional<UuidBytes> id = ParseUuid(e.event_id);
      if (!id) {
        return Status::InvalidArgument("event " + std::to_string(i) + " has id '" + e.event_id +
                                       "', which is not a UUID");
      }
      e.event_id = FormatUuid(*id);
    }
    if (!seen.insert(e.event_id).second) {
      return Status::InvalidArgument("event id " + e.event_id + " appears twice in one append");
    }
  }
  return Status::Ok();
}

Status CheckSnapshotVersion(const StreamId& stream, StreamVersion version, StreamVersion head) {
  if (version >= 0 && version <= head) return Status::Ok();
  return Status::InvalidArgument("snapshot of '" + stream.str() + "' at version " +
                                 std::to_string(version) + " but the stream is at " +
                                 std::to_string(head));
}

Status NotAUuidError(std::string_view text) {
  // Appended piecewise: g++ 12 at -O3 misreports `"'" + std::string(text) + ...` (-Wrestrict).
  std::string message = "'";
  message.append(text).append("' is not a UUID");
  return Status::InvalidArgument(std::move(message));
}

Status WrongExpectedVersionError(const StreamId& stream, ExpectedVersion expected,
                                 StreamVersion current) {
  return Status::WrongExpectedVersion("stream '" + stream.str() + "' expected version " +
                                          expected.ToString() + ", actual version " +
                                          std::to_string(current),
                                      current);
}

Result<std::optional<AppendResult>> DecideIdempotentAppend(
    const StreamId& stream, ExpectedVersion expected, StreamVersion current,
    const std::vector<std::optional<ExistingEvent>>& existing) {
  std::size_t found = 0;
  for (const auto& e : existing) found += e.has_value();
  if (found == 0) return std::optional<AppendResult>();
  if (found != existing.size()) {
    return Status::InvalidArgument("append to '" + stream.str() +
                                   "' partly repeats an earlier append: " + std::to_string(found) +
                                   " of " + std::to_string(existing.size()) +
                                   " event ids already exist");
  }
  const ExistingEvent& first = *existing.front();
  for (std::size_t i = 0; i < existing.size(); ++i) {
    const ExistingEvent& e = *existing[i];
    if (e.stream != stream.str()) {
      return Status::InvalidArgument("event id already appended to another stream ('" + e.stream +
                                     "')");
    }
    if (e.version != first.version + static_cast<StreamVersion>(i) ||
        e.position != first.position + i) {
      return Status::InvalidArgument("append to '" + stream.str() +
                                     "' repeats earlier event ids in another order or grouping");
    }
  }
  bool allowed = false;
  switch (expected.kind()) {
    case ExpectedVersion::Kind::kAny:
      allowed = true;
      break;
    case ExpectedVersion::Kind::kMustNotExist:
      allowed = first.version == 0;
      break;
    case ExpectedVersion::Kind::kMustExist:
      allowed = first.version > 0;
      break;
    case ExpectedVersion::Kind::kExact:
      allowed = first.version == expected.version() + 1;
      break;
  }
  if (!allowed) return WrongExpectedVersionError(stream, expected, current);
  AppendResult repeat{first.position, existing.back()->position, existing.back()->version};
  repeat.repeated = true;
  return std::optional<AppendResult>(repeat);
}

}  // namespace sluice
