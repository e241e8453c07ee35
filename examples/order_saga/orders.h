// The orders service of the order_saga example: the Order aggregate and the OrderFulfilment saga.
//
// The saga is a process manager (sluice/projections/process_manager.h): its state is kept as
// events in its own stream per order ("OrderFulfilment-<order id>"), it reacts to events with
// commands, and it schedules a durable deadline for the payment. Orders are local commands; the
// warehouse's commands are forwarded to the queue `warehouse.commands` by handlers on the same
// command bus, so the saga does not care where a command runs. The warehouse's events come back
// through an EventSubscriber that copies them into this service's store, where the saga reads
// them like its own.
#pragma once

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "examples/order_saga/fulfilment.h"
#include "examples/order_saga/warehouse.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/decider.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/projections/process_manager.h"
#include "sluice/projections/read_model_store.h"
#include "sluice/projections/rocks_read_model_store.h"
#include "sluice/rabbitmq/command_consumer.h"
#include "sluice/rabbitmq/event_subscriber.h"

namespace fulfilment {

inline constexpr const char* kOrdersQueue = "orders.warehouse-events";
inline constexpr auto kPaymentTimeout = std::chrono::seconds(2);

// The saga's state, rebuilt from its stream.
struct Fulfilment {
  std::string order_id;
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t amount_cents = 0;
  std::string card;
};

inline sluice::Result<std::shared_ptr<const sluice::ProcessDefinition>> MakeSaga(
    std::shared_ptr<const sluice::EventTypeRegistry> registry) {
  using sluice::ProcessContext;
  return sluice::ProcessManagerBuilder<Fulfilment>("OrderFulfilment", std::move(registry))
      .StartedBy<OrderPlaced>([](Fulfilment& s, const OrderPlaced& e, ProcessContext& pm) {
        s = Fulfilment{e.order_id, e.sku, e.quantity, e.amount_cents, e.card};
        pm.Send(ReserveStock{e.order_id, e.sku, e.quantity});
      })
      .On<StockUnavailable>([](Fulfilment& s, const StockUnavailable&, ProcessContext& pm) {
        pm.Send(CancelOrder{s.order_id, "out of stock"});
        pm.Complete();
      })
      .On<StockReserved>([](Fulfilment& s, const StockReserved&, ProcessContext& pm) {
        pm.Send(ChargePayment{s.order_id, s.amount_cents, s.card});
        pm.Schedule("payment", kPaymentTimeout);
      })
      .On<PaymentCharged>([](Fulfilment& s, const PaymentCharged&, ProcessContext& pm) {
        pm.Cancel("payment");
        pm.Send(ShipOrder{s.order_id});
      })
      // Compensation: the stock reserved for the order goes back.
      .On<PaymentDeclined>([](Fulfilment& s, const PaymentDeclined& e, ProcessContext& pm) {
        pm.Send(ReleaseStock{s.order_id, s.sku});
        pm.Send(CancelOrder{s.order_id, e.reason});
        pm.Complete();
      })
      .OnDeadline("payment",
                  [](Fulfilment& s, const sluice::DeadlineReached&, ProcessContext& pm) {
                    pm.Send(ReleaseStock{s.order_id, s.sku});
                    pm.Send(CancelOrder{s.order_id, "payment timed out"});
                    pm.Complete();
                  })
      .On<ShipmentDispatched>([](Fulfilment& s, const ShipmentDispatched&, ProcessContext& pm) {
        pm.Send(MarkShipped{s.order_id});
        pm.Complete();
      })
      .OnRejected([](Fulfilment&, const sluice::CommandRejected& r, ProcessContext& pm) {
        std::cout << "  saga " << pm.key() << ": " << r.command << " rejected: " << r.reason
                  << std::endl;
        pm.Complete();
      })
      .Build();
}

class OrdersService {
 public:
  OrdersService(sluice::rabbitmq::AmqpUrl url, std::string dir)
      : url_(std::move(url)), dir_(std::move(dir)), sender_(url_, "order-saga-orders-sender") {}

