// Legacy migration: change capture and the sync watcher, beside raw baselines in the same run.
//
// Cases (issue 5, "Benchmark"); the summary table at the end has one line per case with
// sluice /s, raw /s and ratio = sluice / raw (higher is better):
//   a.capture/raw        raw RocksDB writing N values of the mirror events' size, in synced
//                        WriteBatches of 500: what appending N events costs at the least.
//   a.capture/sluice     N legacy INSERTs into a SQLite table with capture installed (the
//                        triggers write the change log), in transactions of 500 rows, then
//                        `Tailer::CatchUp` appends them as mirror events to a RocksEventStore
//                        (synced). changes/s from the first INSERT to the last event appended;
//                        ratio = that / raw. Counters: insert_s (the legacy writes with their
//                        triggers), tail_s, and trigger_overhead = insert time with triggers /
//                        without.
//
// The watcher cases share one table, items (id INTEGER PRIMARY KEY, sku TEXT, quantity INTEGER,
// price REAL, note TEXT, updated_at DATETIME), W rows with ids 1..W (a tenth of the notes NULL,
// the others 32-64 bytes), in sync: the legacy table is filled first (one transaction,
// journal_mode=OFF and synchronous=OFF for the fill only, then WAL), capture is installed (empty
// change log), and the read model is filled directly with what the mirror projection would write
// (MirrorTableSchema, every legacy row read through a LegacySnapshot and converted with
// ToReadModelValue, ReadModelBatch Puts in transactions of 100,000 rows): no pipeline runs. Before
// the timed runs both tables are read once in full, so every run starts from a warm page cache.
// A watcher run is `SyncWatcher::Check({"items"})` with the default WatcherOptions (chunks of
// 5,000 rows) and a wait function that returns OK at once, on a legacy source and a read-model
// store opened beforehand (not timed); it must report in sync with rows_checked == W. Rates are
// table rows per second: W / seconds, for the watcher and for the baseline alike (each row is
// read on both sides in both). Full size: the best of 2 runs of each side; quick: 1 run.
//   b.watch_sqlite/read_both  baseline: open both SQLite files with plain sqlite3 and step
//                        `SELECT * FROM items` over each in full, reading every column by its
//                        storage class (sqlite3_column_int64 / _double / _text + _bytes).
//   b.watch_sqlite/sluice     the watcher, SQLite legacy database vs SQLite read-model store
//                        (OpenSqliteReadModelStore). ratio = sluice / read_both; target >= 0.5x.
//   b.watch_postgres/read_both  baseline: one libpqxx connection streams both tables in full
//                        (COPY ... TO STDOUT through pqxx::stream_from, line by line), parsing
//                        every field (integers, doubles, text, NULLs).
//   b.watch_postgres/sluice   the watcher, PostgreSQL legacy table (bigint key, text, integer,
//                        double precision, text, timestamp; capture installed) vs the PostgreSQL
//                        read-model store in the schema bench_rm of the same database.
//                        ratio = sluice / read_both; target >= 0.5x. Needs
//                        SLUICE_BENCH_POSTGRES_URL (or SLUICE_TEST_POSTGRES_URL); skipped (and
//                        said so in the summary) without it. It leaves nothing behind.
//   b.watch_rocksdb/read_both baseline: the SQLite legacy table read as in b.watch_sqlite, then
//                        the whole RocksDB read-model database opened read-only with raw RocksDB
//                        and iterated in full, every column family (DB::ListColumnFamilies),
//                        touching every key and value: raw RocksDB doing the same reads.
//   b.watch_rocksdb/sluice    the watcher, SQLite legacy database vs the RocksDB read-model
//                        store (OpenRocksReadModelStore). ratio = sluice / read_both.
//   c.watch_memory       the watcher's peak memory on a W-row and on a 10 W-row table (both
//                        SQLite legacy + SQLite read model, built beforehand in this process).
//                        Each check runs in a child process (fork + exec of this program) that
//                        only opens the two databases and runs the check; the figure is the
//                        child's peak RSS, VmHWM of its own image read by the child at its end
//                        (wait4's ru_maxrss is printed too: Linux counts the pages the child
//                        shared with this process between fork and exec in it, so it is never
//                        below this process's anonymous RSS at the fork). "bounded" when the big
//                        peak is within 1.2x of the small one. Counters: peak_small_mb,
//                        peak_big_mb, ratio, maxrss_*_mb, and the rows/s of each check.
//
// Environment:
//   SLUICE_BENCH_QUICK=1  N = 50,000 instead of 500,000 changes; W = 50,000 instead of 1,000,000
//                         (so c uses 50,000 and 500,000 rows).
//   SLUICE_BENCH_DIR      where the temporary databases go (default: the system temp folder).
//                         The full-size c needs about 3 GB there.
//   SLUICE_BENCH_POSTGRES_URL, SLUICE_TEST_POSTGRES_URL  postgresql://... for b.watch_postgres
//                         (the tables bench_items, and the schema bench_rm, are replaced).
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/migration/mirror_projection.h"
#include "sluice/migration/sqlite_legacy_source.h"
#include "sluice/migration/tailer.h"
#include "sluice/migration/watcher.h"
#include "sluice/projections/read_model_store.h"
#include "sluice/projections/rocks_read_model_store.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

