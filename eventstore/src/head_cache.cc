#include "head_cache.h"

namespace sluice::internal {

std::optional<HeadValue> HeadCache::Get(const std::string& stream) {
  auto it = map_.find(stream);
  if (it == map_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void HeadCache::Put(const std::string& stream, const HeadValue& head) {
  if (capacity_ == 0) return;
  auto it = map_.find(stream);
  if (it != map_.end()) {
    it->second->second = head;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (map_.size() >= capacity_) {
    map_.erase(lru_.back().first);
    lru_.pop_back();
  }
  lru_.emplace_front(stream, head);
  map_.emplace(lru_.front().first, lru_.begin());
}

}  // namespace sluice::internal
