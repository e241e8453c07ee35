// The conformance suite every EventStore implementation passes (STYLE.md, habit 6): one typed test
// suite over a factory per store. A factory opens the store (Open) and can open it again over the
// same data (persistent stores only: reopen tests are skipped otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/core/uuid.h"

#ifdef SLUICE_CONFORMANCE_WITH_ROCKSDB
#include "conformance/temp_dir.h"
#include "sluice/eventstore/rocks_event_store.h"
#endif

namespace sluice {
namespace {

constexpr auto kHangTimeout = std::chrono::seconds(60);

// ---- Factories, one per store ----

struct InMemoryStoreFactory {
  static std::string Name() { return "InMemory"; }
  Result<std::unique_ptr<EventStore>> Open() {
    return std::unique_ptr<EventStore>(std::make_unique<InMemoryEventStore>());
  }
};

#ifdef SLUICE_CONFORMANCE_WITH_ROCKSDB
// A RocksEventStore in a fresh temporary folder, removed after the test.
struct RocksStoreFactory {
  static std::string Name() { return "RocksDB"; }
  Result<std::unique_ptr<EventStore>> Open() {
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir.Sub("store"));
    if (!store.ok()) return store.status();
    return std::unique_ptr<EventStore>(std::move(*store));
  }
  testing::TempDir dir;
};
using StoreFactories = ::testing::Types<InMemoryStoreFactory, RocksStoreFactory>;
using PersistentStoreFactories = ::testing::Types<RocksStoreFactory>;
#else
using StoreFactories = ::testing::Types<InMemoryStoreFactory>;
#endif

class FactoryNames {
 public:
  template <typename Factory>
  static std::string GetName(int) {
    return Factory::Name();
  }
};

template <typename Factory>
class EventStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    Result<std::unique_ptr<EventStore>> opened = factory_.Open();
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  // Closes the store and opens it again over the same data.
  void Reopen() {
    store_.reset();
    Open();
  }

  EventStore& store() { return *store_; }

  Factory factory_;
  std::unique_ptr<EventStore> store_;  // destroyed before the factory (and its folder)
};

TYPED_TEST_SUITE(EventStoreConformance, StoreFactories, FactoryNames);

// The same contract, plus what a store that persists must keep across a reopen.
template <typename Factory>
class PersistentEventStoreConformance : public EventStoreConformance<Factory> {};
#ifdef SLUICE_CONFORMANCE_WITH_ROCKSDB
TYPED_TEST_SUITE(PersistentEventStoreConformance, PersistentStoreFactories, FactoryNames);
#endif

// ---- Helpers ----

StreamId S(const std::string& name) {
  Result<StreamId> id = StreamId::Make(name);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return *id;
}

EventData Ev(std::string payload = "payload", std::string id = "") {
  EventData e;
  e.event_id = std::move(id);
  e.type = "test.Happened.v1";
  e.payload = std::move(payload);
  return e;
}

std::vector<EventData> Evs(int n, const std::string& tag = "e") {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) out.push_back(Ev(tag + std::to_string(i)));
  return out;
}

// Events with fixed, fresh ids.
std::vector<EventData> EvsWithIds(int n) {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) out.push_back(Ev("p" + std::to_string(i), NewUuid()));
  return out;
}

std::vector<RecordedEvent> All(EventStore& store) {
  Result<std::vector<RecordedEvent>> all = store.ReadAll(0, 1'000'000);
  EXPECT_TRUE(all.ok()) << all.status().ToString();
  return all.ok() ? *all : std::vector<RecordedEvent>{};
}

std::vector<RecordedEvent> Stream(EventStore& store, const std::string& stream) {
  Result<std::vector<RecordedEvent>> events = store.ReadStream(S(stream), 0, 1'000'000);
  EXPECT_TRUE(events.ok()) << events.status().ToString();
  return events.ok() ? *events : std::vector<RecordedEvent>{};
}

std::vector<StreamVersion> Versions(const std::vector<RecordedEvent>& events) {
  std::vector<StreamVersion> out;
  for (const RecordedEvent& e : events) out.push_back(e.version);
  return out;
}

std::vector<GlobalPosition> Positions(const std::vector<RecordedEvent>& events) {
  std::vector<GlobalPosition> out;
  for (const RecordedEvent& e : events) out.push_back(e.position);
  return out;
}

std::vector<std::string> Payloads(const std::vector<RecordedEvent>& events) {
  std::vector<std::string> out;
  for (const RecordedEvent& e : events) out.push_back(e.payload);
  return out;
}

std::vector<std::string> Ids(const std::vector<RecordedEvent>& events) {
  std::vector<std::string> out;
  for (const RecordedEvent& e : events) out.push_back(e.event_id);
  return out;
}

std::vector<std::string> Ids(const std::vector<EventData>& events) {
  std::vector<std::string> out;
  for (const EventData& e : events) out.push_back(e.event_id);
  return out;
}