#ifdef SLUICE_BENCH_POSTGRES
#include <pqxx/pqxx>

#include "sluice/migration/postgres_legacy_source.h"
#include "sluice/postgres/postgres_read_model_store.h"
#endif

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

// ---------------------------------------------------------------------------------------------
// The watcher cases: data.

constexpr const char* kWatchTable = "items";
constexpr const char* kWatchItems =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT, quantity INTEGER, price REAL, "
    "note TEXT, updated_at DATETIME)";
constexpr std::size_t kFillBatchRows = 100'000;  // read-model rows per fill transaction
constexpr double kWatchTarget = 0.5;

std::size_t WatchRows() { return Quick() ? 50'000 : 1'000'000; }
std::size_t BigWatchRows() { return 10 * WatchRows(); }
int WatchRuns() { return Quick() ? 1 : 2; }

std::string Millions(std::size_t rows) {
  char buf[32];
  if (rows >= 1'000'000) {
    std::snprintf(buf, sizeof buf, "%gM", static_cast<double>(rows) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%gk", static_cast<double>(rows) / 1e3);
  }
  return buf;
}

// The note of row `id` (bytes of the payload, 32-64 long), or nullopt for a NULL (every tenth).
std::optional<std::string_view> NoteOf(std::int64_t id) {
  if (id % 10 == 0) return std::nullopt;
  return std::string_view(Payload()).substr(static_cast<std::size_t>(id % 192),
                                            static_cast<std::size_t>(32 + id % 33));
}

// updated_at of row `id`: 2024-01-01 00:00:00 UTC + 7 s * id, as "YYYY-MM-DD HH:MM:SS".
void UpdatedAtOf(std::int64_t id, char (&out)[80]) {
  const std::time_t t = static_cast<std::time_t>(1'704'067'200 + 7 * id);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::snprintf(out, sizeof out, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Copies legacy table `table` into `model` as the mirror projection would have made it: the
// mirror's schema, every row through ToReadModelValue, in transactions of kFillBatchRows.
void CopyToReadModel(migration::LegacySource& source, ReadModelStore& model,
                     const std::string& table, std::size_t expect) {
  Result<migration::LegacyTable> legacy = source.DescribeTable(table);
  Check(legacy.status(), "describe the legacy table");
  Result<TableSchema> schema = migration::MirrorTableSchema(*legacy);
  Check(schema.status(), "mirror schema");
  // Legacy column of each read-model column, and its read-model type.
  std::vector<std::size_t> order(legacy->key.begin(), legacy->key.end());
  for (std::size_t c = 0; c < legacy->columns.size(); ++c) {
    if (std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
  }
  std::vector<ColumnType> types;
  for (const Column& column : schema->key) types.push_back(column.type);
  for (const Column& column : schema->columns) types.push_back(column.type);

  Result<std::unique_ptr<ReadModelBatch>> batch = model.Begin();
  Check(batch.status(), "begin a read-model batch");
  Check((*batch)->CreateTable(*schema), "create the read-model table");
  Result<std::unique_ptr<migration::LegacySnapshot>> snapshot = source.OpenSnapshot();
  Check(snapshot.status(), "open a legacy snapshot");
  std::optional<Key> after;
  std::size_t copied = 0;
  std::size_t in_batch = 0;
  for (;;) {
    Result<std::vector<Row>> rows =
        (*snapshot)->ReadRows(*legacy, after ? &*after : nullptr, 10'000);
    Check(rows.status(), "read legacy rows");
    for (const Row& row : *rows) {
      Row out;
      out.reserve(order.size());
      for (std::size_t i = 0; i < order.size(); ++i) {
        Result<Value> value = migration::ToReadModelValue(row[order[i]], types[i]);
        Check(value.status(), "read-model value");
        out.push_back(std::move(*value));
      }
      Check((*batch)->Put(table, std::move(out)), "read-model put");
      ++copied;
      if (++in_batch == kFillBatchRows) {
        Check((*batch)->Commit(), "read-model commit");
        batch = model.Begin();
        Check(batch.status(), "begin a read-model batch");
        in_batch = 0;
      }
    }
    if (rows->size() < 10'000) break;
    after = Key();
    for (const std::size_t k : legacy->key) after->push_back(rows->back()[k]);
  }
  Check((*batch)->Commit(), "read-model commit");
  if (copied != expect) Die("copied " + std::to_string(copied) + " rows to the read model");
}

// A SQLite legacy database with `rows` items rows and capture installed, and a SQLite read model
// holding the same rows in the mirror layout, in a folder of their own.
struct WatchData {
  TempDir dir;
  std::size_t rows = 0;
  std::string legacy;        // SQLite legacy database file
  std::string sqlite_model;  // SQLite read-model store file
};
std::map<std::size_t, std::unique_ptr<WatchData>> g_watch_data;

void ExecSqlite(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message != nullptr ? message : "?";
    sqlite3_free(message);
    Die(std::string(sql) + ": " + text);
  }
}

void FillSqliteLegacy(const std::string& path, std::size_t rows) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Die("cannot open " + path);
  ExecSqlite(db, "PRAGMA journal_mode = OFF");
  ExecSqlite(db, "PRAGMA synchronous = OFF");
  ExecSqlite(db, kWatchItems);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO items (id, sku, quantity, price, note, updated_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    Die(sqlite3_errmsg(db));
  }
  ExecSqlite(db, "BEGIN");
  char sku[32];
  char updated_at[80];
  for (std::int64_t id = 1; id <= static_cast<std::int64_t>(rows); ++id) {
    std::snprintf(sku, sizeof sku, "SKU-%06lld", static_cast<long long>(id % 5000));
    UpdatedAtOf(id, updated_at);
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, sku, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, id % 17);
    sqlite3_bind_double(stmt, 4, 0.25 * static_cast<double>(id % 1000));
    if (const std::optional<std::string_view> note = NoteOf(id)) {
      sqlite3_bind_text(stmt, 5, note->data(), static_cast<int>(note->size()), SQLITE_STATIC);
    } else {
      sqlite3_bind_null(stmt, 5);
    }
    sqlite3_bind_text(stmt, 6, updated_at, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) != SQLITE_DONE) Die(sqlite3_errmsg(db));
    sqlite3_reset(stmt);
  }
  ExecSqlite(db, "COMMIT");
  sqlite3_finalize(stmt);
  ExecSqlite(db, "PRAGMA journal_mode = WAL");  // as a live legacy database would run
  sqlite3_close(db);

  Result<std::unique_ptr<migration::LegacySource>> source = migration::OpenSqliteLegacySource(path);
  Check(source.status(), "open the legacy source");
  Check((*source)->Install({kWatchTable}), "install capture");
}

const WatchData& GetWatchData(std::size_t rows) {
  std::unique_ptr<WatchData>& slot = g_watch_data[rows];
  if (slot) return *slot;
  auto data = std::make_unique<WatchData>();
  data->rows = rows;
  data->legacy = data->dir.path() + "/legacy.db";
  data->sqlite_model = data->dir.path() + "/read-model.sqlite";
  const auto start = Clock::now();
  FillSqliteLegacy(data->legacy, rows);
  const auto filled = Clock::now();
  {
    Result<std::unique_ptr<migration::LegacySource>> source =
        migration::OpenSqliteLegacySource(data->legacy);
    Check(source.status(), "open the legacy source");
    SqliteReadModelStoreOptions options;
    options.sync = false;  // the fill only
    Result<std::unique_ptr<ReadModelStore>> model =
        OpenSqliteReadModelStore(data->sqlite_model, options);
    Check(model.status(), "open the SQLite read model");
    CopyToReadModel(**source, **model, kWatchTable, rows);
  }
  std::printf("watch data: %zu rows, legacy filled in %.1f s, SQLite read model in %.1f s\n", rows,
              Seconds(filled - start), Seconds(Clock::now() - filled));
  std::fflush(stdout);
  slot = std::move(data);
  return *slot;
}

void DropWatchData(std::size_t rows) { g_watch_data.erase(rows); }

// ---------------------------------------------------------------------------------------------
// The watcher cases: baselines.

// What a plain reader does with every row: each column read by its storage class. The sum keeps
// the reads from being optimised away.
std::uint64_t StepAll(sqlite3* db, const char* sql, std::size_t* rows) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) Die(sqlite3_errmsg(db));
  std::uint64_t sum = 0;
  const int width = sqlite3_column_count(stmt);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    ++*rows;
    for (int c = 0; c < width; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_INTEGER:
          sum += static_cast<std::uint64_t>(sqlite3_column_int64(stmt, c));
          break;
        case SQLITE_FLOAT:
          sum += static_cast<std::uint64_t>(sqlite3_column_double(stmt, c));
          break;
        case SQLITE_TEXT: {
          const unsigned char* text = sqlite3_column_text(stmt, c);
          const int n = sqlite3_column_bytes(stmt, c);
          sum += static_cast<std::uint64_t>(n) + (n > 0 ? text[n - 1] : 0);
          break;
        }
        case SQLITE_BLOB: {
          const void* blob = sqlite3_column_blob(stmt, c);
          sum += static_cast<std::uint64_t>(sqlite3_column_bytes(stmt, c)) + (blob != nullptr);
          break;
        }
        default:
          ++sum;
      }
    }
  }
  if (rc != SQLITE_DONE) Die(sqlite3_errmsg(db));
  sqlite3_finalize(stmt);
  return sum;
}

