#include "sluice/projections/process_manager.h"

#include <algorithm>
#include <exception>
#include <optional>

#include "sluice/core/base64.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"
#include "sluice/projections/reactor.h"  // CausedCommandMetadata

namespace sluice {
namespace {

using std::chrono::system_clock;

// Bookkeeping events of an instance's stream.
struct PmReceived {
  std::string source_event_id;
  std::string source_stream;
  std::uint64_t source_position = 0;
  std::string type;
  int content_type = 0;
  std::string payload;  // base64
  std::string correlation_id;
  std::string causation_id;
  std::int64_t handled_at_us = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(source_event_id), CEREAL_NVP(source_stream), CEREAL_NVP(source_position),
       CEREAL_NVP(type), CEREAL_NVP(content_type), CEREAL_NVP(payload), CEREAL_NVP(correlation_id),
       CEREAL_NVP(causation_id), CEREAL_NVP(handled_at_us));
  }
};

struct PmCommandIssued {
  std::string command;
  std::string command_id;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(command), CEREAL_NVP(command_id));
  }
};

struct PmDeadlineScheduled {
  std::string name;
  std::string deadline_id;
  std::int64_t due_us = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(name), CEREAL_NVP(deadline_id), CEREAL_NVP(due_us));
  }
};

struct PmDeadlineCancelled {
  std::string name;
  std::string deadline_id;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(name), CEREAL_NVP(deadline_id));
  }
};

struct PmCompleted {
  std::string reason;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(reason));
  }
};

constexpr std::string_view kReceived = "sluice.pm.Received.v1";
constexpr std::string_view kCommandIssued = "sluice.pm.CommandIssued.v1";
constexpr std::string_view kDeadlineScheduled = "sluice.pm.DeadlineScheduled.v1";
constexpr std::string_view kDeadlineCancelled = "sluice.pm.DeadlineCancelled.v1";
constexpr std::string_view kCompleted = "sluice.pm.Completed.v1";
constexpr std::string_view kDeadlineReached = "sluice.pm.DeadlineReached.v1";
constexpr std::string_view kCommandRejected = "sluice.pm.CommandRejected.v1";

constexpr int kMaxAppendRaces = 10;
constexpr std::size_t kReadPage = 512;

