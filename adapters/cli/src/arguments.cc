#include "arguments.h"

#include <charconv>
#include <string>

namespace sluice::cli {

Result<std::int64_t> ParseNonNegative(std::string_view flag, std::string_view text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const bool digits_only =
      !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
  if (digits_only) {
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec == std::errc() && ptr == end) return value;
  }
  return Status::InvalidArgument(std::string(flag) + ": '" + std::string(text) +
                                 "' is not a non-negative integer");
}

Result<ExpectedVersion> ParseExpectedVersion(std::string_view text) {
  if (text == "any") return ExpectedVersion::Any();
  if (text == "no_stream") return ExpectedVersion::NoStream();
  if (text == "stream_exists") return ExpectedVersion::StreamExists();
  if (text == "-1") return ExpectedVersion::NoStream();
  Result<std::int64_t> version = ParseNonNegative("--expected", text);
  if (!version.ok()) {
    return Status::InvalidArgument("--expected: '" + std::string(text) +
                                   "' is not any, no_stream, stream_exists or a version number");
  }
  return ExpectedVersion::Exact(*version);
}

}  // namespace sluice::cli
