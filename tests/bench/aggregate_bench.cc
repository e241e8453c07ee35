// Commands end to end (CommandBus + AggregateService on the RocksDB store) beside the store's raw
// synced append, in one run; and the load time of one aggregate with and without a snapshot.
//
// Cases (issue 3, "Benchmark"); each command case runs as <case>/raw and then <case>/sluice, and
// the sluice row gets a `ratio` counter = commands/s / raw appends/s (higher is better):
//   a.cmd_distinct   from 1 and 32 threads, each thread on an account of its own: every command
//                    (a Deposit through CommandBus::Dispatch) looks the command id up, loads the
//                    account (latest snapshot, then the events after it), decides, and appends
//                    one event synced with the loaded version as the expected version.
//                    Raw: RocksEventStore::Append of one synced event to the thread's own stream
//                    with ExpectedVersion::Any, from the same number of threads.
//   b.cmd_hot        the same, all threads on 4 accounts (thread i on account i % 4), so commands
//                    conflict and are retried; `retries` counts extra rounds per command. Raw: the
//                    same threads appending to the same 4 streams (Any, so never conflicting).
//   c.load_<N>       AggregateService::Load of one account whose stream holds N events (1,000,
//                    10,000, 100,000), with a snapshot 50 events before the head (as
//                    snapshot_every = 100 leaves it on average) and, for 10,000, without one.
// The services use snapshot_every = 100 and max_attempts = 100,000 (no command gives up).
// A summary table is printed at the end, in the style of eventstore_bench.
//
// Environment:
//   SLUICE_BENCH_QUICK=1  smaller histories for c (100, 1,000 and 10,000 events) (CI).
//   SLUICE_BENCH_DIR      where the temporary stores go (default: the system temp folder). Each
//                         case run gets a fresh folder, removed afterwards. Synced cases measure
//                         that file system's fsync.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cereal/archives/portable_binary.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "aggregates/bank.h"
#include "bench_support.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/command_bus.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::bench {
namespace {

using bank::Account;

constexpr int kHotStreams = 4;
constexpr std::size_t kSnapshotEvery = 100;
constexpr std::int64_t kEventsAfterSnapshot = 50;

std::vector<std::size_t> LoadSizes() {
  return Quick() ? std::vector<std::size_t>{100, 1'000, 10'000}
                 : std::vector<std::size_t>{1'000, 10'000, 100'000};
}
// The history loaded with and without a snapshot.
std::size_t MiddleLoadSize() { return LoadSizes()[1]; }

StreamId Sid(const std::string& name) {
  Result<StreamId> id = StreamId::Make(name);
  Check(id.status(), "bad stream id");
  return *id;
}

std::unique_ptr<RocksEventStore> OpenStore(const std::string& dir) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir);
  Check(store.status(), "cannot open the event store");
  return std::move(*store);
}

const EventTypeRegistry& Registry() {
  static const EventTypeRegistry* registry = [] {
    auto* r = new EventTypeRegistry;
    Check(bank::RegisterBankEvents(*r), "cannot register the bank events");
    return r;
  }();
  return *registry;
}

AggregateOptions ServiceOptions() {
  AggregateOptions o;
  o.max_attempts = 100'000;
  o.snapshot_every = kSnapshotEvery;
  o.sync = true;
  return o;
}

// ---------------------------------------------------------------------------------------------
// (a) (b) commands and raw appends. Thread 0 sets up a fresh store (and for the command cases the
// bus, the service and the opened accounts) before the timed loop and tears it down after; Google
// Benchmark's start and stop barriers keep the other threads out of it meanwhile.

struct CommandRun {
  TempDir dir;
  std::unique_ptr<RocksEventStore> store;
  std::unique_ptr<AggregateService<Account>> accounts;
  std::unique_ptr<CommandBus> bus;
};
CommandRun* g_run = nullptr;

std::string AccountOf(const benchmark::State& state, bool hot) {
  return hot ? "hot" + std::to_string(state.thread_index() % kHotStreams)
             : "t" + std::to_string(state.thread_index());
}

