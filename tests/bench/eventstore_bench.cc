// The RocksDB event store beside raw RocksDB doing the same key writes and reads, in one run.
//
// Cases (issue 2, "Benchmark"); each runs as <case>/raw and then <case>/sluice, and the sluice row
// gets a `ratio` counter = sluice throughput / raw throughput (higher is better):
//   a.sync_append          synced single-event appends (256-byte payload) from 1, 8, 32 threads,
//                          each thread to its own stream with ExpectedVersion::Any; the `_exact`
//                          variant passes the exact expected version. Raw: the same threads each
//                          writing a synced WriteBatch of the same 4 keys (log, streams, ids,
//                          heads).
//   b.unsynced_append      the same, unsynced, 1 thread.
//   c.sync_batch100        one synced Append of 100 events vs a synced WriteBatch of the same 301
//                          keys. Throughput in events/s.
//   d.scan_decode          the whole global log read with ReadAll in pages of 1000 (decoded events)
//                          vs a raw iterator over the `log` column family touching key and value.
//                          Throughput in events/s.
//   e (--mode=memory)      RSS while appending one unsynced event to each of 1M distinct streams,
//                          the store and raw RocksDB each in a child process of their own.
// A summary table "case, sluice ops/s, raw ops/s, ratio" is printed at the end.
//
// The raw baseline opens its database with the store's column families and options and writes
// byte-identical keys and values (the store's private keys.h and record_codec.h): per event one
// `log` Put (be64 position -> record), one `streams` Put and one `ids` Put, plus one `heads` Put
// per append. It encodes each record and generates each event id as the store does; what it leaves
// out is exactly what the store adds: group commit, expected-version checks against the head cache,
// the idempotency MultiGet on `ids`, contiguous position assignment and the commit notice.
//
// Usage: eventstore_bench [--mode=bench|memory|all] [Google Benchmark flags]
//   --mode=bench (default) runs a-d; --mode=memory runs only e; --mode=all runs e, then a-d.
// Environment:
//   SLUICE_BENCH_QUICK=1  smaller data sets (CI): d scans 20k events instead of 200k, e appends to
//                         100k streams instead of 1M (with a 10k head cache instead of 100k).
//   SLUICE_BENCH_DIR      where the temporary stores go (default: the system temp folder). Each
//                         case run gets a fresh folder, removed afterwards. Synced cases measure
//                         that file system's fsync.
#include <benchmark/benchmark.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.h"
#include "keys.h"
#include "record_codec.h"
#include "rocks_options.h"
#include "sluice/core/uuid.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::bench {
namespace {

constexpr const char* kEventType = "bench.Appended.v1";

std::size_t ScanEvents() { return Quick() ? 20'000 : 200'000; }
std::size_t MemoryStreams() { return Quick() ? 100'000 : 1'000'000; }

using ::sluice::bench::Check;  // the Status overload, beside this one

void Check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

std::vector<EventData> MakeEvents(std::size_t n) {
  std::vector<EventData> events(n);
  for (EventData& e : events) {
    e.type = kEventType;
    e.payload = Payload();
  }
  return events;
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

long RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::unique_ptr<RocksEventStore> OpenStore(const std::string& dir,
                                           const RocksEventStoreOptions& options = {}) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir, options);
  Check(store.status(), "cannot open the event store");
  return std::move(*store);
}

// ---------------------------------------------------------------------------------------------
// Raw RocksDB with the store's column families and options (rocks_options.h).

class RawDb {
 public:
  explicit RawDb(const std::string& dir) {
    const RocksEventStoreOptions store_options;
    const rocksdb::Options options = internal::StoreDbOptions(store_options, /*follower=*/false);
    const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors =
        internal::StoreFamilies(store_options);
    rocksdb::DB* raw = nullptr;
    Check(rocksdb::DB::Open(options, dir, descriptors, &handles_, &raw), "cannot open raw RocksDB");
    db_.reset(raw);
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* log() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* streams() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* heads() { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* ids() { return handles_[4]; }
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles() const { return handles_; }

  // What a minimal hand-written store does for one append of `n` events to `stream`: the same
  // keys and values as the event store, in one WriteBatch (no checks, no group commit of its own).
  void Append(const std::string& stream, StreamVersion* version, std::size_t n, bool sync) {
    rocksdb::WriteBatch batch;
    GlobalPosition position = next_position_.fetch_add(n, std::memory_order_relaxed);
    RecordedEvent r;
    r.stream = stream;
    r.type = kEventType;
    r.payload = Payload();
    r.recorded_at_us = NowMicros();
    std::string record;
    for (std::size_t i = 0; i < n; ++i, ++position) {
      r.version = ++*version;
      r.position = position;
      r.event_id = NewUuid();
      record.clear();
      internal::EncodeRecord(r, &record);
      const std::string key = internal::PositionKey(position);
      const UuidBytes id = ParseUuid(r.event_id).value_or(UuidBytes{});
      batch.Put(log(), key, record);
      batch.Put(streams(), internal::StreamKey(stream, r.version), key);
      batch.Put(ids(), rocksdb::Slice(reinterpret_cast<const char*>(id.data()), id.size()), key);
    }
    batch.Put(heads(), stream, internal::EncodeHead({*version, position - 1}));
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    Check(db_->Write(wo, &batch), "raw write failed");
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::atomic<GlobalPosition> next_position_{1};
};

// ---------------------------------------------------------------------------------------------
// (a) (b) (c) appends. Thread 0 opens a fresh store before the timed loop and closes it after;
// Google Benchmark's start and stop barriers keep the other threads out of it meanwhile.

struct AppendRun {
  TempDir dir;
  std::unique_ptr<RocksEventStore> store;
  std::unique_ptr<RawDb> raw;
};
AppendRun* g_append_run = nullptr;

std::string ThreadStream(const benchmark::State& state) {
  return "bench-" + std::to_string(state.thread_index());
}

void BM_SluiceAppend(benchmark::State& state, std::size_t batch, bool sync, bool exact) {
  if (state.thread_index() == 0) {
    g_append_run = new AppendRun;
    g_append_run->store = OpenStore(g_append_run->dir.path());
  }
  Result<StreamId> stream = StreamId::Make(ThreadStream(state));
  Check(stream.status(), "bad stream id");
  StreamVersion version = kNoStream;
  AppendOptions options;
  options.sync = sync;
  for (auto _ : state) {
    const ExpectedVersion expected =
        exact ? ExpectedVersion::Exact(version) : ExpectedVersion::Any();
    Result<AppendResult> r =
        g_append_run->store->Append(*stream, expected, MakeEvents(batch), options);
    Check(r.status(), "append failed");
    version = r->next_expected_version;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  if (state.thread_index() == 0) {
    delete g_append_run;
    g_append_run = nullptr;
  }
}

void BM_RawAppend(benchmark::State& state, std::size_t batch, bool sync) {
  if (state.thread_index() == 0) {
    g_append_run = new AppendRun;
    g_append_run->raw = std::make_unique<RawDb>(g_append_run->dir.path());
  }
  const std::string stream = ThreadStream(state);
  StreamVersion version = kNoStream;
  for (auto _ : state) g_append_run->raw->Append(stream, &version, batch, sync);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  if (state.thread_index() == 0) {
    delete g_append_run;
    g_append_run = nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// (d) scan. One store filled once (by the event store itself, 1000 streams, batches of 100), then
// flushed and its log compacted so both readers see the same files; removed at exit.

struct ScanData {
  TempDir dir;
  std::size_t events = 0;
};
std::unique_ptr<ScanData> g_scan;

const ScanData& GetScanData() {
  if (g_scan) return *g_scan;
  auto data = std::make_unique<ScanData>();
  data->events = ScanEvents();
  {
    std::unique_ptr<RocksEventStore> store = OpenStore(data->dir.path());
    AppendOptions unsynced;
    unsynced.sync = false;
    for (std::size_t done = 0, i = 0; done < data->events; done += 100, ++i) {
      Result<StreamId> stream = StreamId::Make("scan-" + std::to_string(i % 1000));
      Check(stream.status(), "bad stream id");
      const std::size_t n = std::min<std::size_t>(100, data->events - done);
      Check(store->Append(*stream, ExpectedVersion::Any(), MakeEvents(n), unsynced).status(),
            "filling the scan store failed");
    }
  }
  {
    RawDb raw(data->dir.path());
    Check(raw.db()->Flush(rocksdb::FlushOptions(), raw.handles()), "flush failed");
    Check(raw.db()->CompactRange(rocksdb::CompactRangeOptions(), raw.log(), nullptr, nullptr),
          "compaction failed");
  }
  g_scan = std::move(data);
  return *g_scan;
}

void BM_SluiceScan(benchmark::State& state) {
  const ScanData& data = GetScanData();
  std::unique_ptr<RocksEventStore> store = OpenStore(data.dir.path());
  for (auto _ : state) {
    std::size_t count = 0;
    std::uint64_t sink = 0;
    GlobalPosition from = 1;
    std::vector<RecordedEvent> page;  // reused, as a subscription's catch-up does
    while (true) {
      Check(store->ReadAllInto(from, 1000, &page), "ReadAllInto failed");
      if (page.empty()) break;
      count += page.size();
      sink += page.back().payload.size() + page.front().type.size();
      from = page.back().position + 1;
    }
    if (count != data.events) Die("scan read " + std::to_string(count) + " events");
    benchmark::DoNotOptimize(sink);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.events));
}

void BM_RawScan(benchmark::State& state) {
  const ScanData& data = GetScanData();
  RawDb raw(data.dir.path());
  for (auto _ : state) {
    std::size_t count = 0;
    std::uint64_t sink = 0;
    std::unique_ptr<rocksdb::Iterator> it(raw.db()->NewIterator(rocksdb::ReadOptions(), raw.log()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      const rocksdb::Slice value = it->value();
      sink += static_cast<unsigned char>(key[key.size() - 1]) + value.size() +
              static_cast<unsigned char>(value[value.size() / 2]);
      ++count;
    }
    Check(it->status(), "raw scan failed");
    if (count != data.events) Die("raw scan read " + std::to_string(count) + " events");
    benchmark::DoNotOptimize(sink);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.events));
}

// ---------------------------------------------------------------------------------------------
// Results: the reporter adds the ratio counter to each sluice row and keeps the figures for the
// summary table.

struct CaseFigures {
  std::string unit;
  double sluice = 0;
  double raw = 0;
  double target = 0;  // 0: none
};
std::vector<std::string> g_case_order;
std::map<std::string, CaseFigures> g_cases;

CaseFigures& Figures(const std::string& name) {
  auto [it, inserted] = g_cases.try_emplace(name);
  if (inserted) g_case_order.push_back(name);
  return it->second;
}

// "a.sync_append_exact/sluice/real_time/threads:8" -> case "a.sync_append_exact threads:8", impl
// "sluice". False when the name is not one of ours.
bool SplitName(const std::string& name, std::string* key, std::string* impl) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = name.find('/', start);
    parts.push_back(name.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2 || (parts[1] != "sluice" && parts[1] != "raw")) return false;
  *impl = parts[1];
  *key = parts[0];
  for (std::size_t i = 2; i < parts.size(); ++i) {
    if (parts[i] != "real_time") *key += " " + parts[i];
  }
  return true;
}

std::string RawKeyFor(std::string key) {
  const std::size_t exact = key.find("_exact");
  if (exact != std::string::npos) key.erase(exact, 6);
  return key;
}

std::string UnitFor(const std::string& key) {
  if (key.rfind("c.", 0) == 0 || key.rfind("d.", 0) == 0) return "events";
  return "appends";
}

double TargetFor(const std::string& key) {
  if (key == "a.sync_append threads:32") return 0.9;
  if (key.rfind("b.", 0) == 0) return 0.7;
  if (key.rfind("c.", 0) == 0) return 0.8;
  if (key.rfind("d.", 0) == 0) return 0.5;
  return 0;
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
      if (rate == run.counters.end()) continue;
      CaseFigures& figures = Figures(key);
      figures.unit = UnitFor(key);
      figures.target = TargetFor(key);
      if (impl == "raw") {
        figures.raw = rate->second.value;
      } else {
        figures.sluice = rate->second.value;
        auto raw = g_cases.find(RawKeyFor(key));
        if (raw != g_cases.end() && raw->second.raw > 0) {
          figures.raw = raw->second.raw;
          run.counters["ratio"] = benchmark::Counter(figures.sluice / figures.raw);
        }
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

void PrintSummary() {
  std::printf("\nSummary (ratio = sluice / raw throughput, higher is better)\n");
  std::printf("%-34s %-8s %14s %14s %7s  %s\n", "case", "unit", "sluice ops/s", "raw ops/s",
              "ratio", "target");
  // In case order (a-d as run; e, when it ran first, last).
  std::vector<std::string> order = g_case_order;
  std::stable_partition(order.begin(), order.end(),
                        [](const std::string& key) { return key.rfind("e.", 0) != 0; });
  for (const std::string& key : order) {
    const CaseFigures& f = g_cases.at(key);
    if (f.sluice <= 0) continue;  // a raw-only row; its figure is shown beside its sluice rows
    const double ratio = f.raw > 0 ? f.sluice / f.raw : 0;
    std::string target = "-";
    if (f.target > 0 && f.raw > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, ">= %.1fx %s", f.target, ratio >= f.target ? "met" : "MISSED");
      target = buf;
    }
    std::printf("%-34s %-8s %14.0f %14.0f %6.2fx  %s\n", key.c_str(), f.unit.c_str(), f.sluice,
                f.raw, ratio, target.c_str());
  }
  std::fflush(stdout);
}

void RegisterBenchmarks() {
  for (int threads : {1, 8, 32}) {
    benchmark::RegisterBenchmark("a.sync_append/raw",
                                 [](benchmark::State& s) { BM_RawAppend(s, 1, true); })
        ->Threads(threads)
        ->UseRealTime();
    benchmark::RegisterBenchmark("a.sync_append/sluice",
                                 [](benchmark::State& s) { BM_SluiceAppend(s, 1, true, false); })
        ->Threads(threads)
        ->UseRealTime();
    benchmark::RegisterBenchmark("a.sync_append_exact/sluice",
                                 [](benchmark::State& s) { BM_SluiceAppend(s, 1, true, true); })
        ->Threads(threads)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("b.unsynced_append/raw", [](benchmark::State& s) {
    BM_RawAppend(s, 1, false);
  })->UseRealTime();
  benchmark::RegisterBenchmark("b.unsynced_append/sluice", [](benchmark::State& s) {
    BM_SluiceAppend(s, 1, false, false);
  })->UseRealTime();
  benchmark::RegisterBenchmark("c.sync_batch100/raw", [](benchmark::State& s) {
    BM_RawAppend(s, 100, true);
  })->UseRealTime();
  benchmark::RegisterBenchmark("c.sync_batch100/sluice", [](benchmark::State& s) {
    BM_SluiceAppend(s, 100, true, false);
  })->UseRealTime();
  benchmark::RegisterBenchmark("d.scan_decode/raw", BM_RawScan)->UseRealTime();
  benchmark::RegisterBenchmark("d.scan_decode/sluice", BM_SluiceScan)->UseRealTime();
}

// ---------------------------------------------------------------------------------------------
// (e) memory. Each side runs in a child process of its own so their RSS figures do not mix.

struct MemorySample {
  std::size_t streams = 0;  // streams appended to so far
  long rss_kb = 0;          // VmRSS
  long long memtable_bytes = -1;
};
struct MemorySeries {
  std::vector<MemorySample> samples;
  double appends_per_second = 0;
};

// In the child: one unsynced single-event append to each of `n` distinct streams, writing
// "streams rss_kb memtable_bytes" at every checkpoint and "rate appends_per_second" at the end to
// `out` (memtable bytes: raw RocksDB only, -1 for the store, which does not expose its database).
void MemoryChild(bool sluice, std::size_t n, std::size_t head_cache, std::FILE* out) {
  TempDir dir;
  std::unique_ptr<RocksEventStore> store;
  std::unique_ptr<RawDb> raw;
  if (sluice) {
    RocksEventStoreOptions options;
    options.stream_head_cache_entries = head_cache;
    store = OpenStore(dir.path(), options);
  } else {
    raw = std::make_unique<RawDb>(dir.path());
  }
  auto sample = [&](std::size_t streams) {
    std::uint64_t memtables = 0;
    const bool known =
        raw && raw->db()->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &memtables);
    std::fprintf(out, "%zu %ld %lld\n", streams, RssKb(),
                 known ? static_cast<long long>(memtables) : -1LL);
  };
  const std::size_t step = n / 20;
  AppendOptions unsynced;
  unsynced.sync = false;
  sample(0);
  const auto start = std::chrono::steady_clock::now();
  char name[32];
  for (std::size_t i = 0; i < n;) {
    std::snprintf(name, sizeof name, "stream-%07zu", i);
    if (sluice) {
      Result<StreamId> stream = StreamId::Make(name);
      Check(stream.status(), "bad stream id");
      Check(store->Append(*stream, ExpectedVersion::NoStream(), MakeEvents(1), unsynced).status(),
            "append failed");
    } else {
      StreamVersion version = kNoStream;
      raw->Append(name, &version, 1, false);
    }
    ++i;
    if (i % step == 0) sample(i);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(out, "rate %f\n", static_cast<double>(n) / seconds);
  std::fflush(out);
}

MemorySeries RunMemoryChild(bool sluice, std::size_t n, std::size_t head_cache) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    close(fds[0]);
    std::FILE* out = fdopen(fds[1], "w");
    MemoryChild(sluice, n, head_cache, out);
    std::fclose(out);
    _exit(0);
  }
  close(fds[1]);
  MemorySeries series;
  std::FILE* in = fdopen(fds[0], "r");
  char line[128];
  while (std::fgets(line, sizeof line, in) != nullptr) {
    if (std::strncmp(line, "rate ", 5) == 0) {
      series.appends_per_second = std::strtod(line + 5, nullptr);
    } else {
      MemorySample sample;
      if (std::sscanf(line, "%zu %ld %lld", &sample.streams, &sample.rss_kb,
                      &sample.memtable_bytes) == 3) {
        series.samples.push_back(sample);
      }
    }
  }
  std::fclose(in);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die("memory child failed");
  return series;
}

const MemorySample& At(const MemorySeries& series, std::size_t streams) {
  for (const MemorySample& sample : series.samples) {
    if (sample.streams == streams) return sample;
  }
  Die("no memory sample at " + std::to_string(streams) + " streams");
}

void RunMemory() {
  const std::size_t n = MemoryStreams();
  // Quick runs keep the full run's shape at a tenth of its size: the cache fills at a tenth of n.
  const std::size_t head_cache =
      Quick() ? n / 10 : RocksEventStoreOptions{}.stream_head_cache_entries;
  std::printf(
      "e. memory: one unsynced event to each of %zu distinct streams "
      "(stream_head_cache_entries %zu); the store and raw RocksDB each in a process of "
      "their own\n",
      n, head_cache);
  std::fflush(stdout);
  const MemorySeries raw = RunMemoryChild(false, n, head_cache);
  const MemorySeries sluice = RunMemoryChild(true, n, head_cache);

  std::printf("%10s %14s %12s %16s %18s\n", "streams", "sluice RSS MB", "raw RSS MB",
              "sluice - raw MB", "raw memtables MB");
  for (const MemorySample& s : sluice.samples) {
    const MemorySample& r = At(raw, s.streams);
    std::printf("%10zu %14.1f %12.1f %16.1f %18.1f%s\n", s.streams, s.rss_kb / 1024.0,
                r.rss_kb / 1024.0, (s.rss_kb - r.rss_kb) / 1024.0,
                static_cast<double>(r.memtable_bytes) / (1 << 20),
                s.streams % (n / 4) == 0 ? "  <" : "");
  }
  // What the store holds beyond raw RocksDB (head cache, group commit) must stop growing once the
  // head cache is full: compare its growth per stream after the cache filled (second half) with
  // its growth while it filled.
  auto extra_kb = [&](std::size_t k) { return At(sluice, k).rss_kb - At(raw, k).rss_kb; };
  const double filling = static_cast<double>(extra_kb(head_cache) - extra_kb(0)) * 1024.0 /
                         static_cast<double>(head_cache);
  const double full =
      static_cast<double>(extra_kb(n) - extra_kb(n / 2)) * 1024.0 / static_cast<double>(n - n / 2);
  std::printf(
      "sluice - raw grows %.0f bytes/stream while the head cache fills (0-%zu streams) "
      "and %.0f bytes/stream after (%zu-%zu): %s\n",
      filling, head_cache, full, n / 2, n, full < filling / 4 ? "bounded" : "NOT BOUNDED");
  std::fflush(stdout);

  CaseFigures& figures = Figures("e.memory_distinct_streams");
  figures.unit = "appends";
  figures.sluice = sluice.appends_per_second;
  figures.raw = raw.appends_per_second;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  std::string mode = "bench";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--mode=", 7) == 0) {
      mode = argv[i] + 7;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (mode != "bench" && mode != "memory" && mode != "all") {
    std::fprintf(stderr, "eventstore_bench: --mode must be bench, memory or all\n");
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  // Memory first: its children fork before this process starts any RocksDB thread.
  if (mode == "memory" || mode == "all") RunMemory();
  if (mode == "bench" || mode == "all") {
    RegisterBenchmarks();
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    g_scan.reset();
  }
  benchmark::Shutdown();
  PrintSummary();
  return 0;
}
