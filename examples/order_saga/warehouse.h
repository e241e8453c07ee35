// The warehouse service of the order_saga example: stock, payments and shipments.
//
// It takes commands from the RabbitMQ queue `warehouse.commands` (a CommandConsumer: each command
// handled once, by the AggregateService of its aggregate, acknowledged after the append is
// durable) and publishes every event it records to the topic exchange `warehouse.events` (a
// Relay, checkpointed in its store folder). It runs until `stop` becomes true.
#pragma once

#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "examples/order_saga/fulfilment.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/rabbitmq/command_consumer.h"
#include "sluice/rabbitmq/relay.h"

namespace fulfilment {

inline constexpr const char* kWarehouseQueue = "warehouse.commands";
inline constexpr const char* kWarehouseExchange = "warehouse.events";

inline int RunWarehouse(const sluice::rabbitmq::AmqpUrl& url, const std::string& dir,
                        const std::atomic<bool>& stop) {
  using namespace sluice;
  auto fail = [](const char* what, const Status& status) {
    std::cerr << "warehouse: " << what << ": " << status.ToString() << std::endl;
    return 1;
  };
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir + "/store");
  if (!store.ok()) return fail("open the store", store.status());
  EventTypeRegistry registry;
  if (Status s = RegisterEvents(registry); !s.ok()) return fail("register events", s);

  AggregateOptions json;
  json.content_type = ContentType::kJson;
  AggregateService<Stock> stock(**store, registry, json);
  AggregateService<Payment> payments(**store, registry, json);
  AggregateService<Shipment> shipments(**store, registry, json);
  CommandBus bus;
  auto decide = [](const auto& state, const auto& command) { return Decide(state, command); };
  Status registered = stock.Handle<AddStock>(
      bus, [](const AddStock& c) { return "stock-" + c.sku; }, ExpectedState::kAny, decide);
  if (registered.ok()) {
    registered = stock.Handle<ReserveStock>(
        bus, [](const ReserveStock& c) { return "stock-" + c.sku; }, ExpectedState::kAny, decide);
  }
  if (registered.ok()) {
    registered = stock.Handle<ReleaseStock>(
        bus, [](const ReleaseStock& c) { return "stock-" + c.sku; }, ExpectedState::kAny, decide);
  }
  if (registered.ok()) {
    registered = payments.Handle<ChargePayment>(
        bus, [](const ChargePayment& c) { return "payment-" + c.order_id; }, ExpectedState::kAny,
        decide);
  }
  if (registered.ok()) {
    registered = shipments.Handle<ShipOrder>(
        bus, [](const ShipOrder& c) { return "shipment-" + c.order_id; }, ExpectedState::kAny,
        decide);
  }
  if (!registered.ok()) return fail("register handlers", registered);

  rabbitmq::CommandRoutes routes;
  for (Status s : {routes.Add<AddStock>(std::string(AddStock::kCommandName)),
                   routes.Add<ReserveStock>(std::string(ReserveStock::kCommandName)),
                   routes.Add<ReleaseStock>(std::string(ReleaseStock::kCommandName)),
                   routes.Add<ChargePayment>(std::string(ChargePayment::kCommandName)),
                   routes.Add<ShipOrder>(std::string(ShipOrder::kCommandName))}) {
    if (!s.ok()) return fail("route commands", s);
  }

  rabbitmq::RelayOptions relay_options;
  relay_options.url = url;
  relay_options.exchange = kWarehouseExchange;
  relay_options.checkpoint_path = dir + "/relay.checkpoint";
  relay_options.connection_name = "order-saga-warehouse-relay";
  Result<std::unique_ptr<rabbitmq::Relay>> relay = rabbitmq::Relay::Start(**store, relay_options);
  if (!relay.ok()) return fail("start the relay", relay.status());

  rabbitmq::CommandConsumerOptions consumer_options;
  consumer_options.queue = kWarehouseQueue;
  consumer_options.connection_name = "order-saga-warehouse";
  rabbitmq::CommandConsumer consumer(url, bus, routes, consumer_options);
  if (Status s = consumer.Run(&stop); !s.ok()) return fail("consume commands", s);
  const rabbitmq::CommandConsumerStats stats = consumer.stats();
  std::cout << "warehouse: handled " << stats.handled << " commands (" << stats.duplicates
            << " duplicates, " << stats.dead_lettered << " dead-lettered); relayed up to position "
            << (*relay)->Report().checkpoint << std::endl;
  return 0;
}

}  // namespace fulfilment
