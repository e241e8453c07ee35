// Upcasting on both stores: events written by an earlier version of the bank (old type names and
// shapes) are read through UpcastingEventStore by every read path (aggregate load, ReadStream,
// ReadAll, a subscription) in their current shapes only, while the stored bytes stay as written.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "aggregates/bank.h"
#include "aggregates/stores.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/upcaster.h"
#include "sluice/core/upcasting_event_store.h"
#include "sluice/core/uuid.h"

namespace sluice::bank {
namespace {

using sluice::testing::ReadWholeLog;
using sluice::testing::ReadWholeStream;
using sluice::testing::Sid;
using sluice::testing::StoreNames;
using sluice::testing::StoreTypes;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// What the earlier version of the bank wrote.

// "bank.MoneyDeposited.v1": no currency yet.
struct MoneyDepositedV1 {
  std::int64_t amount = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount));
  }
};
// "bank.AccountOpenedWithDeposit.v1": one event for what is now AccountOpened + MoneyDeposited.
struct AccountOpenedWithDepositV1 {
  std::string owner;
  std::int64_t initial = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(owner), CEREAL_NVP(initial));
  }
};
constexpr const char* kDepositedV1 = "bank.MoneyDeposited.v1";
constexpr const char* kOpenedWithDepositV1 = "bank.AccountOpenedWithDeposit.v1";
constexpr const char* kWithdrawnOldName = "bank.Withdrawn.v1";  // now bank.MoneyWithdrawn.v1

// A three-step chain: v1 -> v2 (adds priority) -> v3 (adds author).
struct NoteV1 {
  std::string text;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(text));
  }
};
struct NoteV2 {
  std::string text;
  int priority = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(text), CEREAL_NVP(priority));
  }
};
struct NoteV3 {
  std::string text;
  int priority = 0;
  std::string author;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(text), CEREAL_NVP(priority), CEREAL_NVP(author));
  }
  friend bool operator==(const NoteV3&, const NoteV3&) = default;
};

const std::set<std::string>& CurrentBankTypes() {
  static const std::set<std::string> types = {kAccountOpenedType, kMoneyDepositedType,
                                              kMoneyWithdrawnType, kAccountClosedType};
  return types;
}

// Safety net against hangs only; nothing waits for time to pass.
constexpr auto kHangTimeout = std::chrono::seconds(60);

