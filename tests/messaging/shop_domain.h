// A tiny aggregate for the messaging tests: carts that items are added to. Commands travel as JSON
// messages of type "shop.AddItem"; the quantity steers the outcome:
//   qty > 0   one ItemAdded event
//   qty <= 0  Rejected (a business rule: straight to the dead letters)
//   qty 666   Unavailable every time (a poison message: retried, then dead-lettered)
//   qty 777   Unavailable while `*flaky_fails` is true (fixed later: requeue then succeeds)
#pragma once

#include <atomic>
#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>
#include <cstdint>
#include <string>
#include <variant>

#include "sluice/core/aggregate_service.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/decider.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/rabbitmq/command_consumer.h"

namespace sluice::shop {

struct AddItem {
  static constexpr std::string_view kCommandName = "shop.AddItem";
  std::string cart;
  std::int64_t qty = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(cart), CEREAL_NVP(qty));
  }
};

struct ItemAdded {
  std::int64_t qty = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(qty));
  }
};

struct Cart {
  struct State {
    std::int64_t items = 0;
  };
  using Event = std::variant<ItemAdded>;
  static State Evolve(State state, const Event& event) {
    state.items += std::get<ItemAdded>(event).qty;
    return state;
  }
};

inline std::atomic<bool> flaky_fails{true};

inline Decision<Cart::Event> DecideAddItem(const Cart::State&, const AddItem& c) {
  if (c.qty == 666) return Status::Unavailable("the warehouse is on fire (poison)");
  if (c.qty == 777 && flaky_fails.load()) return Status::Unavailable("flaky: not yet");
  if (c.qty <= 0) return Reject("quantity must be positive, got " + std::to_string(c.qty));
  return Emit<Cart::Event>(ItemAdded{c.qty});
}

// The registry, aggregate service and bus of one consumer, over `store`.
struct ShopService {
  explicit ShopService(EventStore& store) : service(store, registry) {
    registry.Register<ItemAdded>("shop.ItemAdded.v1").PermitUncheckedError();
    service
        .Handle<AddItem>(
            bus, [](const AddItem& c) { return "cart-" + c.cart; }, ExpectedState::kAny,
            DecideAddItem)
        .PermitUncheckedError();
    routes.Add<AddItem>("shop.AddItem").PermitUncheckedError();
  }
  EventTypeRegistry registry;
  AggregateService<Cart> service;
  CommandBus bus;
  rabbitmq::CommandRoutes routes;
};

}  // namespace sluice::shop
