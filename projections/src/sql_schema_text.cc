#include "sluice/projections/sql_schema_text.h"

#include <utility>
#include <vector>

namespace sluice {
namespace {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t at = text.find(separator);
    if (at == std::string_view::npos) {
      parts.push_back(text);
      return parts;
    }
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + 1);
  }
}

void AppendNames(const std::vector<Column>& columns, std::string* list) {
  for (const Column& column : columns) {
    if (!list->empty()) *list += ", ";
    *list += QuoteSqlIdentifier(column.name);
  }
}

}  // namespace

std::string QuoteSqlIdentifier(std::string_view name) {
  std::string quoted;
  quoted.reserve(name.size() + 2);
  quoted += '"';
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string SqlColumnList(const TableSchema& schema) {
  std::string list;
  AppendNames(schema.key, &list);
  AppendNames(schema.columns, &list);
  return list;
}

std::string SqlKeyList(const TableSchema& schema) {
  std::string list;
  AppendNames(schema.key, &list);
  return list;
}

std::string SqlReplaceOnConflict(const TableSchema& schema) {
  std::string sql = " ON CONFLICT (" + SqlKeyList(schema) + ") DO ";
  if (schema.columns.empty()) return sql + "NOTHING";
  sql += "UPDATE SET ";
  for (std::size_t i = 0; i < schema.columns.size(); ++i) {
    if (i > 0) sql += ", ";
    const std::string column = QuoteSqlIdentifier(schema.columns[i].name);
    sql += column + " = excluded." + column;
  }
  return sql;
}

std::string EncodeSchemaText(const TableSchema& schema) {
  std::string text;
  auto add = [&text](std::string_view role, const Column& column) {
    text += role;
    text += ' ';
    text += column.name;
    text += ' ';
    text += ColumnTypeName(column.type);
    text += '\n';
  };
  for (const Column& column : schema.key) add("key", column);
  for (const Column& column : schema.columns) add("column", column);
  return text;
}

Result<TableSchema> DecodeSchemaText(std::string_view name, std::string_view text) {
  auto damaged = [name](std::string_view why) {
    return Status::Corruption("catalog entry of table '" + std::string(name) +
                              "' is damaged: " + std::string(why));
  };
  TableSchema schema;
  schema.name = std::string(name);
  if (text.empty() || text.back() != '\n') return damaged("it does not end with a newline");
  text.remove_suffix(1);
  for (std::string_view line : Split(text, '\n')) {
    const std::vector<std::string_view> fields = Split(line, ' ');
    if (fields.size() != 3) return damaged("line '" + std::string(line) + "' has not 3 fields");
    Column column;
    column.name = std::string(fields[1]);
    static constexpr ColumnType kTypes[] = {ColumnType::kInteger, ColumnType::kReal,
                                            ColumnType::kText, ColumnType::kBlob};
    bool known = false;
    for (ColumnType type : kTypes) {
      if (fields[2] == ColumnTypeName(type)) {
        column.type = type;
        known = true;
      }
    }
    if (!known) return damaged("unknown column type '" + std::string(fields[2]) + "'");
    if (fields[0] == "key") {
      if (!schema.columns.empty()) return damaged("a key column follows the other columns");
      schema.key.push_back(std::move(column));
    } else if (fields[0] == "column") {
      schema.columns.push_back(std::move(column));
    } else {
      return damaged("unknown role '" + std::string(fields[0]) + "'");
    }
  }
  Status valid = ValidateSchema(schema, /*allow_reserved=*/true);
  if (!valid.ok()) return damaged(valid.message());
  return schema;
}

}  // namespace sluice
