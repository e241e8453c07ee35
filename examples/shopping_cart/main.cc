// Shopping cart: several shoppers, each on a thread of their own, send commands with
// CommandBus::DispatchAsync; every event records which conversation it belongs to (correlation id)
// and which command caused it (causation id).
//
//   shopping_cart [STORE_DIR]
//
// Without STORE_DIR the store lives in a temporary folder that is removed on exit. With it, the
// store is kept; every run fills new carts, so running again adds streams.
// Prints what each shopper's commands did, then the carts' streams with their metadata. Exits 0 if
// every command had the outcome the scenario expects and every event carries the ids of its
// session and command, 1 otherwise.

#include <atomic>
#include <cstddef>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "examples/common/money.h"
#include "examples/common/print_events.h"
#include "examples/common/temporary_folder.h"
#include "examples/shopping_cart/cart.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/command.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/event.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace {

using sluice::StatusCode;

int Fail(const std::string& what, const sluice::Status& status) {
  std::cerr << "shopping_cart: " << what << " failed: " << status.ToString() << "\n";
  return 1;
}

// Counts what the bus did. The middleware runs on the bus's worker threads (and on callers of
// Dispatch), several at once: hence atomics.
struct BusMetrics {
  std::atomic<int> accepted{0};
  std::atomic<int> rejected{0};
  std::atomic<int> failed{0};
  std::atomic<int> retries{0};  // extra load-decide-append rounds after a concurrent append
};

// One shopper's plan: the items to put in the cart, and one to take out again before checking out.
struct Shopper {
  std::string name;
  std::vector<shop::AddItem> items;
  std::string remove_sku;
};

// What one shopper's session did, for the main thread to print and check once the thread ended.
struct Session {
  std::string name;
  std::string cart_id;
  std::string correlation_id;                  // every command of the session carries it
  std::set<std::string> accepted_command_ids;  // the commands that appended an event
  std::vector<std::string> log;
  bool as_expected = true;
};

// The metadata of a new command in `session`: a fresh command id, the session's correlation id,
// and a header the service copies into the metadata of the events the command produces.
sluice::CommandMetadata NewCommand(const Session& session) {
  sluice::CommandMetadata metadata;
  metadata.command_id = sluice::NewUuid();
  metadata.correlation_id = session.correlation_id;
  metadata.headers["shopper"] = session.name;
  return metadata;
}

// Notes the outcome of one command in the session's log, and whether it was the expected one.
void Note(Session& session, const std::string& what, const std::string& command_id,
          const sluice::Result<sluice::CommandResult>& result, StatusCode expected) {
  std::string line = what + " (command " + command_id.substr(0, 8) + ") -> ";
  if (result.ok()) {
    line += "OK, cart at version " + std::to_string(result->append.next_expected_version);
    if (result->attempts > 1) {
      line += ", decided " + std::to_string(result->attempts) +
              " times: another item of this cart was appended meanwhile";
    }
    session.accepted_command_ids.insert(command_id);
  } else {
    line += result.status().ToString();
  }
  if (result.status().code() != expected) {
    line += "   UNEXPECTED: the scenario expects " + std::string(sluice::StatusCodeName(expected));
    session.as_expected = false;
  }
  session.log.push_back(std::move(line));
}

// Routes the cart commands to `carts`. kAny: the first item creates the cart, and checking out a
// cart nobody filled reaches the decider, which rejects it as empty.
sluice::Status RegisterHandlers(sluice::AggregateService<shop::Cart>& carts,
                                sluice::CommandBus& bus) {
  auto stream_of = [](const auto& command) { return shop::CartStream(command.cart_id); };
  SLUICE_RETURN_IF_ERROR(carts.Handle<shop::AddItem>(bus, stream_of, sluice::ExpectedState::kAny,
                                                     shop::DecideAddItem));
  SLUICE_RETURN_IF_ERROR(carts.Handle<shop::RemoveItem>(bus, stream_of, sluice::ExpectedState::kAny,
                                                        shop::DecideRemoveItem));
  SLUICE_RETURN_IF_ERROR(carts.Handle<shop::CheckOut>(bus, stream_of, sluice::ExpectedState::kAny,
                                                      shop::DecideCheckOut));
  return sluice::Status::Ok();
}

