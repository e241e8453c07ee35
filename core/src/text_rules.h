// Shared validation of names (stream ids, event types); private to core.
#pragma once

#include <cstddef>
#include <string_view>

#include "sluice/core/status.h"

namespace sluice {

// InvalidArgument naming `what` unless `name` is 1..max_bytes bytes of valid UTF-8 without control
// characters (U+0000-U+001F, U+007F-U+009F).
Status ValidateName(std::string_view what, std::string_view name, std::size_t max_bytes);

}  // namespace sluice
