// Quick start: append bank-account events to a RocksDB event store, read them back by stream and
// from the global log, and watch a live subscription receive them.
//
//   quickstart [STORE_DIR]
//
// Without STORE_DIR the store lives in a temporary folder that is removed on exit. With it, the
// store is kept, and running again appends more events at the streams' current versions.
// Exits 0 on success; on any error prints it and exits 1.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "examples/common/temporary_folder.h"
#include "sluice/core/event.h"
#include "sluice/core/event_store.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/subscription.h"
#include "sluice/core/uuid.h"
#include "sluice/core/version.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace {

// The events of a bank account. Type names are versioned and never reused for another shape.
struct AccountOpened {
  std::string owner;
  std::string currency;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(owner), CEREAL_NVP(currency));
  }
};

struct MoneyDeposited {
  std::int64_t amount_cents = 0;
  std::string reference;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount_cents), CEREAL_NVP(reference));
  }
};

struct MoneyWithdrawn {
  std::int64_t amount_cents = 0;
  std::string reference;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount_cents), CEREAL_NVP(reference));
  }
};

using AccountEvent = std::variant<AccountOpened, MoneyDeposited, MoneyWithdrawn>;

// Reports an error status and gives the process exit code for it.
int Fail(const std::string& what, const sluice::Status& status) {
  std::cerr << "quickstart: " << what << " failed: " << status.ToString() << "\n";
  return 1;
}

std::string FormatTime(std::int64_t micros) {
  std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<long long>(micros % 1'000'000));
  return text;
}

std::string FormatCents(std::int64_t cents) {
  char text[32];
  std::snprintf(text, sizeof text, "%s%lld.%02lld", cents < 0 ? "-" : "",
                static_cast<long long>((cents < 0 ? -cents : cents) / 100),
                static_cast<long long>((cents < 0 ? -cents : cents) % 100));
  return text;
}

// JSON payloads on one line (cereal writes newlines between fields; JSON strings never hold a raw
// newline, so dropping them keeps the text valid JSON).
std::string Printable(const sluice::RecordedEvent& e) {
  if (e.content_type != sluice::ContentType::kJson) {
    return "(" + std::to_string(e.payload.size()) + " bytes of binary payload)";
  }
  std::string text;
  for (char c : e.payload) {
    if (c != '\n' && c != '\r') text.push_back(c);
  }
  return text;
}

// One line per event; with `detailed`, also its id, time and metadata.
void PrintEvents(const std::string& title, const std::vector<sluice::RecordedEvent>& events,
                 bool detailed) {
  std::cout << "\n" << title << " (" << events.size() << " events):\n";
  for (const sluice::RecordedEvent& e : events) {
    std::cout << "  #" << e.position << "  " << e.stream << "@" << e.version << "  " << e.type
              << "  " << Printable(e) << "\n";
    if (!detailed) continue;
    std::cout << "      id " << e.event_id << ", recorded " << FormatTime(e.recorded_at_us) << "\n"
              << "      correlation " << e.metadata.correlation_id << ", causation "
              << e.metadata.causation_id << "\n";
    for (const auto& [key, value] : e.metadata.extra) {
      std::cout << "      " << key << ": " << value << "\n";
    }
  }
}

// What the subscription thread hands to the main thread.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<sluice::RecordedEvent> received;    // GUARDED_BY(mu)
  sluice::GlobalPosition position = 0;            // GUARDED_BY(mu): last position received
  std::optional<sluice::Status> error;            // GUARDED_BY(mu)
  std::optional<sluice::GlobalPosition> live_at;  // GUARDED_BY(mu): caught up at this position
};

// One command's worth of events for a stream, all with the command's correlation id; the first is
// caused by the command, each later one by the event before it.
struct PendingAppend {
  std::string stream;
  std::vector<sluice::EventData> events;
};

class Bank {
 public:
  Bank() = default;

  sluice::Status RegisterTypes() {
    SLUICE_RETURN_IF_ERROR(registry_.Register<AccountOpened>("bank.AccountOpened.v1"));
    SLUICE_RETURN_IF_ERROR(registry_.Register<MoneyDeposited>("bank.MoneyDeposited.v1"));
    SLUICE_RETURN_IF_ERROR(registry_.Register<MoneyWithdrawn>("bank.MoneyWithdrawn.v1"));
    return sluice::Status::Ok();
  }

  // Encodes `event` as JSON, with fresh id and the given correlation and causation ids.
  template <typename T>
  sluice::Result<sluice::EventData> Make(const T& event, const std::string& correlation_id,
                                         const std::string& causation_id) const {
    sluice::Result<sluice::EventData> data = registry_.Encode(event, sluice::ContentType::kJson);
    if (!data.ok()) return data.status();
    data->event_id = sluice::NewUuid();
    data->metadata.correlation_id = correlation_id;
    data->metadata.causation_id = causation_id;
    data->metadata.extra["source"] = "examples/quickstart";
    return data;
  }

