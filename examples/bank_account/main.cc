// Bank account: commands go through a CommandBus (with validation and logging middleware) to an
// AggregateService that loads the account, runs a decide function from account.h and appends the
// new events to a RocksDB event store, taking a snapshot every few events.
//
//   bank_account [STORE_DIR]
//
// Without STORE_DIR the store lives in a temporary folder that is removed on exit. With it, the
// store is kept; every run opens new accounts, so running again adds streams.
// Prints each command with its outcome (accepted, rejected, invalid), then the streams read back
// from the store. Exits 0 if every command had the outcome the scenario expects, 1 otherwise.

#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "examples/bank_account/account.h"
#include "examples/common/money.h"
#include "examples/common/print_events.h"
#include "examples/common/temporary_folder.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/command.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace {

using example::FormatCents;
using sluice::StatusCode;

int Fail(const std::string& what, const sluice::Status& status) {
  std::cerr << "bank_account: " << what << " failed: " << status.ToString() << "\n";
  return 1;
}

// Middleware: runs around every command on the bus, in the order added (the first is outermost).

// Logs each command and what became of it.
sluice::Result<sluice::CommandResult> LogCommand(sluice::CommandEnvelope& command,
                                                 const sluice::CommandBus::Next& next) {
  sluice::Result<sluice::CommandResult> result = next(command);
  std::cout << "    " << command.name << " " << command.metadata.command_id.substr(0, 8) << " -> ";
  if (!result.ok()) {
    std::cout << result.status().ToString() << "\n";
  } else if (result->duplicate) {
    std::cout << "OK, already handled: nothing appended this time\n";
  } else {
    std::cout << "OK, " << result->events_appended << " event(s) appended to " << result->stream
              << " (now at version " << result->append.next_expected_version << ")\n";
  }
  return result;
}

// Rejects deposits and withdrawals of zero or less before they reach a handler: input that is
// wrong whatever the account's state is an InvalidArgument, not a business rejection.
sluice::Result<sluice::CommandResult> ValidateAmounts(sluice::CommandEnvelope& command,
                                                      const sluice::CommandBus::Next& next) {
  std::int64_t amount_cents = 1;
  if (const auto* deposit = command.As<bank::DepositMoney>()) amount_cents = deposit->amount_cents;
  if (const auto* withdrawal = command.As<bank::WithdrawMoney>()) {
    amount_cents = withdrawal->amount_cents;
  }
  if (amount_cents <= 0) {
    return sluice::Status::InvalidArgument("amount must be positive, got " +
                                           FormatCents(amount_cents));
  }
  return next(command);
}

// Routes each command type to `accounts` with the guard it needs on the stream (kNew: must not
// exist yet; kExisting: must exist) and its decide function.
sluice::Status RegisterHandlers(sluice::AggregateService<bank::Account>& accounts,
                                sluice::CommandBus& bus) {
  auto stream_of = [](const auto& command) { return bank::AccountStream(command.account_id); };
  SLUICE_RETURN_IF_ERROR(accounts.Handle<bank::OpenAccount>(
      bus, stream_of, sluice::ExpectedState::kNew, bank::DecideOpen));
  SLUICE_RETURN_IF_ERROR(accounts.Handle<bank::DepositMoney>(
      bus, stream_of, sluice::ExpectedState::kExisting, bank::DecideDeposit));
  SLUICE_RETURN_IF_ERROR(accounts.Handle<bank::WithdrawMoney>(
      bus, stream_of, sluice::ExpectedState::kExisting, bank::DecideWithdraw));
  SLUICE_RETURN_IF_ERROR(accounts.Handle<bank::CloseAccount>(
      bus, stream_of, sluice::ExpectedState::kExisting, bank::DecideClose));
  return sluice::Status::Ok();
}

