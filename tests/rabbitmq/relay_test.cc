// The relay (sluice/rabbitmq/relay.h) against the test broker: what each message carries, routing
// keys, order per stream, a checkpoint that advances only after the broker's confirms and resumes
// without gaps, and a damaged checkpoint file that is an error rather than position 0.
#include "sluice/rabbitmq/relay.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rabbitmq/rabbitmq_test_broker.h"
#include "rabbitmq/relay_amqp_helpers.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/core/uuid.h"
#include "sluice/rabbitmq/event_message.h"

namespace sluice::rabbitmq {
namespace {

using namespace std::chrono_literals;
using relay_testing::Drain;

std::filesystem::path TempFolder() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-relay-XXXXXX").string();
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

StreamId Stream(const std::string& name) { return StreamId::Make(name).value(); }

EventData Event(const std::string& type, const std::string& payload) {
  EventData e;
  e.event_id = NewUuid();
  e.type = type;
  e.content_type = ContentType::kJson;
  e.payload = payload;
  return e;
}

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = TempFolder();
    const std::string url = testing::RequireRabbitmq();
    if (url.empty()) return;
    Result<AmqpUrl> parsed = ParseAmqpUrl(url);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    url_ = *parsed;
    Result<std::unique_ptr<detail::AmqpConnection>> conn =
        detail::AmqpConnection::Open(url_, "relay-test");
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(*conn);
    exchange_ = testing::UniqueAmqpName("relay.x");
    // Declared as the relay declares it, so queues can be bound before it starts.
    ASSERT_TRUE(conn_->DeclareExchange(exchange_).ok());
  }

  void TearDown() override {
    for (const std::string& queue : queues_) conn_->DeleteQueue(queue).PermitUncheckedError();
    if (conn_ != nullptr) conn_->DeleteExchange(exchange_).PermitUncheckedError();
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }

  std::string Queue(const std::string& binding) {
    const std::string queue = testing::UniqueAmqpName("relay.q");
    detail::QueueOptions options;
    options.durable = false;
    EXPECT_TRUE(conn_->DeclareQueue(queue, options).ok());
    EXPECT_TRUE(conn_->BindQueue(queue, exchange_, binding).ok());
    queues_.push_back(queue);
    return queue;
  }

  RelayOptions Options() {
    RelayOptions options;
    options.url = url_;
    options.exchange = exchange_;
    options.checkpoint_path = (folder_ / "relay" / (exchange_ + ".checkpoint")).string();
    options.initial_backoff = 10ms;
    options.max_backoff = 100ms;
    return options;
  }

  std::unique_ptr<Relay> StartRelay(EventStore& store, const RelayOptions& options) {
    Result<std::unique_ptr<Relay>> relay = Relay::Start(store, options);
    EXPECT_TRUE(relay.ok()) << relay.status().ToString();
    return relay.ok() ? std::move(*relay) : nullptr;
  }

  std::filesystem::path folder_;
  AmqpUrl url_;
  std::unique_ptr<detail::AmqpConnection> conn_;
  std::string exchange_;
  std::vector<std::string> queues_;
};

