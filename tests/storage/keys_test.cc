#include "keys.h"

#include <gtest/gtest.h>

namespace sluice::internal {
namespace {

TEST(KeysTest, PositionKeysSortNumerically) {
  EXPECT_LT(PositionKey(1), PositionKey(2));
  EXPECT_LT(PositionKey(255), PositionKey(256));
  EXPECT_LT(PositionKey(0xFFFFFFFF), PositionKey(0x100000000ULL));
  EXPECT_EQ(ParsePositionKey(PositionKey(123456789012ULL)), 123456789012ULL);
}

TEST(KeysTest, StreamKeysGroupByStreamThenVersion) {
  EXPECT_LT(StreamKey("a", 255), StreamKey("a", 256));
  // "a" with any version sorts before "a-1", so one stream's keys are contiguous.
  EXPECT_LT(StreamKey("a", 1'000'000), StreamKey("a-1", 0));
  EXPECT_LT(StreamKey("a", 5), StreamKey("ab", 0));
  std::string_view stream;
  StreamVersion version = 0;
  const std::string key = StreamKey("account-1", 42);
  ASSERT_TRUE(ParseStreamKey(key, &stream, &version));
  EXPECT_EQ(stream, "account-1");
  EXPECT_EQ(version, 42);
  EXPECT_FALSE(ParseStreamKey("short", &stream, &version));
}

TEST(KeysTest, HeadValuesRoundTripAndRejectWrongSizes) {
  HeadValue head{17, 99};
  HeadValue back;
  ASSERT_TRUE(DecodeHead(EncodeHead(head), &back));
  EXPECT_EQ(back.version, 17);
  EXPECT_EQ(back.last_position, 99u);
  EXPECT_FALSE(DecodeHead("123", &back));
  GlobalPosition p = 0;
  EXPECT_FALSE(DecodePositionValue("1234567", &p));
  EXPECT_FALSE(DecodePositionValue(EncodePositionValue(0), &p));  // position 0 never stored
}

}  // namespace
}  // namespace sluice::internal
