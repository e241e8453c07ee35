// The sync watcher: proves that each legacy table and its mirror read-model table agree, at known
// capture positions, without false alarms for changes still in flight. docs/migration.md has the
// user's view.
//
// For each table, chunk by chunk in key order:
//   1. open a fresh LegacySnapshot and note its CapturePosition P; on a second thread, read up to
//      chunk_rows legacy rows after the last key from it, close it at once, and hash them;
//   2. meanwhile, wait until the pipeline (tailer, then the projection `mirror.<table>`) has
//      processed P (WatcherOptions::wait; by default PipelineWait below);
//   3. then read the read-model rows after the last key and hash them (canonical.h: one XXH3-128
//      per row over the canonical key and columns), while the legacy side may still be reading;
//      both sides are cut to the same key range, and one hash per chunk covers the row hashes;
//   4. equal chunk hashes: in sync. Otherwise bisect (hashes of halves, recursively) down to
//      single rows and diff them column by column;
//   5. a differing key that changed after P (LegacySource::KeysChangedAfter) is in flight: it
//      goes to a recheck queue. The others are reported.
// After the table's last chunk, queued keys are re-read one by one (new snapshot, wait, read-model
// Get) up to recheck_rounds times; they are reported only if they still differ and did not change
// after the new position; the ones that never settle are counted as unsettled, never reported.
//
// Memory is bounded by chunk_rows and the recheck queue limit, whatever the table size: nothing is
// kept per row. The read-model table must have the mirror's layout (same name; the legacy key
// columns first, in key order, then the other columns in table order; names as in legacy).
//
// Key ranges need both sides to order keys alike: true for integer, boolean, text, blob, date and
// timestamp keys. For keys of other logical types (decimal, real, other), where the mirror's text
// sorts differently, each legacy row is looked up by key in the read model instead, and a second
// pass over the read model looks each of its keys up in legacy to find extra rows.
//
// Thread safety: Check runs on one thread at a time; Figures() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/core/version.h"
#include "sluice/migration/legacy_source.h"
#include "sluice/projections/read_model_store.h"

namespace sluice::migration {

enum class DifferenceKind : std::uint8_t {
  kMissing,  // a legacy row without read-model row
  kExtra,    // a read-model row without legacy row
  kChanged,  // both exist; some columns differ
};

// "missing", "extra", "changed".
std::string_view DifferenceKindName(DifferenceKind kind);

struct ColumnDifference {
  std::string column;
  std::string legacy_json;      // the legacy value, typed JSON (change.h)
  std::string read_model_json;  // the read-model value, typed JSON
};

// One row that differs, confirmed (it did not change after `position`).
struct RowDifference {
  std::string table;
  DifferenceKind kind = DifferenceKind::kMissing;
  // The key as a typed JSON object {column: value} in key order: legacy values, or the
  // read-model values for kExtra.
  std::string key_json;
  std::vector<ColumnDifference> columns;  // kChanged: every differing column, in table order
  // kMissing and kChanged: the legacy row (table column order), for repair.
  std::optional<Row> legacy_row;
  // The capture position at which the difference was found.
  CapturePosition position;
};

// The watcher's figures, for the summary line and the status endpoint.
struct WatchFigures {
  std::vector<std::string> tables;
  std::uint64_t rows_checked = 0;  // legacy rows compared (recheck reads not included)
  std::uint64_t chunks = 0;
  std::uint64_t missing = 0;  // confirmed rows
  std::uint64_t extra = 0;
  std::uint64_t changed = 0;    // confirmed differing columns (one report line each)
  std::uint64_t rechecked = 0;  // keys that went to the recheck queue
  std::uint64_t unsettled = 0;  // rechecked keys still changing after the last round
  // Highest capture position compared, per table and overall.
  std::map<std::string, ChangeId> positions;
  ChangeId position = 0;
  double seconds = 0;               // duration of the check
  std::int64_t finished_at_us = 0;  // end of the check, microseconds since the Unix epoch
  bool stopped = false;             // the stop flag ended the check early