TEST_F(RelayTest, EveryEventArrivesWithItsIdTypeCorrelationAndHeaders) {
  const std::string all = Queue("#");
  InMemoryEventStore store;
  EventData placed = Event("shop.OrderPlaced.v1", R"({"total":12})");
  placed.metadata.correlation_id = "corr-1";
  placed.metadata.causation_id = "cause-1";
  placed.metadata.extra = {{"tenant", "acme"}};
  EventData paid = Event("shop.OrderPaid.v1", R"({"paid":true})");
  paid.content_type = ContentType::kBinary;
  ASSERT_TRUE(store.Append(Stream("order-17"), ExpectedVersion::NoStream(), {placed, paid}).ok());

  std::unique_ptr<Relay> relay = StartRelay(store, Options());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(relay->WaitFor(2, 30s).ok()) << relay->Report().last_error;

  const std::vector<AmqpDelivery> got = Drain(*conn_, all);
  ASSERT_EQ(got.size(), 2u);
  const AmqpMessage& first = got[0].message;
  EXPECT_EQ(first.message_id, placed.event_id);
  EXPECT_EQ(first.type, "shop.OrderPlaced.v1");
  EXPECT_EQ(first.correlation_id, "corr-1");
  EXPECT_EQ(first.content_type, kJsonContentType);
  EXPECT_EQ(first.body, R"({"total":12})");
  EXPECT_TRUE(first.persistent);
  EXPECT_EQ(first.headers.at("sluice-stream"), "order-17");
  EXPECT_EQ(first.headers.at("sluice-version"), "0");
  EXPECT_EQ(first.headers.at("sluice-position"), "1");
  EXPECT_EQ(first.headers.at("sluice-causation-id"), "cause-1");
  EXPECT_EQ(first.headers.at("sluice-meta-tenant"), "acme");
  EXPECT_EQ(got[0].exchange, exchange_);
  EXPECT_EQ(got[0].routing_key, "order.shop.OrderPlaced.v1");
  EXPECT_EQ(got[1].message.message_id, paid.event_id);
  EXPECT_EQ(got[1].message.content_type, kBinaryContentType);
  EXPECT_EQ(got[1].routing_key, "order.shop.OrderPaid.v1");
  // Decodable by subscribers.
  Result<InboundEvent> decoded = MessageToEvent(first);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->data, placed);

  const RelayReport report = relay->Report();
  EXPECT_EQ(report.checkpoint, 2u);
  EXPECT_EQ(report.published, 2u);
  EXPECT_EQ(report.lag, 0u);
  EXPECT_EQ(report.exchange, exchange_);
}

TEST_F(RelayTest, AQueueBoundToOrderGetsOnlyOrderEvents) {
  const std::string orders = Queue("order.#");
  const std::string customers = Queue("customer.*.v1");
  InMemoryEventStore store;
  std::set<std::string> order_ids;
  for (int i = 0; i < 10; ++i) {
    EventData order = Event("OrderPlaced.v1", "{}");
    order_ids.insert(order.event_id);
    ASSERT_TRUE(
        store.Append(Stream("order-" + std::to_string(i)), ExpectedVersion::Any(), {order}).ok());
    ASSERT_TRUE(store
                    .Append(Stream("customer-" + std::to_string(i)), ExpectedVersion::Any(),
                            {Event("CustomerAdded.v1", "{}")})
                    .ok());
  }
  std::unique_ptr<Relay> relay = StartRelay(store, Options());
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(relay->WaitFor(20, 30s).ok()) << relay->Report().last_error;

  std::set<std::string> got;
  for (const AmqpDelivery& d : Drain(*conn_, orders)) {
    EXPECT_EQ(d.routing_key, "order.OrderPlaced.v1");
    got.insert(d.message.message_id);
  }
  EXPECT_EQ(got, order_ids);
  const std::vector<AmqpDelivery> customer_messages = Drain(*conn_, customers);
  EXPECT_EQ(customer_messages.size(), 10u);
  for (const AmqpDelivery& d : customer_messages) {
    EXPECT_EQ(d.message.headers.at("sluice-stream").rfind("customer-", 0), 0u);
  }
}

TEST_F(RelayTest, TheRoutingKeyIsConfigurable) {
  const std::string by_stream = Queue("stream.order-1");
  InMemoryEventStore store;
  ASSERT_TRUE(store.Append(Stream("order-1"), ExpectedVersion::Any(), {Event("A.v1", "{}")}).ok());
  ASSERT_TRUE(store.Append(Stream("order-2"), ExpectedVersion::Any(), {Event("A.v1", "{}")}).ok());
  RelayOptions options = Options();
  options.routing_key = [](const RecordedEvent& e) { return "stream." + e.stream; };
  std::unique_ptr<Relay> relay = StartRelay(store, options);
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(relay->WaitFor(2, 30s).ok()) << relay->Report().last_error;
  const std::vector<AmqpDelivery> got = Drain(*conn_, by_stream);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].routing_key, "stream.order-1");
}

