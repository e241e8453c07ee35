#include "sluice/core/append_rules.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sluice/core/uuid.h"

namespace sluice {
namespace {

EventData Event(std::string id = "", std::string type = "test.Happened.v1") {
  EventData e;
  e.event_id = std::move(id);
  e.type = std::move(type);
  e.payload = "p";
  return e;
}

StreamId Stream(const char* name) { return *StreamId::Make(name); }

TEST(PrepareBatchTest, RejectsEmptyBatch) {
  std::vector<EventData> events;
  EXPECT_EQ(PrepareBatch(events).code(), StatusCode::kInvalidArgument);
}

TEST(PrepareBatchTest, RejectsEmptyType) {
  std::vector<EventData> events = {Event(), Event("", "")};
  EXPECT_EQ(PrepareBatch(events).code(), StatusCode::kInvalidArgument);
}

TEST(PrepareBatchTest, RejectsTypeNamesWithControlCharacters) {
  for (const std::string& type : {std::string("test.Hap\npened.v1"),
                                  std::string("test.Happened.v1\0", 17), std::string("\x01.v1")}) {
    std::vector<EventData> events = {Event(), Event("", type)};
    EXPECT_EQ(PrepareBatch(events).code(), StatusCode::kInvalidArgument)
        << "accepted type name of " << type.size() << " bytes with a control character";
  }
}

TEST(ValidateStoredTypeNameTest, AcceptsTypeNamesWithAndWithoutVersion) {
  for (const std::string& type :
       {std::string("bank.MoneyDeposited.v1"), std::string("legacy_type"), std::string("x"),
        std::string("caf\xC3\xA9.v1"), std::string(200, 'a')}) {
    EXPECT_TRUE(ValidateStoredTypeName(type).ok()) << type;
  }
}

TEST(ValidateStoredTypeNameTest, RejectsEmptyLongWhitespaceControlAndBadUtf8) {
  for (const std::string& type :
       {std::string(), std::string(201, 'a'), std::string("has space"), std::string("tab\there"),
        std::string("new\nline"), std::string("nul\0", 4), std::string("del\x7F"),
        std::string("next\xC2\x85line"), std::string("\xFF"), std::string("\xC0\xAF"),
        std::string("\xED\xA0\x80")}) {
    EXPECT_EQ(ValidateStoredTypeName(type).code(), StatusCode::kInvalidArgument)
        << "accepted a type of " << type.size() << " bytes";
  }
}

TEST(PrepareBatchTest, AcceptsTypeNamesWithoutVersion) {
  std::vector<EventData> events = {Event("", "legacy_type")};
  EXPECT_TRUE(PrepareBatch(events).ok());
}

TEST(PrepareBatchTest, RejectsOverlongTypeName) {
  std::vector<EventData> events = {Event("", std::string(2000, 'a') + ".v1")};
  EXPECT_EQ(PrepareBatch(events).code(), StatusCode::kInvalidArgument);
}

TEST(PrepareBatchTest, RejectsIdsThatAreNotUuids) {
  for (const char* id : {"42", "not-a-uuid", "0123abcd-4567-89ef-0123-456789abcde",
                         "{0123abcd-4567-89ef-0123-456789abcdef}"}) {
    std::vector<EventData> events = {Event(id)};
    Status s = PrepareBatch(events);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << id;
  }
}

TEST(PrepareBatchTest, RejectsTheSameIdTwice) {
  const std::string id = NewUuid();
  std::vector<EventData> events = {Event(id), Event(), Event(id)};
  EXPECT_EQ(PrepareBatch(events).code(), StatusCode::kInvalidArgument);
}

TEST(PrepareBatchTest, RejectsTheSameIdTwiceInDifferentCase) {
  std::vector<EventData> events = {Event("0123abcd-4567-89ef-0123-456789abcdef"),
                                   Event("0123ABCD-4567-89EF-0123-456789ABCDEF")};
  EXPECT_EQ(PrepareBatch(events).code(), StatusCode::kInvalidArgument);
}

TEST(PrepareBatchTest, FillsMissingIdsWithDistinctCanonicalUuids) {
  const std::string given = NewUuid();
  std::vector<EventData> events = {Event(), Event(given), Event(), Event()};
  ASSERT_TRUE(PrepareBatch(events).ok());
  std::set<std::string> ids;
  for (const EventData& e : events) {
    ASSERT_TRUE(ParseUuid(e.event_id).has_value()) << e.event_id;
    EXPECT_EQ(FormatUuid(*ParseUuid(e.event_id)), e.event_id);
    ids.insert(e.event_id);
  }
  EXPECT_EQ(ids.size(), events.size());
  EXPECT_EQ(events[1].event_id, given);
}

TEST(PrepareBatchTest, FlagsTheIdsItGenerated) {
  const std::string given = NewUuid();
  std::vector<EventData> events = {Event(), Event(given), Event()};
  std::vector<bool> generated = {false, true};  // overwritten
  ASSERT_TRUE(PrepareBatch(events, &generated).ok());
  EXPECT_EQ(generated, (std::vector<bool>{true, false, true}));
}

TEST(PrepareBatchTest, NormalisesIdsToLowerCase) {
  std::vector<EventData> events = {Event("0123ABCD-4567-89EF-0123-456789ABCDEF")};
  ASSERT_TRUE(PrepareBatch(events).ok());
  EXPECT_EQ(events[0].event_id, "0123abcd-4567-89ef-0123-456789abcdef");
}

TEST(PrepareBatchTest, LeavesEverythingElseAlone) {
  EventData e = Event(NewUuid());
  e.content_type = ContentType::kJson;
  e.payload = std::string("{\0}", 3);
  e.metadata.correlation_id = "c";
  e.metadata.causation_id = "d";
  e.metadata.extra["k"] = "v";
  std::vector<EventData> events = {e};
  ASSERT_TRUE(PrepareBatch(events).ok());
  EXPECT_EQ(events[0], e);
}

// ---- DecideIdempotentAppend ----

ExistingEvent At(const char* stream, StreamVersion version, GlobalPosition position) {
  return ExistingEvent{stream, version, position};
}

TEST(DecideIdempotentAppendTest, AllIdsNewMeansAppendNormally) {
  Result<std::optional<AppendResult>> d = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Exact(4), 4, {std::nullopt, std::nullopt});
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
}

TEST(DecideIdempotentAppendTest, RepeatWithAnyReturnsTheEarlierResult) {
  Result<std::optional<AppendResult>> d =
      DecideIdempotentAppend(Stream("s-1"), ExpectedVersion::Any(), 9,
                             {At("s-1", 2, 10), At("s-1", 3, 11), At("s-1", 4, 12)});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE(d->has_value());
  EXPECT_EQ(**d, (AppendResult{10, 12, 4}));
}

TEST(DecideIdempotentAppendTest, RepeatWithTheSameExactVersionReturnsTheEarlierResult) {
  // The first append expected version 1, so its events got versions 2 and 3; the stream has moved
  // on to 7 since.
  Result<std::optional<AppendResult>> d = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Exact(1), 7, {At("s-1", 2, 20), At("s-1", 3, 21)});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE(d->has_value());
  EXPECT_EQ(**d, (AppendResult{20, 21, 3}));
}