std::int64_t ToMicros(system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
system_clock::time_point FromMicros(std::int64_t us) {
  return system_clock::time_point(
      std::chrono::duration_cast<system_clock::duration>(std::chrono::microseconds(us)));
}

bool IsBookkeeping(std::string_view type) {
  return type == kReceived || type == kCommandIssued || type == kDeadlineScheduled ||
         type == kDeadlineCancelled || type == kCompleted;
}

enum class DeadlineState { kPending, kCancelled, kFired };

struct Deadline {
  std::string name;
  std::int64_t due_us = 0;
  DeadlineState state = DeadlineState::kPending;
};

// An instance as loaded from its stream, with the step of one input picked out.
struct Instance {
  StreamVersion version = kNoStream;
  std::any state;
  bool started = false;
  bool completed = false;
  GlobalPosition last_source_position = 0;
  std::map<std::string, Deadline> deadlines;  // by deadline id
  // The step recorded for the input being handled, if it was recorded.
  bool trigger_recorded = false;
  std::optional<ProcessContext> trigger_step;
  std::vector<PmCommandIssued> trigger_issued;
  RecordedEvent trigger_copy;  // owns the input trigger_step points at

  const Deadline* Pending(std::string_view name, std::string* id) const {
    for (const auto& [deadline_id, deadline] : deadlines) {
      if (deadline.name == name && deadline.state == DeadlineState::kPending) {
        if (id != nullptr) *id = deadline_id;
        return &deadline;
      }
    }
    return nullptr;
  }
};

template <typename T>
Result<EventData> EncodePm(const T& value, const std::string& id, const std::string& correlation,
                           const std::string& causation) {
  Result<EventData> data = ProcessManagerEventTypes().Encode(value, ContentType::kJson);
  if (!data.ok()) return data.status();
  data->event_id = id;
  data->metadata.correlation_id = correlation;
  data->metadata.causation_id = causation;
  return data;
}

TableSchema DeadlineSchema(const ProcessDefinition& definition) {
  return TableSchema{definition.DeadlineTable(),
                     {{"due_us", ColumnType::kInteger}, {"deadline_id", ColumnType::kText}},
                     {{"stream", ColumnType::kText}, {"name", ColumnType::kText}}};
}

class ProcessManagerProjection final : public Projection {
 public:
  ProcessManagerProjection(EventStore& events, CommandBus& bus,
                           std::shared_ptr<const ProcessDefinition> definition, Clock clock)
      : events_(events), bus_(bus), def_(std::move(definition)), clock_(std::move(clock)) {
    if (!clock_) clock_ = [] { return system_clock::now(); };
  }

  std::string Name() const override { return def_->name; }
  std::vector<TableSchema> Tables() const override { return {DeadlineSchema(*def_)}; }
  EventFilter Filter() const override {
    EventFilter filter;
    filter.categories.push_back(def_->name);  // its own streams: triggers and stray events
    for (const auto& [type, input] : def_->inputs) filter.types.push_back(type);
    return filter;
  }

  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    return Handle(event, tx).WithContext("process manager " + def_->name + " on " +
                                         DescribeEvent(event));
  }

 private:
  Status Handle(const RecordedEvent& event, ReadModelTransaction& tx) {
    const bool own = CategoryOf(event.stream) == def_->name;
    const bool native = event.type == kDeadlineReached || event.type == kCommandRejected;
    std::string key;
    const ProcessDefinition::Input* input = nullptr;
    if (native || IsBookkeeping(event.type)) {
      if (!own || !native) return Status::Ok();  // another manager's, or our own bookkeeping
      if (event.stream.size() <= def_->name.size() + 1) {
        return Status::InvalidArgument("stream '" + event.stream + "' names no instance");
      }
      key = event.stream.substr(def_->name.size() + 1);
    } else {
      auto it = def_->inputs.find(event.type);
      if (it == def_->inputs.end()) {
        return Status::InvalidArgument(own ? "unknown event type '" + event.type +
                                                 "' in a process manager stream"
                                           : "no handler for event type '" + event.type + "'");
      }
      input = &it->second;
      if (input->key) {
        Result<std::string> routed = input->key(event);
        if (!routed.ok()) return routed.status();
        key = std::move(*routed);
      } else {
        key = event.metadata.correlation_id;
      }
      if (key.empty()) {
        return Status::InvalidArgument(
            "the event has no correlation id (nor a key function) to route it to an instance");
      }
    }
    Result<StreamId> stream = StreamId::Make(def_->StreamOf(key));
    if (!stream.ok()) return stream.status().WithContext("instance key '" + key + "'");

    for (int race = 0; race < kMaxAppendRaces; ++race) {
      Instance instance;
      SLUICE_RETURN_IF_ERROR(Load(*stream, key, event.event_id, &instance));
      if (instance.trigger_recorded) return Finish(*stream, key, event, instance, tx);
      if (event.position <= instance.last_source_position || instance.completed) {
        return SyncDeadlines(*stream, instance, tx);  // handled (and ignored) before, or over
      }

      // Whether this input reaches a handler, and which.
      const ProcessDefinition::Step* step = nullptr;
      std::optional<DeadlineReached> deadline;
      if (event.type == kDeadlineReached) {
        Result<DeadlineReached> d = ProcessManagerEventTypes().Decode<DeadlineReached>(event);
        if (!d.ok()) return d.status();
        deadline = *d;
        auto found = instance.deadlines.find(d->deadline_id);
        if (!instance.started || found == instance.deadlines.end() ||
            found->second.state != DeadlineState::kPending) {
          return SyncDeadlines(*stream, instance, tx);  // cancelled or replaced: never fires
        }
        auto handler = def_->deadlines.find(d->name);
        if (handler == def_->deadlines.end()) {
          return Status::InvalidArgument("no OnDeadline handler for deadline '" + d->name + "'");
        }
        step = &handler->second;
      } else if (event.type == kCommandRejected) {
        if (!instance.started) return Status::Ok();
        if (!def_->on_rejected) {
          Result<CommandRejected> r = ProcessManagerEventTypes().Decode<CommandRejected>(event);
          return Status::Rejected(
              "command " + (r.ok() ? r->command + " (" + r->command_id + ")" : std::string("?")) +
              " was rejected and there is no OnRejected handler" +
              (r.ok() ? ": " + r->reason : std::string()));
        }
        step = &def_->on_rejected;
      } else {
        if (!instance.started && !input->starts) return Status::Ok();  // not for us
        step = &input->step;
      }

      // Decide.
      const system_clock::time_point now = clock_();
      ProcessContext ctx(key, now, event);
      SLUICE_RETURN_IF_ERROR(RunStep(*step, instance.state, event, ctx));

      // Record the step.
      const std::string& cause = event.event_id;
      std::size_t index = 0;
      auto next_id = [&] {
        return DeriveUuid(cause, def_->name + "/record-" + std::to_string(index++));
      };
      std::vector<EventData> batch;
      PmReceived received;
      received.source_event_id = event.event_id;
      received.source_stream = event.stream;
      received.source_position = event.position;
      received.type = event.type;
      received.content_type = static_cast<int>(event.content_type);
      received.payload = Base64Encode(event.payload);
      received.correlation_id = event.metadata.correlation_id;
      received.causation_id = event.metadata.causation_id;
      received.handled_at_us = ToMicros(now);
      std::vector<Result<EventData>> encoded;
      encoded.push_back(EncodePm(received, next_id(), key, cause));
      for (std::size_t i = 0; i < ctx.commands().size(); ++i) {
        PmCommandIssued issued{ctx.commands()[i].name, CommandIdOf(event, i)};
        encoded.push_back(EncodePm(issued, next_id(), key, cause));
      }
      std::map<std::string, Deadline> deadlines = instance.deadlines;
      if (deadline.has_value()) deadlines[deadline->deadline_id].state = DeadlineState::kFired;
      auto cancel = [&](const std::string& name) {
        for (auto& [id, d] : deadlines) {
          if (d.name == name && d.state == DeadlineState::kPending) {
            d.state = DeadlineState::kCancelled;
            encoded.push_back(EncodePm(PmDeadlineCancelled{name, id}, next_id(), key, cause));
          }
        }
      };
      for (const std::string& name : ctx.cancelled()) cancel(name);
      for (const auto& [name, due] : ctx.scheduled()) {
        if (def_->deadlines.find(name) == def_->deadlines.end()) {
          return Status::InvalidArgument("the handler scheduled deadline '" + name +
                                         "', which has no OnDeadline handler");
        }
        cancel(name);
        std::string id = DeriveUuid(cause, def_->name + "/deadline-" + name);
        deadlines[id] = Deadline{name, ToMicros(due), DeadlineState::kPending};
        encoded.push_back(
            EncodePm(PmDeadlineScheduled{name, id, ToMicros(due)}, next_id(), key, cause));
      }
      if (ctx.completed()) {
        for (auto& [id, d] : deadlines) {
          if (d.state == DeadlineState::kPending) cancel(d.name);
        }
        encoded.push_back(EncodePm(PmCompleted{}, next_id(), key, cause));
      }
      for (Result<EventData>& e : encoded) {
        if (!e.ok()) return e.status();
        batch.push_back(std::move(*e));
      }
      Result<AppendResult> appended =
          events_.Append(*stream, ExpectedVersion::Exact(instance.version), std::move(batch));
      if (!appended.ok() && !appended.status().IsWrongExpectedVersion()) {
        return appended.status();
      }
      // Recorded (or lost a race): load again; the recorded step is then dispatched by Finish.
    }
    return Status::Unavailable("stream " + stream->str() + " kept changing under the step");
  }

  std::string CommandIdOf(const RecordedEvent& event, std::size_t i) const {
    return CausedCommandMetadata(event, def_->name, i).command_id;
  }

  static Status RunStep(const ProcessDefinition::Step& step, std::any& state,
                        const RecordedEvent& input, ProcessContext& ctx) {
    try {
      return step(state, input, ctx);
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("the handler threw: ") + e.what());
    } catch (...) {
      return Status::InvalidArgument("the handler threw");
    }
  }

  // Folds the instance's stream. The step recorded for input `trigger_id` is kept.
  Status Load(const StreamId& stream, const std::string& key, const std::string& trigger_id,
              Instance* out) {
    out->state = def_->new_state();
    bool in_trigger_group = false;
    while (true) {
      Result<std::vector<RecordedEvent>> page =
          events_.ReadStream(stream, out->version + 1, kReadPage, Direction::kForward);
      if (!page.ok()) {
        if (page.status().IsNotFound()) return Status::Ok();
        return page.status();
      }
      for (const RecordedEvent& e : *page) {
        out->version = e.version;
        const EventTypeRegistry& types = ProcessManagerEventTypes();
        if (e.type == kReceived) {
          Result<PmReceived> r = types.Decode<PmReceived>(e);
          if (!r.ok()) return r.status();
          SLUICE_RETURN_IF_ERROR(Replay(*r, key, trigger_id, e, out));
          in_trigger_group = r->source_event_id == trigger_id;
        } else if (e.type == kCommandIssued) {
          Result<PmCommandIssued> c = types.Decode<PmCommandIssued>(e);
          if (!c.ok()) return c.status();
          if (in_trigger_group) out->trigger_issued.push_back(std::move(*c));
        } else if (e.type == kDeadlineScheduled) {
          Result<PmDeadlineScheduled> d = types.Decode<PmDeadlineScheduled>(e);
          if (!d.ok()) return d.status();
          out->deadlines[d->deadline_id] = Deadline{d->name, d->due_us, DeadlineState::kPending};
        } else if (e.type == kDeadlineCancelled) {
          Result<PmDeadlineCancelled> d = types.Decode<PmDeadlineCancelled>(e);
          if (!d.ok()) return d.status();
          auto it = out->deadlines.find(d->deadline_id);
          if (it != out->deadlines.end()) it->second.state = DeadlineState::kCancelled;
        } else if (e.type == kCompleted) {
          out->completed = true;
        } else if (e.type == kDeadlineReached || e.type == kCommandRejected) {
          // Triggers: they count once their Received copy is recorded.
        } else {
          return Status::Corruption("unknown event type '" + e.type + "' at version " +
                                    std::to_string(e.version) + " of " + stream.str());
        }
      }
      if (page->size() < kReadPage) return Status::Ok();
    }
  }

  // Runs the handler of one recorded input again to rebuild the state.
  Status Replay(const PmReceived& r, const std::string& key, const std::string& trigger_id,
                const RecordedEvent& record, Instance* out) {
    RecordedEvent input;
    input.stream = r.source_stream;
    input.position = r.source_position;
    input.event_id = r.source_event_id;
    input.type = r.type;
    input.content_type = static_cast<ContentType>(r.content_type);
    std::optional<std::string> payload = Base64Decode(r.payload);
    if (!payload.has_value()) {
      return Status::Corruption("bad payload in " + DescribeEvent(record));
    }
    input.payload = std::move(*payload);
    input.metadata.correlation_id = r.correlation_id;
    input.metadata.causation_id = r.causation_id;
    input.recorded_at_us = record.recorded_at_us;

    const ProcessDefinition::Step* step = nullptr;
    if (input.type == kDeadlineReached) {
      Result<DeadlineReached> d = ProcessManagerEventTypes().Decode<DeadlineReached>(input);
      if (!d.ok()) return d.status();
      auto it = out->deadlines.find(d->deadline_id);
      if (it != out->deadlines.end()) it->second.state = DeadlineState::kFired;
      auto handler = def_->deadlines.find(d->name);
      if (handler != def_->deadlines.end()) step = &handler->second;
    } else if (input.type == kCommandRejected) {
      if (def_->on_rejected) step = &def_->on_rejected;
    } else {
      auto it = def_->inputs.find(input.type);
      if (it != def_->inputs.end()) step = &it->second.step;
    }
    if (step == nullptr) {
      return Status::InvalidArgument("recorded input of type '" + input.type + "' at " +
                                     DescribeEvent(record) +
                                     " has no handler any more: the definition lost it");
    }
    out->started = true;
    out->last_source_position = std::max(out->last_source_position, input.position);
    const bool is_trigger = input.event_id == trigger_id;
    RecordedEvent* owned = &input;
    if (is_trigger) {
      out->trigger_copy = std::move(input);
      owned = &out->trigger_copy;
    }
    ProcessContext ctx(key, FromMicros(r.handled_at_us), *owned);
    SLUICE_RETURN_IF_ERROR(
        RunStep(*step, out->state, *owned, ctx).WithContext("replaying " + DescribeEvent(record)));
    if (is_trigger) {
      out->trigger_recorded = true;
      out->trigger_step.emplace(std::move(ctx));
    }
    return Status::Ok();
  }

  // Dispatches the recorded step of `event` (again) and brings the deadline rows up to date.
  Status Finish(const StreamId& stream, const std::string& key, const RecordedEvent& event,
                const Instance& instance, ReadModelTransaction& tx) {
    const std::vector<ProcessContext::Command>& commands = instance.trigger_step->commands();
    if (commands.size() != instance.trigger_issued.size()) {
      return Status::Corruption("the handler is not deterministic: it now sends " +
                                std::to_string(commands.size()) + " command(s), " +
                                std::to_string(instance.trigger_issued.size()) + " were recorded");
    }
    for (std::size_t i = 0; i < commands.size(); ++i) {
      CommandMetadata metadata = CausedCommandMetadata(event, def_->name, i);
      metadata.correlation_id = key;
      if (commands[i].name != instance.trigger_issued[i].command ||
          metadata.command_id != instance.trigger_issued[i].command_id) {
        return Status::Corruption("the handler is not deterministic: command " + std::to_string(i) +
                                  " is now " + commands[i].name + ", " +
                                  instance.trigger_issued[i].command + " was recorded");
      }
      const std::string command_id = metadata.command_id;
      Result<CommandResult> result = commands[i].dispatch(bus_, std::move(metadata));
      if (result.ok()) continue;
      if (result.status().code() != StatusCode::kRejected) {
        return result.status().WithContext("dispatching " + commands[i].name + " (" + command_id +
                                           ")");
      }
      // Fed back as an input of its own (compensation).
      CommandRejected rejected{commands[i].name, command_id, result.status().message()};
      Result<EventData> data =
          EncodePm(rejected, DeriveUuid(command_id, "rejected"), key, command_id);
      if (!data.ok()) return data.status();
      Result<AppendResult> appended =
          events_.Append(stream, ExpectedVersion::Any(), {std::move(*data)});
      if (!appended.ok()) return appended.status();
    }
    return SyncDeadlines(stream, instance, tx);
  }

  // The table holds exactly the instance's pending deadlines.
  Status SyncDeadlines(const StreamId& stream, const Instance& instance, ReadModelTransaction& tx) {
    const std::string table = def_->DeadlineTable();
    for (const auto& [id, d] : instance.deadlines) {
      Key key{Value(d.due_us), Value(id)};
      if (d.state == DeadlineState::kPending && !instance.completed) {
        SLUICE_RETURN_IF_ERROR(tx.Put(table, Row{key[0], key[1], stream.str(), d.name}));
      } else {
        SLUICE_RETURN_IF_ERROR(tx.Delete(table, key));
      }
    }
    return Status::Ok();
  }

  EventStore& events_;
  CommandBus& bus_;
  std::shared_ptr<const ProcessDefinition> def_;
  Clock clock_;
};

