// The AMQP connection (adapters/rabbitmq/src/amqp_connection.h) against the test broker.
#include "amqp_connection.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "rabbitmq/rabbitmq_test_broker.h"

namespace sluice::rabbitmq::detail {
namespace {

using namespace std::chrono_literals;

class AmqpConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = testing::RequireRabbitmq();
    if (url.empty()) return;
    Result<AmqpUrl> parsed = ParseAmqpUrl(url);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    url_ = *parsed;
  }

  std::unique_ptr<AmqpConnection> Open() {
    Result<std::unique_ptr<AmqpConnection>> conn = AmqpConnection::Open(url_, "test");
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(*conn) : nullptr;
  }

  AmqpUrl url_;
};

QueueOptions Transient(bool auto_delete) {
  QueueOptions options;
  options.durable = false;
  options.auto_delete = auto_delete;
  return options;
}

AmqpMessage MessageWith(std::string body) {
  AmqpMessage m;
  m.body = std::move(body);
  m.content_type = "application/json";
  m.message_id = "id-" + m.body;
  m.type = "test.Thing.v1";
  m.correlation_id = "corr";
  m.timestamp = 1700000000;
  m.headers = {{"stream", "order-1"}, {"version", "3"}};
  return m;
}

TEST_F(AmqpConnectionTest, PublishesWithConfirmsAndConsumesEveryProperty) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  const std::string exchange = testing::UniqueAmqpName("x");
  const std::string queue = testing::UniqueAmqpName("q");
  ASSERT_TRUE(conn->DeclareExchange(exchange).ok());
  ASSERT_TRUE(conn->DeclareQueue(queue, Transient(false)).ok());
  ASSERT_TRUE(conn->BindQueue(queue, exchange, "order.#").ok());
  ASSERT_TRUE(conn->EnableConfirms().ok());
  std::uint64_t last = 0;
  for (int i = 0; i < 100; ++i) {
    Result<std::uint64_t> tag =
        conn->Publish(exchange, "order.placed", MessageWith(std::to_string(i)));
    ASSERT_TRUE(tag.ok()) << tag.status().ToString();
    EXPECT_EQ(*tag, static_cast<std::uint64_t>(i + 1));
    last = *tag;
  }
  ASSERT_TRUE(conn->WaitForConfirms(last, 10s).ok());
  EXPECT_EQ(conn->confirmed(), last);

  auto consumer = Open();
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->Qos(10).ok());
  ASSERT_TRUE(consumer->Consume(queue).ok());
  for (int i = 0; i < 100; ++i) {
    Result<std::optional<AmqpDelivery>> d = consumer->Next(5s);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_TRUE(d->has_value());
    const AmqpMessage& m = (*d)->message;
    EXPECT_EQ(m.body, std::to_string(i));
    EXPECT_EQ(m.message_id, "id-" + std::to_string(i));
    EXPECT_EQ(m.type, "test.Thing.v1");
    EXPECT_EQ(m.correlation_id, "corr");
    EXPECT_EQ(m.content_type, "application/json");
    EXPECT_EQ(m.timestamp, 1700000000);
    EXPECT_TRUE(m.persistent);
    EXPECT_EQ(m.headers.at("stream"), "order-1");
    EXPECT_EQ((*d)->routing_key, "order.placed");
    EXPECT_EQ((*d)->exchange, exchange);
    ASSERT_TRUE(consumer->Ack((*d)->delivery_tag).ok());
  }
  Result<std::optional<AmqpDelivery>> none = consumer->Next(200ms);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(conn->DeleteQueue(queue).ok());
  ASSERT_TRUE(conn->DeleteExchange(exchange).ok());
}

TEST_F(AmqpConnectionTest, GetAndNackRequeueGiveTheMessageBack) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  const std::string queue = testing::UniqueAmqpName("q");
  ASSERT_TRUE(conn->DeclareQueue(queue, Transient(true)).ok());
  ASSERT_TRUE(conn->Publish("", queue, MessageWith("a")).ok());
  // The publish is asynchronous without confirms: wait for it through basic.get.
  Result<std::optional<AmqpDelivery>> got = std::optional<AmqpDelivery>();
  for (int i = 0; i < 50; ++i) {
    got = conn->Get(queue);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (got->has_value()) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->message.body, "a");
  ASSERT_TRUE(conn->Nack((*got)->delivery_tag, /*requeue=*/true).ok());
  Result<std::optional<AmqpDelivery>> again = conn->Get(queue);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->has_value());
  EXPECT_TRUE((*again)->redelivered);
  ASSERT_TRUE(conn->Ack((*again)->delivery_tag).ok());
  Result<std::optional<AmqpDelivery>> empty = conn->Get(queue);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
}

TEST_F(AmqpConnectionTest, ChannelErrorsAreStatusesAndTheConnectionStaysUsable) {
  auto conn = Open();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->EnableConfirms().ok());
  Result<std::uint32_t> missing =
      conn->DeclareQueue(testing::UniqueAmqpName("missing"), {}, /*passive=*/true);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  EXPECT_FALSE(conn->broken());
  // A clashing declaration: the same exchange as another type.
  const std::string exchange = testing::UniqueAmqpName("x");
  ASSERT_TRUE(conn->DeclareExchange(exchange, "topic").ok());
  Status clash = conn->DeclareExchange(exchange, "fanout");
  EXPECT_EQ(clash.code(), StatusCode::kInvalidArgument) << clash.ToString();
  // Still usable, confirms included.
  Result<std::uint64_t> tag = conn->Publish(exchange, "k", MessageWith("b"));
  ASSERT_TRUE(tag.ok()) << tag.status().ToString();
  EXPECT_EQ(*tag, 1u);
  EXPECT_TRUE(conn->WaitForConfirms(*tag, 5s).ok());
  ASSERT_TRUE(conn->DeleteExchange(exchange).ok());
}

TEST_F(AmqpConnectionTest, UnreachableBrokerAndBadLoginAreClearErrorsNotHangs) {
  if (url_.host.empty()) return;
  AmqpUrl nowhere = url_;
  nowhere.port = 1;  // nothing listens there
  Result<std::unique_ptr<AmqpConnection>> refused = AmqpConnection::Open(nowhere, "test", 2s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find(nowhere.Redacted()), std::string::npos);

  AmqpUrl wrong = url_;
  wrong.password = "not-the-password";
  Result<std::unique_ptr<AmqpConnection>> login = AmqpConnection::Open(wrong, "test", 5s);
  ASSERT_FALSE(login.ok());
  EXPECT_EQ(login.status().code(), StatusCode::kInvalidArgument) << login.status().ToString();
  EXPECT_EQ(login.status().message().find("not-the-password"), std::string::npos);
}

}  // namespace
}  // namespace sluice::rabbitmq::detail
