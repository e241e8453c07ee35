// Test domains for the aggregate tests: a bank account (open, deposit, withdraw with an
// insufficient-funds rejection, close) and a counter with a cap for the concurrency tests. Plain
// structs and pure functions, as decider.h describes.
#pragma once

#include <cereal/types/string.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "sluice/core/decider.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"

namespace sluice::bank {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// ---------------------------------------------------------------------------------------------
// Events (current shapes).

struct AccountOpened {
  std::string owner;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(owner));
  }
  friend bool operator==(const AccountOpened&, const AccountOpened&) = default;
};

struct MoneyDeposited {
  std::int64_t amount = 0;
  std::string currency = "EUR";  // added in v2; v1 deposits were all in euros
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount), CEREAL_NVP(currency));
  }
  friend bool operator==(const MoneyDeposited&, const MoneyDeposited&) = default;
};

struct MoneyWithdrawn {
  std::int64_t amount = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount));
  }
  friend bool operator==(const MoneyWithdrawn&, const MoneyWithdrawn&) = default;
};

struct AccountClosed {
  template <class Archive>
  void serialize(Archive&) {}
  friend bool operator==(const AccountClosed&, const AccountClosed&) = default;
};

inline constexpr const char* kAccountOpenedType = "bank.AccountOpened.v1";
inline constexpr const char* kMoneyDepositedType = "bank.MoneyDeposited.v2";
inline constexpr const char* kMoneyWithdrawnType = "bank.MoneyWithdrawn.v1";
inline constexpr const char* kAccountClosedType = "bank.AccountClosed.v1";

// ---------------------------------------------------------------------------------------------
// The account aggregate.

struct Account {
  struct State {
    bool open = false;
    bool closed = false;
    std::string owner;
    std::int64_t balance = 0;
    std::int64_t transactions = 0;  // deposits and withdrawals

    template <class Archive>
    void serialize(Archive& ar) {
      ar(open, closed, owner, balance, transactions);
    }
    friend bool operator==(const State&, const State&) = default;
  };
  using Event = std::variant<AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed>;

  static State Evolve(State s, const Event& event) {
    std::visit(Overloaded{
                   [&](const AccountOpened& e) {
                     s.open = true;
                     s.owner = e.owner;
                   },
                   [&](const MoneyDeposited& e) {
                     s.balance += e.amount;
                     ++s.transactions;
                   },
                   [&](const MoneyWithdrawn& e) {
                     s.balance -= e.amount;
                     ++s.transactions;
                   },
                   [&](const AccountClosed&) {
                     s.open = false;
                     s.closed = true;
                   },
               },
               event);
    return s;
  }
};

// Commands. Each names its account; the stream is "account-<id>".
struct OpenAccount {
  static constexpr std::string_view kCommandName = "bank.OpenAccount";
  std::string id;
  std::string owner;
  std::int64_t initial_deposit = 0;
};
struct Deposit {
  static constexpr std::string_view kCommandName = "bank.Deposit";
  std::string id;
  std::int64_t amount = 0;
};
struct Withdraw {
  static constexpr std::string_view kCommandName = "bank.Withdraw";
  std::string id;
  std::int64_t amount = 0;
};
struct CloseAccount {
  static constexpr std::string_view kCommandName = "bank.CloseAccount";
  std::string id;
};

inline std::string AccountStream(const std::string& id) { return "account-" + id; }

// Opening emits AccountOpened, then the initial deposit if there is one.
inline Decision<Account::Event> DecideOpen(const Account::State& s, const OpenAccount& c) {
  if (s.open || s.closed) return Reject("account already opened");
  if (c.owner.empty()) return Reject("an account needs an owner");
  if (c.initial_deposit < 0) return Reject("initial deposit must not be negative");
  if (c.initial_deposit == 0) return Emit<Account::Event>(AccountOpened{c.owner});
  return Emit<Account::Event>(AccountOpened{c.owner}, MoneyDeposited{c.initial_deposit, "EUR"});
}

// A deposit of 0 decides nothing (it is not an error, there is just nothing to record).
inline Decision<Account::Event> DecideDeposit(const Account::State& s, const Deposit& c) {
  if (!s.open) return Reject("account is not open");
  if (c.amount < 0) return Reject("amount must not be negative");
  if (c.amount == 0) return Decision<Account::Event>(std::vector<Account::Event>{});
  return Emit<Account::Event>(MoneyDeposited{c.amount, "EUR"});
}

