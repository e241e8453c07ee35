// UpcastingEventStore: an EventStore (and SnapshotStore) that reads through an Upcasters chain, so
// no consumer sees an old event shape. Appends and everything else pass straight to the wrapped
// store. Wrap the store once at start-up and hand this one to every reader.
//
// A split event's parts share the original's position and version, so a page of ReadAll may hold
// more events than `max_count`, and two consecutive events may have one position.
#pragma once

#include "sluice/core/event_store.h"
#include "sluice/core/snapshot_store.h"
#include "sluice/core/upcaster.h"

namespace sluice {

class UpcastingEventStore final : public EventStore, public SnapshotStore {
 public:
  // Both must outlive this. `snapshots` may be null (then snapshots are not kept).
  UpcastingEventStore(EventStore& inner, const Upcasters& upcasters,
                      SnapshotStore* snapshots = nullptr)
      : inner_(inner), upcasters_(upcasters), snapshots_(snapshots) {}

  Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                              std::vector<EventData> events,
                              const AppendOptions& options = {}) override {
    return inner_.Append(stream, expected, std::move(events), options);
  }
  Result<std::vector<RecordedEvent>> ReadStream(
      const StreamId& stream, StreamVersion from, std::size_t max_count,
      Direction direction = Direction::kForward) override {
    return Upcast(inner_.ReadStream(stream, from, max_count, direction));
  }
  Result<std::vector<RecordedEvent>> ReadAll(GlobalPosition from, std::size_t max_count) override {
    return Upcast(inner_.ReadAll(from, max_count));
  }
  Status ReadAllInto(GlobalPosition from, std::size_t max_count,
                     std::vector<RecordedEvent>* out) override {
    SLUICE_RETURN_IF_ERROR(inner_.ReadAllInto(from, max_count, out));
    return upcasters_.ApplyAll(out);
  }
  Result<std::optional<EventLocation>> FindEvent(std::string_view event_id) override {
    return inner_.FindEvent(event_id);
  }
  Result<StreamVersion> StreamHead(const StreamId& stream) override {
    return inner_.StreamHead(stream);
  }
  GlobalPosition HeadPosition() override { return inner_.HeadPosition(); }
  boost::signals2::connection OnCommitted(std::function<void(GlobalPosition)> slot) override {
    return inner_.OnCommitted(std::move(slot));
  }

  Status SaveSnapshot(const StreamId& stream, const Snapshot& snapshot) override {
    return snapshots_ != nullptr ? snapshots_->SaveSnapshot(stream, snapshot) : Status::Ok();
  }
  Result<std::optional<Snapshot>> LoadSnapshot(const StreamId& stream) override {
    if (snapshots_ == nullptr) return std::optional<Snapshot>();
    return snapshots_->LoadSnapshot(stream);
  }

 private:
  Result<std::vector<RecordedEvent>> Upcast(Result<std::vector<RecordedEvent>> events) const {
    if (!events.ok()) return events;
    SLUICE_RETURN_IF_ERROR(upcasters_.ApplyAll(&*events));
    return events;
  }

  EventStore& inner_;
  const Upcasters& upcasters_;
  SnapshotStore* snapshots_;
};

}  // namespace sluice
