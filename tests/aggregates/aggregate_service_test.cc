// AggregateService on both stores (in memory and RocksDB): load, guards, rejections, empty
// decisions, retries on version conflicts, concurrency without lost updates, and idempotency by
// command id.
#include "sluice/core/aggregate_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aggregates/bank.h"
#include "aggregates/stores.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/uuid.h"

namespace sluice::bank {
namespace {

using sluice::testing::InterposingEventStore;
using sluice::testing::ReadWholeLog;
using sluice::testing::ReadWholeStream;
using sluice::testing::Sid;
using sluice::testing::StoreNames;
using sluice::testing::StoreTypes;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

CommandMetadata WithId(std::string command_id) {
  CommandMetadata m;
  m.command_id = std::move(command_id);
  return m;
}

// Commands of one process on one stream race here as if they came from several processes
// (serialize_per_stream off), unless a test says otherwise.
AggregateOptions Options(int max_attempts = 5, bool sync = false, bool serialize = false) {
  AggregateOptions o;
  o.max_attempts = max_attempts;
  o.sync = sync;
  o.serialize_per_stream = serialize;
  return o;
}

template <typename Stores>
class AggregateServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBankEvents(registry_).ok());
    ASSERT_TRUE(RegisterCounterEvents(registry_).ok());
  }

  EventStore& store() { return stores_.events(); }

  Result<CommandResult> Open(AggregateService<Account>& accounts, const std::string& id,
                             std::int64_t initial = 0) {
    return accounts.Execute(Sid(AccountStream(id)), ExpectedState::kNew,
                            OpenAccount{id, "ana", initial}, {}, DecideOpen);
  }

  // Appends a deposit to the account's stream directly, behind any service's back.
  void DepositBehindTheBack(const std::string& id, std::int64_t amount) {
    Result<EventData> data = registry_.Encode(MoneyDeposited{amount, "EUR"});
    ASSERT_TRUE(data.ok());
    Result<AppendResult> r = store().Append(Sid(AccountStream(id)), ExpectedVersion::Any(),
                                            {std::move(*data)}, AppendOptions{false});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // The events of `stream` decoded as Account events.
  std::vector<Account::Event> Decoded(const std::string& stream) {
    std::vector<Account::Event> out;
    for (const RecordedEvent& e : ReadWholeStream(store(), stream)) {
      Result<Account::Event> d = registry_.DecodeVariant<Account::Event>(e);
      EXPECT_TRUE(d.ok()) << d.status().ToString();
      if (d.ok()) out.push_back(std::move(*d));
    }
    return out;
  }

  Stores stores_;
  EventTypeRegistry registry_;
};

TYPED_TEST_SUITE(AggregateServiceTest, StoreTypes, StoreNames);

// ---------------------------------------------------------------------------------------------
// Load and Execute.

TYPED_TEST(AggregateServiceTest, LoadOfAMissingStreamIsTheDefaultStateAtNoStream) {
  AggregateService<Account> accounts(this->store(), this->registry_);
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-none"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->state, Account::State{});
  EXPECT_EQ(loaded->version, kNoStream);
  EXPECT_EQ(loaded->snapshot_version, kNoStream);
  EXPECT_EQ(loaded->events_read, 0u);
}

