// Read-model stores named by URL, as `sluice` and worker processes take them:
//   sqlite:PATH      a SQLite database file (adapters/sqlite), e.g. sqlite:/var/lib/shop/read.db
//   rocksdb:DIR      a RocksDB read-model database folder (projections/rocks_read_model_store.h)
//   postgresql://user[:password]@host:port/dbname   (postgres:// too) a PostgreSQL database
//                    (adapters/postgres), tables in its "public" schema
// PATH and DIR are everything after the first ':', taken as they are (relative to the working
// directory unless absolute), and must not be empty. A PostgreSQL URL is checked in full only
// when it is opened (InvalidArgument then); the password never appears in errors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/core/status.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {

enum class ReadModelKind : std::uint8_t { kSqlite, kRocksDb, kPostgres };

struct ReadModelUrl {
  ReadModelKind kind = ReadModelKind::kSqlite;
  std::string path;  // the file (sqlite), the folder (rocksdb) or the whole URL (postgres)
};

// `url` fit for messages and logs: the password of a postgresql:// URL becomes "***".
std::string RedactedReadModelUrl(std::string_view url);

// InvalidArgument saying what is wrong, without touching the file system.
Result<ReadModelUrl> ParseReadModelUrl(std::string_view url);

struct OpenReadModelOptions {
  // Create the database if there is none. false: NotFound instead, and nothing is created (for
  // tools that only look). Default true. PostgreSQL: the database must exist either way; the
  // store's catalog tables are created in it when missing (they are empty).
  bool create_if_missing = true;
};

// Opens the read-model store named by `url` (synced commits, the stores' defaults).
// InvalidArgument for a bad or unsupported URL (also when this build has no SQLite or PostgreSQL
// support); NotFound as above; otherwise the store's own errors, e.g. Unavailable when another
// process has the RocksDB read model open or the PostgreSQL server cannot be reached.
Result<std::unique_ptr<ReadModelStore>> OpenReadModel(const std::string& url,
                                                      const OpenReadModelOptions& options = {});

}  // namespace sluice
