#include "sluice/eventstore/rocks_event_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <boost/signals2/signal.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "head_cache.h"
#include "keys.h"
#include "record_codec.h"
#include "sluice/core/append_rules.h"
#include "sluice/core/uuid.h"

namespace sluice {

using internal::DecodeHead;
using internal::DecodePositionValue;
using internal::DecodeRecord;
using internal::HeadValue;
using internal::PositionKey;
using internal::StreamKey;
using internal::StreamPrefix;

namespace {

constexpr std::size_t kMaxGroupEvents = 4096;
constexpr std::size_t kMaxGroupBytes = 8 << 20;
constexpr std::size_t kMaxProblems = 1000;

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  std::string message = what + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(message);
  if (s.IsNotFound()) return Status::NotFound(message);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(message);
  if (s.IsInvalidArgument() || s.IsNotSupported()) return Status::InvalidArgument(message);
  return Status::IOError(message);
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

std::string IdKey(const std::string& canonical_uuid) {
  const UuidBytes b = ParseUuid(canonical_uuid).value_or(UuidBytes{});
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// One Append call waiting in the group-commit queue.
struct Writer {
  Writer(const StreamId* s, ExpectedVersion e, std::vector<EventData>* ev, bool sy)
      : stream(s), expected(e), events(ev), sync(sy) {}
  const StreamId* stream;
  ExpectedVersion expected;
  std::vector<EventData>* events;
  bool sync;
  std::size_t bytes = 0;
  Result<AppendResult> result = Status::Unavailable("not committed");
  bool done = false;  // GUARDED_BY(queue_mu_)
  std::condition_variable cv;
};

}  // namespace

class RocksEventStore::Impl {
 public:
  ~Impl() { Close(); }

  Status OpenDb(const std::string& dir, const RocksEventStoreOptions& options, bool follower);
  void Close();

  Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                              std::vector<EventData> events, const AppendOptions& options);
  Result<std::vector<RecordedEvent>> ReadStream(const StreamId& stream, StreamVersion from,
                                                std::size_t max_count, Direction direction);
  Result<std::vector<RecordedEvent>> ReadAll(GlobalPosition from, std::size_t max_count);
  Result<StreamVersion> StreamHead(const StreamId& stream);
  GlobalPosition HeadPosition() const { return head_.load(std::memory_order_acquire); }
  boost::signals2::connection OnCommitted(std::function<void(GlobalPosition)> slot) {
    return committed_.connect(std::move(slot));
  }
  Status Refresh();
  bool follower() const { return follower_; }
  Result<std::vector<StreamInfo>> ListStreams(const std::string& after, std::size_t max_count);
  Result<StoreStats> Stats();
  Result<CheckReport> Check();

 private:
  Status CreateOrVerifyFormat(bool created);
  Result<GlobalPosition> ReadHeadPosition(const rocksdb::Snapshot* snapshot);
  // Group commit: the calling thread commits `group` as one WriteBatch. Runs on the leader only.
  void CommitGroup(std::vector<Writer*>& group);
  Result<HeadValue> LoadHead(const std::string& stream);
  Result<ExistingEvent> LoadExisting(GlobalPosition position);
  void FollowLoop();

  std::string dir_;
  bool follower_ = false;
  std::string secondary_dir_;
  RocksEventStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* heads_ = nullptr;
  rocksdb::ColumnFamilyHandle* ids_ = nullptr;

  // Visible head: the last position committed and readable.
  std::atomic<GlobalPosition> head_{0};
  boost::signals2::signal<void(GlobalPosition)> committed_;

  // Group commit queue. The first writer to find no leader leads: it takes the queue, commits it
  // outside the lock (so the next group gathers during the WAL sync), then hands leadership on.
  std::mutex queue_mu_;
  std::deque<Writer*> queue_;   // GUARDED_BY(queue_mu_)
  bool leader_active_ = false;  // GUARDED_BY(queue_mu_)

  // Owned by the current leader (leadership passes through queue_mu_).
  std::unique_ptr<internal::HeadCache> head_cache_;
  GlobalPosition next_position_ = 1;