TEST(DecideIdempotentAppendTest, RepeatWithAnotherExactVersionIsWrongExpectedVersion) {
  Result<std::optional<AppendResult>> d = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Exact(2), 7, {At("s-1", 2, 20), At("s-1", 3, 21)});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kWrongExpectedVersion);
  ASSERT_TRUE(d.status().actual_version().has_value());
  EXPECT_EQ(*d.status().actual_version(), 7);
}

TEST(DecideIdempotentAppendTest, RepeatWithNoStreamIsAllowedOnlyForTheStreamsFirstEvents) {
  Result<std::optional<AppendResult>> first = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::NoStream(), 5, {At("s-1", 0, 1), At("s-1", 1, 2)});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ(**first, (AppendResult{1, 2, 1}));

  Result<std::optional<AppendResult>> later =
      DecideIdempotentAppend(Stream("s-1"), ExpectedVersion::NoStream(), 5, {At("s-1", 3, 8)});
  EXPECT_EQ(later.status().code(), StatusCode::kWrongExpectedVersion);
  EXPECT_EQ(later.status().actual_version(), std::optional<std::int64_t>(5));
}

TEST(DecideIdempotentAppendTest, RepeatWithStreamExistsIsAllowedOnlyAfterTheFirstEvent) {
  Result<std::optional<AppendResult>> later =
      DecideIdempotentAppend(Stream("s-1"), ExpectedVersion::StreamExists(), 5, {At("s-1", 1, 4)});
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  ASSERT_TRUE(later->has_value());
  EXPECT_EQ(**later, (AppendResult{4, 4, 1}));

  Result<std::optional<AppendResult>> first =
      DecideIdempotentAppend(Stream("s-1"), ExpectedVersion::StreamExists(), 5, {At("s-1", 0, 1)});
  EXPECT_EQ(first.status().code(), StatusCode::kWrongExpectedVersion);
}

