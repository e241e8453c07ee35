#include "postgres_support.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <pqxx/except>
#include <utility>
#include <variant>

#include "sluice/projections/sql_schema_text.h"

namespace sluice::postgres_internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string_view SqlType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "BIGINT";
    case ColumnType::kReal:
      return "DOUBLE PRECISION";
    case ColumnType::kText:
      return "TEXT COLLATE \"C\"";
    case ColumnType::kBlob:
      return "BYTEA";
  }
  return "BYTEA";
}

std::string_view ArrayType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "bigint[]";
    case ColumnType::kReal:
      return "double precision[]";
    case ColumnType::kText:
      return "text[]";
    case ColumnType::kBlob:
      return "bytea[]";
  }
  return "bytea[]";
}

void AppendHex(std::string_view bytes, std::string* out) {
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out->push_back(kHex[b >> 4]);
    out->push_back(kHex[b & 0x0f]);
  }
}

void AppendInteger(std::int64_t value, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, result.ptr);
}

// Shortest text that reads back as the same double; PostgreSQL's spelling of the infinities.
void AppendReal(double value, std::string* out) {
  if (value == std::numeric_limits<double>::infinity()) {
    *out += "Infinity";
  } else if (value == -std::numeric_limits<double>::infinity()) {
    *out += "-Infinity";
  } else {
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    out->append(buf, result.ptr);
  }
}

// "$first = $1 AND ..." matching every key column to parameters from `first`.
std::string KeyMatch(const TableSchema& schema, std::size_t first) {
  std::string match;
  for (std::size_t i = 0; i < schema.key.size(); ++i) {
    if (i > 0) match += " AND ";
    match += QuoteSqlIdentifier(schema.key[i].name) + " = $" + std::to_string(first + i);
  }
  return match;
}

// The row's ordered scan: keys after parameters from `first` (if `after`), limit in the next.
std::string ScanSql(const std::string& table, const TableSchema& schema, bool after,
                    std::size_t first) {
  const std::size_t n = schema.key.size();
  std::string sql = "SELECT " + SqlColumnList(schema) + " FROM " + table;
  if (after) {
    std::string params;
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) params += ", ";
      params += "$" + std::to_string(first + i);
    }
    if (n == 1) {
      sql += " WHERE " + SqlKeyList(schema) + " > " + params;
    } else {
      sql += " WHERE (" + SqlKeyList(schema) + ") > (" + params + ")";
    }
  }
  sql += " ORDER BY " + SqlKeyList(schema) + " LIMIT $" + std::to_string(first + (after ? n : 0));
  return sql;
}

// The catalog check around a read: one row of NULLs if `inner` has none, nothing if the
// catalog's entry for $1 is not $2.
std::string Checked(std::string_view pg_schema, const std::string& inner) {
  return "SELECT sluice_r.* FROM " + Qualified(pg_schema, kCatalogTable) +
         " AS sluice_c LEFT JOIN LATERAL (" + inner +
         ") AS sluice_r ON true WHERE sluice_c.name = $1 AND sluice_c.schema = $2";
}

// The rows come as one array per column, zipped by unnest.
std::string UpsertSql(const std::string& table, const TableSchema& schema) {
  std::string arrays;
  for (std::size_t i = 0; i < schema.width(); ++i) {
    if (i > 0) arrays += ", ";
    arrays += "$" + std::to_string(i + 1) + "::" + std::string(ArrayType(ColumnAt(schema, i).type));
  }
  return "INSERT INTO " + table + " (" + SqlColumnList(schema) + ") SELECT * FROM unnest(" +
         arrays + ")" + SqlReplaceOnConflict(schema);
}

std::string EraseSql(const std::string& table, const TableSchema& schema) {
  std::string arrays;
  std::string names;
  std::string match;
  for (std::size_t i = 0; i < schema.key.size(); ++i) {
    if (i > 0) {
      arrays += ", ";
      names += ", ";
      match += " AND ";
    }
    const std::string name = "k" + std::to_string(i);
    arrays += "$" + std::to_string(i + 1) + "::" + std::string(ArrayType(schema.key[i].type));
    names += name;
    match += "sluice_t." + QuoteSqlIdentifier(schema.key[i].name) + " = sluice_d." + name;
  }
  return "DELETE FROM " + table + " AS sluice_t USING unnest(" + arrays + ") AS sluice_d(" + names +
         ") WHERE " + match;
}

bool Utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;   // no overlong forms
      if (c == 0xed) high = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (n - i < length) return false;
    const auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < low || second > high) return false;
    for (std::size_t k = 2; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < 0x80 || next > 0xbf) return false;
    }
    i += length;
  }
  return true;
}