// Reads `table` of the SQLite file at `path` in full; returns the number of rows.
std::size_t ReadSqliteTable(const std::string& path, const char* table) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    Die("cannot open " + path);
  }
  std::size_t rows = 0;
  const std::string sql = std::string("SELECT * FROM \"") + table + "\"";
  benchmark::DoNotOptimize(StepAll(db, sql.c_str(), &rows));
  sqlite3_close(db);
  return rows;
}

// Raw RocksDB: every key and value of every column family of the database in `dir`, read-only.
std::size_t ReadRocksDatabase(const std::string& dir) {
  rocksdb::Options options;
  std::vector<std::string> names;
  Check(rocksdb::DB::ListColumnFamilies(options, dir, &names), "list column families");
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.emplace_back(name, options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  Check(rocksdb::DB::OpenForReadOnly(options, dir, families, &handles, &raw), "open raw read-only");
  std::unique_ptr<rocksdb::DB> db(raw);
  std::size_t entries = 0;
  std::uint64_t sum = 0;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handle));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      const rocksdb::Slice value = it->value();
      sum += key.size() + value.size() + (value.empty() ? 0 : static_cast<std::uint8_t>(value[0]));
      ++entries;
    }
    Check(it->status(), "raw scan");
  }
  benchmark::DoNotOptimize(sum);
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db->Close().PermitUncheckedError();
  return entries;
}