TYPED_TEST(AggregateServiceTest, ExecuteAppendsTheDecidedEventsAndLoadFoldsThem) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options(5, /*sync=*/true));
  Result<CommandResult> opened = this->Open(accounts, "1", 50);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->stream, "account-1");
  EXPECT_EQ(opened->events_appended, 2u);
  EXPECT_EQ(opened->append, (AppendResult{1, 2, 1}));
  EXPECT_FALSE(opened->duplicate);
  EXPECT_EQ(opened->attempts, 1);

  Result<CommandResult> deposited = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                                     Deposit{"1", 20}, {}, DecideDeposit);
  ASSERT_TRUE(deposited.ok()) << deposited.status().ToString();
  EXPECT_EQ(deposited->append, (AppendResult{3, 3, 2}));

  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->state.balance, 70);
  EXPECT_EQ(loaded->state.owner, "ana");
  EXPECT_TRUE(loaded->state.open);
  EXPECT_EQ(loaded->version, 2);
  EXPECT_EQ(loaded->events_read, 3u);

  const std::vector<RecordedEvent> events = ReadWholeStream(this->store(), "account-1");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, kAccountOpenedType);
  EXPECT_EQ(events[1].type, kMoneyDepositedType);
  EXPECT_EQ(events[2].type, kMoneyDepositedType);
  EXPECT_EQ(events[0].content_type, ContentType::kBinary);
  EXPECT_EQ(this->Decoded("account-1"),
            (std::vector<Account::Event>{AccountOpened{"ana"}, MoneyDeposited{50, "EUR"},
                                         MoneyDeposited{20, "EUR"}}));
}

TYPED_TEST(AggregateServiceTest, LoadReadsLongStreamsPageByPage) {
  AggregateOptions options = Options();
  options.read_page = 3;
  AggregateService<Account> accounts(this->store(), this->registry_, options);
  ASSERT_TRUE(this->Open(accounts, "1").ok());
  for (int i = 1; i <= 8; ++i) {  // 9 events: exactly three full pages
    ASSERT_TRUE(
        accounts
            .Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", i}, {}, DecideDeposit)
            .ok());
  }
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->state.balance, 36);
  EXPECT_EQ(loaded->version, 8);
  EXPECT_EQ(loaded->events_read, 9u);
  ASSERT_TRUE(
      accounts
          .Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 100}, {}, DecideDeposit)
          .ok());
  loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->state.balance, 136);
  EXPECT_EQ(loaded->events_read, 10u);
}

TYPED_TEST(AggregateServiceTest, EventsAreEncodedInTheConfiguredContentType) {
  AggregateOptions options = Options();
  options.content_type = ContentType::kJson;
  AggregateService<Account> accounts(this->store(), this->registry_, options);
  ASSERT_TRUE(this->Open(accounts, "1", 5).ok());
  const std::vector<RecordedEvent> events = ReadWholeStream(this->store(), "account-1");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].content_type, ContentType::kJson);
  EXPECT_TRUE(Contains(events[1].payload, "\"amount\"")) << events[1].payload;
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->state.balance, 5);
}

TYPED_TEST(AggregateServiceTest, AnUnknownEventTypeInTheStreamFailsTheLoadAndTheCommand) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1").ok());
  EventData stranger;
  stranger.type = "bank.SomethingElse.v1";
  ASSERT_TRUE(this->store().Append(Sid("account-1"), ExpectedVersion::Any(), {stranger}).ok());
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(Contains(loaded.status().message(), "bank.SomethingElse.v1"))
      << loaded.status().ToString();
  Result<CommandResult> r = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                             Deposit{"1", 1}, {}, DecideDeposit);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(ReadWholeStream(this->store(), "account-1").size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Guards, rejections and empty decisions.

TYPED_TEST(AggregateServiceTest, NewGuardOnAnExistingStreamIsRejectedWithoutDeciding) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1", 10).ok());
  const GlobalPosition head = this->store().HeadPosition();
  int decided = 0;
  Result<CommandResult> again =
      accounts.Execute(Sid("account-1"), ExpectedState::kNew, OpenAccount{"1", "bob"}, {},
                       [&](const Account::State& s, const OpenAccount& c) {
                         ++decided;
                         return DecideOpen(s, c);
                       });
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kRejected);
  EXPECT_TRUE(Contains(again.status().message(), "already exists")) << again.status().ToString();
  EXPECT_EQ(decided, 0);
  EXPECT_EQ(this->store().HeadPosition(), head);
}

