#include "sluice/migration/canonical.h"

#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <variant>

namespace sluice::migration {
namespace {

// Tags of the encoding: one byte, then a payload whose length is fixed or prefixed.
constexpr char kNullTag = 'N';
constexpr char kIntegerTag = 'I';  // 8 bytes, big-endian two's complement
constexpr char kRealTag = 'R';     // 8 bytes of the IEEE double (never -0.0 or NaN)
constexpr char kTextTag = 'T';     // 8-byte length, bytes
constexpr char kBlobTag = 'B';     // 8-byte length, bytes
constexpr char kDecimalTag = 'D';  // 8-byte length, "[-]digits e exponent" without extra zeros
constexpr char kTimeTag = 'S';     // 8-byte length, normalised timestamp text
constexpr char kBoolTag = 'b';     // '0' or '1'

void AppendU64(std::uint64_t n, std::string* out) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(n & 0xff);
    n >>= 8;
  }
  out->append(bytes, 8);
}

void AppendSized(char tag, std::string_view bytes, std::string* out) {
  out->push_back(tag);
  AppendU64(bytes.size(), out);
  out->append(bytes);
}

void AppendInteger(std::int64_t n, std::string* out) {
  out->push_back(kIntegerTag);
  AppendU64(static_cast<std::uint64_t>(n), out);
}

// A number: integral values within int64 as integers, so 1 and 1.0 encode the same.
void AppendNumber(double real, std::string* out) {
  if (std::isnan(real)) {
    out->push_back(kNullTag);
    return;
  }
  if (real == 0) real = 0;  // -0.0 -> 0.0
  // [-2^63, 2^63): every double in it that is integral is an exact int64.
  if (std::isfinite(real) && std::trunc(real) == real && real >= -9223372036854775808.0 &&
      real < 9223372036854775808.0) {
    AppendInteger(static_cast<std::int64_t>(real), out);
    return;
  }
  std::uint64_t bits = 0;
  std::memcpy(&bits, &real, sizeof bits);
  out->push_back(kRealTag);
  AppendU64(bits, out);
}

// The shortest text that reads back as `number`, as ToReadModelValue writes it.
std::string ShortestText(double number) {
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof buffer, number);
  return std::string(buffer, result.ptr);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "[-]digits e exponent" with no leading or trailing zeros in digits ("0" for zero), or nullopt
// when `text` is not a decimal number ([+-]digits[.digits][e[+-]digits], digits on at least one
// side of the point).
std::optional<std::string> CanonicalDecimal(std::string_view text) {
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  std::string digits;
  std::int64_t exponent = 0;
  std::size_t integer_digits = 0;
  std::size_t fraction_digits = 0;
  for (; i < text.size() && IsDigit(text[i]); ++i, ++integer_digits) digits += text[i];
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && IsDigit(text[i]); ++i, ++fraction_digits) digits += text[i];
  }
  if (integer_digits + fraction_digits == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exponent_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      exponent_negative = text[i++] == '-';
    }
    const std::size_t start = i;
    for (; i < text.size() && IsDigit(text[i]); ++i) {
      if (exponent > 1'000'000'000) return std::nullopt;
      exponent = exponent * 10 + (text[i] - '0');
    }
    if (i == start) return std::nullopt;
    if (exponent_negative) exponent = -exponent;
  }
  if (i != text.size()) return std::nullopt;
  exponent -= static_cast<std::int64_t>(fraction_digits);
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return std::string("0");
  digits.erase(0, first);
  const std::size_t last = digits.find_last_not_of('0');
  exponent += static_cast<std::int64_t>(digits.size() - last - 1);
  digits.erase(last + 1);
  return (negative ? "-" : "") + digits + "e" + std::to_string(exponent);
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void CivilFromDays(std::int64_t z, std::int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<std::int64_t>(yoe) + era * 400 + (*m <= 2);
}

// Reads exactly `count` digits at text[*i].
bool Digits(std::string_view text, std::size_t* i, std::size_t count, unsigned* value) {
  if (*i + count > text.size()) return false;
  *value = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const char c = text[*i + k];
    if (!IsDigit(c)) return false;
    *value = *value * 10 + static_cast<unsigned>(c - '0');
  }
  *i += count;
  return true;
}

