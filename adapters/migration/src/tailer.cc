#include "sluice/migration/tailer.h"

#include <utility>
#include <vector>

#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"
#include "sluice/migration/schema_event.h"

namespace sluice::migration {
namespace {

// Namespace of the per-(source, table) namespaces of event ids.
constexpr std::string_view kEventIdNamespace = "sluice.migration.event-id";

std::string DefaultConsumer(const std::set<std::string>& tables) {
  std::string name = "tail:";
  bool first = true;
  for (const std::string& table : tables) {
    if (!first) name += ',';
    name += table;
    first = false;
  }
  return name;
}

struct Pending {
  StreamId stream;
  std::vector<EventData> events;
};

}  // namespace

Tailer::Tailer(LegacySource& source, EventStore& store, TailerOptions options)
    : source_(source), store_(store), options_(std::move(options)) {
  if (options_.consumer.empty()) options_.consumer = DefaultConsumer(options_.tables);
  if (options_.batch_size == 0) options_.batch_size = 500;
  if (options_.mapping == nullptr) options_.mapping = MirrorMapping();
}

Status Tailer::Prepare() {
  if (!source_name_.empty()) return Status::Ok();
  Result<SourceDescription> description = source_.Describe();
  if (!description.ok()) return description.status();
  if (description->source_id.empty()) {
    return Status::InvalidArgument("change capture is not installed in " + description->location);
  }
  Result<ChangeId> checkpoint = source_.LoadCheckpoint(options_.consumer);
  if (!checkpoint.ok()) return checkpoint.status();
  checkpoint_ = *checkpoint;
  source_id_ = description->source_id;
  source_name_ = "migration:" + description->source_id;
  return Status::Ok();
}

Status Tailer::EnsureSchema(const std::string& table) {
  if (!options_.schema_events || described_.count(table) != 0) return Status::Ok();
  Result<LegacyTable> described = source_.DescribeTable(table);
  if (!described.ok()) {
    return described.status().WithContext("describing legacy table '" + table +
                                          "' for its schema event");
  }
  Result<bool> appended = AppendSchemaIfChanged(store_, *described, source_id_);
  if (!appended.ok()) return appended.status();
  described_.insert(table);
  return Status::Ok();
}

Result<TailProgress> Tailer::Step() {
  if (Status s = Prepare(); !s.ok()) return s;
  TailProgress progress;
  Result<std::vector<Change>> changes = source_.ReadChanges(checkpoint_, options_.batch_size);
  if (!changes.ok()) return changes.status();

  // Map the whole batch first, so that the last append can be the synced one. A mapping error
  // ends the batch before the failing change.
  std::vector<Pending> pending;
  ChangeId mapped_up_to = checkpoint_;
  Status mapping_error = Status::Ok();
  for (const Change& change : *changes) {
    if (options_.tables.empty() || options_.tables.count(change.table) != 0) {
      // Appended at once (synced): it comes before every change of the table in the log.
      if (Status s = EnsureSchema(change.table); !s.ok()) {
        mapping_error = s;
        break;
      }
      Result<std::optional<MappedChange>> mapped = options_.mapping->Map(change);
      if (mapped.ok() && mapped->has_value() && !(*mapped)->events.empty()) {
        Result<StreamId> stream = StreamId::Make((*mapped)->stream);
        if (!stream.ok()) mapped = stream.status();
        if (mapped.ok()) {
          const std::string id_namespace =
              DeriveUuid(kEventIdNamespace, source_name_ + "\n" + change.table);
          std::vector<EventData>& events = (*mapped)->events;
          for (std::size_t i = 0; i < events.size(); ++i) {
            EventData& event = events[i];
            if (event.event_id.empty()) {
              event.event_id = DeriveUuid(
                  id_namespace, std::to_string(change.change_id) + "/" + std::to_string(i));
            }
            event.metadata.extra["change_id"] = std::to_string(change.change_id);
            event.metadata.extra["source"] = source_name_;
          }
          pending.push_back(Pending{std::move(*stream), std::move(events)});
        }
      }
      if (!mapped.ok()) {
        mapping_error =
            Status::InvalidArgument("change " + std::to_string(change.change_id) + " of " +
                                    change.table + ": " + mapped.status().message());
        break;
      }
    }
    mapped_up_to = change.change_id;
    ++progress.changes;
  }

  for (std::size_t i = 0; i < pending.size(); ++i) {
    AppendOptions append_options;
    // An unsynced append survives kill -9; the batch's last append syncs all of them before the
    // checkpoint moves.
    append_options.sync = i + 1 == pending.size();
    const std::size_t count = pending[i].events.size();
    Result<AppendResult> appended = store_.Append(pending[i].stream, ExpectedVersion::Any(),
                                                  std::move(pending[i].events), append_options);
    if (!appended.ok()) return appended.status();
    progress.events += count;
  }
  if (mapped_up_to != checkpoint_) {
    if (Status s = source_.SaveCheckpoint(options_.consumer, mapped_up_to); !s.ok()) return s;
    checkpoint_ = mapped_up_to;
  }
  progress.checkpoint = checkpoint_;
  if (!mapping_error.ok()) return mapping_error;
  return progress;
}

Result<TailProgress> Tailer::CatchUp(const std::atomic<bool>* stop) {
  if (Status s = Prepare(); !s.ok()) return s;
  Result<SourceDescription> description = source_.Describe();
  if (!description.ok()) return description.status();
  const ChangeId target = description->last_change_id;
  TailProgress total;
  total.checkpoint = checkpoint_;
  while (checkpoint_ < target && (stop == nullptr || !stop->load())) {
    Result<TailProgress> step = Step();
    if (!step.ok()) return step.status();
    total.changes += step->changes;
    total.events += step->events;
    total.checkpoint = step->checkpoint;
    if (step->changes == 0) break;
  }
  return total;
}

}  // namespace sluice::migration
