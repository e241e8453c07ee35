// Amounts of money are whole cents in a std::int64_t (never floating point); FormatCents shows
// them as "1234.50".
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace example {

inline std::string FormatCents(std::int64_t cents) {
  const std::uint64_t magnitude =
      cents < 0 ? 0 - static_cast<std::uint64_t>(cents) : static_cast<std::uint64_t>(cents);
  char text[32];
  std::snprintf(text, sizeof text, "%s%llu.%02llu", cents < 0 ? "-" : "",
                static_cast<unsigned long long>(magnitude / 100),
                static_cast<unsigned long long>(magnitude % 100));
  return text;
}

}  // namespace example
