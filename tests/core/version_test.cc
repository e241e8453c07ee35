#include "sluice/core/version.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(ExpectedVersionTest, AnyIsSatisfiedByEverything) {
  constexpr ExpectedVersion any = ExpectedVersion::Any();
  EXPECT_EQ(any.kind(), ExpectedVersion::Kind::kAny);
  EXPECT_TRUE(any.IsSatisfiedBy(kNoStream));
  EXPECT_TRUE(any.IsSatisfiedBy(0));
  EXPECT_TRUE(any.IsSatisfiedBy(1000));
  EXPECT_EQ(any.ToString(), "any");
}

TEST(ExpectedVersionTest, NoStreamIsSatisfiedOnlyByAMissingStream) {
  constexpr ExpectedVersion none = ExpectedVersion::NoStream();
  EXPECT_EQ(none.kind(), ExpectedVersion::Kind::kMustNotExist);
  EXPECT_EQ(none.version(), kNoStream);
  EXPECT_TRUE(none.IsSatisfiedBy(kNoStream));
  EXPECT_FALSE(none.IsSatisfiedBy(0));
  EXPECT_FALSE(none.IsSatisfiedBy(5));
  EXPECT_EQ(none.ToString(), "no_stream");
}

TEST(ExpectedVersionTest, StreamExistsIsSatisfiedByAnyExistingStream) {
  constexpr ExpectedVersion exists = ExpectedVersion::StreamExists();
  EXPECT_EQ(exists.kind(), ExpectedVersion::Kind::kMustExist);
  EXPECT_FALSE(exists.IsSatisfiedBy(kNoStream));
  EXPECT_TRUE(exists.IsSatisfiedBy(0));
  EXPECT_TRUE(exists.IsSatisfiedBy(99));
  EXPECT_EQ(exists.ToString(), "stream_exists");
}

TEST(ExpectedVersionTest, ExactIsSatisfiedOnlyByThatVersion) {
  constexpr ExpectedVersion three = ExpectedVersion::Exact(3);
  EXPECT_EQ(three.kind(), ExpectedVersion::Kind::kExact);
  EXPECT_EQ(three.version(), 3);
  EXPECT_TRUE(three.IsSatisfiedBy(3));
  EXPECT_FALSE(three.IsSatisfiedBy(2));
  EXPECT_FALSE(three.IsSatisfiedBy(4));
  EXPECT_FALSE(three.IsSatisfiedBy(kNoStream));
  EXPECT_EQ(three.ToString(), "3");

  constexpr ExpectedVersion zero = ExpectedVersion::Exact(0);
  EXPECT_TRUE(zero.IsSatisfiedBy(0));
  EXPECT_FALSE(zero.IsSatisfiedBy(kNoStream));
  EXPECT_EQ(zero.ToString(), "0");
}

TEST(ExpectedVersionTest, ExactOfNoStreamEqualsNoStream) {
  EXPECT_EQ(ExpectedVersion::Exact(kNoStream), ExpectedVersion::NoStream());
  EXPECT_EQ(ExpectedVersion::Exact(-5), ExpectedVersion::NoStream());
  EXPECT_EQ(ExpectedVersion::Exact(kNoStream).ToString(), "no_stream");
}

TEST(ExpectedVersionTest, EqualityDistinguishesKindsAndVersions) {
  EXPECT_EQ(ExpectedVersion::Exact(2), ExpectedVersion::Exact(2));
  EXPECT_NE(ExpectedVersion::Exact(2), ExpectedVersion::Exact(3));
  EXPECT_NE(ExpectedVersion::Any(), ExpectedVersion::StreamExists());
  EXPECT_NE(ExpectedVersion::Exact(0), ExpectedVersion::StreamExists());
  EXPECT_NE(ExpectedVersion::Any(), ExpectedVersion::NoStream());
}

TEST(ExpectedVersionTest, IsUsableAtCompileTime) {
  static_assert(ExpectedVersion::Exact(1).IsSatisfiedBy(1));
  static_assert(!ExpectedVersion::NoStream().IsSatisfiedBy(0));
  static_assert(kNoStream == -1);
}

}  // namespace
}  // namespace sluice
