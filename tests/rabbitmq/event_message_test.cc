#include "sluice/rabbitmq/event_message.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "sluice/core/uuid.h"

namespace sluice::rabbitmq {
namespace {

RecordedEvent SampleEvent() {
  RecordedEvent e;
  e.stream = "order-42";
  e.version = 3;
  e.position = 1234;
  e.event_id = NewUuid();
  e.type = "shop.OrderPlaced.v1";
  e.content_type = ContentType::kJson;
  e.payload = R"({"total":12})";
  e.metadata.correlation_id = "corr-1";
  e.metadata.causation_id = "cause-1";
  e.metadata.extra = {{"tenant", "acme"}, {"user", "bob"}};
  e.recorded_at_us = 1'700'000'000'123'456;
  return e;
}

TEST(EventMessageTest, RoundTripKeepsEverythingAReceiverNeeds) {
  const RecordedEvent e = SampleEvent();
  const AmqpMessage m = EventToMessage(e);
  EXPECT_EQ(m.message_id, e.event_id);
  EXPECT_EQ(m.type, e.type);
  EXPECT_EQ(m.correlation_id, "corr-1");
  EXPECT_EQ(m.content_type, kJsonContentType);
  EXPECT_EQ(m.timestamp, 1'700'000'000);
  EXPECT_TRUE(m.persistent);
  EXPECT_EQ(DefaultRoutingKey(e), "order.shop.OrderPlaced.v1");

  Result<InboundEvent> back = MessageToEvent(m);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->stream, e.stream);
  EXPECT_EQ(back->version, e.version);
  EXPECT_EQ(back->source_position, e.position);
  EXPECT_EQ(back->recorded_at_us, e.recorded_at_us);
  EXPECT_EQ(back->data.event_id, e.event_id);
  EXPECT_EQ(back->data.type, e.type);
  EXPECT_EQ(back->data.content_type, e.content_type);
  EXPECT_EQ(back->data.payload, e.payload);
  EXPECT_EQ(back->data.metadata, e.metadata);
}

TEST(EventMessageTest, BinaryPayloadsTravelByteForByte) {
  RecordedEvent e = SampleEvent();
  e.content_type = ContentType::kBinary;
  e.payload = std::string("\0\x01\xff\x80tail", 8);
  Result<InboundEvent> back = MessageToEvent(EventToMessage(e));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->data.content_type, ContentType::kBinary);
  EXPECT_EQ(back->data.payload, e.payload);
}

TEST(EventMessageTest, MessagesThatAreNotEventsAreRejectedWithAReason) {
  const AmqpMessage good = EventToMessage(SampleEvent());
  struct Case {
    const char* what;
    std::function<void(AmqpMessage&)> spoil;
  };
  const std::vector<Case> cases = {
      {"no id", [](AmqpMessage& m) { m.message_id.clear(); }},
      {"not a UUID", [](AmqpMessage& m) { m.message_id = "123"; }},
      {"bad type", [](AmqpMessage& m) { m.type = "no version"; }},
      {"no type", [](AmqpMessage& m) { m.type.clear(); }},
      {"content type", [](AmqpMessage& m) { m.content_type = "text/plain"; }},
      {"no stream", [](AmqpMessage& m) { m.headers.erase("sluice-stream"); }},
      {"bad stream", [](AmqpMessage& m) { m.headers["sluice-stream"] = ""; }},
      {"no version", [](AmqpMessage& m) { m.headers.erase("sluice-version"); }},
      {"bad version", [](AmqpMessage& m) { m.headers["sluice-version"] = "3x"; }},
  };
  for (const Case& c : cases) {
    AmqpMessage m = good;
    c.spoil(m);
    Result<InboundEvent> back = MessageToEvent(m);
    ASSERT_FALSE(back.ok()) << c.what;
    EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(back.status().message().find("is not an event"), std::string::npos) << c.what;
  }
}

}  // namespace
}  // namespace sluice::rabbitmq