::testing::AssertionResult IsWrongExpectedVersion(const Result<AppendResult>& r,
                                                  StreamVersion actual) {
  if (r.ok()) return ::testing::AssertionFailure() << "append succeeded";
  if (r.status().code() != StatusCode::kWrongExpectedVersion) {
    return ::testing::AssertionFailure() << "got " << r.status().ToString();
  }
  if (r.status().actual_version() != std::optional<std::int64_t>(actual)) {
    return ::testing::AssertionFailure()
           << "actual_version() is "
           << (r.status().actual_version() ? std::to_string(*r.status().actual_version()) : "unset")
           << ", want " << actual;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsCode(const Result<AppendResult>& r, StatusCode code) {
  if (r.ok()) return ::testing::AssertionFailure() << "append succeeded";
  if (r.status().code() != code) {
    return ::testing::AssertionFailure()
           << "got " << r.status().ToString() << ", want " << StatusCodeName(code);
  }
  return ::testing::AssertionSuccess();
}

// ---- Expected versions ----

TYPED_TEST(EventStoreConformance, AppendToNewStreamWithAny) {
  Result<AppendResult> r = this->store().Append(S("order-1"), ExpectedVersion::Any(), {Ev()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{1, 1, 0}));
  EXPECT_EQ(*this->store().StreamHead(S("order-1")), 0);
  EXPECT_EQ(this->store().HeadPosition(), 1u);
}

TYPED_TEST(EventStoreConformance, AppendWithAnyToExistingStream) {
  ASSERT_TRUE(this->store().Append(S("order-1"), ExpectedVersion::Any(), Evs(2)).ok());
  Result<AppendResult> r = this->store().Append(S("order-1"), ExpectedVersion::Any(), {Ev()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{3, 3, 2}));
}

TYPED_TEST(EventStoreConformance, NoStreamSucceedsOnNewStream) {
  Result<AppendResult> r = this->store().Append(S("order-1"), ExpectedVersion::NoStream(), Evs(2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{1, 2, 1}));
}

TYPED_TEST(EventStoreConformance, NoStreamFailsOnExistingStreamWithActualVersion) {
  ASSERT_TRUE(this->store().Append(S("order-1"), ExpectedVersion::NoStream(), Evs(3)).ok());
  Result<AppendResult> r = this->store().Append(S("order-1"), ExpectedVersion::NoStream(), {Ev()});
  EXPECT_TRUE(IsWrongExpectedVersion(r, 2));
  EXPECT_EQ(this->store().HeadPosition(), 3u);
}

TYPED_TEST(EventStoreConformance, ExactNoStreamEqualsNoStream) {
  Result<AppendResult> r =
      this->store().Append(S("order-1"), ExpectedVersion::Exact(kNoStream), {Ev()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Result<AppendResult> again =
      this->store().Append(S("order-1"), ExpectedVersion::Exact(kNoStream), {Ev()});
  EXPECT_TRUE(IsWrongExpectedVersion(again, 0));
}

TYPED_TEST(EventStoreConformance, StreamExistsFailsOnNewStreamWithNoStreamVersion) {
  Result<AppendResult> r =
      this->store().Append(S("order-1"), ExpectedVersion::StreamExists(), {Ev()});
  EXPECT_TRUE(IsWrongExpectedVersion(r, kNoStream));
  EXPECT_EQ(this->store().HeadPosition(), 0u);
  EXPECT_EQ(*this->store().StreamHead(S("order-1")), kNoStream);
}

TYPED_TEST(EventStoreConformance, StreamExistsSucceedsOnExistingStream) {
  ASSERT_TRUE(this->store().Append(S("order-1"), ExpectedVersion::Any(), {Ev()}).ok());
  Result<AppendResult> r =
      this->store().Append(S("order-1"), ExpectedVersion::StreamExists(), Evs(2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{2, 3, 2}));
}

TYPED_TEST(EventStoreConformance, ExactSucceedsAtTheCurrentVersion) {
  ASSERT_TRUE(this->store().Append(S("order-1"), ExpectedVersion::NoStream(), Evs(3)).ok());
  Result<AppendResult> r = this->store().Append(S("order-1"), ExpectedVersion::Exact(2), {Ev()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{4, 4, 3}));
  Result<AppendResult> next = this->store().Append(S("order-1"), ExpectedVersion::Exact(3), {Ev()});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->next_expected_version, 4);
}

TYPED_TEST(EventStoreConformance, ExactFailsBelowAndAboveTheCurrentVersion) {
  ASSERT_TRUE(this->store().Append(S("order-1"), ExpectedVersion::NoStream(), Evs(3)).ok());
  EXPECT_TRUE(IsWrongExpectedVersion(
      this->store().Append(S("order-1"), ExpectedVersion::Exact(1), {Ev()}), 2));
  EXPECT_TRUE(IsWrongExpectedVersion(
      this->store().Append(S("order-1"), ExpectedVersion::Exact(3), {Ev()}), 2));
  EXPECT_TRUE(IsWrongExpectedVersion(
      this->store().Append(S("order-1"), ExpectedVersion::Exact(1000), {Ev()}), 2));
  EXPECT_EQ(this->store().HeadPosition(), 3u);
  EXPECT_EQ(*this->store().StreamHead(S("order-1")), 2);
}

TYPED_TEST(EventStoreConformance, ExactZeroFailsOnNewStream) {
  EXPECT_TRUE(IsWrongExpectedVersion(
      this->store().Append(S("order-1"), ExpectedVersion::Exact(0), {Ev()}), kNoStream));
  EXPECT_EQ(this->store().HeadPosition(), 0u);
}

TYPED_TEST(EventStoreConformance, ExpectedVersionIsCheckedPerStream) {
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::NoStream(), Evs(5)).ok());
  Result<AppendResult> r = this->store().Append(S("b-1"), ExpectedVersion::NoStream(), {Ev()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{6, 6, 0}));
  EXPECT_TRUE(
      IsWrongExpectedVersion(this->store().Append(S("b-1"), ExpectedVersion::Exact(4), {Ev()}), 0));
}

// ---- Batches ----

TYPED_TEST(EventStoreConformance, MultiEventBatchGetsConsecutiveVersionsAndPositions) {
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(3)).ok());
  Result<AppendResult> r = this->store().Append(S("b-1"), ExpectedVersion::NoStream(), Evs(4));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{4, 7, 3}));
  std::vector<RecordedEvent> b = Stream(this->store(), "b-1");
  EXPECT_EQ(Versions(b), (std::vector<StreamVersion>{0, 1, 2, 3}));
  EXPECT_EQ(Positions(b), (std::vector<GlobalPosition>{4, 5, 6, 7}));
  EXPECT_EQ(Payloads(b), (std::vector<std::string>{"e0", "e1", "e2", "e3"}));
}

TYPED_TEST(EventStoreConformance, LargeBatchIsAppendedWhole) {
  Result<AppendResult> r = this->store().Append(S("big-1"), ExpectedVersion::Any(), Evs(2000));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{1, 2000, 1999}));
  EXPECT_EQ(Stream(this->store(), "big-1").size(), 2000u);
}

