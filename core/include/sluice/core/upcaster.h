// Upcasting (schema evolution): turn events of an old type or version into their current shape
// when they are read. Old events are never rewritten in place; every read path that goes through
// UpcastingEventStore (aggregate loads, subscriptions, projections, rebuilds) sees only new shapes.
//
//   Upcasters up;
//   up.Rename("bank.Deposited.v1", "bank.MoneyDeposited.v1");
//   up.Add<MoneyDepositedV1>(registry, [](const MoneyDepositedV1& old) {
//     return MoneyDeposited{old.amount, /*currency=*/"EUR"};         // add a field with a default
//   });
//   up.Split<AccountOpenedV1>(registry, [](const AccountOpenedV1& old) {
//     return std::make_tuple(AccountOpened{old.id}, MoneyDeposited{old.initial, "EUR"});
//   });
//
// An upcaster applies to events of one type name and may produce events of other names, to which
// further upcasters apply (v1 -> v2 -> v3), up to 16 steps. Events it produces keep the original's
// stream, version, position, id (the second and later parts of a split get ids derived from it),
// metadata and time; the parts of a split share the original's position and version.
// Register everything before reading; afterwards the chain may be used from many threads.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/core/uuid.h"

namespace sluice {

class Upcasters {
 public:
  // Raw form: from one recorded event of type `from_type` to its replacement(s) (may be empty to
  // drop an event type that no longer means anything; use with care).
  using Fn = std::function<Result<std::vector<RecordedEvent>>(const RecordedEvent&)>;

  // InvalidArgument if `from_type` already has an upcaster.
  Status AddRaw(std::string from_type, Fn fn);

  // Renames a type; the payload is kept as is.
  Status Rename(std::string from_type, std::string to_type);

  // Decodes events of Old's registered type with `registry` and replaces each with fn(old), encoded
  // in the original's content type. Old stays registered under its old name.
  template <typename Old, typename F>
  Status Add(const EventTypeRegistry& registry, F fn);

  // As Add, but fn returns a std::tuple of new events: one old event becomes several.
  template <typename Old, typename F>
  Status Split(const EventTypeRegistry& registry, F fn);

  bool empty() const { return chain_.empty(); }

  // The current shape(s) of `event`: itself if no upcaster applies. Corruption (naming the event)
  // if an upcaster cannot decode it; InvalidArgument if the chain loops.
  Result<std::vector<RecordedEvent>> Apply(const RecordedEvent& event) const;
  // Applies to every event of `events` in place.
  Status ApplyAll(std::vector<RecordedEvent>* events) const;

 private:
  template <typename T>
  static Result<RecordedEvent> Replace(const EventTypeRegistry& registry, const RecordedEvent& old,
                                       const T& value, std::size_t part);

  std::unordered_map<std::string, Fn> chain_;
};

template <typename T>
Result<RecordedEvent> Upcasters::Replace(const EventTypeRegistry& registry,
                                         const RecordedEvent& old, const T& value,
                                         std::size_t part) {
  Result<EventData> data = registry.Encode(value, old.content_type);
  if (!data.ok()) return data.status();
  RecordedEvent out = old;
  out.type = std::move(data->type);
  out.payload = std::move(data->payload);
  out.content_type = data->content_type;
  if (part > 0) out.event_id = DeriveUuid(old.event_id, "upcast-part-" + std::to_string(part));
  return out;
}

template <typename Old, typename F>
Status Upcasters::Add(const EventTypeRegistry& registry, F fn) {
  return Split<Old>(registry, [fn](const Old& old) { return std::make_tuple(fn(old)); });
}

template <typename Old, typename F>
Status Upcasters::Split(const EventTypeRegistry& registry, F fn) {
  Result<std::string> from = registry.TypeNameOf<Old>();
  if (!from.ok()) return from.status();
  return AddRaw(*from,
                [&registry, fn](const RecordedEvent& e) -> Result<std::vector<RecordedEvent>> {
                  Result<Old> old = registry.Decode<Old>(e);
                  if (!old.ok()) return old.status();
                  std::vector<RecordedEvent> out;
                  Status status;
                  auto add = [&](const auto& part) {
                    if (!status.ok()) return;
                    Result<RecordedEvent> r = Replace(registry, e, part, out.size());
                    if (r.ok()) {
                      out.push_back(std::move(*r));
                    } else {
                      status = r.status();
                    }
                  };
                  std::apply([&](const auto&... parts) { (add(parts), ...); }, fn(*old));
                  if (!status.ok()) return status;
                  return out;
                });
}

}  // namespace sluice
