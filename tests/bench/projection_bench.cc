// Projection workers beside raw RocksDB doing the same reads and writes, in one run.
//
// Cases (issue 4, "Benchmark"); the sluice rows get a `ratio` counter = sluice events/s / raw
// events/s of a.catchup_rocksdb/raw (higher is better):
//   a.catchup_rocksdb   a trivial projection (one Put per event: key = stream, row = last position
//                       and type) catches up from position 0 over the whole log of a
//                       RocksEventStore into the RocksDB read-model store, batch 512, synced
//                       commits. Raw: one iterator over the same store's `log` column family (the
//                       same bytes; it reads the stream and type straight out of each record),
//                       writing the byte-identical read-model keys and values plus one checkpoint
//                       key per 512 events in a synced WriteBatch, to a plain RocksDB database with
//                       the read- model store's options. What the raw side leaves out is exactly
//                       what the runtime adds: paging (ReadAllInto), record checksums and decoding,
//                       the filter, Row values and their validation, the optimistic transaction
//                       with its fence read of the projection's bookkeeping row, and telemetry.
//   b.catchup_sqlite    the same projection into the SQLite read-model store (synchronous=FULL);
//                       ratio against the same raw baseline.
//   c.live_latency      a worker following a live store: one synced single-event append at a
//                       time, then WaitFor its position. Counters (microseconds): p50_us / p99_us
//                       from the start of the append to the worker having committed it (visible in
//                       the read model), append_p50_us / append_p99_us for the append alone.
//   d.partitions:K      a.catchup_rocksdb with K = 1, 2, 4 partitions; ratio against the same raw
//                       baseline, and `speedup` against K = 1.
// A summary table "case, sluice events/s, raw events/s, ratio" is printed at the end.
//
// Data: N events (256-byte payloads) appended one at a time to 10,000 streams in turn, so the 512
// events of a batch are 512 different rows (nothing for a store to coalesce), written once by the
// event store, then flushed, every column family compacted and the log read once so both sides
// start from the same files in the page cache.
// Each timed run starts from an empty read-model store and is checked afterwards (row of the last
// stream = its last event). Timing (manual) starts after both databases are open; for sluice it
// includes creating the tables and claiming the projection.
//
// Environment:
//   SLUICE_BENCH_QUICK=1  N = 50,000 instead of 1,000,000; c takes 100 samples instead of 1,000.
//   SLUICE_BENCH_DIR      where the temporary stores go (default: the system temp folder). The
//                         synced commits measure that file system's fsync.
#include <benchmark/benchmark.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.h"
#include "rocks_options.h"
#include "rocks_table_codec.h"
#include "sluice/core/event_store.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/projections/read_model_store.h"
#include "sluice/projections/rocks_read_model_store.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

namespace sluice::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kStreams = 10'000;
constexpr std::size_t kEventsPerAppend = 1;
constexpr std::size_t kBatch = 512;  // ProjectionOptions::batch_size, the default
constexpr const char* kEventType = "bench.Appended.v1";
constexpr const char* kProjection = "last-event";
constexpr const char* kTable = "last-event";
// The table ids the read-model store gives: the runtime's sluice_projections, sluice_checkpoints
// and sluice_parked (1-3), then the projection's table.
constexpr std::uint64_t kCheckpointsTableId = 2;
constexpr std::uint64_t kTableId = 4;

