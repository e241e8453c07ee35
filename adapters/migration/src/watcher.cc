#include "sluice/migration/watcher.h"

#include <algorithm>
#include <deque>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_set>
#include <utility>

#include "sluice/migration/canonical.h"
#include "sluice/migration/mirror_projection.h"
#include "sluice/projections/projection_catalog.h"
#include "typed_json.h"

namespace sluice::migration {
namespace {

using Clock = std::chrono::steady_clock;

// How one legacy table lines up with its read-model table.
struct Layout {
  LegacyTable legacy;
  bool read_model_missing = false;
  // Legacy column indexes in read-model order: key columns (key order), then the others.
  std::vector<std::size_t> order;
  std::vector<CanonicalColumn> canonical;  // by legacy column index
  std::vector<ColumnType> key_types;       // read-model types of the key columns
  std::vector<std::string> key_names;
  // Both sides order keys alike, so key ranges can be compared (see watcher.h).
  bool ranges = true;
};

bool OrderPreserving(LogicalType type) {
  switch (type) {
    case LogicalType::kInteger:
    case LogicalType::kBoolean:
    case LogicalType::kText:
    case LogicalType::kBlob:
    case LogicalType::kDate:
    case LogicalType::kTimestamp:
    case LogicalType::kTimestampTz:
      return true;
    default:
      return false;
  }
}

std::string TypedValueJson(const Value& value) {
  const std::string object = TypedJsonOf({"v"}, {value});
  // {"v":<value>}
  return object.substr(5, object.size() - 6);
}

// A row of one side with its key (read-model values) and hash. The canonical key is made only
// for the few rows that differ (TableCheck::CanonicalKeyOf).
struct SideRow {
  Row row;
  Key key;              // read-model form, for ordering
  Hash128 hash;         // canonical key + columns
  bool legacy = false;  // row in legacy column order (else read-model order)
};

// The rows of one side of a chunk. Slots are kept across chunks with their rows' and keys'
// capacity, so a steady stream of chunks allocates nothing per row. References to slots stay
// valid while rows are added (a deque), until clear().
class SideRows {
 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const SideRow& operator[](std::size_t i) const { return slots_[i]; }
  const SideRow& back() const { return slots_[size_ - 1]; }
  void clear() { size_ = 0; }
  void pop_back() { --size_; }
  // A slot for one more row, holding whatever an earlier chunk left in it.
  SideRow& Add() {
    if (size_ == slots_.size()) slots_.emplace_back();
    return slots_[size_++];
  }

 private:
  std::deque<SideRow> slots_;
  std::size_t size_ = 0;
};

struct Candidate {
  DifferenceKind kind = DifferenceKind::kMissing;
  const SideRow* legacy = nullptr;
  const SideRow* read_model = nullptr;
};

// A key waiting for a recheck.
struct Pending {
  Key legacy_key;
  Key read_model_key;
  std::string ckey;
};

class TableCheck {
 public:
  TableCheck(LegacySource& source, ReadModelStore& read_model, const WatcherOptions& options,
             Layout& layout, WatchFigures& figures, const std::function<void()>& progress)
      : source_(source),
        read_model_(read_model),
        options_(options),
        layout_(layout),
        figures_(figures),
        progress_(progress) {}

  Status Run() {
    if (layout_.ranges || layout_.read_model_missing) {
      if (Status s = RunRanges(); !s.ok()) return s;
    } else {
      if (Status s = RunPoints(); !s.ok()) return s;
    }
    if (Stopped()) return Status::Ok();
    return Recheck();
  }

 private:
  bool Stopped() const { return options_.stop != nullptr && options_.stop->load(); }

  const std::string& name() const { return layout_.legacy.name; }

  Status Wait(const CapturePosition& position) {
    if (layout_.read_model_missing || position.change_id <= verified_) {
      return Status::Ok();
    }
    if (Status s = options_.wait(name(), position); !s.ok()) return s;
    verified_ = std::max(verified_, position.change_id);
    return Status::Ok();
  }

  void NotePosition(const CapturePosition& position) {
    ChangeId& at = figures_.positions[name()];
    at = std::max(at, position.change_id);
    figures_.position = std::max(figures_.position, position.change_id);
  }