TYPED_TEST(AggregateServiceTest, ExistingGuardOnAMissingStreamIsNotFoundWithoutDeciding) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  int decided = 0;
  Result<CommandResult> r =
      accounts.Execute(Sid("account-404"), ExpectedState::kExisting, Deposit{"404", 5}, {},
                       [&](const Account::State& s, const Deposit& c) {
                         ++decided;
                         return DecideDeposit(s, c);
                       });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "account-404")) << r.status().ToString();
  EXPECT_EQ(decided, 0);
  Result<StreamVersion> head = this->store().StreamHead(Sid("account-404"));
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, kNoStream);
}

TYPED_TEST(AggregateServiceTest, AnyGuardAcceptsNewAndExistingStreams) {
  AggregateService<Counter> counters(this->store(), this->registry_, Options());
  for (int i = 0; i < 3; ++i) {
    Result<CommandResult> r = counters.Execute(Sid("counter-a"), ExpectedState::kAny,
                                               Increment{"a", 2, 100}, {}, DecideIncrement);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->append.next_expected_version, i);
  }
  Result<LoadedAggregate<Counter>> loaded = counters.Load(Sid("counter-a"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->state.value, 6);
}

TYPED_TEST(AggregateServiceTest, ExistingGuardAcceptsAnExistingStream) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1").ok());
  EXPECT_TRUE(
      accounts
          .Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 5}, {}, DecideDeposit)
          .ok());
}

TYPED_TEST(AggregateServiceTest, RejectionAppendsNothingAndKeepsTheReason) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1", 30).ok());
  const GlobalPosition head = this->store().HeadPosition();
  Result<CommandResult> r = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                             Withdraw{"1", 31}, {}, DecideWithdraw);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRejected);
  EXPECT_EQ(r.status().message(), "insufficient funds: balance 30, asked 31");
  EXPECT_EQ(this->store().HeadPosition(), head);
  EXPECT_EQ(ReadWholeStream(this->store(), "account-1").size(), 2u);
}

TYPED_TEST(AggregateServiceTest, EmptyDecisionAppendsNothingAndReportsTheCurrentVersion) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1", 30).ok());
  const GlobalPosition head = this->store().HeadPosition();
  Result<CommandResult> r = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                             Deposit{"1", 0}, {}, DecideDeposit);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->events_appended, 0u);
  EXPECT_EQ(r->append.first_position, 0u);
  EXPECT_EQ(r->append.last_position, 0u);
  EXPECT_EQ(r->append.next_expected_version, 1);
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(this->store().HeadPosition(), head);
}

TYPED_TEST(AggregateServiceTest, EmptyDecisionOnAMissingStreamDoesNotCreateIt) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  Result<CommandResult> r =
      accounts.Execute(Sid("account-1"), ExpectedState::kAny, Deposit{"1", 0}, {},
                       [](const Account::State&, const Deposit&) -> Decision<Account::Event> {
                         return std::vector<Account::Event>{};
                       });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->append.next_expected_version, kNoStream);
  EXPECT_EQ(this->store().HeadPosition(), 0u);
}

TYPED_TEST(AggregateServiceTest, ARejectedCommandLeavesNoRecordSoItsIdIsDecidedAgain) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1", 10).ok());
  const std::string id = NewUuid();
  Result<CommandResult> first = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                                 Withdraw{"1", 15}, WithId(id), DecideWithdraw);
  EXPECT_EQ(first.status().code(), StatusCode::kRejected);
  ASSERT_TRUE(
      accounts
          .Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 10}, {}, DecideDeposit)
          .ok());
  Result<CommandResult> again = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                                 Withdraw{"1", 15}, WithId(id), DecideWithdraw);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->duplicate);
  EXPECT_EQ(again->events_appended, 1u);
}

// ---------------------------------------------------------------------------------------------
// Retries on version conflicts.