void BM_Commands(benchmark::State& state, bool hot) {
  if (state.thread_index() == 0) {
    g_run = new CommandRun;
    g_run->store = OpenStore(g_run->dir.path());
    g_run->accounts = std::make_unique<AggregateService<Account>>(
        *g_run->store, Registry(), ServiceOptions(), g_run->store.get());
    g_run->bus = std::make_unique<CommandBus>();
    Check(g_run->accounts->Handle<bank::OpenAccount>(
              *g_run->bus, [](const bank::OpenAccount& c) { return bank::AccountStream(c.id); },
              ExpectedState::kNew, bank::DecideOpen),
          "cannot register OpenAccount");
    Check(g_run->accounts->Handle<bank::Deposit>(
              *g_run->bus, [](const bank::Deposit& c) { return bank::AccountStream(c.id); },
              ExpectedState::kExisting, bank::DecideDeposit),
          "cannot register Deposit");
    const int accounts = hot ? std::min(state.threads(), kHotStreams) : state.threads();
    for (int i = 0; i < accounts; ++i) {
      const std::string id = hot ? "hot" + std::to_string(i) : "t" + std::to_string(i);
      Check(g_run->bus->Dispatch(bank::OpenAccount{id, "bench", 0}).status(),
            "cannot open an account");
    }
  }
  const std::string account = AccountOf(state, hot);
  std::int64_t retries = 0;
  for (auto _ : state) {
    Result<CommandResult> r = g_run->bus->Dispatch(bank::Deposit{account, 1});
    if (!r.ok()) Die("command failed: " + r.status().ToString());
    retries += r->attempts - 1;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  const double per_command =
      state.iterations() > 0 ? static_cast<double>(retries) / state.iterations() : 0;
  state.counters["retries"] = benchmark::Counter(per_command, benchmark::Counter::kAvgThreads);
  if (state.thread_index() == 0) {
    delete g_run;
    g_run = nullptr;
  }
}

void BM_RawAppend(benchmark::State& state, bool hot) {
  if (state.thread_index() == 0) {
    g_run = new CommandRun;
    g_run->store = OpenStore(g_run->dir.path());
  }
  const StreamId stream = Sid(bank::AccountStream(AccountOf(state, hot)));
  Result<EventData> event = Registry().Encode(bank::MoneyDeposited{1, "EUR"});
  Check(event.status(), "cannot encode");
  for (auto _ : state) {
    Result<AppendResult> r =
        g_run->store->Append(stream, ExpectedVersion::Any(), {*event}, AppendOptions{true});
    if (!r.ok()) Die("append failed: " + r.status().ToString());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  if (state.thread_index() == 0) {
    delete g_run;
    g_run = nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// (c) loads. One store per history length, filled once (unsynced batches of 1,000) and removed at
// exit: account-load holds AccountOpened and N-1 deposits of 1, with a snapshot at version
// N-1-kEventsAfterSnapshot.

struct LoadData {
  TempDir dir;
  std::unique_ptr<RocksEventStore> store;
  std::size_t events = 0;
  StreamVersion snapshot_version = kNoStream;
};
std::map<std::size_t, std::unique_ptr<LoadData>> g_loads;

std::string EncodeState(const Account::State& state) {
  std::ostringstream out;
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(state);
  }
  return std::move(out).str();
}

LoadData& GetLoadData(std::size_t events) {
  std::unique_ptr<LoadData>& slot = g_loads[events];
  if (slot) return *slot;
  auto data = std::make_unique<LoadData>();
  data->events = events;
  data->store = OpenStore(data->dir.path());
  const StreamId stream = Sid("account-load");
  AppendOptions unsynced;
  unsynced.sync = false;
  Result<EventData> opened = Registry().Encode(bank::AccountOpened{"bench"});
  Result<EventData> deposit = Registry().Encode(bank::MoneyDeposited{1, "EUR"});
  Check(opened.status(), "cannot encode");
  Check(deposit.status(), "cannot encode");
  std::vector<EventData> batch{*opened};
  for (std::size_t written = 0; written < events;) {
    while (batch.size() < 1000 && written + batch.size() < events) batch.push_back(*deposit);
    Check(data->store->Append(stream, ExpectedVersion::Any(), std::move(batch), unsynced).status(),
          "filling the load store failed");
    written += 1000 > events - written ? events - written : 1000;
    batch.clear();
  }
  Result<StreamVersion> head = data->store->StreamHead(stream);
  Check(head.status(), "no head");
  if (*head != static_cast<StreamVersion>(events) - 1) Die("the load store has a wrong head");
  data->snapshot_version = *head - kEventsAfterSnapshot;
  Account::State at_snapshot;
  at_snapshot.open = true;
  at_snapshot.owner = "bench";
  at_snapshot.balance = data->snapshot_version;
  at_snapshot.transactions = data->snapshot_version;
  Check(data->store->SaveSnapshot(stream,
                                  Snapshot{data->snapshot_version, SnapshotVersionOf<Account>(),
                                           EncodeState(at_snapshot)}),
        "cannot save the snapshot");
  slot = std::move(data);
  return *slot;
}

void BM_Load(benchmark::State& state, std::size_t events, bool snapshot) {
  LoadData& data = GetLoadData(events);
  AggregateService<Account> accounts(*data.store, Registry(), AggregateOptions{},
                                     snapshot ? data.store.get() : nullptr);
  const StreamId stream = Sid("account-load");
  // Once untimed: the right state, from the snapshot or not.
  Result<LoadedAggregate<Account>> check = accounts.Load(stream);
  Check(check.status(), "load failed");
  if (check->state.balance != static_cast<std::int64_t>(events) - 1 ||
      check->snapshot_version != (snapshot ? data.snapshot_version : kNoStream)) {
    Die("load gave a wrong state");
  }
  const std::size_t events_read = check->events_read;
  for (auto _ : state) {
    Result<LoadedAggregate<Account>> loaded = accounts.Load(stream);
    if (!loaded.ok()) Die("load failed: " + loaded.status().ToString());
    benchmark::DoNotOptimize(loaded->state.balance);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["events_read"] = static_cast<double>(events_read);
}

// ---------------------------------------------------------------------------------------------
// Results: the reporter adds the ratio counter to each sluice row and keeps the figures for the
// summary tables.

struct CaseFigures {
  double sluice = 0;
  double raw = 0;
};
std::vector<std::string> g_case_order;
std::map<std::string, CaseFigures> g_cases;

struct LoadFigures {
  std::size_t events = 0;
  bool snapshot = false;
  double micros = 0;
  double events_read = 0;
};
std::vector<LoadFigures> g_load_figures;

// "a.cmd_hot/sluice/real_time/threads:32" -> case "a.cmd_hot threads:32", impl "sluice".
bool SplitName(const std::string& name, std::string* key, std::string* impl) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = name.find('/', start);
    parts.push_back(name.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2) return false;
  *impl = parts[1];
  *key = parts[0];
  for (std::size_t i = 2; i < parts.size(); ++i) {
    if (parts[i] != "real_time") *key += " " + parts[i];
  }
  return true;
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_Color : OO_None) {}

  void ReportRuns(const std::vector<Run>& reports) override {
    std::vector<Run> runs = reports;
    for (Run& run : runs) {
      std::string key, impl;
      if (run.run_type != Run::RT_Iteration || run.error_occurred ||
          !SplitName(run.benchmark_name(), &key, &impl)) {
        continue;
      }
      auto rate = run.counters.find("items_per_second");
      if (rate == run.counters.end() || rate->second.value <= 0) continue;
      if (key.rfind("c.load_", 0) == 0) {
        LoadFigures f;
        f.events = std::strtoull(key.c_str() + 7, nullptr, 10);
        f.snapshot = impl == "snapshot";
        f.micros = 1e6 / rate->second.value;
        auto read = run.counters.find("events_read");
        if (read != run.counters.end()) f.events_read = read->second.value;
        g_load_figures.push_back(f);
        continue;
      }
      if (impl != "sluice" && impl != "raw") continue;
      auto [it, inserted] = g_cases.try_emplace(key);
      if (inserted) g_case_order.push_back(key);
      CaseFigures& figures = it->second;
      if (impl == "raw") {
        figures.raw = rate->second.value;
      } else {
        figures.sluice = rate->second.value;
        if (figures.raw > 0) {
          run.counters["ratio"] = benchmark::Counter(figures.sluice / figures.raw);
        }
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

const LoadFigures* FindLoad(std::size_t events, bool snapshot) {
  for (const LoadFigures& f : g_load_figures) {
    if (f.events == events && f.snapshot == snapshot) return &f;
  }
  return nullptr;
}

void PrintSummary() {
  std::printf(
      "\nSummary: commands end to end (load, decide, synced append) beside raw synced "
      "appends\n(ratio = commands/s / appends/s, higher is better)\n");
  std::printf("%-34s %-8s %14s %14s %7s\n", "case", "unit", "sluice ops/s", "raw ops/s", "ratio");
  for (const std::string& key : g_case_order) {
    const CaseFigures& f = g_cases.at(key);
    if (f.sluice <= 0) continue;
    const double ratio = f.raw > 0 ? f.sluice / f.raw : 0;
    std::printf("%-34s %-8s %14.0f %14.0f %6.2fx\n", key.c_str(), "commands", f.sluice, f.raw,
                ratio);
  }

  if (g_load_figures.empty()) {
    std::fflush(stdout);
    return;
  }
  std::printf("\nLoad of one aggregate (snapshot %lld events before the head when used)\n",
              static_cast<long long>(kEventsAfterSnapshot));
  std::printf("%-34s %12s %14s %12s\n", "case", "events", "load time us", "events read");
  for (const LoadFigures& f : g_load_figures) {
    const std::string name = "c.load " + std::string(f.snapshot ? "snapshot" : "no snapshot");
    std::printf("%-34s %12zu %14.1f %12.0f\n", name.c_str(), f.events, f.micros, f.events_read);
  }
  const std::vector<std::size_t> sizes = LoadSizes();
  const LoadFigures* with = FindLoad(MiddleLoadSize(), true);
  const LoadFigures* without = FindLoad(MiddleLoadSize(), false);
  if (with != nullptr && without != nullptr) {
    std::printf("%zu events: a snapshot makes the load %.1fx faster\n", MiddleLoadSize(),
                without->micros / with->micros);
  }
  const LoadFigures* smallest = FindLoad(sizes.front(), true);
  const LoadFigures* largest = FindLoad(sizes.back(), true);
  if (smallest != nullptr && largest != nullptr) {
    const double growth = largest->micros / smallest->micros;
    std::printf(
        "with a snapshot, %zu events vs %zu: %.2fx the load time (target <= 2.0x, independent "
        "of history length): %s\n",
        sizes.back(), sizes.front(), growth, growth <= 2.0 ? "met" : "MISSED");
  }
  std::fflush(stdout);
}

void RegisterBenchmarks() {
  for (bool hot : {false, true}) {
    const std::string name = hot ? "b.cmd_hot" : "a.cmd_distinct";
    for (int threads : {1, 32}) {
      benchmark::RegisterBenchmark((name + "/raw").c_str(),
                                   [hot](benchmark::State& s) { BM_RawAppend(s, hot); })
          ->Threads(threads)
          ->UseRealTime();
      benchmark::RegisterBenchmark((name + "/sluice").c_str(),
                                   [hot](benchmark::State& s) { BM_Commands(s, hot); })
          ->Threads(threads)
          ->UseRealTime();
    }
  }
  for (std::size_t events : LoadSizes()) {
    const std::string name = "c.load_" + std::to_string(events);
    if (events == MiddleLoadSize()) {
      benchmark::RegisterBenchmark((name + "/no_snapshot").c_str(), [events](benchmark::State& s) {
        BM_Load(s, events, false);
      })->UseRealTime();
    }
    benchmark::RegisterBenchmark((name + "/snapshot").c_str(), [events](benchmark::State& s) {
      BM_Load(s, events, true);
    })->UseRealTime();
  }
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RegisterBenchmarks();
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  g_loads.clear();
  benchmark::Shutdown();
  PrintSummary();
  return 0;
}