// ---------------------------------------------------------------------------------------------
// The watcher cases: runs.

migration::WatcherOptions NoWaitOptions() {
  migration::WatcherOptions options;
  options.wait = [](const std::string&, const migration::CapturePosition&) { return Status::Ok(); };
  return options;
}

// Seconds of one Check of `table`; dies unless it reports in sync with every row checked.
double TimeCheck(migration::LegacySource& source, ReadModelStore& model, const char* table,
                 std::size_t rows, const char* what) {
  migration::SyncWatcher watcher(source, model, NoWaitOptions());
  const auto start = Clock::now();
  Result<migration::WatchFigures> figures = watcher.Check({table});
  const double seconds = Seconds(Clock::now() - start);
  Check(figures.status(), what);
  if (!figures->in_sync() || figures->rows_checked != rows) {
    Die(std::string(what) + ": not in sync or not every row checked (rows_checked " +
        std::to_string(figures->rows_checked) + " of " + std::to_string(rows) + ", missing " +
        std::to_string(figures->missing) + ", extra " + std::to_string(figures->extra) +
        ", changed " + std::to_string(figures->changed) + ")");
  }
  return seconds;
}

// Best of WatchRuns() runs of `run` (which returns seconds).
template <typename Run>
double Best(Run run) {
  double best = 0;
  for (int i = 0; i < WatchRuns(); ++i) {
    const double seconds = run();
    if (i == 0 || seconds < best) best = seconds;
  }
  return best;
}

void RecordWatch(benchmark::State& state, const std::string& name, std::size_t rows, double seconds,
                 bool sluice) {
  const double rate = static_cast<double>(rows) / seconds;
  state.SetIterationTime(seconds);
  state.counters["rows_per_s"] = benchmark::Counter(rate);
  CaseFigures& f = Figures(name);
  if (sluice) {
    f.sluice = rate;
    f.target = kWatchTarget;
    if (f.raw > 0) state.counters["ratio"] = benchmark::Counter(rate / f.raw);
  } else {
    f.raw = rate;
  }
}

void BM_SqliteReadBoth(benchmark::State& state) {
  const WatchData& data = GetWatchData(WatchRows());
  const auto read_both = [&] {
    const auto start = Clock::now();
    const std::size_t legacy = ReadSqliteTable(data.legacy, kWatchTable);
    const std::size_t model = ReadSqliteTable(data.sqlite_model, kWatchTable);
    if (legacy != data.rows || model != data.rows) Die("read_both: wrong row counts");
    return Seconds(Clock::now() - start);
  };
  read_both();  // warm-up: both files in the page cache
  for (auto _ : state) RecordWatch(state, "b.watch_sqlite", data.rows, Best(read_both), false);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.rows));
}

