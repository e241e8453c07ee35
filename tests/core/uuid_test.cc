#include "sluice/core/uuid.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sluice {
namespace {

bool IsCanonical(const std::string& text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

TEST(UuidTest, ParsesAndFormatsRoundTrip) {
  const std::string text = "0123abcd-4567-89ef-0123-456789abcdef";
  std::optional<UuidBytes> bytes = ParseUuid(text);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ((*bytes)[0], 0x01);
  EXPECT_EQ((*bytes)[1], 0x23);
  EXPECT_EQ((*bytes)[2], 0xab);
  EXPECT_EQ((*bytes)[15], 0xef);
  EXPECT_EQ(FormatUuid(*bytes), text);
}

TEST(UuidTest, ParsesUpperCaseAndFormatsLowerCase) {
  std::optional<UuidBytes> bytes = ParseUuid("0123ABCD-4567-89EF-0123-456789ABCDEF");
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(FormatUuid(*bytes), "0123abcd-4567-89ef-0123-456789abcdef");
  std::optional<UuidBytes> mixed = ParseUuid("0123AbCd-4567-89eF-0123-456789aBcDeF");
  ASSERT_TRUE(mixed.has_value());
  EXPECT_EQ(*mixed, *bytes);
}

TEST(UuidTest, FormatsAllBytes) {
  UuidBytes zero{};
  EXPECT_EQ(FormatUuid(zero), "00000000-0000-0000-0000-000000000000");
  UuidBytes ff;
  ff.fill(0xFF);
  EXPECT_EQ(FormatUuid(ff), "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

TEST(UuidTest, RejectsMalformedText) {
  const char* bad[] = {
      "",
      "0123abcd-4567-89ef-0123-456789abcde",    // 35 characters
      "0123abcd-4567-89ef-0123-456789abcdef0",  // 37 characters
      "0123abcd045670890ef001230456789abcdef",  // no dashes
      "0123abcd4567-89ef-0123-456789abcdef00",  // dash misplaced
      "0123abcg-4567-89ef-0123-456789abcdef",   // non-hex
      "{0123abcd-4567-89ef-0123-456789abcd}",   // braces
      "0123abcd-4567-89ef-0123-456789abcd f",   // space
      "0123abcd_4567_89ef_0123_456789abcdef",   // underscores
      "0123abcd-4567-89ef-0123-456789abcde\xC3",
      "not a uuid",
  };
  for (const char* text : bad) {
    EXPECT_FALSE(ParseUuid(text).has_value()) << text;
  }
  EXPECT_FALSE(ParseUuid(std::string_view("0123abcd-4567-89ef-0123-456789abcde\0", 36)));
}

TEST(UuidTest, NewUuidIsCanonicalVersion4) {
  for (int i = 0; i < 100; ++i) {
    const std::string id = NewUuid();
    ASSERT_TRUE(IsCanonical(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    std::optional<UuidBytes> bytes = ParseUuid(id);
    ASSERT_TRUE(bytes.has_value());
    EXPECT_EQ(FormatUuid(*bytes), id);
  }
}

TEST(UuidTest, NewUuidsAreUniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewUuid());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(UuidTest, DeriveUuidIsDeterministicAndCanonicalVersion5) {
  const std::string a = DeriveUuid("ns", "name");
  EXPECT_EQ(a, DeriveUuid("ns", "name"));
  EXPECT_TRUE(IsCanonical(a)) << a;
  EXPECT_EQ(a[14], '5') << a;
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b') << a;
  EXPECT_TRUE(ParseUuid(a).has_value());
}

TEST(UuidTest, DeriveUuidDependsOnNamespaceAndName) {
  const std::string base = DeriveUuid("ns", "name");
  EXPECT_NE(base, DeriveUuid("ns2", "name"));
  EXPECT_NE(base, DeriveUuid("ns", "name2"));
  EXPECT_NE(base, DeriveUuid("name", "ns"));
  // The split between namespace and name matters.
  EXPECT_NE(DeriveUuid("ab", "c"), DeriveUuid("a", "bc"));
  EXPECT_NE(DeriveUuid("", "abc"), DeriveUuid("abc", ""));
}

TEST(UuidTest, DerivedUuidsDoNotCollideOverManyNames) {
  std::set<std::string> seen;
  const std::string ns = NewUuid();
  for (int i = 0; i < 20000; ++i) seen.insert(DeriveUuid(ns, std::to_string(i)));
  EXPECT_EQ(seen.size(), 20000u);
}

}  // namespace
}  // namespace sluice