  // Follower refresh thread.
  std::mutex refresh_mu_;  // one catch-up with the writer at a time
  std::mutex follow_mu_;
  std::condition_variable follow_cv_;
  bool stopping_ = false;  // GUARDED_BY(follow_mu_)
  std::thread follow_thread_;
};

namespace {

rocksdb::ColumnFamilyOptions FamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                           bool point_lookups) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (point_lookups) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = true;
    cf.memtable_whole_key_filtering = true;
    cf.memtable_prefix_bloom_size_ratio = 0.05;
    cf.optimize_filters_for_hits = false;
  } else {
    table.block_size = 32 << 10;
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.compression = rocksdb::kLZ4Compression;
  cf.bottommost_compression = rocksdb::kZSTD;
  return cf;
}

}  // namespace

Status RocksEventStore::Impl::OpenDb(const std::string& dir, const RocksEventStoreOptions& options,
                                     bool follower) {
  dir_ = dir;
  follower_ = follower;
  options_ = options;
  head_cache_ = std::make_unique<internal::HeadCache>(options.stream_head_cache_entries);

  std::error_code ec;
  const bool exists = std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec);
  if (!exists && (follower || !options.create_if_missing)) {
    return Status::NotFound("no event store in '" + dir + "'");
  }
  if (exists) {
    std::vector<std::string> families;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &families);
    if (!s.ok()) return FromRocks(s, "cannot read '" + dir + "'");
    for (const char* name : {internal::kLogFamily, internal::kStreamsFamily, internal::kHeadsFamily,
                             internal::kIdsFamily}) {
      if (std::find(families.begin(), families.end(), name) == families.end()) {
        return Status::InvalidArgument(
            "'" + dir + "' holds a RocksDB database that is not a Sluice event store");
      }
    }
  }

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = !follower;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.keep_log_file_num = 4;
  if (follower) db_options.max_open_files = -1;  // required by secondary instances

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, FamilyOptions(cache, true)},
      {internal::kLogFamily, FamilyOptions(cache, false)},
      {internal::kStreamsFamily, FamilyOptions(cache, false)},
      {internal::kHeadsFamily, FamilyOptions(cache, true)},
      {internal::kIdsFamily, FamilyOptions(cache, true)},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (follower) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-follower-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return Status::IOError("cannot create a follower folder");
    secondary_dir_ = tmpl;
    s = rocksdb::DB::OpenAsSecondary(db_options, dir, secondary_dir_, descriptors, &handles_, &raw);
  } else {
    s = rocksdb::DB::Open(db_options, dir, descriptors, &handles_, &raw);
  }
  if (!s.ok()) {
    const std::string text = s.ToString();
    if (s.IsIOError() &&
        (text.find("lock") != std::string::npos || text.find("Lock") != std::string::npos)) {
      return Status::Unavailable("event store '" + dir +
                                 "' is already open for writing by another process (" + text + ")");
    }
    return FromRocks(s, "cannot open event store '" + dir + "'");
  }
  db_.reset(raw);
  log_ = handles_[1];
  streams_ = handles_[2];
  heads_ = handles_[3];
  ids_ = handles_[4];
  SLUICE_RETURN_IF_ERROR(CreateOrVerifyFormat(!exists));
  Result<GlobalPosition> head = ReadHeadPosition(nullptr);
  if (!head.ok()) return head.status();
  head_ = *head;
  next_position_ = *head + 1;
  if (follower) follow_thread_ = std::thread([this] { FollowLoop(); });
  return Status::Ok();
}

Status RocksEventStore::Impl::CreateOrVerifyFormat(bool created) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[0], internal::kFormatKey, &value);
  if (s.IsNotFound() && created && !follower_) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db_->Put(wo, handles_[0], internal::kFormatKey, internal::kFormatValue),
                     "cannot initialise the event store");
  }
  if (!s.ok()) return FromRocks(s, "cannot read the store format of '" + dir_ + "'");
  if (value != internal::kFormatValue) {
    return Status::InvalidArgument("'" + dir_ + "' has store format '" + value + "'; expected '" +
                                   std::string(internal::kFormatValue) + "'");
  }
  return Status::Ok();
}

void RocksEventStore::Impl::Close() {
  {
    std::lock_guard<std::mutex> lock(follow_mu_);
    stopping_ = true;
  }
  follow_cv_.notify_all();
  if (follow_thread_.joinable()) follow_thread_.join();
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    handles_.clear();
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(secondary_dir_, ec);
    secondary_dir_.clear();
  }
}

Result<GlobalPosition> RocksEventStore::Impl::ReadHeadPosition(const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_));
  it->SeekToLast();
  if (!it->Valid()) {
    SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the global log"));
    return GlobalPosition{0};
  }
  if (it->key().size() != 8) return Status::Corruption("global log key of impossible size");
  return internal::ParsePositionKey(ToView(it->key()));
}