TYPED_TEST(EventStoreConformance, FailingBatchWritesNothing) {
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(2)).ok());
  const std::vector<RecordedEvent> before = All(this->store());

  // Wrong expected version.
  EXPECT_TRUE(
      IsWrongExpectedVersion(this->store().Append(S("a-1"), ExpectedVersion::Exact(0), Evs(5)), 1));
  // A bad id in the middle of the batch.
  std::vector<EventData> bad_id = Evs(5);
  bad_id[3].event_id = "not-a-uuid";
  EXPECT_TRUE(IsCode(this->store().Append(S("a-1"), ExpectedVersion::Any(), bad_id),
                     StatusCode::kInvalidArgument));
  // An empty type at the end.
  std::vector<EventData> bad_type = Evs(3);
  bad_type[2].type.clear();
  EXPECT_TRUE(IsCode(this->store().Append(S("c-1"), ExpectedVersion::Any(), bad_type),
                     StatusCode::kInvalidArgument));
  // The same id twice.
  std::vector<EventData> twice = EvsWithIds(3);
  twice[2].event_id = twice[0].event_id;
  EXPECT_TRUE(IsCode(this->store().Append(S("c-1"), ExpectedVersion::Any(), twice),
                     StatusCode::kInvalidArgument));

  EXPECT_EQ(All(this->store()), before);
  EXPECT_EQ(this->store().HeadPosition(), 2u);
  EXPECT_EQ(*this->store().StreamHead(S("a-1")), 1);
  EXPECT_EQ(*this->store().StreamHead(S("c-1")), kNoStream);
  EXPECT_TRUE(this->store().ReadStream(S("c-1"), 0, 10).status().IsNotFound());
  // The store goes on at the next position.
  Result<AppendResult> r = this->store().Append(S("c-1"), ExpectedVersion::NoStream(), {Ev()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (AppendResult{3, 3, 0}));
}

TYPED_TEST(EventStoreConformance, EmptyBatchIsInvalidArgument) {
  EXPECT_TRUE(IsCode(this->store().Append(S("a-1"), ExpectedVersion::Any(), {}),
                     StatusCode::kInvalidArgument));
  EXPECT_EQ(this->store().HeadPosition(), 0u);
}

TYPED_TEST(EventStoreConformance, NonUuidIdIsInvalidArgument) {
  for (const char* id : {"1", "order-1", "0123abcd-4567-89ef-0123-456789abcdeg",
                         "0123abcd456789ef0123456789abcdef"}) {
    EXPECT_TRUE(IsCode(this->store().Append(S("a-1"), ExpectedVersion::Any(), {Ev("p", id)}),
                       StatusCode::kInvalidArgument))
        << id;
  }
  EXPECT_EQ(this->store().HeadPosition(), 0u);
}

TYPED_TEST(EventStoreConformance, DuplicateIdsWithinABatchAreInvalidArgument) {
  const std::string id = NewUuid();
  EXPECT_TRUE(
      IsCode(this->store().Append(S("a-1"), ExpectedVersion::Any(), {Ev("x", id), Ev("y", id)}),
             StatusCode::kInvalidArgument));
  std::string upper = id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_TRUE(
      IsCode(this->store().Append(S("a-1"), ExpectedVersion::Any(), {Ev("x", id), Ev("y", upper)}),
             StatusCode::kInvalidArgument));
  EXPECT_EQ(this->store().HeadPosition(), 0u);
}

// ---- Idempotency ----

TYPED_TEST(EventStoreConformance,
           RepeatingAnAppendWithTheSameExpectedVersionReturnsTheFirstResult) {
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(2)).ok());
  const std::vector<EventData> batch = EvsWithIds(3);
  Result<AppendResult> first = this->store().Append(S("a-1"), ExpectedVersion::Exact(1), batch);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, (AppendResult{3, 5, 4}));
  EXPECT_FALSE(first->repeated);
  const std::vector<RecordedEvent> before = All(this->store());

  Result<AppendResult> again = this->store().Append(S("a-1"), ExpectedVersion::Exact(1), batch);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *first);
  EXPECT_TRUE(again->repeated);
  EXPECT_EQ(All(this->store()), before);
  EXPECT_EQ(this->store().HeadPosition(), 5u);
}

TYPED_TEST(EventStoreConformance, RepeatingAnAppendAfterTheStreamMovedOnReturnsTheFirstResult) {
  const std::vector<EventData> batch = EvsWithIds(2);
  Result<AppendResult> first = this->store().Append(S("a-1"), ExpectedVersion::NoStream(), batch);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(3)).ok());
  ASSERT_TRUE(this->store().Append(S("b-1"), ExpectedVersion::Any(), Evs(3)).ok());
  const std::vector<RecordedEvent> before = All(this->store());

  Result<AppendResult> again = this->store().Append(S("a-1"), ExpectedVersion::NoStream(), batch);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, (AppendResult{1, 2, 1}));
  EXPECT_EQ(All(this->store()), before);
}

TYPED_TEST(EventStoreConformance, RepeatingAnAppendWithAnyReturnsTheFirstResult) {
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(1)).ok());
  const std::vector<EventData> batch = EvsWithIds(2);
  Result<AppendResult> first = this->store().Append(S("a-1"), ExpectedVersion::Any(), batch);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(1)).ok());
  const std::vector<RecordedEvent> before = All(this->store());
  Result<AppendResult> again = this->store().Append(S("a-1"), ExpectedVersion::Any(), batch);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(All(this->store()), before);
}

TYPED_TEST(EventStoreConformance, RepeatingAnAppendWithStreamExistsReturnsTheFirstResult) {
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(1)).ok());
  const std::vector<EventData> batch = EvsWithIds(2);
  Result<AppendResult> first =
      this->store().Append(S("a-1"), ExpectedVersion::StreamExists(), batch);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<AppendResult> again =
      this->store().Append(S("a-1"), ExpectedVersion::StreamExists(), batch);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(this->store().HeadPosition(), 3u);
}

TYPED_TEST(EventStoreConformance, RepeatingIdsAtAnotherExpectedVersionIsWrongExpectedVersion) {
  const std::vector<EventData> batch = EvsWithIds(2);
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::NoStream(), batch).ok());
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(1)).ok());
  const std::vector<RecordedEvent> before = All(this->store());
  EXPECT_TRUE(
      IsWrongExpectedVersion(this->store().Append(S("a-1"), ExpectedVersion::Exact(2), batch), 2));
  EXPECT_TRUE(IsWrongExpectedVersion(
      this->store().Append(S("a-1"), ExpectedVersion::StreamExists(), batch), 2));
  EXPECT_EQ(All(this->store()), before);
}

