// Legacy migration: change capture and the sync watcher, beside raw baselines in the same run.
//
// Cases (issue 5, "Benchmark"):
//   a.capture/raw        raw RocksDB writing N values of the mirror events' size, in synced
//                        WriteBatches of 500: what appending N events costs at the least.
//   a.capture/sluice     N legacy INSERTs into a SQLite table with capture installed (the
//                        triggers write the change log), in transactions of 500 rows, then
//                        `Tailer::CatchUp` appends them as mirror events to a RocksEventStore
//                        (synced). changes/s from the first INSERT to the last event appended;
//                        ratio = that / raw. Counters: insert_s (the legacy writes with their
//                        triggers), tail_s, and trigger_overhead = insert time with triggers /
//                        without.
//   b.watch_*            see watch cases below (rows verified per second and peak memory).
//
// Environment:
//   SLUICE_BENCH_QUICK=1  N = 50,000 instead of 500,000 changes.
//   SLUICE_BENCH_DIR      where the temporary databases go (default: the system temp folder).
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/migration/sqlite_legacy_source.h"
#include "sluice/migration/tailer.h"

namespace sluice::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kRowsPerTransaction = 500;

std::size_t Changes() { return Quick() ? 50'000 : 500'000; }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void Check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}
using ::sluice::bench::Check;

// A legacy database on its own connection, as the legacy application has it.
class Legacy {
 public:
  explicit Legacy(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) Die("cannot open " + path);
    sqlite3_busy_timeout(db_, 10000);
    Exec("PRAGMA journal_mode = WAL");
  }
  ~Legacy() { sqlite3_close(db_); }
  Legacy(const Legacy&) = delete;
  Legacy& operator=(const Legacy&) = delete;

  void Exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string text = message != nullptr ? message : "?";
      sqlite3_free(message);
      Die(sql + ": " + text);
    }
  }

  // `rows` INSERTs into items, ids from `first`, in transactions of kRowsPerTransaction.
  void Insert(std::int64_t first, std::size_t rows) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_,
                       "INSERT INTO items (id, sku, quantity, price, note) VALUES (?, ?, ?, ?, ?)",
                       -1, &stmt, nullptr);
    for (std::size_t i = 0; i < rows; ++i) {
      if (i % kRowsPerTransaction == 0) Exec("BEGIN");
      const std::int64_t id = first + static_cast<std::int64_t>(i);
      const std::string sku = "SKU-" + std::to_string(id % 5000);
      sqlite3_bind_int64(stmt, 1, id);
      sqlite3_bind_text(stmt, 2, sku.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(stmt, 3, id % 17);
      sqlite3_bind_double(stmt, 4, 0.25 * static_cast<double>(id % 1000));
      sqlite3_bind_text(stmt, 5, Payload().c_str(), 64, SQLITE_STATIC);
      if (sqlite3_step(stmt) != SQLITE_DONE) Die(sqlite3_errmsg(db_));
      sqlite3_reset(stmt);
      if ((i + 1) % kRowsPerTransaction == 0 || i + 1 == rows) Exec("COMMIT");
    }
    sqlite3_finalize(stmt);
  }

 private:
  sqlite3* db_ = nullptr;
};

constexpr const char* kItems =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, quantity INTEGER NOT NULL, "
    "price REAL, note TEXT)";

struct CaseFigures {
  double sluice = 0;
  double raw = 0;
  double target = 0;
  std::string note;
};
std::map<std::string, CaseFigures> g_cases;
std::vector<std::string> g_case_order;

CaseFigures& Figures(const std::string& name) {
  if (g_cases.find(name) == g_cases.end()) g_case_order.push_back(name);
  return g_cases[name];
}

// Bytes of one mirror event of an items row, for the raw baseline's values.
std::size_t g_event_bytes = 200;

