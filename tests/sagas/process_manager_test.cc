// Orchestration: the order-fulfilment saga (order_saga.h) over in-process aggregates. Happy path,
// durable deadlines across restarts (fire once, never after a cancel), compensation on failure and
// rejection, no step twice after a crash at each point, and bad input.
#include "sluice/projections/process_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "sagas/order_saga.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/projections/dead_letters.h"
#include "sluice/projections/in_memory_read_model_store.h"
#include "sluice/projections/rocks_read_model_store.h"

namespace saga_test {
namespace {

using namespace std::chrono_literals;

struct Unregistered {
  int x = 0;
  template <class A>
  void serialize(A& a) {
    a(CEREAL_NVP(x));
  }
};
using std::chrono::system_clock;

std::vector<std::string> Types(EventStore& store, const std::string& stream) {
  std::vector<std::string> types;
  Result<std::vector<RecordedEvent>> events = store.ReadStream(*StreamId::Make(stream), 0, 1000);
  if (events.ok()) {
    for (const RecordedEvent& e : *events) types.push_back(e.type);
  }
  return types;
}

std::size_t Count(const std::vector<std::string>& types, const std::string& type) {
  return static_cast<std::size_t>(std::count(types.begin(), types.end(), type));
}

// What survives a restart: the event store, the read-model store and the clock.
struct Durable {
  InMemoryEventStore events;
  std::unique_ptr<ReadModelStore> read_models = NewInMemoryReadModelStore();
  std::atomic<std::int64_t> now_us{1'700'000'000'000'000};

  Clock clock() {
    return [this] { return system_clock::time_point(std::chrono::microseconds(now_us.load())); };
  }
  void Advance(std::chrono::microseconds by) { now_us += by.count(); }
};

// One process: registry, bus, aggregates and the saga runtime. Destroying it is a crash of
// everything but the durable stores (the worker commits nothing more).
struct Process {
  explicit Process(Durable& d, FailurePolicy failure = {}, bool start = true)
      : durable(d), registry(ShopRegistry()), shop(d.events, *registry, bus) {
    bus.Use([this](CommandEnvelope& c, const CommandBus::Next& next) {
      Result<CommandResult> r = next(c);
      if (r.ok() && !r->duplicate) {
        std::lock_guard lock(mu);
        ++acted[c.name];
      }
      return r;
    });
    Result<std::shared_ptr<const ProcessDefinition>> saga = OrderFulfilment(registry);
    EXPECT_TRUE(saga.ok()) << saga.status().ToString();
    definition = *saga;
    options.clock = d.clock();
    options.deadline_poll = 0ms;  // the tests fire deadlines themselves
    options.failure = failure;
    options.failure.initial_backoff = 1ms;
    if (start) Start();
  }