TYPED_TEST(EventStoreConformance, PartialOverlapIsInvalidArgumentAndWritesNothing) {
  const std::vector<EventData> batch = EvsWithIds(2);
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), batch).ok());
  const std::vector<RecordedEvent> before = All(this->store());

  std::vector<EventData> overlap = {batch[1], Ev("new", NewUuid())};
  EXPECT_TRUE(IsCode(this->store().Append(S("a-1"), ExpectedVersion::Any(), overlap),
                     StatusCode::kInvalidArgument));
  std::vector<EventData> overlap_first_new = {Ev("new", NewUuid()), batch[0]};
  EXPECT_TRUE(IsCode(this->store().Append(S("a-1"), ExpectedVersion::Any(), overlap_first_new),
                     StatusCode::kInvalidArgument));
  EXPECT_EQ(All(this->store()), before);
}

TYPED_TEST(EventStoreConformance, RepeatingIdsInAnotherOrderIsInvalidArgument) {
  const std::vector<EventData> batch = EvsWithIds(3);
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), batch).ok());
  std::vector<EventData> reordered = {batch[2], batch[1], batch[0]};
  EXPECT_TRUE(IsCode(this->store().Append(S("a-1"), ExpectedVersion::Any(), reordered),
                     StatusCode::kInvalidArgument));
  EXPECT_EQ(this->store().HeadPosition(), 3u);
}

TYPED_TEST(EventStoreConformance, IdsOfAnotherStreamAreAnError) {
  const std::vector<EventData> batch = EvsWithIds(2);
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), batch).ok());
  const std::vector<RecordedEvent> before = All(this->store());
  Result<AppendResult> r = this->store().Append(S("b-1"), ExpectedVersion::Any(), batch);
  EXPECT_TRUE(IsCode(r, StatusCode::kInvalidArgument));
  EXPECT_EQ(All(this->store()), before);
  EXPECT_EQ(*this->store().StreamHead(S("b-1")), kNoStream);
}

TYPED_TEST(EventStoreConformance, UpperCaseIdsAreNormalisedAndStillIdempotent) {
  const std::string lower = NewUuid();
  std::string upper = lower;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  ASSERT_NE(upper, lower);

  Result<AppendResult> first =
      this->store().Append(S("a-1"), ExpectedVersion::NoStream(), {Ev("p", upper)});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::vector<RecordedEvent> events = Stream(this->store(), "a-1");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event_id, lower);

  Result<AppendResult> again_lower =
      this->store().Append(S("a-1"), ExpectedVersion::NoStream(), {Ev("p", lower)});
  ASSERT_TRUE(again_lower.ok()) << again_lower.status().ToString();
  EXPECT_EQ(*again_lower, *first);
  Result<AppendResult> again_upper =
      this->store().Append(S("a-1"), ExpectedVersion::NoStream(), {Ev("p", upper)});
  ASSERT_TRUE(again_upper.ok()) << again_upper.status().ToString();
  EXPECT_EQ(*again_upper, *first);
  EXPECT_EQ(this->store().HeadPosition(), 1u);
}

TYPED_TEST(EventStoreConformance, GeneratesDistinctCanonicalIdsForEmptyIds) {
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(5)).ok());
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(5)).ok());
  std::set<std::string> ids;
  for (const RecordedEvent& e : All(this->store())) {
    std::optional<UuidBytes> bytes = ParseUuid(e.event_id);
    ASSERT_TRUE(bytes.has_value()) << e.event_id;
    EXPECT_EQ(FormatUuid(*bytes), e.event_id);
    ids.insert(e.event_id);
  }
  EXPECT_EQ(ids.size(), 10u);
}

TYPED_TEST(EventStoreConformance, KeepsClientSuppliedIds) {
  const std::vector<EventData> batch = EvsWithIds(3);
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), batch).ok());
  EXPECT_EQ(Ids(Stream(this->store(), "a-1")), Ids(batch));
}

// ---- Reads ----

template <typename Store>
void AppendFiveToAAndThreeToB(Store& store) {
  // Interleaved: a-1 gets positions 1,2,4,6,8; b-1 gets 3,5,7.
  ASSERT_TRUE(store.Append(S("a-1"), ExpectedVersion::NoStream(), {Ev("a0"), Ev("a1")}).ok());
  ASSERT_TRUE(store.Append(S("b-1"), ExpectedVersion::NoStream(), {Ev("b0")}).ok());
  ASSERT_TRUE(store.Append(S("a-1"), ExpectedVersion::Exact(1), {Ev("a2")}).ok());
  ASSERT_TRUE(store.Append(S("b-1"), ExpectedVersion::Exact(0), {Ev("b1")}).ok());
  ASSERT_TRUE(store.Append(S("a-1"), ExpectedVersion::Exact(2), {Ev("a3")}).ok());
  ASSERT_TRUE(store.Append(S("b-1"), ExpectedVersion::Exact(1), {Ev("b2")}).ok());
  ASSERT_TRUE(store.Append(S("a-1"), ExpectedVersion::Exact(3), {Ev("a4")}).ok());
}

TYPED_TEST(EventStoreConformance, ReadStreamForwardReturnsOnlyThatStreamInOrder) {
  AppendFiveToAAndThreeToB(this->store());
  Result<std::vector<RecordedEvent>> a = this->store().ReadStream(S("a-1"), 0, 100);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(Payloads(*a), (std::vector<std::string>{"a0", "a1", "a2", "a3", "a4"}));
  EXPECT_EQ(Versions(*a), (std::vector<StreamVersion>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Positions(*a), (std::vector<GlobalPosition>{1, 2, 4, 6, 8}));
  for (const RecordedEvent& e : *a) EXPECT_EQ(e.stream, "a-1");
  Result<std::vector<RecordedEvent>> b = this->store().ReadStream(S("b-1"), 0, 100);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Positions(*b), (std::vector<GlobalPosition>{3, 5, 7}));
}

