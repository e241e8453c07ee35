// Opening the store named by --store, with the tool's error reporting and exit codes.
#pragma once

#include <memory>
#include <string>

#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::cli {

// Opens `dir` read-only as a follower (RocksDB secondary instance), so it works while another
// process writes the store, and catches up with the writer once. Never creates anything: a folder
// that does not exist is NotFound. A writer opening the store at the same moment can make the
// first attempts fail; they are retried for up to 5 s before the last error is returned.
// `follow_interval_ms` as RocksEventStoreOptions::follow_interval_ms (0: its default).
Result<std::unique_ptr<RocksEventStore>> OpenFollowerStore(const std::string& dir,
                                                           int follow_interval_ms = 0);

// OpenFollowerStore; on failure prints the reason and returns nullptr (exit code kExitFailure).
std::unique_ptr<RocksEventStore> OpenForReading(const std::string& dir);

// Opens (creating if needed) `dir` for writing. On failure, e.g. when another process writes the
// store, prints the reason and returns nullptr (exit code kExitFailure).
std::unique_ptr<RocksEventStore> OpenForWriting(const std::string& dir);

}  // namespace sluice::cli
