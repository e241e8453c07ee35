// Snapshots on both stores: loads with and without snapshots agree, a load starts from the
// snapshot and reads only later events, foreign or damaged snapshots fall back to the events, the
// SnapshotStore contract (head bound, the later of two kept), and survival across a reopen.
#include <gtest/gtest.h>

#include <cereal/archives/portable_binary.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "aggregates/bank.h"
#include "aggregates/stores.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/snapshot_store.h"

namespace sluice::bank {
namespace {

using sluice::testing::RocksStores;
using sluice::testing::Sid;
using sluice::testing::StoreNames;
using sluice::testing::StoreTypes;

AggregateOptions SnapshotEvery(std::size_t n) {
  AggregateOptions o;
  o.snapshot_every = n;
  o.sync = false;
  return o;
}

template <typename State>
std::string Encode(const State& state) {
  std::ostringstream out;
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(state);
  }
  return std::move(out).str();
}

// A SnapshotStore whose reads fail, for the fallback on a store error.
class FailingSnapshotStore final : public SnapshotStore {
 public:
  Status SaveSnapshot(const StreamId&, const Snapshot&) override {
    return Status::IOError("disk on fire");
  }
  Result<std::optional<Snapshot>> LoadSnapshot(const StreamId& stream) override {
    return Status::Corruption("snapshot of '" + stream.str() + "' is damaged");
  }
};

template <typename Stores>
class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(RegisterBankEvents(registry_).ok()); }

  EventStore& store() { return stores_.events(); }
  SnapshotStore& snapshots() { return stores_.snapshots(); }

  // Opens account `id` with `initial` and makes `deposits` deposits of 1, 2, 3, ...
  void MakeAccount(AggregateService<Account>& accounts, const std::string& id, std::int64_t initial,
                   int deposits) {
    Result<CommandResult> opened =
        accounts.Execute(Sid(AccountStream(id)), ExpectedState::kNew,
                         OpenAccount{id, "ana", initial}, {}, DecideOpen);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    for (int i = 1; i <= deposits; ++i) {
      Result<CommandResult> r = accounts.Execute(Sid(AccountStream(id)), ExpectedState::kExisting,
                                                 Deposit{id, i}, {}, DecideDeposit);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }

  Stores stores_;
  EventTypeRegistry registry_;
};

TYPED_TEST_SUITE(SnapshotTest, StoreTypes, StoreNames);

// ---------------------------------------------------------------------------------------------
// The same state with and without snapshots.