TYPED_TEST(AggregateServiceTest, AConflictIsRetriedByDecidingAgainOnTheNewState) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options(5));
  ASSERT_TRUE(this->Open(accounts, "1", 100).ok());
  std::vector<std::int64_t> balances_seen;
  Result<CommandResult> r =
      accounts.Execute(Sid("account-1"), ExpectedState::kExisting, Withdraw{"1", 60}, {},
                       [&](const Account::State& s, const Withdraw& c) {
                         balances_seen.push_back(s.balance);
                         if (balances_seen.size() == 1) this->DepositBehindTheBack("1", 5);
                         return DecideWithdraw(s, c);
                       });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(balances_seen, (std::vector<std::int64_t>{100, 105}));
  EXPECT_EQ(r->append.next_expected_version, 3);
  Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid("account-1"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->state.balance, 45);
}

TYPED_TEST(AggregateServiceTest, RetryExhaustionIsWrongExpectedVersionNamingTheAttempts) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options(1));
  ASSERT_TRUE(this->Open(accounts, "1", 100).ok());
  int calls = 0;
  Result<CommandResult> r =
      accounts.Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 7},
                       WithId("0d000000-0000-4000-8000-000000000001"),
                       [&](const Account::State& s, const Deposit& c) {
                         if (++calls == 1) this->DepositBehindTheBack("1", 5);
                         return DecideDeposit(s, c);
                       });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsWrongExpectedVersion()) << r.status().ToString();
  const std::string message = r.status().message();
  EXPECT_TRUE(Contains(message, "gave up after 1 attempt")) << message;
  EXPECT_TRUE(Contains(message, "bank.Deposit")) << message;
  EXPECT_TRUE(Contains(message, "0d000000-0000-4000-8000-000000000001")) << message;
  EXPECT_TRUE(Contains(message, "account-1")) << message;
  EXPECT_EQ(r.status().actual_version(), 2);
  EXPECT_EQ(calls, 1);
  // Only the interfering deposit was appended.
  EXPECT_EQ(this->Decoded("account-1"),
            (std::vector<Account::Event>{AccountOpened{"ana"}, MoneyDeposited{100, "EUR"},
                                         MoneyDeposited{5, "EUR"}}));
}

TYPED_TEST(AggregateServiceTest, RetryExhaustionAfterSeveralAttemptsDecidedEachTime) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options(3));
  ASSERT_TRUE(this->Open(accounts, "1", 100).ok());
  int calls = 0;
  Result<CommandResult> r =
      accounts.Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 7}, {},
                       [&](const Account::State& s, const Deposit& c) {
                         ++calls;
                         this->DepositBehindTheBack("1", 1);  // every attempt loses the race
                         return DecideDeposit(s, c);
                       });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsWrongExpectedVersion()) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "gave up after 3 attempts")) << r.status().ToString();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.status().actual_version(), 4);
}

TYPED_TEST(AggregateServiceTest, MaxAttemptsBelowOneStillTriesOnce) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options(0));
  ASSERT_TRUE(this->Open(accounts, "1", 100).ok());
  Result<CommandResult> r = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                             Deposit{"1", 7}, {}, DecideDeposit);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attempts, 1);
}

// ---------------------------------------------------------------------------------------------
// Concurrency: 16 threads, conflicting commands, one aggregate.

constexpr int kThreads = 16;

// The accepted commands of one stream, by command id, as decisions to run again serially.
template <typename A>
using Replays =
    std::map<std::string, std::function<Decision<typename A::Event>(const typename A::State&)>>;