template <typename Stores>
class UpcastingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The old program's registry.
    ASSERT_TRUE(old_registry_.Register<MoneyDepositedV1>(kDepositedV1).ok());
    ASSERT_TRUE(old_registry_.Register<AccountOpenedWithDepositV1>(kOpenedWithDepositV1).ok());
    ASSERT_TRUE(old_registry_.Register<MoneyWithdrawn>(kWithdrawnOldName).ok());
    // Today's: the current types, plus the old ones its upcasters decode.
    ASSERT_TRUE(RegisterBankEvents(registry_).ok());
    ASSERT_TRUE(registry_.Register<MoneyDepositedV1>(kDepositedV1).ok());
    ASSERT_TRUE(registry_.Register<AccountOpenedWithDepositV1>(kOpenedWithDepositV1).ok());
    ASSERT_TRUE(upcasters_
                    .Add<MoneyDepositedV1>(registry_,
                                           [](const MoneyDepositedV1& old) {
                                             return MoneyDeposited{old.amount, "EUR"};
                                           })
                    .ok());
    ASSERT_TRUE(upcasters_.Rename(kWithdrawnOldName, kMoneyWithdrawnType).ok());
    ASSERT_TRUE(upcasters_
                    .Split<AccountOpenedWithDepositV1>(registry_,
                                                       [](const AccountOpenedWithDepositV1& old) {
                                                         return std::make_tuple(
                                                             AccountOpened{old.owner},
                                                             MoneyDeposited{old.initial, "EUR"});
                                                       })
                    .ok());
    upcasting_ = std::make_unique<UpcastingEventStore>(inner(), upcasters_, &stores_.snapshots());
  }

  EventStore& inner() { return stores_.events(); }

  // Appends `event` as the old program did, with the old registry.
  template <typename T>
  void AppendOld(const std::string& stream, const T& event,
                 ContentType content_type = ContentType::kBinary) {
    Result<EventData> data = old_registry_.Encode(event, content_type);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    data->metadata.correlation_id = "old-correlation";
    data->metadata.extra["written_by"] = "bank 1.0";
    written_.push_back(*data);
    Result<AppendResult> r =
        inner().Append(Sid(stream), ExpectedVersion::Any(), {std::move(*data)});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // account-old: opened with 100 (split), deposit 50 (v1 shape), withdrawal 30 (old name).
  void WriteOldHistory() {
    AppendOld("account-old", AccountOpenedWithDepositV1{"ana", 100});
    AppendOld("account-old", MoneyDepositedV1{50});
    AppendOld("account-old", MoneyWithdrawn{30}, ContentType::kJson);
  }

  // Checks the upcast view of WriteOldHistory's events (as read forward).
  void ExpectCurrentShapesOfOldHistory(const std::vector<RecordedEvent>& events) {
    ASSERT_EQ(events.size(), 4u);
    for (const RecordedEvent& e : events) {
      EXPECT_TRUE(CurrentBankTypes().contains(e.type)) << "old shape seen: " << e.type;
      EXPECT_EQ(e.stream, "account-old");
      EXPECT_EQ(e.metadata.correlation_id, "old-correlation");
      EXPECT_EQ(e.metadata.extra.at("written_by"), "bank 1.0");
    }
    std::vector<Account::Event> decoded;
    for (const RecordedEvent& e : events) {
      Result<Account::Event> d = registry_.DecodeVariant<Account::Event>(e);
      ASSERT_TRUE(d.ok()) << d.status().ToString();
      decoded.push_back(*d);
    }
    EXPECT_EQ(decoded,
              (std::vector<Account::Event>{AccountOpened{"ana"}, MoneyDeposited{100, "EUR"},
                                           MoneyDeposited{50, "EUR"}, MoneyWithdrawn{30}}));
    // The split's parts share the original's version and position; the second gets a derived id.
    EXPECT_EQ(events[0].version, 0);
    EXPECT_EQ(events[1].version, 0);
    EXPECT_EQ(events[0].position, events[1].position);
    EXPECT_EQ(events[1].event_id, DeriveUuid(events[0].event_id, "upcast-part-1"));
    EXPECT_NE(events[0].event_id, events[1].event_id);
    EXPECT_EQ(events[2].version, 1);
    EXPECT_EQ(events[3].version, 2);
    EXPECT_EQ(events[3].content_type, ContentType::kJson) << "a rename keeps the payload as is";
  }

  Stores stores_;
  EventTypeRegistry old_registry_;
  EventTypeRegistry registry_;
  Upcasters upcasters_;
  std::unique_ptr<UpcastingEventStore> upcasting_;
  std::vector<EventData> written_;  // what AppendOld wrote, in order
};

TYPED_TEST_SUITE(UpcastingTest, StoreTypes, StoreNames);

TYPED_TEST(UpcastingTest, AggregateLoadSeesOnlyCurrentShapes) {
  this->WriteOldHistory();
  AggregateService<Account> accounts(*this->upcasting_, this->registry_);
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-old"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->state.owner, "ana");
  EXPECT_TRUE(loaded->state.open);
  EXPECT_EQ(loaded->state.balance, 120);
  EXPECT_EQ(loaded->state.transactions, 3);
  EXPECT_EQ(loaded->version, 2) << "a split does not shift versions";
  EXPECT_EQ(loaded->events_read, 4u);
}

TYPED_TEST(UpcastingTest, WithoutTheUpcastingStoreOldEventsDoNotLoad) {
  this->WriteOldHistory();
  AggregateService<Account> accounts(this->inner(), this->registry_);
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-old"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(Contains(loaded.status().message(), kOpenedWithDepositV1))
      << loaded.status().ToString();
}