// One shopper's session, on its own thread.
void Shop(sluice::CommandBus& bus, const Shopper& shopper, Session& session) {
  // DispatchAsync queues the command for the bus's workers and returns a future at once, so all
  // items go into the cart concurrently. Several workers may handle the same cart at the same
  // time; the loser of each append race reloads the cart and decides again.
  struct Pending {
    std::string what;
    std::string command_id;
    std::future<sluice::Result<sluice::CommandResult>> result;
  };
  std::vector<Pending> pending;
  for (shop::AddItem item : shopper.items) {
    item.cart_id = session.cart_id;
    sluice::CommandMetadata metadata = NewCommand(session);
    std::string what = "add " + std::to_string(item.quantity) + " x " + item.sku + " at " +
                       example::FormatCents(item.unit_price_cents);
    std::string command_id = metadata.command_id;
    pending.push_back(
        {std::move(what), std::move(command_id), bus.DispatchAsync(item, std::move(metadata))});
  }
  for (Pending& p : pending) Note(session, p.what, p.command_id, p.result.get(), StatusCode::kOk);

  // The rest depends on the cart as the previous command left it: one at a time. Waiting on the
  // future right away is what Dispatch does, on the calling thread.
  auto send = [&](const std::string& what, const auto& command, StatusCode expected) {
    sluice::CommandMetadata metadata = NewCommand(session);
    const std::string command_id = metadata.command_id;
    Note(session, what, command_id, bus.DispatchAsync(command, std::move(metadata)).get(),
         expected);
  };
  send("remove " + shopper.remove_sku, shop::RemoveItem{session.cart_id, shopper.remove_sku},
       StatusCode::kOk);
  send("remove gift-card (never added)", shop::RemoveItem{session.cart_id, "gift-card"},
       StatusCode::kRejected);
  send("check out", shop::CheckOut{session.cart_id}, StatusCode::kOk);
  send("add 1 x chocolate after checking out", shop::AddItem{session.cart_id, "chocolate", 1, 250},
       StatusCode::kRejected);
}

// Checks that every event of the session's cart carries the session's correlation id, the id of
// one of its accepted commands as causation id, and the shopper header, and that each accepted
// command appended exactly one event.
bool CheckMetadata(sluice::EventStore& store, const Session& session) {
  const std::string stream_name = shop::CartStream(session.cart_id);
  sluice::Result<sluice::StreamId> stream = sluice::StreamId::Make(stream_name);
  if (!stream.ok()) {
    Fail("naming " + stream_name, stream.status());
    return false;
  }
  sluice::Result<std::vector<sluice::RecordedEvent>> events = store.ReadStream(*stream, 0, 1000);
  if (!events.ok()) {
    Fail("reading " + stream_name, events.status());
    return false;
  }
  std::set<std::string> causes;
  for (const sluice::RecordedEvent& e : *events) {
    auto shopper = e.metadata.extra.find("shopper");
    if (e.metadata.correlation_id != session.correlation_id ||
        !session.accepted_command_ids.contains(e.metadata.causation_id) ||
        shopper == e.metadata.extra.end() || shopper->second != session.name) {
      std::cout << "  UNEXPECTED metadata on " << stream_name << "@" << e.version << "\n";
      return false;
    }
    causes.insert(e.metadata.causation_id);
  }
  if (events->size() != session.accepted_command_ids.size() ||
      causes != session.accepted_command_ids) {
    std::cout << "  UNEXPECTED: " << stream_name << " has " << events->size() << " events for "
              << session.accepted_command_ids.size() << " accepted commands\n";
    return false;
  }
  std::cout << "  " << stream_name << ": " << events->size()
            << " events, each with its session's correlation id and its command's id\n";
  return true;
}

