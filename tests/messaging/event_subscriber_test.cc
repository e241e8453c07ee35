// EventSubscriber against the test broker: events published as a relay publishes them land in a
// local store under the same streams, versions and ids, once; out-of-order, gaps, conflicts and
// malformed messages are handled as event_subscriber.h promises.
#include "sluice/rabbitmq/event_subscriber.h"

#include <gtest/gtest.h>

#include "messaging_test_util.h"
#include "sluice/core/in_memory_event_store.h"

namespace sluice::messaging_testing {
namespace {

class EventSubscriberTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    exchange_ = testing::UniqueAmqpName("events");
    queue_ = testing::UniqueAmqpName("copy");
  }
  void TearDown() override {
    if (publisher_ == nullptr) return;
    for (const std::string& q : {queue_, queue_ + ".dlq"}) {
      publisher_->DeleteQueue(q).PermitUncheckedError();
    }
    publisher_->DeleteExchange(queue_ + ".dlx").PermitUncheckedError();
    publisher_->DeleteExchange(exchange_).PermitUncheckedError();
  }

  rabbitmq::EventSubscriberOptions Options() {
    rabbitmq::EventSubscriberOptions options;
    options.exchange = exchange_;
    options.queue = queue_;
    options.retry_backoff = 5ms;
    options.max_backoff = 20ms;
    options.idle = 200ms;
    return options;
  }

  void PublishEvent(const RecordedEvent& event) {
    Publish(exchange_, rabbitmq::DefaultRoutingKey(event), rabbitmq::EventToMessage(event));
  }

  std::vector<RecordedEvent> Stream(EventStore& store, const std::string& stream) {
    Result<std::vector<RecordedEvent>> events = store.ReadStream(*StreamId::Make(stream), 0, 1000);
    return events.ok() ? *events : std::vector<RecordedEvent>{};
  }

  std::string exchange_;
  std::string queue_;
};

TEST_F(EventSubscriberTest, CopiesRelayedEventsUnderTheSameStreamsVersionsAndIds) {
  const std::vector<RecordedEvent> source = SourceEvents({{"order-1", 3}, {"order-2", 2}});
  InMemoryEventStore local;
  rabbitmq::EventSubscriber subscriber(url_, local, Options());
  ASSERT_TRUE(subscriber.Start().ok());
  for (const RecordedEvent& e : source) PublishEvent(e);
  ASSERT_TRUE(subscriber.Run(nullptr, /*until_empty=*/true).ok());

  EXPECT_EQ(subscriber.stats().received, 5u);
  EXPECT_EQ(subscriber.stats().appended, 5u);
  EXPECT_EQ(subscriber.stats().dead_lettered, 0u);
  for (const std::string stream : {"order-1", "order-2"}) {
    std::vector<RecordedEvent> want;
    for (const RecordedEvent& e : source) {
      if (e.stream == stream) want.push_back(e);
    }
    const std::vector<RecordedEvent> got = Stream(local, stream);
    ASSERT_EQ(got.size(), want.size()) << stream;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].event_id, want[i].event_id);
      EXPECT_EQ(got[i].version, want[i].version);
      EXPECT_EQ(got[i].type, want[i].type);
      EXPECT_EQ(got[i].payload, want[i].payload);
      EXPECT_EQ(got[i].content_type, want[i].content_type);
      EXPECT_EQ(got[i].metadata, want[i].metadata);
    }
  }
  EXPECT_TRUE(DeadLetters(queue_).empty());
}

TEST_F(EventSubscriberTest, RedeliveredDuplicatesAreNotAppendedTwice) {
  const std::vector<RecordedEvent> source = SourceEvents({{"order-1", 3}, {"order-2", 2}});
  InMemoryEventStore local;
  rabbitmq::EventSubscriber subscriber(url_, local, Options());
  ASSERT_TRUE(subscriber.Start().ok());
  // At-least-once: the relay may publish everything again after a crash.
  for (const RecordedEvent& e : source) PublishEvent(e);
  for (const RecordedEvent& e : source) PublishEvent(e);
  PublishEvent(source[0]);
  ASSERT_TRUE(subscriber.Run(nullptr, true).ok());

  EXPECT_EQ(subscriber.stats().received, 11u);
  EXPECT_EQ(subscriber.stats().appended, 5u);
  EXPECT_EQ(subscriber.stats().duplicates, 6u);
  EXPECT_EQ(local.HeadPosition(), 5u);
  EXPECT_EQ(Stream(local, "order-1").size(), 3u);
  EXPECT_TRUE(DeadLetters(queue_).empty());
}

TEST_F(EventSubscriberTest, AnEventAheadOfItsPredecessorWaitsForIt) {
  const std::vector<RecordedEvent> source = SourceEvents({{"order-1", 3}});
  InMemoryEventStore local;
  rabbitmq::EventSubscriber subscriber(url_, local, Options());
  ASSERT_TRUE(subscriber.Start().ok());
  PublishEvent(source[1]);  // version 1 before version 0: a gap at first
  PublishEvent(source[0]);
  PublishEvent(source[2]);
  ASSERT_TRUE(subscriber.Run(nullptr, true).ok());

  const std::vector<RecordedEvent> got = Stream(local, "order-1");
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i].event_id, source[i].event_id);
  EXPECT_GE(subscriber.stats().retried, 1u);
  EXPECT_EQ(subscriber.stats().dead_lettered, 0u);
}