// ---------------------------------------------------------------------------------------------
// Appends

Result<AppendResult> RocksEventStore::Impl::Append(const StreamId& stream, ExpectedVersion expected,
                                                   std::vector<EventData> events,
                                                   const AppendOptions& options) {
  if (follower_)
    return Status::InvalidArgument("event store '" + dir_ + "' is open read-only (follower)");
  SLUICE_RETURN_IF_ERROR(PrepareBatch(events));
  Writer w(&stream, expected, &events, options.sync);
  for (const EventData& e : events) w.bytes += e.payload.size() + e.type.size() + 128;

  std::unique_lock<std::mutex> lock(queue_mu_);
  queue_.push_back(&w);
  while (true) {
    w.cv.wait(lock, [&] { return w.done || !leader_active_; });
    if (w.done) return std::move(w.result);

    // This thread leads the next group: the queue from its front, up to the size limits. Usually
    // that includes `w`; if not, `w` stays queued and is led by this or a later leader.
    leader_active_ = true;
    std::vector<Writer*> group;
    std::size_t group_events = 0, group_bytes = 0;
    while (!queue_.empty()) {
      Writer* next = queue_.front();
      if (!group.empty() && (group_events + next->events->size() > kMaxGroupEvents ||
                             group_bytes + next->bytes > kMaxGroupBytes)) {
        break;
      }
      group_events += next->events->size();
      group_bytes += next->bytes;
      group.push_back(next);
      queue_.pop_front();
    }
    lock.unlock();
    CommitGroup(group);  // no lock held: the next group gathers during the WAL sync
    lock.lock();
    leader_active_ = false;
    for (Writer* other : group) {
      other->done = true;
      if (other != &w) other->cv.notify_one();
    }
    if (!queue_.empty()) queue_.front()->cv.notify_one();
  }
}

Result<HeadValue> RocksEventStore::Impl::LoadHead(const std::string& stream) {
  if (std::optional<HeadValue> cached = head_cache_->Get(stream)) return *cached;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), heads_, stream, &value);
  HeadValue head;
  if (s.IsNotFound()) return head;
  if (!s.ok()) return FromRocks(s, "cannot read the head of stream '" + stream + "'");
  if (!DecodeHead(value, &head)) {
    return Status::Corruption("head record of stream '" + stream + "' is damaged");
  }
  head_cache_->Put(stream, head);
  return head;
}

Result<ExistingEvent> RocksEventStore::Impl::LoadExisting(GlobalPosition position) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), log_, PositionKey(position), &value);
  if (!s.ok()) {
    return s.IsNotFound() ? Status::Corruption("event id index points at missing position " +
                                               std::to_string(position))
                          : FromRocks(s, "cannot read position " + std::to_string(position));
  }
  RecordedEvent e;
  SLUICE_RETURN_IF_ERROR(DecodeRecord(value, position, &e));
  return ExistingEvent{std::move(e.stream), e.version, position};
}

