// The port's small pure functions: names of operations and logical types, SQLite's type affinity,
// and the mirror's read-model column types and value conversion.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

#include "sluice/migration/legacy_source.h"
#include "sqlite_db.h"

namespace sluice::migration {
namespace {

std::string Upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

bool Has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// The shortest text that reads back as exactly `number`.
std::string ShortestText(double number) {
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof buffer, number);
  return std::string(buffer, result.ptr);
}

}  // namespace

std::string_view ChangeOpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kInsert:
      return "insert";
    case ChangeOp::kUpdate:
      return "update";
    case ChangeOp::kDelete:
      return "delete";
    case ChangeOp::kTruncate:
      return "truncate";
  }
  return "unknown";
}

std::string_view LogicalTypeName(LogicalType type) {
  switch (type) {
    case LogicalType::kInteger:
      return "integer";
    case LogicalType::kReal:
      return "real";
    case LogicalType::kDecimal:
      return "decimal";
    case LogicalType::kBoolean:
      return "boolean";
    case LogicalType::kText:
      return "text";
    case LogicalType::kBlob:
      return "blob";
    case LogicalType::kTimestamp:
      return "timestamp";
    case LogicalType::kTimestampTz:
      return "timestamptz";
    case LogicalType::kDate:
      return "date";
    case LogicalType::kOther:
      return "other";
  }
  return "other";
}

LogicalType SqliteLogicalType(std::string_view declared_type) {
  const std::string type = Upper(declared_type);
  // SQLite's affinity rules, in their order; the names it leaves to NUMERIC are refined.
  if (Has(type, "INT")) return LogicalType::kInteger;
  if (Has(type, "CHAR") || Has(type, "CLOB") || Has(type, "TEXT")) return LogicalType::kText;
  if (Has(type, "BLOB")) return LogicalType::kBlob;
  if (type.empty()) return LogicalType::kOther;
  if (Has(type, "REAL") || Has(type, "FLOA") || Has(type, "DOUB")) return LogicalType::kReal;
  if (Has(type, "BOOL")) return LogicalType::kBoolean;
  if (Has(type, "TIMESTAMPTZ") || Has(type, "WITH TIME ZONE")) return LogicalType::kTimestampTz;
  if (Has(type, "DATETIME") || Has(type, "TIMESTAMP")) return LogicalType::kTimestamp;
  if (Has(type, "DATE")) return LogicalType::kDate;
  return LogicalType::kDecimal;
}

ColumnType ReadModelTypeOf(LogicalType type) {
  switch (type) {
    case LogicalType::kInteger:
    case LogicalType::kBoolean:
      return ColumnType::kInteger;
    case LogicalType::kReal:
      return ColumnType::kReal;
    case LogicalType::kBlob:
      return ColumnType::kBlob;
    default:
      return ColumnType::kText;
  }
}

Result<Value> ToReadModelValue(const Value& value, ColumnType type) {
  if (std::holds_alternative<std::monostate>(value)) return value;
  if (const auto* real = std::get_if<double>(&value); real != nullptr && std::isnan(*real)) {
    return Value{};
  }
  switch (type) {
    case ColumnType::kInteger:
      if (std::holds_alternative<std::int64_t>(value)) return value;
      break;
    case ColumnType::kReal:
      if (std::holds_alternative<double>(value)) return value;
      if (const auto* integer = std::get_if<std::int64_t>(&value)) {
        return Value{static_cast<double>(*integer)};
      }
      break;
    case ColumnType::kText:
      if (std::holds_alternative<std::string>(value)) return value;
      if (const auto* integer = std::get_if<std::int64_t>(&value)) {
        return Value{std::to_string(*integer)};
      }
      if (const auto* real = std::get_if<double>(&value)) return Value{ShortestText(*real)};
      break;
    case ColumnType::kBlob:
      if (std::holds_alternative<Blob>(value)) return value;
      break;
  }
  return Status::InvalidArgument("the value " + DescribeValue(value) +
                                 " does not fit a read-model column of type " +
                                 std::string(ColumnTypeName(type)));
}

}  // namespace sluice::migration
