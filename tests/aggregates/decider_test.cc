// Decider unit tests through the given/when/then fixtures (sluice/testing/given_when_then.h), and
// tests of the fixtures themselves: a failing Then() must say what was expected and what happened.
#include "sluice/core/decider.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aggregates/bank.h"
#include "sluice/testing/given_when_then.h"

namespace sluice::bank {
namespace {

using sluice::testing::Given;

static_assert(Aggregate<Account>);
static_assert(Aggregate<AccountV2>);
static_assert(Aggregate<Counter>);
static_assert(!Aggregate<int>);
static_assert(SnapshotVersionOf<Account>() == 1, "no kSnapshotVersion means schema 1");
static_assert(SnapshotVersionOf<AccountV2>() == 2);

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// The account's rules.

TEST(AccountDeciderTest, OpeningANewAccountEmitsAccountOpened) {
  EXPECT_TRUE(
      Given<Account>().When(OpenAccount{"1", "ana"}, DecideOpen).Then({AccountOpened{"ana"}}));
}

TEST(AccountDeciderTest, OpeningWithAnInitialDepositEmitsOpenedThenDeposited) {
  EXPECT_TRUE(Given<Account>()
                  .When(OpenAccount{"1", "ana", 70}, DecideOpen)
                  .Then({AccountOpened{"ana"}, MoneyDeposited{70, "EUR"}}));
}

TEST(AccountDeciderTest, OpeningAnOpenAccountIsRejected) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}})
                  .When(OpenAccount{"1", "bob"}, DecideOpen)
                  .ThenRejected("already opened"));
}

TEST(AccountDeciderTest, ReopeningAClosedAccountIsRejected) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}, AccountClosed{}})
                  .When(OpenAccount{"1", "ana"}, DecideOpen)
                  .ThenRejected("already opened"));
}

TEST(AccountDeciderTest, OpeningWithoutAnOwnerIsRejected) {
  EXPECT_TRUE(
      Given<Account>().When(OpenAccount{"1", ""}, DecideOpen).ThenRejected("needs an owner"));
}

TEST(AccountDeciderTest, DepositOnAnOpenAccountEmitsMoneyDeposited) {
  auto scenario = Given<Account>({AccountOpened{"ana"}, MoneyDeposited{50, "EUR"}});
  scenario.When(Deposit{"1", 30}, DecideDeposit);
  EXPECT_TRUE(scenario.Then({MoneyDeposited{30, "EUR"}}));
  EXPECT_EQ(scenario.state().balance, 50);
  EXPECT_EQ(scenario.StateAfter().balance, 80);
  EXPECT_EQ(scenario.StateAfter().transactions, 2);
}

TEST(AccountDeciderTest, DepositOnAnAccountNeverOpenedIsRejected) {
  EXPECT_TRUE(Given<Account>().When(Deposit{"1", 10}, DecideDeposit).ThenRejected("not open"));
}

TEST(AccountDeciderTest, DepositOnAClosedAccountIsRejected) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}, AccountClosed{}})
                  .When(Deposit{"1", 10}, DecideDeposit)
                  .ThenRejected("not open"));
}

TEST(AccountDeciderTest, DepositOfZeroDecidesNothing) {
  EXPECT_TRUE(
      Given<Account>({AccountOpened{"ana"}}).When(Deposit{"1", 0}, DecideDeposit).ThenNothing());
}

TEST(AccountDeciderTest, NegativeDepositIsRejected) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}})
                  .When(Deposit{"1", -5}, DecideDeposit)
                  .ThenRejected("must not be negative"));
}

TEST(AccountDeciderTest, WithdrawingWithinTheBalanceEmitsMoneyWithdrawn) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}, MoneyDeposited{50, "EUR"}})
                  .When(Withdraw{"1", 20}, DecideWithdraw)
                  .Then({MoneyWithdrawn{20}}));
}

TEST(AccountDeciderTest, WithdrawingExactlyTheBalanceIsAllowed) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}, MoneyDeposited{50, "EUR"}})
                  .When(Withdraw{"1", 50}, DecideWithdraw)
                  .Then({MoneyWithdrawn{50}}));
}

TEST(AccountDeciderTest, WithdrawingMoreThanTheBalanceIsRejectedForInsufficientFunds) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}, MoneyDeposited{50, "EUR"}, MoneyWithdrawn{20}})
                  .When(Withdraw{"1", 31}, DecideWithdraw)
                  .ThenRejected("insufficient funds: balance 30, asked 31"));
}

