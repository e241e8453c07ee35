// A read-model store in memory: for tests and for read models rebuilt at every start. Transactions
// are serialised (one at a time), so Commit never reports a conflict.
#pragma once

#include <memory>

#include "sluice/projections/read_model_store.h"

namespace sluice {

// Returns a new, empty store.
std::unique_ptr<ReadModelStore> NewInMemoryReadModelStore();

}  // namespace sluice
