// The order-fulfilment domain shared by the two services of the order_saga example.
//
//   orders service     Order aggregate (order-<id>) and the fulfilment process manager
//   warehouse service  Stock (stock-<sku>), Payment (payment-<order>), Shipment (shipment-<order>)
//
// The orders service sends the warehouse commands over a RabbitMQ queue; the warehouse's events
// come back through its relay and the orders service's subscriber. Every event of one order
// carries the order id as its correlation id, which is how the process manager finds its saga.
// Nothing here does I/O.
#pragma once

#include <cereal/types/string.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "sluice/core/decider.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"

namespace fulfilment {

// ---------------------------------------------------------------------------------------------
// Events

struct OrderPlaced {
  std::string order_id;
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t amount_cents = 0;
  std::string card;  // "ok", "declined" or "silent" (the payment provider never answers)
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(sku), CEREAL_NVP(quantity), CEREAL_NVP(amount_cents),
       CEREAL_NVP(card));
  }
};
struct OrderShipped {
  std::string order_id;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id));
  }
};
struct OrderCancelled {
  std::string order_id;
  std::string reason;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(reason));
  }
};

struct StockAdded {
  std::string sku;
  std::int64_t quantity = 0;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(sku), CEREAL_NVP(quantity));
  }
};
struct StockReserved {
  std::string order_id;
  std::string sku;
  std::int64_t quantity = 0;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(sku), CEREAL_NVP(quantity));
  }
};
struct StockUnavailable {
  std::string order_id;
  std::string sku;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(sku));
  }
};
struct StockReleased {
  std::string order_id;
  std::string sku;
  std::int64_t quantity = 0;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(sku), CEREAL_NVP(quantity));
  }
};

struct PaymentCharged {
  std::string order_id;
  std::int64_t amount_cents = 0;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(amount_cents));
  }
};
struct PaymentDeclined {
  std::string order_id;
  std::string reason;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(reason));
  }
};

struct ShipmentDispatched {
  std::string order_id;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id));
  }
};

// JSON, so the events read well in the broker and in `sluice read`.
inline sluice::Status RegisterEvents(sluice::EventTypeRegistry& registry) {
  SLUICE_RETURN_IF_ERROR(registry.Register<OrderPlaced>("shop.OrderPlaced.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<OrderShipped>("shop.OrderShipped.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<OrderCancelled>("shop.OrderCancelled.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<StockAdded>("warehouse.StockAdded.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<StockReserved>("warehouse.StockReserved.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<StockUnavailable>("warehouse.StockUnavailable.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<StockReleased>("warehouse.StockReleased.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<PaymentCharged>("payments.PaymentCharged.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<PaymentDeclined>("payments.PaymentDeclined.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<ShipmentDispatched>("warehouse.ShipmentDispatched.v1"));
  return sluice::Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Commands (sent between the services as JSON, so each has a serialize)

struct PlaceOrder {
  static constexpr std::string_view kCommandName = "shop.PlaceOrder";
  std::string order_id;
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t amount_cents = 0;
  std::string card;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(sku), CEREAL_NVP(quantity), CEREAL_NVP(amount_cents),
       CEREAL_NVP(card));
  }
};
struct MarkShipped {
  static constexpr std::string_view kCommandName = "shop.MarkShipped";
  std::string order_id;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id));
  }
};
struct CancelOrder {
  static constexpr std::string_view kCommandName = "shop.CancelOrder";
  std::string order_id;
  std::string reason;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(reason));
  }
};

struct AddStock {
  static constexpr std::string_view kCommandName = "warehouse.AddStock";
  std::string sku;
  std::int64_t quantity = 0;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(sku), CEREAL_NVP(quantity));
  }
};
struct ReserveStock {
  static constexpr std::string_view kCommandName = "warehouse.ReserveStock";
  std::string order_id;
  std::string sku;
  std::int64_t quantity = 0;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(sku), CEREAL_NVP(quantity));
  }
};
struct ReleaseStock {
  static constexpr std::string_view kCommandName = "warehouse.ReleaseStock";
  std::string order_id;
  std::string sku;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(sku));
  }
};
struct ChargePayment {
  static constexpr std::string_view kCommandName = "payments.ChargePayment";
  std::string order_id;
  std::int64_t amount_cents = 0;
  std::string card;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(amount_cents), CEREAL_NVP(card));
  }
};
struct ShipOrder {
  static constexpr std::string_view kCommandName = "warehouse.ShipOrder";
  std::string order_id;
  template <class A>
  void serialize(A& ar) {
    ar(CEREAL_NVP(order_id));
  }
};

// ---------------------------------------------------------------------------------------------
// Aggregates