  // The buffers are reused across rows and chunks: hashing allocates nothing once they have
  // grown. One per side, as the sides are read and hashed at the same time (RunRanges).
  Hash128 HashLegacy(const Row& row) {
    legacy_buffer_.clear();
    for (std::size_t i = 0; i < layout_.order.size(); ++i) {
      const std::size_t c = layout_.order[i];
      AppendCanonical(row[c], layout_.canonical[c], &legacy_buffer_);
    }
    return HashBytes(legacy_buffer_);
  }

  Hash128 HashReadModel(const Row& row) {
    rm_buffer_.clear();
    for (std::size_t i = 0; i < layout_.order.size() && i < row.size(); ++i) {
      AppendCanonical(row[i], layout_.canonical[layout_.order[i]], &rm_buffer_);
    }
    return HashBytes(rm_buffer_);
  }

  // The canonical key of a side's row: the prefix of what its hash covers.
  std::string CanonicalKeyOf(const SideRow& side) const {
    std::string out;
    const std::size_t key_count = layout_.legacy.key.size();
    for (std::size_t i = 0; i < key_count && i < layout_.order.size(); ++i) {
      const std::size_t c = layout_.order[i];
      const std::size_t at = side.legacy ? c : i;
      AppendCanonical(at < side.row.size() ? side.row[at] : Value{}, layout_.canonical[c], &out);
    }
    return out;
  }

  Key LegacyKeyOf(const Row& row) const {
    Key key;
    for (const std::size_t c : layout_.legacy.key) key.push_back(row[c]);
    return key;
  }

  SideRow LegacySide(Row row) {
    SideRow side;
    FillLegacySide(row, &side);
    return side;
  }

  SideRow ReadModelSide(Row row) {
    SideRow side;
    FillReadModelSide(row, &side);
    return side;
  }

  // Makes `*side` the legacy side of `row`, swapping rows: `row` gets the row `*side` held (with
  // its capacity, for the next chunk to read into).
  void FillLegacySide(Row& row, SideRow* side) {
    side->legacy = true;
    side->row.swap(row);
    const Row& r = side->row;
    side->key.resize(layout_.legacy.key.size());
    for (std::size_t i = 0; i < layout_.legacy.key.size(); ++i) {
      const Value& value = r[layout_.legacy.key[i]];
      if (std::holds_alternative<std::monostate>(value) ||
          HasColumnType(value, layout_.key_types[i])) {
        side->key[i] = value;  // in place: a string keeps its capacity
        continue;
      }
      Result<Value> converted = ToReadModelValue(value, layout_.key_types[i]);
      side->key[i] = converted.ok() ? std::move(*converted) : value;
    }
    side->hash = HashLegacy(r);
  }

  // Makes `*side` the read-model side of `row`, swapping rows like FillLegacySide.
  void FillReadModelSide(Row& row, SideRow* side) {
    side->legacy = false;
    side->row.swap(row);
    const Row& r = side->row;
    side->key.assign(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(
                                                std::min(r.size(), layout_.legacy.key.size())));
    side->hash = HashReadModel(r);
  }

  // Corruption unless the keys of a legacy chunk strictly increase after `after` (read-model
  // form): a source that breaks LegacySnapshot::ReadRows's order would make the chunk loop run
  // forever.
  Status CheckIncreasing(const SideRows& rows, const Key* after) const {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Key* previous = i > 0 ? &rows[i - 1].key : after;
      if (previous != nullptr && CompareKeys(*previous, rows[i].key) >= 0) {
        return Status::Corruption("legacy table '" + name() + "' returned key " +
                                  KeyJson(rows[i].key) + " after key " + KeyJson(*previous) +
                                  ": keys out of order (each chunk's keys must strictly increase)");
      }
    }
    return Status::Ok();
  }

  Key KeyOf(const Row& row) const {
    return Key(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(
                                              std::min(row.size(), layout_.legacy.key.size())));
  }

  std::string KeyJson(const Key& key) const { return TypedJsonOf(layout_.key_names, key); }