EventTypeRegistry* BuildTypes() {
  auto* registry = new EventTypeRegistry();
  registry->Register<PmReceived>(std::string(kReceived)).PermitUncheckedError();
  registry->Register<PmCommandIssued>(std::string(kCommandIssued)).PermitUncheckedError();
  registry->Register<PmDeadlineScheduled>(std::string(kDeadlineScheduled)).PermitUncheckedError();
  registry->Register<PmDeadlineCancelled>(std::string(kDeadlineCancelled)).PermitUncheckedError();
  registry->Register<PmCompleted>(std::string(kCompleted)).PermitUncheckedError();
  registry->Register<DeadlineReached>(std::string(kDeadlineReached)).PermitUncheckedError();
  registry->Register<CommandRejected>(std::string(kCommandRejected)).PermitUncheckedError();
  return registry;
}

}  // namespace

const EventTypeRegistry& ProcessManagerEventTypes() {
  static const EventTypeRegistry* types = BuildTypes();  // never destroyed: used at exit too
  return *types;
}

std::string ProcessDefinition::StreamOf(std::string_view key) const {
  return name + "-" + std::string(key);
}

std::string ProcessDefinition::DeadlineTable() const { return name + "_deadlines"; }

Status ValidateProcessDefinition(const ProcessDefinition& definition) {
  const std::string& name = definition.name;
  if (name.empty() || name.size() > 48 || !std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.';
      })) {
    return Status::InvalidArgument("process manager name '" + name +
                                   "' must be 1-48 bytes of [A-Za-z0-9_.] (no '-')");
  }
  if (!definition.new_state) {
    return Status::InvalidArgument("process manager " + name + " has no state");
  }
  bool starts = false;
  for (const auto& [type, input] : definition.inputs) {
    if (type.rfind("sluice.pm.", 0) == 0) {
      return Status::InvalidArgument("process manager " + name + ": " + type +
                                     " is handled by OnDeadline/OnRejected");
    }
    if (!input.step) return Status::InvalidArgument("process manager " + name + ": no step");
    starts = starts || input.starts;
  }
  if (!starts) {
    return Status::InvalidArgument("process manager " + name + " has no StartedBy input");
  }
  return Status::Ok();
}

