// The backfill: loads the rows legacy tables already hold into the event store as mirror events,
// while the legacy application keeps writing, converging with live capture without locking
// anything (the watermark idea of Netflix's DBLog, with the capture position as the watermark).
//
// For each chunk of a table, in key order:
//   1. a short LegacySnapshot reads up to chunk_rows rows after the last key done, at capture
//      position P, and is closed;
//   2. the tailer (same consumer as `sluice migrate tail` for the same tables) appends every
//      change up to P, so every change the snapshot saw is in the store;
//   3. each row whose mirror stream (change_mapping.h) is still empty gets a "<T>.RowInserted.v1"
//      of its snapshot image, appended with ExpectedVersion::NoStream() and an event id derived
//      from (source id, table, key, "backfill"). A stream that has events already holds a change
//      at least as new as the snapshot (its full row image, or the row's deletion): the row is
//      skipped. A change after P is appended by the tailer later, after the backfilled image.
//   4. the progress is appended (synced) to the stream "<T>.backfill" as
//      "<T>.BackfillProgressed.v1" {"table", "source_id", "after": {key column: typed value} of
//      the last row done (absent before the first), "rows", "loaded", "skipped", "chunks",
//      "position": P's change id, "done": bool}, totals over every run of this backfill.
// After the last chunk the tailer runs to the end once more. Before a table's first chunk its
// schema event (schema_event.h) is appended if needed.
//
// This is race-free because the store has one writer process, this one (so `sluice migrate tail`
// must not run meanwhile: the backfill tails itself). Resumable after kill -9: a rerun continues
// after the "after" key of the newest progress event; redoing a chunk appends nothing twice (the
// streams are no longer empty, the ids are derived). A table whose progress says done (for the
// same source id) is not read again. Backfill events carry metadata "source" =
// "migration:<source_id>", "backfill" = "true" and "capture_position" = P.
//
// Thread safety: one thread drives a Backfill; `stop` may be set from any thread (or a signal
// handler). The source and the store must outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"
#include "sluice/migration/tailer.h"

namespace sluice::migration {

// Where the backfill of one table stands (totals over every run, from its progress stream).
struct BackfillProgress {
  std::string table;
  std::uint64_t rows = 0;     // rows read from the legacy table
  std::uint64_t loaded = 0;   // rows appended as backfill events
  std::uint64_t skipped = 0;  // rows whose stream had a newer change already
  std::uint64_t chunks = 0;   // chunks done
  ChangeId position = 0;      // capture position of the newest chunk's snapshot
  bool done = false;          // every row of the table is loaded
};

struct BackfillOptions {
  // Rows per snapshot read (and per progress event). Default 1000; 0 means the default.
  std::size_t chunk_rows = 1000;
  // Called after every chunk (and once per table already done), on the Run thread.
  std::function<void(const BackfillProgress&)> on_progress;
  // Run returns (OK, with done == false for unfinished tables) soon after this becomes true,
  // between chunks. May be null.
  const std::atomic<bool>* stop = nullptr;
  // How long to wait when the tailer has not yet reached a snapshot's position (PostgreSQL:
  // transactions still in flight). Default 10 ms.
  std::chrono::milliseconds poll_interval{10};
};

class Backfill {
 public:
  // `tables`: captured tables of `source` (no repeats). The tailer's consumer is the default one of
  // TailerOptions for exactly these tables (as `sluice migrate tail --tables` with them).
  Backfill(LegacySource& source, EventStore& store, std::vector<std::string> tables,
           BackfillOptions options = {});

  // Loads every table to completion (or until stop). One BackfillProgress per table, in order.
  // InvalidArgument: no tables, a table named twice, capture not installed, or a table without
  // capture; NotFound: a table that does not exist. Otherwise the source's or store's error; the
  // progress made so far is kept, and a rerun continues.
  Result<std::vector<BackfillProgress>> Run();

 private:
  Status Prepare();
  Status RunTable(const LegacyTable& table, BackfillProgress* progress);
  // Runs the tailer until its checkpoint is at least `position`.
  Status TailTo(ChangeId position);

  LegacySource& source_;
  EventStore& store_;
  const std::vector<std::string> tables_;
  BackfillOptions options_;
  std::string source_id_;
  std::unique_ptr<Tailer> tailer_;
  ChangeId tailed_ = 0;  // the tailer's checkpoint, as far as known
};

}  // namespace sluice::migration