// Dispatches one command of the scenario and tells whether its outcome has the `expected` code.
template <typename C>
bool Step(sluice::CommandBus& bus, std::string_view description, const C& command,
          StatusCode expected, sluice::CommandMetadata metadata = {}) {
  std::cout << description << "\n";
  sluice::Result<sluice::CommandResult> result = bus.Dispatch(command, std::move(metadata));
  if (result.status().code() == expected) return true;
  std::cout << "    UNEXPECTED: the scenario expects " << sluice::StatusCodeName(expected) << "\n";
  return false;
}

// Loads an account (from its latest snapshot, then the events after it), prints how, and tells
// whether it has the expected balance and open/closed state.
bool ShowAccount(const sluice::AggregateService<bank::Account>& accounts,
                 const std::string& stream_name, std::int64_t expected_balance_cents,
                 bool expected_closed) {
  sluice::Result<sluice::StreamId> stream = sluice::StreamId::Make(stream_name);
  if (!stream.ok()) {
    Fail("naming " + stream_name, stream.status());
    return false;
  }
  sluice::Result<sluice::LoadedAggregate<bank::Account>> loaded = accounts.Load(*stream);
  if (!loaded.ok()) {
    Fail("loading " + stream_name, loaded.status());
    return false;
  }
  const bank::Account::State& account = loaded->state;
  std::cout << "  " << stream_name << ": " << account.owner << ", balance "
            << FormatCents(account.balance_cents) << " " << account.currency
            << (account.closed ? ", closed" : ", open") << "; version " << loaded->version;
  if (loaded->snapshot_version == sluice::kNoStream) {
    std::cout << " (no snapshot: folded all " << loaded->events_read << " events)\n";
  } else {
    std::cout << " (snapshot at version " << loaded->snapshot_version << ", then "
              << loaded->events_read << " event(s) read)\n";
  }
  if (account.balance_cents == expected_balance_cents && account.closed == expected_closed) {
    return true;
  }
  std::cout << "    UNEXPECTED: the scenario expects a balance of "
            << FormatCents(expected_balance_cents) << (expected_closed ? ", closed" : ", open")
            << "\n";
  return false;
}