void BM_SqliteWatch(benchmark::State& state) {
  const WatchData& data = GetWatchData(WatchRows());
  Result<std::unique_ptr<migration::LegacySource>> source =
      migration::OpenSqliteLegacySource(data.legacy);
  Check(source.status(), "open the legacy source");
  Result<std::unique_ptr<ReadModelStore>> model = OpenSqliteReadModelStore(data.sqlite_model);
  Check(model.status(), "open the SQLite read model");
  for (auto _ : state) {
    const double seconds = Best(
        [&] { return TimeCheck(**source, **model, kWatchTable, data.rows, "b.watch_sqlite"); });
    RecordWatch(state, "b.watch_sqlite", data.rows, seconds, true);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.rows));
}

// The RocksDB read model of the shared legacy table, made once (b.watch_rocksdb).
std::string g_rocks_model;
std::unique_ptr<TempDir> g_rocks_dir;

const std::string& RocksModel(const WatchData& data) {
  if (!g_rocks_model.empty()) return g_rocks_model;
  g_rocks_dir = std::make_unique<TempDir>();
  const std::string dir = g_rocks_dir->path() + "/rocks";
  const auto start = Clock::now();
  {
    Result<std::unique_ptr<migration::LegacySource>> source =
        migration::OpenSqliteLegacySource(data.legacy);
    Check(source.status(), "open the legacy source");
    RocksReadModelStoreOptions options;
    options.sync = false;  // the fill only
    Result<std::unique_ptr<ReadModelStore>> model = OpenRocksReadModelStore(dir, options);
    Check(model.status(), "open the RocksDB read model");
    CopyToReadModel(**source, **model, kWatchTable, data.rows);
  }
  std::printf("watch data: RocksDB read model of %zu rows in %.1f s\n", data.rows,
              Seconds(Clock::now() - start));
  std::fflush(stdout);
  g_rocks_model = dir;
  return g_rocks_model;
}

void BM_RocksReadBoth(benchmark::State& state) {
  const WatchData& data = GetWatchData(WatchRows());
  const std::string& dir = RocksModel(data);
  std::size_t entries = 0;
  const auto read_both = [&] {
    const auto start = Clock::now();
    const std::size_t legacy = ReadSqliteTable(data.legacy, kWatchTable);
    entries = ReadRocksDatabase(dir);
    if (legacy != data.rows || entries < data.rows) Die("read_both: wrong row counts");
    return Seconds(Clock::now() - start);
  };
  read_both();  // warm-up
  for (auto _ : state) RecordWatch(state, "b.watch_rocksdb", data.rows, Best(read_both), false);
  state.counters["rocks_entries"] = benchmark::Counter(static_cast<double>(entries));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.rows));
}

void BM_RocksWatch(benchmark::State& state) {
  const WatchData& data = GetWatchData(WatchRows());
  const std::string& dir = RocksModel(data);
  Result<std::unique_ptr<migration::LegacySource>> source =
      migration::OpenSqliteLegacySource(data.legacy);
  Check(source.status(), "open the legacy source");
  Result<std::unique_ptr<ReadModelStore>> model = OpenRocksReadModelStore(dir);
  Check(model.status(), "open the RocksDB read model");
  for (auto _ : state) {
    const double seconds = Best(
        [&] { return TimeCheck(**source, **model, kWatchTable, data.rows, "b.watch_rocksdb"); });
    RecordWatch(state, "b.watch_rocksdb", data.rows, seconds, true);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.rows));
}

// ---------------------------------------------------------------------------------------------
// b.watch_postgres

std::string PostgresUrl() {
  for (const char* name : {"SLUICE_BENCH_POSTGRES_URL", "SLUICE_TEST_POSTGRES_URL"}) {
    const char* url = std::getenv(name);
    if (url != nullptr && *url != '\0') return url;
  }
  return "";
}

#ifdef SLUICE_BENCH_POSTGRES
constexpr const char* kPgTable = "bench_items";
constexpr const char* kPgModelSchema = "bench_rm";

// Removes what a run leaves: capture, the legacy table and the read-model schema.
void DropPostgresData(const std::string& url) {
  Result<std::unique_ptr<migration::LegacySource>> source =
      migration::OpenPostgresLegacySource(url);
  Check(source.status(), "open the PostgreSQL legacy source");
  Check((*source)->Uninstall({kPgTable}), "uninstall capture");
  pqxx::connection connection(url);
  pqxx::nontransaction tx(connection);
  tx.exec(std::string("DROP TABLE IF EXISTS ") + kPgTable);
  tx.exec(std::string("DROP SCHEMA IF EXISTS ") + kPgModelSchema + " CASCADE");
}

