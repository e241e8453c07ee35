// A read-model store in a RocksDB database of its own, separate from the event store. Transactions
// are optimistic: they run in parallel and Commit returns Unavailable when one conflicts with a
// transaction committed since it began: a row it read (Get) or a table it used was changed. Rows
// it only wrote (Put, Delete) do not conflict: the later commit wins, as if the transactions had
// run one after the other. Commits are synced by default.
//
// One process opens the database at a time; a second gets Unavailable.
#pragma once

#include <memory>
#include <string>

#include "sluice/projections/read_model_store.h"

namespace sluice {

struct RocksReadModelStoreOptions {
  bool create_if_missing = true;  // create the database if `dir` holds none. Default true.
  // true (default): a commit returns after its write-ahead log is fsync'ed (survives power loss).
  // false: survives a crash of the process but may lose the last commits on power loss; the
  // checkpoint is lost with them, so the worker applies those events again: nothing is lost.
  bool sync = true;
  std::size_t block_cache_bytes = 32 << 20;  // Default 32 MiB.
};

// Opens (or creates) the store in `dir`. Unavailable if another process has it open.
Result<std::unique_ptr<ReadModelStore>> OpenRocksReadModelStore(
    const std::string& dir, const RocksReadModelStoreOptions& options = {});

}  // namespace sluice
