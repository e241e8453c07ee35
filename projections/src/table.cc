#include "sluice/projections/table.h"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace sluice {
namespace {

constexpr std::size_t kMaxNameBytes = 64;
constexpr std::string_view kReservedPrefix = "sluice_";
// Values in error messages are cut here, so a 1 MB text does not become a 1 MB message.
constexpr std::size_t kMaxDescribedBytes = 64;

bool IsAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// 'name' quoted for a message; control and non-ASCII bytes as \xNN so messages stay printable.
std::string Quote(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < name.size() && i < kMaxDescribedBytes; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > kMaxDescribedBytes) out += "...";
  out += "'";
  return out;
}

Status CheckTableName(std::string_view name, bool allow_reserved) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return Status::InvalidArgument("table name " + Quote(name) + " must be 1-64 bytes long");
  }
  for (char c : name) {
    if (!IsAsciiLetter(c) && !IsAsciiDigit(c) && c != '_' && c != '.' && c != '-') {
      return Status::InvalidArgument("table name " + Quote(name) +
                                     " may hold only letters, digits, '_', '.' and '-'");
    }
  }
  if (!allow_reserved && name.starts_with(kReservedPrefix)) {
    return Status::InvalidArgument("table name " + Quote(name) +
                                   ": the prefix 'sluice_' is reserved for the runtime's tables");
  }
  return Status::Ok();
}

Status CheckColumnName(std::string_view table, std::string_view name) {
  bool ok =
      !name.empty() && name.size() <= kMaxNameBytes && (IsAsciiLetter(name[0]) || name[0] == '_');
  for (std::size_t i = 1; ok && i < name.size(); ++i) {
    ok = IsAsciiLetter(name[i]) || IsAsciiDigit(name[i]) || name[i] == '_';
  }
  if (!ok) {
    return Status::InvalidArgument("table " + Quote(table) + ": column name " + Quote(name) +
                                   " must match [A-Za-z_][A-Za-z0-9_]* and be at most 64 bytes");
  }
  return Status::Ok();
}

std::string_view ValueTypeName(const Value& value) {
  switch (value.index()) {
    case 0:
      return "NULL";
    case 1:
      return "integer";
    case 2:
      return "real";
    case 3:
      return "text";
    default:
      return "blob";
  }
}

// DescribeValue, cut to kMaxDescribedBytes of payload.
std::string DescribeForMessage(const Value& value) {
  if (const auto* text = std::get_if<std::string>(&value);
      text != nullptr && text->size() > kMaxDescribedBytes) {
    return DescribeValue(Value(text->substr(0, kMaxDescribedBytes))) + "... (" +
           std::to_string(text->size()) + " bytes)";
  }
  if (const auto* blob = std::get_if<Blob>(&value);
      blob != nullptr && blob->bytes.size() > kMaxDescribedBytes) {
    return DescribeValue(Value(Blob{blob->bytes.substr(0, kMaxDescribedBytes)})) + "... (" +
           std::to_string(blob->bytes.size()) + " bytes)";
  }
  return DescribeValue(value);
}

Status WrongType(const TableSchema& schema, const Column& column, const Value& value) {
  return Status::InvalidArgument("table " + Quote(schema.name) + ": column " + Quote(column.name) +
                                 " (" + std::string(ColumnTypeName(column.type)) +
                                 ") cannot hold " + std::string(ValueTypeName(value)) + " " +
                                 DescribeForMessage(value));
}

Status CheckKeyValues(const TableSchema& schema, const Value* values) {
  for (std::size_t i = 0; i < schema.key.size(); ++i) {
    const Column& column = schema.key[i];
    if (std::holds_alternative<std::monostate>(values[i])) {
      return Status::InvalidArgument("table " + Quote(schema.name) + ": key column " +
                                     Quote(column.name) + " cannot be NULL");
    }
    if (!HasColumnType(values[i], column.type)) return WrongType(schema, column, values[i]);
  }
  return Status::Ok();
}

}  // namespace

std::string_view ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "integer";
    case ColumnType::kReal:
      return "real";
    case ColumnType::kText:
      return "text";
    case ColumnType::kBlob:
      return "blob";
  }
  return "unknown";
}

int TableSchema::IndexOf(std::string_view column) const {
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key[i].name == column) return static_cast<int>(i);
  }
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column) return static_cast<int>(key.size() + i);
  }
  return -1;
}

std::strong_ordering CompareKeys(const Key& a, const Key& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Value& x = a[i];
    const Value& y = b[i];
    if (x.index() != y.index()) return x.index() <=> y.index();
    std::strong_ordering order = std::strong_ordering::equal;
    switch (x.index()) {
      case 1:
        order = std::get<std::int64_t>(x) <=> std::get<std::int64_t>(y);
        break;
      case 2: {
        // Never a key type; ordered anyway so the function is total.
        const double dx = std::get<double>(x);
        const double dy = std::get<double>(y);
        order = dx < dy   ? std::strong_ordering::less
                : dy < dx ? std::strong_ordering::greater
                          : std::strong_ordering::equal;
        break;
      }
      case 3:
        // std::string compares bytes as unsigned char, then shorter first.
        order = std::get<std::string>(x).compare(std::get<std::string>(y)) <=> 0;
        break;
      case 4:
        order = std::get<Blob>(x).bytes.compare(std::get<Blob>(y).bytes) <=> 0;
        break;
      default:
        break;
    }
    if (order != std::strong_ordering::equal) return order;
  }
  return a.size() <=> b.size();
}