void FillPostgres(const std::string& url, std::size_t rows) {
  DropPostgresData(url);
  const auto start = Clock::now();
  {
    pqxx::connection connection(url);
    pqxx::work tx(connection);
    tx.exec(std::string("CREATE TABLE ") + kPgTable +
            " (id bigint PRIMARY KEY, sku text, quantity integer, price double precision, "
            "note text, updated_at timestamp)");
    // The same values as the SQLite table.
    tx.exec(std::string("INSERT INTO ") + kPgTable +
            " SELECT g, 'SKU-' || lpad((g % 5000)::text, 6, '0'), g % 17, 0.25 * (g % 1000), "
            "CASE WHEN g % 10 = 0 THEN NULL ELSE substr(" +
            tx.quote(Payload()) +
            ", 1 + (g % 192)::int, 32 + (g % 33)::int) END, "
            "timestamp '2024-01-01 00:00:00' + make_interval(secs => 7 * g) "
            "FROM generate_series(1::bigint, " +
            std::to_string(rows) + "::bigint) AS g");
    tx.commit();
  }
  Result<std::unique_ptr<migration::LegacySource>> source =
      migration::OpenPostgresLegacySource(url);
  Check(source.status(), "open the PostgreSQL legacy source");
  Check((*source)->Install({kPgTable}), "install capture");
  const auto filled = Clock::now();
  {
    PostgresReadModelStoreOptions options;
    options.schema = kPgModelSchema;
    options.sync = false;  // the fill only
    Result<std::unique_ptr<ReadModelStore>> model = OpenPostgresReadModelStore(url, options);
    Check(model.status(), "open the PostgreSQL read model");
    CopyToReadModel(**source, **model, kPgTable, rows);
  }
  {
    pqxx::connection connection(url);
    pqxx::nontransaction tx(connection);
    tx.exec(std::string("VACUUM ANALYZE ") + kPgTable);
    tx.exec(std::string("VACUUM ANALYZE ") + kPgModelSchema + "." + kPgTable);
  }
  std::printf("watch data: PostgreSQL, %zu rows, legacy filled in %.1f s, read model in %.1f s\n",
              rows, Seconds(filled - start), Seconds(Clock::now() - filled));
  std::fflush(stdout);
}

// Parses one COPY text line: every field typed by its column (kinds: 'i' integer, 'd' double,
// 't' text), NULLs (\N) counted. Returns a sum that keeps the work from being optimised away.
std::uint64_t ParseCopyLine(const std::string& line, std::string_view kinds, std::string* text) {
  std::uint64_t sum = 0;
  std::size_t at = 0;
  for (std::size_t c = 0; c < kinds.size(); ++c) {
    std::size_t end = line.find('\t', at);
    if (end == std::string::npos) end = line.size();
    if (end > at && line[end - 1] == '\n') --end;
    const std::string_view field(line.data() + at, end - at);
    at = end + 1;
    if (field == "\\N") {
      ++sum;
      continue;
    }
    switch (kinds[c]) {
      case 'i': {
        std::int64_t v = 0;
        std::from_chars(field.data(), field.data() + field.size(), v);
        sum += static_cast<std::uint64_t>(v);
        break;
      }
      case 'd': {
        double v = 0;
        std::from_chars(field.data(), field.data() + field.size(), v);
        sum += static_cast<std::uint64_t>(v);
        break;
      }
      default: {
        text->clear();
        for (std::size_t i = 0; i < field.size(); ++i) {
          if (field[i] == '\\' && i + 1 < field.size()) ++i;  // COPY escapes (none here)
          text->push_back(field[i]);
        }
        sum += text->size();
      }
    }
  }
  return sum;
}

// Streams a table in full (COPY through pqxx::stream_from); returns its rows.
std::size_t StreamTable(pqxx::connection& connection, const char* schema, const char* table) {
  pqxx::work tx(connection);
  tx.exec(std::string("SET LOCAL search_path TO ") + schema);
  pqxx::stream_from stream(tx, table);
  std::string line;
  std::string text;
  std::size_t rows = 0;
  std::uint64_t sum = 0;
  while (stream.get_raw_line(line)) {
    sum += ParseCopyLine(line, "itidtt", &text);
    ++rows;
  }
  stream.complete();
  tx.commit();
  benchmark::DoNotOptimize(sum);
  return rows;
}
#endif  // SLUICE_BENCH_POSTGRES

bool g_pg_ready = false;

