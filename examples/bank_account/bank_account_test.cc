// The bank account's rules, tested without a store: given these past events, when this command,
// then exactly these new events (or this rejection). See sluice/testing/given_when_then.h.

#include <gtest/gtest.h>

#include <variant>
#include <vector>

#include "examples/bank_account/account.h"
#include "sluice/core/event.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/testing/given_when_then.h"

namespace bank {
namespace {

using sluice::testing::Given;

const AccountOpened kOpened{"Alice", "EUR"};

TEST(AccountTest, OpeningANewAccountRecordsItsOwnerAndCurrency) {
  EXPECT_TRUE(Given<Account>()
                  .When(OpenAccount{"a1", "Alice", "EUR"}, DecideOpen)
                  .Then({AccountOpened{"Alice", "EUR"}}));
}

TEST(AccountTest, OpeningTwiceIsRejected) {
  EXPECT_TRUE(Given<Account>({kOpened})
                  .When(OpenAccount{"a1", "Alice", "EUR"}, DecideOpen)
                  .ThenRejected("already opened"));
}

TEST(AccountTest, OpeningWithoutAnOwnerIsRejected) {
  EXPECT_TRUE(
      Given<Account>().When(OpenAccount{"a1", "", "EUR"}, DecideOpen).ThenRejected("owner"));
}

TEST(AccountTest, DepositRecordsTheAmount) {
  EXPECT_TRUE(Given<Account>({kOpened})
                  .When(DepositMoney{"a1", 25'00}, DecideDeposit)
                  .Then({MoneyDeposited{25'00}}));
}

TEST(AccountTest, DepositOfZeroOrLessIsRejected) {
  EXPECT_TRUE(Given<Account>({kOpened})
                  .When(DepositMoney{"a1", 0}, DecideDeposit)
                  .ThenRejected("amount must be positive"));
  EXPECT_TRUE(Given<Account>({kOpened})
                  .When(DepositMoney{"a1", -1}, DecideDeposit)
                  .ThenRejected("amount must be positive"));
}

TEST(AccountTest, DepositIntoAnAccountNeverOpenedIsRejected) {
  EXPECT_TRUE(
      Given<Account>().When(DepositMoney{"a1", 1'00}, DecideDeposit).ThenRejected("not open"));
}

TEST(AccountTest, WithdrawalWithinTheBalanceRecordsTheAmount) {
  EXPECT_TRUE(Given<Account>({kOpened, MoneyDeposited{50'00}})
                  .When(WithdrawMoney{"a1", 50'00}, DecideWithdraw)
                  .Then({MoneyWithdrawn{50'00}}));
}

TEST(AccountTest, WithdrawingMoreThanTheBalanceIsRejected) {
  EXPECT_TRUE(Given<Account>({kOpened, MoneyDeposited{50'00}, MoneyWithdrawn{20'00}})
                  .When(WithdrawMoney{"a1", 30'01}, DecideWithdraw)
                  .ThenRejected("insufficient funds: balance 30.00, asked 30.01"));
}

TEST(AccountTest, ClosingWithAZeroBalanceRecordsTheReason) {
  EXPECT_TRUE(Given<Account>({kOpened, MoneyDeposited{10'00}, MoneyWithdrawn{10'00}})
                  .When(CloseAccount{"a1", "moving abroad"}, DecideClose)
                  .Then({AccountClosed{"moving abroad"}}));
}

TEST(AccountTest, ClosingWithMoneyLeftIsRejected) {
  EXPECT_TRUE(Given<Account>({kOpened, MoneyDeposited{10'00}})
                  .When(CloseAccount{"a1", "moving abroad"}, DecideClose)
                  .ThenRejected("balance is not zero: withdraw 10.00 first"));
}

TEST(AccountTest, EveryOperationOnAClosedAccountIsRejected) {
  const std::vector<Account::Event> closed = {kOpened, AccountClosed{"moving abroad"}};
  EXPECT_TRUE(Given<Account>(closed)
                  .When(DepositMoney{"a1", 1'00}, DecideDeposit)
                  .ThenRejected("account is closed"));
  EXPECT_TRUE(Given<Account>(closed)
                  .When(WithdrawMoney{"a1", 1'00}, DecideWithdraw)
                  .ThenRejected("account is closed"));
  EXPECT_TRUE(Given<Account>(closed)
                  .When(CloseAccount{"a1", "again"}, DecideClose)
                  .ThenRejected("account is closed"));
  EXPECT_TRUE(Given<Account>(closed)
                  .When(OpenAccount{"a1", "Alice", "EUR"}, DecideOpen)
                  .ThenRejected("already opened"));
}

TEST(AccountTest, EvolveKeepsTheBalance) {
  auto scenario = Given<Account>({kOpened, MoneyDeposited{100'00}, MoneyWithdrawn{30'00}});
  EXPECT_EQ(scenario.state().balance_cents, 70'00);
  EXPECT_EQ(scenario.state().owner, "Alice");
  ASSERT_TRUE(scenario.When(DepositMoney{"a1", 5'00}, DecideDeposit).Then({MoneyDeposited{5'00}}));
  EXPECT_EQ(scenario.StateAfter().balance_cents, 75'00);
}

// The example stores events as JSON: each type must survive the trip through the registry.
TEST(AccountTest, EveryEventRoundTripsThroughTheRegistryAsJson) {
  sluice::EventTypeRegistry registry;
  ASSERT_TRUE(RegisterEvents(registry).ok());
  const std::vector<Account::Event> events = {kOpened, MoneyDeposited{1'00}, MoneyWithdrawn{2'00},
                                              AccountClosed{"done"}};
  for (const Account::Event& event : events) {
    sluice::Result<sluice::EventData> data = std::visit(
        [&](const auto& e) { return registry.Encode(e, sluice::ContentType::kJson); }, event);
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    sluice::RecordedEvent recorded;
    recorded.type = data->type;
    recorded.content_type = data->content_type;
    recorded.payload = data->payload;
    sluice::Result<Account::Event> back = registry.DecodeVariant<Account::Event>(recorded);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, event) << data->type;
  }
}

}  // namespace
}  // namespace bank