  // Balance in cents from the events of one account (evolve: history is fact, so unknown types
  // are an error to report, not to skip).
  sluice::Result<std::int64_t> Balance(const std::vector<sluice::RecordedEvent>& history) const {
    std::int64_t balance = 0;
    for (const sluice::RecordedEvent& e : history) {
      sluice::Result<AccountEvent> decoded = registry_.DecodeVariant<AccountEvent>(e);
      if (!decoded.ok()) return decoded.status();
      if (const auto* deposit = std::get_if<MoneyDeposited>(&*decoded)) {
        balance += deposit->amount_cents;
      } else if (const auto* withdrawal = std::get_if<MoneyWithdrawn>(&*decoded)) {
        balance -= withdrawal->amount_cents;
      }
    }
    return balance;
  }

 private:
  sluice::EventTypeRegistry registry_;
};

sluice::Result<bool> StreamExists(sluice::EventStore& store, const std::string& stream_name) {
  sluice::Result<sluice::StreamId> stream = sluice::StreamId::Make(stream_name);
  if (!stream.ok()) return stream.status();
  sluice::Result<sluice::StreamVersion> head = store.StreamHead(*stream);
  if (!head.ok()) return head.status();
  return *head != sluice::kNoStream;
}

// Appends `events` to `stream` at the stream's current version: the optimistic concurrency check
// that makes a concurrent writer get WrongExpectedVersion instead of interleaving.
sluice::Result<sluice::AppendResult> AppendAtHead(sluice::EventStore& store,
                                                  const std::string& stream_name,
                                                  std::vector<sluice::EventData> events) {
  sluice::Result<sluice::StreamId> stream = sluice::StreamId::Make(stream_name);
  if (!stream.ok()) return stream.status();
  sluice::Result<sluice::StreamVersion> head = store.StreamHead(*stream);
  if (!head.ok()) return head.status();
  std::size_t count = events.size();
  sluice::ExpectedVersion expected = sluice::ExpectedVersion::Exact(*head);
  sluice::Result<sluice::AppendResult> result = store.Append(*stream, expected, std::move(events));
  if (!result.ok()) return result.status();
  std::cout << "appended " << count << " event(s) to " << stream_name << " (expected version "
            << expected.ToString() << "): positions " << result->first_position << ".."
            << result->last_position << ", next expected version " << result->next_expected_version
            << "\n";
  return result;
}

