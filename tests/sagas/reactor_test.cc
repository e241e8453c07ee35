// Choreography: reactions dispatch each command once per event, a replay after a lost checkpoint
// acts on nothing twice, and bad input follows the failure policy.
#include "sluice/projections/reactor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "sagas/order_saga.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/projections/dead_letters.h"
#include "sluice/projections/in_memory_read_model_store.h"
#include "sluice/projections/projection_worker.h"

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

std::size_t StreamLength(EventStore& store, const std::string& name) {
  Result<std::vector<RecordedEvent>> events = store.ReadStream(*StreamId::Make(name), 0, 1000);
  return events.ok() ? events->size() : 0;
}

// Counts commands that acted (not duplicates) and remembers the last metadata per command name.
struct Counter {
  std::atomic<int> acted{0};
  std::atomic<int> duplicates{0};
  std::mutex mu;
  std::map<std::string, CommandMetadata> last;

  void Attach(CommandBus& bus) {
    bus.Use([this](CommandEnvelope& c, const CommandBus::Next& next) {
      {
        std::lock_guard lock(mu);
        last[c.name] = c.metadata;
      }
      Result<CommandResult> r = next(c);
      if (r.ok()) (r->duplicate ? duplicates : acted)++;
      return r;
    });
  }
};

class ReactorTest : public ::testing::Test {
 protected:
  ReactorTest() : registry_(ShopRegistry()) {}

  Result<std::shared_ptr<Projection>> ReserveOnOrder(CommandBus& bus) {
    return ReactorBuilder("reserve-on-order", bus, registry_)
        .On<OrderPlaced>([](const OrderPlaced& e, ReactionContext& ctx) {
          return ctx.Send(ReserveStock{e.order_id, e.sku, e.quantity}).status();
        })
        .Build();
  }

  void Place(CommandBus& bus, const std::string& order, const std::string& sku) {
    CommandMetadata m;
    m.correlation_id = "corr-" + order;
    ASSERT_TRUE(bus.Dispatch(PlaceOrder{order, sku, 1, 10}, m).ok());
  }

  InMemoryEventStore events_;
  std::shared_ptr<EventTypeRegistry> registry_;
};

TEST_F(ReactorTest, DispatchesOnceAndAReplayAfterALostCheckpointActsOnNothingTwice) {
  std::unique_ptr<ReadModelStore> read_models = NewInMemoryReadModelStore();
  {
    CommandBus bus;
    Shop shop(events_, *registry_, bus);
    Counter counter;
    counter.Attach(bus);
    for (int i = 0; i < 3; ++i) Place(bus, "o" + std::to_string(i), "sku" + std::to_string(i));
    Result<std::shared_ptr<Projection>> reactor = ReserveOnOrder(bus);
    ASSERT_TRUE(reactor.ok()) << reactor.status().ToString();
    auto worker = ProjectionWorker::Start(events_, *read_models, *reactor);
    ASSERT_TRUE(worker.ok());
    ASSERT_TRUE((*worker)->WaitFor(events_.HeadPosition(), 10s).ok());
    // 3 PlaceOrder + 3 ReserveStock.
    EXPECT_EQ(counter.acted.load(), 6);
    EXPECT_EQ(counter.duplicates.load(), 0);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(StreamLength(events_, "stock-sku" + std::to_string(i)), 1u);

    // The command carries the event's ids.
    Result<std::vector<RecordedEvent>> placed =
        events_.ReadStream(*StreamId::Make("order-o2"), 0, 1);
    ASSERT_TRUE(placed.ok());
    std::lock_guard lock(counter.mu);
    const CommandMetadata& m = counter.last["shop.ReserveStock"];
    EXPECT_EQ(m.causation_id, (*placed)[0].event_id);
    EXPECT_EQ(m.correlation_id, "corr-o2");
    EXPECT_EQ(m.command_id, DeriveUuid((*placed)[0].event_id, "reserve-on-order/command-0"));
  }
  const GlobalPosition head = events_.HeadPosition();

  // A new process whose checkpoint was lost: every event is reacted to again.
  std::unique_ptr<ReadModelStore> fresh = NewInMemoryReadModelStore();
  CommandBus bus;
  Shop shop(events_, *registry_, bus);
  Counter counter;
  counter.Attach(bus);
  Result<std::shared_ptr<Projection>> reactor = ReserveOnOrder(bus);
  ASSERT_TRUE(reactor.ok());
  auto worker = ProjectionWorker::Start(events_, *fresh, *reactor);
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE((*worker)->WaitFor(head, 10s).ok());
  EXPECT_EQ(counter.acted.load(), 0);
  EXPECT_EQ(counter.duplicates.load(), 3);
  EXPECT_EQ(events_.HeadPosition(), head) << "a replayed reaction appended again";
}