std::shared_ptr<Projection> MakeProcessManagerProjection(
    EventStore& events, CommandBus& bus, std::shared_ptr<const ProcessDefinition> definition,
    Clock clock) {
  return std::make_shared<ProcessManagerProjection>(events, bus, std::move(definition),
                                                    std::move(clock));
}

Result<std::size_t> FireDueDeadlines(EventStore& events, ReadModelStore& store,
                                     const ProcessDefinition& definition,
                                     system_clock::time_point now) {
  const std::string table = definition.DeadlineTable();
  const std::int64_t now_us = ToMicros(now);
  std::size_t fired = 0;
  std::optional<Key> after;
  while (true) {
    Result<std::vector<Row>> rows = store.Scan(table, after ? &*after : nullptr, 256);
    if (!rows.ok()) {
      if (rows.status().IsNotFound()) return fired;  // the runtime has not created it yet
      return rows.status();
    }
    for (const Row& row : *rows) {
      const auto* due = std::get_if<std::int64_t>(&row[0]);
      const auto* id = std::get_if<std::string>(&row[1]);
      const auto* stream_name = std::get_if<std::string>(&row[2]);
      const auto* name = std::get_if<std::string>(&row[3]);
      if (due == nullptr || id == nullptr || stream_name == nullptr || name == nullptr) {
        return Status::Corruption("bad row in " + table);
      }
      if (*due > now_us) return fired;  // rows are ordered by due time
      Result<StreamId> stream = StreamId::Make(*stream_name);
      if (!stream.ok()) return stream.status();
      if (stream->str().size() <= definition.name.size() + 1) {
        return Status::Corruption("bad stream '" + stream->str() + "' in " + table);
      }
      const std::string key = stream->str().substr(definition.name.size() + 1);
      Result<EventData> data =
          ProcessManagerEventTypes().Encode(DeadlineReached{*name, *id, *due}, ContentType::kJson);
      if (!data.ok()) return data.status();
      data->event_id = DeriveUuid(*id, "reached");
      data->metadata.correlation_id = key;
      data->metadata.causation_id = *id;
      Result<AppendResult> appended =
          events.Append(*stream, ExpectedVersion::Any(), {std::move(*data)});
      if (!appended.ok()) return appended.status();
      if (!appended->repeated) ++fired;
    }
    if (rows->size() < 256) return fired;
    after = Key{rows->back()[0], rows->back()[1]};
  }
}