int Run(const std::string& dir) {
  sluice::EventTypeRegistry registry;
  if (sluice::Status s = shop::RegisterEvents(registry); !s.ok()) {
    return Fail("registering event types", s);
  }
  sluice::Result<std::unique_ptr<sluice::RocksEventStore>> opened =
      sluice::RocksEventStore::Open(dir);
  if (!opened.ok()) return Fail("opening the store in " + dir, opened.status());
  sluice::RocksEventStore& store = **opened;
  std::cout << "store: " << dir << " (head position " << store.HeadPosition() << ")\n\n";

  // Concurrent commands on one cart conflict; each conflict costs a reload and another decision,
  // up to AggregateOptions::max_attempts (default 5) rounds. Here a shopper's three items are the
  // only commands in flight on their cart, so an item loses at most two races: 3 rounds suffice.
  sluice::AggregateService<shop::Cart> carts(store, registry);

  // Four worker threads serve DispatchAsync. The bus finishes every queued command when it is
  // destroyed, so it is declared after what its handlers and middleware use.
  BusMetrics metrics;
  sluice::CommandBus bus(/*async_workers=*/4);
  bus.Use([&metrics](sluice::CommandEnvelope& command, const sluice::CommandBus::Next& next) {
    sluice::Result<sluice::CommandResult> result = next(command);
    if (result.ok()) {
      ++metrics.accepted;
      metrics.retries += result->attempts - 1;
    } else if (result.status().code() == StatusCode::kRejected) {
      ++metrics.rejected;
    } else {
      ++metrics.failed;
    }
    return result;
  });
  if (sluice::Status s = RegisterHandlers(carts, bus); !s.ok()) {
    return Fail("registering the handlers", s);
  }

  // Three shoppers at once, each with a new cart (new on every run: a kept store gains carts).
  const std::string run = sluice::NewUuid().substr(0, 8);
  const std::vector<Shopper> shoppers = {
      {"alice", {{"", "apple", 3, 45}, {"", "bread", 1, 220}, {"", "cheese", 1, 590}}, "apple"},
      {"bob", {{"", "coffee", 2, 750}, {"", "milk", 2, 110}, {"", "sugar", 1, 180}}, "sugar"},
      {"carol", {{"", "tea", 1, 420}, {"", "honey", 1, 630}, {"", "lemon", 4, 35}}, "tea"},
  };
  std::vector<Session> sessions(shoppers.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < shoppers.size(); ++i) {
    sessions[i].name = shoppers[i].name;
    sessions[i].cart_id = shoppers[i].name + "-" + run;
    sessions[i].correlation_id = sluice::NewUuid();
    threads.emplace_back(Shop, std::ref(bus), std::cref(shoppers[i]), std::ref(sessions[i]));
  }
  for (std::thread& t : threads) t.join();

  bool as_expected = true;
  for (const Session& session : sessions) {
    std::cout << session.name << " (session " << session.correlation_id << "):\n";
    for (const std::string& line : session.log) std::cout << "  " << line << "\n";
    as_expected = as_expected && session.as_expected;
  }

  // A fourth shopper checks out without adding anything: rejected, and no stream is created.
  std::cout << "dave:\n";
  Session dave{"dave", "dave-" + run, sluice::NewUuid(), {}, {}, true};
  sluice::CommandMetadata metadata = NewCommand(dave);
  const std::string command_id = metadata.command_id;
  Note(dave, "check out an empty cart", command_id,
       bus.Dispatch(shop::CheckOut{dave.cart_id}, std::move(metadata)), StatusCode::kRejected);
  std::cout << "  " << dave.log.back() << "\n";
  as_expected = as_expected && dave.as_expected;

  // The carts as stored, each event decoded through the registry, with its metadata.
  std::cout << "\nstreams:\n";
  for (const Session& session : sessions) {
    const std::string stream = shop::CartStream(session.cart_id);
    if (sluice::Status s = example::PrintStream<shop::Cart::Event>(store, registry, stream,
                                                                   /*with_metadata=*/true);
        !s.ok()) {
      return Fail("reading " + stream, s);
    }
  }

  std::cout << "\ntracing:\n";
  for (const Session& session : sessions) {
    as_expected = CheckMetadata(store, session) && as_expected;
  }
  std::cout << "\nbus: " << metrics.accepted << " commands accepted, " << metrics.rejected
            << " rejected, " << metrics.failed << " failed; " << metrics.retries
            << " extra round(s) after concurrent appends to the same cart\n";

  if (!as_expected) {
    std::cerr << "shopping_cart: the run differs from the scenario (see UNEXPECTED above)\n";
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
              << "  Fills shopping carts from several threads through a command bus into the\n"
              << "  RocksDB event store in STORE_DIR (default: a temporary folder, removed on\n"
              << "  exit) and prints the resulting streams with their metadata.\n";
    return argc > 2 ? 2 : 0;
  }
  if (argc == 2) return Run(argv[1]);

  sluice::Result<example::TemporaryFolder> folder =
      example::TemporaryFolder::Create("sluice-shopping-cart");
  if (!folder.ok()) return Fail("creating a temporary folder", folder.status());
  return Run(folder->path() + "/store");
}