TYPED_TEST(UpcastingTest, CommandsOnAnUpcastHistoryAppendAtTheRightVersion) {
  this->WriteOldHistory();
  AggregateService<Account> accounts(*this->upcasting_, this->registry_);
  Result<CommandResult> r = accounts.Execute(Sid("account-old"), ExpectedState::kExisting,
                                             Withdraw{"old", 120}, {}, DecideWithdraw);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->append.next_expected_version, 3);
  Result<CommandResult> more = accounts.Execute(Sid("account-old"), ExpectedState::kExisting,
                                                Withdraw{"old", 1}, {}, DecideWithdraw);
  EXPECT_EQ(more.status().code(), StatusCode::kRejected);
  const std::vector<RecordedEvent> stored = ReadWholeStream(this->inner(), "account-old");
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[3].type, kMoneyWithdrawnType);
}

TYPED_TEST(UpcastingTest, ReadStreamSeesOnlyCurrentShapesForwardAndBackward) {
  this->WriteOldHistory();
  Result<std::vector<RecordedEvent>> forward =
      this->upcasting_->ReadStream(Sid("account-old"), 0, 100, Direction::kForward);
  ASSERT_TRUE(forward.ok()) << forward.status().ToString();
  this->ExpectCurrentShapesOfOldHistory(*forward);

  Result<std::vector<RecordedEvent>> backward =
      this->upcasting_->ReadStream(Sid("account-old"), kStreamEnd, 100, Direction::kBackward);
  ASSERT_TRUE(backward.ok()) << backward.status().ToString();
  ASSERT_EQ(backward->size(), 4u);
  for (const RecordedEvent& e : *backward)
    EXPECT_TRUE(CurrentBankTypes().contains(e.type)) << e.type;
  EXPECT_EQ((*backward)[0].version, 2);
  EXPECT_EQ((*backward)[0].type, kMoneyWithdrawnType);

  Result<std::vector<RecordedEvent>> missing =
      this->upcasting_->ReadStream(Sid("account-none"), 0, 100);
  EXPECT_TRUE(missing.status().IsNotFound());
}

TYPED_TEST(UpcastingTest, ReadAllSeesOnlyCurrentShapes) {
  this->WriteOldHistory();
  Result<std::vector<RecordedEvent>> all = this->upcasting_->ReadAll(1, 100);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  this->ExpectCurrentShapesOfOldHistory(*all);

  std::vector<RecordedEvent> page;
  ASSERT_TRUE(this->upcasting_->ReadAllInto(1, 100, &page).ok());
  this->ExpectCurrentShapesOfOldHistory(page);
  // A page of 1 stored event may hold more events after a split.
  ASSERT_TRUE(this->upcasting_->ReadAllInto(1, 1, &page).ok());
  EXPECT_EQ(page.size(), 2u);
}

TYPED_TEST(UpcastingTest, SubscriptionSeesOnlyCurrentShapesWhileCatchingUpAndLive) {
  this->WriteOldHistory();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RecordedEvent> seen;
  bool live = false;
  Status error;
  SubscriptionOptions options;
  options.batch_size = 2;
  options.on_live = [&] {
    std::lock_guard<std::mutex> lock(mu);
    live = true;
    cv.notify_all();
  };
  options.on_error = [&](const Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    error = s;
    cv.notify_all();
  };
  std::unique_ptr<Subscription> subscription = this->upcasting_->SubscribeToAll(
      0,
      [&](const RecordedEvent& e) {
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(e);
        cv.notify_all();
      },
      options);
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kHangTimeout, [&] { return live || !error.ok(); }));
    ASSERT_TRUE(error.ok()) << error.ToString();
    this->ExpectCurrentShapesOfOldHistory(seen);
  }
  // Live: another old-shaped event (and a current one) after the subscription caught up.
  this->AppendOld("account-old", AccountOpenedWithDepositV1{"bob", 7});
  this->AppendOld("account-old", MoneyDepositedV1{8});
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kHangTimeout, [&] { return seen.size() >= 7 || !error.ok(); }));
    ASSERT_TRUE(error.ok()) << error.ToString();
    ASSERT_EQ(seen.size(), 7u);
    for (const RecordedEvent& e : seen) EXPECT_TRUE(CurrentBankTypes().contains(e.type)) << e.type;
    EXPECT_EQ(seen[4].type, kAccountOpenedType);
    EXPECT_EQ(seen[5].type, kMoneyDepositedType);
    EXPECT_EQ(seen[6].type, kMoneyDepositedType);
    Result<MoneyDeposited> last = this->registry_.template Decode<MoneyDeposited>(seen[6]);
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(*last, (MoneyDeposited{8, "EUR"}));
  }
  subscription.reset();
}