  // Chunks by key range (watcher.h).
  Status RunRanges() {
    const std::size_t n = std::max<std::size_t>(options_.chunk_rows, 1);
    std::optional<Key> after_legacy;  // last key compared, legacy form
    std::optional<Key> after_rm;      // the same, read-model form
    SideRows legacy_rows;
    SideRows rm_rows;
    std::vector<Hash128> hashes;
    // What the sides read into; rows circulate between these and the slots (FillLegacySide).
    std::vector<Row> legacy_read;
    std::vector<Row> rm_read;
    for (;;) {
      if (Stopped()) return Status::Ok();
      Result<std::unique_ptr<LegacySnapshot>> snapshot = source_.OpenSnapshot();
      if (!snapshot.ok()) return snapshot.status();
      const CapturePosition position = (*snapshot)->position();
      // Both sides are read and hashed at the same time: the legacy chunk on a second thread,
      // which ends the snapshot as soon as it has the rows (a legacy SQLite database in rollback
      // journal mode admits no writer while a snapshot is open, and the tailer's checkpoint is a
      // write); here, the wait for the pipeline to process `position`, then the read-model rows
      // of (after, ...]. Neither read depends on the other; the range is cut afterwards.
      bool legacy_done = false;
      std::future<Status> legacy_read_done = std::async(
          std::launch::async, [&, snapshot = std::move(*snapshot),
                               after = after_legacy ? &*after_legacy : nullptr]() mutable {
            Status read = snapshot->ReadRowsInto(layout_.legacy, after, n, &legacy_read);
            snapshot.reset();
            if (!read.ok()) return read;
            legacy_done = legacy_read.size() < n;
            legacy_rows.clear();
            for (Row& row : legacy_read) FillLegacySide(row, &legacy_rows.Add());
            return CheckIncreasing(legacy_rows, after_rm ? &*after_rm : nullptr);
          });
      rm_rows.clear();
      Status rm_read_status = Wait(position);
      if (rm_read_status.ok() && !layout_.read_model_missing) {
        rm_read_status = read_model_.ScanInto(name(), after_rm ? &*after_rm : nullptr, n, &rm_read);
        if (rm_read_status.ok()) {
          for (Row& row : rm_read) FillReadModelSide(row, &rm_rows.Add());
        }
      }
      Status legacy_status = legacy_read_done.get();
      if (!legacy_status.ok()) return legacy_status;
      if (!rm_read_status.ok()) return rm_read_status;

      // The read-model rows of (after, end]: end is the last legacy key, or the end of the table
      // after the final legacy chunk; a full page of read-model rows ends the range earlier.
      bool range_done = legacy_done;
      if (!layout_.read_model_missing) {
        const std::size_t page = rm_rows.size();
        if (!legacy_done) {
          while (!rm_rows.empty() && CompareKeys(rm_rows.back().key, legacy_rows.back().key) > 0) {
            rm_rows.pop_back();
          }
        }
        if (page == n && rm_rows.size() == n) {
          // The page ended inside the range: compare up to its last key only.
          const Key& end = rm_rows.back().key;
          while (!legacy_rows.empty() && CompareKeys(legacy_rows.back().key, end) > 0) {
            legacy_rows.pop_back();
          }
          range_done = false;
        }
      }
      Key end_rm;
      Key end_legacy;
      if (!range_done) {
        const bool rm_ends =
            !rm_rows.empty() &&
            (legacy_rows.empty() || CompareKeys(rm_rows.back().key, legacy_rows.back().key) >= 0);
        if (rm_ends) {
          end_rm = rm_rows.back().key;
          end_legacy = end_rm;  // same values for the key types of range mode
        } else {
          end_rm = legacy_rows.back().key;
          end_legacy = LegacyKeyOf(legacy_rows.back().row);
        }
      }

      ++figures_.chunks;
      figures_.rows_checked += legacy_rows.size();
      NotePosition(position);
      if (Status s = CompareChunk(legacy_rows, rm_rows, position, hashes); !s.ok()) return s;
      progress_();
      if (range_done) return Status::Ok();
      after_rm = std::move(end_rm);
      after_legacy = std::move(end_legacy);
    }
  }