ProcessManager::ProcessManager(EventStore& events, ReadModelStore& store,
                               std::shared_ptr<const ProcessDefinition> definition,
                               ProcessManagerOptions options)
    : events_(events),
      store_(store),
      definition_(std::move(definition)),
      options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return system_clock::now(); };
}

Result<std::unique_ptr<ProcessManager>> ProcessManager::Start(
    EventStore& events, ReadModelStore& store, CommandBus& bus,
    std::shared_ptr<const ProcessDefinition> definition, ProcessManagerOptions options) {
  if (definition == nullptr) return Status::InvalidArgument("no process definition");
  SLUICE_RETURN_IF_ERROR(ValidateProcessDefinition(*definition));
  std::unique_ptr<ProcessManager> pm(
      new ProcessManager(events, store, definition, std::move(options)));
  ProjectionOptions projection_options;
  projection_options.batch_size = pm->options_.batch_size == 0 ? 64 : pm->options_.batch_size;
  projection_options.partitions = 1;  // inputs of one instance come from many streams: keep order
  projection_options.failure = pm->options_.failure;
  Result<std::unique_ptr<ProjectionWorker>> worker = ProjectionWorker::Start(
      events, store, MakeProcessManagerProjection(events, bus, definition, pm->options_.clock),
      projection_options);
  if (!worker.ok()) return worker.status();
  pm->worker_ = std::move(*worker);
  if (pm->options_.deadline_poll.count() > 0) {
    pm->timer_ = std::thread([raw = pm.get()] { raw->TimerLoop(); });
  }
  return pm;
}

ProcessManager::~ProcessManager() { Stop(); }

void ProcessManager::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  if (worker_ != nullptr) worker_->Stop();
}

void ProcessManager::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.deadline_poll, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    // A failure (store busy, ...) is retried at the next tick; the deadline stays in the table.
    FireDueDeadlines().status().PermitUncheckedError();
    lock.lock();
  }
}

Result<std::size_t> ProcessManager::FireDueDeadlines() {
  return ::sluice::FireDueDeadlines(events_, store_, *definition_, options_.clock());
}

Status ProcessManager::WaitFor(GlobalPosition position, std::chrono::milliseconds timeout) {
  return worker_->WaitFor(position, timeout);
}

ProjectionReport ProcessManager::Report() const { return worker_->Report(); }

}  // namespace sluice
