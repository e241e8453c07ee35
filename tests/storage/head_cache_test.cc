#include "head_cache.h"

#include <gtest/gtest.h>

namespace sluice::internal {
namespace {

TEST(HeadCacheTest, EvictsLeastRecentlyUsedBeyondCapacity) {
  HeadCache cache(2);
  cache.Put("a", {1, 10});
  cache.Put("b", {2, 20});
  ASSERT_TRUE(cache.Get("a"));  // a is now the most recent
  cache.Put("c", {3, 30});      // evicts b
  EXPECT_TRUE(cache.Get("a"));
  EXPECT_FALSE(cache.Get("b"));
  EXPECT_EQ(cache.Get("c")->version, 3);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(HeadCacheTest, PutUpdatesInPlace) {
  HeadCache cache(4);
  cache.Put("a", {1, 10});
  cache.Put("a", {2, 11});
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Get("a")->last_position, 11u);
}

TEST(HeadCacheTest, ZeroCapacityCachesNothing) {
  HeadCache cache(0);
  cache.Put("a", {1, 10});
  EXPECT_FALSE(cache.Get("a"));
}

}  // namespace
}  // namespace sluice::internal