  // Keys whose order differs between the sides: legacy rows looked up by key, then read-model
  // rows looked up in legacy for extras.
  Status RunPoints() {
    const std::size_t n = std::max<std::size_t>(options_.chunk_rows, 1);
    std::optional<Key> after;
    std::vector<SideRow> legacy_rows;
    std::vector<SideRow> rm_rows;
    std::vector<Candidate> candidates;
    for (;;) {
      if (Stopped()) return Status::Ok();
      Result<std::unique_ptr<LegacySnapshot>> snapshot = source_.OpenSnapshot();
      if (!snapshot.ok()) return snapshot.status();
      const CapturePosition position = (*snapshot)->position();
      Result<std::vector<Row>> rows =
          (*snapshot)->ReadRows(layout_.legacy, after ? &*after : nullptr, n);
      snapshot->reset();
      if (!rows.ok()) return rows.status();
      if (rows->empty()) break;
      // Keys of these types need not order alike here; a chunk that does not move past `after`
      // would loop forever.
      if (after.has_value() && LegacyKeyOf(rows->back()) == *after) {
        return Status::Corruption("legacy table '" + name() + "' returned key " + KeyJson(*after) +
                                  " again: keys out of order (each chunk's " +
                                  "keys must strictly increase)");
      }
      after = LegacyKeyOf(rows->back());
      const bool done = rows->size() < n;
      legacy_rows.clear();
      for (Row& row : *rows) legacy_rows.push_back(LegacySide(std::move(row)));
      if (Status s = Wait(position); !s.ok()) return s;
      rm_rows.clear();
      rm_rows.reserve(legacy_rows.size());
      candidates.clear();
      for (const SideRow& legacy : legacy_rows) {
        Result<std::optional<Row>> row = read_model_.Get(name(), legacy.key);
        if (!row.ok()) return row.status();
        if (!row->has_value()) {
          candidates.push_back(Candidate{DifferenceKind::kMissing, &legacy, nullptr});
          continue;
        }
        rm_rows.push_back(ReadModelSide(std::move(**row)));
        if (rm_rows.back().hash != legacy.hash) {
          candidates.push_back(Candidate{DifferenceKind::kChanged, &legacy, &rm_rows.back()});
        }
      }
      ++figures_.chunks;
      figures_.rows_checked += legacy_rows.size();
      NotePosition(position);
      if (Status s = Settle(candidates, position); !s.ok()) return s;
      progress_();
      if (done) break;
    }
    // Extras: each read-model key looked up in legacy.
    std::optional<Key> after_rm;
    for (;;) {
      if (Stopped()) return Status::Ok();
      Result<std::vector<Row>> page = read_model_.Scan(name(), after_rm ? &*after_rm : nullptr, n);
      if (!page.ok()) return page.status();
      if (page->empty()) return Status::Ok();
      const bool done = page->size() < n;
      rm_rows.clear();
      for (Row& row : *page) rm_rows.push_back(ReadModelSide(std::move(row)));
      after_rm = rm_rows.back().key;
      Result<std::unique_ptr<LegacySnapshot>> snapshot = source_.OpenSnapshot();
      if (!snapshot.ok()) return snapshot.status();
      const CapturePosition position = (*snapshot)->position();
      candidates.clear();
      for (const SideRow& rm : rm_rows) {
        Result<std::optional<Row>> row = (*snapshot)->ReadRow(layout_.legacy, rm.key);
        if (!row.ok()) return row.status();
        if (!row->has_value())
          candidates.push_back(Candidate{DifferenceKind::kExtra, nullptr, &rm});
      }
      snapshot->reset();
      if (!candidates.empty()) {
        // The read-model page was read before the snapshot: wait, then look at the candidates
        // again in the read model (a row deleted meanwhile is not extra).
        if (Status s = Wait(position); !s.ok()) return s;
        std::vector<Candidate> still;
        for (const Candidate& candidate : candidates) {
          Result<std::optional<Row>> row = read_model_.Get(name(), candidate.read_model->key);
          if (!row.ok()) return row.status();
          if (row->has_value()) still.push_back(candidate);
        }
        if (Status s = Settle(still, position); !s.ok()) return s;
      }
      if (done) return Status::Ok();
    }
  }

  // Compares one chunk: hashes, then bisection down to rows (watcher.h).
  Status CompareChunk(const SideRows& legacy, const SideRows& rm, const CapturePosition& position,
                      std::vector<Hash128>& hashes) {
    if (legacy.size() == rm.size() &&
        RangeHash(legacy, 0, legacy.size(), hashes) == RangeHash(rm, 0, rm.size(), hashes)) {
      return Status::Ok();
    }
    std::vector<Candidate> candidates;
    Bisect(legacy, 0, legacy.size(), rm, 0, rm.size(), hashes, &candidates);
    return Settle(candidates, position);
  }