TYPED_TEST(EventStoreConformance, ReadStreamForwardFromAVersionWithAMaximum) {
  AppendFiveToAAndThreeToB(this->store());
  Result<std::vector<RecordedEvent>> r = this->store().ReadStream(S("a-1"), 2, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Versions(*r), (std::vector<StreamVersion>{2, 3}));
  Result<std::vector<RecordedEvent>> tail = this->store().ReadStream(S("a-1"), 3, 100);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(Versions(*tail), (std::vector<StreamVersion>{3, 4}));
  Result<std::vector<RecordedEvent>> past = this->store().ReadStream(S("a-1"), 5, 100);
  ASSERT_TRUE(past.ok()) << past.status().ToString();
  EXPECT_TRUE(past->empty());
  Result<std::vector<RecordedEvent>> none = this->store().ReadStream(S("a-1"), 0, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(EventStoreConformance, ReadStreamBackwardFromTheEnd) {
  AppendFiveToAAndThreeToB(this->store());
  Result<std::vector<RecordedEvent>> r =
      this->store().ReadStream(S("a-1"), kStreamEnd, 100, Direction::kBackward);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Versions(*r), (std::vector<StreamVersion>{4, 3, 2, 1, 0}));
  EXPECT_EQ(Positions(*r), (std::vector<GlobalPosition>{8, 6, 4, 2, 1}));
  Result<std::vector<RecordedEvent>> last =
      this->store().ReadStream(S("a-1"), kStreamEnd, 1, Direction::kBackward);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(Payloads(*last), (std::vector<std::string>{"a4"}));
}

TYPED_TEST(EventStoreConformance, ReadStreamBackwardFromAVersionWithAMaximum) {
  AppendFiveToAAndThreeToB(this->store());
  Result<std::vector<RecordedEvent>> r =
      this->store().ReadStream(S("a-1"), 2, 2, Direction::kBackward);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Versions(*r), (std::vector<StreamVersion>{2, 1}));
  Result<std::vector<RecordedEvent>> to_start =
      this->store().ReadStream(S("a-1"), 1, 100, Direction::kBackward);
  ASSERT_TRUE(to_start.ok());
  EXPECT_EQ(Versions(*to_start), (std::vector<StreamVersion>{1, 0}));
  Result<std::vector<RecordedEvent>> first =
      this->store().ReadStream(S("a-1"), 0, 100, Direction::kBackward);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Versions(*first), (std::vector<StreamVersion>{0}));
  Result<std::vector<RecordedEvent>> beyond =
      this->store().ReadStream(S("b-1"), 50, 100, Direction::kBackward);
  ASSERT_TRUE(beyond.ok());
  EXPECT_EQ(Versions(*beyond), (std::vector<StreamVersion>{2, 1, 0}));
  Result<std::vector<RecordedEvent>> none =
      this->store().ReadStream(S("a-1"), kStreamEnd, 0, Direction::kBackward);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(EventStoreConformance, ReadStreamOfMissingStreamIsNotFound) {
  AppendFiveToAAndThreeToB(this->store());
  EXPECT_TRUE(this->store().ReadStream(S("c-1"), 0, 10).status().IsNotFound());
  EXPECT_TRUE(this->store()
                  .ReadStream(S("c-1"), kStreamEnd, 10, Direction::kBackward)
                  .status()
                  .IsNotFound());
}

TYPED_TEST(EventStoreConformance, StreamsWhoseNamesArePrefixesOfEachOtherStaySeparate) {
  // Catches key layouts that let one stream's range run into another's.
  const std::vector<std::string> names = {"acc", "acc-1", "acc-10", "acc-1\x7E", "acd", "ac"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(this->store()
                    .Append(S(names[i]), ExpectedVersion::NoStream(),
                            Evs(static_cast<int>(i) + 1, names[i] + "/"))
                    .ok());
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(names[i]);
    std::vector<RecordedEvent> fwd = Stream(this->store(), names[i]);
    ASSERT_EQ(fwd.size(), i + 1);
    for (const RecordedEvent& e : fwd) {
      EXPECT_EQ(e.stream, names[i]);
      EXPECT_EQ(e.payload.substr(0, names[i].size() + 1), names[i] + "/");
    }
    Result<std::vector<RecordedEvent>> back =
        this->store().ReadStream(S(names[i]), kStreamEnd, 100, Direction::kBackward);
    ASSERT_TRUE(back.ok());
    ASSERT_EQ(back->size(), i + 1);
    for (const RecordedEvent& e : *back) EXPECT_EQ(e.stream, names[i]);
    EXPECT_EQ(*this->store().StreamHead(S(names[i])), static_cast<StreamVersion>(i));
  }
}

TYPED_TEST(EventStoreConformance, ReadStreamKeepsVersionOrderPastByteBoundaries) {
  // 300 events: versions 255/256 differ in more than the last byte of a big-endian key.
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(300)).ok());
  std::vector<RecordedEvent> fwd = Stream(this->store(), "a-1");
  ASSERT_EQ(fwd.size(), 300u);
  for (std::size_t i = 0; i < fwd.size(); ++i) {
    EXPECT_EQ(fwd[i].version, static_cast<StreamVersion>(i));
  }
  Result<std::vector<RecordedEvent>> around = this->store().ReadStream(S("a-1"), 254, 4);
  ASSERT_TRUE(around.ok());
  EXPECT_EQ(Versions(*around), (std::vector<StreamVersion>{254, 255, 256, 257}));
  Result<std::vector<RecordedEvent>> back =
      this->store().ReadStream(S("a-1"), 257, 4, Direction::kBackward);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(Versions(*back), (std::vector<StreamVersion>{257, 256, 255, 254}));
  Result<std::vector<RecordedEvent>> all = this->store().ReadAll(255, 3);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Positions(*all), (std::vector<GlobalPosition>{255, 256, 257}));
}

