// Text that read-model stores keeping tables in a SQL database (SQLite, PostgreSQL) build from a
// TableSchema: quoted identifiers, column lists, and the schema as the text their catalogs keep.
#pragma once

#include <string>
#include <string_view>

#include "sluice/core/status.h"
#include "sluice/projections/table.h"

namespace sluice {

// `name` as a quoted SQL identifier: "name", with every " doubled. Safe for any name without a
// NUL byte (which ValidateSchema refuses).
std::string QuoteSqlIdentifier(std::string_view name);

// The quoted names of every column, key columns first, separated by ", ".
std::string SqlColumnList(const TableSchema& schema);
// The quoted names of the key columns, separated by ", ".
std::string SqlKeyList(const TableSchema& schema);

// " ON CONFLICT (<key columns>) DO UPDATE SET <column> = excluded.<column>, ..." (or DO NOTHING
// for a table of key columns only): what makes an INSERT replace the row with the same key, in
// SQLite and PostgreSQL alike.
std::string SqlReplaceOnConflict(const TableSchema& schema);

// A schema as catalog text (without its name, which is the catalog's key): one line per column,
// "key <name> <type>" or "column <name> <type>", key columns first. Operators can read it; equal
// schemas give equal text.
std::string EncodeSchemaText(const TableSchema& schema);
// The schema of table `name` from its catalog text. Corruption, naming the table, if the text is
// damaged or describes an invalid schema.
Result<TableSchema> DecodeSchemaText(std::string_view name, std::string_view text);

}  // namespace sluice