  static Hash128 RangeHash(const SideRows& rows, std::size_t begin, std::size_t end,
                           std::vector<Hash128>& hashes) {
    hashes.clear();
    for (std::size_t i = begin; i < end; ++i) hashes.push_back(rows[i].hash);
    return HashOfHashes(hashes.data(), hashes.size());
  }

  static std::size_t LowerBound(const SideRows& rows, std::size_t begin, std::size_t end,
                                const Key& key) {
    while (begin < end) {
      const std::size_t mid = begin + (end - begin) / 2;
      if (CompareKeys(rows[mid].key, key) < 0) {
        begin = mid + 1;
      } else {
        end = mid;
      }
    }
    return begin;
  }

  void Bisect(const SideRows& l, std::size_t lb, std::size_t le, const SideRows& r, std::size_t rb,
              std::size_t re, std::vector<Hash128>& hashes, std::vector<Candidate>* out) {
    if (lb == le && rb == re) return;
    if (le - lb == re - rb && RangeHash(l, lb, le, hashes) == RangeHash(r, rb, re, hashes)) {
      return;
    }
    if (le - lb <= 1 && re - rb <= 1) {
      if (lb < le && rb < re && CanonicalKeyOf(l[lb]) == CanonicalKeyOf(r[rb])) {
        out->push_back(Candidate{DifferenceKind::kChanged, &l[lb], &r[rb]});
        return;
      }
      if (lb < le && rb < re && CompareKeys(r[rb].key, l[lb].key) < 0) {
        out->push_back(Candidate{DifferenceKind::kExtra, nullptr, &r[rb]});
        out->push_back(Candidate{DifferenceKind::kMissing, &l[lb], nullptr});
        return;
      }
      if (lb < le) out->push_back(Candidate{DifferenceKind::kMissing, &l[lb], nullptr});
      if (rb < re) out->push_back(Candidate{DifferenceKind::kExtra, nullptr, &r[rb]});
      return;
    }
    if (le - lb >= 2) {
      const std::size_t lm = lb + (le - lb) / 2;
      const std::size_t rm = LowerBound(r, rb, re, l[lm].key);
      Bisect(l, lb, lm, r, rb, rm, hashes, out);
      Bisect(l, lm, le, r, rm, re, hashes, out);
    } else {
      const std::size_t rm = rb + (re - rb) / 2;
      const std::size_t lm = LowerBound(l, lb, le, r[rm].key);
      Bisect(l, lb, lm, r, rb, rm, hashes, out);
      Bisect(l, lm, le, r, rm, re, hashes, out);
    }
  }

  // Reports the candidates whose keys did not change after `position`; queues the others.
  Status Settle(const std::vector<Candidate>& candidates, const CapturePosition& position) {
    if (candidates.empty()) return Status::Ok();
    std::optional<std::unordered_set<std::string>> changed;
    Result<std::optional<std::vector<Key>>> keys =
        source_.KeysChangedAfter(layout_.legacy, position, options_.max_recheck);
    if (!keys.ok()) return keys.status();
    if (keys->has_value()) {
      changed.emplace();
      for (const Key& key : **keys) changed->insert(CanonicalKey(key));
    }
    for (const Candidate& candidate : candidates) {
      const SideRow& some = candidate.legacy != nullptr ? *candidate.legacy : *candidate.read_model;
      if (!changed.has_value() || changed->count(CanonicalKeyOf(some)) != 0) {
        Queue(candidate);
      } else {
        Report(candidate, position);
      }
    }
    return Status::Ok();
  }

  std::string CanonicalKey(const Key& legacy_key) {
    std::string out;
    for (std::size_t i = 0; i < legacy_key.size() && i < layout_.legacy.key.size(); ++i) {
      AppendCanonical(legacy_key[i], layout_.canonical[layout_.legacy.key[i]], &out);
    }
    return out;
  }

  void Queue(const Candidate& candidate) {
    const SideRow& some = candidate.legacy != nullptr ? *candidate.legacy : *candidate.read_model;
    std::string ckey = CanonicalKeyOf(some);
    if (!queued_.insert(ckey).second) return;
    ++figures_.rechecked;
    if (pending_.size() >= options_.max_recheck) {
      ++figures_.unsettled;
      return;
    }
    Pending pending;
    pending.ckey = std::move(ckey);
    if (candidate.legacy != nullptr) {
      pending.legacy_key = LegacyKeyOf(candidate.legacy->row);
      pending.read_model_key = candidate.legacy->key;
    } else {
      pending.read_model_key = candidate.read_model->key;
      pending.legacy_key = candidate.read_model->key;
    }
    pending_.push_back(std::move(pending));
  }

