// Small pieces the PostgreSQL store is built from: names, the SQL text of its statements, Values
// as PostgreSQL's text format reads and writes them, and the mapping of libpqxx errors to Status.
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

#include "postgres_url.h"
#include "sluice/core/status.h"
#include "sluice/projections/table.h"

namespace sluice::postgres_internal {

// The store's private tables, in its PostgreSQL schema: the schema of every read-model table, and
// a counter every change of tables increments (so a transaction learns cheaply whether its copy
// of the catalog is current).
inline constexpr std::string_view kCatalogTable = "_sluice_catalog";
inline constexpr std::string_view kCatalogVersionTable = "_sluice_catalog_version";
// Names the store keeps for itself: the two above and the temporary names of tables being
// replaced or renamed inside a transaction.
inline constexpr std::string_view kReservedPrefix = "_sluice_";
// PostgreSQL keeps this many bytes of an identifier (NAMEDATALEN - 1) and drops the rest.
inline constexpr std::size_t kMaxNameBytes = 63;

// Column `i` of `schema`, counting the key columns first (as in a Row).
const Column& ColumnAt(const TableSchema& schema, std::size_t i);

// The name PostgreSQL keeps of `name`: its first 63 bytes.
std::string_view StoredName(std::string_view name);
bool IsReservedName(std::string_view name);

// "schema"."table"
std::string Qualified(std::string_view pg_schema, std::string_view table);

// CREATE TABLE for `schema` under the name `table`: BIGINT, DOUBLE PRECISION, TEXT COLLATE "C"
// (bytewise order) and BYTEA columns, the key columns NOT NULL and the PRIMARY KEY.
std::string CreateTableSql(std::string_view pg_schema, std::string_view table,
                           const TableSchema& schema);

// The statements on one table (`table` is its name in PostgreSQL, `schema` gives the columns).
// Parameters are text; arrays hold one element per row (see ArrayBuilder).
enum class StatementKind {
  kGet,               // $1.. the key
  kUpsert,            // one array per column: inserts the rows, replacing those with the same key
  kErase,             // one array per key column: deletes the rows with these keys
  kCheckedGet,        // $1 table name, $2 catalog text, then the key (see CheckedGetSql)
  kCheckedScanFirst,  // $1, $2 as above, then the limit
  kCheckedScanAfter,  // $1, $2, then the key to start after, then the limit
};
inline constexpr std::size_t kStatementKinds = 6;
std::string StatementSql(StatementKind kind, std::string_view pg_schema, std::string_view table,
                         const TableSchema& schema);

// The store-level reads check, in the statement's own snapshot, that the catalog still holds the
// schema text they were built for: no row at all comes back if it does not (the caller re-reads
// the catalog), otherwise one row per table row, or a single row of NULLs when there is none.

// `value` (a key value: integer, text or blob) as a text-format parameter.
std::string KeyParameter(const Value& value);

// Builds a text-format array parameter, element by element.
class ArrayBuilder {
 public:
  ArrayBuilder() : text_("{") {}
  void Add(const Value& value);
  // The finished literal; the builder is empty afterwards.
  std::string Finish();

 private:
  std::string text_;
  bool first_ = true;
};

// A field of a result (never NULL) as a Value of `type`. Corruption, naming the column, if the
// text is not a value of that type.
Result<Value> ParseField(ColumnType type, std::string_view text, std::string_view column);

// InvalidArgument, naming the column, for text PostgreSQL cannot store: a NUL byte anywhere, or
// (if `utf8`) bytes that are not UTF-8.
Status CheckText(const TableSchema& schema, const Row& row, bool utf8);

// About how many bytes `values` take (for the limits on keys and buffered rows).
std::size_t ByteSize(const std::vector<Value>& values);

// The SQLSTATE of a libpqxx error ("" if it has none).
std::string SqlState(const std::exception& error);
// True for the SQLSTATEs that mean a table is not what a prepared statement expected: it was
// dropped, renamed or changed since (by another transaction, or behind the store's back).
bool TableChanged(const std::string& sqlstate);

// The Status for a libpqxx error while doing `what` at `where`: lost connections, conflicts
// (serialization failures, deadlocks), lock and statement timeouts and a server going down are
// Unavailable; bad data InvalidArgument; data corruption Corruption; anything else IOError.
Status ErrorStatus(const std::exception& error, const ServerAddress& address,
                   std::string_view where, std::string_view what);

}  // namespace sluice::postgres_internal
