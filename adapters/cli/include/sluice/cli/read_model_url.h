// Read-model stores named by URL, as `sluice` and worker processes take them:
//   sqlite:PATH      a SQLite database file (adapters/sqlite), e.g. sqlite:/var/lib/shop/read.db
//   rocksdb:DIR      a RocksDB read-model database folder (projections/rocks_read_model_store.h)
//   postgresql://... reserved: not supported yet (InvalidArgument)
// PATH and DIR are everything after the first ':', taken as they are (relative to the working
// directory unless absolute), and must not be empty.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/core/status.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

enum class ReadModelKind : std::uint8_t { kSqlite, kRocksDb };

struct ReadModelUrl {
  ReadModelKind kind = ReadModelKind::kSqlite;
  std::string path;  // the file (sqlite) or folder (rocksdb)
};

// InvalidArgument saying what is wrong, without touching the file system.
Result<ReadModelUrl> ParseReadModelUrl(std::string_view url);

struct OpenReadModelOptions {
  // Create the database if there is none. false: NotFound instead, and nothing is created (for
  // tools that only look). Default true.
  bool create_if_missing = true;
};

// Opens the read-model store named by `url` (synced commits, the stores' defaults).
// InvalidArgument for a bad or unsupported URL (also when this build has no SQLite support);
// NotFound as above; otherwise the store's own errors, e.g. Unavailable when another process has
// the RocksDB read model open.
Result<std::unique_ptr<ReadModelStore>> OpenReadModel(const std::string& url,
                                                      const OpenReadModelOptions& options = {});

}  // namespace sluice
