#include "sluice/migration/legacy_url.h"

#include <string_view>

#include "sluice/migration/postgres_legacy_source.h"
#include "sluice/migration/sqlite_legacy_source.h"

namespace sluice::migration {

Result<std::unique_ptr<LegacySource>> OpenLegacySource(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return OpenPostgresLegacySource(url);
  }
  if (url.rfind(kSqlite, 0) != 0 || url.size() == kSqlite.size()) {
    return Status::InvalidArgument("'" + url +
                                   "' is not a database URL (sqlite:PATH or "
                                   "postgresql://user[:password]@host:port/dbname)");
  }
  return OpenSqliteLegacySource(url.substr(kSqlite.size()));
}

}  // namespace sluice::migration
