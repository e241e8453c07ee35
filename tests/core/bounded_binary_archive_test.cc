#include "sluice/core/bounded_binary_archive.h"

#include <gtest/gtest.h>

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace sluice {
namespace {

struct Empty {
  template <class Archive>
  void serialize(Archive&) {}
  friend bool operator==(const Empty&, const Empty&) = default;
};

struct Sample {
  std::int64_t i64 = 0;
  std::uint16_t u16 = 0;
  double d = 0;
  float f = 0;
  bool flag = false;
  std::string text;
  std::vector<std::int32_t> numbers;
  std::map<std::string, std::vector<std::string>> nested;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(i64, u16, d, f, flag, text, numbers, nested);
  }
  friend bool operator==(const Sample&, const Sample&) = default;
};

Sample MakeSample() {
  Sample s;
  s.i64 = std::numeric_limits<std::int64_t>::min() + 12345;
  s.u16 = 0xBEEF;
  s.d = -1.0 / 3.0;
  s.f = 2.5f;
  s.flag = true;
  s.text = std::string("with\0nul", 8);
  s.numbers = {1, -1, 0x12345678};
  s.nested["a"] = {"x", "", "yz"};
  s.nested[""] = {};
  return s;
}

template <typename T>
std::string Write(const T& value, cereal::PortableBinaryOutputArchive::Options options =
                                      cereal::PortableBinaryOutputArchive::Options::Default()) {
  std::ostringstream out;
  {
    cereal::PortableBinaryOutputArchive archive(out, options);
    archive(value);
  }
  return std::move(out).str();
}

template <typename T>
T Read(const std::string& bytes, std::size_t* remaining = nullptr) {
  BoundedBinaryInputArchive archive(bytes);
  T value{};
  archive(value);
  if (remaining != nullptr) *remaining = archive.remaining();
  return value;
}

TEST(BoundedBinaryArchiveTest, ReadsWhatPortableBinaryWrites) {
  const Sample sample = MakeSample();
  std::size_t remaining = 99;
  EXPECT_EQ(Read<Sample>(Write(sample), &remaining), sample);
  EXPECT_EQ(remaining, 0u);
}

TEST(BoundedBinaryArchiveTest, ReadsBigEndianPortableBinary) {
  const Sample sample = MakeSample();
  const std::string bytes =
      Write(sample, cereal::PortableBinaryOutputArchive::Options::BigEndian());
  EXPECT_EQ(Read<Sample>(bytes), sample);
}

TEST(BoundedBinaryArchiveTest, ReadsEmptyContainersAndStrings) {
  Sample empty;
  EXPECT_EQ(Read<Sample>(Write(empty)), empty);
}

TEST(BoundedBinaryArchiveTest, ReportsTrailingBytesAsRemaining) {
  std::string bytes = Write(std::int32_t{7}) + "xyz";
  std::size_t remaining = 0;
  EXPECT_EQ(Read<std::int32_t>(bytes, &remaining), 7);
  EXPECT_EQ(remaining, 3u);
}

TEST(BoundedBinaryArchiveTest, RefusesEmptyInputAndBadHeader) {
  EXPECT_THROW(Read<std::int32_t>(""), cereal::Exception);
  std::string bad_header = Write(std::int32_t{7});
  bad_header[0] = 2;
  EXPECT_THROW(Read<std::int32_t>(bad_header), cereal::Exception);
}

TEST(BoundedBinaryArchiveTest, RefusesTruncatedInputAtEveryLength) {
  const std::string bytes = Write(MakeSample());
  for (std::size_t keep = 0; keep < bytes.size(); ++keep) {
    EXPECT_THROW(Read<Sample>(bytes.substr(0, keep)), cereal::Exception) << "kept " << keep;
  }
}

TEST(BoundedBinaryArchiveTest, RefusesSizesTheRemainingBytesCannotHold) {
  // Header, then a string length of 2^40 with three bytes behind it.
  std::string bytes(1, '\x01');
  const std::uint64_t claimed = std::uint64_t{1} << 40;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(claimed >> (8 * i)));
  bytes += "abc";
  EXPECT_THROW(Read<std::string>(bytes), cereal::Exception);
  EXPECT_THROW(Read<std::vector<std::int64_t>>(bytes), cereal::Exception);
  EXPECT_THROW((Read<std::map<std::string, std::string>>(bytes)), cereal::Exception);
  // Maximum value too.
  std::string max(1, '\x01');
  max.append(8, '\xFF');
  EXPECT_THROW(Read<std::string>(max), cereal::Exception);
}

TEST(BoundedBinaryArchiveTest, ContainerOfEmptyElementsRoundTrips) {
  // Elements that take no bytes at all: the size check must not refuse what cereal wrote.
  std::vector<Empty> empties(5);
  std::size_t remaining = 99;
  EXPECT_EQ(Read<std::vector<Empty>>(Write(empties), &remaining), empties);
  EXPECT_EQ(remaining, 0u);
}

}  // namespace
}  // namespace sluice
