// Orchestration: process managers (sagas). A process manager follows a conversation across
// aggregates: it reacts to events with commands, keeps state, schedules durable deadlines and
// compensates when a later step fails.
//
//   struct Fulfilment { std::string order; bool reserved = false; };
//   auto saga = ProcessManagerBuilder<Fulfilment>("OrderFulfilment", registry)
//       .StartedBy<OrderPlaced>([](Fulfilment& s, const OrderPlaced& e, ProcessContext& pm) {
//         s.order = e.order_id;
//         pm.Send(ReserveStock{e.order_id, e.sku, e.quantity});
//       })
//       .On<StockReserved>([](Fulfilment& s, const StockReserved&, ProcessContext& pm) {
//         s.reserved = true;
//         pm.Send(ChargePayment{s.order});
//         pm.Schedule("payment", std::chrono::minutes(15));
//       })
//       .OnDeadline("payment", [](Fulfilment& s, const DeadlineReached&, ProcessContext& pm) {
//         pm.Send(CancelOrder{s.order});
//         pm.Send(ReleaseStock{s.order});
//         pm.Complete();
//       })
//       .OnRejected([](Fulfilment& s, const CommandRejected& r, ProcessContext& pm) { ... })
//       .Build();
//   auto runtime = ProcessManager::Start(events, read_models, bus, *saga);
//
// Routing: an input event goes to the instance named by its metadata correlation id, or by the
// key function given with its handler. Events with no key are failures (see FailurePolicy).
// StartedBy types create an instance; On types reach existing instances only (others ignore
// them); a completed instance ignores everything.
//
// Persistence: instance `key` of process manager `name` lives in stream "<name>-<key>" (so the
// stream category is the name). For each input it handles, the instance appends, in one atomic
// append at the loaded version, a copy of the input (sluice.pm.Received.v1) followed by what the
// handler decided: sluice.pm.CommandIssued.v1 (name and command id of each command),
// sluice.pm.DeadlineScheduled.v1, sluice.pm.DeadlineCancelled.v1, sluice.pm.Completed.v1. The
// state is event-sourced: it is rebuilt by running the handlers again over the recorded inputs
// (their commands are dropped), so HANDLERS MUST BE DETERMINISTIC: use the state, the input and
// ProcessContext::now() (the time the step was first recorded), never a clock or I/O.
//
// Exactly once: the appended events get ids derived from the input's event id, so an input that
// is handled again after a crash appends nothing; it only dispatches the recorded step's commands
// again, with the same command ids (DeriveUuid(input id, "<name>/command-<i>")), which
// AggregateService turns into no-ops. So no step runs twice, whichever point a crash hits.
// A command the bus answers Rejected is fed back: a sluice.pm.CommandRejected.v1 event is
// appended to the instance's stream and reaches the OnRejected handler (compensation). Other
// dispatch errors fail the input, which the worker's FailurePolicy retries (the same ids again).
//
// Deadlines: Schedule records the deadline in the stream and in the read-model table
// "<name>_deadlines", committed with the worker's checkpoint. FireDueDeadlines (run by a timer
// thread of ProcessManager, or called directly) appends sluice.pm.DeadlineReached.v1 with an event
// id derived from the deadline id, so firing twice appends once; the instance then handles it like
// any input, once. A deadline cancelled (or replaced, or its instance completed) before its
// DeadlineReached is handled never reaches a handler.
#pragma once

#include <any>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/core/command.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/event.h"
#include "sluice/core/event_store.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

// Input: a deadline of the instance came due. Type sluice.pm.DeadlineReached.v1.
struct DeadlineReached {
  std::string name;
  std::string deadline_id;
  std::int64_t due_us = 0;  // microseconds since the Unix epoch

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(name), CEREAL_NVP(deadline_id), CEREAL_NVP(due_us));
  }
};

// Input: a command the instance sent was rejected by its handler (a business rule said no).
// Type sluice.pm.CommandRejected.v1.
struct CommandRejected {
  std::string command;     // CommandNameOf<C>()
  std::string command_id;  // the derived command id
  std::string reason;      // the Rejected status's message

  template <typename C>
  bool Is() const {
    return command == CommandNameOf<C>();
  }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(command), CEREAL_NVP(command_id), CEREAL_NVP(reason));
  }
};

// The codecs of the sluice.pm.* event types (DeadlineReached, CommandRejected and the
// bookkeeping events), all JSON.
const EventTypeRegistry& ProcessManagerEventTypes();

// Injectable time, so tests move deadlines forward without sleeping.
using Clock = std::function<std::chrono::system_clock::time_point()>;

// What a handler sees and decides with. Decisions take effect after the step is recorded.
class ProcessContext {
 public:
  struct Command {
    std::string name;
    std::function<Result<CommandResult>(CommandBus&, CommandMetadata)> dispatch;
  };

  ProcessContext(std::string key, std::chrono::system_clock::time_point now,
                 const RecordedEvent& input)
      : key_(std::move(key)), now_(now), input_(&input) {}