int Run(const std::string& dir) {
  // 1. Event types, registered once under their versioned names.
  sluice::EventTypeRegistry registry;
  if (sluice::Status s = bank::RegisterEvents(registry); !s.ok()) {
    return Fail("registering event types", s);
  }

  // 2. The store. RocksEventStore is also a SnapshotStore: snapshots live beside the streams.
  sluice::Result<std::unique_ptr<sluice::RocksEventStore>> opened =
      sluice::RocksEventStore::Open(dir);
  if (!opened.ok()) return Fail("opening the store in " + dir, opened.status());
  sluice::RocksEventStore& store = **opened;
  std::cout << "store: " << dir << " (head position " << store.HeadPosition() << ")\n\n";

  // 3. The aggregate service: load, decide, append with the loaded version as the expected one
  // (retrying on a concurrent writer), and a snapshot once 3 events follow the last one (real
  // aggregates would pick hundreds). Events are stored as JSON so `sluice read` shows them.
  sluice::AggregateOptions options;
  options.snapshot_every = 3;
  options.content_type = sluice::ContentType::kJson;
  sluice::AggregateService<bank::Account> accounts(store, registry, options, &store);

  // 4. The bus: middleware first, then one handler per command type.
  sluice::CommandBus bus;
  bus.Use(LogCommand);
  bus.Use(ValidateAmounts);
  if (sluice::Status s = RegisterHandlers(accounts, bus); !s.ok()) {
    return Fail("registering the handlers", s);
  }

  // 5. The scenario. Account ids are new on every run, so a kept store just gains accounts.
  const std::string run = sluice::NewUuid().substr(0, 8);
  const std::string alice = "alice-" + run;
  const std::string bob = "bob-" + run;
  // A command id chosen by the caller: dispatching it again (a client retrying after a timeout)
  // returns the first result instead of depositing twice.
  sluice::CommandMetadata first_deposit;
  first_deposit.command_id = sluice::NewUuid();

  bool as_expected = true;
  as_expected &= Step(bus, "Alice opens an account", bank::OpenAccount{alice, "Alice", "EUR"},
                      StatusCode::kOk);
  as_expected &= Step(bus, "Alice deposits 100.00", bank::DepositMoney{alice, 100'00},
                      StatusCode::kOk, first_deposit);
  as_expected &=
      Step(bus, "Alice withdraws 30.00", bank::WithdrawMoney{alice, 30'00}, StatusCode::kOk);
  as_expected &= Step(bus, "Alice withdraws 500.00: more than her balance",
                      bank::WithdrawMoney{alice, 500'00}, StatusCode::kRejected);
  as_expected &= Step(bus, "Alice deposits -5.00: stopped by the validation middleware",
                      bank::DepositMoney{alice, -5'00}, StatusCode::kInvalidArgument);
  as_expected &= Step(bus, "the 100.00 deposit is sent again with the same command id",
                      bank::DepositMoney{alice, 100'00}, StatusCode::kOk, first_deposit);
  as_expected &= Step(bus, "Alice closes her account while 70.00 are left",
                      bank::CloseAccount{alice, "moving abroad"}, StatusCode::kRejected);
  as_expected &= Step(bus, "Alice withdraws the remaining 70.00", bank::WithdrawMoney{alice, 70'00},
                      StatusCode::kOk);
  as_expected &= Step(bus, "Alice closes her account", bank::CloseAccount{alice, "moving abroad"},
                      StatusCode::kOk);
  as_expected &= Step(bus, "Alice deposits 10.00 into her closed account",
                      bank::DepositMoney{alice, 10'00}, StatusCode::kRejected);
  as_expected &= Step(bus, "Alice opens the same account again",
                      bank::OpenAccount{alice, "Alice", "EUR"}, StatusCode::kRejected);
  as_expected &=
      Step(bus, "Bob opens an account", bank::OpenAccount{bob, "Bob", "EUR"}, StatusCode::kOk);
  as_expected &= Step(bus, "Bob deposits 250.00", bank::DepositMoney{bob, 250'00}, StatusCode::kOk);
  as_expected &= Step(bus, "someone deposits into an account that was never opened",
                      bank::DepositMoney{"nobody-" + run, 1'00}, StatusCode::kNotFound);

  // 6. What the store holds now: each stream read back and decoded through the registry.
  std::cout << "\nstreams:\n";
  for (const std::string& id : {alice, bob}) {
    const std::string stream = bank::AccountStream(id);
    if (sluice::Status s = example::PrintStream<bank::Account::Event>(store, registry, stream);
        !s.ok()) {
      return Fail("reading " + stream, s);
    }
  }

  // 7. The accounts as a handler sees them. Alice's load starts from a snapshot.
  std::cout << "\naccounts:\n";
  as_expected &= ShowAccount(accounts, bank::AccountStream(alice), 0, /*expected_closed=*/true);
  as_expected &= ShowAccount(accounts, bank::AccountStream(bob), 250'00, /*expected_closed=*/false);

  if (!as_expected) {
    std::cerr << "bank_account: some outcomes differ from the scenario's (see UNEXPECTED above)\n";
    return 1;
  }
  std::cout << "\ndone: every command had the expected outcome; head position "
            << store.HeadPosition() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 ||
      (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help"))) {
    std::cerr << "usage: " << argv[0] << " [STORE_DIR]\n"
              << "  Sends bank-account commands through a command bus into the RocksDB event\n"
              << "  store in STORE_DIR (default: a temporary folder, removed on exit) and prints\n"
              << "  the resulting streams.\n";
    return argc > 2 ? 2 : 0;
  }
  if (argc == 2) return Run(argv[1]);

  sluice::Result<example::TemporaryFolder> folder =
      example::TemporaryFolder::Create("sluice-bank-account");
  if (!folder.ok()) return Fail("creating a temporary folder", folder.status());
  return Run(folder->path() + "/store");
}
