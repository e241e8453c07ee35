#include "sluice/cli/read_model_url.h"

#include <filesystem>
#include <system_error>

#include "sluice/projections/rocks_read_model_store.h"
#ifdef SLUICE_CLI_WITH_SQLITE
#include "sluice/sqlite/sqlite_read_model_store.h"
#endif

namespace sluice {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kRocksPrefix = "rocksdb:";

Status BadUrl(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("read-model URL '" + std::string(url) + "': " + std::string(why) +
                                 " (expected sqlite:PATH or rocksdb:DIR)");
}

}  // namespace

Result<ReadModelUrl> ParseReadModelUrl(std::string_view url) {
  ReadModelUrl parsed;
  if (url.starts_with(kSqlitePrefix)) {
    parsed.kind = ReadModelKind::kSqlite;
    parsed.path = std::string(url.substr(kSqlitePrefix.size()));
  } else if (url.starts_with(kRocksPrefix)) {
    parsed.kind = ReadModelKind::kRocksDb;
    parsed.path = std::string(url.substr(kRocksPrefix.size()));
  } else if (url.starts_with("postgresql:") || url.starts_with("postgres:")) {
    return BadUrl(url, "PostgreSQL read models are not supported yet");
  } else if (url.empty()) {
    return BadUrl(url, "empty");
  } else {
    return BadUrl(url, "unknown kind of read model");
  }
  if (parsed.path.empty()) return BadUrl(url, "no path after the ':'");
#ifndef SLUICE_CLI_WITH_SQLITE
  if (parsed.kind == ReadModelKind::kSqlite) {
    return BadUrl(url, "this build has no SQLite support (SLUICE_BUILD_SQLITE=OFF)");
  }
#endif
  return parsed;
}

Result<std::unique_ptr<ReadModelStore>> OpenReadModel(const std::string& url,
                                                      const OpenReadModelOptions& options) {
  Result<ReadModelUrl> parsed = ParseReadModelUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (!options.create_if_missing) {
    std::error_code ec;
    if (!std::filesystem::exists(parsed->path, ec)) {
      return Status::NotFound("no read model at '" + url + "'");
    }
  }
  if (parsed->kind == ReadModelKind::kRocksDb) {
    RocksReadModelStoreOptions rocks;
    rocks.create_if_missing = options.create_if_missing;
    return OpenRocksReadModelStore(parsed->path, rocks);
  }
#ifdef SLUICE_CLI_WITH_SQLITE
  SqliteReadModelStoreOptions sqlite;
  sqlite.create_if_missing = options.create_if_missing;
  return OpenSqliteReadModelStore(parsed->path, sqlite);
#else
  return Status::InvalidArgument("read-model URL '" + url + "': no SQLite support in this build");
#endif
}

}  // namespace sluice
