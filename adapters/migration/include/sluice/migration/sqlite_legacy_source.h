// The SQLite implementation of LegacySource.
//
// The change log lives in the legacy database itself: tables sluice_change_log and
// sluice_capture_state (source id, consumer checkpoints), and triggers named
// "sluice_capture_<ins|upd|del|updkey>_<table>". SQLite has one writer at a time, so the change
// log's rowid order is commit order. No AUTOINCREMENT (its sqlite_sequence table could never be
// removed again), so the log must never lose its newest row while capture is installed.
//
// INSERT OR REPLACE: SQLite fires DELETE triggers for the rows a REPLACE removes only when the
// writing connection has `PRAGMA recursive_triggers = ON`. With it, a REPLACE is captured as what
// happened: a kDelete of each removed row (also rows removed through another UNIQUE constraint),
// then a kInsert. Without it, only the kInsert is captured (the mirror mapping then overwrites the
// row, which is right when the REPLACE hit the same key; rows removed through another UNIQUE
// constraint are missed). Legacy writers using REPLACE should turn the pragma on.
//
// Other connections may use the database meanwhile; this one waits up to 5 s for a lock (then
// Unavailable). A snapshot (OpenSnapshot) is a read transaction on a connection of its own: in
// WAL mode writers go on meanwhile; in rollback-journal mode it blocks writers until it is
// destroyed, so snapshots are kept short (one chunk).
#pragma once

#include <memory>
#include <string>

#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"

namespace sluice::migration {

// Opens the SQLite database file at `path`, which must exist (NotFound otherwise).
Result<std::unique_ptr<LegacySource>> OpenSqliteLegacySource(const std::string& path);

}  // namespace sluice::migration