std::size_t Events() { return Quick() ? 50'000 : 1'000'000; }
std::size_t LatencySamples() { return Quick() ? 100 : 1'000; }

using ::sluice::bench::Check;  // the Status overload, beside this one

void Check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string StreamName(std::size_t i) { return "bench-" + std::to_string(i); }

// The trivial projection: per stream, the position and type of its last event.
class LastEventProjection final : public Projection {
 public:
  std::string Name() const override { return kProjection; }
  std::vector<TableSchema> Tables() const override { return {Schema()}; }
  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    return tx.Put(kTable, {event.stream, static_cast<std::int64_t>(event.position), event.type});
  }
  static TableSchema Schema() {
    return {kTable,
            {{"stream", ColumnType::kText}},
            {{"position", ColumnType::kInteger}, {"type", ColumnType::kText}}};
  }
};

// ---------------------------------------------------------------------------------------------
// The data: one event store, filled once, removed at exit.

struct Data {
  TempDir dir;
  std::size_t events = 0;
  GlobalPosition head = 0;
  std::string probe_stream;  // the stream appended to last
  GlobalPosition probe_position = 0;
};
std::unique_ptr<Data> g_data;

// Raw RocksDB on the event store's folder, read-only, with the store's column families and
// options (rocks_options.h).
class RawLog {
 public:
  explicit RawLog(const std::string& dir, bool read_only = true) {
    const RocksEventStoreOptions store_options;
    const rocksdb::Options options = internal::StoreDbOptions(store_options, /*follower=*/false);
    rocksdb::DB* raw = nullptr;
    const auto families = internal::StoreFamilies(store_options);
    Check(read_only ? rocksdb::DB::OpenForReadOnly(options, dir, families, &handles_, &raw)
                    : rocksdb::DB::Open(options, dir, families, &handles_, &raw),
          "cannot open the event store with raw RocksDB");
    db_.reset(raw);
  }
  ~RawLog() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
  RawLog(const RawLog&) = delete;
  RawLog& operator=(const RawLog&) = delete;

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* log() { return handles_[1]; }
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles() const { return handles_; }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

const Data& GetData() {
  if (g_data) return *g_data;
  auto data = std::make_unique<Data>();
  data->events = Events();
  const auto start = Clock::now();
  {
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(data->dir.path());
    Check(store.status(), "cannot open the event store");
    AppendOptions unsynced;
    unsynced.sync = false;
    std::vector<EventData> events(kEventsPerAppend);
    for (std::size_t done = 0, i = 0; done < data->events; done += kEventsPerAppend, ++i) {
      const std::string name = StreamName(i % kStreams);
      Result<StreamId> stream = StreamId::Make(name);
      Check(stream.status(), "bad stream id");
      for (EventData& e : events) {
        e.event_id.clear();
        e.type = kEventType;
        e.payload = Payload();
      }
      events.resize(std::min(kEventsPerAppend, data->events - done));
      Result<AppendResult> r = (*store)->Append(*stream, ExpectedVersion::Any(), events, unsynced);
      Check(r.status(), "filling the event store failed");
      data->probe_stream = name;
      data->probe_position = r->last_position;
    }
    data->head = (*store)->HeadPosition();
  }
  {
    RawLog raw(data->dir.path(), /*read_only=*/false);
    Check(raw.db()->Flush(rocksdb::FlushOptions(), raw.handles()), "flush failed");
    for (auto* h : raw.handles()) {
      Check(raw.db()->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr),
            "compaction failed");
    }
  }
  {
    RawLog raw(data->dir.path());
    std::unique_ptr<rocksdb::Iterator> it(raw.db()->NewIterator(rocksdb::ReadOptions(), raw.log()));
    std::size_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    Check(it->status(), "warm-up scan failed");
    if (n != data->events) Die("the log holds " + std::to_string(n) + " events");
  }
  std::printf(
      "data: %zu events (%zu-byte payloads) in %zu streams, head %llu, prepared in %.1f s\n",
      data->events, kPayloadBytes, kStreams, static_cast<unsigned long long>(data->head),
      Seconds(Clock::now() - start));
  std::fflush(stdout);
  g_data = std::move(data);
  return *g_data;
}

// ---------------------------------------------------------------------------------------------
// Results, for the ratio counters and the summary.

struct CaseFigures {
  double sluice = 0;
  double raw = 0;
  double target = 0;  // 0: none
  std::string note;
};
std::vector<std::string> g_case_order;
std::map<std::string, CaseFigures> g_cases;
double g_raw_rate = 0;       // a.catchup_rocksdb/raw, events/s
double g_one_partition = 0;  // d.partitions:1, events/s

CaseFigures& Figures(const std::string& name) {
  auto [it, inserted] = g_cases.try_emplace(name);
  if (inserted) g_case_order.push_back(name);
  return it->second;
}

void RecordSluice(benchmark::State& state, const std::string& name, double rate, double target) {
  CaseFigures& f = Figures(name);
  f.sluice = rate;
  f.raw = g_raw_rate;
  f.target = target;
  state.counters["events_per_s"] = benchmark::Counter(rate);
  if (g_raw_rate > 0) state.counters["ratio"] = benchmark::Counter(rate / g_raw_rate);
}

// ---------------------------------------------------------------------------------------------
// (a) raw: the same reads and byte-identical writes with plain RocksDB.

// The read-model store's database options (RocksReadModelStore::Open in
// projections/src/rocks_read_model_store.cc), on a plain DB instead of an OptimisticTransactionDB.
rocksdb::Options ReadModelDbOptions() {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(RocksReadModelStoreOptions{}.block_cache_bytes);
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::Options options;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.compression = rocksdb::kLZ4Compression;
  options.bottommost_compression = rocksdb::kZSTD;
  options.write_buffer_size = 32 << 20;
  options.create_if_missing = true;
  options.max_background_jobs = 2;
  options.bytes_per_sync = 1 << 20;
  options.keep_log_file_num = 4;
  return options;
}

void PutVarint(std::string* out, std::uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutBigEndian64(std::string* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (56 - 8 * i)));
}