  // Opens the store and the saga's read model, and declares the queue for the warehouse's events
  // (so none is published before it exists).
  sluice::Status Open() {
    using namespace sluice;
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir_ + "/store");
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    Result<std::unique_ptr<ReadModelStore>> model = OpenRocksReadModelStore(dir_ + "/saga");
    if (!model.ok()) return model.status();
    saga_store_ = std::move(*model);
    auto registry = std::make_shared<EventTypeRegistry>();
    SLUICE_RETURN_IF_ERROR(RegisterEvents(*registry));
    registry_ = registry;
    AggregateOptions json;
    json.content_type = ContentType::kJson;
    orders_ = std::make_unique<AggregateService<Order>>(*store_, *registry_, json);
    SLUICE_RETURN_IF_ERROR(RegisterHandlers());

    rabbitmq::EventSubscriberOptions options;
    options.exchange = kWarehouseExchange;
    options.queue = kOrdersQueue;
    options.bindings = {"stock.#", "payment.#", "shipment.#"};
    options.connection_name = "order-saga-orders";
    subscriber_ = std::make_unique<rabbitmq::EventSubscriber>(url_, *store_, options);
    return subscriber_->Start();
  }

  // Places the orders, waits until each has ended, checks the outcome. True if as expected.
  bool Run(const std::atomic<bool>& stop) {
    using namespace sluice;
    std::atomic<bool> done{false};
    std::thread subscriber([&] {
      if (Status s = subscriber_->Run(&done); !s.ok()) {
        std::cerr << "orders: subscriber: " << s.ToString() << std::endl;
      }
    });
    Result<std::shared_ptr<const ProcessDefinition>> saga = MakeSaga(registry_);
    Result<std::unique_ptr<ProcessManager>> runtime =
        saga.ok() ? ProcessManager::Start(*store_, *saga_store_, bus_, *saga)
                  : Result<std::unique_ptr<ProcessManager>>(saga.status());
    bool ok = runtime.ok();
    if (!ok) std::cerr << "orders: start the saga: " << runtime.status().ToString() << std::endl;
    if (ok) ok = Scenario(stop);
    if (runtime.ok()) (*runtime)->Stop();
    done = true;
    subscriber.join();
    return ok;
  }

 private:
  struct Expected {
    std::string order_id;
    Order::Status status;
    std::string what;
  };

  sluice::Status RegisterHandlers() {
    using namespace sluice;
    auto decide = [](const auto& state, const auto& command) { return Decide(state, command); };
    auto order_stream = [](const auto& c) { return "order-" + c.order_id; };
    SLUICE_RETURN_IF_ERROR(orders_->Handle<PlaceOrder>(
        bus_, std::function<std::string(const PlaceOrder&)>(order_stream), ExpectedState::kNew,
        decide));
    SLUICE_RETURN_IF_ERROR(orders_->Handle<MarkShipped>(
        bus_, std::function<std::string(const MarkShipped&)>(order_stream),
        ExpectedState::kExisting, decide));
    SLUICE_RETURN_IF_ERROR(orders_->Handle<CancelOrder>(
        bus_, std::function<std::string(const CancelOrder&)>(order_stream),
        ExpectedState::kExisting, decide));
    SLUICE_RETURN_IF_ERROR(Forward<AddStock>());
    SLUICE_RETURN_IF_ERROR(Forward<ReserveStock>());
    SLUICE_RETURN_IF_ERROR(Forward<ReleaseStock>());
    SLUICE_RETURN_IF_ERROR(Forward<ChargePayment>());
    SLUICE_RETURN_IF_ERROR(Forward<ShipOrder>());
    return Status::Ok();
  }

  // Commands of type C go to the warehouse's queue, with the same command id (so the warehouse
  // handles a command sent twice once). Until the warehouse has declared its queue, sending
  // fails NotFound: the bus reports it, and the saga's worker retries the step.
  template <typename C>
  sluice::Status Forward() {
    return bus_.Register<C>(
        [this](const C& c,
               const sluice::CommandMetadata& m) -> sluice::Result<sluice::CommandResult> {
          std::lock_guard<std::mutex> lock(send_mutex_);
          SLUICE_RETURN_IF_ERROR(sender_.Send(kWarehouseQueue, std::string(C::kCommandName), c, m));
          return sluice::CommandResult{};
        });
  }