// Runs the accepted commands again, one after another, in the order their events appear in the
// stream, from the empty state: each must decide exactly the events it recorded, every accepted
// command must appear once, and the result must be `final_state`.
template <typename A>
void ExpectSerialExecutionGives(const Replays<A>& accepted, const std::vector<RecordedEvent>& log,
                                const EventTypeRegistry& registry,
                                const typename A::State& final_state) {
  typename A::State state{};
  std::set<std::string> replayed;
  std::size_t i = 0;
  while (i < log.size()) {
    const std::string command_id = log[i].metadata.causation_id;
    ASSERT_TRUE(replayed.insert(command_id).second)
        << "the events of command " << command_id << " are not together or appear twice";
    auto it = accepted.find(command_id);
    ASSERT_NE(it, accepted.end()) << "event " << i << " comes from no accepted command";
    std::vector<typename A::Event> recorded;
    for (; i < log.size() && log[i].metadata.causation_id == command_id; ++i) {
      Result<typename A::Event> e = registry.DecodeVariant<typename A::Event>(log[i]);
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      recorded.push_back(std::move(*e));
    }
    Decision<typename A::Event> again = it->second(state);
    ASSERT_TRUE(again.ok()) << "command " << command_id
                            << " is rejected when run serially: " << again.status().ToString();
    ASSERT_TRUE(*again == recorded) << "command " << command_id << " decides other events serially";
    state = Fold<A>(std::move(state), recorded);
  }
  EXPECT_EQ(replayed.size(), accepted.size()) << "an accepted command left no events (lost update)";
  EXPECT_TRUE(state == final_state);
}