void RocksEventStore::Impl::CommitGroup(std::vector<Writer*>& group) {
  // Look up every event id of the group in one MultiGet.
  std::vector<std::string> id_keys;
  for (Writer* w : group) {
    for (const EventData& e : *w->events) id_keys.push_back(IdKey(e.event_id));
  }
  std::vector<rocksdb::Slice> id_slices(id_keys.begin(), id_keys.end());
  std::vector<rocksdb::PinnableSlice> id_values(id_keys.size());
  std::vector<rocksdb::Status> id_status(id_keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), ids_, id_slices.size(), id_slices.data(), id_values.data(),
                id_status.data());

  rocksdb::WriteBatch batch;
  std::unordered_map<std::string, HeadValue> new_heads;    // heads changed by the group
  std::unordered_map<std::string, ExistingEvent> new_ids;  // ids written by the group
  GlobalPosition position = next_position_;
  const std::int64_t now = NowMicros();
  bool sync = false;
  std::string record;
  std::vector<Writer*> written;
  std::size_t id_index = 0;

  for (Writer* w : group) {
    const std::string& stream = w->stream->str();
    const std::size_t first_id = id_index;
    id_index += w->events->size();

    HeadValue head;
    if (auto it = new_heads.find(stream); it != new_heads.end()) {
      head = it->second;
    } else {
      Result<HeadValue> loaded = LoadHead(stream);
      if (!loaded.ok()) {
        w->result = loaded.status();
        continue;
      }
      head = *loaded;
    }

    std::vector<std::optional<ExistingEvent>> existing(w->events->size());
    Status lookup;
    for (std::size_t i = 0; i < w->events->size() && lookup.ok(); ++i) {
      const EventData& e = (*w->events)[i];
      if (auto it = new_ids.find(e.event_id); it != new_ids.end()) {
        existing[i] = it->second;
        continue;
      }
      const rocksdb::Status& s = id_status[first_id + i];
      if (s.IsNotFound()) continue;
      GlobalPosition at = 0;
      if (!s.ok()) {
        lookup = FromRocks(s, "cannot read the event id index");
      } else if (!DecodePositionValue(ToView(id_values[first_id + i]), &at)) {
        lookup = Status::Corruption("event id index entry for " + e.event_id + " is damaged");
      } else {
        Result<ExistingEvent> found = LoadExisting(at);
        if (found.ok()) {
          existing[i] = std::move(*found);
        } else {
          lookup = found.status();
        }
      }
    }
    if (!lookup.ok()) {
      w->result = lookup;
      continue;
    }
    Result<std::optional<AppendResult>> repeat =
        DecideIdempotentAppend(*w->stream, w->expected, head.version, existing);
    if (!repeat.ok()) {
      w->result = repeat.status();
      continue;
    }
    if (repeat->has_value()) {
      w->result = **repeat;
      continue;
    }
    if (!w->expected.IsSatisfiedBy(head.version)) {
      w->result = WrongExpectedVersionError(*w->stream, w->expected, head.version);
      continue;
    }

    AppendResult result;
    result.first_position = position;
    RecordedEvent r;
    r.stream = stream;
    r.recorded_at_us = now;
    for (std::size_t i = 0; i < w->events->size(); ++i) {
      EventData& e = (*w->events)[i];
      r.version = ++head.version;
      r.position = position;
      r.event_id = std::move(e.event_id);
      r.type = std::move(e.type);
      r.content_type = e.content_type;
      r.payload = std::move(e.payload);
      r.metadata = std::move(e.metadata);
      record.clear();
      internal::EncodeRecord(r, &record);
      const std::string key = PositionKey(position);
      batch.Put(log_, key, record);
      batch.Put(streams_, StreamKey(stream, r.version), key);
      batch.Put(ids_, id_keys[first_id + i], key);
      new_ids[r.event_id] = ExistingEvent{stream, r.version, position};
      // Give the ids back so a retry after a failed write sees the same ids.
      e.event_id = r.event_id;
      ++position;
    }
    head.last_position = position - 1;
    batch.Put(heads_, stream, internal::EncodeHead(head));
    new_heads[stream] = head;
    result.last_position = position - 1;
    result.next_expected_version = head.version;
    w->result = result;
    sync = sync || w->sync;
    written.push_back(w);
  }

  if (written.empty()) return;
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) {
    const Status error = FromRocks(s, "cannot write to the event store");
    for (Writer* w : written) w->result = error;
    return;
  }
  next_position_ = position;
  for (auto& [stream, head] : new_heads) head_cache_->Put(stream, head);
  head_.store(position - 1, std::memory_order_release);
  committed_(position - 1);
}

// ---------------------------------------------------------------------------------------------
// Reads

Result<StreamVersion> RocksEventStore::Impl::StreamHead(const StreamId& stream) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), heads_, stream.str(), &value);
  if (s.IsNotFound()) return kNoStream;
  if (!s.ok()) return FromRocks(s, "cannot read the head of stream '" + stream.str() + "'");
  HeadValue head;
  if (!DecodeHead(value, &head)) {
    return Status::Corruption("head record of stream '" + stream.str() + "' is damaged");
  }
  return head.version;
}