Key KeyOf(const TableSchema& schema, const Row& row) {
  const std::size_t n = std::min(schema.key.size(), row.size());
  return Key(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(n));
}

Status ValidateTableName(std::string_view name, bool allow_reserved) {
  return CheckTableName(name, allow_reserved);
}

Status ValidateSchema(const TableSchema& schema, bool allow_reserved) {
  SLUICE_RETURN_IF_ERROR(CheckTableName(schema.name, allow_reserved));
  if (schema.key.empty()) {
    return Status::InvalidArgument("table " + Quote(schema.name) +
                                   " needs at least one key column");
  }
  // SQL stores compare names ignoring ASCII case, so every store refuses "id" beside "ID".
  std::set<std::string> seen;
  auto folded = [](std::string_view name) {
    std::string lower(name);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return lower;
  };
  for (const Column& column : schema.key) {
    SLUICE_RETURN_IF_ERROR(CheckColumnName(schema.name, column.name));
    if (column.type == ColumnType::kReal) {
      return Status::InvalidArgument("table " + Quote(schema.name) + ": key column " +
                                     Quote(column.name) +
                                     " cannot be real (keys are integer, text or blob)");
    }
    if (column.type != ColumnType::kInteger && column.type != ColumnType::kText &&
        column.type != ColumnType::kBlob) {
      return Status::InvalidArgument("table " + Quote(schema.name) + ": key column " +
                                     Quote(column.name) + " has an unknown type");
    }
    if (!seen.insert(folded(column.name)).second) {
      return Status::InvalidArgument("table " + Quote(schema.name) + ": column " +
                                     Quote(column.name) + " appears twice (ignoring case)");
    }
  }
  for (const Column& column : schema.columns) {
    SLUICE_RETURN_IF_ERROR(CheckColumnName(schema.name, column.name));
    if (column.type != ColumnType::kInteger && column.type != ColumnType::kReal &&
        column.type != ColumnType::kText && column.type != ColumnType::kBlob) {
      return Status::InvalidArgument("table " + Quote(schema.name) + ": column " +
                                     Quote(column.name) + " has an unknown type");
    }
    if (!seen.insert(folded(column.name)).second) {
      return Status::InvalidArgument("table " + Quote(schema.name) + ": column " +
                                     Quote(column.name) + " appears twice (ignoring case)");
    }
  }
  return Status::Ok();
}

Status ValidateKey(const TableSchema& schema, const Key& key) {
  if (key.size() != schema.key.size()) {
    return Status::InvalidArgument("table " + Quote(schema.name) + ": a key has " +
                                   std::to_string(schema.key.size()) + " value(s), got " +
                                   std::to_string(key.size()));
  }
  return CheckKeyValues(schema, key.data());
}

Status ValidateRow(const TableSchema& schema, Row* row) {
  if (row->size() != schema.width()) {
    return Status::InvalidArgument("table " + Quote(schema.name) + ": a row has " +
                                   std::to_string(schema.width()) + " value(s), got " +
                                   std::to_string(row->size()));
  }
  SLUICE_RETURN_IF_ERROR(CheckKeyValues(schema, row->data()));
  for (std::size_t i = 0; i < schema.columns.size(); ++i) {
    const Column& column = schema.columns[i];
    Value& value = (*row)[schema.key.size() + i];
    if (std::holds_alternative<std::monostate>(value)) continue;
    if (column.type == ColumnType::kReal) {
      if (const auto* integer = std::get_if<std::int64_t>(&value)) {
        value = static_cast<double>(*integer);
      }
      if (auto* real = std::get_if<double>(&value)) {
        if (std::isnan(*real)) {
          return Status::InvalidArgument("table " + Quote(schema.name) + ": column " +
                                         Quote(column.name) +
                                         " cannot hold NaN (SQL stores cannot keep it)");
        }
        if (*real == 0.0) *real = 0.0;  // -0.0 becomes 0.0
        continue;
      }
    }
    if (!HasColumnType(value, column.type)) return WrongType(schema, column, value);
  }
  return Status::Ok();
}

std::string DescribeValue(const Value& value) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (value.index()) {
    case 0:
      return "NULL";
    case 1:
      return std::to_string(std::get<std::int64_t>(value));
    case 2: {
      char buf[64];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), std::get<double>(value));
      if (ec != std::errc()) return "?";
      return std::string(buf, end);
    }
    case 3: {
      const auto& text = std::get<std::string>(value);
      std::string out;
      out.reserve(text.size() + 2);
      out += '\'';
      for (char c : text) {
        if (c == '\'') out += '\'';  // SQL quoting: ' becomes ''
        out += c;
      }
      out += '\'';
      return out;
    }
    default: {
      const auto& bytes = std::get<Blob>(value).bytes;
      std::string out;
      out.reserve(bytes.size() * 2 + 3);
      out += "x'";
      for (char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out += kHex[b >> 4];
        out += kHex[b & 0xf];
      }
      out += '\'';
      return out;
    }
  }
}

bool HasColumnType(const Value& value, ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return std::holds_alternative<std::int64_t>(value);
    case ColumnType::kReal:
      return std::holds_alternative<double>(value);
    case ColumnType::kText:
      return std::holds_alternative<std::string>(value);
    case ColumnType::kBlob:
      return std::holds_alternative<Blob>(value);
  }
  return false;
}

}  // namespace sluice