// Both ways: racing as separate processes would (each conflict retried), and taking turns per
// stream as one process does by default (no conflict at all).
TYPED_TEST(AggregateServiceTest, ConcurrentWithdrawalsNeverOverdrawAndEqualASerialExecution) {
  for (const bool serialize : {false, true}) {
    SCOPED_TRACE(serialize ? "serialized per stream" : "racing");
    const std::string stream = serialize ? "account-2" : "account-1";
    const std::string account = serialize ? "2" : "1";
    constexpr int kPerThread = 10;
    constexpr std::int64_t kInitial = 1000;
    // Synced appends, as in production; enough attempts that no command gives up.
    AggregateService<Account> accounts(this->store(), this->registry_,
                                       Options(100'000, /*sync=*/true, serialize));
    const std::string open_id = NewUuid();
    ASSERT_TRUE(accounts
                    .Execute(Sid(stream), ExpectedState::kNew,
                             OpenAccount{account, "ana", kInitial}, WithId(open_id), DecideOpen)
                    .ok());

    std::mutex mu;
    Replays<Account> accepted;
    accepted[open_id] = [&](const Account::State& s) {
      return DecideOpen(s, OpenAccount{account, "ana", kInitial});
    };
    std::vector<std::int64_t> rejected_amounts;
    std::vector<std::string> errors;
    std::int64_t accepted_total = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const Withdraw command{account,
                                 (t * 7 + i * 3) % 13 + 1};  // 1..13; 160 of them ask ~1100
          const std::string id = NewUuid();
          Result<CommandResult> r = accounts.Execute(Sid(stream), ExpectedState::kExisting, command,
                                                     WithId(id), DecideWithdraw);
          std::lock_guard<std::mutex> lock(mu);
          if (r.ok()) {
            accepted[id] = [command](const Account::State& s) {
              return DecideWithdraw(s, command);
            };
            accepted_total += command.amount;
            if (r->events_appended != 1 || r->duplicate) errors.push_back("odd result for " + id);
            if (serialize && r->attempts != 1) errors.push_back("a serialized command retried");
          } else if (r.status().code() == StatusCode::kRejected &&
                     Contains(r.status().message(), "insufficient funds")) {
            rejected_amounts.push_back(command.amount);
          } else {
            errors.push_back(r.status().ToString());
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_TRUE(errors.empty()) << errors.front();

    Result<LoadedAggregate<Account>> loaded = accounts.Load(Sid(stream));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->state.balance, kInitial - accepted_total) << "a withdrawal was lost";
    EXPECT_GE(loaded->state.balance, 0) << "overdrawn";
    EXPECT_EQ(accepted.size() - 1 + rejected_amounts.size(),
              static_cast<std::size_t>(kThreads * kPerThread));
    EXPECT_FALSE(rejected_amounts.empty()) << "the test should ask for more than the balance";
    // The balance only goes down: whatever was refused is still more than what is left.
    for (std::int64_t amount : rejected_amounts) EXPECT_GT(amount, loaded->state.balance);
    ExpectSerialExecutionGives<Account>(accepted, ReadWholeStream(this->store(), stream),
                                        this->registry_, loaded->state);
  }
}

TYPED_TEST(AggregateServiceTest, ConcurrentIncrementsThroughTheBusLoseNoUpdateAndRespectTheCap) {
  constexpr int kPerThread = 10;
  constexpr std::int64_t kCap = 200;  // 160 increments of 1-3 ask ~320
  AggregateService<Counter> counters(this->store(), this->registry_, Options(100'000));
  CommandBus bus;
  ASSERT_TRUE(counters
                  .Handle<Increment>(
                      bus, [](const Increment& c) { return "counter-" + c.counter; },
                      ExpectedState::kAny, DecideIncrement)
                  .ok());
  std::mutex mu;
  Replays<Counter> accepted;
  std::vector<std::int64_t> rejected;
  std::vector<std::string> errors;
  std::int64_t accepted_total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Increment command{"hot", (t + i) % 3 + 1, kCap};
        const std::string id = NewUuid();
        Result<CommandResult> r = bus.Dispatch(command, WithId(id));
        std::lock_guard<std::mutex> lock(mu);
        if (r.ok()) {
          accepted[id] = [command](const Counter::State& s) { return DecideIncrement(s, command); };
          accepted_total += command.by;
        } else if (r.status().code() == StatusCode::kRejected) {
          rejected.push_back(command.by);
        } else {
          errors.push_back(r.status().ToString());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(errors.empty()) << errors.front();
  Result<LoadedAggregate<Counter>> loaded = counters.Load(Sid("counter-hot"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->state.value, accepted_total);
  EXPECT_EQ(loaded->state.increments, static_cast<std::int64_t>(accepted.size()));
  EXPECT_LE(loaded->state.value, kCap);
  EXPECT_FALSE(rejected.empty());
  for (std::int64_t by : rejected) EXPECT_GT(loaded->state.value + by, kCap);
  ExpectSerialExecutionGives<Counter>(accepted, ReadWholeStream(this->store(), "counter-hot"),
                                      this->registry_, loaded->state);
}

TYPED_TEST(AggregateServiceTest, AsyncDispatchOfConflictingCommandsLosesNoUpdate) {
  constexpr int kCommands = 120;
  AggregateService<Counter> counters(this->store(), this->registry_, Options(100'000));
  CommandBus bus(8);
  ASSERT_TRUE(counters
                  .Handle<Increment>(
                      bus, [](const Increment& c) { return "counter-" + c.counter; },
                      ExpectedState::kAny, DecideIncrement)
                  .ok());
  std::vector<std::future<Result<CommandResult>>> futures;
  for (int i = 0; i < kCommands; ++i) {
    futures.push_back(bus.DispatchAsync(Increment{"async", i % 4 + 1, 1'000'000}));
  }
  std::int64_t expected = 0;
  for (int i = 0; i < kCommands; ++i) {
    Result<CommandResult> r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    expected += i % 4 + 1;
  }
  Result<LoadedAggregate<Counter>> loaded = counters.Load(Sid("counter-async"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->state.value, expected);
  EXPECT_EQ(loaded->state.increments, kCommands);
  EXPECT_EQ(loaded->version, kCommands - 1);
}

// ---------------------------------------------------------------------------------------------
// Idempotency by command id.

TYPED_TEST(AggregateServiceTest, DuplicateCommandIdAppendsOnceAndReportsTheEarlierAppend) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1", 10).ok());
  const std::string id = NewUuid();
  Result<CommandResult> first = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                                 Deposit{"1", 5}, WithId(id), DecideDeposit);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->duplicate);
  int decided = 0;
  Result<CommandResult> second =
      accounts.Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 5}, WithId(id),
                       [&](const Account::State& s, const Deposit& c) {
                         ++decided;
                         return DecideDeposit(s, c);
                       });
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->append, first->append);
  EXPECT_EQ(second->events_appended, 1u);
  EXPECT_EQ(second->stream, "account-1");
  EXPECT_EQ(decided, 0);
  EXPECT_EQ(this->Decoded("account-1"),
            (std::vector<Account::Event>{AccountOpened{"ana"}, MoneyDeposited{10, "EUR"},
                                         MoneyDeposited{5, "EUR"}}));
}

TYPED_TEST(AggregateServiceTest, DuplicateOfAMultiEventCommandReportsAllItsEvents) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1", 10).ok());
  ASSERT_TRUE(this->Open(accounts, "2", 10).ok());  // positions of account-1 are not the last
  const std::string id = NewUuid();
  Result<CommandResult> first = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                                 CloseAccount{"1"}, WithId(id), DecideClose);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->events_appended, 2u);
  ASSERT_TRUE(this->Open(accounts, "3", 10).ok());
  Result<CommandResult> second = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                                  CloseAccount{"1"}, WithId(id), DecideClose);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->events_appended, 2u);
  EXPECT_EQ(second->append, first->append);
  EXPECT_EQ(second->append, (AppendResult{5, 6, 3}));
}