void BM_RawCapture(benchmark::State& state) {
  const std::size_t n = Changes();
  for (auto _ : state) {
    TempDir dir;
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    Check(rocksdb::DB::Open(options, dir.path() + "/raw", &raw), "open raw");
    std::unique_ptr<rocksdb::DB> db(raw);
    const std::string value(g_event_bytes, 'x');
    rocksdb::WriteOptions sync;
    sync.sync = true;
    const auto start = Clock::now();
    for (std::size_t i = 0; i < n; i += kRowsPerTransaction) {
      rocksdb::WriteBatch batch;
      for (std::size_t j = i; j < n && j < i + kRowsPerTransaction; ++j) {
        char key[8];
        for (int b = 0; b < 8; ++b) key[b] = static_cast<char>(j >> (56 - 8 * b));
        batch.Put(rocksdb::Slice(key, 8), value);
      }
      Check(db->Write(sync, &batch), "raw write");
    }
    const double seconds = Seconds(Clock::now() - start);
    state.SetIterationTime(seconds);
    Figures("a.capture").raw = static_cast<double>(n) / seconds;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_SluiceCapture(benchmark::State& state) {
  const std::size_t n = Changes();
  for (auto _ : state) {
    TempDir dir;
    // The legacy writes alone, without capture, for the trigger overhead.
    double plain_seconds = 0;
    {
      Legacy plain(dir.path() + "/plain.db");
      plain.Exec(kItems);
      const auto start = Clock::now();
      plain.Insert(1, n);
      plain_seconds = Seconds(Clock::now() - start);
    }
    const std::string path = dir.path() + "/legacy.db";
    Legacy legacy(path);
    legacy.Exec(kItems);
    Result<std::unique_ptr<migration::LegacySource>> source =
        migration::OpenSqliteLegacySource(path);
    Check(source.status(), "open source");
    Check((*source)->Install({"items"}), "install");
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir.path() + "/store");
    Check(store.status(), "open store");

    const auto start = Clock::now();
    legacy.Insert(1, n);
    const auto inserted = Clock::now();
    migration::Tailer tailer(**source, **store);
    Result<migration::TailProgress> done = tailer.CatchUp();
    Check(done.status(), "tail");
    const auto end = Clock::now();
    if (done->changes != n) Die("tailer processed " + std::to_string(done->changes) + " changes");
    const double seconds = Seconds(end - start);
    state.SetIterationTime(seconds);
    state.counters["insert_s"] = Seconds(inserted - start);
    state.counters["tail_s"] = Seconds(end - inserted);
    state.counters["trigger_overhead"] = Seconds(inserted - start) / plain_seconds;
    CaseFigures& f = Figures("a.capture");
    f.sluice = static_cast<double>(n) / seconds;
    if (f.raw > 0) state.counters["ratio"] = f.sluice / f.raw;
    char note[160];
    std::snprintf(note, sizeof note,
                  "legacy inserts with triggers %.2f s (x%.2f of without), tail %.2f s "
                  "(%.0f events/s)",
                  Seconds(inserted - start), Seconds(inserted - start) / plain_seconds,
                  Seconds(end - inserted), static_cast<double>(n) / Seconds(end - inserted));
    f.note = note;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void PrintSummary() {
  std::printf("\nSummary (ratio = sluice / raw, both per second)\n");
  std::printf("%-22s %14s %14s %7s  %s\n", "case", "sluice /s", "raw /s", "ratio", "notes");
  for (const std::string& key : g_case_order) {
    const CaseFigures& f = g_cases.at(key);
    const double ratio = f.raw > 0 ? f.sluice / f.raw : 0;
    std::string notes = f.note;
    if (f.target > 0 && f.raw > 0) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "target >= %.1fx %s", f.target,
                    ratio >= f.target ? "met" : "MISSED");
      notes = std::string(buf) + (notes.empty() ? "" : "; " + notes);
    }
    std::printf("%-22s %14.0f %14.0f %6.2fx  %s\n", key.c_str(), f.sluice, f.raw, ratio,
                notes.c_str());
  }
  std::fflush(stdout);
}

void RegisterBenchmarks() {
  benchmark::RegisterBenchmark("a.capture/raw", BM_RawCapture)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("a.capture/sluice", BM_SluiceCapture)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RegisterBenchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PrintSummary();
  return 0;
}