TEST_F(RelayTest, FollowsLiveAppendsKeepingOrderPerStream) {
  const std::string all = Queue("#");
  InMemoryEventStore store;
  RelayOptions options = Options();
  options.batch_size = 7;             // many batches, each cut somewhere inside the streams
  options.idle_check_interval = 60s;  // live following must come from the commit notice
  std::unique_ptr<Relay> relay = StartRelay(store, options);
  ASSERT_NE(relay, nullptr);
  constexpr int kWriters = 4, kStreamsPerWriter = 3, kEventsPerStream = 40;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&store, w] {
      for (int n = 0; n < kEventsPerStream; ++n) {
        for (int s = 0; s < kStreamsPerWriter; ++s) {
          const StreamId stream = Stream("order-" + std::to_string(w) + "x" + std::to_string(s));
          EventData e = Event("Step.v1", std::to_string(n));
          ASSERT_TRUE(store.Append(stream, ExpectedVersion::Any(), {e}).ok());
        }
        if (n % 10 == 0) std::this_thread::sleep_for(1ms);
      }
    });
  }
  for (std::thread& t : writers) t.join();
  const GlobalPosition head = store.HeadPosition();
  ASSERT_EQ(head, static_cast<GlobalPosition>(kWriters * kStreamsPerWriter * kEventsPerStream));
  ASSERT_TRUE(relay->WaitFor(head, 60s).ok()) << relay->Report().last_error;

  std::map<std::string, std::vector<std::string>> versions;  // stream -> sluice-version, in order
  const std::vector<AmqpDelivery> got = Drain(*conn_, all);
  ASSERT_EQ(got.size(), head);  // no failure here, so no repeat
  for (const AmqpDelivery& d : got) {
    versions[d.message.headers.at("sluice-stream")].push_back(
        d.message.headers.at("sluice-version"));
    EXPECT_EQ(d.message.body, d.message.headers.at("sluice-version"));
  }
  ASSERT_EQ(versions.size(), static_cast<std::size_t>(kWriters * kStreamsPerWriter));
  for (const auto& [stream, list] : versions) {
    ASSERT_EQ(list.size(), static_cast<std::size_t>(kEventsPerStream)) << stream;
    for (int v = 0; v < kEventsPerStream; ++v) EXPECT_EQ(list[v], std::to_string(v)) << stream;
  }
  EXPECT_EQ(relay->Report().state, RelayState::kCaughtUp);
}

TEST_F(RelayTest, StoppedAndRestartedItResumesFromTheCheckpointWithoutGapsOrRepeats) {
  const std::string all = Queue("#");
  InMemoryEventStore store;
  std::vector<std::string> ids;
  const auto append = [&](int count) {
    for (int i = 0; i < count; ++i) {
      EventData e = Event("Tick.v1", "{}");
      ids.push_back(e.event_id);
      ASSERT_TRUE(store.Append(Stream("clock-1"), ExpectedVersion::Any(), {e}).ok());
    }
  };
  append(30);
  RelayOptions options = Options();
  options.batch_size = 8;
  {
    std::unique_ptr<Relay> relay = StartRelay(store, options);
    ASSERT_NE(relay, nullptr);
    ASSERT_TRUE(relay->WaitFor(30, 30s).ok()) << relay->Report().last_error;
    relay->Stop();
    EXPECT_EQ(relay->Report().state, RelayState::kStopped);
  }
  append(20);  // while no relay runs
  std::unique_ptr<Relay> relay = StartRelay(store, options);
  ASSERT_NE(relay, nullptr);
  EXPECT_EQ(relay->Report().checkpoint, 30u);  // loaded from the file, not 0 and not the head
  ASSERT_TRUE(relay->WaitFor(50, 30s).ok()) << relay->Report().last_error;
  EXPECT_EQ(relay->Report().published, 20u);

  std::vector<std::string> got;
  for (const AmqpDelivery& d : Drain(*conn_, all)) got.push_back(d.message.message_id);
  EXPECT_EQ(got, ids);
}

