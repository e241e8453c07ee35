#include "record_codec.h"

#include <gtest/gtest.h>

#include <random>

#include "keys.h"

namespace sluice::internal {
namespace {

RecordedEvent SampleEvent() {
  RecordedEvent e;
  e.stream = "account-42";
  e.version = 7;
  e.position = 99;
  e.event_id = "0b8f6c2e-7d1a-4c55-9e1f-2a3b4c5d6e7f";
  e.type = "bank.MoneyDeposited.v1";
  e.content_type = ContentType::kJson;
  e.payload = std::string("{\"amount\":5}\0tail", 17);
  e.metadata.correlation_id = "corr";
  e.metadata.causation_id = "cause";
  e.metadata.extra = {{"user", "ana"}, {"ip", "10.0.0.1"}};
  e.recorded_at_us = 1'700'000'000'123'456;
  return e;
}

TEST(RecordCodecTest, RoundTripsEveryField) {
  const RecordedEvent e = SampleEvent();
  std::string bytes;
  EncodeRecord(e, &bytes);
  RecordedEvent back;
  ASSERT_TRUE(DecodeRecord(bytes, 99, &back).ok());
  EXPECT_EQ(back, e);
}

TEST(RecordCodecTest, EveryTruncationIsCorruptionNamingThePosition) {
  std::string bytes;
  EncodeRecord(SampleEvent(), &bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    RecordedEvent out;
    Status s = DecodeRecord(std::string_view(bytes).substr(0, n), 1234, &out);
    ASSERT_EQ(s.code(), StatusCode::kCorruption) << "length " << n;
    EXPECT_NE(s.message().find("position 1234"), std::string::npos) << s.message();
  }
}

TEST(RecordCodecTest, EverySingleBitFlipIsDetected) {
  std::string bytes;
  EncodeRecord(SampleEvent(), &bytes);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      RecordedEvent out;
      EXPECT_EQ(DecodeRecord(damaged, 5, &out).code(), StatusCode::kCorruption)
          << "byte " << i << " bit " << bit;
    }
  }
}

// A record whose checksum is valid but whose lengths lie must still be refused without reading
// past the end or allocating what the length claims.
TEST(RecordCodecTest, ImpossibleLengthsWithValidChecksumAreCorruption) {
  std::string bytes;
  EncodeRecord(SampleEvent(), &bytes);
  const std::size_t stream_length_at = 5 + 33;  // header, then the fixed fields
  for (std::uint32_t claimed : {0xFFFFFFFFu, 0x7FFFFFFFu, 1u << 20}) {
    std::string damaged = bytes;
    std::string length;
    PutBigEndian32(&length, claimed);
    damaged.replace(stream_length_at, 4, length);
    std::string crc;
    PutBigEndian32(&crc, Crc32c(std::string_view(damaged).substr(5)));
    damaged.replace(1, 4, crc);
    RecordedEvent out;
    Status s = DecodeRecord(damaged, 8, &out);
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_NE(s.message().find("position 8"), std::string::npos);
  }
}

TEST(RecordCodecTest, UnknownFormatAndContentTypeAreCorruption) {
  std::string bytes;
  EncodeRecord(SampleEvent(), &bytes);
  std::string wrong_format = bytes;
  wrong_format[0] = 9;
  RecordedEvent out;
  EXPECT_EQ(DecodeRecord(wrong_format, 1, &out).code(), StatusCode::kCorruption);

  std::string wrong_content = bytes;
  wrong_content[5 + 32] = 7;
  std::string crc;
  PutBigEndian32(&crc, Crc32c(std::string_view(wrong_content).substr(5)));
  wrong_content.replace(1, 4, crc);
  Status s = DecodeRecord(wrong_content, 1, &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("content type"), std::string::npos);
}

TEST(RecordCodecTest, RandomBytesNeverDecodeIntoNonsense) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20000; ++round) {
    std::string bytes(rng() % 128, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    RecordedEvent out;
    EXPECT_EQ(DecodeRecord(bytes, 3, &out).code(), StatusCode::kCorruption);
  }
}

TEST(Crc32cTest, HardwareAndPortableAgreeWithKnownValue) {
  // The CRC-32C check value of "123456789" is 0xE3069283.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable("123456789"), 0xE3069283u);
  std::string data;
  for (int i = 0; i < 1000; ++i) {
    data.push_back(static_cast<char>(i * 7));
    ASSERT_EQ(Crc32c(data), Crc32cPortable(data)) << i;
  }
}

}  // namespace
}  // namespace sluice::internal
