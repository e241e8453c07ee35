// CommandConsumer and CommandSender against the test broker, in one process over an in-memory
// store: message id = command id (a redelivery is a no-op), acks after dispatch, retries of
// transient failures, dead letters for poison, malformed and rejected commands, and the dead-letter
// tools (list without removing, requeue).
#include "sluice/rabbitmq/command_consumer.h"

#include <gtest/gtest.h>

#include "messaging_test_util.h"
#include "shop_domain.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/core/uuid.h"

namespace sluice::messaging_testing {
namespace {

class CommandConsumerTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    queue_ = testing::UniqueAmqpName("commands");
    sender_ = std::make_unique<rabbitmq::CommandSender>(url_);
    shop_ = std::make_unique<shop::ShopService>(store_);
    shop_->bus.Use([this](CommandEnvelope& c, const CommandBus::Next& next) {
      seen_.push_back(c.metadata);
      return next(c);
    });
    shop::flaky_fails = true;
  }
  void TearDown() override {
    consumer_.reset();
    if (publisher_ == nullptr) return;
    publisher_->DeleteQueue(queue_).PermitUncheckedError();
    publisher_->DeleteQueue(queue_ + ".dlq").PermitUncheckedError();
    publisher_->DeleteExchange(queue_ + ".dlx").PermitUncheckedError();
  }

  rabbitmq::CommandConsumer& Consumer(int max_attempts = 5) {
    rabbitmq::CommandConsumerOptions options;
    options.queue = queue_;
    options.max_attempts = max_attempts;
    options.retry_backoff = 5ms;
    options.max_backoff = 20ms;
    consumer_ =
        std::make_unique<rabbitmq::CommandConsumer>(url_, shop_->bus, shop_->routes, options);
    EXPECT_TRUE(consumer_->Start().ok());
    return *consumer_;
  }

  Status Send(const shop::AddItem& command, CommandMetadata metadata = {}) {
    return sender_->Send(queue_, "shop.AddItem", command, std::move(metadata));
  }

  // Handles messages until none comes within a second.
  void Drain() {
    for (int i = 0; i < 1000; ++i) {
      Result<bool> handled = consumer_->PollOnce(1s);
      ASSERT_TRUE(handled.ok()) << handled.status().ToString();
      if (!*handled) return;
    }
    FAIL() << "the queue never drained";
  }

  InMemoryEventStore store_;
  std::unique_ptr<shop::ShopService> shop_;
  std::vector<CommandMetadata> seen_;
  std::string queue_;
  std::unique_ptr<rabbitmq::CommandSender> sender_;
  std::unique_ptr<rabbitmq::CommandConsumer> consumer_;
};

TEST_F(CommandConsumerTest, DispatchesWithTheMessageIdAsCommandIdAndARedeliveryIsANoop) {
  Consumer();
  CommandMetadata metadata;
  metadata.command_id = NewUuid();
  metadata.correlation_id = "order-flow-9";
  metadata.causation_id = "event-that-caused-it";
  metadata.headers = {{"tenant", "t7"}};
  ASSERT_TRUE(Send({"c1", 3}, metadata).ok());
  ASSERT_TRUE(Send({"c1", 3}, metadata).ok());  // the same command id again
  Drain();

  ASSERT_EQ(seen_.size(), 2u);
  EXPECT_EQ(seen_[0].command_id, metadata.command_id);
  EXPECT_EQ(seen_[0].correlation_id, "order-flow-9");
  EXPECT_EQ(seen_[0].causation_id, "event-that-caused-it");
  EXPECT_EQ(seen_[0].headers, metadata.headers);
  Result<std::vector<RecordedEvent>> events = store_.ReadStream(*StreamId::Make("cart-c1"), 0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event_id, EventIdForCommand(metadata.command_id, 0));
  EXPECT_EQ((*events)[0].metadata.correlation_id, "order-flow-9");
  const rabbitmq::CommandConsumerStats stats = consumer_->stats();
  EXPECT_EQ(stats.received, 2u);
  EXPECT_EQ(stats.handled, 2u);
  EXPECT_EQ(stats.duplicates, 1u);
  EXPECT_EQ(stats.dead_lettered, 0u);
}

TEST_F(CommandConsumerTest, ACommandHandledBeforeIsAckedAsADuplicateWithoutAppending) {
  // As after a consumer that appended but died before its ack (the broker delivers it again).
  Consumer();
  CommandMetadata metadata;
  metadata.command_id = NewUuid();
  ASSERT_TRUE(Send({"c2", 1}, metadata).ok());
  ASSERT_TRUE(shop_->bus.Dispatch(shop::AddItem{"c2", 1}, metadata).ok());  // "handled" already
  Drain();
  EXPECT_EQ(consumer_->stats().duplicates, 1u);
  EXPECT_EQ(store_.HeadPosition(), 1u);
}

