// A projection turns events into read-model rows. It declares its tables and which events it
// handles, and applies one event at a time inside the transaction of a batch; the runtime
// (projection_worker.h) commits the batch's changes together with the checkpoint.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"  // CategoryOf
#include "sluice/projections/read_model_store.h"
#include "sluice/projections/table.h"

namespace sluice {

// Which events a projection handles: all when both lists are empty, otherwise those whose stream
// category (the part of the stream name before the first '-') or type is listed.
struct EventFilter {
  std::vector<std::string> categories;
  std::vector<std::string> types;

  bool Matches(const RecordedEvent& event) const;
};

class Projection {
 public:
  virtual ~Projection() = default;

  // Names the projection in checkpoints, dead letters and tools: 1-64 bytes of [A-Za-z0-9_.-].
  virtual std::string Name() const = 0;
  // The tables it writes; the runtime creates them before the first event.
  virtual std::vector<TableSchema> Tables() const = 0;
  virtual EventFilter Filter() const { return {}; }

  // Applies one event through `tx`. A non-OK status or an exception is a failure, handled by the
  // worker's FailurePolicy; whatever the failed call wrote is discarded. Must be deterministic
  // (a rebuild must produce the same rows) and keep its state in the read model only: with
  // partitions it runs on several threads at once, for events of different streams.
  virtual Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) = 0;
};

// Builds a projection from handlers for decoded event types:
//
//   auto summary = ProjectionBuilder("order-summary", registry)
//       .Table({"orders", {{"order_id", ColumnType::kText}}, {{"total", ColumnType::kInteger}}})
//       .On<OrderPlaced>([](const OrderPlaced& e, const RecordedEvent& r, ReadModelTransaction& tx)
//       {
//         return tx.Put("orders", {r.stream, e.total});
//       })
//       .Build();
//
// The filter is the set of handled types. An event of a handled type that does not decode fails
// like any other failure (retried, then parked or stopping the worker).
class ProjectionBuilder {
 public:
  template <typename E>
  using Handler = std::function<Status(const E&, const RecordedEvent&, ReadModelTransaction&)>;
  using RawHandler = std::function<Status(const RecordedEvent&, ReadModelTransaction&)>;

  ProjectionBuilder(std::string name, std::shared_ptr<const EventTypeRegistry> registry = nullptr);

  ProjectionBuilder& Table(TableSchema schema);
  // Handles events of `type` as stored (no decoding).
  ProjectionBuilder& OnType(std::string type, RawHandler handler);
  // Handles events registered for E in the registry, decoded.
  template <typename E>
  ProjectionBuilder& On(Handler<E> handler);

  // InvalidArgument for a bad name or table, an On<E> whose E is not registered, or a type
  // handled twice.
  Result<std::shared_ptr<Projection>> Build();

 private:
  std::string name_;
  std::shared_ptr<const EventTypeRegistry> registry_;
  std::vector<TableSchema> tables_;
  std::vector<std::pair<std::string, RawHandler>> handlers_;
  Status error_;
};

template <typename E>
ProjectionBuilder& ProjectionBuilder::On(Handler<E> handler) {
  if (!error_.ok()) return *this;
  if (registry_ == nullptr) {
    error_ =
        Status::InvalidArgument("projection " + name_ + ": On<E> needs an event type registry");
    return *this;
  }
  Result<std::string> type = registry_->TypeNameOf<E>();
  if (!type.ok()) {
    error_ = type.status();
    return *this;
  }
  std::shared_ptr<const EventTypeRegistry> registry = registry_;
  return OnType(*type, [registry, handler = std::move(handler)](const RecordedEvent& event,
                                                                ReadModelTransaction& tx) {
    Result<E> decoded = registry->Decode<E>(event);
    if (!decoded.ok()) return decoded.status();
    return handler(*decoded, event, tx);
  });
}

}  // namespace sluice