void AppendDigits(std::uint64_t value, int width, std::string* out) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (int k = n; k < width; ++k) out->push_back('0');
  while (n > 0) out->push_back(digits[--n]);
}

// Appends the normalised form of a timestamp text: "YYYY-MM-DDTHH:MM:SS[.fraction]" (fraction
// without trailing zeros), converted to UTC with a trailing "Z" when `to_utc`; otherwise a given
// offset is kept as written. Returns false, appending nothing, when it does not parse. Called for
// every timestamp value the watcher hashes, so it parses in place and allocates nothing beyond
// `*out`'s growth.
bool AppendCanonicalTimestamp(std::string_view text, bool to_utc, std::string* out) {
  std::size_t i = 0;
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(text, &i, 4, &year) || i >= text.size() || text[i++] != '-' ||
      !Digits(text, &i, 2, &month) || i >= text.size() || text[i++] != '-' ||
      !Digits(text, &i, 2, &day)) {
    return false;
  }
  if (i >= text.size() || (text[i] != 'T' && text[i] != 't' && text[i] != ' ')) {
    return false;
  }
  ++i;
  if (!Digits(text, &i, 2, &hour) || i >= text.size() || text[i++] != ':' ||
      !Digits(text, &i, 2, &minute)) {
    return false;
  }
  std::string_view fraction;
  if (i < text.size() && text[i] == ':') {
    ++i;
    if (!Digits(text, &i, 2, &second)) return false;
    if (i < text.size() && text[i] == '.') {
      const std::size_t start = ++i;
      while (i < text.size() && IsDigit(text[i])) ++i;
      if (i == start) return false;
      fraction = text.substr(start, i - start);
    }
  }
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60) {
    return false;
  }
  std::string_view offset_text = text.substr(i);
  std::int64_t offset_minutes = 0;
  if (!offset_text.empty()) {
    if (offset_text == "Z" || offset_text == "z") {
      offset_text = "Z";
    } else if (offset_text[0] == '+' || offset_text[0] == '-') {
      std::size_t j = 1;
      unsigned oh = 0, om = 0;
      if (!Digits(offset_text, &j, 2, &oh)) return false;
      if (j < offset_text.size() && offset_text[j] == ':') ++j;
      if (j < offset_text.size() && !Digits(offset_text, &j, 2, &om)) return false;
      if (j != offset_text.size() || oh > 23 || om > 59) return false;
      offset_minutes = (offset_text[0] == '-' ? -1 : 1) * static_cast<std::int64_t>(oh * 60 + om);
    } else {
      return false;
    }
  }
  std::int64_t y = year;
  unsigned m = month, d = day;
  std::int64_t minutes_of_day = static_cast<std::int64_t>(hour) * 60 + minute;
  std::string_view suffix;
  if (to_utc) {
    std::int64_t total = DaysFromCivil(y, m, d) * 1440 + minutes_of_day - offset_minutes;
    const std::int64_t days = total >= 0 ? total / 1440 : -((-total + 1439) / 1440);
    minutes_of_day = total - days * 1440;
    CivilFromDays(days, &y, &m, &d);
    suffix = "Z";
  } else {
    suffix = offset_text;
  }
  // As printf("%04lld-%02u-%02uT%02lld:%02lld:%02u"): a negative year is '-' and at least 3
  // digits.
  if (y < 0) {
    out->push_back('-');
    AppendDigits(static_cast<std::uint64_t>(-y), 3, out);
  } else {
    AppendDigits(static_cast<std::uint64_t>(y), 4, out);
  }
  out->push_back('-');
  AppendDigits(m, 2, out);
  out->push_back('-');
  AppendDigits(d, 2, out);
  out->push_back('T');
  AppendDigits(static_cast<std::uint64_t>(minutes_of_day / 60), 2, out);
  out->push_back(':');
  AppendDigits(static_cast<std::uint64_t>(minutes_of_day % 60), 2, out);
  out->push_back(':');
  AppendDigits(second, 2, out);
  if (!fraction.empty()) {
    out->push_back('.');
    out->append(fraction);
  }
  out->append(suffix);
  return true;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view TrimTrailingSpaces(std::string_view text) {
  const std::size_t end = text.find_last_not_of(' ');
  return end == std::string_view::npos ? std::string_view() : text.substr(0, end + 1);
}

// The read-model column type is text: a number is its text, as the mirror stores it.
bool StoredAsText(LogicalType type) { return ReadModelTypeOf(type) == ColumnType::kText; }

