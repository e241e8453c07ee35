#include "sqlite_support.h"

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace sluice::sqlite_internal {

Status SqliteStatus(sqlite3* db, int rc, std::string_view where, std::string_view what,
                    StatusCode generic_error) {
  std::string message(where);
  message += ": ";
  message += what;
  message += ": ";
  // sqlite3_errmsg describes the last failure on `db`; sqlite3_errstr only the code (used when
  // there is no handle, e.g. a failed open).
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_SCHEMA:
    case SQLITE_INTERRUPT:
      return Status::Unavailable(std::move(message));
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return Status::InvalidArgument(std::move(message));
    case SQLITE_CORRUPT:
      return Status::Corruption(std::move(message));
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(message) +
                                " (the file is not a SQLite database, or its header is damaged)");
    case SQLITE_ERROR:
      switch (generic_error) {
        case StatusCode::kInvalidArgument:
          return Status::InvalidArgument(std::move(message));
        case StatusCode::kCorruption:
          return Status::Corruption(std::move(message));
        default:
          return Status::IOError(std::move(message));
      }
    default:
      return Status::IOError(std::move(message));
  }
}

int BindValue(sqlite3_stmt* stmt, int index, const Value& value) {
  switch (value.index()) {
    case 1:
      return sqlite3_bind_int64(stmt, index, std::get<std::int64_t>(value));
    case 2:
      return sqlite3_bind_double(stmt, index, std::get<double>(value));
    case 3: {
      const std::string& text = std::get<std::string>(value);
      return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
    }
    case 4: {
      const std::string& bytes = std::get<Blob>(value).bytes;
      // sqlite3_bind_blob binds NULL for a null pointer; a zero-length zeroblob is an empty BLOB.
      if (bytes.empty()) return sqlite3_bind_zeroblob(stmt, index, 0);
      return sqlite3_bind_blob64(stmt, index, bytes.data(), bytes.size(), SQLITE_STATIC);
    }
    default:
      return sqlite3_bind_null(stmt, index);
  }
}

Value ColumnValue(sqlite3_stmt* stmt, int index) {
  switch (sqlite3_column_type(stmt, index)) {
    case SQLITE_INTEGER:
      return Value(static_cast<std::int64_t>(sqlite3_column_int64(stmt, index)));
    case SQLITE_FLOAT:
      return Value(sqlite3_column_double(stmt, index));
    case SQLITE_TEXT: {
      // The pointer first, then the size (the order sqlite3_column_bytes documents).
      const unsigned char* text = sqlite3_column_text(stmt, index);
      const int size = sqlite3_column_bytes(stmt, index);
      if (text == nullptr || size <= 0) return Value(std::string());
      return Value(
          std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)));
    }
    case SQLITE_BLOB: {
      const void* bytes = sqlite3_column_blob(stmt, index);
      const int size = sqlite3_column_bytes(stmt, index);
      if (bytes == nullptr || size <= 0) return Value(Blob{});
      return Value(
          Blob{std::string(static_cast<const char*>(bytes), static_cast<std::size_t>(size))});
    }
    default:
      return Value();
  }
}

void AssignColumnValue(sqlite3_stmt* stmt, int index, Value* value) {
  switch (sqlite3_column_type(stmt, index)) {
    case SQLITE_INTEGER:
      *value = static_cast<std::int64_t>(sqlite3_column_int64(stmt, index));
      return;
    case SQLITE_FLOAT:
      *value = sqlite3_column_double(stmt, index);
      return;
    case SQLITE_TEXT: {
      // The pointer first, then the size (the order sqlite3_column_bytes documents).
      const unsigned char* text = sqlite3_column_text(stmt, index);
      const int size = sqlite3_column_bytes(stmt, index);
      std::string* out = std::get_if<std::string>(value);
      if (out == nullptr) out = &value->emplace<std::string>();
      if (text == nullptr || size <= 0) {
        out->clear();
      } else {
        out->assign(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
      }
      return;
    }
    case SQLITE_BLOB: {
      const void* bytes = sqlite3_column_blob(stmt, index);
      const int size = sqlite3_column_bytes(stmt, index);
      Blob* out = std::get_if<Blob>(value);
      if (out == nullptr) out = &value->emplace<Blob>();
      if (bytes == nullptr || size <= 0) {
        out->bytes.clear();
      } else {
        out->bytes.assign(static_cast<const char*>(bytes), static_cast<std::size_t>(size));
      }
      return;
    }
    default:
      *value = std::monostate{};
      return;
  }
}

std::string_view SqlType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kReal:
      return "REAL";
    case ColumnType::kText:
      return "TEXT";
    case ColumnType::kBlob:
      return "BLOB";
  }
  return "BLOB";
}

std::string CreateTableSql(const TableSchema& schema, bool if_not_exists) {
  std::string sql = if_not_exists ? "CREATE TABLE IF NOT EXISTS " : "CREATE TABLE ";
  sql += QuoteSqlIdentifier(schema.name) + " (";
  for (const Column& column : schema.key) {
    sql += QuoteSqlIdentifier(column.name);
    sql += ' ';
    sql += SqlType(column.type);
    sql += " NOT NULL, ";
  }
  for (const Column& column : schema.columns) {
    sql += QuoteSqlIdentifier(column.name);
    sql += ' ';
    sql += SqlType(column.type);
    sql += ", ";
  }
  sql += "PRIMARY KEY (";
  for (std::size_t i = 0; i < schema.key.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += QuoteSqlIdentifier(schema.key[i].name);
  }
  sql += ")) STRICT, WITHOUT ROWID";
  return sql;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool IsReservedTableName(std::string_view name) {
  return EqualsIgnoreCase(name, kCatalogTable) ||
         (name.size() >= 7 && EqualsIgnoreCase(name.substr(0, 7), "sqlite_"));
}

}  // namespace sluice::sqlite_internal