// What a hand-written projector writes for one event, byte for byte what the store writes:
// key = be64(table id) + the stream (0x00 escaped) + 0x00 0x00; value = integer tag, zigzag
// varint position, text tag, varint length, type.
void RawRow(std::string_view stream, std::uint64_t position, std::string_view type,
            std::string* key, std::string* value) {
  key->clear();
  PutBigEndian64(key, kTableId);
  for (char c : stream) {
    key->push_back(c);
    if (c == '\0') key->push_back(static_cast<char>(0xff));
  }
  key->append(2, '\0');
  value->clear();
  value->push_back(1);
  PutVarint(value, position << 1);  // zigzag of a non-negative number
  value->push_back(3);
  PutVarint(value, type.size());
  value->append(type);
}

// The checkpoint row (sluice_checkpoints: projection, partitions, partition -> position,
// updated_at_us), encoded by the store's codec: once per batch.
const TableSchema& CheckpointSchema() {
  static const TableSchema schema{
      "sluice_checkpoints",
      {{"projection", ColumnType::kText},
       {"partitions", ColumnType::kInteger},
       {"partition", ColumnType::kInteger}},
      {{"position", ColumnType::kInteger}, {"updated_at_us", ColumnType::kInteger}}};
  return schema;
}

std::string CheckpointKey() {
  std::string key;
  PutBigEndian64(&key, kCheckpointsTableId);
  const Key k = {std::string(kProjection), std::int64_t{1}, std::int64_t{0}};
  internal::EncodeKey(CheckpointSchema(), k.data(), &key);
  return key;
}

std::string CheckpointValue(GlobalPosition position) {
  Row row = {std::string(kProjection), std::int64_t{1}, std::int64_t{0},
             static_cast<std::int64_t>(position),
             std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count()};
  std::string value;
  internal::EncodeRowValue(CheckpointSchema(), row, &value);
  return value;
}

// The raw encoding must be the store's: compared once with the codec.
void CheckRawEncoding() {
  std::string key, value;
  RawRow(std::string_view("a\0b", 3), 123456789, kEventType, &key, &value);
  std::string want_key, want_value;
  PutBigEndian64(&want_key, kTableId);
  Row row = {std::string("a\0b", 3), std::int64_t{123456789}, std::string(kEventType)};
  internal::EncodeKey(LastEventProjection::Schema(), row.data(), &want_key);
  internal::EncodeRowValue(LastEventProjection::Schema(), row, &want_value);
  if (key != want_key || value != want_value) Die("the raw row encoding differs from the store's");
}

// Reads a big-endian u32 length and that many bytes at *offset of a log record.
bool ReadString(std::string_view record, std::size_t* offset, std::string_view* out) {
  if (*offset + 4 > record.size()) return false;
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<std::uint8_t>(record[*offset + i]);
  *offset += 4;
  if (*offset + n > record.size()) return false;
  *out = record.substr(*offset, n);
  *offset += n;
  return true;
}

// Offset of the stream name in a log record: u8 format, u32 crc, u64 version, u8[16] id,
// i64 recorded_at_us, u8 content type (eventstore/src/record_codec.h).
constexpr std::size_t kStreamOffset = 1 + 4 + 8 + 16 + 8 + 1;