TYPED_TEST(EventStoreConformance, ReadAllReturnsEveryStreamInPositionOrder) {
  AppendFiveToAAndThreeToB(this->store());
  for (GlobalPosition from : {GlobalPosition{0}, GlobalPosition{1}}) {
    Result<std::vector<RecordedEvent>> all = this->store().ReadAll(from, 100);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_EQ(Positions(*all), (std::vector<GlobalPosition>{1, 2, 3, 4, 5, 6, 7, 8}));
    EXPECT_EQ(Payloads(*all),
              (std::vector<std::string>{"a0", "a1", "b0", "a2", "b1", "a3", "b2", "a4"}));
    ASSERT_EQ(all->size(), 8u);
    EXPECT_EQ((*all)[2].stream, "b-1");
    EXPECT_EQ((*all)[2].version, 0);
    EXPECT_EQ((*all)[7].stream, "a-1");
    EXPECT_EQ((*all)[7].version, 4);
  }
}

TYPED_TEST(EventStoreConformance, ReadAllFromAPositionWithAMaximum) {
  AppendFiveToAAndThreeToB(this->store());
  Result<std::vector<RecordedEvent>> r = this->store().ReadAll(3, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Positions(*r), (std::vector<GlobalPosition>{3, 4}));
  Result<std::vector<RecordedEvent>> last = this->store().ReadAll(8, 100);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(Positions(*last), (std::vector<GlobalPosition>{8}));
  Result<std::vector<RecordedEvent>> past = this->store().ReadAll(9, 100);
  ASSERT_TRUE(past.ok());
  EXPECT_TRUE(past->empty());
  Result<std::vector<RecordedEvent>> far = this->store().ReadAll(1'000'000'000, 100);
  ASSERT_TRUE(far.ok());
  EXPECT_TRUE(far->empty());
  Result<std::vector<RecordedEvent>> none = this->store().ReadAll(1, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(EventStoreConformance, ReadAllIntoReplacesTheContentsWithTheSameEventsAsReadAll) {
  AppendFiveToAAndThreeToB(this->store());
  std::vector<RecordedEvent> page(20);  // stale contents of a previous page
  for (RecordedEvent& e : page) {
    e.stream = "stale";
    e.payload = std::string(100, 's');
    e.metadata.extra["stale"] = "yes";
  }
  for (GlobalPosition from :
       {GlobalPosition{0}, GlobalPosition{3}, GlobalPosition{8}, GlobalPosition{9}}) {
    for (std::size_t max : {std::size_t{0}, std::size_t{2}, std::size_t{100}}) {
      SCOPED_TRACE("from " + std::to_string(from) + " max " + std::to_string(max));
      ASSERT_TRUE(this->store().ReadAllInto(from, max, &page).ok());
      Result<std::vector<RecordedEvent>> want = this->store().ReadAll(from, max);
      ASSERT_TRUE(want.ok());
      EXPECT_EQ(page, *want);
    }
  }
}

TYPED_TEST(EventStoreConformance, ReadAllOfEmptyStoreIsEmpty) {
  Result<std::vector<RecordedEvent>> all = this->store().ReadAll(0, 100);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->empty());
}

TYPED_TEST(EventStoreConformance, ReadAllAgreesWithReadStream) {
  AppendFiveToAAndThreeToB(this->store());
  std::vector<RecordedEvent> all = All(this->store());
  for (const std::string& stream : {std::string("a-1"), std::string("b-1")}) {
    std::vector<RecordedEvent> from_log;
    for (const RecordedEvent& e : all) {
      if (e.stream == stream) from_log.push_back(e);
    }
    EXPECT_EQ(Stream(this->store(), stream), from_log);
  }
}

TYPED_TEST(EventStoreConformance, StreamHeadOfMissingStreamIsNoStream) {
  Result<StreamVersion> head = this->store().StreamHead(S("nobody-1"));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(*head, kNoStream);
}

TYPED_TEST(EventStoreConformance, StreamHeadFollowsAppends) {
  AppendFiveToAAndThreeToB(this->store());
  EXPECT_EQ(*this->store().StreamHead(S("a-1")), 4);
  EXPECT_EQ(*this->store().StreamHead(S("b-1")), 2);
}

TYPED_TEST(EventStoreConformance, HeadPositionCountsEveryEvent) {
  EXPECT_EQ(this->store().HeadPosition(), 0u);
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(3)).ok());
  EXPECT_EQ(this->store().HeadPosition(), 3u);
  ASSERT_TRUE(this->store().Append(S("b-1"), ExpectedVersion::Any(), Evs(1)).ok());
  EXPECT_EQ(this->store().HeadPosition(), 4u);
}

// ---- Finding events by id ----

TYPED_TEST(EventStoreConformance, FindEventLocatesAppendedIds) {
  AppendFiveToAAndThreeToB(this->store());
  const std::vector<EventData> batch = EvsWithIds(3);
  ASSERT_TRUE(this->store().Append(S("c-1"), ExpectedVersion::NoStream(), batch).ok());
  for (int i = 0; i < 3; ++i) {
    Result<std::optional<EventLocation>> found = this->store().FindEvent(batch[i].event_id);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ(**found, (EventLocation{"c-1", i, static_cast<GlobalPosition>(9 + i)}));
  }
  for (const RecordedEvent& e : All(this->store())) {
    Result<std::optional<EventLocation>> found = this->store().FindEvent(e.event_id);
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(found->has_value()) << e.event_id;
    EXPECT_EQ(**found, (EventLocation{e.stream, e.version, e.position}));
  }
}

TYPED_TEST(EventStoreConformance, FindEventAcceptsAnyCase) {
  const std::vector<EventData> batch = EvsWithIds(1);
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), batch).ok());
  std::string upper = batch[0].event_id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  Result<std::optional<EventLocation>> found = this->store().FindEvent(upper);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->position, 1u);
}

TYPED_TEST(EventStoreConformance, FindEventOfUnknownIdIsNullopt) {
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(2)).ok());
  Result<std::optional<EventLocation>> found = this->store().FindEvent(NewUuid());
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_FALSE(found->has_value());
  // Ids of failed appends were never stored.
  const std::vector<EventData> rejected = EvsWithIds(1);
  ASSERT_FALSE(this->store().Append(S("a-1"), ExpectedVersion::NoStream(), rejected).ok());
  Result<std::optional<EventLocation>> not_stored = this->store().FindEvent(rejected[0].event_id);
  ASSERT_TRUE(not_stored.ok());
  EXPECT_FALSE(not_stored->has_value());
}