TYPED_TEST(SnapshotTest, StateWithAndWithoutSnapshotsIsIdenticalOverRandomCommands) {
  constexpr int kCommands = 300;
  AggregateService<Account> plain(this->store(), this->registry_, SnapshotEvery(0),
                                  &this->snapshots());
  AggregateService<Account> every3(this->store(), this->registry_, SnapshotEvery(3),
                                   &this->snapshots());
  AggregateOptions predicate_options = SnapshotEvery(0);
  predicate_options.snapshot_when = [](StreamVersion version, std::size_t since) {
    return version % 7 == 3 || since >= 11;
  };
  AggregateService<Account> by_predicate(this->store(), this->registry_, predicate_options,
                                         &this->snapshots());
  struct Subject {
    AggregateService<Account>* service;
    std::string stream;
  };
  const std::vector<Subject> subjects = {
      {&plain, "account-plain"}, {&every3, "account-every3"}, {&by_predicate, "account-pred"}};

  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> kind(0, 99);
  std::uniform_int_distribution<std::int64_t> amount(0, 120);
  int snapshot_loads = 0;
  for (int i = 0; i < kCommands; ++i) {
    const int k = kind(rng);
    const std::int64_t a = amount(rng);
    std::vector<Result<CommandResult>> results;
    for (const Subject& s : subjects) {
      const StreamId stream = Sid(s.stream);
      if (i == 0 || k < 1) {  // open (again: rejected)
        results.push_back(s.service->Execute(stream, ExpectedState::kAny,
                                             OpenAccount{"x", "ana", a}, {}, DecideOpen));
      } else if (i == kCommands - 10 || (k >= 98 && i > kCommands - 20)) {
        // Near the end: close (two events, or none once closed); then the rest is rejected.
        results.push_back(s.service->Execute(stream, ExpectedState::kExisting, CloseAccount{"x"},
                                             {}, DecideClose));
      } else if (k < 50) {
        results.push_back(s.service->Execute(stream, ExpectedState::kExisting, Deposit{"x", a}, {},
                                             DecideDeposit));
      } else {
        results.push_back(s.service->Execute(stream, ExpectedState::kExisting, Withdraw{"x", a}, {},
                                             DecideWithdraw));
      }
    }
    for (std::size_t s = 1; s < subjects.size(); ++s) {
      ASSERT_EQ(results[s].status().code(), results[0].status().code()) << "command " << i;
      ASSERT_EQ(results[s].status().message(), results[0].status().message()) << "command " << i;
      if (results[s].ok()) {
        ASSERT_EQ(results[s]->events_appended, results[0]->events_appended) << "command " << i;
        ASSERT_EQ(results[s]->append.next_expected_version,
                  results[0]->append.next_expected_version)
            << "command " << i;
      }
    }
    Result<LoadedAggregate<Account>> reference = plain.Load(Sid("account-plain"));
    ASSERT_TRUE(reference.ok()) << reference.status().ToString();
    ASSERT_EQ(reference->snapshot_version, kNoStream);
    for (std::size_t s = 1; s < subjects.size(); ++s) {
      Result<LoadedAggregate<Account>> loaded = subjects[s].service->Load(Sid(subjects[s].stream));
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
      ASSERT_TRUE(loaded->state == reference->state)
          << subjects[s].stream << " differs after command " << i << ": balance "
          << loaded->state.balance << " vs " << reference->state.balance;
      ASSERT_EQ(loaded->version, reference->version) << "command " << i;
      if (loaded->snapshot_version != kNoStream) {
        ++snapshot_loads;
        ASSERT_EQ(loaded->events_read,
                  static_cast<std::size_t>(loaded->version - loaded->snapshot_version));
      }
    }
  }
  EXPECT_GT(snapshot_loads, kCommands) << "the snapshot services should mostly load snapshots";
  // The plain service never wrote one.
  Result<std::optional<Snapshot>> none = this->snapshots().LoadSnapshot(Sid("account-plain"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // With snapshot_every = 3, a load never reads more than 2 events past the snapshot plus the
  // largest decision (2 events).
  Result<LoadedAggregate<Account>> last = every3.Load(Sid("account-every3"));
  ASSERT_TRUE(last.ok());
  EXPECT_NE(last->snapshot_version, kNoStream);
  EXPECT_LE(last->events_read, 4u);
}

// ---------------------------------------------------------------------------------------------
// Loading from a snapshot.

TYPED_TEST(SnapshotTest, LoadWithASnapshotReadsOnlyTheEventsAfterIt) {
  AggregateService<Account> accounts(this->store(), this->registry_, SnapshotEvery(10),
                                     &this->snapshots());
  this->MakeAccount(accounts, "1", 0, 24);  // versions 0-24
  // Saved when 10 events had followed the last snapshot: after version 9 and after version 19.
  Result<std::optional<Snapshot>> kept = this->snapshots().LoadSnapshot(Sid("account-1"));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->version, 19);
  EXPECT_EQ((*kept)->schema_version, 1);

  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_version, 19);
  EXPECT_EQ(loaded->events_read, 5u);
  EXPECT_EQ(loaded->version, 24);
  EXPECT_EQ(loaded->state.balance, 24 * 25 / 2);
  EXPECT_EQ(loaded->state.transactions, 24);

  // A service without snapshots reads everything and agrees.
  AggregateService<Account> plain(this->store(), this->registry_);
  Result<LoadedAggregate<Account>> full = plain.Load(Sid("account-1"));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->events_read, 25u);
  EXPECT_EQ(full->snapshot_version, kNoStream);
  EXPECT_TRUE(full->state == loaded->state);
}