void BM_RawCatchUp(benchmark::State& state) {
  const Data& data = GetData();
  CheckRawEncoding();
  const std::string checkpoint_key = CheckpointKey();
  for (auto _ : state) {
    TempDir dir;
    RawLog log(data.dir.path());
    rocksdb::DB* raw_model = nullptr;
    Check(rocksdb::DB::Open(ReadModelDbOptions(), dir.path(), &raw_model),
          "cannot open the raw read-model database");
    std::unique_ptr<rocksdb::DB> model(raw_model);
    rocksdb::WriteOptions synced;
    synced.sync = true;

    const auto start = Clock::now();
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;  // as the store's bulk reads
    std::unique_ptr<rocksdb::Iterator> it(log.db()->NewIterator(ro, log.log()));
    rocksdb::WriteBatch batch;
    std::string key, value;
    std::size_t count = 0, in_batch = 0;
    GlobalPosition position = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view k(it->key().data(), it->key().size());
      const std::string_view record(it->value().data(), it->value().size());
      position = 0;
      for (char c : k) position = (position << 8) | static_cast<std::uint8_t>(c);
      std::size_t offset = kStreamOffset;
      std::string_view stream, type;
      if (!ReadString(record, &offset, &stream) || !ReadString(record, &offset, &type)) {
        Die("bad log record at " + std::to_string(position));
      }
      RawRow(stream, position, type, &key, &value);
      batch.Put(key, value);
      ++count;
      if (++in_batch == kBatch) {
        batch.Put(checkpoint_key, CheckpointValue(position));
        Check(model->Write(synced, &batch), "raw write failed");
        batch.Clear();
        in_batch = 0;
      }
    }
    Check(it->status(), "raw scan failed");
    if (in_batch > 0) {
      batch.Put(checkpoint_key, CheckpointValue(position));
      Check(model->Write(synced, &batch), "raw write failed");
    }
    const double seconds = Seconds(Clock::now() - start);
    state.SetIterationTime(seconds);
    if (count != data.events) Die("raw scan read " + std::to_string(count) + " events");
    g_raw_rate = static_cast<double>(count) / seconds;
    it.reset();
    model->Close().PermitUncheckedError();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.events));
  state.counters["events_per_s"] = benchmark::Counter(g_raw_rate);
  Figures("a.catchup_rocksdb").raw = g_raw_rate;
}

// ---------------------------------------------------------------------------------------------
// (a) (b) (d) sluice: a ProjectionWorker from position 0 to the head.

enum class Backend { kRocks, kSqlite };

std::unique_ptr<ReadModelStore> OpenReadModel(Backend backend, const std::string& dir) {
  Result<std::unique_ptr<ReadModelStore>> store =
      backend == Backend::kRocks ? OpenRocksReadModelStore(dir + "/rocks")
                                 : OpenSqliteReadModelStore(dir + "/read-model.sqlite");
  Check(store.status(), "cannot open the read-model store");
  return std::move(*store);
}

// Seconds from starting the worker until it has processed the head.
double CatchUp(const Data& data, Backend backend, int partitions) {
  Result<std::unique_ptr<RocksEventStore>> events = RocksEventStore::Open(data.dir.path());
  Check(events.status(), "cannot open the event store");
  TempDir dir;
  std::unique_ptr<ReadModelStore> model = OpenReadModel(backend, dir.path());
  ProjectionOptions options;
  options.batch_size = kBatch;
  options.partitions = partitions;
  options.failure.then = OnFailure::kStop;  // nothing fails here; if it does, say so

  const auto start = Clock::now();
  Result<std::unique_ptr<ProjectionWorker>> worker =
      ProjectionWorker::Start(**events, *model, std::make_shared<LastEventProjection>(), options);
  Check(worker.status(), "cannot start the worker");
  Check((*worker)->WaitFor(data.head, std::chrono::minutes(30)), "the worker did not catch up");
  const double seconds = Seconds(Clock::now() - start);
  (*worker)->Stop();

  Result<std::optional<Row>> row = model->Get(kTable, {data.probe_stream});
  Check(row.status(), "reading the read model failed");
  if (!row->has_value() || (**row)[1] != Value(static_cast<std::int64_t>(data.probe_position))) {
    Die("the read model does not hold the last event of " + data.probe_stream);
  }
  return seconds;
}

