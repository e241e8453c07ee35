// Opening a legacy database by URL, as the `sluice migrate` and `sluice watch` commands do.
//
//   sqlite:PATH                                        an existing SQLite database file
//   postgresql://user[:password]@host:port/dbname      a PostgreSQL database (postgres:// too)
//
// The password never appears in errors or in SourceDescription::location.
#pragma once

#include <memory>
#include <string>

#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"

namespace sluice::migration {

// InvalidArgument for a malformed URL or an unknown scheme; the database's own error otherwise
// (NotFound for a missing SQLite file, Unavailable for an unreachable server).
Result<std::unique_ptr<LegacySource>> OpenLegacySource(const std::string& url);

}  // namespace sluice::migration
