// Strict parsing of the tool's numeric and expected-version arguments. CLI11's own conversions
// accept octal, hex, leading blanks and wrap negative numbers into unsigned ones, so numbers are
// taken as text and parsed here: decimal digits only.
#pragma once

#include <cstdint>
#include <string_view>

#include "sluice/core/status.h"
#include "sluice/core/version.h"

namespace sluice::cli {

// A decimal integer in [0, INT64_MAX]; InvalidArgument naming `flag` otherwise.
Result<std::int64_t> ParseNonNegative(std::string_view flag, std::string_view text);

// "any", "no_stream", "stream_exists" or an exact version N >= -1 (-1 is the same as no_stream).
Result<ExpectedVersion> ParseExpectedVersion(std::string_view text);

}  // namespace sluice::cli