void AppendText(std::string_view text, const CanonicalColumn& column, std::string* out) {
  if (column.blank_padded) text = TrimTrailingSpaces(text);
  switch (column.type) {
    case LogicalType::kDecimal:
      if (std::optional<std::string> decimal = CanonicalDecimal(text)) {
        AppendSized(kDecimalTag, *decimal, out);
        return;
      }
      break;
    case LogicalType::kTimestamp:
    case LogicalType::kTimestampTz: {
      // The tag, a length placeholder, then the text in place; the length is patched after.
      const std::size_t at = out->size();
      out->push_back(kTimeTag);
      out->append(8, '\0');
      if (AppendCanonicalTimestamp(text, column.type == LogicalType::kTimestampTz, out)) {
        std::uint64_t length = out->size() - at - 9;
        for (std::size_t k = 8; k >= 1; --k) {
          (*out)[at + k] = static_cast<char>(length & 0xff);
          length >>= 8;
        }
        return;
      }
      out->resize(at);
      break;
    }
    case LogicalType::kBoolean: {
      const std::string lower = Lower(text);
      if (lower == "t" || lower == "true") {
        out->append({kBoolTag, '1'});
        return;
      }
      if (lower == "f" || lower == "false") {
        out->append({kBoolTag, '0'});
        return;
      }
      break;
    }
    default:
      break;
  }
  AppendSized(kTextTag, text, out);
}

}  // namespace

CanonicalColumn CanonicalColumnOf(const LegacyColumn& column) {
  CanonicalColumn out;
  out.type = column.type;
  const std::string declared = Lower(column.declared_type);
  out.blank_padded = declared.rfind("character(", 0) == 0 || declared.rfind("bpchar", 0) == 0 ||
                     declared == "character";
  return out;
}

void AppendCanonical(const Value& value, const CanonicalColumn& column, std::string* out) {
  switch (value.index()) {
    case 0:
      out->push_back(kNullTag);
      return;
    case 1: {
      const std::int64_t integer = std::get<std::int64_t>(value);
      if (column.type == LogicalType::kBoolean && (integer == 0 || integer == 1)) {
        out->append({kBoolTag, static_cast<char>('0' + integer)});
      } else if (column.type == LogicalType::kDecimal) {
        AppendText(std::to_string(integer), column, out);
      } else if (StoredAsText(column.type)) {
        AppendSized(kTextTag, std::to_string(integer), out);
      } else {
        AppendInteger(integer, out);
      }
      return;
    }
    case 2: {
      const double real = std::get<double>(value);
      if (std::isnan(real)) {
        out->push_back(kNullTag);
      } else if (column.type == LogicalType::kBoolean && (real == 0 || real == 1)) {
        out->append({kBoolTag, real == 1 ? '1' : '0'});
      } else if (column.type == LogicalType::kDecimal) {
        AppendText(ShortestText(real), column, out);
      } else if (StoredAsText(column.type)) {
        AppendSized(kTextTag, ShortestText(real), out);
      } else {
        AppendNumber(real, out);
      }
      return;
    }
    case 3:
      AppendText(std::get<std::string>(value), column, out);
      return;
    case 4:
      AppendSized(kBlobTag, std::get<Blob>(value).bytes, out);
      return;
    default:
      out->push_back(kNullTag);
  }
}

std::string Canonical(const Value& value, const CanonicalColumn& column) {
  std::string out;
  AppendCanonical(value, column, &out);
  return out;
}

bool CanonicallyEqual(const Value& a, const Value& b, const CanonicalColumn& column) {
  return Canonical(a, column) == Canonical(b, column);
}

Hash128 HashBytes(std::string_view bytes) {
  const XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  return Hash128{hash.low64, hash.high64};
}

Hash128 HashOfHashes(const Hash128* hashes, std::size_t count) {
  const XXH128_hash_t hash = XXH3_128bits(hashes, count * sizeof(Hash128));
  return Hash128{hash.low64, hash.high64};
}

std::string HashHex(const Hash128& hash) {
  char buffer[33];
  std::snprintf(buffer, sizeof buffer, "%016llx%016llx", static_cast<unsigned long long>(hash.high),
                static_cast<unsigned long long>(hash.low));
  return buffer;
}

}  // namespace sluice::migration