Result<std::vector<RecordedEvent>> RocksEventStore::Impl::ReadStream(const StreamId& stream,
                                                                     StreamVersion from,
                                                                     std::size_t max_count,
                                                                     Direction direction) {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{db_.get(), snapshot};
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;

  std::string head_value;
  rocksdb::Status hs = db_->Get(ro, heads_, stream.str(), &head_value);
  if (hs.IsNotFound()) return Status::NotFound("stream '" + stream.str() + "' does not exist");
  if (!hs.ok()) return FromRocks(hs, "cannot read the head of stream '" + stream.str() + "'");

  std::vector<RecordedEvent> out;
  if (max_count == 0) return out;
  const std::string prefix = StreamPrefix(stream.str());
  std::string upper = prefix;
  upper.back() = '\x01';
  rocksdb::Slice lower_bound(prefix), upper_bound(upper);
  ro.iterate_lower_bound = &lower_bound;
  ro.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, streams_));

  std::vector<std::string> keys;
  std::vector<StreamVersion> versions;
  if (direction == Direction::kForward) {
    it->Seek(StreamKey(stream.str(), std::max<StreamVersion>(from, 0)));
  } else {
    if (from < 0) return out;
    it->SeekForPrev(StreamKey(stream.str(), from));
  }
  for (; it->Valid() && keys.size() < max_count;
       direction == Direction::kForward ? it->Next() : it->Prev()) {
    std::string_view key_stream;
    StreamVersion version = 0;
    GlobalPosition position = 0;
    if (!internal::ParseStreamKey(ToView(it->key()), &key_stream, &version) ||
        !DecodePositionValue(ToView(it->value()), &position)) {
      return Status::Corruption("stream index entry of '" + stream.str() + "' is damaged");
    }
    keys.push_back(PositionKey(position));
    versions.push_back(version);
  }
  SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read stream '" + stream.str() + "'"));

  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(ro, log_, slices.size(), slices.data(), values.data(), statuses.data());
  out.resize(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const GlobalPosition position = internal::ParsePositionKey(keys[i]);
    if (statuses[i].IsNotFound()) {
      return Status::Corruption("stream '" + stream.str() + "' version " +
                                std::to_string(versions[i]) + " points at missing position " +
                                std::to_string(position));
    }
    SLUICE_RETURN_IF_ERROR(
        FromRocks(statuses[i], "cannot read position " + std::to_string(position)));
    SLUICE_RETURN_IF_ERROR(DecodeRecord(ToView(values[i]), position, &out[i]));
    if (out[i].stream != stream.str() || out[i].version != versions[i]) {
      return Status::Corruption("position " + std::to_string(position) + " is indexed as '" +
                                stream.str() + "' version " + std::to_string(versions[i]) +
                                " but holds '" + out[i].stream + "' version " +
                                std::to_string(out[i].version));
    }
  }
  return out;
}

Result<std::vector<RecordedEvent>> RocksEventStore::Impl::ReadAll(GlobalPosition from,
                                                                  std::size_t max_count) {
  std::vector<RecordedEvent> out;
  if (max_count == 0) return out;
  rocksdb::ReadOptions ro;
  if (max_count > 64) ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_));
  GlobalPosition expected = std::max<GlobalPosition>(from, 1);
  out.reserve(std::min<std::size_t>(max_count, 4096));
  for (it->Seek(PositionKey(expected)); it->Valid() && out.size() < max_count; it->Next()) {
    if (it->key().size() != 8) return Status::Corruption("global log key of impossible size");
    const GlobalPosition position = internal::ParsePositionKey(ToView(it->key()));
    if (position != expected) {
      return Status::Corruption("global log gap: position " + std::to_string(expected) +
                                " is missing (next is " + std::to_string(position) + ")");
    }
    out.emplace_back();
    SLUICE_RETURN_IF_ERROR(DecodeRecord(ToView(it->value()), position, &out.back()));
    ++expected;
  }
  SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the global log"));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Followers

Status RocksEventStore::Impl::Refresh() {
  if (!follower_) return Status::Ok();
  std::lock_guard<std::mutex> lock(refresh_mu_);
  SLUICE_RETURN_IF_ERROR(
      FromRocks(db_->TryCatchUpWithPrimary(), "cannot catch up with the writer"));
  Result<GlobalPosition> head = ReadHeadPosition(nullptr);
  if (!head.ok()) return head.status();
  const GlobalPosition before = head_.load();
  if (*head > before) {
    head_.store(*head, std::memory_order_release);
    committed_(*head);
  }
  return Status::Ok();
}

void RocksEventStore::Impl::FollowLoop() {
  std::unique_lock<std::mutex> lock(follow_mu_);
  const auto interval = std::chrono::milliseconds(std::max(1, options_.follow_interval_ms));
  while (!follow_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    Refresh().PermitUncheckedError();  // a failed catch-up is retried on the next tick
    lock.lock();
  }
}

