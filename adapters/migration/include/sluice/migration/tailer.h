// The tailer: appends captured legacy changes to the event store, in change-log order.
//
// For each change after its checkpoint, in order, the mapping gives a stream and events; they are
// appended with ExpectedVersion::Any and event ids derived from (source id, table, change id,
// index), so appending them again is the store's idempotent retry and writes nothing. The
// checkpoint (last change appended) is saved in the legacy source after the appends of a batch
// are durable: a crash anywhere replays at most one batch, harmlessly. Before the first change of
// a table it appends, a Tailer appends the table's schema event (schema_event.h) when the store's
// newest one differs; the schema is described once per Tailer (restart it after an ALTER TABLE).
//
// Thread safety: one thread drives a Tailer. The source and store must outlive it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/migration/change_mapping.h"
#include "sluice/migration/legacy_source.h"

namespace sluice::migration {

struct TailerOptions {
  // Only changes of these tables become events; others are passed over. Empty: every table.
  std::set<std::string> tables;
  // Name of the checkpoint in the source. Default: "tail:" + the tables joined by ',' (so tailers
  // of different table sets never share a checkpoint).
  std::string consumer;
  // Changes read per batch; the checkpoint is saved once per batch. Default 500.
  std::size_t batch_size = 500;
  // Mapping; default MirrorMapping().
  std::shared_ptr<const ChangeMapping> mapping;
  // Append the schema event of each table (schema_event.h, from LegacySource::DescribeTable)
  // before its first change of this Tailer's life, unless the store's newest one is equal. The
  // mirror projection and the sync watcher need it. Default true.
  bool schema_events = true;
};

struct TailProgress {
  ChangeId checkpoint = 0;    // last change processed and saved
  std::uint64_t changes = 0;  // changes processed by this call
  std::uint64_t events = 0;   // events appended by this call (repeats included)
};

class Tailer {
 public:
  // `source` must have capture installed (InvalidArgument from the first call otherwise).
  Tailer(LegacySource& source, EventStore& store, TailerOptions options = {});

  // Processes one batch: at most batch_size changes. progress.changes == 0 means nothing was new.
  Result<TailProgress> Step();

  // Processes batches until every change committed when it was called is appended, or `stop` (if
  // given) becomes true between batches.
  Result<TailProgress> CatchUp(const std::atomic<bool>* stop = nullptr);

  const std::string& consumer() const { return options_.consumer; }

 private:
  Status Prepare();
  // Appends the schema event of `table` once per Tailer (see TailerOptions::schema_events).
  Status EnsureSchema(const std::string& table);

  LegacySource& source_;
  EventStore& store_;
  TailerOptions options_;
  std::string source_name_;  // "migration:<source_id>"; empty until Prepare succeeds
  std::string source_id_;
  std::set<std::string> described_;  // tables whose schema event is in the store
  ChangeId checkpoint_ = 0;
};

}  // namespace sluice::migration
