// Values of PostgreSQL columns for the PostgreSQL LegacySource: one conversion from PostgreSQL's
// text output to sluice::Value, used both for rows read by a snapshot and for row images in the
// change log, so the two give exactly the same values.
//
// Both paths read text that PostgreSQL's output functions printed under the same settings
// (TimeZone UTC, DateStyle ISO, IntervalStyle postgres, extra_float_digits 3, bytea_output hex):
// the snapshot's session has them, and the capture trigger functions carry them as SET clauses.
//
// Raw form of the change log (written by the trigger functions, private to this module): a JSON
// object {column: value} in table (or key) order where a value is null or the text
// "<category>:<output text>".
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/projections/table.h"

namespace sluice::migration::pg {

// How a column's text output becomes a Value, from the column's base type.
enum class Category : char {
  kInteger = 'i',  // int2, int4, int8 -> int64
  kFloat4 = 'r',   // real -> double (through float, so the value is the float's)
  kFloat8 = 'd',   // double precision -> double
  kBool = 'b',     // boolean -> int64 0 or 1
  kBytea = 'x',    // bytea (hex output) -> Blob
  kText = 't',     // everything else -> the text as printed
};

// The category of a base type by its OID.
Category CategoryOfType(unsigned type_oid);

// The value of `text`, as PostgreSQL printed a value of this category; Corruption if it cannot be.
Result<Value> ValueFromText(Category category, std::string_view text);

// The values of a raw object, in its order, with their column names.
Result<std::vector<std::pair<std::string, Value>>> ValuesOfRaw(std::string_view raw);

// The canonical typed JSON text (change.h) of a raw object; Corruption if it is malformed or
// holds text that is not UTF-8.
Result<std::string> CanonicalOfRaw(std::string_view raw);

}  // namespace sluice::migration::pg