int Run(const std::string& dir) {
  Bank bank;
  if (sluice::Status s = bank.RegisterTypes(); !s.ok()) return Fail("registering event types", s);

  sluice::Result<std::unique_ptr<sluice::RocksEventStore>> opened =
      sluice::RocksEventStore::Open(dir);
  if (!opened.ok()) return Fail("opening the store in " + dir, opened.status());
  sluice::RocksEventStore& store = **opened;
  std::cout << "opened the store in " << dir << " (head position " << store.HeadPosition() << ")\n";

  // Subscribe to the whole global log from the beginning. The handler runs on the subscription's
  // own thread; it hands each event to the main thread through the inbox.
  Inbox inbox;
  sluice::SubscriptionOptions options;
  options.on_live = [&inbox] {
    std::lock_guard<std::mutex> lock(inbox.mu);
    inbox.live_at = inbox.position;
  };
  options.on_error = [&inbox](const sluice::Status& status) {
    std::lock_guard<std::mutex> lock(inbox.mu);
    inbox.error = status;
    inbox.cv.notify_all();
  };
  std::unique_ptr<sluice::Subscription> subscription = store.SubscribeToAll(
      0,
      [&inbox](const sluice::RecordedEvent& e) {
        std::lock_guard<std::mutex> lock(inbox.mu);
        inbox.received.push_back(e);
        inbox.position = e.position;
        inbox.cv.notify_all();
      },
      std::move(options));
  std::cout << "subscribed to the global log from position 0\n\n";

  // Three commands, each correlated by its own id: fund Alice's account (opening it first if this
  // store has not seen it yet), the same for Bob's, and a transfer from Bob to Alice.
  const std::string alice = "account-1001";
  const std::string bob = "account-1002";
  std::vector<PendingAppend> plan;
  for (const auto& [stream, owner, amount_cents, reference] :
       {std::tuple{alice, "Alice", 10'000, "cash deposit"},
        std::tuple{bob, "Bob", 25'000, "salary"}}) {
    sluice::Result<bool> exists = StreamExists(store, stream);
    if (!exists.ok()) return Fail("looking up " + stream, exists.status());
    const std::string command_id = sluice::NewUuid();
    std::string cause = command_id;
    PendingAppend append{stream, {}};
    if (!*exists) {
      sluice::Result<sluice::EventData> opened_event =
          bank.Make(AccountOpened{owner, "EUR"}, command_id, cause);
      if (!opened_event.ok()) return Fail("encoding an event", opened_event.status());
      cause = opened_event->event_id;
      append.events.push_back(std::move(*opened_event));
    }
    sluice::Result<sluice::EventData> deposit =
        bank.Make(MoneyDeposited{amount_cents, reference}, command_id, cause);
    if (!deposit.ok()) return Fail("encoding an event", deposit.status());
    append.events.push_back(std::move(*deposit));
    plan.push_back(std::move(append));
  }
  {
    // A transfer touches two streams: one append each, both correlated by the transfer's id, the
    // deposit caused by the withdrawal.
    const std::string transfer = sluice::NewUuid();
    sluice::Result<sluice::EventData> withdrawn =
        bank.Make(MoneyWithdrawn{4'250, "transfer to " + alice}, transfer, transfer);
    if (!withdrawn.ok()) return Fail("encoding an event", withdrawn.status());
    sluice::Result<sluice::EventData> deposited =
        bank.Make(MoneyDeposited{4'250, "transfer from " + bob}, transfer, withdrawn->event_id);
    if (!deposited.ok()) return Fail("encoding an event", deposited.status());
    plan.push_back({bob, {std::move(*withdrawn)}});
    plan.push_back({alice, {std::move(*deposited)}});
  }

  sluice::GlobalPosition last_position = 0;
  for (PendingAppend& append : plan) {
    sluice::Result<sluice::AppendResult> result =
        AppendAtHead(store, append.stream, std::move(append.events));
    if (!result.ok()) return Fail("appending to " + append.stream, result.status());
    last_position = result->last_position;
  }

  // Read Alice's account forward from its first event, and backward from its last.
  sluice::Result<sluice::StreamId> alice_id = sluice::StreamId::Make(alice);
  if (!alice_id.ok()) return Fail("naming a stream", alice_id.status());
  sluice::Result<std::vector<sluice::RecordedEvent>> forward =
      store.ReadStream(*alice_id, 0, 100, sluice::Direction::kForward);
  if (!forward.ok()) return Fail("reading " + alice + " forward", forward.status());
  PrintEvents("stream " + alice + ", forward from version 0", *forward, /*detailed=*/true);

  sluice::Result<std::vector<sluice::RecordedEvent>> backward =
      store.ReadStream(*alice_id, sluice::kStreamEnd, 100, sluice::Direction::kBackward);
  if (!backward.ok()) return Fail("reading " + alice + " backward", backward.status());
  PrintEvents("stream " + alice + ", backward from its last event", *backward,
              /*detailed=*/false);

  sluice::Result<std::int64_t> balance = bank.Balance(*forward);
  if (!balance.ok()) return Fail("folding " + alice, balance.status());
  std::cout << "  balance of " << alice << ": " << FormatCents(*balance) << " EUR\n";

  // The whole global log, in position order.
  sluice::Result<std::vector<sluice::RecordedEvent>> all = store.ReadAll(1, 1000);
  if (!all.ok()) return Fail("reading the global log", all.status());
  PrintEvents("global log from position 1", *all, /*detailed=*/false);

  // Wait until the subscription has delivered everything appended above.
  std::vector<sluice::RecordedEvent> received;
  std::optional<sluice::GlobalPosition> live_at;
  {
    std::unique_lock<std::mutex> lock(inbox.mu);
    bool done = inbox.cv.wait_for(lock, std::chrono::seconds(30), [&] {
      return inbox.error.has_value() || inbox.position >= last_position;
    });
    if (inbox.error) return Fail("the subscription", *inbox.error);
    if (!done) {
      return Fail("waiting for the subscription",
                  sluice::Status::Unavailable(
                      "nothing after position " + std::to_string(inbox.position) +
                      " within 30 s; expected up to " + std::to_string(last_position)));
    }
    received = inbox.received;
    live_at = inbox.live_at;
  }
  PrintEvents("received by the subscription", received, /*detailed=*/false);
  // The subscription saw exactly the global log: every position once, in order.
  for (std::size_t i = 0; i < received.size(); ++i) {
    if (received[i].position != i + 1) {
      return Fail(
          "the subscription",
          sluice::Status::Corruption("delivered position " + std::to_string(received[i].position) +
                                     " as event " + std::to_string(i + 1)));
    }
  }
  if (live_at) {
    std::cout << "  (caught up from the log to position " << *live_at
              << ", then followed live commits)\n";
  }
  subscription->Stop();
  if (sluice::Status s = subscription->status(); !s.ok()) return Fail("the subscription", s);

  std::cout << "\ndone: head position " << store.HeadPosition() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 ||
      (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help"))) {
    std::cerr
        << "usage: " << argv[0] << " [STORE_DIR]\n"
        << "  Appends bank-account events to the RocksDB event store in STORE_DIR (default: a\n"
        << "  temporary folder, removed on exit) and prints what it reads back.\n";
    return argc > 2 ? 2 : 0;
  }
  if (argc == 2) return Run(argv[1]);

  sluice::Result<example::TemporaryFolder> folder =
      example::TemporaryFolder::Create("sluice-quickstart");
  if (!folder.ok()) return Fail("creating a temporary folder", folder.status());
  return Run(folder->path() + "/store");
}
