// The PostgreSQL implementation of LegacySource: change capture from a PostgreSQL (13 or newer)
// database that a legacy application keeps writing.
//
// Everything lives in the connection's current schema (the first schema of its search_path,
// usually public): tables sluice_change_log and sluice_capture_state (source id, consumer
// checkpoints), one trigger function per captured table ("sluice_capture_<table oid>") and on the
// table the triggers "sluice_capture_row" (AFTER INSERT/UPDATE/DELETE, for each row) and
// "sluice_capture_truncate" (AFTER TRUNCATE, a kTruncate change). Tables are named as the
// search_path finds them; any name works, every identifier is quoted.
//
// Commit order without gaps, as PgQ does it: the triggers write each change with its
// transaction id and no change id. ReadChanges (and Describe, OpenSnapshot) first run the
// sequencer, unless no change lacks an id (one indexed read, no lock, no write): in one
// transaction holding an advisory lock (so sequencers in several processes never interleave) it
// gives the next change ids, in insertion order, to the changes whose transactions are committed
// in its snapshot. A transaction still running when the sequencer
// runs gets its ids when it has committed, after the ids given meanwhile: a long transaction
// that commits late is captured exactly once, never skipped, and nothing ever waits for it.
// Changes of one row keep their order, since writers of a row wait for each other's commit.
//
// Values: the trigger functions record each column as PostgreSQL prints it under fixed
// settings (TimeZone UTC, DateStyle ISO, extra_float_digits 3, bytea_output hex, set on the
// functions themselves, whatever the writing session uses), and snapshots read with the same
// settings, so a change and a snapshot give the same sluice::Value for the same row.
// (Types whose printing depends on other settings, like money and lc_monetary, are not covered.)
//
// Snapshots use a connection of their own (REPEATABLE READ READ ONLY), which the source keeps
// open after the snapshot ends for the next one (a second snapshot open at the same time gets
// another connection, closed when it ends), with prepared statements per table; the source
// caches each table's columns until Install, Uninstall or a schema error in a snapshot (a
// snapshot that finds a column gone fails once, the next one reads the catalog again).
// ReadRows orders text keys by bytes (COLLATE "C"), which an index serves only where the key
// column's collation is "C"; keys of types that are not text but print as text (numeric,
// dates, ...), and char(n) keys (compared without their trailing spaces by PostgreSQL but
// printed padded), are ordered by their printed text and are never served by an index.
//
// Thread safety: one object is used by one thread at a time; a snapshot may be used by another
// thread than its source.
#pragma once

#include <memory>
#include <string>

#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"

namespace sluice::migration {

// Connects to `url` (postgresql://user[:password]@host:port/dbname, or postgres://; libpq URI
// parameters after '?' are passed on; connect_timeout defaults to 10 s). InvalidArgument for a
// malformed URL; Unavailable (without the password) if the server cannot be reached.
Result<std::unique_ptr<LegacySource>> OpenPostgresLegacySource(const std::string& url);

}  // namespace sluice::migration
