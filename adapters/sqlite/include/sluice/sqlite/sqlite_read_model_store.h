// A read-model store in one SQLite database file, for read models that users and operators query
// with plain SQL (the sqlite3 shell, a reporting tool, a web app) while projections keep them
// current.
//
// How tables map: every read-model table is a real SQL table of the same name (quote it:
// SELECT * FROM "type-counts"), one SQL column per schema column typed INTEGER, REAL, TEXT or
// BLOB, the key columns as its PRIMARY KEY, created STRICT and WITHOUT ROWID. The schemas
// themselves are kept in the private table "_sluice_catalog". SQLite compares table and column
// names without regard to ASCII case, so two read-model tables (or two columns) whose names differ
// only in case cannot coexist here: the second CreateTable returns InvalidArgument. Names
// starting with "sqlite_" are SQLite's and are refused the same way.
//
// Transactions are serialised: one write connection, taken by Begin() and held by the batch until
// it is committed or destroyed. Begin waits up to `busy_timeout` for it (another thread's batch in
// this process, or another process writing the same file, e.g. a rebuild tool beside a worker),
// then returns Unavailable; Commit therefore never reports a conflict. A thread that already holds
// a batch must not call Begin again before destroying it (it would wait out the timeout).
// Store-level reads (DescribeTable, ListTables, Get, Scan) use separate connections in WAL mode:
// they see committed data only and are never blocked by a running transaction.
//
// Thread safety: the store may be used from any number of threads; a batch by one thread at a
// time. Batches may outlive the store.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sluice/core/status.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

struct SqliteReadModelStoreOptions {
  // Create the database file if it does not exist (otherwise Open returns NotFound). Default true.
  bool create_if_missing = true;
  // true (default): synchronous=FULL, a commit returns after the write-ahead log is fsync'ed and
  // survives power loss. false: synchronous=NORMAL, a commit survives a crash of the process but
  // the last commits may be lost on power loss; the checkpoint kept in the same transaction is
  // lost with them, so the worker applies those events again and nothing is lost.
  bool sync = true;
  // How long Begin (and, rarely, a read) waits for a lock held by another transaction, in this
  // process or another, before returning Unavailable. Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens (or creates) the store in the SQLite database file `path` (switching it to WAL mode).
// NotFound if the file does not exist and !create_if_missing; Corruption if the file is not a
// SQLite database or is damaged; InvalidArgument if it holds a "_sluice_catalog" table that is not
// the store's; IOError if it cannot be opened; Unavailable if another process kept it locked for
// longer than busy_timeout.
Result<std::unique_ptr<ReadModelStore>> OpenSqliteReadModelStore(
    const std::string& path, const SqliteReadModelStoreOptions& options = {});

}  // namespace sluice