TYPED_TEST(SnapshotTest, LoadStartsFromTheSnapshotStateNotFromTheEvents) {
  // Proof that the snapshot is used: a snapshot whose state differs from the events wins.
  AggregateService<Account> accounts(this->store(), this->registry_, SnapshotEvery(0),
                                     &this->snapshots());
  this->MakeAccount(accounts, "1", 100, 3);  // versions 0-4
  Account::State planted;
  planted.open = true;
  planted.owner = "planted";
  planted.balance = 1'000'000;
  ASSERT_TRUE(
      this->snapshots().SaveSnapshot(Sid("account-1"), Snapshot{2, 1, Encode(planted)}).ok());
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->snapshot_version, 2);
  EXPECT_EQ(loaded->events_read, 2u);
  EXPECT_EQ(loaded->state.owner, "planted");
  EXPECT_EQ(loaded->state.balance, 1'000'000 + 2 + 3);
}

TYPED_TEST(SnapshotTest, ASnapshotAtTheHeadReadsNoEvents) {
  AggregateService<Account> accounts(this->store(), this->registry_, SnapshotEvery(1),
                                     &this->snapshots());
  this->MakeAccount(accounts, "1", 0, 5);
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_version, 5);
  EXPECT_EQ(loaded->version, 5);
  EXPECT_EQ(loaded->events_read, 0u);
  EXPECT_EQ(loaded->state.balance, 15);
}

TYPED_TEST(SnapshotTest, SnapshotWhenDecidesInsteadOfSnapshotEvery) {
  std::vector<std::pair<StreamVersion, std::size_t>> asked;
  AggregateOptions options = SnapshotEvery(1);  // ignored: snapshot_when is set
  options.snapshot_when = [&](StreamVersion version, std::size_t since) {
    asked.emplace_back(version, since);
    return version == 3;
  };
  AggregateService<Account> accounts(this->store(), this->registry_, options, &this->snapshots());
  this->MakeAccount(accounts, "1", 0, 5);
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->snapshot_version, 3);
  EXPECT_EQ(loaded->events_read, 2u);
  // Asked after each append with the new version and the events since the last snapshot.
  EXPECT_EQ(asked, (std::vector<std::pair<StreamVersion, std::size_t>>{
                       {0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 1}, {5, 2}}));
}

TYPED_TEST(SnapshotTest, NoSnapshotStoreMeansNoSnapshots) {
  AggregateService<Account> accounts(this->store(), this->registry_, SnapshotEvery(1), nullptr);
  this->MakeAccount(accounts, "1", 0, 5);
  Result<std::optional<Snapshot>> kept = this->snapshots().LoadSnapshot(Sid("account-1"));
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(kept->has_value());
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->events_read, 6u);
}

// ---------------------------------------------------------------------------------------------
// Snapshots that must not be used.