TYPED_TEST(UpcastingTest, StoredEventsKeepTheirOldTypesAndBytes) {
  this->WriteOldHistory();
  // Read through the upcasting store first, and append through it: nothing is rewritten.
  ASSERT_TRUE(this->upcasting_->ReadAll(1, 100).ok());
  AggregateService<Account> accounts(*this->upcasting_, this->registry_);
  ASSERT_TRUE(accounts.Load(Sid("account-old")).ok());
  const std::vector<RecordedEvent> stored = ReadWholeLog(this->inner());
  ASSERT_EQ(stored.size(), this->written_.size());
  for (std::size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].type, this->written_[i].type);
    EXPECT_EQ(stored[i].payload, this->written_[i].payload);
    EXPECT_EQ(stored[i].content_type, this->written_[i].content_type);
  }
  EXPECT_EQ(stored[0].type, kOpenedWithDepositV1);
  EXPECT_EQ(stored[1].type, kDepositedV1);
  EXPECT_EQ(stored[2].type, kWithdrawnOldName);
}

TYPED_TEST(UpcastingTest, EverythingElsePassesThroughToTheInnerStore) {
  this->WriteOldHistory();
  UpcastingEventStore& up = *this->upcasting_;
  Result<StreamVersion> head = up.StreamHead(Sid("account-old"));
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, 2);
  EXPECT_EQ(up.HeadPosition(), 3u);
  const RecordedEvent first = ReadWholeLog(this->inner()).at(0);
  Result<std::optional<EventLocation>> found = up.FindEvent(first.event_id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->position, 1u);
  // Snapshots go to the given snapshot store; without one none are kept.
  ASSERT_TRUE(up.SaveSnapshot(Sid("account-old"), Snapshot{1, 1, "s"}).ok());
  Result<std::optional<Snapshot>> kept = this->stores_.snapshots().LoadSnapshot(Sid("account-old"));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->payload, "s");
  UpcastingEventStore no_snapshots(this->inner(), this->upcasters_);
  EXPECT_TRUE(no_snapshots.SaveSnapshot(Sid("account-old"), Snapshot{2, 1, "t"}).ok());
  Result<std::optional<Snapshot>> none = no_snapshots.LoadSnapshot(Sid("account-old"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TYPED_TEST(UpcastingTest, SnapshotsWorkOnAnUpcastHistory) {
  this->WriteOldHistory();
  AggregateOptions options;
  options.snapshot_every = 2;
  AggregateService<Account> accounts(*this->upcasting_, this->registry_, options,
                                     this->upcasting_.get());
  ASSERT_TRUE(accounts
                  .Execute(Sid("account-old"), ExpectedState::kExisting, Deposit{"old", 5}, {},
                           DecideDeposit)
                  .ok());
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-old"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_version, 3);
  EXPECT_EQ(loaded->events_read, 0u);
  EXPECT_EQ(loaded->state.balance, 125);
}

// ---------------------------------------------------------------------------------------------
// Chains and failures.

TYPED_TEST(UpcastingTest, AChainV1ToV2ToV3Applies) {
  EventTypeRegistry registry;
  ASSERT_TRUE(registry.Register<NoteV1>("notes.Noted.v1").ok());
  ASSERT_TRUE(registry.Register<NoteV2>("notes.Noted.v2").ok());
  ASSERT_TRUE(registry.Register<NoteV3>("notes.Noted.v3").ok());
  Upcasters chain;
  // Registered in reverse order: the chain follows type names, not registration order.
  ASSERT_TRUE(chain
                  .Add<NoteV2>(registry,
                               [](const NoteV2& v2) {
                                 return NoteV3{v2.text, v2.priority, "?"};
                               })
                  .ok());
  ASSERT_TRUE(chain.Add<NoteV1>(registry,
                                [](const NoteV1& v1) {
                                  return NoteV2{v1.text, 3};
                                })
                  .ok());
  UpcastingEventStore up(this->inner(), chain);

  Result<EventData> v1 = registry.Encode(NoteV1{"first"});
  Result<EventData> v2 = registry.Encode(NoteV2{"second", 9}, ContentType::kJson);
  Result<EventData> v3 = registry.Encode(NoteV3{"third", 1, "ana"});
  ASSERT_TRUE(v1.ok() && v2.ok() && v3.ok());
  ASSERT_TRUE(this->inner().Append(Sid("notes-1"), ExpectedVersion::Any(), {*v1, *v2, *v3}).ok());

  Result<std::vector<RecordedEvent>> read = up.ReadStream(Sid("notes-1"), 0, 10);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 3u);
  std::vector<NoteV3> notes;
  for (const RecordedEvent& e : *read) {
    EXPECT_EQ(e.type, "notes.Noted.v3");
    Result<NoteV3> n = registry.Decode<NoteV3>(e);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    notes.push_back(*n);
  }
  EXPECT_EQ(notes,
            (std::vector<NoteV3>{{"first", 3, "?"}, {"second", 9, "?"}, {"third", 1, "ana"}}));
  EXPECT_EQ((*read)[1].content_type, ContentType::kJson) << "upcasts keep the content type";
}

TYPED_TEST(UpcastingTest, ALoopingChainIsAnErrorNotAHang) {
  Upcasters looping;
  ASSERT_TRUE(looping.Rename("loop.A.v1", "loop.B.v1").ok());
  ASSERT_TRUE(looping.Rename("loop.B.v1", "loop.A.v1").ok());
  UpcastingEventStore up(this->inner(), looping);
  EventData e;
  e.type = "loop.A.v1";
  ASSERT_TRUE(this->inner().Append(Sid("loop-1"), ExpectedVersion::Any(), {e}).ok());

  Result<std::vector<RecordedEvent>> read = up.ReadStream(Sid("loop-1"), 0, 10);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument) << read.status().ToString();
  EXPECT_TRUE(Contains(read.status().message(), "loop")) << read.status().ToString();
  EXPECT_TRUE(Contains(read.status().message(), "loop-1")) << read.status().ToString();
  EXPECT_FALSE(up.ReadAll(1, 10).ok());
}