TYPED_TEST(AggregateServiceTest, DuplicateThroughTheBusIsRecognisedAfterReopeningTheStore) {
  const std::string id = NewUuid();
  Result<CommandResult> first = Status::NotFound("not run");
  {
    AggregateService<Account> accounts(this->store(), this->registry_, Options(5, true));
    CommandBus bus;
    ASSERT_TRUE(accounts
                    .Handle<OpenAccount>(
                        bus, [](const OpenAccount& c) { return AccountStream(c.id); },
                        ExpectedState::kNew, DecideOpen)
                    .ok());
    first = bus.Dispatch(OpenAccount{"1", "ana", 3}, WithId(id));
    ASSERT_TRUE(first.ok()) << first.status().ToString();
  }
  this->stores_.Reopen();
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  CommandBus bus;
  ASSERT_TRUE(accounts
                  .Handle<OpenAccount>(
                      bus, [](const OpenAccount& c) { return AccountStream(c.id); },
                      ExpectedState::kNew, DecideOpen)
                  .ok());
  // Without the id check the kNew guard would reject this; with it, it is the earlier result.
  Result<CommandResult> second = bus.Dispatch(OpenAccount{"1", "ana", 3}, WithId(id));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->append, first->append);
  EXPECT_EQ(second->events_appended, 2u);
  EXPECT_EQ(ReadWholeLog(this->store()).size(), 2u);
}

TYPED_TEST(AggregateServiceTest, SameCommandIdOnAnotherStreamIsAnErrorNamingTheFirstStream) {
  AggregateService<Account> accounts(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(accounts, "1", 10).ok());
  ASSERT_TRUE(this->Open(accounts, "2", 10).ok());
  const std::string id = NewUuid();
  ASSERT_TRUE(accounts
                  .Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 5}, WithId(id),
                           DecideDeposit)
                  .ok());
  const GlobalPosition head = this->store().HeadPosition();
  Result<CommandResult> other = accounts.Execute(Sid("account-2"), ExpectedState::kExisting,
                                                 Deposit{"2", 5}, WithId(id), DecideDeposit);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument) << other.status().ToString();
  EXPECT_TRUE(Contains(other.status().message(), id)) << other.status().ToString();
  EXPECT_TRUE(Contains(other.status().message(), "account-1")) << other.status().ToString();
  EXPECT_EQ(this->store().HeadPosition(), head);
}

