#include "rocks_options.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include "keys.h"

namespace sluice::internal {
namespace {

// `point_lookups`: the family is read by key (heads, ids), so bloom filters pay; otherwise it is
// scanned (log, streams) and larger blocks do.
rocksdb::ColumnFamilyOptions FamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                           bool point_lookups) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (point_lookups) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = true;
    cf.memtable_whole_key_filtering = true;
    cf.memtable_prefix_bloom_size_ratio = 0.05;
  } else {
    table.block_size = 32 << 10;
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.compression = rocksdb::kLZ4Compression;
  cf.bottommost_compression = rocksdb::kZSTD;
  return cf;
}

}  // namespace

rocksdb::Options StoreDbOptions(const RocksEventStoreOptions& options, bool follower) {
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = !follower;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.keep_log_file_num = 4;
  if (follower) db_options.max_open_files = -1;  // required by secondary instances
  return db_options;
}

std::vector<rocksdb::ColumnFamilyDescriptor> StoreFamilies(const RocksEventStoreOptions& options) {
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  return {
      {rocksdb::kDefaultColumnFamilyName, FamilyOptions(cache, true)},
      {kLogFamily, FamilyOptions(cache, false)},
      {kStreamsFamily, FamilyOptions(cache, false)},
      {kHeadsFamily, FamilyOptions(cache, true)},
      {kIdsFamily, FamilyOptions(cache, true)},
      {kSnapshotsFamily, FamilyOptions(cache, true)},
  };
}

}  // namespace sluice::internal