  void Start() {
    Result<std::unique_ptr<ProcessManager>> started =
        ProcessManager::Start(durable.events, *durable.read_models, bus, definition, options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    pm = std::move(*started);
  }

  // Waits until the saga has handled everything, including what its own commands appended.
  Status Settle() {
    while (true) {
      GlobalPosition head = durable.events.HeadPosition();
      SLUICE_RETURN_IF_ERROR(pm->WaitFor(head, 10s));
      if (durable.events.HeadPosition() == head) return Status::Ok();
    }
  }

  void Place(const std::string& order, std::int64_t amount = 100, std::int64_t quantity = 2) {
    CommandMetadata m;
    m.correlation_id = order;
    Result<CommandResult> r = bus.Dispatch(PlaceOrder{order, "sku", quantity, amount}, m);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  template <typename C>
  void Gateway(C command) {
    CommandMetadata m;
    m.correlation_id = command.order_id;
    Result<CommandResult> r = bus.Dispatch(command, m);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  int Acted(const std::string& name) {
    std::lock_guard lock(mu);
    return acted[name];
  }

  Durable& durable;
  std::shared_ptr<EventTypeRegistry> registry;
  CommandBus bus;
  Shop shop;
  std::shared_ptr<const ProcessDefinition> definition;
  ProcessManagerOptions options;
  std::unique_ptr<ProcessManager> pm;
  std::mutex mu;
  std::map<std::string, int> acted;
};

std::size_t PendingDeadlines(Durable& d) {
  Result<std::vector<Row>> rows = d.read_models->Scan("OrderFulfilment_deadlines", nullptr, 100);
  return rows.ok() ? rows->size() : 0;
}

TEST(ProcessManagerTest, HappyPathReservesChargesShipsAndCompletes) {
  Durable d;
  Process p(d);
  p.Place("o1");
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Types(d.events, "stock-sku"), std::vector<std::string>{"shop.StockReserved.v1"});
  EXPECT_EQ(Types(d.events, "payment-o1"), std::vector<std::string>{"shop.PaymentRequested.v1"});
  EXPECT_EQ(PendingDeadlines(d), 1u);
  p.Gateway(ConfirmPayment{"o1"});
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Types(d.events, "order-o1"),
            (std::vector<std::string>{"shop.OrderPlaced.v1", "shop.OrderShipped.v1"}));
  std::vector<std::string> saga = Types(d.events, "OrderFulfilment-o1");
  EXPECT_EQ(Count(saga, "sluice.pm.Received.v1"), 4u);  // placed, reserved, charged, shipped
  EXPECT_EQ(Count(saga, "sluice.pm.CommandIssued.v1"), 3u);
  EXPECT_EQ(Count(saga, "sluice.pm.DeadlineScheduled.v1"), 1u);
  EXPECT_EQ(Count(saga, "sluice.pm.DeadlineCancelled.v1"), 1u);
  EXPECT_EQ(Count(saga, "sluice.pm.Completed.v1"), 1u);
  EXPECT_EQ(PendingDeadlines(d), 0u);
  EXPECT_EQ(p.Acted("shop.ReserveStock"), 1);
  EXPECT_EQ(p.Acted("shop.ChargePayment"), 1);
  EXPECT_EQ(p.Acted("shop.ShipOrder"), 1);
  // The commands carried the saga's correlation id and were caused by the inputs.
  Result<std::vector<RecordedEvent>> shipped =
      d.events.ReadStream(*StreamId::Make("order-o1"), 1, 1);
  ASSERT_TRUE(shipped.ok());
  EXPECT_EQ((*shipped)[0].metadata.correlation_id, "o1");
}

TEST(ProcessManagerTest, PaymentTimeoutFiresAfterARestartAndCancelsAndReleases) {
  Durable d;
  {
    Process p(d);
    p.Place("o1");
    ASSERT_TRUE(p.Settle().ok());
    d.Advance(14min);
    Result<std::size_t> early = p.pm->FireDueDeadlines();
    ASSERT_TRUE(early.ok());
    EXPECT_EQ(*early, 0u) << "fired before it was due";
  }  // the process goes away
  d.Advance(2min);
  Process p(d);
  Result<std::size_t> fired = p.pm->FireDueDeadlines();
  ASSERT_TRUE(fired.ok()) << fired.status().ToString();
  EXPECT_EQ(*fired, 1u);
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Types(d.events, "order-o1"),
            (std::vector<std::string>{"shop.OrderPlaced.v1", "shop.OrderCancelled.v1"}));
  EXPECT_EQ(Types(d.events, "stock-sku"),
            (std::vector<std::string>{"shop.StockReserved.v1", "shop.StockReleased.v1"}));
  EXPECT_EQ(PendingDeadlines(d), 0u);
  Result<std::size_t> again = p.pm->FireDueDeadlines();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
  // A late payment confirmation no longer moves the finished saga.
  p.Gateway(ConfirmPayment{"o1"});
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Count(Types(d.events, "order-o1"), "shop.OrderShipped.v1"), 0u);
}

TEST(ProcessManagerTest, TheTimerThreadFiresDueDeadlines) {
  Durable d;
  Process p(d, {}, /*start=*/false);
  p.options.deadline_poll = 1ms;
  p.Start();
  p.Place("o1");
  ASSERT_TRUE(p.Settle().ok());
  d.Advance(16min);
  // Waits (bounded) for the timer to fire; no timing is asserted.
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (Count(Types(d.events, "order-o1"), "shop.OrderCancelled.v1") == 0 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Count(Types(d.events, "order-o1"), "shop.OrderCancelled.v1"), 1u);
  EXPECT_EQ(Count(Types(d.events, "OrderFulfilment-o1"), "sluice.pm.DeadlineReached.v1"), 1u);
}

TEST(ProcessManagerTest, ADeadlineFiresExactlyOnceEvenIfTheFiringRunsTwice) {
  Durable d;
  std::shared_ptr<const ProcessDefinition> definition;
  {
    Process p(d);
    definition = p.definition;
    p.Place("o1");
    ASSERT_TRUE(p.Settle().ok());
    p.pm->Stop();  // the saga is down: nothing handles the DeadlineReached yet
    d.Advance(20min);
    // Two firers at once, then one more: one DeadlineReached.
    std::atomic<std::size_t> fired{0};
    auto fire = [&] {
      Result<std::size_t> n =
          FireDueDeadlines(d.events, *d.read_models, *definition,
                           system_clock::time_point(std::chrono::microseconds(d.now_us.load())));
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      fired += *n;
    };
    std::thread a(fire), b(fire);
    a.join();
    b.join();
    fire();
    EXPECT_EQ(fired.load(), 1u);
  }
  Process p(d);
  ASSERT_TRUE(p.pm->FireDueDeadlines().ok());  // a restarted timer fires the same row again
  ASSERT_TRUE(p.Settle().ok());
  std::vector<std::string> saga = Types(d.events, "OrderFulfilment-o1");
  EXPECT_EQ(Count(saga, "sluice.pm.DeadlineReached.v1"), 1u);
  EXPECT_EQ(Count(saga, "sluice.pm.Received.v1"), 3u);  // placed, reserved, deadline
  EXPECT_EQ(Count(Types(d.events, "order-o1"), "shop.OrderCancelled.v1"), 1u);
  EXPECT_EQ(p.Acted("shop.CancelOrder") + p.Acted("shop.ReleaseStock"), 2);
}

TEST(ProcessManagerTest, ADeadlineCancelledInTimeNeverFires) {
  Durable d;
  Process p(d);
  p.Place("o1");
  ASSERT_TRUE(p.Settle().ok());
  // A firer that read the row just before the cancel committed: its DeadlineReached lands right
  // after the payment that cancels the deadline (the saga is down meanwhile, so the order of the
  // two in the log is fixed).
  Result<std::vector<Row>> rows = d.read_models->Scan("OrderFulfilment_deadlines", nullptr, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  const Row stale = (*rows)[0];
  p.pm.reset();
  p.Gateway(ConfirmPayment{"o1"});
  Result<EventData> late = ProcessManagerEventTypes().Encode(
      DeadlineReached{std::get<std::string>(stale[3]), std::get<std::string>(stale[1]),
                      std::get<std::int64_t>(stale[0])},
      ContentType::kJson);
  ASSERT_TRUE(late.ok());
  late->metadata.correlation_id = "o1";
  ASSERT_TRUE(
      d.events.Append(*StreamId::Make("OrderFulfilment-o1"), ExpectedVersion::Any(), {*late}).ok());
  p.Start();
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(PendingDeadlines(d), 0u);
  d.Advance(1h);
  Result<std::size_t> fired = p.pm->FireDueDeadlines();
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 0u);
  EXPECT_EQ(Types(d.events, "order-o1"),
            (std::vector<std::string>{"shop.OrderPlaced.v1", "shop.OrderShipped.v1"}));
  EXPECT_EQ(p.Acted("shop.CancelOrder"), 0);
  EXPECT_EQ(p.Acted("shop.ReleaseStock"), 0);
}

TEST(ProcessManagerTest, AFailedPaymentReleasesTheStockAndCancelsTheOrder) {
  Durable d;
  Process p(d);
  p.Place("o1");
  ASSERT_TRUE(p.Settle().ok());
  p.Gateway(DeclinePayment{"o1", "card declined"});
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Types(d.events, "stock-sku"),
            (std::vector<std::string>{"shop.StockReserved.v1", "shop.StockReleased.v1"}));
  EXPECT_EQ(Count(Types(d.events, "order-o1"), "shop.OrderCancelled.v1"), 1u);
  EXPECT_EQ(PendingDeadlines(d), 0u);
  d.Advance(1h);
  Result<std::size_t> fired = p.pm->FireDueDeadlines();
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 0u);
}

