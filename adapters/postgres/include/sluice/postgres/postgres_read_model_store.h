// A read-model store in a PostgreSQL database, for read models that many readers on many machines
// query with plain SQL while projections keep them current.
//
// How tables map: every read-model table is a real table of the same name in the store's
// PostgreSQL schema (quote it: SELECT * FROM "type-counts"), one column per schema column typed
// BIGINT, DOUBLE PRECISION, TEXT COLLATE "C" or BYTEA, the key columns as its PRIMARY KEY, so
// keys order bytewise as CompareKeys orders them. The exact schemas are kept in the private table
// "_sluice_catalog" (with "_sluice_catalog_version"); names starting with "_sluice_" are the
// store's and are refused. PostgreSQL keeps 63 bytes of a name: two table names (or two column
// names of a table) that differ only after their 63rd byte cannot coexist (InvalidArgument).
//
// Values: PostgreSQL text cannot hold a NUL byte, so Put refuses text with one (InvalidArgument),
// and, in a UTF8 database, text that is not valid UTF-8. Use a BLOB column for such bytes.
// Integers, doubles (infinities included) and blobs keep every value.
//
// Transactions are SERIALIZABLE: batches run concurrently, each on its own connection, and one that
// conflicts with another (e.g. both read and then write the same row) fails with Unavailable, in
// the call that noticed or in Commit; nothing of it was written, and the caller redoes the batch.
// Deadlocks and waits for a lock beyond `lock_timeout` are reported the same way. Changes of
// tables are serialised with all batches: the first CreateTable, DropTable or RenameTable of a
// batch waits until the batches running have ended, and a Begin meanwhile waits until that batch
// has ended (so a thread that holds a batch must not change tables in another one). Puts and
// Deletes are buffered in the batch and written in bulk (one statement per table) when it
// commits, so a batch costs few round trips; a Put whose key is larger than about 2 KB is written
// at once, so PostgreSQL's limit on the size of an index entry (about 2.7 KB after compression)
// is reported by that Put. Dropping and renaming tables take effect when the batch commits.
//
// Store-level reads (DescribeTable, ListTables, Get, Scan) are single statements that check the
// table against the catalog in the same snapshot: they see committed data only and are not blocked
// by running transactions, except for the moment in which a committing batch drops or renames a
// table they read.
//
// Errors: a server that cannot be reached, a lost connection and a server shutting down are
// Unavailable, naming host:port (never the password). If the connection is lost while a batch
// commits, the store asks the server whether the transaction committed and returns what
// happened; IOError only when it cannot find out.
//
// Thread safety: the store may be used from any number of threads; a batch by one thread at a
// time. Batches may outlive the store. Each concurrent batch or read uses a connection of its own
// (idle ones are kept for reuse).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "sluice/core/status.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

struct PostgresReadModelStoreOptions {
  // The PostgreSQL schema (namespace) that holds the tables and the catalog; created (with the
  // catalog) if missing. Several stores may share a database in different schemas. 1-63 bytes.
  // Default "public".
  std::string schema = "public";
  // How long opening a connection may take before Unavailable (libpq's connect_timeout; it treats
  // less than 2 s as 2 s). Default 10 s.
  std::chrono::seconds connect_timeout{10};
  // true (default): synchronous_commit=on, a commit returns once it is durable on the server.
  // false: synchronous_commit=off, faster commits that a server crash may lose (never half of
  // one); the checkpoint kept in the same transaction is lost with them, so the worker applies
  // those events again and nothing is lost.
  bool sync = true;
  // How long a statement waits for a lock held by another transaction (PostgreSQL's lock_timeout)
  // before the call returns Unavailable; zero waits without limit. Default 10 s.
  std::chrono::milliseconds lock_timeout{10000};
  // Connections kept open for reuse once no batch or read uses them. Default 4.
  std::size_t max_idle_connections = 4;
  // How the store's connections show in pg_stat_activity. Default "sluice".
  std::string application_name = "sluice";
};

// Opens the store in the database at `url`, "postgresql://user[:password]@host:port/dbname"
// ("postgres://" too; user, password and dbname may be %-encoded; the port defaults to 5432),
// creating its schema and catalog if they are missing. InvalidArgument for a malformed URL or
// options, a database whose encoding is neither UTF8 nor SQL_ASCII, or a "_sluice_catalog" table
// that is not the store's; Unavailable if the server cannot be reached or refuses the connection;
// Corruption if the catalog is damaged.
Result<std::unique_ptr<ReadModelStore>> OpenPostgresReadModelStore(
    const std::string& url, const PostgresReadModelStoreOptions& options = {});

}  // namespace sluice
