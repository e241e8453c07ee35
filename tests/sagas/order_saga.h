// The order-fulfilment domain the saga tests run: three in-process aggregates (order, stock,
// payment) behind AggregateService, and the OrderFulfilment process manager that coordinates them:
// order placed -> reserve stock -> charge payment -> ship; a payment timeout cancels the order and
// releases the stock; a failed or rejected payment releases the stock and cancels the order.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>

#include "sluice/core/aggregate_service.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/projections/process_manager.h"

namespace saga_test {

using namespace sluice;

struct OrderPlaced {
  std::string order_id, sku;
  std::int64_t quantity = 0, amount = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(sku), CEREAL_NVP(quantity), CEREAL_NVP(amount));
  }
};
struct OrderShipped {
  std::string order_id;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id));
  }
};
struct OrderCancelled {
  std::string order_id;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id));
  }
};
struct StockReserved {
  std::string order_id;
  std::int64_t quantity = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(quantity));
  }
};
struct StockReleased {
  std::string order_id;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id));
  }
};
struct PaymentRequested {
  std::string order_id;
  std::int64_t amount = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(amount));
  }
};
struct PaymentCharged {
  std::string order_id;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id));
  }
};
struct PaymentFailed {
  std::string order_id, reason;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(reason));
  }
};

// Commands.
struct PlaceOrder {
  static constexpr std::string_view kCommandName = "shop.PlaceOrder";
  std::string order_id, sku;
  std::int64_t quantity = 0, amount = 0;
};
struct ShipOrder {
  static constexpr std::string_view kCommandName = "shop.ShipOrder";
  std::string order_id;
};
struct CancelOrder {
  static constexpr std::string_view kCommandName = "shop.CancelOrder";
  std::string order_id;
};
struct ReserveStock {
  static constexpr std::string_view kCommandName = "shop.ReserveStock";
  std::string order_id, sku;
  std::int64_t quantity = 0;
};
struct ReleaseStock {
  static constexpr std::string_view kCommandName = "shop.ReleaseStock";
  std::string order_id, sku;
};
struct ChargePayment {
  static constexpr std::string_view kCommandName = "shop.ChargePayment";
  std::string order_id;
  std::int64_t amount = 0;
};
// The payment gateway's answers (the tests play the gateway).
struct ConfirmPayment {
  static constexpr std::string_view kCommandName = "shop.ConfirmPayment";
  std::string order_id;
};
struct DeclinePayment {
  static constexpr std::string_view kCommandName = "shop.DeclinePayment";
  std::string order_id, reason;
};

inline constexpr std::int64_t kStockPerSku = 10;
inline constexpr std::int64_t kPaymentLimit = 1000;  // larger charges are rejected

struct Order {
  struct State {
    bool placed = false, shipped = false, cancelled = false;
  };
  using Event = std::variant<OrderPlaced, OrderShipped, OrderCancelled>;
  static State Evolve(State s, const Event& e) {
    if (std::holds_alternative<OrderPlaced>(e)) s.placed = true;
    if (std::holds_alternative<OrderShipped>(e)) s.shipped = true;
    if (std::holds_alternative<OrderCancelled>(e)) s.cancelled = true;
    return s;
  }
};

struct Stock {
  struct State {
    std::map<std::string, std::int64_t> reserved;  // by order
    std::int64_t total = 0;
  };
  using Event = std::variant<StockReserved, StockReleased>;
  static State Evolve(State s, const Event& e) {
    if (const auto* r = std::get_if<StockReserved>(&e)) {
      s.reserved[r->order_id] = r->quantity;
      s.total += r->quantity;
    } else if (const auto* r2 = std::get_if<StockReleased>(&e)) {
      s.total -= s.reserved[r2->order_id];
      s.reserved.erase(r2->order_id);
    }
    return s;
  }
};

struct Payment {
  struct State {
    bool requested = false, settled = false;
  };
  using Event = std::variant<PaymentRequested, PaymentCharged, PaymentFailed>;
  static State Evolve(State s, const Event& e) {
    if (std::holds_alternative<PaymentRequested>(e)) s.requested = true;
    if (!std::holds_alternative<PaymentRequested>(e)) s.settled = true;
    return s;
  }
};

inline std::shared_ptr<EventTypeRegistry> ShopRegistry() {
  auto r = std::make_shared<EventTypeRegistry>();
  r->Register<OrderPlaced>("shop.OrderPlaced.v1").PermitUncheckedError();
  r->Register<OrderShipped>("shop.OrderShipped.v1").PermitUncheckedError();
  r->Register<OrderCancelled>("shop.OrderCancelled.v1").PermitUncheckedError();
  r->Register<StockReserved>("shop.StockReserved.v1").PermitUncheckedError();
  r->Register<StockReleased>("shop.StockReleased.v1").PermitUncheckedError();
  r->Register<PaymentRequested>("shop.PaymentRequested.v1").PermitUncheckedError();
  r->Register<PaymentCharged>("shop.PaymentCharged.v1").PermitUncheckedError();
  r->Register<PaymentFailed>("shop.PaymentFailed.v1").PermitUncheckedError();
  return r;
}