TEST(DecideIdempotentAppendTest, PartialOverlapIsInvalidArgument) {
  Result<std::optional<AppendResult>> d = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Any(), 3, {At("s-1", 3, 9), std::nullopt});
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  Result<std::optional<AppendResult>> d2 = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Any(), 3, {std::nullopt, At("s-1", 3, 9)});
  EXPECT_EQ(d2.status().code(), StatusCode::kInvalidArgument);
}

TEST(DecideIdempotentAppendTest, IdsOfAnotherStreamAreInvalidArgument) {
  Result<std::optional<AppendResult>> d =
      DecideIdempotentAppend(Stream("s-1"), ExpectedVersion::Any(), 3, {At("s-2", 0, 1)});
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  Result<std::optional<AppendResult>> mixed = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Any(), 3, {At("s-1", 0, 1), At("s-2", 0, 2)});
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidArgument);
}

TEST(DecideIdempotentAppendTest, IdsInAnotherOrderAreInvalidArgument) {
  Result<std::optional<AppendResult>> d = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Any(), 3, {At("s-1", 1, 2), At("s-1", 0, 1)});
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
}

TEST(DecideIdempotentAppendTest, IdsWithAGapBetweenThemAreInvalidArgument) {
  Result<std::optional<AppendResult>> versions = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Any(), 5, {At("s-1", 1, 2), At("s-1", 3, 4)});
  EXPECT_EQ(versions.status().code(), StatusCode::kInvalidArgument);
  // Consecutive versions, but another stream's event lies between them in the global log: they
  // were two appends, not this one.
  Result<std::optional<AppendResult>> positions = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Any(), 5, {At("s-1", 1, 2), At("s-1", 2, 4)});
  EXPECT_EQ(positions.status().code(), StatusCode::kInvalidArgument);
}

TEST(DecideIdempotentAppendTest, InvalidArgumentWinsOverExpectedVersion) {
  // A partial overlap is an error whatever the expected version says.
  Result<std::optional<AppendResult>> d = DecideIdempotentAppend(
      Stream("s-1"), ExpectedVersion::Exact(99), 3, {At("s-1", 3, 9), std::nullopt});
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
}

TEST(WrongExpectedVersionErrorTest, CarriesActualVersionAndNamesTheStream) {
  Status s = WrongExpectedVersionError(Stream("account-7"), ExpectedVersion::Exact(3), 5);
  EXPECT_EQ(s.code(), StatusCode::kWrongExpectedVersion);
  EXPECT_EQ(s.actual_version(), std::optional<std::int64_t>(5));
  EXPECT_NE(s.message().find("account-7"), std::string::npos) << s.message();

  Status none = WrongExpectedVersionError(Stream("account-7"), ExpectedVersion::Exact(3), -1);
  EXPECT_EQ(none.actual_version(), std::optional<std::int64_t>(-1));
}

}  // namespace
}  // namespace sluice