TYPED_TEST(EventStoreConformance, FindEventOfANonUuidIsInvalidArgument) {
  for (const char* bad :
       {"", "x", "0123abcd-4567-89ef-0123-456789abcdeg", "0123abcd456789ef0123456789abcdef"}) {
    EXPECT_EQ(this->store().FindEvent(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// ---- What an event carries ----

TYPED_TEST(EventStoreConformance, RoundTripsEveryFieldOfAnEvent) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  binary += std::string("\0\0\0end", 6);

  EventData binary_event;
  binary_event.event_id = NewUuid();
  binary_event.type = "bank.MoneyDeposited.v1";
  binary_event.content_type = ContentType::kBinary;
  binary_event.payload = binary;
  binary_event.metadata.correlation_id = NewUuid();
  binary_event.metadata.causation_id = NewUuid();
  binary_event.metadata.extra = {{"user", "caf\xC3\xA9"},
                                 {"empty", ""},
                                 {"", "empty key"},
                                 {"nul", std::string("a\0b", 3)},
                                 {"long", std::string(5000, 'x')}};

  EventData json_event;
  json_event.event_id = NewUuid();
  json_event.type = "bank.MoneyWithdrawn.v2";
  json_event.content_type = ContentType::kJson;
  json_event.payload = R"({"amount": 5, "note": "caf\u00e9"})";

  EventData empty_event;
  empty_event.event_id = NewUuid();
  empty_event.type = "bank.Nothing.v1";

  EventData big_event;
  big_event.event_id = NewUuid();
  big_event.type = "bank.Big.v1";
  big_event.payload.resize(1 << 20);
  for (std::size_t i = 0; i < big_event.payload.size(); ++i) {
    big_event.payload[i] = static_cast<char>((i * 131) ^ (i >> 8));
  }

  const std::vector<EventData> batch = {binary_event, json_event, empty_event, big_event};
  ASSERT_TRUE(this->store().Append(S("bank-7"), ExpectedVersion::NoStream(), batch).ok());

  std::vector<RecordedEvent> from_stream = Stream(this->store(), "bank-7");
  std::vector<RecordedEvent> from_log = All(this->store());
  ASSERT_EQ(from_stream.size(), batch.size());
  EXPECT_EQ(from_log, from_stream);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    SCOPED_TRACE(i);
    const RecordedEvent& r = from_stream[i];
    EXPECT_EQ(r.stream, "bank-7");
    EXPECT_EQ(r.version, static_cast<StreamVersion>(i));
    EXPECT_EQ(r.position, i + 1);
    EXPECT_EQ(r.event_id, batch[i].event_id);
    EXPECT_EQ(r.type, batch[i].type);
    EXPECT_EQ(r.content_type, batch[i].content_type);
    EXPECT_EQ(r.payload.size(), batch[i].payload.size());
    EXPECT_TRUE(r.payload == batch[i].payload);
    EXPECT_EQ(r.metadata, batch[i].metadata);
  }
}

TYPED_TEST(EventStoreConformance, SetsRecordedTimeInMicroseconds) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  using std::chrono::system_clock;
  const std::int64_t before =
      duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(2)).ok());
  const std::int64_t after =
      duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  // One second of slack either way: the store may read a coarser clock.
  constexpr std::int64_t kSlack = 1'000'000;
  for (const RecordedEvent& e : All(this->store())) {
    EXPECT_GE(e.recorded_at_us, before - kSlack);
    EXPECT_LE(e.recorded_at_us, after + kSlack);
  }
}

TYPED_TEST(EventStoreConformance, LongAndUnicodeStreamIdsRoundTrip) {
  const std::string longest(StreamId::kMaxBytes, 'z');
  const std::string unicode = "konto-\xE2\x82\xAC-\xF0\x9F\x98\x80";
  ASSERT_TRUE(this->store().Append(S(longest), ExpectedVersion::NoStream(), {Ev()}).ok());
  ASSERT_TRUE(this->store().Append(S(unicode), ExpectedVersion::NoStream(), {Ev()}).ok());
  EXPECT_EQ(Stream(this->store(), longest).at(0).stream, longest);
  EXPECT_EQ(Stream(this->store(), unicode).at(0).stream, unicode);
  std::vector<RecordedEvent> all = All(this->store());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].stream, longest);
  EXPECT_EQ(all[1].stream, unicode);
}

TYPED_TEST(EventStoreConformance, BadStreamIdsNeverReachTheStore) {
  // The port takes a StreamId, so a bad name is stopped by StreamId::Make.
  for (const std::string& bad :
       {std::string(), std::string(StreamId::kMaxBytes + 1, 'x'), std::string("a\nb"),
        std::string("a\xC2\x85"), std::string("\xFF"), std::string("\xC0\xAF"),
        std::string("\xED\xA0\x80"), std::string("nul\0", 4)}) {
    EXPECT_EQ(StreamId::Make(bad).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(this->store().HeadPosition(), 0u);
}

// ---- Notifications and subscriptions ----

TYPED_TEST(EventStoreConformance, OnCommittedIsCalledWithTheHeadAfterEachCommit) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<GlobalPosition> heads;
  boost::signals2::scoped_connection connection =
      this->store().OnCommitted([&](GlobalPosition head) {
        {
          std::lock_guard<std::mutex> lock(mu);
          heads.push_back(head);
        }
        cv.notify_all();
      });
  auto wait_for_head = [&](GlobalPosition head) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kHangTimeout,
                       [&] { return std::find(heads.begin(), heads.end(), head) != heads.end(); });
  };

  Result<AppendResult> r1 = this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(3));
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(wait_for_head(r1->last_position));
  Result<AppendResult> r2 = this->store().Append(S("b-1"), ExpectedVersion::Any(), Evs(1));
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(wait_for_head(r2->last_position));

  // A failed append commits nothing and announces no new head.
  ASSERT_FALSE(this->store().Append(S("a-1"), ExpectedVersion::NoStream(), Evs(1)).ok());
  connection.disconnect();
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Any(), Evs(1)).ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(heads, (std::vector<GlobalPosition>{3, 4}));
}