TEST(AccountDeciderTest, WithdrawingNothingIsRejected) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}})
                  .When(Withdraw{"1", 0}, DecideWithdraw)
                  .ThenRejected("must be positive"));
}

TEST(AccountDeciderTest, ClosingPaysOutTheBalanceThenCloses) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}, MoneyDeposited{50, "EUR"}})
                  .When(CloseAccount{"1"}, DecideClose)
                  .Then({MoneyWithdrawn{50}, AccountClosed{}}));
}

TEST(AccountDeciderTest, ClosingAnEmptyAccountOnlyCloses) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}})
                  .When(CloseAccount{"1"}, DecideClose)
                  .Then({AccountClosed{}}));
}

TEST(AccountDeciderTest, ClosingAClosedAccountDecidesNothing) {
  EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}, AccountClosed{}})
                  .When(CloseAccount{"1"}, DecideClose)
                  .ThenNothing());
}

TEST(AccountDeciderTest, ClosingAnAccountNeverOpenedIsRejected) {
  EXPECT_TRUE(Given<Account>().When(CloseAccount{"1"}, DecideClose).ThenRejected("not open"));
}

TEST(CounterDeciderTest, IncrementUpToTheCapIsAccepted) {
  EXPECT_TRUE(Given<Counter>({CounterIncremented{7}})
                  .When(Increment{"c", 3, 10}, DecideIncrement)
                  .Then({CounterIncremented{3}}));
}

TEST(CounterDeciderTest, IncrementBeyondTheCapIsRejected) {
  EXPECT_TRUE(Given<Counter>({CounterIncremented{7}})
                  .When(Increment{"c", 4, 10}, DecideIncrement)
                  .ThenRejected("cap reached: 7 + 4 > 10"));
}

// ---------------------------------------------------------------------------------------------
// decider.h helpers.

TEST(DeciderTest, FoldAppliesEventsInOrderFromTheGivenState) {
  Account::State start;
  start.balance = 5;
  const Account::State s = Fold<Account>(
      start, {AccountOpened{"ana"}, MoneyDeposited{10, "EUR"}, MoneyWithdrawn{3}, AccountClosed{}});
  EXPECT_EQ(s.balance, 12);
  EXPECT_EQ(s.owner, "ana");
  EXPECT_FALSE(s.open);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.transactions, 2);
}

TEST(DeciderTest, EmitKeepsTheOrderOfItsEvents) {
  Decision<Account::Event> d = Emit<Account::Event>(MoneyWithdrawn{1}, AccountClosed{});
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 2u);
  EXPECT_TRUE(std::holds_alternative<MoneyWithdrawn>((*d)[0]));
  EXPECT_TRUE(std::holds_alternative<AccountClosed>((*d)[1]));
}

TEST(DeciderTest, RejectIsARejectedStatusWithTheReason) {
  const Status s = Reject("no");
  EXPECT_EQ(s.code(), StatusCode::kRejected);
  EXPECT_EQ(s.message(), "no");
}

// ---------------------------------------------------------------------------------------------
// The fixtures' own behaviour: failures must be readable.

TEST(GivenWhenThenTest, FailingThenNamesTheGivenTheCommandAndTheExpectedAndActualEvents) {
  const ::testing::AssertionResult r =
      Given<Account>({AccountOpened{"ana"}, MoneyDeposited{50, "EUR"}})
          .When(Deposit{"1", 30}, DecideDeposit)
          .Then({MoneyDeposited{99, "USD"}});
  ASSERT_FALSE(r);
  const std::string message = r.message();
  EXPECT_TRUE(Contains(message, "given:")) << message;
  EXPECT_TRUE(Contains(message, "AccountOpened")) << message;
  EXPECT_TRUE(Contains(message, "ana")) << message;
  EXPECT_TRUE(Contains(message, "when: Deposit")) << message;
  EXPECT_TRUE(Contains(message, "expected events:")) << message;
  EXPECT_TRUE(Contains(message, "actual events:")) << message;
  // Both lists print each event as its type and fields.
  const std::size_t expected_at = message.find("expected events:");
  const std::size_t actual_at = message.find("actual events:");
  ASSERT_LT(expected_at, actual_at) << message;
  const std::string expected_part = message.substr(expected_at, actual_at - expected_at);
  const std::string actual_part = message.substr(actual_at);
  EXPECT_TRUE(Contains(expected_part, "MoneyDeposited")) << message;
  EXPECT_TRUE(Contains(expected_part, "99")) << message;
  EXPECT_TRUE(Contains(expected_part, "USD")) << message;
  EXPECT_TRUE(Contains(actual_part, "MoneyDeposited")) << message;
  EXPECT_TRUE(Contains(actual_part, "30")) << message;
  EXPECT_TRUE(Contains(actual_part, "EUR")) << message;
  EXPECT_FALSE(Contains(actual_part, "99")) << message;
}

