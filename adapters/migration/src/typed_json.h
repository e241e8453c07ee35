// The typed value encoding of change.h: from the raw form the capture triggers write to the
// canonical JSON the public Change carries.
//
// Raw form (private to this module, written by SQL): a JSON object {column: [type, value]} where
// type is SQLite's typeof() and value is the integer, the text, printf('%!.20e') of a real (enough
// digits to give back the same double; "Inf"/"-Inf" when infinite), hex() of a blob, or null.
#pragma once

#include <string>
#include <string_view>

#include "sluice/core/status.h"

namespace sluice::migration {

// The canonical JSON text (change.h) of a raw row or key object; Corruption if it is malformed
// or holds text that is not UTF-8.
Result<std::string> CanonicalFromRaw(std::string_view raw);

// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);

}  // namespace sluice::migration
