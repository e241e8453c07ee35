// The read-model store conformance suite (tests/conformance/read_model_store_conformance.h) for
// the SQLite store, in a database file in a temporary folder.
#include <memory>
#include <string>

#include "conformance/read_model_store_conformance.h"
#include "conformance/temp_dir.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

namespace sluice {
namespace {

// A SQLite read-model store in a fresh temporary folder; every Open opens the same file.
struct SqliteFactory {
  static std::string Name() { return "Sqlite"; }
  static constexpr bool kPersistent = true;
  Result<std::unique_ptr<ReadModelStore>> Open() {
    return OpenSqliteReadModelStore(dir.Sub("read-models.db"));
  }
  testing::TempDir dir;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, ReadModelStoreConformance, ::testing::Types<SqliteFactory>,
                               conformance::ReadModelFactoryNames);

}  // namespace
}  // namespace sluice