TEST(ProcessManagerTest, ARejectedChargeIsFedBackAndCompensated) {
  Durable d;
  Process p(d);
  p.Place("o1", kPaymentLimit + 1);
  ASSERT_TRUE(p.Settle().ok());
  std::vector<std::string> saga = Types(d.events, "OrderFulfilment-o1");
  EXPECT_EQ(Count(saga, "sluice.pm.CommandRejected.v1"), 1u);
  EXPECT_EQ(Count(saga, "sluice.pm.Completed.v1"), 1u);
  EXPECT_TRUE(Types(d.events, "payment-o1").empty());
  EXPECT_EQ(Types(d.events, "stock-sku"),
            (std::vector<std::string>{"shop.StockReserved.v1", "shop.StockReleased.v1"}));
  EXPECT_EQ(Count(Types(d.events, "order-o1"), "shop.OrderCancelled.v1"), 1u);
  EXPECT_EQ(PendingDeadlines(d), 0u);
}

TEST(ProcessManagerTest, ARejectedFirstStepCancelsOnlyTheOrder) {
  Durable d;
  Process p(d);
  p.Place("o1", 100, kStockPerSku + 1);
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_TRUE(Types(d.events, "stock-sku").empty());
  EXPECT_EQ(Count(Types(d.events, "order-o1"), "shop.OrderCancelled.v1"), 1u);
}