void BM_PostgresReadBoth(benchmark::State& state) {
  const std::string url = PostgresUrl();
  for (auto _ : state) {
#ifdef SLUICE_BENCH_POSTGRES
    if (url.empty()) {
      state.SkipWithError("skipped: set SLUICE_BENCH_POSTGRES_URL");
      Figures("b.watch_postgres").note =
          "skipped: set SLUICE_BENCH_POSTGRES_URL (or SLUICE_TEST_POSTGRES_URL)";
      break;
    }
    const std::size_t rows = WatchRows();
    if (!g_pg_ready) {
      FillPostgres(url, rows);
      g_pg_ready = true;
    }
    pqxx::connection connection(url);
    const auto read_both = [&] {
      const auto start = Clock::now();
      const std::size_t legacy = StreamTable(connection, "public", kPgTable);
      const std::size_t model = StreamTable(connection, kPgModelSchema, kPgTable);
      if (legacy != rows || model != rows) Die("read_both: wrong row counts");
      return Seconds(Clock::now() - start);
    };
    read_both();  // warm-up
    RecordWatch(state, "b.watch_postgres", rows, Best(read_both), false);
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
#else
    state.SkipWithError("skipped: built without sluice::postgres");
    Figures("b.watch_postgres").note = "skipped: built without sluice::postgres";
    break;
#endif
  }
}

void BM_PostgresWatch(benchmark::State& state) {
  const std::string url = PostgresUrl();
  for (auto _ : state) {
#ifdef SLUICE_BENCH_POSTGRES
    if (url.empty() || !g_pg_ready) {
      state.SkipWithError("skipped: no PostgreSQL data");
      break;
    }
    const std::size_t rows = WatchRows();
    {
      Result<std::unique_ptr<migration::LegacySource>> source =
          migration::OpenPostgresLegacySource(url);
      Check(source.status(), "open the PostgreSQL legacy source");
      PostgresReadModelStoreOptions options;
      options.schema = kPgModelSchema;
      Result<std::unique_ptr<ReadModelStore>> model = OpenPostgresReadModelStore(url, options);
      Check(model.status(), "open the PostgreSQL read model");
      const double seconds =
          Best([&] { return TimeCheck(**source, **model, kPgTable, rows, "b.watch_postgres"); });
      RecordWatch(state, "b.watch_postgres", rows, seconds, true);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
    DropPostgresData(url);
    g_pg_ready = false;
#else
    state.SkipWithError("skipped: built without sluice::postgres");
    break;
#endif
  }
}

// ---------------------------------------------------------------------------------------------
// c.watch_memory

constexpr const char* kChildFlag = "--sluice-watch-memory-child";

// kB of a "Name:   123 kB" line of /proc/self/status, or -1.
long ProcStatusKb(const char* name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(name) + ":";
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0) return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
  }
  return -1;
}

// The child: opens both databases, checks items once, prints its figures to standard output
// (a pipe to the parent). Exit status 0 when in sync.
int RunMemoryChild(const char* legacy, const char* model_path) {
  Result<std::unique_ptr<migration::LegacySource>> source =
      migration::OpenSqliteLegacySource(legacy);
  Check(source.status(), "open the legacy source");
  Result<std::unique_ptr<ReadModelStore>> model = OpenSqliteReadModelStore(model_path);
  Check(model.status(), "open the SQLite read model");
  migration::SyncWatcher watcher(**source, **model, NoWaitOptions());
  const auto start = Clock::now();
  Result<migration::WatchFigures> figures = watcher.Check({kWatchTable});
  const double seconds = Seconds(Clock::now() - start);
  Check(figures.status(), "check");
  std::printf("%llu %d %.6f %ld\n", static_cast<unsigned long long>(figures->rows_checked),
              figures->in_sync() ? 1 : 0, seconds, ProcStatusKb("VmHWM"));
  std::fflush(stdout);
  return figures->in_sync() ? 0 : 1;
}

struct ChildPeak {
  double vmhwm_mb = 0;       // the child's own peak RSS after exec
  double maxrss_mb = 0;      // wait4's ru_maxrss
  double parent_rss_mb = 0;  // this process's anonymous RSS at the fork
  double seconds = 0;
};

ChildPeak MeasureCheck(const WatchData& data) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  ChildPeak peak;
  peak.parent_rss_mb = static_cast<double>(ProcStatusKb("RssAnon")) / 1024.0;
  int fds[2];
  if (pipe(fds) != 0) Die("pipe");
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(self.c_str(), self.c_str(), kChildFlag, data.legacy.c_str(), data.sqlite_model.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      Die("read from the child");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid) Die("wait4");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Die("the watcher child failed (status " + std::to_string(status) + "): " + out);
  }
  unsigned long long rows = 0;
  int in_sync = 0;
  long vmhwm_kb = 0;
  if (std::sscanf(out.c_str(), "%llu %d %lf %ld", &rows, &in_sync, &peak.seconds, &vmhwm_kb) != 4 ||
      rows != data.rows || in_sync != 1) {
    Die("the watcher child reported: " + out);
  }
  peak.vmhwm_mb = static_cast<double>(vmhwm_kb) / 1024.0;
  peak.maxrss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // kB on Linux
  return peak;
}