TEST_F(ReactorTest, ACrashBetweenDispatchAndCheckpointDoesNotActTwice) {
  std::unique_ptr<ReadModelStore> read_models = NewInMemoryReadModelStore();
  {
    CommandBus bus;
    Shop shop(events_, *registry_, bus);
    Place(bus, "o1", "a");
    // The command acts, then the process "dies" before the checkpoint commits.
    bus.Use([](CommandEnvelope& c, const CommandBus::Next& next) -> Result<CommandResult> {
      Result<CommandResult> r = next(c);
      if (c.name == "shop.ReserveStock") return Status::InvalidArgument("simulated crash");
      return r;
    });
    Result<std::shared_ptr<Projection>> reactor = ReserveOnOrder(bus);
    ASSERT_TRUE(reactor.ok());
    ProjectionOptions options;
    options.failure.max_attempts = 1;
    options.failure.then = OnFailure::kStop;
    auto worker = ProjectionWorker::Start(events_, *read_models, *reactor, options);
    ASSERT_TRUE(worker.ok());
    Status waited = (*worker)->WaitFor(events_.HeadPosition(), 10s);
    EXPECT_FALSE(waited.ok());
    EXPECT_EQ((*worker)->Report().state, ProjectionState::kFailed);
    EXPECT_EQ((*worker)->Report().checkpoint, 0u);
  }
  EXPECT_EQ(StreamLength(events_, "stock-a"), 1u);
  CommandBus bus;
  Shop shop(events_, *registry_, bus);
  Counter counter;
  counter.Attach(bus);
  Result<std::shared_ptr<Projection>> reactor = ReserveOnOrder(bus);
  ASSERT_TRUE(reactor.ok());
  auto worker = ProjectionWorker::Start(events_, *read_models, *reactor);
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE((*worker)->WaitFor(events_.HeadPosition(), 10s).ok());
  EXPECT_EQ(counter.duplicates.load(), 1);
  EXPECT_EQ(counter.acted.load(), 0);
  EXPECT_EQ(StreamLength(events_, "stock-a"), 1u);
}

TEST_F(ReactorTest, AnUndecodableEventIsParkedWithItsErrorAndTheNextOneStillReacts) {
  std::unique_ptr<ReadModelStore> read_models = NewInMemoryReadModelStore();
  CommandBus bus;
  Shop shop(events_, *registry_, bus);
  EventData junk;
  junk.type = "shop.OrderPlaced.v1";
  junk.payload = "\x01not cereal";
  ASSERT_TRUE(events_.Append(*StreamId::Make("order-bad"), ExpectedVersion::Any(), {junk}).ok());
  Place(bus, "o1", "a");
  Result<std::shared_ptr<Projection>> reactor = ReserveOnOrder(bus);
  ASSERT_TRUE(reactor.ok());
  ProjectionOptions options;
  options.failure.max_attempts = 2;
  options.failure.initial_backoff = 1ms;
  auto worker = ProjectionWorker::Start(events_, *read_models, *reactor, options);
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE((*worker)->WaitFor(events_.HeadPosition(), 10s).ok());
  Result<std::vector<ParkedEvent>> parked = ListParked(*read_models, "reserve-on-order", 0, 10);
  ASSERT_TRUE(parked.ok());
  ASSERT_EQ(parked->size(), 1u);
  EXPECT_EQ((*parked)[0].stream, "order-bad");
  EXPECT_NE((*parked)[0].error.find("Corruption"), std::string::npos) << (*parked)[0].error;
  EXPECT_EQ(StreamLength(events_, "stock-a"), 1u);
}

TEST_F(ReactorTest, ARejectedCommandIsAFailureUnlessTheReactionAcceptsIt) {
  std::unique_ptr<ReadModelStore> read_models = NewInMemoryReadModelStore();
  CommandBus bus;
  Shop shop(events_, *registry_, bus);
  CommandMetadata m;
  ASSERT_TRUE(bus.Dispatch(PlaceOrder{"big", "a", kStockPerSku + 1, 1}, m).ok());
  Result<std::shared_ptr<Projection>> reactor = ReserveOnOrder(bus);
  ASSERT_TRUE(reactor.ok());
  ProjectionOptions options;
  options.failure.max_attempts = 1;
  options.failure.then = OnFailure::kStop;
  auto worker = ProjectionWorker::Start(events_, *read_models, *reactor, options);
  ASSERT_TRUE(worker.ok());
  Status waited = (*worker)->WaitFor(events_.HeadPosition(), 10s);
  ASSERT_FALSE(waited.ok());
  EXPECT_NE((*worker)->Report().error.find("out of stock"), std::string::npos)
      << (*worker)->Report().error;
}

TEST_F(ReactorTest, BuildRefusesUnknownTypesBadNamesAndNoReactions) {
  CommandBus bus;
  Result<std::shared_ptr<Projection>> unknown =
      ReactorBuilder("r", bus, registry_)
          .On<Unregistered>([](const Unregistered&, ReactionContext&) { return Status::Ok(); })
          .Build();
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound) << unknown.status().ToString();
  EXPECT_FALSE(
      ReactorBuilder("bad name!", bus, registry_)
          .OnType("a.B.v1", [](const RecordedEvent&, ReactionContext&) { return Status::Ok(); })
          .Build()
          .ok());
  EXPECT_FALSE(ReactorBuilder("r", bus, registry_).Build().ok());
}

}  // namespace
}  // namespace saga_test
