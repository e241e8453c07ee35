// Canonical typed values: what the sync watcher compares and hashes. The same function is applied
// to a legacy value (LegacySnapshot) and to the read-model value the mirror made of it, given the
// legacy column's logical type, so values that mean the same compare equal and nothing else does.
// docs/migration.md lists these rules with examples.
//
// Rules (each has a test in tests/migration/canonical_test.cc):
//  - NULL, '' and the text '<null>' are three different values.
//  - Numbers: an integer and a real that are numerically equal are equal (1 == 1.0, as REAL
//    affinity turns 1 into 1.0); 1 and 1.5 differ. -0.0 == 0.0. A NaN real equals NULL, because
//    read models cannot hold NaN (ToReadModelValue stores NULL for it): a legacy NaN and a
//    read-model NULL are in sync; a NaN and a number differ. +Infinity and -Infinity equal
//    themselves only.
//  - kDecimal: numbers and numeric text are exact decimals: 1.10 == 1.1 == 1.100, 1e2 == 100,
//    -0 == 0; a real is taken at its shortest round-trip text (0.1 -> 0.1). Text that is not a
//    number (PostgreSQL 'NaN' included) compares as text.
//  - kTimestampTz: text 'YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|+hh|+hh:mm|+hhmm]' is converted to
//    UTC ('2024-01-01 12:00:00+02' == '2024-01-01T10:00:00Z'); no offset means UTC. kTimestamp:
//    'T' vs ' ' and trailing zeros of the fraction are normalised, no time-zone conversion. kDate:
//    text as it is. Text that does not parse compares as text.
//  - kBoolean: 0/1, 't'/'f', 'true'/'false' (any case) are false/true.
//  - kText, kDate, kOther and other text: UTF-8 bytes, compared bytewise, no Unicode
//    normalisation (composed and decomposed 'é' differ: the legacy application may rely on the
//    exact bytes, and a migration must keep them). A number in such a column equals its shortest
//    decimal text, as the mirror stores it (1 == '1').
//  - Blobs bytewise.
//  - PostgreSQL char(n) columns (declared type starting with "character(" or "bpchar"): trailing
//    spaces are ignored, as PostgreSQL does. Other text, keys included, is exact: 'Bob' and 'bob'
//    (or 'a' and 'a ') are different values and different rows.
// Composite keys are compared column by column (the canonical key is the concatenation).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/migration/legacy_source.h"
#include "sluice/projections/table.h"

namespace sluice::migration {

// How the values of one column are normalised.
struct CanonicalColumn {
  LogicalType type = LogicalType::kOther;
  // PostgreSQL char(n): trailing spaces do not count.
  bool blank_padded = false;
};

// The normalisation of `column` (its logical and declared types).
CanonicalColumn CanonicalColumnOf(const LegacyColumn& column);

// Appends the canonical encoding of `value` to `*out`: a tag and a self-delimiting payload, so
// encodings of consecutive values never run into each other. Equal encodings <=> equal values.
void AppendCanonical(const Value& value, const CanonicalColumn& column, std::string* out);

// The canonical encoding of one value.
std::string Canonical(const Value& value, const CanonicalColumn& column);

// True when the two values are the same after normalisation.
bool CanonicallyEqual(const Value& a, const Value& b, const CanonicalColumn& column);

// A 128-bit hash (XXH3_128bits).
struct Hash128 {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

Hash128 HashBytes(std::string_view bytes);
// The hash of a sequence of hashes (a chunk of rows), order-dependent.
Hash128 HashOfHashes(const Hash128* hashes, std::size_t count);
// 32 lowercase hex digits.
std::string HashHex(const Hash128& hash);

}  // namespace sluice::migration