// A crash after the step was appended but before its commands went out: the restarted process
// sends them, once.
TEST(ProcessManagerTest, ACrashBetweenAppendAndDispatchSendsTheStepOnce) {
  Durable d;
  {
    FailurePolicy stop;
    stop.max_attempts = 1;
    stop.then = OnFailure::kStop;
    Process p(d, stop, /*start=*/false);
    p.bus.Use([](CommandEnvelope& c, const CommandBus::Next& next) -> Result<CommandResult> {
      if (c.name == "shop.ChargePayment") return Status::InvalidArgument("simulated crash");
      return next(c);
    });
    p.Start();
    p.Place("o1");
    EXPECT_FALSE(p.Settle().ok());
    EXPECT_EQ(p.pm->Report().state, ProjectionState::kFailed);
  }
  std::vector<std::string> saga = Types(d.events, "OrderFulfilment-o1");
  EXPECT_EQ(Count(saga, "sluice.pm.Received.v1"), 2u);  // the StockReserved step is recorded
  EXPECT_TRUE(Types(d.events, "payment-o1").empty());   // ... but its command never went out
  Process p(d);
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Types(d.events, "payment-o1"), std::vector<std::string>{"shop.PaymentRequested.v1"});
  EXPECT_EQ(Count(Types(d.events, "OrderFulfilment-o1"), "sluice.pm.Received.v1"), 2u);
  EXPECT_EQ(Count(Types(d.events, "OrderFulfilment-o1"), "sluice.pm.DeadlineScheduled.v1"), 1u);
  EXPECT_EQ(PendingDeadlines(d), 1u);
  EXPECT_EQ(p.Acted("shop.ChargePayment"), 1);
  EXPECT_EQ(Types(d.events, "stock-sku"), std::vector<std::string>{"shop.StockReserved.v1"});
}

// A crash after the commands acted but before the checkpoint: the restarted process sends them
// again with the same ids, and they do nothing.
TEST(ProcessManagerTest, ACrashBetweenDispatchAndCheckpointDoesNotRunTheStepTwice) {
  Durable d;
  {
    FailurePolicy stop;
    stop.max_attempts = 1;
    stop.then = OnFailure::kStop;
    Process p(d, stop, /*start=*/false);
    p.bus.Use([](CommandEnvelope& c, const CommandBus::Next& next) -> Result<CommandResult> {
      Result<CommandResult> r = next(c);
      if (c.name == "shop.ChargePayment") return Status::InvalidArgument("simulated crash");
      return r;
    });
    p.Start();
    p.Place("o1");
    EXPECT_FALSE(p.Settle().ok());
  }
  EXPECT_EQ(Types(d.events, "payment-o1"), std::vector<std::string>{"shop.PaymentRequested.v1"});
  const GlobalPosition head = d.events.HeadPosition();
  Process p(d);
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(d.events.HeadPosition(), head) << "the replayed step appended something";
  EXPECT_EQ(p.Acted("shop.ChargePayment"), 0);
  EXPECT_EQ(PendingDeadlines(d), 1u);
  p.Gateway(ConfirmPayment{"o1"});
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Count(Types(d.events, "order-o1"), "shop.OrderShipped.v1"), 1u);
}

// Everything handled again from position 0 (the read model and its checkpoint were lost) appends
// nothing and acts on nothing, and the due-deadlines table is rebuilt.
TEST(ProcessManagerTest, AFullReplayWithALostCheckpointChangesNothing) {
  Durable d;
  {
    Process p(d);
    p.Place("o1");
    p.Place("o2");
    ASSERT_TRUE(p.Settle().ok());
    p.Gateway(DeclinePayment{"o2", "no"});
    ASSERT_TRUE(p.Settle().ok());
  }
  const GlobalPosition head = d.events.HeadPosition();
  d.read_models = NewInMemoryReadModelStore();
  Process p(d);
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(d.events.HeadPosition(), head);
  int acted = 0;
  for (const auto& [name, n] : p.acted) acted += n;
  EXPECT_EQ(acted, 0);
  EXPECT_EQ(PendingDeadlines(d), 1u);  // o1's payment deadline; o2 is over
}