// The first line of a libpq/libpqxx message, without its "ERROR:" tag.
std::string ServerMessage(const std::exception& error) {
  std::string_view text = error.what();
  for (std::string_view tag : {"ERROR:", "FATAL:"}) {
    if (text.substr(0, tag.size()) == tag) text.remove_prefix(tag.size());
  }
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  const std::size_t line = text.find('\n');
  // A connection failure spans lines that belong together; a statement error's next lines only
  // quote the statement.
  if (dynamic_cast<const pqxx::broken_connection*>(&error) == nullptr) text = text.substr(0, line);
  return std::string(text);
}

}  // namespace

const Column& ColumnAt(const TableSchema& schema, std::size_t i) {
  return i < schema.key.size() ? schema.key[i] : schema.columns[i - schema.key.size()];
}

std::string_view StoredName(std::string_view name) { return name.substr(0, kMaxNameBytes); }

bool IsReservedName(std::string_view name) {
  return name.substr(0, kReservedPrefix.size()) == kReservedPrefix;
}

std::string Qualified(std::string_view pg_schema, std::string_view table) {
  return QuoteSqlIdentifier(pg_schema) + "." + QuoteSqlIdentifier(table);
}

std::string CreateTableSql(std::string_view pg_schema, std::string_view table,
                           const TableSchema& schema) {
  std::string sql = "CREATE TABLE " + Qualified(pg_schema, table) + " (";
  for (const Column& column : schema.key) {
    sql +=
        QuoteSqlIdentifier(column.name) + " " + std::string(SqlType(column.type)) + " NOT NULL, ";
  }
  for (const Column& column : schema.columns) {
    sql += QuoteSqlIdentifier(column.name) + " " + std::string(SqlType(column.type)) + ", ";
  }
  return sql + "PRIMARY KEY (" + SqlKeyList(schema) + "))";
}

std::string StatementSql(StatementKind kind, std::string_view pg_schema, std::string_view table,
                         const TableSchema& schema) {
  const std::string qualified = Qualified(pg_schema, table);
  const std::string get = "SELECT " + SqlColumnList(schema) + " FROM " + qualified + " WHERE ";
  switch (kind) {
    case StatementKind::kGet:
      return get + KeyMatch(schema, 1);
    case StatementKind::kUpsert:
      return UpsertSql(qualified, schema);
    case StatementKind::kErase:
      return EraseSql(qualified, schema);
    case StatementKind::kCheckedGet:
      return Checked(pg_schema, get + KeyMatch(schema, 3));
    case StatementKind::kCheckedScanFirst:
      return Checked(pg_schema, ScanSql(qualified, schema, /*after=*/false, 3));
    case StatementKind::kCheckedScanAfter:
      return Checked(pg_schema, ScanSql(qualified, schema, /*after=*/true, 3));
  }
  return {};
}

std::string KeyParameter(const Value& value) {
  std::string text;
  switch (value.index()) {
    case 1:
      AppendInteger(std::get<std::int64_t>(value), &text);
      break;
    case 2:
      AppendReal(std::get<double>(value), &text);
      break;
    case 3:
      text = std::get<std::string>(value);
      break;
    case 4: {
      const std::string& bytes = std::get<Blob>(value).bytes;
      text.reserve(2 + 2 * bytes.size());
      text += "\\x";
      AppendHex(bytes, &text);
      break;
    }
    default:
      break;
  }
  return text;
}

void ArrayBuilder::Add(const Value& value) {
  if (!first_) text_ += ',';
  first_ = false;
  switch (value.index()) {
    case 1:
      AppendInteger(std::get<std::int64_t>(value), &text_);
      break;
    case 2:
      AppendReal(std::get<double>(value), &text_);
      break;
    case 3: {
      // Quoted, with " and \ escaped by a backslash.
      const std::string& text = std::get<std::string>(value);
      text_.reserve(text_.size() + text.size() + 2);
      text_ += '"';
      for (char c : text) {
        if (c == '"' || c == '\\') text_ += '\\';
        text_ += c;
      }
      text_ += '"';
      break;
    }
    case 4: {
      // The element's text is bytea's \x form; inside quotes its backslash is escaped.
      const std::string& bytes = std::get<Blob>(value).bytes;
      text_.reserve(text_.size() + 2 * bytes.size() + 5);
      text_ += "\"\\\\x";
      AppendHex(bytes, &text_);
      text_ += '"';
      break;
    }
    default:
      text_ += "NULL";
      break;
  }
}