TYPED_TEST(EventStoreConformance, SubscriptionCatchesUpThenFollowsLive) {
  AppendFiveToAAndThreeToB(this->store());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RecordedEvent> got;
  std::atomic<int> live_calls{0};
  std::size_t delivered_when_live = 0;
  SubscriptionOptions options;
  options.batch_size = 3;
  options.on_live = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      delivered_when_live = got.size();
    }
    ++live_calls;
    cv.notify_all();
  };
  auto wait_until = [&](auto predicate) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kHangTimeout, predicate);
  };
  std::unique_ptr<Subscription> sub = this->store().SubscribeToAll(
      2,
      [&](const RecordedEvent& e) {
        {
          std::lock_guard<std::mutex> lock(mu);
          got.push_back(e);
        }
        cv.notify_all();
      },
      options);
  ASSERT_TRUE(wait_until([&] { return live_calls.load() > 0; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(delivered_when_live, 6u);
  }
  ASSERT_TRUE(this->store().Append(S("c-1"), ExpectedVersion::Any(), Evs(4)).ok());
  ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Exact(4), Evs(1)).ok());
  ASSERT_TRUE(wait_until([&] { return got.size() >= 11; }));
  sub.reset();

  std::vector<RecordedEvent> all = All(this->store());
  ASSERT_EQ(all.size(), 13u);
  EXPECT_EQ(got, std::vector<RecordedEvent>(all.begin() + 2, all.end()));
  EXPECT_EQ(live_calls.load(), 1);
}

// ---- Concurrency (both stores; the RocksDB store has heavier tests in tests/eventstore) ----

TYPED_TEST(EventStoreConformance, RacingAppendsAtOneVersionHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 15;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> ready{0};
    std::vector<Result<AppendResult>> results(kThreads, Status::Unavailable("not run"));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ++ready;
        while (ready.load() < kThreads) std::this_thread::yield();
        results[t] = this->store().Append(S("race-1"), ExpectedVersion::Exact(round - 1),
                                          {Ev("t" + std::to_string(t))});
      });
    }
    for (auto& th : threads) th.join();
    int winners = 0;
    for (const auto& r : results) {
      if (r.ok()) {
        ++winners;
        EXPECT_EQ(r->next_expected_version, round);
      } else {
        EXPECT_TRUE(IsWrongExpectedVersion(r, round));
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
  }
  EXPECT_EQ(this->store().HeadPosition(), static_cast<GlobalPosition>(kRounds));
  EXPECT_EQ(Positions(All(this->store())).back(), static_cast<GlobalPosition>(kRounds));
}

// ---- Persistence (skipped for stores that keep nothing) ----

TYPED_TEST(PersistentEventStoreConformance, ReopenKeepsEverything) {
  AppendFiveToAAndThreeToB(this->store());
  const std::vector<EventData> batch = EvsWithIds(2);
  Result<AppendResult> idempotent =
      this->store().Append(S("c-1"), ExpectedVersion::NoStream(), batch);
  ASSERT_TRUE(idempotent.ok());
  EventData with_metadata = Ev(std::string("\0bin\0", 5), NewUuid());
  with_metadata.content_type = ContentType::kJson;
  with_metadata.metadata.correlation_id = "corr";
  with_metadata.metadata.extra["k"] = "v";
  ASSERT_TRUE(this->store().Append(S("c-1"), ExpectedVersion::Any(), {with_metadata}).ok());
  const std::vector<RecordedEvent> before = All(this->store());
  ASSERT_EQ(before.size(), 11u);

  this->Reopen();

  EXPECT_EQ(All(this->store()), before);
  EXPECT_EQ(this->store().HeadPosition(), 11u);
  for (const RecordedEvent& e : before) {
    Result<std::optional<EventLocation>> found = this->store().FindEvent(e.event_id);
    ASSERT_TRUE(found.ok() && found->has_value()) << e.event_id;
    EXPECT_EQ(**found, (EventLocation{e.stream, e.version, e.position}));
  }
  EXPECT_EQ(*this->store().StreamHead(S("a-1")), 4);
  EXPECT_EQ(*this->store().StreamHead(S("b-1")), 2);
  EXPECT_EQ(*this->store().StreamHead(S("c-1")), 2);
  Result<std::vector<RecordedEvent>> back =
      this->store().ReadStream(S("a-1"), kStreamEnd, 2, Direction::kBackward);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(Versions(*back), (std::vector<StreamVersion>{4, 3}));

  // Expected versions and idempotency survive the restart.
  EXPECT_TRUE(
      IsWrongExpectedVersion(this->store().Append(S("a-1"), ExpectedVersion::Exact(3), {Ev()}), 4));
  EXPECT_TRUE(IsWrongExpectedVersion(
      this->store().Append(S("b-1"), ExpectedVersion::NoStream(), {Ev()}), 2));
  Result<AppendResult> again = this->store().Append(S("c-1"), ExpectedVersion::NoStream(), batch);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *idempotent);
  EXPECT_EQ(this->store().HeadPosition(), 11u);

  // And the log continues where it stopped.
  Result<AppendResult> next = this->store().Append(S("a-1"), ExpectedVersion::Exact(4), {Ev()});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, (AppendResult{12, 12, 5}));
  Result<AppendResult> fresh = this->store().Append(S("d-1"), ExpectedVersion::NoStream(), {Ev()});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(*fresh, (AppendResult{13, 13, 0}));
}

TYPED_TEST(PersistentEventStoreConformance, ReopenOfEmptyStoreIsEmpty) {
  this->Reopen();
  EXPECT_EQ(this->store().HeadPosition(), 0u);
  EXPECT_TRUE(All(this->store()).empty());
  Result<AppendResult> r = this->store().Append(S("a-1"), ExpectedVersion::NoStream(), {Ev()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (AppendResult{1, 1, 0}));
}

TYPED_TEST(PersistentEventStoreConformance, ReopenManyTimesKeepsPositionsContiguous) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(this->store().Append(S("a-1"), ExpectedVersion::Exact(2 * i - 1), Evs(2)).ok());
    this->Reopen();
  }
  std::vector<GlobalPosition> positions = Positions(All(this->store()));
  std::vector<GlobalPosition> want;
  for (GlobalPosition p = 1; p <= 10; ++p) want.push_back(p);
  EXPECT_EQ(positions, want);
}

}  // namespace
}  // namespace sluice
