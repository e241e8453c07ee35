// A bounded least-recently-used map from stream name to its head (private).
// Not thread-safe: owned by whichever thread leads the current group commit.
#pragma once

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "keys.h"

namespace sluice::internal {

class HeadCache {
 public:
  explicit HeadCache(std::size_t capacity) : capacity_(capacity) {}

  std::optional<HeadValue> Get(const std::string& stream);
  void Put(const std::string& stream, const HeadValue& head);
  std::size_t size() const { return map_.size(); }

 private:
  using Entry = std::pair<std::string, HeadValue>;
  std::size_t capacity_;
  std::list<Entry> lru_;                                                  // most recent first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> map_;  // keys view lru_ nodes
};

}  // namespace sluice::internal