TYPED_TEST(SnapshotTest, SnapshotOfAnotherSchemaVersionIsIgnoredAndStateRebuiltFromEvents) {
  AggregateService<Account> v1(this->store(), this->registry_, SnapshotEvery(5),
                               &this->snapshots());
  this->MakeAccount(v1, "1", 100, 11);  // versions 0-12; schema-1 snapshots at 4 and 9
  ASSERT_TRUE(v1.Execute(Sid("account-1"), ExpectedState::kExisting, Withdraw{"1", 30}, {},
                         DecideWithdraw)
                  .ok());  // version 13
  Result<std::optional<Snapshot>> kept = this->snapshots().LoadSnapshot(Sid("account-1"));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  ASSERT_EQ((*kept)->schema_version, 1);
  ASSERT_EQ((*kept)->version, 9);

  AccountV2::State expected;
  expected.open = true;
  expected.owner = "ana";
  expected.deposited_total = 100 + 66;
  expected.balance = 100 + 66 - 30;

  AggregateService<AccountV2> v2(this->store(), this->registry_, SnapshotEvery(5),
                                 &this->snapshots());
  Result<LoadedAggregate<AccountV2>> loaded = v2.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_version, kNoStream) << "a schema-1 snapshot was read as schema 2";
  EXPECT_EQ(loaded->events_read, 14u);
  EXPECT_EQ(loaded->version, 13);
  EXPECT_TRUE(loaded->state == expected)
      << "balance " << loaded->state.balance << ", deposited " << loaded->state.deposited_total
      << ", owner '" << loaded->state.owner << "'";

  // The next command under schema 2 writes a schema-2 snapshot (all 15 events are "since" it)...
  ASSERT_TRUE(
      v2.Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 4}, {}, DecideDepositV2)
          .ok());
  kept = this->snapshots().LoadSnapshot(Sid("account-1"));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->schema_version, 2);
  EXPECT_EQ((*kept)->version, 14);
  loaded = v2.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->snapshot_version, 14);
  EXPECT_EQ(loaded->state.balance, expected.balance + 4);

  // ...which schema 1 in turn ignores.
  Result<LoadedAggregate<Account>> old = v1.Load(Sid("account-1"));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->snapshot_version, kNoStream);
  EXPECT_EQ(old->state.balance, expected.balance + 4);
  EXPECT_EQ(old->state.transactions, 14);
}

TYPED_TEST(SnapshotTest, DamagedSnapshotPayloadFallsBackToTheEvents) {
  AggregateService<Account> accounts(this->store(), this->registry_, SnapshotEvery(0),
                                     &this->snapshots());
  this->MakeAccount(accounts, "1", 10, 4);  // versions 0-5, balance 20
  Account::State s;
  s.open = true;
  s.owner = "someone else";
  s.balance = 999;
  const std::string good = Encode(s);
  const std::vector<std::pair<std::string, std::string>> damaged = {
      {"empty", ""},
      {"truncated", good.substr(0, good.size() / 2)},
      {"trailing bytes", good + "junk"},
      {"huge string length", std::string("\x01\x01\x00", 3) + std::string(8, '\xff')},
  };
  StreamVersion version = 1;
  for (const auto& [what, payload] : damaged) {
    // Each a later version than the one before, so each replaces it.
    ASSERT_TRUE(
        this->snapshots().SaveSnapshot(Sid("account-1"), Snapshot{version++, 1, payload}).ok());
    Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
    ASSERT_TRUE(loaded.ok()) << what << ": " << loaded.status().ToString();
    EXPECT_EQ(loaded->snapshot_version, kNoStream) << what;
    EXPECT_EQ(loaded->events_read, 6u) << what;
    EXPECT_EQ(loaded->state.balance, 20) << what;
    EXPECT_EQ(loaded->state.owner, "ana") << what;
  }
}

// A bool stored as a byte other than 0 or 1 cannot have been written by cereal: the payload is
// damaged, and loading it into a bool would be undefined behaviour.
TYPED_TEST(SnapshotTest, SnapshotWithAnImpossibleBoolByteFallsBackToTheEvents) {
  AggregateService<Account> accounts(this->store(), this->registry_, SnapshotEvery(0),
                                     &this->snapshots());
  this->MakeAccount(accounts, "1", 10, 4);  // versions 0-5, balance 20
  Account::State s;
  s.open = true;
  s.owner = "someone else";
  s.balance = 999;
  std::string payload = Encode(s);
  ASSERT_EQ(payload[1], '\x01') << "byte 0 is cereal's endianness flag, byte 1 State::open";
  payload[1] = '\x02';
  ASSERT_TRUE(this->snapshots().SaveSnapshot(Sid("account-1"), Snapshot{5, 1, payload}).ok());
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_version, kNoStream) << "a damaged snapshot was used";
  EXPECT_EQ(loaded->state.owner, "ana");
  EXPECT_EQ(loaded->state.balance, 20);
}

