// The typed value encoding of change.h: from the raw form the capture triggers write to the
// canonical JSON the public Change carries.
//
// Raw form (private to this module, written by SQL): a JSON object {column: [type, value]} where
// type is SQLite's typeof() and value is the integer, the text, printf('%!.20e') of a real (enough
// digits to give back the same double; "Inf"/"-Inf" when infinite), hex() of a blob, or null.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/projections/table.h"

namespace sluice::migration {

// The canonical JSON text (change.h) of a raw row or key object; Corruption if it is malformed
// or holds text that is not UTF-8.
Result<std::string> CanonicalFromRaw(std::string_view raw);

// The canonical typed JSON object {names[i]: values[i]} (change.h), in the order given. A NaN or
// infinite real becomes {"$real": ...}. `names` and `values` have the same size.
std::string TypedJsonOf(const std::vector<std::string>& names, const std::vector<Value>& values);

// A canonical typed JSON object as (column, value) pairs in document order; Corruption when it is
// not one (a real without fraction is accepted, an integer outside int64 is not).
Result<std::vector<std::pair<std::string, Value>>> ValuesOfTypedJson(std::string_view object);

}  // namespace sluice::migration
