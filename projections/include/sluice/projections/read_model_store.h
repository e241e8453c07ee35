// The read-model store port: tables (see table.h) changed in atomic transactions. Projection
// workers keep their checkpoints and parked events in the same store as the read model and commit
// them in the same transaction, so a crash never separates the two.
//
// Implementations: InMemoryReadModelStore (tests), RocksReadModelStore (its own RocksDB database),
// SqliteReadModelStore (adapters/sqlite), PostgresReadModelStore (adapters/postgres). Each passes
// the conformance suite in tests/conformance.
//
// Thread safety: a store may be used from any number of threads; a transaction by one thread at a
// time.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/projections/table.h"

namespace sluice {

// What a projection sees while it applies events: row reads and writes inside one transaction.
// Reads see the transaction's own writes. Errors: NotFound for a table that does not exist,
// InvalidArgument for a row or key that does not fit the table's schema.
class ReadModelTransaction {
 public:
  virtual ~ReadModelTransaction() = default;

  virtual Result<std::optional<Row>> Get(std::string_view table, const Key& key) = 0;
  // Inserts the row, or replaces the row with the same key.
  virtual Status Put(std::string_view table, Row row) = 0;
  // Removes the row with this key; nothing happens if there is none.
  virtual Status Delete(std::string_view table, const Key& key) = 0;
};

// A transaction as the runtime drives it: rows, tables and the commit. Destroying it without a
// successful Commit discards everything it did.
class ReadModelBatch : public ReadModelTransaction {
 public:
  // Creates the table if it does not exist. OK if it exists with exactly this schema;
  // InvalidArgument if it exists with another.
  virtual Status CreateTable(const TableSchema& schema) = 0;
  // Removes the table and its rows; nothing happens if there is none.
  virtual Status DropTable(std::string_view table) = 0;
  // Renames a table with its rows. NotFound if `from` does not exist; InvalidArgument if `to`
  // does.
  virtual Status RenameTable(std::string_view from, std::string_view to) = 0;

  // Makes every change of the transaction visible and durable at once, or none of them.
  // Unavailable when it conflicts with a transaction committed since this one began (a row it
  // read or wrote was changed): nothing was written; begin again and redo the work. The batch
  // cannot be used after Commit, whatever it returns.
  virtual Status Commit() = 0;
};

class ReadModelStore {
 public:
  virtual ~ReadModelStore() = default;

  // Starts a transaction. Transactions may run concurrently; a store either serialises them or
  // detects conflicts at commit (see Commit). Unavailable when the store stays busy (e.g. another
  // process holds SQLite's write lock past the busy timeout): retry later.
  virtual Result<std::unique_ptr<ReadModelBatch>> Begin() = 0;

  // Reads of committed data, never blocked by a running transaction.
  // The schema of `table`, or nullopt if there is no such table.
  virtual Result<std::optional<TableSchema>> DescribeTable(std::string_view table) = 0;
  // Every table, by name.
  virtual Result<std::vector<std::string>> ListTables() = 0;
  // The row with `key`, or nullopt. NotFound if the table does not exist.
  virtual Result<std::optional<Row>> Get(std::string_view table, const Key& key) = 0;
  // Up to `limit` rows with key > *after (from the first row when `after` is null), ascending by
  // key (CompareKeys). NotFound if the table does not exist.
  virtual Result<std::vector<Row>> Scan(std::string_view table, const Key* after,
                                        std::size_t limit) = 0;
  // Scan into `*rows`: on success `*rows` holds exactly the rows Scan would return. Rows and
  // values already in `*rows` are overwritten in place, so a caller that reuses one vector across
  // pages keeps the capacity of its rows and strings (no allocation per row once it has grown).
  // On failure `*rows` is left in an unspecified but valid state. The default calls Scan.
  virtual Status ScanInto(std::string_view table, const Key* after, std::size_t limit,
                          std::vector<Row>* rows) {
    Result<std::vector<Row>> page = Scan(table, after, limit);
    if (!page.ok()) return page.status();
    *rows = std::move(*page);
    return Status::Ok();
  }

  // Where the store lives, for messages: "sqlite:/path", "rocksdb:/dir", "memory:".
  virtual std::string Describe() const = 0;
};

}  // namespace sluice
