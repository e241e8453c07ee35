#include "sluice/cli/read_model_url.h"

#include <filesystem>
#include <system_error>

#include "sluice/projections/rocks_read_model_store.h"
#ifdef SLUICE_CLI_WITH_SQLITE
#include "sluice/sqlite/sqlite_read_model_store.h"
#endif
#ifdef SLUICE_CLI_WITH_POSTGRES
#include "sluice/postgres/postgres_read_model_store.h"
#endif

namespace sluice {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kRocksPrefix = "rocksdb:";

Status BadUrl(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("read-model URL '" + RedactedReadModelUrl(url) +
                                 "': " + std::string(why) +
                                 " (expected sqlite:PATH, rocksdb:DIR or "
                                 "postgresql://user@host:port/dbname)");
}

}  // namespace

std::string RedactedReadModelUrl(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::size_t authority = scheme_end + 3;
  const std::size_t at = url.find('@', authority);
  const std::size_t slash = url.find('/', authority);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
    return std::string(url);
  }
  const std::size_t colon = url.find(':', authority);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Result<ReadModelUrl> ParseReadModelUrl(std::string_view url) {
  ReadModelUrl parsed;
  if (url.starts_with(kSqlitePrefix)) {
    parsed.kind = ReadModelKind::kSqlite;
    parsed.path = std::string(url.substr(kSqlitePrefix.size()));
  } else if (url.starts_with(kRocksPrefix)) {
    parsed.kind = ReadModelKind::kRocksDb;
    parsed.path = std::string(url.substr(kRocksPrefix.size()));
  } else if (url.starts_with("postgresql:") || url.starts_with("postgres:")) {
    // Not echoed: it may hold a password.
    if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
      return BadUrl("postgresql:...", "a PostgreSQL URL starts with postgresql://");
    }
    parsed.kind = ReadModelKind::kPostgres;
    parsed.path = std::string(url);
    if (url.ends_with("://")) return BadUrl(url, "no server after the '//'");
#ifndef SLUICE_CLI_WITH_POSTGRES
    return BadUrl("postgresql://...",
                  "this build has no PostgreSQL support (SLUICE_BUILD_POSTGRES=OFF)");
#endif
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
  if (parsed->kind == ReadModelKind::kPostgres) {
#ifdef SLUICE_CLI_WITH_POSTGRES
    return OpenPostgresReadModelStore(parsed->path);
#else
    return BadUrl("postgresql://...", "this build has no PostgreSQL support");
#endif
  }
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
  return Status::InvalidArgument("read-model URL '" + RedactedReadModelUrl(url) +
                                 "': no SQLite support in this build");
#endif
}

}  // namespace sluice