  bool in_sync() const { return missing == 0 && extra == 0 && changed == 0; }
};

// Progress of a running check, about every progress_interval.
struct WatchProgress {
  std::string table;
  std::uint64_t rows_checked = 0;  // in this check so far, all tables
  std::uint64_t chunks = 0;
  std::size_t table_index = 0;  // 0-based, of tables.size()
  std::size_t tables = 0;
};

// Blocks until the pipeline has processed every legacy change a read at `position` saw, for the
// read model of `table`; an error (e.g. Unavailable on a timeout) ends the check.
using WaitFunction =
    std::function<Status(const std::string& table, const CapturePosition& position)>;

struct PipelineWaitOptions {
  // The tailer's checkpoint consumer in the legacy source. Default: "tail:" + the watched tables
  // sorted and joined by ',' (the tailer's default for the same tables).
  std::string consumer;
  // The event store's head now. A follower store must catch up with its writer first
  // (RocksEventStore::Refresh), or a stale head could let a chunk be compared too early.
  std::function<Result<GlobalPosition>()> store_head;
  // How long to wait for each position in all; then Unavailable naming what lags. Default 60 s.
  std::chrono::milliseconds timeout{60'000};
  // Sleep between looks. Default 20 ms.
  std::chrono::milliseconds poll{20};
};

// The default wait: the tailer's checkpoint (source.LoadCheckpoint(consumer)) reaches
// position.change_id; then, with H the store head, the checkpoint of projection "mirror.<table>"
// in `read_model` (DescribeProjection) reaches H. A projection that never ran counts as 0.
// `source` and `read_model` must outlive the function and are used on the calling thread.
WaitFunction PipelineWait(LegacySource& source, ReadModelStore& read_model,
                          PipelineWaitOptions options);

struct WatcherOptions {
  // Legacy rows per chunk (and read-model rows per page). Default 5000; bounds memory (two chunks
  // of rows at a time). Larger chunks mean fewer snapshots and waits per row, but a
  // rollback-journal SQLite snapshot blocks writers for the time one chunk takes to read.
  std::size_t chunk_rows = 5000;
  // Required: how to wait for the pipeline (PipelineWait, or a no-op to compare two databases as
  // they are, e.g. an A/A comparison).
  WaitFunction wait;
  // Rounds of rechecks for in-flight keys, and the pause before each. Default 5 rounds, 200 ms.
  int recheck_rounds = 5;
  std::chrono::milliseconds recheck_delay{200};
  // At most this many keys in the recheck queue per table; more in-flight keys are counted as
  // unsettled. Also the limit passed to KeysChangedAfter. Default 100000.
  std::size_t max_recheck = 100'000;
  // Called for each confirmed difference, as soon as it is confirmed.
  std::function<void(const RowDifference&)> on_difference;
  // Called about every progress_interval during a check. Default every 500 ms.
  std::function<void(const WatchProgress&)> on_progress;
  std::chrono::milliseconds progress_interval{500};
  // Checked between chunks: when it becomes true, Check returns with figures.stopped.
  const std::atomic<bool>* stop = nullptr;
};

class SyncWatcher {
 public:
  // `source` and `read_model` must outlive the watcher.
  SyncWatcher(LegacySource& source, ReadModelStore& read_model, WatcherOptions options);

  // Checks the tables once, in the order given. Errors:
  //   InvalidArgument: no tables, no wait function, a table unknown to the legacy database or
  //     without primary key (checked for every table before any comparison);
  //   Corruption: a read-model table whose columns do not match the legacy table's (message names
  //     the column); a legacy chunk whose keys do not strictly increase (LegacySnapshot::ReadRows
  //     broke its order; the check stops rather than loop);
  //   the errors of the databases and of the wait (Unavailable on a timeout).
  // A read-model table that does not exist at all is not an error: each legacy row is reported
  // missing (and nothing is waited for: there is no projection output to wait for).
  Result<WatchFigures> Check(const std::vector<std::string>& tables);

  // The figures of the last completed check (all zero before the first).
  WatchFigures Figures() const;

 private:
  LegacySource& source_;
  ReadModelStore& read_model_;
  WatcherOptions options_;
  mutable std::mutex mutex_;
  WatchFigures last_;  // guarded by mutex_
};

}  // namespace sluice::migration