  // Sends `command` as the first message of a conversation, retrying while the warehouse starts.
  template <typename C>
  bool SendUntilAccepted(const C& command, const std::string& correlation,
                         const std::atomic<bool>& stop) {
    sluice::CommandMetadata metadata;
    metadata.correlation_id = correlation;
    metadata.command_id = sluice::DeriveUuid(run_, std::string(C::kCommandName) + correlation);
    for (int attempt = 0; attempt < 300 && !stop; ++attempt) {
      sluice::Result<sluice::CommandResult> sent = bus_.Dispatch(command, metadata);
      if (sent.ok()) return true;
      if (!sent.status().IsNotFound()) {
        std::cerr << "orders: " << sent.status().ToString() << std::endl;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::cerr << "orders: the warehouse never declared its queue" << std::endl;
    return false;
  }

  bool Scenario(const std::atomic<bool>& stop) {
    using namespace sluice;
    const std::string sku = "widget-" + run_.substr(0, 8);
    if (!SendUntilAccepted(AddStock{sku, 4}, "stock-" + sku, stop)) return false;
    std::cout << "warehouse stock: 4 x " << sku << std::endl;
    const std::vector<std::pair<PlaceOrder, Expected>> orders = {
        {PlaceOrder{"", sku, 2, 2500, "ok"}, {"", Order::Status::kShipped, "shipped"}},
        {PlaceOrder{"", sku, 1, 1200, "declined"},
         {"", Order::Status::kCancelled, "cancelled: card declined, stock released"}},
        {PlaceOrder{"", sku, 1, 900, "silent"},
         {"", Order::Status::kCancelled, "cancelled: payment timed out, stock released"}},
        {PlaceOrder{"", sku, 10, 9900, "ok"},
         {"", Order::Status::kCancelled, "cancelled: out of stock"}},
    };
    std::vector<Expected> expected;
    for (std::size_t i = 0; i < orders.size(); ++i) {
      PlaceOrder place = orders[i].first;
      place.order_id = run_.substr(0, 8) + "-" + std::to_string(i + 1);
      CommandMetadata metadata;
      metadata.correlation_id = place.order_id;  // the saga's key
      Result<CommandResult> placed = bus_.Dispatch(place, metadata);
      if (!placed.ok()) {
        std::cerr << "orders: place " << place.order_id << ": " << placed.status().ToString()
                  << std::endl;
        return false;
      }
      std::cout << "placed order " << place.order_id << ": " << place.quantity << " x " << sku
                << ", card " << place.card << std::endl;
      Expected e = orders[i].second;
      e.order_id = place.order_id;
      expected.push_back(e);
    }

    // Every order ends (shipped or cancelled), and the stock the cancelled orders held comes back:
    // 4 - 2 (shipped) = 2, as the warehouse's events copied into this store say.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::map<std::string, Order::Status> seen;
    for (;;) {
      bool all = true;
      for (const Expected& e : expected) {
        Result<LoadedAggregate<Order>> order =
            orders_->Load(*StreamId::Make("order-" + e.order_id));
        const Order::Status now = order.ok() ? order->state.status : Order::Status::kNone;
        if (seen[e.order_id] != now &&
            (now == Order::Status::kShipped || now == Order::Status::kCancelled)) {
          std::cout << "order " << e.order_id << " "
                    << (now == Order::Status::kShipped ? "shipped" : "cancelled") << std::endl;
        }
        seen[e.order_id] = now;
        all = all && now != Order::Status::kPlaced && now != Order::Status::kNone;
      }
      const std::int64_t available = AvailableStock(sku);
      if (all && available == 2) break;
      if (stop || std::chrono::steady_clock::now() > deadline) {
        std::cerr << "orders: timed out waiting for the orders to end (stock " << available << ")"
                  << std::endl;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }

    bool ok = true;
    std::cout << "\nsaga of each order (stream OrderFulfilment-<order>):" << std::endl;
    for (const Expected& e : expected) {
      const bool as_expected = seen[e.order_id] == e.status;
      ok = ok && as_expected;
      std::cout << "  " << e.order_id << " " << e.what << (as_expected ? "" : "  <-- UNEXPECTED")
                << std::endl;
      PrintSaga(e.order_id);
    }
    std::cout << "stock of " << sku << " back to " << AvailableStock(sku) << std::endl;
    return ok;
  }

  // The stock the warehouse's events (copied into this store) leave available.
  std::int64_t AvailableStock(const std::string& sku) {
    sluice::Result<std::vector<sluice::RecordedEvent>> events =
        store_->ReadStream(*sluice::StreamId::Make("stock-" + sku), 0, 10'000);
    if (!events.ok()) return -1;
    Stock::State state;
    for (const sluice::RecordedEvent& recorded : *events) {
      sluice::Result<Stock::Event> event = registry_->DecodeVariant<Stock::Event>(recorded);
      if (event.ok()) state = Stock::Evolve(std::move(state), *event);
    }
    return state.available;
  }

  // One line per step of the order's saga: what came in, then what the saga did.
  void PrintSaga(const std::string& order_id) {
    sluice::Result<std::vector<sluice::RecordedEvent>> events =
        store_->ReadStream(*sluice::StreamId::Make("OrderFulfilment-" + order_id), 0, 1000);
    if (!events.ok()) return;
    std::string line;
    auto flush = [&line] {
      if (!line.empty()) std::cout << "    " << line << std::endl;
      line.clear();
    };
    for (const sluice::RecordedEvent& e : *events) {
      if (e.type == "sluice.pm.Received.v1") {
        flush();
        line = ShortName(TextField(e.payload, "type")) + " ->";
      } else if (e.type == "sluice.pm.CommandIssued.v1") {
        line += " " + ShortName(TextField(e.payload, "command"));
      } else if (e.type == "sluice.pm.DeadlineScheduled.v1") {
        line += " schedule '" + TextField(e.payload, "name") + "'";
      } else if (e.type == "sluice.pm.DeadlineCancelled.v1") {
        line += " cancel '" + TextField(e.payload, "name") + "'";
      } else if (e.type == "sluice.pm.Completed.v1") {
        line += " (done)";
      }
    }
    flush();
  }

  // "shop.OrderPlaced.v1" -> "OrderPlaced", "warehouse.ReserveStock" -> "ReserveStock".
  static std::string ShortName(std::string name) {
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".v1") == 0)
      name.resize(name.size() - 3);
    const std::size_t dot = name.rfind('.');
    return dot == std::string::npos ? name : name.substr(dot + 1);
  }

  // The text value of `key` in a flat JSON object (the saga's bookkeeping events), or "".
  static std::string TextField(const std::string& json, const std::string& key) {
    const std::size_t at = json.find("\"" + key + "\"");
    if (at == std::string::npos) return "";
    const std::size_t open = json.find('"', json.find(':', at));
    const std::size_t close = open == std::string::npos ? open : json.find('"', open + 1);
    return close == std::string::npos ? "" : json.substr(open + 1, close - open - 1);
  }

  sluice::rabbitmq::AmqpUrl url_;
  std::string dir_;
  std::string run_ = sluice::NewUuid();  // order ids and stock of this run
  std::unique_ptr<sluice::RocksEventStore> store_;
  std::unique_ptr<sluice::ReadModelStore> saga_store_;
  std::shared_ptr<const sluice::EventTypeRegistry> registry_;
  std::unique_ptr<sluice::AggregateService<Order>> orders_;
  sluice::CommandBus bus_;
  std::mutex send_mutex_;
  sluice::rabbitmq::CommandSender sender_;
  std::unique_ptr<sluice::rabbitmq::EventSubscriber> subscriber_;
};

}  // namespace fulfilment