// The aggregates' command handlers, registered on a bus.
struct Shop {
  Shop(EventStore& store, const EventTypeRegistry& registry, CommandBus& bus)
      : orders(store, registry), stock(store, registry), payments(store, registry) {
    Status s = orders.Handle<PlaceOrder>(
        bus, [](const PlaceOrder& c) { return "order-" + c.order_id; }, ExpectedState::kNew,
        [](const Order::State&, const PlaceOrder& c) {
          return Emit<Order::Event>(OrderPlaced{c.order_id, c.sku, c.quantity, c.amount});
        });
    s = orders.Handle<ShipOrder>(
        bus, [](const ShipOrder& c) { return "order-" + c.order_id; }, ExpectedState::kExisting,
        [](const Order::State& st, const ShipOrder& c) -> Decision<Order::Event> {
          if (st.cancelled) return Reject("order " + c.order_id + " is cancelled");
          return Emit<Order::Event>(OrderShipped{c.order_id});
        });
    s = orders.Handle<CancelOrder>(
        bus, [](const CancelOrder& c) { return "order-" + c.order_id; }, ExpectedState::kExisting,
        [](const Order::State& st, const CancelOrder& c) -> Decision<Order::Event> {
          if (st.shipped) return Reject("order " + c.order_id + " has shipped");
          if (st.cancelled) return std::vector<Order::Event>{};
          return Emit<Order::Event>(OrderCancelled{c.order_id});
        });
    s = stock.Handle<ReserveStock>(
        bus, [](const ReserveStock& c) { return "stock-" + c.sku; }, ExpectedState::kAny,
        [](const Stock::State& st, const ReserveStock& c) -> Decision<Stock::Event> {
          if (st.total + c.quantity > kStockPerSku) return Reject("out of stock: " + c.sku);
          return Emit<Stock::Event>(StockReserved{c.order_id, c.quantity});
        });
    s = stock.Handle<ReleaseStock>(
        bus, [](const ReleaseStock& c) { return "stock-" + c.sku; }, ExpectedState::kAny,
        [](const Stock::State& st, const ReleaseStock& c) -> Decision<Stock::Event> {
          if (st.reserved.count(c.order_id) == 0) return std::vector<Stock::Event>{};
          return Emit<Stock::Event>(StockReleased{c.order_id});
        });
    s = payments.Handle<ChargePayment>(
        bus, [](const ChargePayment& c) { return "payment-" + c.order_id; }, ExpectedState::kAny,
        [](const Payment::State&, const ChargePayment& c) -> Decision<Payment::Event> {
          if (c.amount > kPaymentLimit) return Reject("amount over the limit");
          return Emit<Payment::Event>(PaymentRequested{c.order_id, c.amount});
        });
    s = payments.Handle<ConfirmPayment>(
        bus, [](const ConfirmPayment& c) { return "payment-" + c.order_id; },
        ExpectedState::kExisting,
        [](const Payment::State& st, const ConfirmPayment& c) -> Decision<Payment::Event> {
          if (st.settled) return Reject("settled");
          return Emit<Payment::Event>(PaymentCharged{c.order_id});
        });
    s = payments.Handle<DeclinePayment>(
        bus, [](const DeclinePayment& c) { return "payment-" + c.order_id; },
        ExpectedState::kExisting,
        [](const Payment::State& st, const DeclinePayment& c) -> Decision<Payment::Event> {
          if (st.settled) return Reject("settled");
          return Emit<Payment::Event>(PaymentFailed{c.order_id, c.reason});
        });
    s.PermitUncheckedError();
  }

  AggregateService<Order> orders;
  AggregateService<Stock> stock;
  AggregateService<Payment> payments;
};

// ---- The saga: what a user writes. ------------------------------------------------------------
struct Fulfilment {
  std::string order, sku;
  std::int64_t quantity = 0, amount = 0;
};

inline Result<std::shared_ptr<const ProcessDefinition>> OrderFulfilment(
    std::shared_ptr<const EventTypeRegistry> registry) {
  using F = Fulfilment;
  using PC = ProcessContext;
  auto give_up = [](F& s, PC& pm) {
    pm.Send(ReleaseStock{s.order, s.sku});
    pm.Send(CancelOrder{s.order});
    pm.Complete();
  };
  return ProcessManagerBuilder<F>("OrderFulfilment", std::move(registry))
      .StartedBy<OrderPlaced>([](F& s, const OrderPlaced& e, PC& pm) {
        s = F{e.order_id, e.sku, e.quantity, e.amount};
        pm.Send(ReserveStock{s.order, s.sku, s.quantity});
      })
      .On<StockReserved>([](F& s, const StockReserved&, PC& pm) {
        pm.Send(ChargePayment{s.order, s.amount});
        pm.Schedule("payment", std::chrono::minutes(15));
      })
      .On<PaymentCharged>([](F& s, const PaymentCharged&, PC& pm) {
        pm.Cancel("payment");
        pm.Send(ShipOrder{s.order});
      })
      .On<OrderShipped>([](F&, const OrderShipped&, PC& pm) { pm.Complete(); })
      .On<PaymentFailed>([=](F& s, const PaymentFailed&, PC& pm) { give_up(s, pm); })
      .OnDeadline("payment", [=](F& s, const DeadlineReached&, PC& pm) { give_up(s, pm); })
      .OnRejected([=](F& s, const CommandRejected& r, PC& pm) {
        if (r.Is<ReserveStock>()) {  // nothing reserved: only the order to cancel
          pm.Send(CancelOrder{s.order});
          pm.Complete();
        } else if (r.Is<ChargePayment>()) {
          pm.Cancel("payment");
          give_up(s, pm);
        }
      })
      .Build();
}

}  // namespace saga_test