void BM_SluiceCatchUp(benchmark::State& state, const std::string& name, Backend backend,
                      int partitions, double target) {
  const Data& data = GetData();
  double rate = 0;
  for (auto _ : state) {
    const double seconds = CatchUp(data, backend, partitions);
    state.SetIterationTime(seconds);
    rate = static_cast<double>(data.events) / seconds;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * data.events));
  RecordSluice(state, name, rate, target);
  if (name.rfind("d.", 0) == 0) {
    if (partitions == 1) g_one_partition = rate;
    if (g_one_partition > 0) {
      state.counters["speedup"] = benchmark::Counter(rate / g_one_partition);
      char note[48];
      std::snprintf(note, sizeof note, "%.2fx of 1 partition", rate / g_one_partition);
      Figures(name).note = note;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// (c) live latency: synced append -> committed to the read model.

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void BM_LiveLatency(benchmark::State& state) {
  const std::size_t samples = LatencySamples();
  std::vector<double> end_to_end, append;
  for (auto _ : state) {
    TempDir dir;
    Result<std::unique_ptr<RocksEventStore>> events = RocksEventStore::Open(dir.path() + "/events");
    Check(events.status(), "cannot open the event store");
    std::unique_ptr<ReadModelStore> model = OpenReadModel(Backend::kRocks, dir.path());
    Result<std::unique_ptr<ProjectionWorker>> worker =
        ProjectionWorker::Start(**events, *model, std::make_shared<LastEventProjection>());
    Check(worker.status(), "cannot start the worker");
    std::vector<EventData> one(1);
    end_to_end.clear();
    append.clear();
    double total = 0;
    const std::size_t warm_up = 20;
    for (std::size_t i = 0; i < samples + warm_up; ++i) {
      Result<StreamId> stream = StreamId::Make(StreamName(i % 100));
      Check(stream.status(), "bad stream id");
      one[0] = EventData();
      one[0].type = kEventType;
      one[0].payload = Payload();
      const auto t0 = Clock::now();
      Result<AppendResult> r = (*events)->Append(*stream, ExpectedVersion::Any(), one);
      const auto t1 = Clock::now();
      Check(r.status(), "append failed");
      Check((*worker)->WaitFor(r->last_position, std::chrono::seconds(30)),
            "the worker did not follow");
      const auto t2 = Clock::now();
      if (i < warm_up) continue;
      end_to_end.push_back(Seconds(t2 - t0) * 1e6);
      append.push_back(Seconds(t1 - t0) * 1e6);
      total += Seconds(t2 - t0);
    }
    Result<std::optional<Row>> row =
        model->Get(kTable, {StreamName((samples + warm_up - 1) % 100)});
    Check(row.status(), "reading the read model failed");
    if (!row->has_value() ||
        (**row)[1] != Value(static_cast<std::int64_t>((*events)->HeadPosition()))) {
      Die("the read model does not hold the last event");
    }
    (*worker)->Stop();
    state.SetIterationTime(total);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples));
  state.counters["p50_us"] = benchmark::Counter(Percentile(end_to_end, 0.50));
  state.counters["p99_us"] = benchmark::Counter(Percentile(end_to_end, 0.99));
  state.counters["append_p50_us"] = benchmark::Counter(Percentile(append, 0.50));
  state.counters["append_p99_us"] = benchmark::Counter(Percentile(append, 0.99));
  char note[160];
  std::snprintf(note, sizeof note,
                "append->visible p50 %.0f us, p99 %.0f us (the synced append alone: p50 %.0f us, "
                "p99 %.0f us)",
                Percentile(end_to_end, 0.50), Percentile(end_to_end, 0.99),
                Percentile(append, 0.50), Percentile(append, 0.99));
  Figures("c.live_latency").note = note;
}

// ---------------------------------------------------------------------------------------------

void PrintSummary() {
  std::printf("\nSummary (ratio = sluice events/s / raw events/s of a.catchup_rocksdb/raw)\n");
  std::printf("%-22s %14s %14s %7s  %s\n", "case", "sluice ev/s", "raw ev/s", "ratio", "notes");
  for (const std::string& key : g_case_order) {
    const CaseFigures& f = g_cases.at(key);
    if (f.sluice <= 0) {
      if (!f.note.empty()) std::printf("%-22s %s\n", key.c_str(), f.note.c_str());
      continue;
    }
    const double ratio = f.raw > 0 ? f.sluice / f.raw : 0;
    std::string notes = f.note;
    if (f.target > 0 && f.raw > 0) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "target >= %.1fx %s", f.target,
                    ratio >= f.target ? "met" : "MISSED");
      notes = notes.empty() ? buf : std::string(buf) + "; " + notes;
    }
    std::printf("%-22s %14.0f %14.0f %6.2fx  %s\n", key.c_str(), f.sluice, f.raw, ratio,
                notes.c_str());
  }
  std::fflush(stdout);
}

void RegisterBenchmarks() {
  benchmark::RegisterBenchmark("a.catchup_rocksdb/raw", BM_RawCatchUp)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("a.catchup_rocksdb/sluice",
                               [](benchmark::State& s) {
                                 BM_SluiceCatchUp(s, "a.catchup_rocksdb", Backend::kRocks, 1, 0.5);
                               })
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(
      "b.catchup_sqlite/sluice",
      [](benchmark::State& s) { BM_SluiceCatchUp(s, "b.catchup_sqlite", Backend::kSqlite, 1, 0); })
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("c.live_latency/sluice", BM_LiveLatency)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  for (int k : {1, 2, 4}) {
    const std::string name = "d.partitions:" + std::to_string(k);
    benchmark::RegisterBenchmark(
        (name + "/sluice").c_str(),
        [name, k](benchmark::State& s) { BM_SluiceCatchUp(s, name, Backend::kRocks, k, 0); })
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
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
  g_data.reset();
  PrintSummary();
  return 0;
}