TEST(GivenWhenThenTest, ThenWithTheRightEventsInAnotherOrderFails) {
  const ::testing::AssertionResult r = Given<Account>({AccountOpened{"ana"}, MoneyDeposited{5}})
                                           .When(CloseAccount{"1"}, DecideClose)
                                           .Then({AccountClosed{}, MoneyWithdrawn{5}});
  ASSERT_FALSE(r);
  const std::string message = r.message();
  EXPECT_TRUE(Contains(message, "[0] AccountClosed")) << message;
  EXPECT_TRUE(Contains(message, "[0] MoneyWithdrawn")) << message;
}

TEST(GivenWhenThenTest, ThenWithFewerEventsThanDecidedFails) {
  EXPECT_FALSE(Given<Account>({AccountOpened{"ana"}, MoneyDeposited{5}})
                   .When(CloseAccount{"1"}, DecideClose)
                   .Then({MoneyWithdrawn{5}}));
}

TEST(GivenWhenThenTest, ThenOnARejectedCommandShowsTheRejection) {
  const ::testing::AssertionResult r = Given<Account>({AccountOpened{"ana"}})
                                           .When(Withdraw{"1", 10}, DecideWithdraw)
                                           .Then({MoneyWithdrawn{10}});
  ASSERT_FALSE(r);
  const std::string message = r.message();
  EXPECT_TRUE(Contains(message, "MoneyWithdrawn")) << message;
  EXPECT_TRUE(Contains(message, "the command failed")) << message;
  EXPECT_TRUE(Contains(message, "Rejected")) << message;
  EXPECT_TRUE(Contains(message, "insufficient funds")) << message;
}

TEST(GivenWhenThenTest, ThenNothingFailsWhenEventsWereDecidedAndListsThem) {
  const ::testing::AssertionResult r =
      Given<Account>({AccountOpened{"ana"}}).When(Deposit{"1", 12}, DecideDeposit).ThenNothing();
  ASSERT_FALSE(r);
  EXPECT_TRUE(Contains(r.message(), "(no events)")) << r.message();
  EXPECT_TRUE(Contains(r.message(), "12")) << r.message();
}

TEST(GivenWhenThenTest, ThenRejectedOnAnAcceptedCommandListsTheActualEvents) {
  const ::testing::AssertionResult r = Given<Account>({AccountOpened{"ana"}})
                                           .When(Deposit{"1", 12}, DecideDeposit)
                                           .ThenRejected("not open");
  ASSERT_FALSE(r);
  EXPECT_TRUE(Contains(r.message(), "expected a rejection containing 'not open'")) << r.message();
  EXPECT_TRUE(Contains(r.message(), "MoneyDeposited")) << r.message();
}

TEST(GivenWhenThenTest, ThenRejectedWithAnotherReasonShowsTheActualReason) {
  const ::testing::AssertionResult r =
      Given<Account>().When(Withdraw{"1", 12}, DecideWithdraw).ThenRejected("insufficient funds");
  ASSERT_FALSE(r);
  EXPECT_TRUE(Contains(r.message(), "account is not open")) << r.message();
}

TEST(GivenWhenThenTest, ThenRejectedWithoutAReasonAcceptsAnyRejection) {
  EXPECT_TRUE(Given<Account>().When(Withdraw{"1", 12}, DecideWithdraw).ThenRejected());
}

TEST(GivenWhenThenTest, ThenRejectedDoesNotAcceptOtherErrors) {
  auto failing = [](const Account::State&, const Deposit&) -> Decision<Account::Event> {
    return Status::InvalidArgument("bad input");
  };
  const ::testing::AssertionResult r =
      Given<Account>().When(Deposit{"1", 1}, failing).ThenRejected();
  ASSERT_FALSE(r);
  EXPECT_TRUE(Contains(r.message(), "InvalidArgument")) << r.message();
}

TEST(GivenWhenThenTest, ThenWithoutWhenFails) {
  EXPECT_FALSE(Given<Account>().Then({}));
  EXPECT_FALSE(Given<Account>().ThenRejected());
}

}  // namespace
}  // namespace sluice::bank
