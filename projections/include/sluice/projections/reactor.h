// Choreography: reactions that answer events with commands on a CommandBus. A reactor is a
// Projection (projection.h) with no tables of its own, run and checkpointed by a ProjectionWorker
// like any read model; retries, parking and stopping follow the worker's FailurePolicy.
//
//   Result<std::shared_ptr<Projection>> reactor =
//       ReactorBuilder("ship-when-paid", bus, registry)
//           .On<PaymentCharged>([](const PaymentCharged& e, ReactionContext& ctx) {
//             return ctx.Send(ShipOrder{e.order_id}).status();
//           })
//           .Build();
//   auto worker = ProjectionWorker::Start(events, read_models, *reactor);
//
// Exactly-once effect: the i-th command sent for an event gets command id
// DeriveUuid(event id, "<reactor name>/command-<i>"), causation id = the event id and correlation
// id = the event's correlation id (the event id when it has none). A replay after a crash (the
// checkpoint was not saved) sends the same ids again, and AggregateService's idempotency makes
// them no-ops (CommandResult::duplicate). Handlers must therefore be deterministic: the same event
// sends the same commands in the same order.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/core/command.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/event.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/core/uuid.h"
#include "sluice/projections/projection.h"

namespace sluice {

// The metadata of the `index`-th command caused by `event` in the step named `step`:
// command id DeriveUuid(event id, step + "/command-" + index), causation id = the event id,
// correlation id = the event's (the event id when it has none).
CommandMetadata CausedCommandMetadata(const RecordedEvent& event, std::string_view step,
                                      std::size_t index);

// What a reaction handler sees: the event, and a way to send commands caused by it.
class ReactionContext {
 public:
  ReactionContext(CommandBus& bus, std::string reactor, const RecordedEvent& event)
      : bus_(bus), reactor_(std::move(reactor)), event_(event) {}

  const RecordedEvent& event() const { return event_; }

  // Dispatches `command` now (synchronously) with ids derived as described at the top of this
  // file. Returns the bus's result: Rejected when the business rule said no (retrying will not
  // help: return OK to go on, or the status to have the failure policy park or stop), Unavailable
  // and others as the handler reported them.
  template <typename C>
  Result<CommandResult> Send(const C& command) {
    return bus_.Dispatch(command, CausedCommandMetadata(event_, reactor_, sent_++));
  }

  // Commands sent so far for this event.
  std::size_t sent() const { return sent_; }

 private:
  CommandBus& bus_;
  std::string reactor_;
  const RecordedEvent& event_;
  std::size_t sent_ = 0;
};

class ReactorBuilder {
 public:
  template <typename E>
  using Handler = std::function<Status(const E&, ReactionContext&)>;
  using RawHandler = std::function<Status(const RecordedEvent&, ReactionContext&)>;

  // `name`: 1-64 bytes of [A-Za-z0-9_.-]; names the checkpoint and derives command ids, so never
  // rename a reactor that has run. `bus` must outlive the reactor. `registry` is needed for On<E>.
  ReactorBuilder(std::string name, CommandBus& bus,
                 std::shared_ptr<const EventTypeRegistry> registry = nullptr);

  // Reacts to events registered for E, decoded. An event of this type that does not decode is a
  // failure (Corruption), handled by the failure policy.
  template <typename E>
  ReactorBuilder& On(Handler<E> handler);
  // Reacts to events of `type` as stored (no decoding).
  ReactorBuilder& OnType(std::string type, RawHandler handler);

  // InvalidArgument for a bad name, no handler, an On<E> whose E is not registered, or a type
  // handled twice.
  Result<std::shared_ptr<Projection>> Build();

 private:
  std::string name_;
  CommandBus& bus_;
  std::shared_ptr<const EventTypeRegistry> registry_;
  std::vector<std::pair<std::string, RawHandler>> handlers_;
  Status error_;
};

template <typename E>
ReactorBuilder& ReactorBuilder::On(Handler<E> handler) {
  if (!error_.ok()) return *this;
  if (registry_ == nullptr) {
    error_ = Status::InvalidArgument("reactor " + name_ + ": On<E> needs an event type registry");
    return *this;
  }
  Result<std::string> type = registry_->TypeNameOf<E>();
  if (!type.ok()) {
    error_ = type.status().WithContext("reactor " + name_ + ": On<" + typeid(E).name() + ">");
    return *this;
  }
  std::shared_ptr<const EventTypeRegistry> registry = registry_;
  return OnType(*type,
                [registry, handler = std::move(handler)](const RecordedEvent& event,
                                                         ReactionContext& ctx) -> Status {
                  Result<E> decoded = registry->Decode<E>(event);
                  if (!decoded.ok()) return decoded.status();
                  return handler(*decoded, ctx);
                });
}

}  // namespace sluice