TEST_F(EventSubscriberTest, AGapThatNeverFillsIsDeadLetteredWithReasonAndAttempts) {
  const std::vector<RecordedEvent> source = SourceEvents({{"order-1", 2}});
  InMemoryEventStore local;
  rabbitmq::EventSubscriberOptions options = Options();
  options.max_attempts = 3;
  rabbitmq::EventSubscriber subscriber(url_, local, options);
  ASSERT_TRUE(subscriber.Start().ok());
  PublishEvent(source[1]);  // version 0 never comes
  ASSERT_TRUE(subscriber.Run(nullptr, true).ok());

  EXPECT_EQ(local.HeadPosition(), 0u);
  EXPECT_EQ(subscriber.stats().retried, 2u);
  EXPECT_EQ(subscriber.stats().dead_lettered, 1u);
  const std::vector<DeadLetter> letters = DeadLetters(queue_);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].message.message_id, source[1].event_id);
  EXPECT_EQ(letters[0].attempts, 3);
  EXPECT_EQ(letters[0].queue, queue_);
  EXPECT_EQ(letters[0].exchange, exchange_);
  EXPECT_EQ(letters[0].routing_key, rabbitmq::DefaultRoutingKey(source[1]));
  EXPECT_NE(letters[0].reason.find("gap"), std::string::npos) << letters[0].reason;
  EXPECT_NE(letters[0].reason.find("gave up after 3"), std::string::npos) << letters[0].reason;
  // The body and properties are kept.
  EXPECT_EQ(letters[0].message.body, source[1].payload);
  EXPECT_EQ(letters[0].message.type, source[1].type);
  EXPECT_EQ(letters[0].message.headers.at("sluice-stream"), "order-1");

  // Once the missing event arrives, requeueing the dead letter completes the stream.
  PublishEvent(source[0]);
  Result<std::uint64_t> requeued = rabbitmq::RequeueDeadLetters(url_, queue_);
  ASSERT_TRUE(requeued.ok()) << requeued.status().ToString();
  EXPECT_EQ(*requeued, 1u);
  ASSERT_TRUE(subscriber.Run(nullptr, true).ok());
  EXPECT_EQ(Stream(local, "order-1").size(), 2u);
  EXPECT_TRUE(DeadLetters(queue_).empty());
}

TEST_F(EventSubscriberTest, AnotherEventAtTheSameVersionIsAConflictDeadLetter) {
  const std::vector<RecordedEvent> source = SourceEvents({{"order-1", 1}});
  InMemoryEventStore local;
  EventData other;
  other.type = "shop.Local.v1";
  other.payload = "x";
  ASSERT_TRUE(local.Append(*StreamId::Make("order-1"), ExpectedVersion::NoStream(), {other}).ok());
  rabbitmq::EventSubscriber subscriber(url_, local, Options());
  ASSERT_TRUE(subscriber.Start().ok());
  PublishEvent(source[0]);
  ASSERT_TRUE(subscriber.Run(nullptr, true).ok());

  EXPECT_EQ(local.HeadPosition(), 1u);
  const std::vector<DeadLetter> letters = DeadLetters(queue_);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(letters[0].reason.find("conflict"), std::string::npos) << letters[0].reason;
  EXPECT_EQ(letters[0].attempts, 1);
}

TEST_F(EventSubscriberTest, MalformedMessagesAreDeadLetteredWithReasonsAndNeverAppended) {
  const std::vector<RecordedEvent> source = SourceEvents({{"order-1", 1}});
  InMemoryEventStore local;
  rabbitmq::EventSubscriber subscriber(url_, local, Options());
  ASSERT_TRUE(subscriber.Start().ok());

  AmqpMessage no_id = rabbitmq::EventToMessage(source[0]);
  no_id.message_id.clear();
  AmqpMessage bad_version = rabbitmq::EventToMessage(source[0]);
  bad_version.message_id = "0b7c1d4e-1111-4222-8333-444455556666";
  bad_version.headers["sluice-version"] = "seven";
  AmqpMessage not_an_event;
  not_an_event.body = "\xff\xfe not json";
  not_an_event.message_id = "hello";
  Publish(exchange_, "order.x", no_id);
  Publish(exchange_, "order.x", bad_version);
  Publish(exchange_, "order.x", not_an_event);
  PublishEvent(source[0]);  // a good one after them still lands
  ASSERT_TRUE(subscriber.Run(nullptr, true).ok());

  EXPECT_EQ(subscriber.stats().appended, 1u);
  EXPECT_EQ(subscriber.stats().dead_lettered, 3u);
  EXPECT_EQ(local.HeadPosition(), 1u);
  const std::vector<DeadLetter> letters = DeadLetters(queue_);
  ASSERT_EQ(letters.size(), 3u);
  for (const DeadLetter& letter : letters) {
    EXPECT_EQ(letter.reason.rfind("malformed: ", 0), 0u) << letter.reason;
    EXPECT_EQ(letter.attempts, 1);
    EXPECT_EQ(letter.queue, queue_);
    EXPECT_EQ(letter.routing_key, "order.x");
  }
  EXPECT_NE(letters[1].reason.find("sluice-version"), std::string::npos) << letters[1].reason;
  EXPECT_EQ(letters[2].message.body, not_an_event.body);
  // Listing removed nothing and shows each once.
  EXPECT_EQ(DeadLetters(queue_ + ".dlq").size(), 3u);
}

}  // namespace
}  // namespace sluice::messaging_testing