  void Report(const Candidate& candidate, const CapturePosition& position) {
    RowDifference difference;
    difference.table = name();
    difference.kind = candidate.kind;
    difference.position = position;
    if (candidate.legacy != nullptr) {
      difference.key_json = KeyJson(LegacyKeyOf(candidate.legacy->row));
      difference.legacy_row = candidate.legacy->row;
    } else {
      difference.key_json = KeyJson(candidate.read_model->key);
    }
    switch (candidate.kind) {
      case DifferenceKind::kMissing:
        ++figures_.missing;
        break;
      case DifferenceKind::kExtra:
        ++figures_.extra;
        break;
      case DifferenceKind::kChanged: {
        const Row& legacy = candidate.legacy->row;
        const Row& rm = candidate.read_model->row;
        // Table order for the report: read-model index of each legacy column.
        for (std::size_t c = 0; c < layout_.legacy.columns.size(); ++c) {
          const std::size_t at = static_cast<std::size_t>(
              std::find(layout_.order.begin(), layout_.order.end(), c) - layout_.order.begin());
          const Value& rm_value = at < rm.size() ? rm[at] : Value{};
          if (Canonical(legacy[c], layout_.canonical[c]) ==
              Canonical(rm_value, layout_.canonical[c])) {
            continue;
          }
          difference.columns.push_back(ColumnDifference{
              layout_.legacy.columns[c].name, TypedValueJson(legacy[c]), TypedValueJson(rm_value)});
        }
        if (difference.columns.empty()) return;  // only the key's spelling differed
        figures_.changed += difference.columns.size();
        break;
      }
    }
    if (options_.on_difference) options_.on_difference(difference);
  }

  // Rechecks queued keys (watcher.h).
  Status Recheck() {
    std::vector<SideRow> legacy_rows;
    std::vector<SideRow> rm_rows;
    for (int round = 0; round < options_.recheck_rounds && !pending_.empty(); ++round) {
      if (Stopped()) return Status::Ok();
      std::this_thread::sleep_for(options_.recheck_delay);
      Result<std::unique_ptr<LegacySnapshot>> snapshot = source_.OpenSnapshot();
      if (!snapshot.ok()) return snapshot.status();
      const CapturePosition position = (*snapshot)->position();
      legacy_rows.assign(pending_.size(), SideRow{});
      std::vector<bool> legacy_found(pending_.size(), false);
      for (std::size_t i = 0; i < pending_.size(); ++i) {
        Result<std::optional<Row>> row =
            (*snapshot)->ReadRow(layout_.legacy, pending_[i].legacy_key);
        if (!row.ok()) return row.status();
        if (row->has_value()) {
          legacy_rows[i] = LegacySide(std::move(**row));
          legacy_found[i] = true;
        }
      }
      snapshot->reset();
      if (Status s = Wait(position); !s.ok()) return s;
      NotePosition(position);
      rm_rows.assign(pending_.size(), SideRow{});
      std::vector<Candidate> candidates;
      std::vector<std::size_t> candidate_index;
      for (std::size_t i = 0; i < pending_.size(); ++i) {
        bool rm_found = false;
        if (!layout_.read_model_missing) {
          Result<std::optional<Row>> row = read_model_.Get(name(), pending_[i].read_model_key);
          if (!row.ok()) return row.status();
          if (row->has_value()) {
            rm_rows[i] = ReadModelSide(std::move(**row));
            rm_found = true;
          }
        }
        if (!legacy_found[i] && !rm_found) continue;
        if (legacy_found[i] && rm_found && legacy_rows[i].hash == rm_rows[i].hash) continue;
        Candidate candidate;
        candidate.kind = !rm_found          ? DifferenceKind::kMissing
                         : !legacy_found[i] ? DifferenceKind::kExtra
                                            : DifferenceKind::kChanged;
        if (legacy_found[i]) candidate.legacy = &legacy_rows[i];
        if (rm_found) candidate.read_model = &rm_rows[i];
        candidates.push_back(candidate);
        candidate_index.push_back(i);
      }
      std::vector<Pending> still;
      if (!candidates.empty()) {
        Result<std::optional<std::vector<Key>>> keys =
            source_.KeysChangedAfter(layout_.legacy, position, options_.max_recheck);
        if (!keys.ok()) return keys.status();
        std::optional<std::unordered_set<std::string>> changed;
        if (keys->has_value()) {
          changed.emplace();
          for (const Key& key : **keys) changed->insert(CanonicalKey(key));
        }
        for (std::size_t k = 0; k < candidates.size(); ++k) {
          Pending& pending = pending_[candidate_index[k]];
          if (!changed.has_value() || changed->count(pending.ckey) != 0) {
            still.push_back(std::move(pending));
          } else {
            Report(candidates[k], position);
          }
        }
      }
      pending_ = std::move(still);
    }
    figures_.unsettled += pending_.size();
    pending_.clear();
    return Status::Ok();
  }