inline Decision<Account::Event> DecideWithdraw(const Account::State& s, const Withdraw& c) {
  if (!s.open) return Reject("account is not open");
  if (c.amount <= 0) return Reject("amount must be positive");
  if (s.balance < c.amount) {
    return Reject("insufficient funds: balance " + std::to_string(s.balance) + ", asked " +
                  std::to_string(c.amount));
  }
  return Emit<Account::Event>(MoneyWithdrawn{c.amount});
}

// Closing pays out what is left, then closes; closing a closed account decides nothing.
inline Decision<Account::Event> DecideClose(const Account::State& s, const CloseAccount&) {
  if (s.closed) return Decision<Account::Event>(std::vector<Account::Event>{});
  if (!s.open) return Reject("account is not open");
  if (s.balance == 0) return Emit<Account::Event>(AccountClosed{});
  return Emit<Account::Event>(MoneyWithdrawn{s.balance}, AccountClosed{});
}

// The current event types under their current names.
inline Status RegisterBankEvents(EventTypeRegistry& registry) {
  SLUICE_RETURN_IF_ERROR(registry.Register<AccountOpened>(kAccountOpenedType));
  SLUICE_RETURN_IF_ERROR(registry.Register<MoneyDeposited>(kMoneyDepositedType));
  SLUICE_RETURN_IF_ERROR(registry.Register<MoneyWithdrawn>(kMoneyWithdrawnType));
  SLUICE_RETURN_IF_ERROR(registry.Register<AccountClosed>(kAccountClosedType));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The same account with a reshaped State and snapshot schema 2: snapshots written by Account
// (schema 1) must be ignored by it, never decoded into this layout.

struct AccountV2 {
  static constexpr int kSnapshotVersion = 2;
  struct State {
    std::int64_t balance = 0;
    std::int64_t deposited_total = 0;
    std::string owner;
    bool open = false;

    template <class Archive>
    void serialize(Archive& ar) {
      ar(balance, deposited_total, owner, open);
    }
    friend bool operator==(const State&, const State&) = default;
  };
  using Event = Account::Event;

  static State Evolve(State s, const Event& event) {
    std::visit(Overloaded{
                   [&](const AccountOpened& e) {
                     s.open = true;
                     s.owner = e.owner;
                   },
                   [&](const MoneyDeposited& e) {
                     s.balance += e.amount;
                     s.deposited_total += e.amount;
                   },
                   [&](const MoneyWithdrawn& e) { s.balance -= e.amount; },
                   [&](const AccountClosed&) { s.open = false; },
               },
               event);
    return s;
  }
};

inline Decision<AccountV2::Event> DecideDepositV2(const AccountV2::State& s, const Deposit& c) {
  if (!s.open) return Reject("account is not open");
  return Emit<AccountV2::Event>(MoneyDeposited{c.amount, "EUR"});
}

// ---------------------------------------------------------------------------------------------
// A counter that never goes above a cap: increments beyond it are rejected.

struct CounterIncremented {
  std::int64_t by = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(by));
  }
  friend bool operator==(const CounterIncremented&, const CounterIncremented&) = default;
};

inline constexpr const char* kCounterIncrementedType = "counter.Incremented.v1";

struct Counter {
  struct State {
    std::int64_t value = 0;
    std::int64_t increments = 0;
    template <class Archive>
    void serialize(Archive& ar) {
      ar(value, increments);
    }
    friend bool operator==(const State&, const State&) = default;
  };
  using Event = std::variant<CounterIncremented>;
  static State Evolve(State s, const Event& event) {
    s.value += std::get<CounterIncremented>(event).by;
    ++s.increments;
    return s;
  }
};

struct Increment {
  static constexpr std::string_view kCommandName = "counter.Increment";
  std::string counter;
  std::int64_t by = 1;
  std::int64_t cap = 0;
};

inline Decision<Counter::Event> DecideIncrement(const Counter::State& s, const Increment& c) {
  if (s.value + c.by > c.cap) {
    return Reject("cap reached: " + std::to_string(s.value) + " + " + std::to_string(c.by) + " > " +
                  std::to_string(c.cap));
  }
  return Emit<Counter::Event>(CounterIncremented{c.by});
}

inline Status RegisterCounterEvents(EventTypeRegistry& registry) {
  return registry.Register<CounterIncremented>(kCounterIncrementedType);
}

}  // namespace sluice::bank
