// The RocksDB options and column families of an event store (private). Shared with the benchmark,
// so its raw-RocksDB baseline runs on exactly the same tuning.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <vector>

#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::internal {

rocksdb::Options StoreDbOptions(const RocksEventStoreOptions& options, bool follower);

// Descriptors in handle order: default, log, streams, heads, ids, snapshots.
std::vector<rocksdb::ColumnFamilyDescriptor> StoreFamilies(const RocksEventStoreOptions& options);

}  // namespace sluice::internal