  LegacySource& source_;
  ReadModelStore& read_model_;
  const WatcherOptions& options_;
  Layout& layout_;
  WatchFigures& figures_;
  const std::function<void()>& progress_;
  std::string legacy_buffer_;
  std::string rm_buffer_;
  ChangeId verified_ = -1;
  std::vector<Pending> pending_;
  std::unordered_set<std::string> queued_;  // canonical keys ever queued (bounded by max_recheck)
};

// The layout of `table`, or the reason it cannot be compared.
Result<Layout> MakeLayout(LegacySource& source, ReadModelStore& read_model,
                          const std::string& table) {
  Layout layout;
  Result<LegacyTable> legacy = source.DescribeTable(table);
  if (!legacy.ok()) {
    if (legacy.status().IsNotFound() || legacy.status().code() == StatusCode::kInvalidArgument) {
      return Status::InvalidArgument(legacy.status().message());
    }
    return legacy.status();
  }
  layout.legacy = std::move(*legacy);
  const LegacyTable& lt = layout.legacy;
  for (const LegacyColumn& column : lt.columns) {
    layout.canonical.push_back(CanonicalColumnOf(column));
  }
  std::vector<bool> is_key(lt.columns.size(), false);
  for (const std::size_t k : lt.key) {
    is_key[k] = true;
    layout.order.push_back(k);
    layout.key_types.push_back(ReadModelTypeOf(lt.columns[k].type));
    layout.key_names.push_back(lt.columns[k].name);
    if (!OrderPreserving(lt.columns[k].type)) layout.ranges = false;
  }
  for (std::size_t c = 0; c < lt.columns.size(); ++c) {
    if (!is_key[c]) layout.order.push_back(c);
  }
  Result<std::optional<TableSchema>> schema = read_model.DescribeTable(table);
  if (!schema.ok()) return schema.status();
  if (!schema->has_value()) {
    layout.read_model_missing = true;
    return layout;
  }
  const TableSchema& rm = **schema;
  const std::string where = "read-model table '" + table + "' in " + read_model.Describe();
  for (std::size_t i = 0; i < layout.order.size(); ++i) {
    const LegacyColumn& column = lt.columns[layout.order[i]];
    const bool key = i < lt.key.size();
    const int at = rm.IndexOf(column.name);
    if (at < 0) {
      return Status::Corruption(where + " has no column '" + column.name + "' (legacy " +
                                std::string(key ? "key " : "") + "column of type " +
                                column.declared_type + ")");
    }
    const std::size_t index = static_cast<std::size_t>(at);
    if (index != i || (index < rm.key.size()) != key) {
      return Status::Corruption(where + ": column '" + column.name +
                                "' is not where the mirror puts it (the key columns in key "
                                "order, then the others in legacy table order)");
    }
  }
  if (rm.width() != layout.order.size()) {
    const Column& extra = rm.width() > layout.order.size()
                              ? (layout.order.size() < rm.key.size()
                                     ? rm.key[layout.order.size()]
                                     : rm.columns[layout.order.size() - rm.key.size()])
                              : rm.key.front();
    return Status::Corruption(where + " has column '" + extra.name + "' that legacy table '" +
                              table + "' does not have");
  }
  for (std::size_t i = 0; i < rm.key.size(); ++i) layout.key_types[i] = rm.key[i].type;
  return layout;
}

}  // namespace

std::string_view DifferenceKindName(DifferenceKind kind) {
  switch (kind) {
    case DifferenceKind::kMissing:
      return "missing";
    case DifferenceKind::kExtra:
      return "extra";
    case DifferenceKind::kChanged:
      return "changed";
  }
  return "unknown";
}