void BM_WatchMemory(benchmark::State& state) {
  const std::size_t small_rows = WatchRows();
  const std::size_t big_rows = BigWatchRows();
  for (auto _ : state) {
    const auto start = Clock::now();
    const ChildPeak small = MeasureCheck(GetWatchData(small_rows));
    const ChildPeak big = MeasureCheck(GetWatchData(big_rows));
    DropWatchData(big_rows);
    state.SetIterationTime(Seconds(Clock::now() - start));
    const double ratio = big.vmhwm_mb / small.vmhwm_mb;
    state.counters["peak_small_mb"] = benchmark::Counter(small.vmhwm_mb);
    state.counters["peak_big_mb"] = benchmark::Counter(big.vmhwm_mb);
    state.counters["ratio"] = benchmark::Counter(ratio);
    state.counters["maxrss_small_mb"] = benchmark::Counter(small.maxrss_mb);
    state.counters["maxrss_big_mb"] = benchmark::Counter(big.maxrss_mb);
    state.counters["rows_per_s_small"] =
        benchmark::Counter(static_cast<double>(small_rows) / small.seconds);
    state.counters["rows_per_s_big"] =
        benchmark::Counter(static_cast<double>(big_rows) / big.seconds);
    char note[320];
    std::snprintf(note, sizeof note,
                  "peak RSS %s rows %.1f MiB, %s rows %.1f MiB: x%.2f %s (wait4 ru_maxrss %.1f / "
                  "%.1f MiB, floor: this process's anonymous RSS at fork %.1f MiB; checks %.0f / "
                  "%.0f rows/s)",
                  Millions(small_rows).c_str(), small.vmhwm_mb, Millions(big_rows).c_str(),
                  big.vmhwm_mb, ratio, ratio <= 1.2 ? "bounded" : "NOT bounded", small.maxrss_mb,
                  big.maxrss_mb, big.parent_rss_mb, static_cast<double>(small_rows) / small.seconds,
                  static_cast<double>(big_rows) / big.seconds);
    Figures("c.watch_memory").note = note;
  }
}

// ---------------------------------------------------------------------------------------------

void PrintSummary() {
  std::printf(
      "\nSummary (ratio = sluice / raw, both per second: a.capture changes/s; b.watch_* table "
      "rows/s, raw = read both tables in full)\n");
  std::printf("%-22s %14s %14s %7s  %s\n", "case", "sluice /s", "raw /s", "ratio", "notes");
  for (const std::string& key : g_case_order) {
    const CaseFigures& f = g_cases.at(key);
    if (f.sluice <= 0) {
      char raw[24] = "-";
      if (f.raw > 0) std::snprintf(raw, sizeof raw, "%.0f", f.raw);
      std::printf("%-22s %14s %14s %7s  %s\n", key.c_str(), "-", raw, "-",
                  f.note.empty() ? "not run" : f.note.c_str());
      continue;
    }
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

void Register(const char* name, void (*function)(benchmark::State&)) {
  benchmark::RegisterBenchmark(name, function)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
}

void RegisterBenchmarks() {
  Register("a.capture/raw", BM_RawCapture);
  Register("a.capture/sluice", BM_SluiceCapture);
  Register("b.watch_sqlite/read_both", BM_SqliteReadBoth);
  Register("b.watch_sqlite/sluice", BM_SqliteWatch);
  Register("b.watch_postgres/read_both", BM_PostgresReadBoth);
  Register("b.watch_postgres/sluice", BM_PostgresWatch);
  Register("b.watch_rocksdb/read_both", BM_RocksReadBoth);
  Register("b.watch_rocksdb/sluice", BM_RocksWatch);
  Register("c.watch_memory", BM_WatchMemory);
  // Listed in the summary in this order, whichever of them run.
  for (const char* name :
       {"a.capture", "b.watch_sqlite", "b.watch_postgres", "b.watch_rocksdb", "c.watch_memory"}) {
    Figures(name);
  }
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  if (argc == 4 && std::string_view(argv[1]) == kChildFlag) return RunMemoryChild(argv[2], argv[3]);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RegisterBenchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
#ifdef SLUICE_BENCH_POSTGRES
  if (g_pg_ready) DropPostgresData(PostgresUrl());  // b.watch_postgres/sluice was filtered out
#endif
  g_watch_data.clear();
  g_rocks_dir.reset();
  PrintSummary();
  return 0;
}