TYPED_TEST(UpcastingTest, AnUpcasterOnACorruptPayloadIsCorruptionNamingTheEvent) {
  this->WriteOldHistory();
  EventData bad;
  bad.type = kDepositedV1;
  bad.payload = std::string("\x01\x02", 2);  // an int64 needs 8 bytes
  ASSERT_TRUE(this->inner().Append(Sid("account-bad"), ExpectedVersion::Any(), {bad}).ok());
  EventData bad_split;
  bad_split.type = kOpenedWithDepositV1;
  bad_split.payload = "not cereal at all";
  ASSERT_TRUE(
      this->inner().Append(Sid("account-bad-split"), ExpectedVersion::Any(), {bad_split}).ok());

  for (const char* stream : {"account-bad", "account-bad-split"}) {
    Result<std::vector<RecordedEvent>> read = this->upcasting_->ReadStream(Sid(stream), 0, 10);
    ASSERT_FALSE(read.ok()) << stream;
    EXPECT_EQ(read.status().code(), StatusCode::kCorruption) << read.status().ToString();
    EXPECT_TRUE(Contains(read.status().message(), stream)) << read.status().ToString();
    AggregateService<Account> accounts(*this->upcasting_, this->registry_);
    Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid(stream));
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption) << loaded.status().ToString();
  }
  Result<std::vector<RecordedEvent>> all = this->upcasting_->ReadAll(1, 100);
  EXPECT_EQ(all.status().code(), StatusCode::kCorruption);
  // The good stream still reads.
  EXPECT_TRUE(this->upcasting_->ReadStream(Sid("account-old"), 0, 10).ok());
}

