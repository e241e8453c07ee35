// AggregateService: runs commands against deciders (decider.h) on any EventStore.
//
// For each command: load the aggregate (latest snapshot, then the events after it), check the
// expected-state guard, decide, and append with the loaded version as the expected version. On
// WrongExpectedVersion it reloads and decides again, up to max_attempts; a rejection appends
// nothing. Events record correlation id = the command's, causation id = the command id.
//
// Idempotency: event ids are derived from the command id (event i gets DeriveUuid(command id,
// "event-i")), so the store's event-id index is the dedup record. It is written in the same atomic
// batch as the events, so no crash can leave a command half-recorded, and there is no second table
// to keep or expire. Before deciding, the service looks up the first derived id: if the command was
// already handled it returns the earlier result marked `duplicate` and appends nothing. (A command
// that was rejected or decided no events leaves no record; handling it again decides again, which
// has no effect either.)
//
//   AggregateService<Account> accounts(store, registry, {.snapshot_every = 100}, &store);
//   accounts.Handle<Deposit>(bus, [](const Deposit& c) { return "account-" + c.account; },
//                            ExpectedState::kExisting, DecideDeposit);
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sluice/core/bounded_binary_archive.h"
#include "sluice/core/command.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/decider.h"
#include "sluice/core/event_store.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/snapshot_store.h"
#include "sluice/core/uuid.h"

namespace sluice {

// What a command requires of its stream before it is decided.
enum class ExpectedState : std::uint8_t {
  kAny,       // new or existing
  kNew,       // the stream must not exist yet (else Rejected)
  kExisting,  // the stream must exist (else NotFound)
};

struct AggregateOptions {
  // Load-decide-append rounds before giving up on version conflicts. Default 5.
  int max_attempts = 5;
  // Save a snapshot once at least this many events follow the last one; 0 (default): never.
  std::size_t snapshot_every = 0;
  // If set, decides instead of snapshot_every: given the new version and the number of events
  // since the last snapshot, whether to save one now.
  std::function<bool(StreamVersion version, std::size_t events_since_snapshot)> snapshot_when;
  // Encoding of new events. Default portable binary.
  ContentType content_type = ContentType::kBinary;
  // Synced appends (durable before the command returns). Default true.
  bool sync = true;
  // Events per read while loading. Default 1000.
  std::size_t read_page = 1000;
  // Commands of this process on one stream take turns (a lock per stream hash, held from load to
  // append), so they queue instead of losing version races to each other; other processes are
  // still handled by the expected-version check. Default true.
  bool serialize_per_stream = true;
};

template <Aggregate A>
struct LoadedAggregate {
  typename A::State state{};
  StreamVersion version = kNoStream;           // the last event folded in
  StreamVersion snapshot_version = kNoStream;  // the snapshot loading started from, if any
  std::size_t events_read = 0;                 // events read after the snapshot
};

// The event id a command's i-th event gets.
inline std::string EventIdForCommand(std::string_view command_id, std::size_t index) {
  return DeriveUuid(command_id, "event-" + std::to_string(index));
}

// Thread-safe: Load, Execute and the registered handlers may run on many threads at once.
template <Aggregate A>
class AggregateService {
 public:
  using State = typename A::State;
  using Event = typename A::Event;

  // `store`, `registry` and `snapshots` (may be null: no snapshots) must outlive the service.
  AggregateService(EventStore& store, const EventTypeRegistry& registry,
                   AggregateOptions options = {}, SnapshotStore* snapshots = nullptr)
      : store_(store), registry_(registry), options_(std::move(options)), snapshots_(snapshots) {}

  // The aggregate's current state. A missing stream is the default State at kNoStream.
  Result<LoadedAggregate<A>> Load(const StreamId& stream) const;

  // Handles one command; see the top of this file. `decide(const State&, const C&)` returns a
  // Decision<Event>.
  template <typename C, typename Decide>
  Result<CommandResult> Execute(const StreamId& stream, ExpectedState guard, const C& command,
                                CommandMetadata metadata, const Decide& decide);

  // Registers C with `bus`: `stream_of(command)` names the stream.
  template <typename C, typename Decide>
  Status Handle(CommandBus& bus, std::function<std::string(const C&)> stream_of,
                ExpectedState guard, Decide decide);

 private:
  static constexpr bool kCanSnapshot =
      cereal::traits::is_output_serializable<State, cereal::PortableBinaryOutputArchive>::value;