// ---------------------------------------------------------------------------------------------
// Administration

Result<std::vector<StreamInfo>> RocksEventStore::Impl::ListStreams(const std::string& after,
                                                                   std::size_t max_count) {
  std::vector<StreamInfo> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), heads_));
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(after);
    if (it->Valid() && it->key() == rocksdb::Slice(after)) it->Next();
  }
  for (; it->Valid() && out.size() < max_count; it->Next()) {
    HeadValue head;
    if (!DecodeHead(ToView(it->value()), &head)) {
      return Status::Corruption("head record of stream '" + it->key().ToString() + "' is damaged");
    }
    out.push_back(StreamInfo{it->key().ToString(), head.version});
  }
  SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "cannot list streams"));
  return out;
}

Result<StoreStats> RocksEventStore::Impl::Stats() {
  StoreStats stats;
  stats.head_position = HeadPosition();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), heads_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++stats.stream_count;
  SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "cannot count streams"));
  stats.event_count = stats.head_position;  // positions are contiguous from 1
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_, ec)) {
    std::error_code size_ec;
    if (entry.is_regular_file(size_ec)) {
      const auto size = entry.file_size(size_ec);
      if (!size_ec) stats.bytes_on_disk += size;
    }
  }
  return stats;
}

Result<CheckReport> RocksEventStore::Impl::Check() {
  CheckReport report;
  auto problem = [&report](std::string text) {
    if (report.problems.size() < kMaxProblems) report.problems.push_back(std::move(text));
    ++report.problem_count;
  };
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{db_.get(), snapshot};
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;

  struct Seen {
    std::uint64_t count = 0;
    StreamVersion max_version = kNoStream;
    GlobalPosition last_position = 0;
  };
  std::map<std::string, Seen> streams;

  // 1. The log: contiguous from 1, decodable, each entry indexed under its stream and id.
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_));
    GlobalPosition expected = 1;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() != 8) {
        problem("global log key of impossible size " + std::to_string(it->key().size()));
        continue;
      }
      const GlobalPosition position = internal::ParsePositionKey(ToView(it->key()));
      if (position != expected) {
        problem("global log gap: expected position " + std::to_string(expected) + ", found " +
                std::to_string(position));
      }
      expected = position + 1;
      report.head_position = position;
      ++report.events_checked;
      RecordedEvent e;
      Status decoded = DecodeRecord(ToView(it->value()), position, &e);
      if (!decoded.ok()) {
        problem(decoded.message());
        continue;
      }
      if (Status valid = StreamId::Validate(e.stream); !valid.ok()) {
        problem("position " + std::to_string(position) + ": " + valid.message());
      }
      Seen& seen = streams[e.stream];
      ++seen.count;
      seen.max_version = std::max(seen.max_version, e.version);
      seen.last_position = std::max(seen.last_position, position);
      std::string value;
      rocksdb::Status s = db_->Get(ro, streams_, StreamKey(e.stream, e.version), &value);
      GlobalPosition indexed = 0;
      if (!s.ok() || !DecodePositionValue(value, &indexed) || indexed != position) {
        problem("position " + std::to_string(position) + " is not indexed as stream '" + e.stream +
                "' version " + std::to_string(e.version));
      }
      s = db_->Get(ro, ids_, IdKey(e.event_id), &value);
      if (!s.ok() || !DecodePositionValue(value, &indexed) || indexed != position) {
        problem("position " + std::to_string(position) + ": event id " + e.event_id +
                " is not indexed");
      }
    }
    if (!it->status().ok()) problem("cannot read the global log: " + it->status().ToString());
  }

  // 2. The stream index: every entry points at a log record of that stream and version, and each
  //    stream's versions run 0..head without a hole.
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, streams_));
    std::string current;
    StreamVersion next_version = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view stream;
      StreamVersion version = 0;
      GlobalPosition position = 0;
      if (!internal::ParseStreamKey(ToView(it->key()), &stream, &version) ||
          !DecodePositionValue(ToView(it->value()), &position)) {
        problem("damaged stream index entry");
        continue;
      }
      if (stream != current) {
        current = std::string(stream);
        next_version = 0;
      }
      if (version != next_version) {
        problem("stream '" + current + "' has no version " + std::to_string(next_version));
      }
      next_version = version + 1;
      if (position > report.head_position) {
        problem("stream '" + current + "' version " + std::to_string(version) +
                " points at missing position " + std::to_string(position));
      }
    }
    if (!it->status().ok()) problem("cannot read the stream index: " + it->status().ToString());
  }

  // 3. The id index: every id points at an existing position (the log pass checked the reverse).
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, ids_));
    std::uint64_t ids = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++ids;
      GlobalPosition position = 0;
      if (it->key().size() != 16 || !DecodePositionValue(ToView(it->value()), &position) ||
          position > report.head_position) {
        problem("event id index entry points nowhere");
      }
    }
    if (ids != report.events_checked) {
      problem("event id index has " + std::to_string(ids) + " entries for " +
              std::to_string(report.events_checked) + " events");
    }
    if (!it->status().ok()) problem("cannot read the id index: " + it->status().ToString());
  }

  // 4. Stream heads: one per stream seen in the log, matching its last version and position.
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, heads_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++report.streams_checked;
      const std::string stream = it->key().ToString();
      HeadValue head;
      if (!DecodeHead(ToView(it->value()), &head)) {
        problem("head record of stream '" + stream + "' is damaged");
        continue;
      }
      auto seen = streams.find(stream);
      if (seen == streams.end()) {
        problem("stream '" + stream + "' has a head but no events");
        continue;
      }
      if (head.version != seen->second.max_version ||
          static_cast<std::uint64_t>(head.version + 1) != seen->second.count ||
          head.last_position != seen->second.last_position) {
        problem("head of stream '" + stream + "' says version " + std::to_string(head.version) +
                " at position " + std::to_string(head.last_position) + "; the log has " +
                std::to_string(seen->second.count) + " events, last at position " +
                std::to_string(seen->second.last_position));
      }
      streams.erase(seen);
    }
    for (const auto& [stream, seen] : streams)
      problem("stream '" + stream + "' has no head record");
    if (!it->status().ok()) problem("cannot read stream heads: " + it->status().ToString());
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// The public face