std::string ArrayBuilder::Finish() {
  text_ += '}';
  std::string done = std::move(text_);
  text_ = "{";
  first_ = true;
  return done;
}

Result<Value> ParseField(ColumnType type, std::string_view text, std::string_view column) {
  auto bad = [&](std::string_view what) {
    return Status::Corruption("column '" + std::string(column) + "' holds " +
                              std::string(text.substr(0, 40)) + ", not " + std::string(what));
  };
  const char* end = text.data() + text.size();
  switch (type) {
    case ColumnType::kInteger: {
      std::int64_t value = 0;
      const auto result = std::from_chars(text.data(), end, value);
      if (result.ec != std::errc() || result.ptr != end) return bad("an integer");
      return Value(value);
    }
    case ColumnType::kReal: {
      double value = 0;
      const auto result = std::from_chars(text.data(), end, value);
      if (result.ec != std::errc() || result.ptr != end) return bad("a double");
      return Value(value);
    }
    case ColumnType::kText:
      return Value(std::string(text));
    case ColumnType::kBlob: {
      if (text.size() % 2 != 0 || text.substr(0, 2) != "\\x") return bad("bytea in hex form");
      Blob blob;
      blob.bytes.resize(text.size() / 2 - 1);
      for (std::size_t i = 0; i < blob.bytes.size(); ++i) {
        int digits[2];
        for (int k = 0; k < 2; ++k) {
          const char c = text[2 + 2 * i + static_cast<std::size_t>(k)];
          digits[k] = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
          if (digits[k] < 0) return bad("bytea in hex form");
        }
        blob.bytes[i] = static_cast<char>(digits[0] * 16 + digits[1]);
      }
      return Value(std::move(blob));
    }
  }
  return bad("a known type");
}

Status CheckText(const TableSchema& schema, const Row& row, bool utf8) {
  for (std::size_t i = 0; i < row.size(); ++i) {
    const std::string* text = std::get_if<std::string>(&row[i]);
    if (text == nullptr) continue;
    const bool nul = text->find('\0') != std::string::npos;
    if (!nul && (!utf8 || Utf8(*text))) continue;
    const Column& column = ColumnAt(schema, i);
    return Status::InvalidArgument(
        "column '" + column.name + "' of table '" + schema.name + "': " +
        (nul ? "PostgreSQL text cannot hold a NUL byte (store such bytes in a blob column)"
             : "the text is not valid UTF-8"));
  }
  return Status::Ok();
}

std::size_t ByteSize(const std::vector<Value>& values) {
  std::size_t size = 0;
  for (const Value& value : values) {
    size += 8;
    if (const auto* text = std::get_if<std::string>(&value)) size += text->size();
    if (const auto* blob = std::get_if<Blob>(&value)) size += blob->bytes.size();
  }
  return size;
}

std::string SqlState(const std::exception& error) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) return sql->sqlstate();
  return {};
}

bool TableChanged(const std::string& sqlstate) {
  // undefined_table, undefined_column, feature_not_supported ("cached plan must not change
  // result type"), datatype_mismatch.
  return sqlstate == "42P01" || sqlstate == "42703" || sqlstate == "0A000" || sqlstate == "42804";
}

Status ErrorStatus(const std::exception& error, const ServerAddress& address,
                   std::string_view where, std::string_view what) {
  const std::string message =
      std::string(where) + ": " + std::string(what) + ": " + Redact(ServerMessage(error), address);
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) {
    return Status::Unavailable(std::string(where) + ": " + std::string(what) +
                               ": lost the connection to " + address.HostPort() + ": " +
                               Redact(ServerMessage(error), address));
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&error) != nullptr) {
    // Serialization failure, deadlock, or a statement whose outcome the server cannot tell.
    return Status::Unavailable(message + " (conflict with a concurrent transaction: begin again)");
  }
  const std::string state = SqlState(error);
  const std::string_view cls = std::string_view(state).substr(0, 2);
  if (cls == "40") {
    return Status::Unavailable(message + " (conflict with a concurrent transaction: begin again)");
  }
  if (cls == "08" || cls == "53" || cls == "57" || state == "55P03" || state == "55006") {
    // Connection trouble, the server short of resources, shutting down or cancelling (statement
    // and lock timeouts), an object in use.
    return Status::Unavailable(message);
  }
  if (cls == "22" || cls == "23" || cls == "54") return Status::InvalidArgument(message);
  if (cls == "XX" && (state == "XX001" || state == "XX002")) return Status::Corruption(message);
  return Status::IOError(message);
}

}  // namespace sluice::postgres_internal
