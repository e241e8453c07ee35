// The read-model store conformance suite (read_model_store_conformance.h) for the stores in
// sluice::projections: in memory, and RocksDB in a temporary folder.
#include "conformance/read_model_store_conformance.h"

#include <memory>
#include <string>

#include "conformance/temp_dir.h"
#include "sluice/projections/in_memory_read_model_store.h"
#include "sluice/projections/rocks_read_model_store.h"

namespace sluice {
namespace {

struct InMemoryReadModelFactory {
  static std::string Name() { return "InMemory"; }
  static constexpr bool kPersistent = false;
  Result<std::unique_ptr<ReadModelStore>> Open() { return NewInMemoryReadModelStore(); }
};

// A RocksDB read-model store in a fresh temporary folder, removed after the test.
struct RocksReadModelFactory {
  static std::string Name() { return "RocksDB"; }
  static constexpr bool kPersistent = true;
  Result<std::unique_ptr<ReadModelStore>> Open() {
    return OpenRocksReadModelStore(dir.Sub("read-model"));
  }
  testing::TempDir dir;
};

INSTANTIATE_TYPED_TEST_SUITE_P(InMemory, ReadModelStoreConformance,
                               ::testing::Types<InMemoryReadModelFactory>,
                               conformance::ReadModelFactoryNames);
INSTANTIATE_TYPED_TEST_SUITE_P(RocksDB, ReadModelStoreConformance,
                               ::testing::Types<RocksReadModelFactory>,
                               conformance::ReadModelFactoryNames);

}  // namespace
}  // namespace sluice
