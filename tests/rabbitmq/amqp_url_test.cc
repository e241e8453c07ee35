#include "sluice/rabbitmq/amqp_url.h"

#include <gtest/gtest.h>

namespace sluice::rabbitmq {
namespace {

TEST(AmqpUrlTest, ParsesEveryPart) {
  Result<AmqpUrl> url = ParseAmqpUrl("amqp://alice:s%40cret@broker.example:5673/orders");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->user, "alice");
  EXPECT_EQ(url->password, "s@cret");
  EXPECT_EQ(url->host, "broker.example");
  EXPECT_EQ(url->port, 5673);
  EXPECT_EQ(url->vhost, "orders");
}

TEST(AmqpUrlTest, DefaultsFollowTheRabbitmqUriSpec) {
  Result<AmqpUrl> url = ParseAmqpUrl("amqp://localhost");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->user, "guest");
  EXPECT_EQ(url->password, "guest");
  EXPECT_EQ(url->port, 5672);
  EXPECT_EQ(url->vhost, "/");
  EXPECT_EQ(ParseAmqpUrl("amqp://u:p@h:1/")->vhost, "/");
  EXPECT_EQ(ParseAmqpUrl("amqp://u:p@h:1/%2f")->vhost, "/");
  EXPECT_EQ(ParseAmqpUrl("amqp://u:p@h:1/%2Fshop")->vhost, "/shop");
  EXPECT_EQ(ParseAmqpUrl("amqp://u@h")->password, "");
  EXPECT_EQ(ParseAmqpUrl("amqp://u:p@[::1]:5672/v")->host, "::1");
}

TEST(AmqpUrlTest, RedactedNeverShowsThePassword) {
  Result<AmqpUrl> url = ParseAmqpUrl("amqp://alice:topsecret@h:5672/%2f");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->Redacted(), "amqp://alice:***@h:5672/%2F");
  EXPECT_EQ(url->Redacted().find("topsecret"), std::string::npos);
  EXPECT_EQ(ParseAmqpUrl("amqp://bob@h:1/v")->Redacted(), "amqp://bob@h:1/v");
}

TEST(AmqpUrlTest, RejectsWhatItCannotUseWithoutEchoingThePassword) {
  for (const char* bad :
       {"", "http://h", "amqps://u:p@h/v", "amqp://", "amqp://u:p@:5672/v", "amqp://u:p@h:0/v",
        "amqp://u:p@h:70000/v", "amqp://u:p@h:x/v", "amqp://u:p@h:/v", "amqp://u:p@h/a/b",
        "amqp://u:p@h/v?heartbeat=5", "amqp://u:p@h/%zz", "amqp://:p@h/v", "amqp://u:p@h h/v",
        "amqp://u:p@[::1/v", "amqp://u:p@h/%00"}) {
    Result<AmqpUrl> url = ParseAmqpUrl(bad);
    EXPECT_FALSE(url.ok()) << bad;
    if (!url.ok()) {
      EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument) << bad;
      EXPECT_EQ(url.status().message().find(":p@"), std::string::npos) << bad;
    }
  }
}

}  // namespace
}  // namespace sluice::rabbitmq