struct Order {
  enum class Status { kNone, kPlaced, kShipped, kCancelled };
  struct State {
    Status status = Status::kNone;
  };
  using Event = std::variant<OrderPlaced, OrderShipped, OrderCancelled>;
  static State Evolve(State state, const Event& event) {
    if (std::holds_alternative<OrderPlaced>(event)) state.status = Status::kPlaced;
    if (std::holds_alternative<OrderShipped>(event)) state.status = Status::kShipped;
    if (std::holds_alternative<OrderCancelled>(event)) state.status = Status::kCancelled;
    return state;
  }
};

inline sluice::Decision<Order::Event> Decide(const Order::State& s, const PlaceOrder& c) {
  if (s.status != Order::Status::kNone) return sluice::Reject("order " + c.order_id + " exists");
  if (c.quantity <= 0) return sluice::Reject("quantity must be positive");
  return sluice::Emit<Order::Event>(
      OrderPlaced{c.order_id, c.sku, c.quantity, c.amount_cents, c.card});
}
inline sluice::Decision<Order::Event> Decide(const Order::State& s, const MarkShipped& c) {
  if (s.status != Order::Status::kPlaced) return sluice::Emit<Order::Event>();
  return sluice::Emit<Order::Event>(OrderShipped{c.order_id});
}
inline sluice::Decision<Order::Event> Decide(const Order::State& s, const CancelOrder& c) {
  if (s.status != Order::Status::kPlaced) return sluice::Emit<Order::Event>();
  return sluice::Emit<Order::Event>(OrderCancelled{c.order_id, c.reason});
}

struct Stock {
  struct State {
    std::int64_t available = 0;
    std::map<std::string, std::int64_t> reserved;  // by order id
  };
  using Event = std::variant<StockAdded, StockReserved, StockUnavailable, StockReleased>;
  static State Evolve(State state, const Event& event) {
    if (const auto* e = std::get_if<StockAdded>(&event)) state.available += e->quantity;
    if (const auto* e = std::get_if<StockReserved>(&event)) {
      state.available -= e->quantity;
      state.reserved[e->order_id] = e->quantity;
    }
    if (const auto* e = std::get_if<StockReleased>(&event)) {
      state.available += e->quantity;
      state.reserved.erase(e->order_id);
    }
    return state;
  }
};

inline sluice::Decision<Stock::Event> Decide(const Stock::State&, const AddStock& c) {
  return sluice::Emit<Stock::Event>(StockAdded{c.sku, c.quantity});
}
// Too little stock is a fact the saga reacts to, not a rejected command.
inline sluice::Decision<Stock::Event> Decide(const Stock::State& s, const ReserveStock& c) {
  if (s.reserved.count(c.order_id) != 0) return sluice::Emit<Stock::Event>();
  if (s.available < c.quantity) {
    return sluice::Emit<Stock::Event>(StockUnavailable{c.order_id, c.sku});
  }
  return sluice::Emit<Stock::Event>(StockReserved{c.order_id, c.sku, c.quantity});
}
inline sluice::Decision<Stock::Event> Decide(const Stock::State& s, const ReleaseStock& c) {
  const auto it = s.reserved.find(c.order_id);
  if (it == s.reserved.end()) return sluice::Emit<Stock::Event>();
  return sluice::Emit<Stock::Event>(StockReleased{c.order_id, c.sku, it->second});
}

struct Payment {
  struct State {
    bool settled = false;
  };
  using Event = std::variant<PaymentCharged, PaymentDeclined>;
  static State Evolve(State state, const Event&) {
    state.settled = true;
    return state;
  }
};

// "silent": the provider never answers, so nothing is recorded and the saga's deadline fires.
inline sluice::Decision<Payment::Event> Decide(const Payment::State& s, const ChargePayment& c) {
  if (s.settled || c.card == "silent") return sluice::Emit<Payment::Event>();
  if (c.card == "declined") {
    return sluice::Emit<Payment::Event>(PaymentDeclined{c.order_id, "card declined"});
  }
  return sluice::Emit<Payment::Event>(PaymentCharged{c.order_id, c.amount_cents});
}

struct Shipment {
  struct State {
    bool dispatched = false;
  };
  using Event = std::variant<ShipmentDispatched>;
  static State Evolve(State state, const Event&) {
    state.dispatched = true;
    return state;
  }
};

inline sluice::Decision<Shipment::Event> Decide(const Shipment::State& s, const ShipOrder& c) {
  if (s.dispatched) return sluice::Emit<Shipment::Event>();
  return sluice::Emit<Shipment::Event>(ShipmentDispatched{c.order_id});
}

}  // namespace fulfilment