// Every thread passes the duplicate check and loads before any of them appends (a barrier in the
// decide function), so all of them race to append the same command.
TYPED_TEST(AggregateServiceTest, DuplicateDispatchedConcurrentlyAppendsOnceTheOthersAreDuplicates) {
  constexpr int kRacers = 6;
  AggregateService<Account> accounts(this->store(), this->registry_, Options(100));
  ASSERT_TRUE(this->Open(accounts, "1", 10).ok());
  const std::string id = NewUuid();
  std::barrier all_decided(kRacers);
  std::atomic<int> calls{0};
  auto decide = [&](const Account::State& s, const Deposit& c) {
    if (calls.fetch_add(1) < kRacers) all_decided.arrive_and_wait();
    return DecideDeposit(s, c);
  };
  std::vector<Result<CommandResult>> results(kRacers, Status::NotFound("not run"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kRacers; ++t) {
    threads.emplace_back([&, t] {
      results[t] = accounts.Execute(Sid("account-1"), ExpectedState::kExisting, Deposit{"1", 5},
                                    WithId(id), decide);
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(this->Decoded("account-1"),
            (std::vector<Account::Event>{AccountOpened{"ana"}, MoneyDeposited{10, "EUR"},
                                         MoneyDeposited{5, "EUR"}}));
  int originals = 0;
  for (int t = 0; t < kRacers; ++t) {
    ASSERT_TRUE(results[t].ok()) << results[t].status().ToString();
    EXPECT_EQ(results[t]->append, (AppendResult{3, 3, 2}));
    EXPECT_EQ(results[t]->events_appended, 1u);
    originals += results[t]->duplicate ? 0 : 1;
  }
  EXPECT_EQ(originals, 1) << "every caller but the one whose append wrote the events must get "
                             "duplicate=true (nothing was appended for them)";
}

// A retry of a command arrives while the original is still running: it passes the duplicate check,
// then the original appends, then the retry loads. It must be recognised as a duplicate, not
// decided again on a state that already holds its own effect.
TYPED_TEST(AggregateServiceTest, DuplicateOvertakenByTheOriginalIsNotDecidedAgain) {
  AggregateService<Account> plain(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(plain, "1", 100).ok());
  InterposingEventStore interposer(this->store());
  AggregateService<Account> accounts(interposer, this->registry_, Options());
  const std::string id = NewUuid();
  Result<CommandResult> original = Status::NotFound("not run");
  interposer.after_find_event_misses = [&] {
    original = accounts.Execute(Sid("account-1"), ExpectedState::kExisting, Withdraw{"1", 80},
                                WithId(id), DecideWithdraw);
  };
  Result<CommandResult> retry = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                                 Withdraw{"1", 80}, WithId(id), DecideWithdraw);
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  EXPECT_FALSE(original->duplicate);
  ASSERT_TRUE(retry.ok()) << "the retry of an accepted command was decided again: "
                          << retry.status().ToString();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->append, original->append);
  EXPECT_EQ(this->Decoded("account-1").size(), 3u);
}

// The same race, one step later: the retry has loaded when the original appends.
TYPED_TEST(AggregateServiceTest, DuplicateThatLostTheAppendRaceIsReportedAsDuplicate) {
  AggregateService<Account> plain(this->store(), this->registry_, Options());
  ASSERT_TRUE(this->Open(plain, "1", 100).ok());
  InterposingEventStore interposer(this->store());
  AggregateService<Account> accounts(interposer, this->registry_, Options());
  const std::string id = NewUuid();
  Result<CommandResult> original = Status::NotFound("not run");
  interposer.after_read_stream = [&] {
    original = accounts.Execute(Sid("account-1"), ExpectedState::kExisting, Withdraw{"1", 80},
                                WithId(id), DecideWithdraw);
  };
  Result<CommandResult> retry = accounts.Execute(Sid("account-1"), ExpectedState::kExisting,
                                                 Withdraw{"1", 80}, WithId(id), DecideWithdraw);
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  EXPECT_FALSE(original->duplicate);
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_TRUE(retry->duplicate) << "nothing was appended for the retry";
  EXPECT_EQ(retry->append, original->append);
  EXPECT_EQ(this->Decoded("account-1").size(), 3u);
}

}  // namespace
}  // namespace sluice::bank
