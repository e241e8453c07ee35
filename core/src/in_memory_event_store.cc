#include "sluice/core/in_memory_event_store.h"

#include <chrono>

#include "sluice/core/append_rules.h"
#include "sluice/core/uuid.h"

namespace sluice {
namespace {

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<AppendResult> InMemoryEventStore::Append(const StreamId& stream, ExpectedVersion expected,
                                                std::vector<EventData> events,
                                                const AppendOptions& /*options*/) {
  SLUICE_RETURN_IF_ERROR(PrepareBatch(events));
  AppendResult result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(stream.str());
    const StreamVersion current =
        it == streams_.end() ? kNoStream : static_cast<StreamVersion>(it->second.size()) - 1;
    std::vector<std::optional<ExistingEvent>> existing;
    existing.reserve(events.size());
    for (const EventData& e : events) {
      auto id = ids_.find(e.event_id);
      if (id == ids_.end()) {
        existing.emplace_back();
      } else {
        const RecordedEvent& r = log_[id->second - 1];
        existing.emplace_back(ExistingEvent{r.stream, r.version, r.position});
      }
    }
    Result<std::optional<AppendResult>> repeat =
        DecideIdempotentAppend(stream, expected, current, existing);
    if (!repeat.ok()) return repeat.status();
    if (repeat->has_value()) return **repeat;
    if (!expected.IsSatisfiedBy(current))
      return WrongExpectedVersionError(stream, expected, current);

    std::vector<GlobalPosition>& positions = streams_[stream.str()];
    const std::int64_t now = NowMicros();
    result.first_position = log_.size() + 1;
    for (EventData& e : events) {
      RecordedEvent r;
      r.stream = stream.str();
      r.version = static_cast<StreamVersion>(positions.size());
      r.position = log_.size() + 1;
      r.event_id = std::move(e.event_id);
      r.type = std::move(e.type);
      r.content_type = e.content_type;
      r.payload = std::move(e.payload);
      r.metadata = std::move(e.metadata);
      r.recorded_at_us = now;
      ids_.emplace(r.event_id, r.position);
      positions.push_back(r.position);
      log_.push_back(std::move(r));
    }
    result.last_position = log_.size();
    result.next_expected_version = static_cast<StreamVersion>(positions.size()) - 1;
  }
  committed_(result.last_position);
  return result;
}

Result<std::vector<RecordedEvent>> InMemoryEventStore::ReadStream(const StreamId& stream,
                                                                  StreamVersion from,
                                                                  std::size_t max_count,
                                                                  Direction direction) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(stream.str());
  if (it == streams_.end()) return Status::NotFound("stream '" + stream.str() + "' does not exist");
  const std::vector<GlobalPosition>& positions = it->second;
  std::vector<RecordedEvent> out;
  const auto size = static_cast<StreamVersion>(positions.size());
  if (direction == Direction::kForward) {
    for (StreamVersion v = std::max<StreamVersion>(from, 0); v < size && out.size() < max_count;
         ++v) {
      out.push_back(log_[positions[v] - 1]);
    }
  } else {
    for (StreamVersion v = std::min(from, size - 1); v >= 0 && out.size() < max_count; --v) {
      out.push_back(log_[positions[v] - 1]);
    }
  }
  return out;
}

Result<std::vector<RecordedEvent>> InMemoryEventStore::ReadAll(GlobalPosition from,
                                                               std::size_t max_count) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RecordedEvent> out;
  for (GlobalPosition p = std::max<GlobalPosition>(from, 1);
       p <= log_.size() && out.size() < max_count; ++p) {
    out.push_back(log_[p - 1]);
  }
  return out;
}

Result<std::optional<EventLocation>> InMemoryEventStore::FindEvent(std::string_view event_id) {
  std::optional<UuidBytes> id = ParseUuid(event_id);
  if (!id) return NotAUuidError(event_id);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ids_.find(FormatUuid(*id));
  if (it == ids_.end()) return std::optional<EventLocation>();
  const RecordedEvent& e = log_[it->second - 1];
  return std::optional<EventLocation>(EventLocation{e.stream, e.version, e.position});
}

Status InMemoryEventStore::SaveSnapshot(const StreamId& stream, const Snapshot& snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(stream.str());
  const StreamVersion head =
      it == streams_.end() ? kNoStream : static_cast<StreamVersion>(it->second.size()) - 1;
  SLUICE_RETURN_IF_ERROR(CheckSnapshotVersion(stream, snapshot.version, head));
  auto [kept, inserted] = snapshots_.try_emplace(stream.str(), snapshot);
  if (!inserted && snapshot.version >= kept->second.version) kept->second = snapshot;
  return Status::Ok();
}

Result<std::optional<Snapshot>> InMemoryEventStore::LoadSnapshot(const StreamId& stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = snapshots_.find(stream.str());
  if (it == snapshots_.end()) return std::optional<Snapshot>();
  return std::optional<Snapshot>(it->second);
}

Result<StreamVersion> InMemoryEventStore::StreamHead(const StreamId& stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(stream.str());
  return it == streams_.end() ? kNoStream : static_cast<StreamVersion>(it->second.size()) - 1;
}

GlobalPosition InMemoryEventStore::HeadPosition() {
  std::lock_guard<std::mutex> lock(mu_);
  return log_.size();
}

boost::signals2::connection InMemoryEventStore::OnCommitted(
    std::function<void(GlobalPosition)> slot) {
  return committed_.connect(std::move(slot));
}

}  // namespace sluice