TYPED_TEST(UpcastingTest, AThrowingOrFailingUpcasterIsCorruption) {
  Upcasters broken;
  ASSERT_TRUE(broken
                  .AddRaw("odd.Thrown.v1",
                          [](const RecordedEvent&) -> Result<std::vector<RecordedEvent>> {
                            throw std::runtime_error("upcaster bug");
                          })
                  .ok());
  ASSERT_TRUE(broken
                  .AddRaw("odd.Failed.v1",
                          [](const RecordedEvent&) -> Result<std::vector<RecordedEvent>> {
                            return Status::InvalidArgument("cannot convert");
                          })
                  .ok());
  UpcastingEventStore up(this->inner(), broken);
  EventData thrown;
  thrown.type = "odd.Thrown.v1";
  EventData failed;
  failed.type = "odd.Failed.v1";
  ASSERT_TRUE(this->inner().Append(Sid("odd-1"), ExpectedVersion::Any(), {thrown}).ok());
  ASSERT_TRUE(this->inner().Append(Sid("odd-2"), ExpectedVersion::Any(), {failed}).ok());
  Result<std::vector<RecordedEvent>> a = up.ReadStream(Sid("odd-1"), 0, 10);
  EXPECT_EQ(a.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(Contains(a.status().message(), "upcaster bug")) << a.status().ToString();
  Result<std::vector<RecordedEvent>> b = up.ReadStream(Sid("odd-2"), 0, 10);
  EXPECT_EQ(b.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(Contains(b.status().message(), "cannot convert")) << b.status().ToString();
}

TYPED_TEST(UpcastingTest, AnUpcasterMayDropAnEventType) {
  Upcasters dropping;
  ASSERT_TRUE(dropping
                  .AddRaw("noise.Pinged.v1",
                          [](const RecordedEvent&) -> Result<std::vector<RecordedEvent>> {
                            return std::vector<RecordedEvent>{};
                          })
                  .ok());
  UpcastingEventStore up(this->inner(), dropping);
  EventData ping;
  ping.type = "noise.Pinged.v1";
  EventData kept;
  kept.type = "noise.Kept.v1";
  ASSERT_TRUE(
      this->inner().Append(Sid("noise-1"), ExpectedVersion::Any(), {ping, kept, ping}).ok());
  Result<std::vector<RecordedEvent>> read = up.ReadStream(Sid("noise-1"), 0, 10);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].type, "noise.Kept.v1");
  EXPECT_EQ((*read)[0].version, 1);
}

TEST(UpcastersTest, ASecondUpcasterForATypeIsInvalidArgument) {
  Upcasters up;
  ASSERT_TRUE(up.Rename("a.X.v1", "a.X.v2").ok());
  EXPECT_EQ(up.Rename("a.X.v1", "a.Y.v1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(up.AddRaw("",
                      [](const RecordedEvent& e) -> Result<std::vector<RecordedEvent>> {
                        return std::vector<RecordedEvent>{e};
                      })
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(UpcastersTest, AddForAnUnregisteredOldTypeIsNotFound) {
  EventTypeRegistry registry;
  Upcasters up;
  const Status s = up.Add<MoneyDepositedV1>(registry, [](const MoneyDepositedV1& old) {
    return MoneyDeposited{old.amount, "EUR"};
  });
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_TRUE(up.empty());
}

TEST(UpcastersTest, ApplyLeavesEventsWithoutAnUpcasterAlone) {
  Upcasters up;
  ASSERT_TRUE(up.Rename("a.X.v1", "a.X.v2").ok());
  RecordedEvent e;
  e.type = "b.Other.v1";
  e.payload = "p";
  Result<std::vector<RecordedEvent>> out = up.Apply(e);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0], e);
}

}  // namespace
}  // namespace sluice::bank