TEST_F(CommandConsumerTest, APoisonCommandIsRetriedThenDeadLetteredWithTheError) {
  Consumer(/*max_attempts=*/3);
  ASSERT_TRUE(Send({"c3", 666}).ok());
  ASSERT_TRUE(Send({"c3", 2}).ok());  // others are not held up
  Drain();

  EXPECT_EQ(seen_.size(), 4u);  // 3 attempts + the good one
  EXPECT_EQ(store_.HeadPosition(), 1u);
  EXPECT_EQ(consumer_->stats().retried, 2u);
  EXPECT_EQ(consumer_->stats().dead_lettered, 1u);
  const std::vector<DeadLetter> letters = DeadLetters(queue_);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].attempts, 3);
  EXPECT_EQ(letters[0].queue, queue_);
  EXPECT_EQ(letters[0].message.type, "shop.AddItem");
  EXPECT_NE(letters[0].reason.find("gave up after 3 attempts"), std::string::npos)
      << letters[0].reason;
  EXPECT_NE(letters[0].reason.find("poison"), std::string::npos) << letters[0].reason;
  EXPECT_NE(letters[0].message.body.find("666"), std::string::npos);
}

TEST_F(CommandConsumerTest, MalformedAndRejectedCommandsGoStraightToTheDeadLetters) {
  Consumer();
  auto message = [](std::string type, std::string body, std::string id) {
    AmqpMessage m;
    m.type = std::move(type);
    m.body = std::move(body);
    m.message_id = std::move(id);
    m.content_type = "application/json";
    return m;
  };
  Publish("", queue_, message("shop.AddItem", R"({"cart":"c4","qty":1})", ""));
  Publish("", queue_, message("shop.Unknown", R"({"cart":"c4","qty":1})", NewUuid()));
  Publish("", queue_, message("shop.AddItem", "{not json", NewUuid()));
  Publish("", queue_, message("shop.AddItem", R"({"cart":"c4"})", NewUuid()));
  ASSERT_TRUE(Send({"c4", 0}).ok());  // rejected by the business rule
  ASSERT_TRUE(Send({"c4", 5}).ok());
  Drain();

  EXPECT_EQ(store_.HeadPosition(), 1u);
  EXPECT_EQ(consumer_->stats().retried, 0u);
  const std::vector<DeadLetter> letters = DeadLetters(queue_);
  ASSERT_EQ(letters.size(), 5u);
  const std::vector<std::string> expected = {"no message id", "unknown command type 'shop.Unknown'",
                                             "does not decode", "does not decode",
                                             "quantity must be positive"};
  for (std::size_t i = 0; i < letters.size(); ++i) {
    EXPECT_NE(letters[i].reason.find(expected[i]), std::string::npos) << letters[i].reason;
    EXPECT_EQ(letters[i].attempts, 1);
    EXPECT_EQ(letters[i].queue, queue_);
  }
  EXPECT_EQ(letters[4].reason.find("malformed"), std::string::npos) << letters[4].reason;
  EXPECT_NE(letters[4].reason.find("Rejected"), std::string::npos) << letters[4].reason;
}

TEST_F(CommandConsumerTest, ListingLeavesDeadLettersAndRequeueBringsThemBackToBeConsumed) {
  Consumer(/*max_attempts=*/1);
  ASSERT_TRUE(Send({"c5", 777}).ok());
  ASSERT_TRUE(Send({"c6", 777}).ok());
  Drain();
  EXPECT_EQ(store_.HeadPosition(), 0u);
  ASSERT_EQ(DeadLetters(queue_).size(), 2u);
  ASSERT_EQ(DeadLetters(queue_).size(), 2u);  // still there, each listed once
  ASSERT_EQ(DeadLetters(queue_ + ".dlq").size(), 2u);

  shop::flaky_fails = false;  // the cause is fixed
  Result<std::uint64_t> requeued = rabbitmq::RequeueDeadLetters(url_, queue_);
  ASSERT_TRUE(requeued.ok()) << requeued.status().ToString();
  EXPECT_EQ(*requeued, 2u);
  EXPECT_TRUE(DeadLetters(queue_).empty());
  Drain();
  EXPECT_EQ(store_.HeadPosition(), 2u);
  EXPECT_EQ(consumer_->stats().dead_lettered, 2u);
  EXPECT_EQ(consumer_->stats().handled, 2u);
}

TEST_F(CommandConsumerTest, DeadLetterToolsReportAQueueThatDoesNotExist) {
  Result<std::uint64_t> listed =
      rabbitmq::ListDeadLetters(url_, testing::UniqueAmqpName("nope"), [](const DeadLetter&) {});
  EXPECT_TRUE(listed.status().IsNotFound()) << listed.status().ToString();
  Result<std::uint64_t> requeued =
      rabbitmq::RequeueDeadLetters(url_, testing::UniqueAmqpName("nope"));
  EXPECT_TRUE(requeued.status().IsNotFound()) << requeued.status().ToString();
  EXPECT_TRUE(sender_->Send(testing::UniqueAmqpName("nope"), "shop.AddItem", shop::AddItem{"x", 1})
                  .IsNotFound());
}

}  // namespace
}  // namespace sluice::messaging_testing