WaitFunction PipelineWait(LegacySource& source, ReadModelStore& read_model,
                          PipelineWaitOptions options) {
  return [&source, &read_model, options](const std::string& table,
                                         const CapturePosition& position) -> Status {
    const auto deadline = Clock::now() + options.timeout;
    for (;;) {
      Result<ChangeId> checkpoint = source.LoadCheckpoint(options.consumer);
      if (!checkpoint.ok()) return checkpoint.status();
      if (*checkpoint >= position.change_id) break;
      if (Clock::now() >= deadline) {
        return Status::Unavailable("timed out: the tailer (checkpoint '" + options.consumer +
                                   "') is at change " + std::to_string(*checkpoint) +
                                   ", not yet at " + std::to_string(position.change_id) +
                                   " (is `sluice migrate tail` running for the same tables?)");
      }
      std::this_thread::sleep_for(options.poll);
    }
    if (!options.store_head) return Status::InvalidArgument("PipelineWait needs store_head");
    Result<GlobalPosition> head = options.store_head();
    if (!head.ok()) return head.status();
    const std::string projection = MirrorProjectionName(table);
    for (;;) {
      GlobalPosition at = 0;
      Result<ProjectionReport> report = DescribeProjection(read_model, projection, *head);
      if (report.ok()) {
        at = report->checkpoint;
      } else if (!report.status().IsNotFound()) {
        return report.status();
      }
      if (at >= *head) return Status::Ok();
      if (Clock::now() >= deadline) {
        return Status::Unavailable("timed out: projection '" + projection + "' is at position " +
                                   std::to_string(at) + ", not yet at " + std::to_string(*head) +
                                   " (is `sluice migrate mirror` running?)");
      }
      std::this_thread::sleep_for(options.poll);
    }
  };
}

SyncWatcher::SyncWatcher(LegacySource& source, ReadModelStore& read_model, WatcherOptions options)
    : source_(source), read_model_(read_model), options_(std::move(options)) {}

WatchFigures SyncWatcher::Figures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_;
}

Result<WatchFigures> SyncWatcher::Check(const std::vector<std::string>& tables) {
  if (tables.empty()) return Status::InvalidArgument("no tables to check");
  if (!options_.wait) return Status::InvalidArgument("the watcher has no wait function");
  const auto started = Clock::now();
  std::vector<Layout> layouts;
  for (const std::string& table : tables) {
    Result<Layout> layout = MakeLayout(source_, read_model_, table);
    if (layout.ok() && layout->read_model_missing) {
      // The mirror may not have created the table yet: wait until the pipeline has processed
      // the legacy database as it is now, then look again. Still missing then: really missing.
      Result<std::unique_ptr<LegacySnapshot>> snapshot = source_.OpenSnapshot();
      if (!snapshot.ok()) return snapshot.status();
      const CapturePosition position = (*snapshot)->position();
      snapshot->reset();
      if (Status s = options_.wait(table, position); !s.ok()) {
        return s.WithContext("table '" + table + "'");
      }
      layout = MakeLayout(source_, read_model_, table);
    }
    if (!layout.ok()) return layout.status();
    layouts.push_back(std::move(*layout));
  }
  WatchFigures figures;
  figures.tables = tables;
  auto last_progress = Clock::now();
  std::size_t table_index = 0;
  const std::function<void()> progress = [&] {
    if (!options_.on_progress) return;
    const auto now = Clock::now();
    if (now - last_progress < options_.progress_interval) return;
    last_progress = now;
    WatchProgress p;
    p.table = tables[table_index];
    p.rows_checked = figures.rows_checked;
    p.chunks = figures.chunks;
    p.table_index = table_index;
    p.tables = tables.size();
    options_.on_progress(p);
  };
  for (; table_index < layouts.size(); ++table_index) {
    TableCheck check(source_, read_model_, options_, layouts[table_index], figures, progress);
    if (Status s = check.Run(); !s.ok())
      return s.WithContext("table '" + tables[table_index] + "'");
    if (options_.stop != nullptr && options_.stop->load()) {
      figures.stopped = true;
      break;
    }
  }
  figures.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  figures.finished_at_us = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  std::lock_guard<std::mutex> lock(mutex_);
  last_ = figures;
  return figures;
}

}  // namespace sluice::migration