  // The instance's key (the correlation id it is routed by).
  const std::string& key() const { return key_; }
  // When this step was first handled (stable on replays): the base for deadlines.
  std::chrono::system_clock::time_point now() const { return now_; }
  // The input being handled, as stored (for a replayed step: as recorded in the copy).
  const RecordedEvent& input() const { return *input_; }

  // Sends `command` once the step is recorded, with correlation id = key().
  template <typename C>
  void Send(C command) {
    commands_.push_back(
        Command{CommandNameOf<C>(), [c = std::move(command)](CommandBus& bus, CommandMetadata m) {
                  return bus.Dispatch(c, std::move(m));
                }});
  }
  // Schedules deadline `name` at now() + `after` (replacing a pending one of the same name).
  void Schedule(std::string name, std::chrono::system_clock::duration after) {
    ScheduleAt(std::move(name), now_ + after);
  }
  void ScheduleAt(std::string name, std::chrono::system_clock::time_point due) {
    scheduled_.emplace_back(std::move(name), due);
  }
  // Cancels pending deadline `name`, if any: it will never fire.
  void Cancel(std::string name) { cancelled_.push_back(std::move(name)); }
  // Ends the instance: pending deadlines are cancelled, later inputs ignored.
  void Complete() { completed_ = true; }

  // What was decided (read by the runtime).
  const std::vector<Command>& commands() const { return commands_; }
  const std::vector<std::pair<std::string, std::chrono::system_clock::time_point>>& scheduled()
      const {
    return scheduled_;
  }
  const std::vector<std::string>& cancelled() const { return cancelled_; }
  bool completed() const { return completed_; }

 private:
  std::string key_;
  std::chrono::system_clock::time_point now_;
  const RecordedEvent* input_;
  std::vector<Command> commands_;
  std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> scheduled_;
  std::vector<std::string> cancelled_;
  bool completed_ = false;
};

// A process manager's definition with its State type erased; made by ProcessManagerBuilder.
struct ProcessDefinition {
  // Runs one handler: decodes `input` and updates `state` (a std::any holding State).
  using Step = std::function<Status(std::any& state, const RecordedEvent& input, ProcessContext&)>;
  using KeyOf = std::function<Result<std::string>(const RecordedEvent&)>;
  struct Input {
    Step step;
    KeyOf key;            // null: the event's metadata correlation id
    bool starts = false;  // may create an instance
  };

  std::string name;
  std::function<std::any()> new_state;
  std::map<std::string, Input, std::less<>> inputs;    // by event type
  std::map<std::string, Step, std::less<>> deadlines;  // by deadline name
  Step on_rejected;                                    // may be null

  // "<name>-<key>".
  std::string StreamOf(std::string_view key) const;
  // "<name>_deadlines": the due-deadlines table in the read-model store.
  std::string DeadlineTable() const;
};

template <typename State>
class ProcessManagerBuilder {
 public:
  template <typename E>
  using Handler = std::function<void(State&, const E&, ProcessContext&)>;
  template <typename E>
  using KeyOf = std::function<std::string(const E&)>;

  // `name`: 1-48 bytes of [A-Za-z0-9_.] (no '-': it is the stream category). It names streams,
  // the checkpoint and derives ids: never rename one that has run.
  ProcessManagerBuilder(std::string name, std::shared_ptr<const EventTypeRegistry> registry)
      : registry_(std::move(registry)) {
    definition_.name = std::move(name);
    definition_.new_state = [] { return std::any(State{}); };
  }

  // E creates the instance if it does not exist yet (and is handled like On<E> if it does).
  template <typename E>
  ProcessManagerBuilder& StartedBy(Handler<E> handler, KeyOf<E> key = nullptr) {
    return Add<E>(std::move(handler), std::move(key), true);
  }
  // E reaches existing instances; an E for no instance is ignored.
  template <typename E>
  ProcessManagerBuilder& On(Handler<E> handler, KeyOf<E> key = nullptr) {
    return Add<E>(std::move(handler), std::move(key), false);
  }
  ProcessManagerBuilder& OnDeadline(std::string name, Handler<DeadlineReached> handler) {
    if (!handler || !definition_.deadlines.emplace(name, Erase(std::move(handler))).second) {
      Fail("deadline '" + name + "' has no handler or two");
    }
    return *this;
  }
  // Compensation hook: a command this process manager sent was rejected. Without it, a rejection
  // is a failure of the input that caused it (FailurePolicy).
  ProcessManagerBuilder& OnRejected(Handler<CommandRejected> handler) {
    if (!handler) Fail("empty OnRejected handler");
    definition_.on_rejected = Erase(std::move(handler));
    return *this;
  }

  // InvalidArgument for a bad name, an unregistered or twice-handled type, no StartedBy.
  Result<std::shared_ptr<const ProcessDefinition>> Build();

 private:
  void Fail(std::string message) {
    if (error_.ok()) {
      error_ = Status::InvalidArgument("process manager " + definition_.name + ": " + message);
    }
  }

