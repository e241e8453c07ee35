// Shop projections: while a thread keeps sending cart commands, two projection workers build read
// models from the events, asynchronously, each on threads of its own:
//   order-summary  -> SQLite  (orders.sqlite; try: sqlite3 orders.sqlite 'SELECT * FROM orders')
//   product-sales  -> RocksDB (a database of its own, separate from the event store)
// product-sales has a bug (read_models.h): its CartCheckedOut handler fails on orders holding a
// gift card. Its worker retries with backoff, parks the event in the dead-letter store and goes
// on; after the "fix", ReplayParked applies the parked events.
//
//   shop_projections [STORE_DIR [READ_MODEL_DIR]]
//
// STORE_DIR holds the event store (default: a temporary folder, removed on exit); a kept store
// gains carts on every run. READ_MODEL_DIR holds orders.sqlite and product-sales/ (default: a
// temporary folder, so the workers start from position 0 and first catch up on what the store
// already holds). Exits 0 when both read models equal what the carts' streams say (every cart in
// the store, loaded through the aggregate) and nothing is left parked, 1 otherwise.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "examples/common/money.h"
#include "examples/common/temporary_folder.h"
#include "examples/shop_projections/read_models.h"
#include "examples/shopping_cart/cart.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/projections/dead_letters.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/projections/read_model_store.h"
#include "sluice/projections/rocks_read_model_store.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

namespace {

using namespace std::chrono_literals;
using sluice::ProjectionWorker;
using sluice::ReadModelStore;
using sluice::Result;
using sluice::Row;
using sluice::Status;

int Fail(const std::string& what, const Status& status) {
  std::cerr << "shop_projections: " << what << " failed: " << status.ToString() << "\n";
  return 1;
}
bool Failed(const std::string& what, const Status& status) { return Fail(what, status) == 0; }

// Lines from the command thread and the main thread, whole.
std::mutex g_print_mu;
void Say(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_print_mu);
  std::cout << line << "\n" << std::flush;
}