TEST(ProcessManagerTest, DeadlinesSurviveARestartOfRocksDbReadModels) {
  const std::string dir = ::testing::TempDir() + "/sagas-rocks-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  Durable d;
  auto open = [&] {
    Result<std::unique_ptr<ReadModelStore>> store = OpenRocksReadModelStore(dir);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    d.read_models = std::move(*store);
  };
  open();
  {
    Process p(d);
    p.Place("o1");
    ASSERT_TRUE(p.Settle().ok());
  }
  d.read_models.reset();  // close the database
  open();
  d.Advance(16min);
  Process p(d);
  Result<std::size_t> fired = p.pm->FireDueDeadlines();
  ASSERT_TRUE(fired.ok()) << fired.status().ToString();
  EXPECT_EQ(*fired, 1u);
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(Count(Types(d.events, "order-o1"), "shop.OrderCancelled.v1"), 1u);
  p.pm.reset();
  d.read_models.reset();
  std::filesystem::remove_all(dir);
}

TEST(ProcessManagerTest, AnEventWithoutCorrelationIdIsParkedWithAClearError) {
  Durable d;
  Process p(d, FailurePolicy{1, 1ms, 1ms, OnFailure::kPark});
  CommandMetadata none;  // the bus fills correlation = command id: append directly instead
  Result<EventData> placed = p.registry->Encode(OrderPlaced{"x", "sku", 1, 1});
  ASSERT_TRUE(placed.ok());
  ASSERT_TRUE(d.events.Append(*StreamId::Make("order-x"), ExpectedVersion::Any(), {*placed}).ok());
  p.Place("o1");  // and a good one after it
  ASSERT_TRUE(p.Settle().ok());
  Result<std::vector<ParkedEvent>> parked = ListParked(*d.read_models, "OrderFulfilment", 0, 10);
  ASSERT_TRUE(parked.ok());
  ASSERT_EQ(parked->size(), 1u);
  EXPECT_EQ((*parked)[0].stream, "order-x");
  EXPECT_NE((*parked)[0].error.find("no correlation id"), std::string::npos) << (*parked)[0].error;
  EXPECT_EQ(Types(d.events, "stock-sku"), std::vector<std::string>{"shop.StockReserved.v1"});
}

TEST(ProcessManagerTest, AnUnknownEventTypeInItsStreamStopsTheRuntimeWithAClearError) {
  Durable d;
  Process p(d, FailurePolicy{1, 1ms, 1ms, OnFailure::kStop});
  p.Place("o1");
  ASSERT_TRUE(p.Settle().ok());
  EventData junk;
  junk.type = "junk.Thing.v1";
  junk.payload = "?";
  ASSERT_TRUE(
      d.events.Append(*StreamId::Make("OrderFulfilment-o1"), ExpectedVersion::Any(), {junk}).ok());
  Status settled = p.Settle();
  ASSERT_FALSE(settled.ok());
  EXPECT_EQ(p.pm->Report().state, ProjectionState::kFailed);
  EXPECT_NE(p.pm->Report().error.find("unknown event type 'junk.Thing.v1'"), std::string::npos)
      << p.pm->Report().error;
}

TEST(ProcessManagerTest, BuildRefusesBadDefinitions) {
  auto registry = ShopRegistry();
  using B = ProcessManagerBuilder<Fulfilment>;
  auto noop = [](Fulfilment&, const OrderPlaced&, ProcessContext&) {};
  EXPECT_FALSE(B("order-saga", registry).StartedBy<OrderPlaced>(noop).Build().ok());  // '-'
  EXPECT_FALSE(B("Saga", registry).On<OrderPlaced>(noop).Build().ok());  // nothing starts one
  EXPECT_FALSE(B("Saga", registry)
                   .StartedBy<OrderPlaced>(noop)
                   .On<Unregistered>([](Fulfilment&, const Unregistered&, ProcessContext&) {})
                   .Build()
                   .ok());
  EXPECT_FALSE(B("Saga", registry).StartedBy<OrderPlaced>(noop).On<OrderPlaced>(noop).Build().ok());
  EXPECT_TRUE(B("Saga", registry).StartedBy<OrderPlaced>(noop).Build().ok());
}

}  // namespace
}  // namespace saga_test