TEST_F(RelayTest, TheCheckpointAdvancesOnlyAfterTheBrokerConfirms) {
  // A queue that takes 5 messages and makes the broker nack the rest.
  const std::string bounded = testing::UniqueAmqpName("relay.bounded");
  ASSERT_TRUE(relay_testing::DeclareBoundedQueue(url_, bounded, exchange_, "#", 5));
  queues_.push_back(bounded);
  InMemoryEventStore store;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    EventData e = Event("Tick.v1", std::to_string(i));
    ids.push_back(e.event_id);
    ASSERT_TRUE(store.Append(Stream("clock-1"), ExpectedVersion::Any(), {e}).ok());
  }
  RelayOptions options = Options();
  options.batch_size = 1;
  std::unique_ptr<Relay> relay = StartRelay(store, options);
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(relay->WaitFor(5, 30s).ok()) << relay->Report().last_error;
  // Wait (bounded) until the relay has seen the nack of the 6th publish.
  for (int i = 0; i < 3000 && relay->Report().last_error.find("nack") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  RelayReport report = relay->Report();
  ASSERT_NE(report.last_error.find("nack"), std::string::npos) << report.last_error;
  EXPECT_EQ(report.checkpoint, 5u);
  EXPECT_EQ(report.lag, 5u);
  {
    std::ifstream file(options.checkpoint_path);
    std::string magic, word, position;
    std::getline(file, magic);
    file >> word >> position;
    EXPECT_EQ(position, "5");
  }
  // Room again: the relay goes on from the checkpoint, and nothing was skipped.
  std::vector<std::string> got;
  for (const AmqpDelivery& d : Drain(*conn_, bounded)) got.push_back(d.message.message_id);
  ASSERT_TRUE(relay->WaitFor(10, 30s).ok()) << relay->Report().last_error;
  for (const AmqpDelivery& d : Drain(*conn_, bounded)) got.push_back(d.message.message_id);
  EXPECT_EQ(got, ids);
  EXPECT_GE(relay->Report().reconnects, 1u);
}

// Without a broker: the checkpoint file and options are checked at Start.
TEST(RelayStartTest, ADamagedCheckpointIsAnErrorNotPositionZero) {
  const std::filesystem::path folder = TempFolder();
  InMemoryEventStore store;
  ASSERT_TRUE(store.Append(Stream("a-1"), ExpectedVersion::Any(), {Event("A.v1", "{}")}).ok());
  RelayOptions options;
  options.exchange = "relay.damaged";
  options.checkpoint_path = (folder / "cp").string();
  options.url.port = 1;
  for (const std::string& text :
       {std::string(""), std::string("garbage"),
        std::string("sluice-relay-checkpoint v1\nposition 1\n"),
        std::string("sluice-relay-checkpoint v1\nposition 1\nchecksum 0000000000000000\n")}) {
    std::ofstream(options.checkpoint_path, std::ios::binary | std::ios::trunc) << text;
    Result<std::unique_ptr<Relay>> relay = Relay::Start(store, options);
    ASSERT_FALSE(relay.ok()) << "checkpoint text: " << text;
    EXPECT_EQ(relay.status().code(), StatusCode::kCorruption) << relay.status().ToString();
    EXPECT_NE(relay.status().message().find(options.checkpoint_path), std::string::npos);
  }
  std::filesystem::remove_all(folder);
}

TEST(RelayStartTest, BadOptionsAreRefused) {
  InMemoryEventStore store;
  RelayOptions options;
  options.checkpoint_path = "/tmp/never-written";
  for (const char* bad : {"", "has space", "amq.topic", "slash/no"}) {
    options.exchange = bad;
    Result<std::unique_ptr<Relay>> relay = Relay::Start(store, options);
    ASSERT_FALSE(relay.ok()) << bad;
    EXPECT_EQ(relay.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  options.exchange = "ok.name:1_x-y";
  options.checkpoint_path = "";
  EXPECT_EQ(Relay::Start(store, options).status().code(), StatusCode::kInvalidArgument);
}

TEST(RelayStartTest, AnUnreachableBrokerFailsAfterGiveUpWithoutThePassword) {
  const std::filesystem::path folder = TempFolder();
  InMemoryEventStore store;
  RelayOptions options;
  options.exchange = "relay.unreachable";
  options.checkpoint_path = (folder / "cp").string();
  options.url.port = 1;  // nothing listens there
  options.url.password = "s3cret-pw";
  options.initial_backoff = 10ms;
  options.max_backoff = 50ms;
  options.give_up_after = 300ms;
  Result<std::unique_ptr<Relay>> relay = Relay::Start(store, options);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();
  const Status waited = (*relay)->WaitFor(1, 60s);
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.code(), StatusCode::kUnavailable) << waited.ToString();
  EXPECT_NE(waited.message().find("cannot reach"), std::string::npos) << waited.message();
  const RelayReport report = (*relay)->Report();
  EXPECT_EQ(report.state, RelayState::kFailed);
  EXPECT_EQ(report.broker.find("s3cret-pw"), std::string::npos);
  EXPECT_EQ(report.last_error.find("s3cret-pw"), std::string::npos);
  EXPECT_EQ(waited.message().find("s3cret-pw"), std::string::npos);
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace sluice::rabbitmq
