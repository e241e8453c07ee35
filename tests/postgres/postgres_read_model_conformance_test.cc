// The read-model store conformance suite (tests/conformance/read_model_store_conformance.h) for
// the PostgreSQL store, each test in a schema of its own on the fixture's server.
#include <memory>
#include <string>

#include "conformance/read_model_store_conformance.h"
#include "postgres/postgres_test_server.h"
#include "sluice/postgres/postgres_read_model_store.h"

namespace sluice {
namespace {

// A PostgreSQL read-model store in a fresh schema; every Open opens the same schema.
struct PostgresFactory {
  static std::string Name() { return "Postgres"; }
  static constexpr bool kPersistent = true;
  // PostgreSQL text cannot hold NUL bytes: the store refuses them.
  static constexpr bool kTextMayHoldNul = false;
  Result<std::unique_ptr<ReadModelStore>> Open() {
    PostgresReadModelStoreOptions options;
    options.schema = schema.name();
    return OpenPostgresReadModelStore(url, options);
  }
  std::string url = testing::RequirePostgres();  // skips or fails the test without a server
  testing::ScratchSchema schema{url};
};

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, ReadModelStoreConformance,
                               ::testing::Types<PostgresFactory>,
                               conformance::ReadModelFactoryNames);

}  // namespace
}  // namespace sluice
