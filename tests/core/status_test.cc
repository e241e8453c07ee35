#include "sluice/core/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace sluice {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_FALSE(s.actual_version().has_value());
  EXPECT_EQ(Status::Ok(), Status());
}

TEST(StatusTest, EachFactorySetsItsCodeAndMessage) {
  struct Case {
    Status status;
    StatusCode code;
    const char* name;
  };
  const Case cases[] = {
      {Status::Rejected("m"), StatusCode::kRejected, "Rejected"},
      {Status::Unavailable("m"), StatusCode::kUnavailable, "Unavailable"},
      {Status::NotFound("m"), StatusCode::kNotFound, "NotFound"},
      {Status::InvalidArgument("m"), StatusCode::kInvalidArgument, "InvalidArgument"},
      {Status::Corruption("m"), StatusCode::kCorruption, "Corruption"},
      {Status::IOError("m"), StatusCode::kIOError, "IOError"},
      {Status::WrongExpectedVersion("m", 3), StatusCode::kWrongExpectedVersion,
       "WrongExpectedVersion"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_EQ(StatusCodeName(c.code), c.name);
    EXPECT_EQ(c.status.ToString(), std::string(c.name) + ": m");
  }
}

TEST(StatusTest, ToStringOmitsEmptyMessage) {
  EXPECT_EQ(Status::NotFound("").ToString(), "NotFound");
}

TEST(StatusTest, WrongExpectedVersionCarriesActualVersion) {
  Status s = Status::WrongExpectedVersion("stream moved", 7);
  EXPECT_TRUE(s.IsWrongExpectedVersion());
  EXPECT_FALSE(s.IsNotFound());
  ASSERT_TRUE(s.actual_version().has_value());
  EXPECT_EQ(*s.actual_version(), 7);

  Status none = Status::WrongExpectedVersion("no stream", -1);
  ASSERT_TRUE(none.actual_version().has_value());
  EXPECT_EQ(*none.actual_version(), -1);
}

TEST(StatusTest, ActualVersionIsUnsetForOtherCodes) {
  EXPECT_FALSE(Status::NotFound("x").actual_version().has_value());
  EXPECT_FALSE(Status::InvalidArgument("x").actual_version().has_value());
  EXPECT_TRUE(Status::NotFound("x").IsNotFound());
}

TEST(StatusTest, EqualityComparesCodeAndMessage) {
  EXPECT_EQ(Status::NotFound("a"), Status::NotFound("a"));
  EXPECT_FALSE(Status::NotFound("a") == Status::NotFound("b"));
  EXPECT_FALSE(Status::NotFound("a") == Status::InvalidArgument("a"));
}

Status FailIfNegative(int x) {
  if (x < 0) return Status::InvalidArgument("negative");
  return Status::Ok();
}

Status Chain(int x, bool* reached_end) {
  SLUICE_RETURN_IF_ERROR(FailIfNegative(x));
  *reached_end = true;
  return Status::Ok();
}

TEST(StatusTest, ReturnIfErrorPropagatesFailureAndContinuesOnOk) {
  bool reached = false;
  Status s = Chain(-1, &reached);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(reached);
  EXPECT_TRUE(Chain(1, &reached).ok());
  EXPECT_TRUE(reached);
}

TEST(ResultTest, HoldsValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(r.value_or(7), 42);
}

TEST(ResultTest, HoldsError) {
  Result<int> r = Status::NotFound("gone");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "gone");
  EXPECT_EQ(r.value_or(7), 7);
}

TEST(ResultTest, KeepsActualVersionOfWrongExpectedVersion) {
  Result<std::string> r = Status::WrongExpectedVersion("x", 12);
  ASSERT_FALSE(r.ok());
  ASSERT_TRUE(r.status().actual_version().has_value());
  EXPECT_EQ(*r.status().actual_version(), 12);
}

TEST(ResultTest, ConstructedFromOkStatusBecomesAnError) {
  Result<int> r = Status::Ok();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(ResultTest, ArrowAndMoveOutOfValue) {
  Result<std::string> r = std::string("hello");
  EXPECT_EQ(r->size(), 5u);
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "hello");
}

TEST(ResultTest, HoldsMoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(ResultTest, ValueIsMutable) {
  Result<std::string> r = std::string("a");
  r.value() += "b";
  *r += "c";
  EXPECT_EQ(*r, "abc");
}

}  // namespace
}  // namespace sluice
