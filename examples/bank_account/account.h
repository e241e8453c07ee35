// The bank account domain, in the decider style of sluice/core/decider.h: events (plain structs
// with a cereal serialize()), the account's State, Evolve (state + event -> state) and one decide
// function per command (state + command -> new events, or a rejection).
//
// Nothing here does I/O or knows about a store: main.cc runs these functions through a command bus
// and an AggregateService on RocksDB, and bank_account_test.cc tests them with given/when/then.
#pragma once

#include <cereal/types/string.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "examples/common/money.h"
#include "sluice/core/decider.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"

namespace bank {

// ---------------------------------------------------------------------------------------------
// Events: facts, named in the past tense. Each is registered under a versioned type name (see
// RegisterEvents); a changed shape gets a new name (".v2") and an upcaster, never the old name.

struct AccountOpened {
  std::string owner;
  std::string currency;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(owner), CEREAL_NVP(currency));
  }
  friend bool operator==(const AccountOpened&, const AccountOpened&) = default;
};

struct MoneyDeposited {
  std::int64_t amount_cents = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount_cents));
  }
  friend bool operator==(const MoneyDeposited&, const MoneyDeposited&) = default;
};

struct MoneyWithdrawn {
  std::int64_t amount_cents = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount_cents));
  }
  friend bool operator==(const MoneyWithdrawn&, const MoneyWithdrawn&) = default;
};

struct AccountClosed {
  std::string reason;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(reason));
  }
  friend bool operator==(const AccountClosed&, const AccountClosed&) = default;
};

// Registers every event type under its versioned name. Call once at start-up.
inline sluice::Status RegisterEvents(sluice::EventTypeRegistry& registry) {
  SLUICE_RETURN_IF_ERROR(registry.Register<AccountOpened>("bank.AccountOpened.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<MoneyDeposited>("bank.MoneyDeposited.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<MoneyWithdrawn>("bank.MoneyWithdrawn.v1"));
  SLUICE_RETURN_IF_ERROR(registry.Register<AccountClosed>("bank.AccountClosed.v1"));
  return sluice::Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The aggregate: what AggregateService and the given/when/then fixtures need to know.

struct Account {
  // The state before any event is the default-constructed State. The serialize() makes snapshots
  // possible (AggregateOptions::snapshot_every); change its fields and you must also declare
  // `static constexpr int kSnapshotVersion = 2;` in Account, so old snapshots are ignored.
  struct State {
    bool opened = false;
    bool closed = false;
    std::string owner;
    std::string currency;
    std::int64_t balance_cents = 0;

    template <class Archive>
    void serialize(Archive& ar) {
      ar(opened, closed, owner, currency, balance_cents);
    }
  };

  using Event = std::variant<AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed>;

  // Applies one past event. It never fails and never checks rules: the event already happened,
  // and the decide functions below checked the rules before it was recorded.
  static State Evolve(State state, const Event& event) {
    if (const auto* opened = std::get_if<AccountOpened>(&event)) {
      state.opened = true;
      state.owner = opened->owner;
      state.currency = opened->currency;
    } else if (const auto* deposited = std::get_if<MoneyDeposited>(&event)) {
      state.balance_cents += deposited->amount_cents;
    } else if (const auto* withdrawn = std::get_if<MoneyWithdrawn>(&event)) {
      state.balance_cents -= withdrawn->amount_cents;
    } else if (std::holds_alternative<AccountClosed>(event)) {
      state.closed = true;
    }
    return state;
  }
};

// ---------------------------------------------------------------------------------------------
// Commands: requests, named in the imperative. Each names its account; the stream is
// AccountStream(account_id). kCommandName is how the bus names a command in errors and logs.

struct OpenAccount {
  static constexpr std::string_view kCommandName = "bank.OpenAccount";
  std::string account_id;
  std::string owner;
  std::string currency = "EUR";
};

struct DepositMoney {
  static constexpr std::string_view kCommandName = "bank.DepositMoney";
  std::string account_id;
  std::int64_t amount_cents = 0;
};

struct WithdrawMoney {
  static constexpr std::string_view kCommandName = "bank.WithdrawMoney";
  std::string account_id;
  std::int64_t amount_cents = 0;
};

struct CloseAccount {
  static constexpr std::string_view kCommandName = "bank.CloseAccount";
  std::string account_id;
  std::string reason;
};

inline std::string AccountStream(const std::string& account_id) { return "account-" + account_id; }

// ---------------------------------------------------------------------------------------------
// Decide functions: the business rules. Each returns the events to record, or a rejection
// (sluice::Reject: a Rejected status, nothing is appended and retrying will not help).

using Decision = sluice::Decision<Account::Event>;

inline Decision DecideOpen(const Account::State& account, const OpenAccount& command) {
  if (account.opened) return sluice::Reject("account already opened");
  if (command.owner.empty()) return sluice::Reject("an account needs an owner");
  return sluice::Emit<Account::Event>(AccountOpened{command.owner, command.currency});
}

inline Decision DecideDeposit(const Account::State& account, const DepositMoney& command) {
  if (account.closed) return sluice::Reject("account is closed");
  if (!account.opened) return sluice::Reject("account is not open");
  // The bus validates amounts too, but the aggregate keeps its own invariants whoever calls it.
  if (command.amount_cents <= 0) return sluice::Reject("amount must be positive");
  return sluice::Emit<Account::Event>(MoneyDeposited{command.amount_cents});
}

inline Decision DecideWithdraw(const Account::State& account, const WithdrawMoney& command) {
  if (account.closed) return sluice::Reject("account is closed");
  if (!account.opened) return sluice::Reject("account is not open");
  if (command.amount_cents <= 0) return sluice::Reject("amount must be positive");
  if (command.amount_cents > account.balance_cents) {
    return sluice::Reject("insufficient funds: balance " +
                          example::FormatCents(account.balance_cents) + ", asked " +
                          example::FormatCents(command.amount_cents));
  }
  return sluice::Emit<Account::Event>(MoneyWithdrawn{command.amount_cents});
}

inline Decision DecideClose(const Account::State& account, const CloseAccount& command) {
  if (account.closed) return sluice::Reject("account is closed");
  if (!account.opened) return sluice::Reject("account is not open");
  if (account.balance_cents != 0) {
    return sluice::Reject("balance is not zero: withdraw " +
                          example::FormatCents(account.balance_cents) + " first");
  }
  return sluice::Emit<Account::Event>(AccountClosed{command.reason});
}

}  // namespace bank