RocksEventStore::RocksEventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksEventStore::~RocksEventStore() = default;

Result<std::unique_ptr<RocksEventStore>> RocksEventStore::Open(
    const std::string& dir, const RocksEventStoreOptions& options) {
  auto impl = std::make_unique<Impl>();
  SLUICE_RETURN_IF_ERROR(impl->OpenDb(dir, options, /*follower=*/false));
  return std::unique_ptr<RocksEventStore>(new RocksEventStore(std::move(impl)));
}

Result<std::unique_ptr<RocksEventStore>> RocksEventStore::OpenFollower(
    const std::string& dir, const RocksEventStoreOptions& options) {
  auto impl = std::make_unique<Impl>();
  SLUICE_RETURN_IF_ERROR(impl->OpenDb(dir, options, /*follower=*/true));
  return std::unique_ptr<RocksEventStore>(new RocksEventStore(std::move(impl)));
}

Result<AppendResult> RocksEventStore::Append(const StreamId& stream, ExpectedVersion expected,
                                             std::vector<EventData> events,
                                             const AppendOptions& options) {
  return impl_->Append(stream, expected, std::move(events), options);
}
Result<std::vector<RecordedEvent>> RocksEventStore::ReadStream(const StreamId& stream,
                                                               StreamVersion from,
                                                               std::size_t max_count,
                                                               Direction direction) {
  return impl_->ReadStream(stream, from, max_count, direction);
}
Result<std::vector<RecordedEvent>> RocksEventStore::ReadAll(GlobalPosition from,
                                                            std::size_t max_count) {
  return impl_->ReadAll(from, max_count);
}
Result<StreamVersion> RocksEventStore::StreamHead(const StreamId& stream) {
  return impl_->StreamHead(stream);
}
GlobalPosition RocksEventStore::HeadPosition() { return impl_->HeadPosition(); }
boost::signals2::connection RocksEventStore::OnCommitted(std::function<void(GlobalPosition)> slot) {
  return impl_->OnCommitted(std::move(slot));
}
Status RocksEventStore::Refresh() { return impl_->Refresh(); }
bool RocksEventStore::is_follower() const { return impl_->follower(); }
Result<std::vector<StreamInfo>> RocksEventStore::ListStreams(const std::string& after,
                                                             std::size_t max_count) {
  return impl_->ListStreams(after, max_count);
}
Result<StoreStats> RocksEventStore::Stats() { return impl_->Stats(); }
Result<CheckReport> RocksEventStore::Check() { return impl_->Check(); }

}  // namespace sluice
