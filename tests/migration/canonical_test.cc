// The sync watcher's value normalisation (canonical.h), rule by rule: what is equal and what is
// reported.
#include "sluice/migration/canonical.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace sluice::migration {
namespace {

CanonicalColumn Of(LogicalType type, std::string declared = "") {
  return CanonicalColumnOf(LegacyColumn{"c", std::move(declared), type});
}

bool Same(const Value& a, const Value& b, LogicalType type, std::string declared = "") {
  return CanonicallyEqual(a, b, Of(type, std::move(declared)));
}

TEST(CanonicalTest, NullEmptyAndNullTextAreThreeValues) {
  for (LogicalType type : {LogicalType::kText, LogicalType::kOther, LogicalType::kDecimal}) {
    EXPECT_FALSE(Same(Value{}, Value{std::string()}, type));
    EXPECT_FALSE(Same(Value{}, Value{std::string("<null>")}, type));
    EXPECT_FALSE(Same(Value{std::string()}, Value{std::string("<null>")}, type));
    EXPECT_TRUE(Same(Value{}, Value{}, type));
    EXPECT_TRUE(Same(Value{std::string()}, Value{std::string()}, type));
  }
}

TEST(CanonicalTest, IntegerEqualsNumericallyEqualReal) {
  EXPECT_TRUE(Same(Value{std::int64_t{1}}, Value{1.0}, LogicalType::kReal));
  EXPECT_TRUE(Same(Value{std::int64_t{1}}, Value{1.0}, LogicalType::kInteger));
  EXPECT_FALSE(Same(Value{std::int64_t{1}}, Value{1.5}, LogicalType::kReal));
  EXPECT_FALSE(
      Same(Value{std::int64_t{9007199254740993}}, Value{9007199254740992.0}, LogicalType::kReal));
  EXPECT_FALSE(Same(Value{std::int64_t{1}}, Value{std::string("1")}, LogicalType::kInteger));
}

TEST(CanonicalTest, NegativeZeroNaNAndInfinities) {
  EXPECT_TRUE(Same(Value{-0.0}, Value{0.0}, LogicalType::kReal));
  EXPECT_TRUE(Same(Value{-0.0}, Value{std::int64_t{0}}, LogicalType::kReal));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // Read models store NULL for NaN (ToReadModelValue): a legacy NaN and a read-model NULL agree.
  EXPECT_TRUE(Same(Value{nan}, Value{}, LogicalType::kReal));
  EXPECT_TRUE(Same(Value{nan}, Value{nan}, LogicalType::kReal));
  EXPECT_FALSE(Same(Value{nan}, Value{0.0}, LogicalType::kReal));
  EXPECT_TRUE(Same(Value{inf}, Value{inf}, LogicalType::kReal));
  EXPECT_TRUE(Same(Value{-inf}, Value{-inf}, LogicalType::kReal));
  EXPECT_FALSE(Same(Value{inf}, Value{-inf}, LogicalType::kReal));
  EXPECT_FALSE(Same(Value{inf}, Value{std::numeric_limits<double>::max()}, LogicalType::kReal));
}

TEST(CanonicalTest, DecimalsCompareAsExactNumbers) {
  const auto d = [](const char* a, const char* b) {
    return Same(Value{std::string(a)}, Value{std::string(b)}, LogicalType::kDecimal);
  };
  EXPECT_TRUE(d("1.10", "1.1"));
  EXPECT_TRUE(d("1.100", "1.1"));
  EXPECT_TRUE(d("1e2", "100"));
  EXPECT_TRUE(d("-0", "0"));
  EXPECT_TRUE(d("-0.00", "0"));
  EXPECT_TRUE(d("0010.5", "10.50"));
  EXPECT_TRUE(d(".5", "0.5"));
  EXPECT_FALSE(d("1.1", "1.11"));
  EXPECT_FALSE(d("-1", "1"));
  EXPECT_FALSE(d("1e2", "1e3"));
  // SQLite NUMERIC affinity stores numbers; the mirror keeps decimals as text.
  EXPECT_TRUE(Same(Value{std::int64_t{100}}, Value{std::string("1e2")}, LogicalType::kDecimal));
  EXPECT_TRUE(Same(Value{1.1}, Value{std::string("1.10")}, LogicalType::kDecimal));
  EXPECT_TRUE(Same(Value{0.1}, Value{std::string("0.1")}, LogicalType::kDecimal));
  EXPECT_FALSE(Same(Value{1.5}, Value{std::string("1.51")}, LogicalType::kDecimal));
  // Not a number: text.
  EXPECT_TRUE(d("NaN", "NaN"));
  EXPECT_FALSE(d("abc", "ABC"));
  EXPECT_FALSE(d("1.0x", "1.0"));
}

TEST(CanonicalTest, TimestampsWithTimeZoneCompareInUtc) {
  const auto tz = [](const char* a, const char* b) {
    return Same(Value{std::string(a)}, Value{std::string(b)}, LogicalType::kTimestampTz);
  };
  EXPECT_TRUE(tz("2024-01-01 12:00:00+02", "2024-01-01T10:00:00Z"));
  EXPECT_TRUE(tz("2024-01-01 12:00:00+02:00", "2024-01-01 10:00:00+00"));
  EXPECT_TRUE(tz("2024-01-01T01:30:00.500+0230", "2023-12-31T23:00:00.5Z"));
  EXPECT_TRUE(tz("2024-01-01 10:00", "2024-01-01T10:00:00.000Z"));
  EXPECT_TRUE(tz("2024-03-01 00:30:00+01", "2024-02-29T23:30:00Z"));
  EXPECT_FALSE(tz("2024-01-01 12:00:00+02", "2024-01-01T12:00:00Z"));
  EXPECT_FALSE(tz("2024-01-01 12:00:00.1Z", "2024-01-01 12:00:00.01Z"));
  EXPECT_FALSE(tz("yesterday", "today"));
  EXPECT_TRUE(tz("yesterday", "yesterday"));
}

TEST(CanonicalTest, TimestampsWithoutTimeZoneNormaliseOnlyTheirSpelling) {
  const auto ts = [](const char* a, const char* b) {
    return Same(Value{std::string(a)}, Value{std::string(b)}, LogicalType::kTimestamp);
  };
  EXPECT_TRUE(ts("2024-01-01 12:00:00", "2024-01-01T12:00:00"));
  EXPECT_TRUE(ts("2024-01-01 12:00:00.120", "2024-01-01T12:00:00.12"));
  EXPECT_TRUE(ts("2024-01-01 12:00:00.000", "2024-01-01 12:00:00"));
  EXPECT_FALSE(ts("2024-01-01 12:00:00+02", "2024-01-01 10:00:00Z"));
  EXPECT_FALSE(ts("2024-01-01 12:00:01", "2024-01-01 12:00:00"));
  // Dates are plain text.
  EXPECT_TRUE(
      Same(Value{std::string("2024-01-01")}, Value{std::string("2024-01-01")}, LogicalType::kDate));
  EXPECT_FALSE(
      Same(Value{std::string("2024-01-01")}, Value{std::string("2024-1-1")}, LogicalType::kDate));
}

TEST(CanonicalTest, TextIsComparedBytewiseWithoutUnicodeNormalisation) {
  const std::string composed = "caf\xc3\xa9";     // é as U+00E9
  const std::string decomposed = "cafe\xcc\x81";  // e + U+0301
  EXPECT_TRUE(Same(Value{composed}, Value{composed}, LogicalType::kText));
  EXPECT_FALSE(Same(Value{composed}, Value{decomposed}, LogicalType::kText));
  EXPECT_FALSE(Same(Value{std::string("Bob")}, Value{std::string("bob")}, LogicalType::kText));
  EXPECT_FALSE(Same(Value{std::string("a ")}, Value{std::string("a")}, LogicalType::kText));
  // A number in a text column is stored by the mirror as its shortest text.
  EXPECT_TRUE(Same(Value{std::int64_t{1}}, Value{std::string("1")}, LogicalType::kOther));
  EXPECT_TRUE(Same(Value{1.5}, Value{std::string("1.5")}, LogicalType::kText));
}

TEST(CanonicalTest, BlobsBytewise) {
  EXPECT_TRUE(Same(Value{Blob{std::string("\0\1", 2)}}, Value{Blob{std::string("\0\1", 2)}},
                   LogicalType::kBlob));
  EXPECT_FALSE(Same(Value{Blob{std::string("\0\1", 2)}}, Value{Blob{std::string("\0", 1)}},
                    LogicalType::kBlob));
  EXPECT_FALSE(Same(Value{Blob{"ab"}}, Value{std::string("ab")}, LogicalType::kBlob));
}

TEST(CanonicalTest, BooleansInEverySpelling) {
  for (const char* yes : {"t", "T", "true", "TRUE", "True"}) {
    EXPECT_TRUE(Same(Value{std::string(yes)}, Value{std::int64_t{1}}, LogicalType::kBoolean))
        << yes;
  }
  for (const char* no : {"f", "F", "false", "FALSE"}) {
    EXPECT_TRUE(Same(Value{std::string(no)}, Value{std::int64_t{0}}, LogicalType::kBoolean)) << no;
  }
  EXPECT_FALSE(Same(Value{std::string("t")}, Value{std::int64_t{0}}, LogicalType::kBoolean));
  EXPECT_FALSE(Same(Value{std::string("yes")}, Value{std::int64_t{1}}, LogicalType::kBoolean));
  EXPECT_FALSE(Same(Value{}, Value{std::int64_t{0}}, LogicalType::kBoolean));
}

TEST(CanonicalTest, CharNIgnoresTrailingSpacesOtherTextDoesNot) {
  EXPECT_TRUE(Same(Value{std::string("ab   ")}, Value{std::string("ab")}, LogicalType::kText,
                   "character(5)"));
  EXPECT_TRUE(
      Same(Value{std::string("ab ")}, Value{std::string("ab")}, LogicalType::kText, "bpchar"));
  EXPECT_FALSE(
      Same(Value{std::string("Ab")}, Value{std::string("ab")}, LogicalType::kText, "character(5)"));
  EXPECT_FALSE(Same(Value{std::string("ab ")}, Value{std::string("ab")}, LogicalType::kText,
                    "character varying(5)"));
}

TEST(CanonicalTest, EncodingsOfConsecutiveValuesNeverRunTogether) {
  const CanonicalColumn text = Of(LogicalType::kText);
  std::string a;
  AppendCanonical(Value{std::string("ab")}, text, &a);
  AppendCanonical(Value{std::string("c")}, text, &a);
  std::string b;
  AppendCanonical(Value{std::string("a")}, text, &b);
  AppendCanonical(Value{std::string("bc")}, text, &b);
  EXPECT_NE(a, b);
  EXPECT_NE(HashBytes(a), HashBytes(b));
  EXPECT_EQ(HashHex(HashBytes(a)).size(), 32u);
}

}  // namespace
}  // namespace sluice::migration
