// StreamId: the validated name of a stream (1-200 bytes of UTF-8, no control characters).
// By convention `category-id` (e.g. `account-42`); the category is the part before the first '-'.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "sluice/core/status.h"

namespace sluice {

// The category of a stream name: the part before the first '-', or the whole name.
std::string_view CategoryOf(std::string_view stream);

class StreamId {
 public:
  static constexpr std::size_t kMaxBytes = 200;

  // InvalidArgument (naming the problem) unless `name` is 1-200 bytes of valid UTF-8 without
  // control characters (U+0000-U+001F, U+007F-U+009F).
  static Result<StreamId> Make(std::string_view name);
  // Same checks, as a Status.
  static Status Validate(std::string_view name);

  const std::string& str() const { return name_; }
  // The part before the first '-', or the whole name when it has none (CategoryOf).
  std::string_view Category() const;

  friend auto operator<=>(const StreamId&, const StreamId&) = default;

 private:
  explicit StreamId(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

}  // namespace sluice