  template <typename E>
  ProcessDefinition::Step Erase(Handler<E> handler) {
    const EventTypeRegistry* registry = nullptr;
    if (ProcessManagerEventTypes().TypeNameOf<E>().ok()) {
      registry = &ProcessManagerEventTypes();
    } else {
      registry = registry_.get();
    }
    return [registry, keep = registry_, handler = std::move(handler)](
               std::any& state, const RecordedEvent& input, ProcessContext& ctx) -> Status {
      Result<E> decoded = registry->Decode<E>(input);
      if (!decoded.ok()) return decoded.status();
      handler(*std::any_cast<State>(&state), *decoded, ctx);
      return Status::Ok();
    };
  }

  template <typename E>
  ProcessManagerBuilder& Add(Handler<E> handler, KeyOf<E> key, bool starts) {
    if (!error_.ok()) return *this;
    if (registry_ == nullptr) {
      Fail("On<E> needs an event type registry");
      return *this;
    }
    Result<std::string> type = registry_->TypeNameOf<E>();
    if (!type.ok()) {
      Fail(type.status().message());
      return *this;
    }
    if (!handler) {
      Fail("empty handler for " + *type);
      return *this;
    }
    ProcessDefinition::Input input;
    input.step = Erase<E>(std::move(handler));
    input.starts = starts;
    if (key) {
      input.key = [registry = registry_,
                   key = std::move(key)](const RecordedEvent& event) -> Result<std::string> {
        Result<E> decoded = registry->Decode<E>(event);
        if (!decoded.ok()) return decoded.status();
        return key(*decoded);
      };
    }
    if (!definition_.inputs.emplace(*type, std::move(input)).second) {
      Fail(*type + " is handled twice");
    }
    return *this;
  }

  std::shared_ptr<const EventTypeRegistry> registry_;
  ProcessDefinition definition_;
  Status error_;
};

// InvalidArgument unless the definition is usable (name, at least one StartedBy, handlers).
Status ValidateProcessDefinition(const ProcessDefinition& definition);

template <typename State>
Result<std::shared_ptr<const ProcessDefinition>> ProcessManagerBuilder<State>::Build() {
  if (!error_.ok()) return error_;
  SLUICE_RETURN_IF_ERROR(ValidateProcessDefinition(definition_));
  return std::shared_ptr<const ProcessDefinition>(std::make_shared<ProcessDefinition>(definition_));
}

// The projection that runs `definition` (normally started by ProcessManager::Start; exposed for
// running it in a worker of one's own). It dispatches on `bus` and reads and appends `events`;
// both must outlive it. `clock` null: the system clock.
std::shared_ptr<Projection> MakeProcessManagerProjection(
    EventStore& events, CommandBus& bus, std::shared_ptr<const ProcessDefinition> definition,
    Clock clock = nullptr);

// Appends a DeadlineReached for every deadline in the definition's table due at or before `now`.
// Safe to run twice, concurrently or after a crash: each deadline's event id is derived from the
// deadline id, so it is appended once. Returns how many were appended now (not repeated).
Result<std::size_t> FireDueDeadlines(EventStore& events, ReadModelStore& store,
                                     const ProcessDefinition& definition,
                                     std::chrono::system_clock::time_point now);

struct ProcessManagerOptions {
  Clock clock;  // null (default): std::chrono::system_clock::now
  // How often the timer thread fires due deadlines. Default 1s; 0: no timer thread (call
  // FireDueDeadlines yourself, as tests do).
  std::chrono::milliseconds deadline_poll{1000};
  std::size_t batch_size = 64;  // inputs per checkpoint commit
  // Failures of an input (no key, undecodable, no handler, a dispatch error other than
  // Rejected): retried, then parked or stopping the runtime.
  FailurePolicy failure;
};

// A running process manager: a ProjectionWorker (one partition: inputs are handled in log order)
// plus the deadline timer. Thread-safe.
class ProcessManager {
 public:
  // `events`, `store` and `bus` must outlive the runtime.
  static Result<std::unique_ptr<ProcessManager>> Start(
      EventStore& events, ReadModelStore& store, CommandBus& bus,
      std::shared_ptr<const ProcessDefinition> definition, ProcessManagerOptions options = {});
  ~ProcessManager();

  // Fires the deadlines due now (by the options' clock); see the free FireDueDeadlines.
  Result<std::size_t> FireDueDeadlines();
  // Blocks until every input at or below `position` is handled (ProjectionWorker::WaitFor).
  Status WaitFor(GlobalPosition position, std::chrono::milliseconds timeout);
  ProjectionReport Report() const;
  // Stops the timer and the worker. Idempotent.
  void Stop();

  ProcessManager(const ProcessManager&) = delete;
  ProcessManager& operator=(const ProcessManager&) = delete;

 private:
  ProcessManager(EventStore& events, ReadModelStore& store,
                 std::shared_ptr<const ProcessDefinition> definition,
                 ProcessManagerOptions options);
  void TimerLoop();

  EventStore& events_;
  ReadModelStore& store_;
  std::shared_ptr<const ProcessDefinition> definition_;
  ProcessManagerOptions options_;
  std::unique_ptr<ProjectionWorker> worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread timer_;
};

}  // namespace sluice