// "product-sales  retrying  checkpoint 31/57, lag 26 events (0.3 s), parked 1: <error>"
std::string Describe(const sluice::ProjectionReport& r) {
  std::ostringstream out;
  out << std::left << std::setw(14) << r.name << " " << std::setw(9)
      << sluice::ProjectionStateName(r.state) << " checkpoint " << r.checkpoint << "/" << r.head
      << ", lag " << r.lag_events << " events (" << std::fixed << std::setprecision(2)
      << r.lag_seconds << " s), parked " << r.parked;
  if (!r.error.empty()) out << ": " << r.error.substr(0, 90);
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// The commands: twelve carts, one after the other, a command every few milliseconds.

struct Product {
  std::string sku;
  std::int64_t price_cents;
};
const std::vector<Product> kProducts = {{"apple", 45},   {"bread", 220}, {"cheese", 590},
                                        {"coffee", 750}, {"milk", 110},  {"tea", 420}};
const std::vector<std::string> kShoppers = {"alice", "bob",   "carol", "dave",    "erin", "frank",
                                            "grace", "heidi", "ivan",  "mallory", "niaj", "olivia"};

// Sends every cart's commands through `bus`; false if one did not succeed. After the first
// checkout it reads its own write: it waits until order-summary has processed the checkout's
// position and reads the order's row.
bool SendCommands(sluice::CommandBus& bus, const std::string& run, ProjectionWorker& summary,
                  ReadModelStore& orders) {
  bool first_checkout = true;
  for (std::size_t i = 0; i < kShoppers.size(); ++i) {
    const std::string cart = kShoppers[i] + "-" + run;
    auto send = [&](const auto& command) -> Result<sluice::CommandResult> {
      std::this_thread::sleep_for(15ms);  // a shop's pace: the workers keep up live
      Result<sluice::CommandResult> result = bus.Dispatch(command);
      if (!result.ok()) Say("  " + cart + ": " + result.status().ToString());
      return result;
    };
    for (std::size_t k = 0; k < 3; ++k) {
      const Product& p = kProducts[(i + 2 * k) % kProducts.size()];
      const std::int64_t quantity = static_cast<std::int64_t>(1 + (i + k) % 3);
      if (!send(shop::AddItem{cart, p.sku, quantity, p.price_cents}).ok()) return false;
    }
    if (i % 4 == 1 &&
        !send(shop::AddItem{cart, std::string(shop_read_models::kGiftCard), 1, 2500}).ok()) {
      return false;
    }
    if (i % 3 == 0 && !send(shop::RemoveItem{cart, kProducts[i % kProducts.size()].sku}).ok()) {
      return false;
    }
    if (i % 6 == 5) continue;  // this cart stays open
    Result<sluice::CommandResult> checked_out = send(shop::CheckOut{cart});
    if (!checked_out.ok()) return false;
    if (!first_checkout) continue;
    first_checkout = false;

    // Read your writes: the projection is asynchronous, so wait for the checkout's position.
    const sluice::GlobalPosition position = checked_out->append.last_position;
    const auto start = std::chrono::steady_clock::now();
    if (Status s = summary.WaitFor(position, 5s); !s.ok()) {
      return Failed("waiting for order-summary", s);
    }
    const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    Result<std::optional<Row>> row = orders.Get("orders", {cart});
    if (!row.ok() || !row->has_value()) {
      return Failed("reading order " + cart, row.ok() ? Status::NotFound("no row") : row.status());
    }
    const Row& r = **row;
    Say("read your writes: " + cart + " checked out at #" + std::to_string(position) +
        "; WaitFor took " + std::to_string(waited.count()) + " us; its row: " +
        std::get<std::string>(r[4]) + ", " + std::to_string(std::get<std::int64_t>(r[2])) +
        " items, " + example::FormatCents(std::get<std::int64_t>(r[3])) + " [" +
        std::get<std::string>(r[1]) + "]");
    if (std::get<std::string>(r[4]) != "ordered") return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The check: both read models against the carts' streams.

Result<std::vector<Row>> ScanAll(ReadModelStore& store, const std::string& table) {
  std::vector<Row> rows;
  while (true) {
    sluice::Key after;
    if (!rows.empty()) after = {rows.back()[0]};
    Result<std::vector<Row>> page = store.Scan(table, rows.empty() ? nullptr : &after, 500);
    if (!page.ok()) return page.status();
    rows.insert(rows.end(), page->begin(), page->end());
    if (page->size() < 500) return rows;
  }
}

// Every cart in the store, loaded by the aggregate (the source of truth), against the rows.
bool CheckReadModels(sluice::RocksEventStore& store, sluice::AggregateService<shop::Cart>& carts,
                     ReadModelStore& orders, ReadModelStore& sales) {
  std::set<std::string> streams;
  for (sluice::GlobalPosition from = 1;;) {
    Result<std::vector<sluice::RecordedEvent>> page = store.ReadAll(from, 1000);
    if (!page.ok()) return Failed("reading the log", page.status());
    for (const sluice::RecordedEvent& e : *page) {
      if (sluice::CategoryOf(e.stream) == "cart") streams.insert(e.stream);
    }
    if (page->size() < 1000) break;
    from = page->back().position + 1;
  }
  std::map<std::string, Row> expected_orders;
  std::map<std::string, Row> expected_open;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> expected_sales;
  for (const std::string& name : streams) {
    Result<sluice::StreamId> stream = sluice::StreamId::Make(name);
    if (!stream.ok()) return Failed("naming " + name, stream.status());
    Result<sluice::LoadedAggregate<shop::Cart>> cart = carts.Load(*stream);
    if (!cart.ok()) return Failed("loading " + name, cart.status());
    const std::string id = shop_read_models::CartIdOf(name);
    expected_orders[id] = shop_read_models::OrderRow(id, cart->state);
    if (!cart->state.checked_out) {
      expected_open[id] = {id, shop_read_models::EncodeLines(cart->state)};
      continue;
    }
    for (const auto& [sku, line] : cart->state.lines) {
      expected_sales[sku].first += line.quantity;
      expected_sales[sku].second += line.quantity * line.unit_price_cents;
    }
  }

  auto same = [](Result<std::vector<Row>> rows, const std::map<std::string, Row>& expected,
                 const std::string& what) {
    if (!rows.ok()) return Failed("scanning " + what, rows.status());
    std::map<std::string, Row> actual;
    for (Row& row : *rows) actual[std::get<std::string>(row[0])] = std::move(row);
    if (actual == expected) return true;
    for (const auto& [key, row] : expected) {
      auto it = actual.find(key);
      if (it == actual.end() || it->second != row) Say("  WRONG " + what + " row for " + key);
    }
    for (const auto& [key, row] : actual) {
      if (!expected.contains(key)) Say("  WRONG: extra " + what + " row " + key);
    }
    return false;
  };
  std::map<std::string, Row> sales_rows;
  for (const auto& [sku, figures] : expected_sales) {
    sales_rows[sku] = {sku, figures.first, figures.second};
  }
  bool ok = same(ScanAll(orders, "orders"), expected_orders, "orders");
  ok = same(ScanAll(sales, "open-carts"), expected_open, "open-carts") && ok;
  ok = same(ScanAll(sales, "product-sales"), sales_rows, "product-sales") && ok;
  Result<std::uint64_t> parked_orders = sluice::CountParked(orders, "order-summary");
  Result<std::uint64_t> parked_sales = sluice::CountParked(sales, "product-sales");
  if (!parked_orders.ok() || !parked_sales.ok() || *parked_orders + *parked_sales != 0) {
    Say("  WRONG: parked events are left");
    ok = false;
  }
  if (ok) {
    Say("check: " + std::to_string(expected_orders.size()) + " orders and " +
        std::to_string(sales_rows.size()) +
        " products equal the carts' streams as the aggregate loads them; nothing parked");
  }
  return ok;
}

// ---------------------------------------------------------------------------------------------

int Run(const std::string& store_dir, const std::string& read_model_dir) {
  auto registry = std::make_shared<sluice::EventTypeRegistry>();
  if (Status s = shop::RegisterEvents(*registry); !s.ok()) return Fail("registering events", s);
  Result<std::unique_ptr<sluice::RocksEventStore>> opened =
      sluice::RocksEventStore::Open(store_dir);
  if (!opened.ok()) return Fail("opening the store in " + store_dir, opened.status());
  sluice::RocksEventStore& store = **opened;

  std::error_code ec;
  std::filesystem::create_directories(read_model_dir, ec);
  Result<std::unique_ptr<ReadModelStore>> orders =
      sluice::OpenSqliteReadModelStore(read_model_dir + "/orders.sqlite");
  if (!orders.ok()) return Fail("opening orders.sqlite", orders.status());
  Result<std::unique_ptr<ReadModelStore>> sales =
      sluice::OpenRocksReadModelStore(read_model_dir + "/product-sales");
  if (!sales.ok()) return Fail("opening product-sales", sales.status());

  auto fixed = std::make_shared<std::atomic<bool>>(false);
  Result<std::shared_ptr<sluice::Projection>> order_summary =
      shop_read_models::NewOrderSummary(registry);
  Result<std::shared_ptr<sluice::Projection>> product_sales =
      shop_read_models::NewProductSales(registry, fixed);
  if (!order_summary.ok()) return Fail("building order-summary", order_summary.status());
  if (!product_sales.ok()) return Fail("building product-sales", product_sales.status());

  // order-summary: the defaults (5 attempts from 50 ms, then park). product-sales: 4 attempts,
  // 40 + 80 + 160 ms apart, then park: short, so the demo is quick.
  sluice::ProjectionOptions sales_options;
  sales_options.failure.max_attempts = 4;
  sales_options.failure.initial_backoff = 40ms;
  sales_options.failure.max_backoff = 200ms;
  sales_options.failure.then = sluice::OnFailure::kPark;
  Result<std::unique_ptr<ProjectionWorker>> summary =
      ProjectionWorker::Start(store, **orders, *order_summary);
  if (!summary.ok()) return Fail("starting order-summary", summary.status());
  Result<std::unique_ptr<ProjectionWorker>> sales_worker =
      ProjectionWorker::Start(store, **sales, *product_sales, sales_options);
  if (!sales_worker.ok()) return Fail("starting product-sales", sales_worker.status());
  std::cout << "store " << store_dir << " (head #" << store.HeadPosition() << ")\n"
            << "order-summary -> " << (*orders)->Describe() << "\n"
            << "product-sales -> " << (*sales)->Describe() << "\n\n";

  // The commands, through the shopping cart's aggregate and a command bus, on a thread of their
  // own; this thread watches the workers meanwhile.
  sluice::AggregateService<shop::Cart> carts(store, *registry);
  sluice::CommandBus bus(/*async_workers=*/1);
  auto stream_of = [](const auto& command) { return shop::CartStream(command.cart_id); };
  for (Status s : {carts.Handle<shop::AddItem>(bus, stream_of, sluice::ExpectedState::kAny,
                                               shop::DecideAddItem),
                   carts.Handle<shop::RemoveItem>(bus, stream_of, sluice::ExpectedState::kAny,
                                                  shop::DecideRemoveItem),
                   carts.Handle<shop::CheckOut>(bus, stream_of, sluice::ExpectedState::kAny,
                                                shop::DecideCheckOut)}) {
    if (!s.ok()) return Fail("registering the handlers", s);
  }
  const std::string run = sluice::NewUuid().substr(0, 4);
  std::atomic<bool> commands_done{false};
  bool commands_ok = false;
  std::thread commands([&] {
    commands_ok = SendCommands(bus, run, **summary, **orders);
    commands_done = true;
  });
  const auto start = std::chrono::steady_clock::now();
  for (int tick = 1; !commands_done; ++tick) {
    std::this_thread::sleep_for(50ms);
    if (tick % 8 != 0) continue;
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::ostringstream line;
    line << "[" << std::fixed << std::setprecision(1) << t << " s] commands arriving";
    Say(line.str());
    Say("  " + Describe((*summary)->Report()));
    Say("  " + Describe((*sales_worker)->Report()));
  }
  commands.join();
  if (!commands_ok) return Fail("sending the commands", Status::Rejected("see above"));

  // Read your writes for everything: wait until both have processed the head.
  const sluice::GlobalPosition head = store.HeadPosition();
  for (ProjectionWorker* worker : {summary->get(), sales_worker->get()}) {
    if (Status s = worker->WaitFor(head, 10s); !s.ok()) return Fail("waiting", s);
  }
  Say("\ncommands done, both caught up with head #" + std::to_string(head) + ":");
  Say("  " + Describe((*summary)->Report()));
  Say("  " + Describe((*sales_worker)->Report()));

  // The dead-letter store: what product-sales could not apply.
  Result<std::vector<sluice::ParkedEvent>> parked =
      sluice::ListParked(**sales, "product-sales", /*after=*/0, /*limit=*/100);
  if (!parked.ok()) return Fail("listing parked events", parked.status());
  Say("\nparked by product-sales:");
  for (const sluice::ParkedEvent& p : *parked) {
    Say("  #" + std::to_string(p.position) + " " + p.stream + " " + p.type + ", " +
        std::to_string(p.attempts) + " attempts: " + p.error);
  }
  if (parked->empty()) return Fail("parking", Status::NotFound("nothing was parked"));

  // The fix ships: replay the parked events through the projection's current code.
  fixed->store(true);
  Result<sluice::ReplayResult> replayed = sluice::ReplayParked(store, **sales, **product_sales);
  if (!replayed.ok()) return Fail("replaying", replayed.status());
  Say("fixed; ReplayParked: " + std::to_string(replayed->replayed) + " replayed, " +
      std::to_string(replayed->still_failing) + " still failing");
  Result<std::optional<Row>> gift_cards = (*sales)->Get("product-sales", {"gift-card"});
  if (gift_cards.ok() && gift_cards->has_value()) {
    Say("  product-sales gift-card: " + std::to_string(std::get<std::int64_t>((**gift_cards)[1])) +
        " sold, " + example::FormatCents(std::get<std::int64_t>((**gift_cards)[2])));
  }

  Say("");
  if (!CheckReadModels(store, carts, **orders, **sales)) {
    std::cerr << "shop_projections: the read models differ from the event store (see WRONG)\n";
    return 1;
  }
  Say("done");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 3 ||
      (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help"))) {
    std::cerr << "usage: " << argv[0] << " [STORE_DIR [READ_MODEL_DIR]]\n"
              << "  Sends cart commands into the RocksDB event store in STORE_DIR while two\n"
              << "  projection workers build an order summary (SQLite) and product sales\n"
              << "  (RocksDB) in READ_MODEL_DIR; both default to a temporary folder.\n";
    return argc > 3 ? 2 : 0;
  }
  Result<example::TemporaryFolder> folder =
      example::TemporaryFolder::Create("sluice-shop-projections");
  if (!folder.ok()) return Fail("creating a temporary folder", folder.status());
  const std::string store_dir = argc >= 2 ? argv[1] : folder->path() + "/store";
  const std::string read_model_dir = argc == 3 ? argv[2] : folder->path() + "/read-models";
  return Run(store_dir, read_model_dir);
}