TYPED_TEST(SnapshotTest, ASnapshotStoreErrorFallsBackToTheEvents) {
  FailingSnapshotStore failing;
  AggregateService<Account> accounts(this->store(), this->registry_, SnapshotEvery(1), &failing);
  this->MakeAccount(accounts, "1", 10, 4);  // saving fails every time: commands still succeed
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_version, kNoStream);
  EXPECT_EQ(loaded->state.balance, 20);
}

// ---------------------------------------------------------------------------------------------
// The SnapshotStore contract.

TYPED_TEST(SnapshotTest, SaveSnapshotRefusesVersionsBeyondTheHeadOrNegative) {
  AggregateService<Account> accounts(this->store(), this->registry_);
  this->MakeAccount(accounts, "1", 0, 2);  // versions 0-2
  SnapshotStore& snapshots = this->snapshots();
  const Status beyond = snapshots.SaveSnapshot(Sid("account-1"), Snapshot{3, 1, "x"});
  EXPECT_EQ(beyond.code(), StatusCode::kInvalidArgument) << beyond.ToString();
  EXPECT_EQ(snapshots.SaveSnapshot(Sid("account-1"), Snapshot{-1, 1, "x"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(snapshots.SaveSnapshot(Sid("account-missing"), Snapshot{0, 1, "x"}).code(),
            StatusCode::kInvalidArgument);
  Result<std::optional<Snapshot>> kept = snapshots.LoadSnapshot(Sid("account-1"));
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(kept->has_value());
  EXPECT_TRUE(snapshots.SaveSnapshot(Sid("account-1"), Snapshot{2, 1, "x"}).ok());
}

TYPED_TEST(SnapshotTest, SaveSnapshotKeepsTheLaterOfTwo) {
  AggregateService<Account> accounts(this->store(), this->registry_);
  this->MakeAccount(accounts, "1", 0, 9);  // versions 0-9
  SnapshotStore& snapshots = this->snapshots();
  const Snapshot later{5, 1, "later"};
  const Snapshot earlier{3, 1, "earlier"};
  ASSERT_TRUE(snapshots.SaveSnapshot(Sid("account-1"), later).ok());
  EXPECT_TRUE(snapshots.SaveSnapshot(Sid("account-1"), earlier).ok()) << "not an error, a no-op";
  Result<std::optional<Snapshot>> kept = snapshots.LoadSnapshot(Sid("account-1"));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ(**kept, later);

  const Snapshot newest{8, 2, std::string("new\0est", 7)};
  ASSERT_TRUE(snapshots.SaveSnapshot(Sid("account-1"), newest).ok());
  kept = snapshots.LoadSnapshot(Sid("account-1"));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ(**kept, newest) << "version, schema and payload bytes come back as saved";

  Result<std::optional<Snapshot>> other = snapshots.LoadSnapshot(Sid("account-2"));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

TEST(RocksSnapshotTest, SnapshotsSurviveReopeningTheStore) {
  RocksStores stores;
  EventTypeRegistry registry;
  ASSERT_TRUE(RegisterBankEvents(registry).ok());
  {
    AggregateService<Account> accounts(stores.events(), registry, SnapshotEvery(10),
                                       &stores.snapshots());
    ASSERT_TRUE(accounts
                    .Execute(Sid("account-1"), ExpectedState::kNew, OpenAccount{"1", "ana", 0}, {},
                             DecideOpen)
                    .ok());
    for (int i = 1; i <= 14; ++i) {
      ASSERT_TRUE(accounts
                      .Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", i}, {},
                               DecideDeposit)
                      .ok());
    }
  }
  stores.Reopen();
  Result<std::optional<Snapshot>> kept = stores.snapshots().LoadSnapshot(Sid("account-1"));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->version, 9);
  AggregateService<Account> accounts(stores.events(), registry, SnapshotEvery(10),
                                     &stores.snapshots());
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_version, 9);
  EXPECT_EQ(loaded->events_read, 5u);
  EXPECT_EQ(loaded->state.balance, 14 * 15 / 2);
}

}  // namespace
}  // namespace sluice::bank