  Result<std::optional<CommandResult>> FindEarlier(const StreamId& stream,
                                                   const std::string& command_id) const;
  void MaybeSnapshot(const StreamId& stream, const LoadedAggregate<A>& loaded,
                     const std::vector<Event>& events, StreamVersion new_version) const;

  static constexpr std::size_t kStripes = 256;

  EventStore& store_;
  const EventTypeRegistry& registry_;
  AggregateOptions options_;
  SnapshotStore* snapshots_;
  std::unique_ptr<std::mutex[]> stripes_ = std::make_unique<std::mutex[]>(kStripes);
};

// ---------------------------------------------------------------------------------------------

template <Aggregate A>
Result<LoadedAggregate<A>> AggregateService<A>::Load(const StreamId& stream) const {
  LoadedAggregate<A> loaded;
  if constexpr (kCanSnapshot) {
    if (snapshots_ != nullptr) {
      Result<std::optional<Snapshot>> snapshot = snapshots_->LoadSnapshot(stream);
      // A damaged or foreign snapshot is only a lost shortcut: rebuild from the events.
      if (snapshot.ok() && snapshot->has_value() &&
          (*snapshot)->schema_version == SnapshotVersionOf<A>()) {
        try {
          State state{};
          BoundedBinaryInputArchive archive((*snapshot)->payload);
          archive(state);
          if (archive.remaining() == 0) {
            loaded.state = std::move(state);
            loaded.version = (*snapshot)->version;
            loaded.snapshot_version = (*snapshot)->version;
          }
        } catch (const std::exception&) {
          loaded = LoadedAggregate<A>{};
        }
      }
    }
  }
  const std::size_t page = options_.read_page == 0 ? 1000 : options_.read_page;
  while (true) {
    Result<std::vector<RecordedEvent>> events =
        store_.ReadStream(stream, loaded.version + 1, page, Direction::kForward);
    if (!events.ok()) {
      if (events.status().IsNotFound()) break;
      return events.status();
    }
    for (const RecordedEvent& e : *events) {
      Result<Event> decoded = registry_.DecodeVariant<Event>(e);
      if (!decoded.ok()) return decoded.status();
      loaded.state = A::Evolve(std::move(loaded.state), *decoded);
      loaded.version = e.version;
      ++loaded.events_read;
    }
    if (events->size() < page) break;
  }
  return loaded;
}

template <Aggregate A>
Result<std::optional<CommandResult>> AggregateService<A>::FindEarlier(
    const StreamId& stream, const std::string& command_id) const {
  Result<std::optional<EventLocation>> first = store_.FindEvent(EventIdForCommand(command_id, 0));
  if (!first.ok()) return first.status();
  if (!first->has_value()) return std::optional<CommandResult>();
  if ((*first)->stream != stream.str()) {
    return Status::InvalidArgument("command id " + command_id + " was already used on stream '" +
                                   (*first)->stream + "'");
  }
  CommandResult result;
  result.stream = stream.str();
  result.duplicate = true;
  result.append.first_position = (*first)->position;
  result.append.last_position = (*first)->position;
  result.append.next_expected_version = (*first)->version;
  result.events_appended = 1;
  for (std::size_t i = 1;; ++i) {
    Result<std::optional<EventLocation>> next = store_.FindEvent(EventIdForCommand(command_id, i));
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    result.append.last_position = (*next)->position;
    result.append.next_expected_version = (*next)->version;
    ++result.events_appended;
  }
  return std::optional<CommandResult>(std::move(result));
}

template <Aggregate A>
void AggregateService<A>::MaybeSnapshot(const StreamId& stream, const LoadedAggregate<A>& loaded,
                                        const std::vector<Event>& events,
                                        StreamVersion new_version) const {
  if constexpr (kCanSnapshot) {
    if (snapshots_ == nullptr) return;
    const auto since = static_cast<std::size_t>(new_version - loaded.snapshot_version);
    const bool due = options_.snapshot_when
                         ? options_.snapshot_when(new_version, since)
                         : options_.snapshot_every > 0 && since >= options_.snapshot_every;
    if (!due) return;
    Snapshot snapshot;
    snapshot.version = new_version;
    snapshot.schema_version = SnapshotVersionOf<A>();
    try {
      std::ostringstream out;
      {
        cereal::PortableBinaryOutputArchive archive(out);
        archive(Fold<A>(loaded.state, events));
      }
      snapshot.payload = std::move(out).str();
    } catch (const std::exception&) {
      return;  // a snapshot is an optimisation; the events hold the truth
    }
    // Same reasoning: failing to keep a snapshot costs a longer load later, nothing else.
    snapshots_->SaveSnapshot(stream, snapshot).PermitUncheckedError();
  }
}

template <Aggregate A>
template <typename C, typename Decide>
Result<CommandResult> AggregateService<A>::Execute(const StreamId& stream, ExpectedState guard,
                                                   const C& command, CommandMetadata metadata,
                                                   const Decide& decide) {
  CompleteMetadata(&metadata);
  std::unique_lock<std::mutex> turn;
  if (options_.serialize_per_stream) {
    turn =
        std::unique_lock<std::mutex>(stripes_[std::hash<std::string>{}(stream.str()) % kStripes]);
  }
  const int attempts = options_.max_attempts < 1 ? 1 : options_.max_attempts;
  Status last_conflict;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    Result<LoadedAggregate<A>> loaded = Load(stream);
    if (!loaded.ok()) return loaded.status();
    // Looked up after the load: if the command lands after this, the append below repeats it (the
    // store reports `repeated`) or loses the version race and the next round finds it here.
    Result<std::optional<CommandResult>> earlier = FindEarlier(stream, metadata.command_id);
    if (!earlier.ok()) return earlier.status();
    if (earlier->has_value()) {
      (*earlier)->attempts = attempt;
      return std::move(**earlier);
    }

    if (guard == ExpectedState::kNew && loaded->version != kNoStream) {
      return Status::Rejected("stream '" + stream.str() + "' already exists (version " +
                              std::to_string(loaded->version) + ")");
    }
    if (guard == ExpectedState::kExisting && loaded->version == kNoStream) {
      return Status::NotFound("stream '" + stream.str() + "' does not exist");
    }

    Decision<Event> decision = decide(std::as_const(loaded->state), command);
    if (!decision.ok()) return decision.status();
    CommandResult result;
    result.stream = stream.str();
    result.attempts = attempt;
    if (decision->empty()) {
      result.append.next_expected_version = loaded->version;
      return result;
    }

    std::vector<EventData> data;
    data.reserve(decision->size());
    for (std::size_t i = 0; i < decision->size(); ++i) {
      Result<EventData> encoded =
          std::visit([&](const auto& e) { return registry_.Encode(e, options_.content_type); },
                     (*decision)[i]);
      if (!encoded.ok()) return encoded.status();
      encoded->event_id = EventIdForCommand(metadata.command_id, i);
      encoded->metadata.correlation_id = metadata.correlation_id;
      encoded->metadata.causation_id = metadata.command_id;
      encoded->metadata.extra = metadata.headers;
      data.push_back(std::move(*encoded));
    }
    const ExpectedVersion expected = loaded->version == kNoStream
                                         ? ExpectedVersion::NoStream()
                                         : ExpectedVersion::Exact(loaded->version);
    Result<AppendResult> appended =
        store_.Append(stream, expected, std::move(data), AppendOptions{options_.sync});
    if (appended.ok()) {
      result.append = *appended;
      result.events_appended = decision->size();
      result.duplicate = appended->repeated;  // the same command landed meanwhile
      if (!result.duplicate) {
        MaybeSnapshot(stream, *loaded, *decision, appended->next_expected_version);
      }
      return result;
    }
    if (!appended.status().IsWrongExpectedVersion()) return appended.status();
    last_conflict = appended.status();
  }
  return Status::WrongExpectedVersion(
      "command " + CommandNameOf<C>() + " (" + metadata.command_id + ") on stream '" +
          stream.str() + "' gave up after " + std::to_string(attempts) +
          " attempts, each losing a race with another writer; last: " + last_conflict.message(),
      last_conflict.actual_version().value_or(kNoStream));
}

template <Aggregate A>
template <typename C, typename Decide>
Status AggregateService<A>::Handle(CommandBus& bus, std::function<std::string(const C&)> stream_of,
                                   ExpectedState guard, Decide decide) {
  return bus.Register<C>(
      [this, stream_of = std::move(stream_of), guard, decide = std::move(decide)](
          const C& command, const CommandMetadata& metadata) -> Result<CommandResult> {
        Result<StreamId> stream = StreamId::Make(stream_of(command));
        if (!stream.ok()) return stream.status();
        return Execute(*stream, guard, command, metadata, decide);
      });
}

}  // namespace sluice
