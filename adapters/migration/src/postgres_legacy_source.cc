#include "sluice/migration/postgres_legacy_source.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pg_values.h"
#include "sluice/core/uuid.h"

namespace sluice::migration {
namespace {

constexpr std::string_view kLogTable = "sluice_change_log";
constexpr std::string_view kStateTable = "sluice_capture_state";
constexpr std::string_view kRowTrigger = "sluice_capture_row";
constexpr std::string_view kTruncateTrigger = "sluice_capture_truncate";
constexpr std::string_view kFunctionPrefix = "sluice_capture_";
// Changes sequenced per sequencer transaction.
constexpr int kSequenceBatch = 50000;

// The settings under which values are printed, on our sessions and on the trigger functions.
constexpr const char* kSessionSettings =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 3; SET bytea_output = 'hex'; SET client_min_messages = warning";
constexpr const char* kFunctionSettings =
    " SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET IntervalStyle = 'postgres'"
    " SET extra_float_digits = 3 SET bytea_output = 'hex'";

// ------------------------------------------------------------------------------------------------
// The URL: what libpq gets, what may be shown, and the secret to keep out of messages.

struct ServerUrl {
  std::string conninfo;  // the URL for libpq (holds the password)
  std::string location;  // postgresql://user@host:port/dbname, nothing secret
  std::vector<std::string> secrets;
};

std::string PercentDecoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16).ptr ==
            text.data() + i + 3) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

Result<ServerUrl> ParseUrl(const std::string& url) {
  constexpr std::string_view kForm = "postgresql://user[:password]@host:port/dbname";
  std::string_view scheme;
  for (std::string_view candidate : {"postgresql://", "postgres://"}) {
    if (url.rfind(candidate, 0) == 0) scheme = candidate;
  }
  ServerUrl out;
  const std::string_view rest = std::string_view(url).substr(scheme.size());
  const std::size_t slash = rest.find('/');
  const std::size_t at = rest.substr(0, slash).rfind('@');
  std::string_view userinfo = at == std::string_view::npos ? "" : rest.substr(0, at);
  const std::size_t colon = userinfo.find(':');
  if (colon != std::string_view::npos) {
    const std::string_view password = userinfo.substr(colon + 1);
    if (password.size() >= 2) {
      out.secrets.emplace_back(password);
      out.secrets.push_back(PercentDecoded(password));
    }
    userinfo = userinfo.substr(0, colon);
  }
  const std::size_t host_start = at == std::string_view::npos ? 0 : at + 1;
  const std::string_view hostport =
      slash == std::string_view::npos ? "" : rest.substr(host_start, slash - host_start);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  const std::size_t query = path.find('?');
  const std::string_view dbname = path.substr(0, query);
  if (scheme.empty() || hostport.empty() || dbname.empty()) {
    // The URL is not repeated: it may hold a password.
    return Status::InvalidArgument("bad PostgreSQL URL (the form is " + std::string(kForm) + ")");
  }
  out.location = std::string(scheme) + std::string(userinfo) + (userinfo.empty() ? "" : "@") +
                 std::string(hostport) + "/" + std::string(dbname);
  out.conninfo = url;
  if (url.find("connect_timeout=") == std::string::npos) {
    out.conninfo += query == std::string_view::npos ? "?" : "&";
    out.conninfo += "connect_timeout=10";
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// A connection with our session settings, and errors as Status without secrets.

class PgConnection {
 public:
  static Result<std::unique_ptr<PgConnection>> Open(const ServerUrl& url) {
    std::unique_ptr<PgConnection> conn(new PgConnection(url));
    try {
      conn->conn_ = std::make_unique<pqxx::connection>(url.conninfo);
    } catch (const std::exception& error) {
      return Status::Unavailable("PostgreSQL " + url.location +
                                 ": cannot connect: " + conn->Redact(error.what()));
    }
    conn->quiet_ = std::make_unique<pqxx::quiet_errorhandler>(*conn->conn_);
    try {
      pqxx::nontransaction tx(*conn->conn_);
      tx.exec(kSessionSettings);
      const pqxx::row row =
          tx.exec1("SELECT current_schema(), current_setting('server_version_num')::int");
      if (row[0].is_null()) {
        return Status::InvalidArgument("PostgreSQL " + url.location +
                                       ": no schema in the search_path to keep the change log in");
      }
      if (row[1].as<int>() < 130000) {
        return Status::InvalidArgument("PostgreSQL " + url.location +
                                       ": change capture needs PostgreSQL 13 or newer");
      }
      conn->schema_ = row[0].as<std::string>();
    } catch (const std::exception& error) {
      return conn->Error(error, "set up the session");
    }
    return conn;
  }

  ~PgConnection() {
    quiet_.reset();
    try {
      if (conn_ != nullptr) conn_->disconnect();
    } catch (...) {  // nothing to do about a failed close
    }
  }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  pqxx::connection& raw() { return *conn_; }
  const std::string& schema() const { return schema_; }
  const std::string& location() const { return url_.location; }
  bool usable() const { return conn_ != nullptr && conn_->is_open() && !broken_; }

  // The name of a prepared statement of `sql` on this connection (prepared on first use, kept
  // for the connection's life).
  const std::string& Prepared(const std::string& sql) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "sluice_" + std::to_string(prepared_.size());
      conn_->prepare(name, sql);
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    return it->second;
  }

  std::string Redact(std::string message) const {
    for (const std::string& secret : url_.secrets) {
      for (std::size_t at = message.find(secret); at != std::string::npos;
           at = message.find(secret, at)) {
        message.replace(at, secret.size(), "***");
      }
    }
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    return message;
  }

  // The Status of `error` while doing `what`: Unavailable when trying again may work (lost
  // connection, serialization failure, deadlock, lock timeout), IOError otherwise.
  Status Error(const std::exception& error, std::string_view what) {
    const std::string message =
        "PostgreSQL " + url_.location + ": " + std::string(what) + ": " + Redact(error.what());
    if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
        dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
      broken_ = true;
      return Status::Unavailable(message);
    }
    if (dynamic_cast<const pqxx::transaction_rollback*>(&error) != nullptr) {
      return Status::Unavailable(message);
    }
    if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
      const std::string state = sql->sqlstate();
      if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
        broken_ = true;
        return Status::Unavailable(message);
      }
      if (state == "55P03" || state == "57014" || state == "40001" || state == "40P01") {
        return Status::Unavailable(message);
      }
    }
    if (conn_ != nullptr && !conn_->is_open()) {
      broken_ = true;
      return Status::Unavailable(message);
    }
    return Status::IOError(message);
  }

 private:
  explicit PgConnection(ServerUrl url) : url_(std::move(url)) {}

  ServerUrl url_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::quiet_errorhandler> quiet_;
  std::string schema_;
  bool broken_ = false;
  std::map<std::string, std::string> prepared_;  // SQL -> statement name
};

// ------------------------------------------------------------------------------------------------
// Tables from the catalog.

struct PgColumn {
  std::string name;
  std::string declared_type;  // format_type()
  std::string type_sql;       // the type (domain included) as a qualified, quoted name
  std::string base_name;      // the base type's name (a domain's base type)
  pg::Category category = pg::Category::kText;
  bool collatable = false;
};

struct PgTable {
  unsigned oid = 0;
  std::string qualified;  // "schema"."name"
  std::string name;       // as asked for
  char relkind = 'r';
  std::vector<PgColumn> columns;
  std::vector<std::size_t> key;  // indexes into columns, primary-key order
};

LogicalType LogicalTypeOf(const std::string& base) {
  if (base == "int2" || base == "int4" || base == "int8") return LogicalType::kInteger;
  if (base == "float4" || base == "float8") return LogicalType::kReal;
  if (base == "numeric") return LogicalType::kDecimal;
  if (base == "bool") return LogicalType::kBoolean;
  if (base == "text" || base == "varchar" || base == "bpchar" || base == "name" ||
      base == "citext") {
    return LogicalType::kText;
  }
  if (base == "bytea") return LogicalType::kBlob;
  if (base == "timestamp") return LogicalType::kTimestamp;
  if (base == "timestamptz") return LogicalType::kTimestampTz;
  if (base == "date") return LogicalType::kDate;
  return LogicalType::kOther;
}

// The table `name` as the search_path finds it (the whole name is one identifier), or nullopt.
std::optional<PgTable> LoadTable(pqxx::transaction_base& tx, const std::string& name) {
  const pqxx::result found = tx.exec_params(
      "SELECT c.oid::int8, c.relkind, quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.oid = to_regclass(quote_ident($1))",
      name);
  if (found.empty()) return std::nullopt;
  PgTable table;
  table.oid = static_cast<unsigned>(found[0][0].as<std::int64_t>());
  table.relkind = found[0][1].c_str()[0];
  table.qualified = found[0][2].as<std::string>();
  table.name = name;
  const pqxx::result columns = tx.exec_params(
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
      "quote_ident(tn.nspname) || '.' || quote_ident(t.typname), "
      "coalesce(bt.oid, t.oid)::int8, coalesce(bt.typname, t.typname), t.typcollation <> 0, "
      "array_position(i.indkey::int2[], a.attnum) "
      "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
      "JOIN pg_namespace tn ON tn.oid = t.typnamespace "
      "LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype "
      "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
      "WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped "
      "ORDER BY a.attnum",
      static_cast<std::int64_t>(table.oid));
  std::vector<std::pair<int, std::size_t>> keys;
  for (const pqxx::row& row : columns) {
    PgColumn column;
    column.name = row[0].as<std::string>();
    column.declared_type = row[1].as<std::string>();
    column.type_sql = row[2].as<std::string>();
    column.category = pg::CategoryOfType(static_cast<unsigned>(row[3].as<std::int64_t>()));
    column.base_name = row[4].as<std::string>();
    column.collatable = row[5].as<bool>();
    if (!row[6].is_null()) keys.emplace_back(row[6].as<int>(), table.columns.size());
    table.columns.push_back(std::move(column));
  }
  std::sort(keys.begin(), keys.end());
  for (const auto& key : keys) table.key.push_back(key.second);
  return table;
}

LegacyTable Public(const PgTable& table) {
  LegacyTable out;
  out.name = table.name;
  for (const PgColumn& column : table.columns) {
    out.columns.push_back({column.name, column.declared_type, LogicalTypeOf(column.base_name)});
  }
  out.key = table.key;
  return out;
}

// How a key column is compared so that the order is CompareKeys' (bytewise for text).
enum class KeyOrder { kNative, kBytes, kPrinted };

KeyOrder KeyOrderOf(const PgColumn& column) {
  if (column.category != pg::Category::kText || column.base_name == "uuid") {
    return KeyOrder::kNative;  // numbers, booleans, bytea (bytewise), uuid (= its text order)
  }
  // Not bpchar: PostgreSQL compares it without its trailing spaces, but prints it padded, and a
  // padded 'a\t' sorts before a padded 'a' by bytes although it is the greater bpchar.
  if (column.collatable &&
      (column.base_name == "text" || column.base_name == "varchar" || column.base_name == "name")) {
    return KeyOrder::kBytes;
  }
  return KeyOrder::kPrinted;  // numeric, dates, bpchar, citext, ...: by the printed text
}

// A key value as text for a parameter compared with a column of this category.
std::string ParameterText(const Value& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  if (const auto* real = std::get_if<double>(&value)) {
    if (std::isnan(*real)) return "NaN";
    if (std::isinf(*real)) return *real > 0 ? "Infinity" : "-Infinity";
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, *real);
    return std::string(buffer, result.ptr);
  }
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* blob = std::get_if<Blob>(&value)) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\\x";
    for (const unsigned char c : blob->bytes) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    return out;
  }
  return {};
}

// The row `row` of a result as Values, by the categories of its columns.
Result<Row> RowOf(const pqxx::row& row, const std::vector<pg::Category>& categories) {
  Row out;
  out.reserve(categories.size());
  for (std::size_t i = 0; i < categories.size(); ++i) {
    const pqxx::field field = row[static_cast<pqxx::row::size_type>(i)];
    if (field.is_null()) {
      out.emplace_back();
      continue;
    }
    Result<Value> value =
        pg::ValueFromText(categories[i], std::string_view(field.c_str(), field.size()));
    if (!value.ok()) return value.status();
    out.push_back(std::move(*value));
  }
  return out;
}

// RowOf into `*out`, overwriting its values in place (text keeps its capacity).
Status AssignRowOf(const pqxx::row& row, const std::vector<pg::Category>& categories, Row* out) {
  out->resize(categories.size());
  for (std::size_t i = 0; i < categories.size(); ++i) {
    const pqxx::field field = row[static_cast<pqxx::row::size_type>(i)];
    Value& value = (*out)[i];
    if (field.is_null()) {
      value = std::monostate{};
      continue;
    }
    const std::string_view text(field.c_str(), field.size());
    if (categories[i] == pg::Category::kText) {
      if (auto* existing = std::get_if<std::string>(&value)) {
        existing->assign(text);
      } else {
        value.emplace<std::string>(text);
      }
      continue;
    }
    Result<Value> parsed = pg::ValueFromText(categories[i], text);
    if (!parsed.ok()) return parsed.status();
    value = std::move(*parsed);
  }
  return Status::Ok();
}

// How a snapshot reads one table: its statements (prepared on each snapshot connection) and how
// its columns become Values. Made from the LegacyTable a caller passes and the table in the
// catalog, and good for as long as neither changes.
struct Plan {
  LegacyTable table;                     // what it was made for
  std::vector<pg::Category> categories;  // of `table.columns`
  std::string first;                     // the first rows; $1 = limit
  std::string after;                     // rows after a key; $1..$n = the key, $n+1 = limit
  std::string row;                       // the row of a key; $1..$n = the key
};

Result<std::shared_ptr<const Plan>> MakePlan(pqxx::connection& conn, const LegacyTable& table,
                                             const PgTable& pg) {
  if (table.key.empty()) return Status::InvalidArgument("table '" + table.name + "' has no key");
  auto plan = std::make_shared<Plan>();
  plan->table = table;
  std::vector<const PgColumn*> columns;
  std::string select = "SELECT ";
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const auto column = std::find_if(pg.columns.begin(), pg.columns.end(), [&](const PgColumn& c) {
      return c.name == table.columns[i].name;
    });
    if (column == pg.columns.end()) {
      return Status::InvalidArgument("table '" + table.name + "' has no column '" +
                                     table.columns[i].name + "' any more");
    }
    columns.push_back(&*column);
    plan->categories.push_back(column->category);
    select += (i > 0 ? ", " : "") + conn.quote_name(column->name);
  }
  select += " FROM " + pg.qualified;
  std::string left;   // the key's ordering expressions
  std::string right;  // the parameters compared with them
  std::string equal;  // the key's equality
  for (std::size_t i = 0; i < table.key.size(); ++i) {
    if (table.key[i] >= columns.size()) {
      return Status::InvalidArgument("table '" + table.name + "': key column out of range");
    }
    const PgColumn& column = *columns[table.key[i]];
    const std::string name = conn.quote_name(column.name);
    const std::string p = "$" + std::to_string(i + 1);
    const std::string separator = i > 0 ? ", " : "";
    if (i > 0) equal += " AND ";
    switch (KeyOrderOf(column)) {
      case KeyOrder::kNative:
        left += separator + name;
        right += separator + p;
        equal += name + " = " + p;
        break;
      case KeyOrder::kBytes:
        left += separator + name + " COLLATE \"C\"";
        right += separator + p;
        equal += name + " = " + p;
        break;
      case KeyOrder::kPrinted:
        left += separator + "format('%s', " + name + ") COLLATE \"C\"";
        right += separator + p + "::text";
        // Exact printed text (numeric 1.10 is not 1.1, bpchar 'a ' is not 'a'), with an
        // indexable equality first.
        equal += name + " = CAST(" + p + "::text AS " + column.type_sql + ") AND format('%s', " +
                 name + ") = " + p + "::text";
        break;
    }
  }
  const std::string limit = " LIMIT $" + std::to_string(table.key.size() + 1);
  plan->first = select + " ORDER BY " + left + " LIMIT $1";
  plan->after = select + " WHERE (" + left + ") > (" + right + ") ORDER BY " + left + limit;
  plan->row = select + " WHERE " + equal;
  return std::shared_ptr<const Plan>(std::move(plan));
}

// ------------------------------------------------------------------------------------------------
// Trigger functions.

// The SQL of the raw object (pg_values.h) of `columns` of row `ref` (NEW or OLD).
std::string RawObjectSql(pqxx::connection& conn, std::string_view ref, const PgTable& table,
                         const std::vector<std::size_t>& indexes) {
  std::string names;
  std::string values;
  for (const std::size_t index : indexes) {
    const PgColumn& column = table.columns[index];
    if (!names.empty()) {
      names += ", ";
      values += ", ";
    }
    const std::string value = std::string(ref) + "." + conn.quote_name(column.name);
    names += conn.quote(column.name);
    // num_nulls: a composite value whose fields are all NULL is not NULL itself.
    values += "CASE WHEN num_nulls(" + value + ") = 0 THEN '" +
              std::string(1, static_cast<char>(column.category)) + ":' || format('%s', " + value +
              ") END";
  }
  return "json_object(ARRAY[" + names + "]::text[], ARRAY[" + values + "]::text[])";
}

std::vector<std::string> CaptureStatements(PgConnection& pg, const PgTable& table) {
  pqxx::connection& conn = pg.raw();
  std::vector<std::size_t> all(table.columns.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  const std::string log = conn.quote_name(pg.schema()) + "." + std::string(kLogTable);
  const std::string insert =
      "INSERT INTO " + log + " (table_name, op, key, row) VALUES (" + conn.quote(table.name) + ", ";
  const std::string new_key = RawObjectSql(conn, "NEW", table, table.key);
  const std::string old_key = RawObjectSql(conn, "OLD", table, table.key);
  const std::string new_row = RawObjectSql(conn, "NEW", table, all);
  // One log row: operation `op`, key and row image expressions.
  const auto log_row = [&](char op, const std::string& key, const std::string& row) {
    return insert + "'" + op + "', " + key + ", " + row + ");\n";
  };
  const std::string key_changed =
      "(" + new_key + ")::text IS DISTINCT FROM (" + old_key + ")::text";
  // A key UPDATE logs the old key's end, then the new key's row. AFTER ROW triggers run at the
  // end of the statement, so when one statement moved another row onto the old key (a shift
  // `SET id = id + 1` or a swap, with a deferrable key), the old key is not gone: it is logged
  // as an update to the row that holds it now instead of a delete.
  std::string same_old_key;
  for (const std::size_t index : table.key) {
    const std::string column = conn.quote_name(table.columns[index].name);
    same_old_key += (same_old_key.empty() ? "" : " AND ") + column + " = OLD." + column;
  }
  const std::string moved_key = RawObjectSql(conn, "moved", table, table.key);
  const std::string moved_row = RawObjectSql(conn, "moved", table, all);
  const std::string body =
      "DECLARE\nmoved " + table.qualified + "%ROWTYPE;\nBEGIN\nIF TG_OP = 'TRUNCATE' THEN\n" +
      log_row('T', "'{}'", "NULL") + "ELSIF TG_OP = 'INSERT' THEN\n" +
      log_row('I', new_key, new_row) + "ELSIF TG_OP = 'UPDATE' AND " + key_changed + " THEN\n" +
      "SELECT * INTO moved FROM " + table.qualified + " WHERE " + same_old_key + ";\n" +
      "IF FOUND THEN\n" + log_row('U', moved_key, moved_row) + "ELSE\n" +
      log_row('D', old_key, "NULL") + "END IF;\n" + log_row('I', new_key, new_row) +
      "ELSIF TG_OP = 'UPDATE' THEN\n" + log_row('U', new_key, new_row) + "ELSE\n" +
      log_row('D', old_key, "NULL") + "END IF;\nRETURN NULL;\nEND";
  const std::string function =
      conn.quote_name(pg.schema()) + "." +
      conn.quote_name(std::string(kFunctionPrefix) + std::to_string(table.oid));
  return {
      "CREATE OR REPLACE FUNCTION " + function + "() RETURNS trigger LANGUAGE plpgsql" +
          kFunctionSettings + " AS " + conn.quote(body),
      "CREATE TRIGGER " + std::string(kRowTrigger) + " AFTER INSERT OR UPDATE OR DELETE ON " +
          table.qualified + " FOR EACH ROW EXECUTE FUNCTION " + function + "()",
      "CREATE TRIGGER " + std::string(kTruncateTrigger) + " AFTER TRUNCATE ON " + table.qualified +
          " FOR EACH STATEMENT EXECUTE FUNCTION " + function + "()",
  };
}

std::vector<std::string> DropStatements(PgConnection& pg, const PgTable& table) {
  pqxx::connection& conn = pg.raw();
  return {
      "DROP TRIGGER IF EXISTS " + std::string(kRowTrigger) + " ON " + table.qualified,
      "DROP TRIGGER IF EXISTS " + std::string(kTruncateTrigger) + " ON " + table.qualified,
      "DROP FUNCTION IF EXISTS " + conn.quote_name(pg.schema()) + "." +
          conn.quote_name(std::string(kFunctionPrefix) + std::to_string(table.oid)) + "()",
  };
}

Result<ChangeOp> OpFromCode(const std::string& code) {
  if (code == "I") return ChangeOp::kInsert;
  if (code == "U") return ChangeOp::kUpdate;
  if (code == "D") return ChangeOp::kDelete;
  if (code == "T") return ChangeOp::kTruncate;
  return Status::Corruption("change log: unknown operation '" + code + "'");
}

// ------------------------------------------------------------------------------------------------

// What a source keeps for its snapshots: one idle connection for the next snapshot (its session
// set up and its statements prepared), and the read plans of tables. Shared with the snapshots,
// since a snapshot may outlive its source and be used by another thread. Thread-safe.
class SnapshotShared {
 public:
  explicit SnapshotShared(ServerUrl url) : url_(std::move(url)) {}

  // A connection for a new snapshot, no transaction open: the idle one if it is still usable,
  // else a new one (so a second snapshot open at the same time gets a connection of its own).
  Result<std::unique_ptr<PgConnection>> Take() {
    std::unique_ptr<PgConnection> conn;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      conn = std::move(idle_);
    }
    if (conn != nullptr && conn->usable()) return conn;
    conn.reset();
    return PgConnection::Open(url_);
  }

  // Takes back the connection of an ended snapshot (no transaction open): kept for the next one
  // if no other is, closed otherwise.
  void Give(std::unique_ptr<PgConnection> conn) {
    if (conn == nullptr || !conn->usable()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_ == nullptr) idle_ = std::move(conn);
    // else `conn` closes on return, after the lock: at most one connection is kept idle
  }

  // The plan made for exactly `table`, or null.
  std::shared_ptr<const Plan> Find(const LegacyTable& table) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = plans_.find(table.name);
    if (it == plans_.end() || !(it->second->table == table)) return nullptr;
    return it->second;
  }

  void Keep(std::shared_ptr<const Plan> plan) {
    std::lock_guard<std::mutex> lock(mutex_);
    plans_[plan->table.name] = std::move(plan);
  }

  // Drops every plan: the schema may have changed.
  void Forget() {
    std::lock_guard<std::mutex> lock(mutex_);
    plans_.clear();
  }

 private:
  const ServerUrl url_;
  std::mutex mutex_;
  std::unique_ptr<PgConnection> idle_;                        // GUARDED_BY(mutex_)
  std::map<std::string, std::shared_ptr<const Plan>> plans_;  // GUARDED_BY(mutex_), by name
};

class PostgresSnapshot final : public LegacySnapshot {
 public:
  PostgresSnapshot(std::shared_ptr<SnapshotShared> shared, std::unique_ptr<PgConnection> conn,
                   std::unique_ptr<pqxx::dbtransaction> transaction, CapturePosition position)
      : shared_(std::move(shared)),
        conn_(std::move(conn)),
        tx_(std::move(transaction)),
        position_(std::move(position)) {}
  ~PostgresSnapshot() override {
    bool ended = false;
    try {
      tx_->abort();
      ended = true;
    } catch (...) {  // the connection is not reused
    }
    tx_.reset();
    if (ended && !discard_) shared_->Give(std::move(conn_));
  }

  const CapturePosition& position() const override { return position_; }

  Result<std::vector<Row>> ReadRows(const LegacyTable& table, const Key* after,
                                    std::size_t limit) override {
    std::vector<Row> rows;
    if (Status s = ReadRowsInto(table, after, limit, &rows); !s.ok()) return s;
    return rows;
  }

  Status ReadRowsInto(const LegacyTable& table, const Key* after, std::size_t limit,
                      std::vector<Row>* rows) override {
    try {
      Result<std::shared_ptr<const Plan>> plan = PlanFor(table, after);
      if (!plan.ok()) return plan.status();
      std::vector<std::string> parameters;
      if (after != nullptr) {
        for (const Value& value : *after) parameters.push_back(ParameterText(value));
      }
      parameters.push_back(std::to_string(std::min<std::size_t>(limit, INT64_MAX)));
      const pqxx::result result =
          tx_->exec_prepared(conn_->Prepared(after != nullptr ? (*plan)->after : (*plan)->first),
                             pqxx::prepare::make_dynamic_params(parameters));
      rows->resize(result.size());
      std::size_t i = 0;
      for (const pqxx::row& row : result) {
        if (Status s = AssignRowOf(row, (*plan)->categories, &(*rows)[i++]); !s.ok()) return s;
      }
      return Status::Ok();
    } catch (const std::exception& error) {
      return Failed(error, "read rows of '" + table.name + "'");
    }
  }

  Result<std::optional<Row>> ReadRow(const LegacyTable& table, const Key& key) override {
    try {
      Result<std::shared_ptr<const Plan>> plan = PlanFor(table, &key);
      if (!plan.ok()) return plan.status();
      std::vector<std::string> parameters;
      for (const Value& value : key) parameters.push_back(ParameterText(value));
      const pqxx::result result = tx_->exec_prepared(
          conn_->Prepared((*plan)->row), pqxx::prepare::make_dynamic_params(parameters));
      if (result.empty()) return std::optional<Row>();
      Result<Row> values = RowOf(result[0], (*plan)->categories);
      if (!values.ok()) return values.status();
      return std::optional<Row>(std::move(*values));
    } catch (const std::exception& error) {
      return Failed(error, "read a row of '" + table.name + "'");
    }
  }

 private:
  // The cached plan of `table` (made in this snapshot's transaction when there is none), after
  // checking that `key` (if any) fits it.
  Result<std::shared_ptr<const Plan>> PlanFor(const LegacyTable& table, const Key* key) {
    std::shared_ptr<const Plan> plan = shared_->Find(table);
    if (plan == nullptr) {
      std::optional<PgTable> loaded = LoadTable(*tx_, table.name);
      if (!loaded) return Status::NotFound("no table '" + table.name + "'");
      Result<std::shared_ptr<const Plan>> made = MakePlan(conn_->raw(), table, *loaded);
      if (!made.ok()) return made.status();
      plan = std::move(*made);
      shared_->Keep(plan);
    }
    if (key != nullptr && key->size() != table.key.size()) {
      return Status::InvalidArgument("a key of table '" + table.name + "' has " +
                                     std::to_string(table.key.size()) + " values, not " +
                                     std::to_string(key->size()));
    }
    return plan;
  }

  // The Status of `error`. A schema error (a table or column gone, a column's type changed)
  // means cached plans may be stale: they are made again, on a connection without their
  // prepared statements.
  Status Failed(const std::exception& error, std::string_view what) {
    if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
      const std::string state = sql->sqlstate();
      if (state.rfind("42", 0) == 0 || state == "0A000") {
        shared_->Forget();
        discard_ = true;
      }
    }
    return conn_->Error(error, what);
  }

  const std::shared_ptr<SnapshotShared> shared_;
  std::unique_ptr<PgConnection> conn_;
  std::unique_ptr<pqxx::dbtransaction> tx_;
  CapturePosition position_;
  bool discard_ = false;  // the connection is not to be reused
};

// ------------------------------------------------------------------------------------------------

class PostgresLegacySource final : public LegacySource {
 public:
  PostgresLegacySource(ServerUrl url, std::unique_ptr<PgConnection> conn)
      : url_(std::move(url)),
        conn_(std::move(conn)),
        snapshots_(std::make_shared<SnapshotShared>(url_)) {}

  Status Install(const std::vector<std::string>& tables) override {
    if (tables.empty()) return Status::InvalidArgument("no tables to capture");
    snapshots_->Forget();
    return Guard("install change capture", [&]() -> Status {
      pqxx::work tx(conn_->raw());
      Lock(tx, "install");
      std::vector<std::string> statements = {
          "CREATE TABLE IF NOT EXISTS " + Log() +
              " (id bigserial PRIMARY KEY, seq bigint UNIQUE, "
              "txid xid8 NOT NULL DEFAULT pg_current_xact_id(), table_name text NOT NULL, "
              "op text NOT NULL, key json NOT NULL, row json)",
          "CREATE INDEX IF NOT EXISTS sluice_change_log_unsequenced ON " + Log() +
              " (id) WHERE seq IS NULL",
          "CREATE INDEX IF NOT EXISTS sluice_change_log_txid ON " + Log() + " (txid)",
          "CREATE TABLE IF NOT EXISTS " + State() + " (name text PRIMARY KEY, value text NOT NULL)",
      };
      for (const std::string& name : tables) {
        if (name == kLogTable || name == kStateTable) {
          return Status::InvalidArgument("table '" + name + "' cannot be captured");
        }
        std::optional<PgTable> table = LoadTable(tx, name);
        if (!table || (table->relkind != 'r' && table->relkind != 'p')) {
          return Status::InvalidArgument("no table '" + name + "' in " + url_.location);
        }
        if (table->key.empty()) {
          return Status::InvalidArgument(
              "table '" + name + "' has no primary key: capture needs one to name each row");
        }
        for (std::string& sql : DropStatements(*conn_, *table))
          statements.push_back(std::move(sql));
        for (std::string& sql : CaptureStatements(*conn_, *table)) {
          statements.push_back(std::move(sql));
        }
      }
      statements.push_back("INSERT INTO " + State() + " (name, value) VALUES ('source_id', " +
                           tx.quote(NewUuid()) + ") ON CONFLICT (name) DO NOTHING");
      for (const std::string& sql : statements) tx.exec(sql);
      tx.commit();
      return Status::Ok();
    });
  }

  Status Uninstall(const std::vector<std::string>& tables) override {
    snapshots_->Forget();
    return Guard("uninstall change capture", [&]() -> Status {
      pqxx::work tx(conn_->raw());
      Lock(tx, "install");
      for (const std::string& name : tables) {
        std::optional<PgTable> table = LoadTable(tx, name);
        if (!table || (table->relkind != 'r' && table->relkind != 'p')) continue;
        for (const std::string& sql : DropStatements(*conn_, *table)) tx.exec(sql);
      }
      if (CapturedTables(tx).empty()) {
        tx.exec("DROP TABLE IF EXISTS " + Log());
        tx.exec("DROP TABLE IF EXISTS " + State());
        // Functions of captured tables that were dropped meanwhile.
        const pqxx::result functions = tx.exec_params(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND "
            "p.proname ~ '^sluice_capture_[0-9]+$' AND p.prorettype = 'trigger'::regtype",
            conn_->schema());
        for (const pqxx::row& row : functions) {
          tx.exec("DROP FUNCTION IF EXISTS " + row[0].as<std::string>() + "()");
        }
      }
      tx.commit();
      return Status::Ok();
    });
  }

  Result<std::vector<Change>> ReadChanges(ChangeId after, std::size_t limit) override {
    return Guard("read changes", [&]() -> Result<std::vector<Change>> {
      std::vector<Change> changes;
      if (!Sequence()) return changes;
      pqxx::work tx(conn_->raw());
      const pqxx::result result =
          tx.exec_params("SELECT seq, table_name, op, key::text, row::text, txid::text FROM " +
                             Log() + " WHERE seq > $1 ORDER BY seq LIMIT $2",
                         after, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
      tx.commit();
      changes.reserve(result.size());
      for (const pqxx::row& row : result) {
        Change change;
        change.change_id = row[0].as<std::int64_t>();
        change.table = row[1].as<std::string>();
        Result<ChangeOp> op = OpFromCode(row[2].as<std::string>());
        if (!op.ok()) return op.status();
        change.op = *op;
        if (change.op == ChangeOp::kTruncate) {
          change.key_json = "{}";
        } else {
          Result<std::string> key = pg::CanonicalOfRaw(row[3].as<std::string>());
          if (!key.ok()) return Located(key.status(), change.change_id);
          change.key_json = std::move(*key);
        }
        if (!row[4].is_null()) {
          Result<std::string> image = pg::CanonicalOfRaw(row[4].as<std::string>());
          if (!image.ok()) return Located(image.status(), change.change_id);
          change.row_json = std::move(*image);
        }
        change.transaction_id = std::stoll(row[5].as<std::string>());
        changes.push_back(std::move(change));
      }
      return changes;
    });
  }

  Result<SourceDescription> Describe() override {
    return Guard("describe", [&]() -> Result<SourceDescription> {
      SourceDescription description;
      description.kind = "postgresql";
      description.location = url_.location;
      const bool installed = Sequence();
      pqxx::work tx(conn_->raw());
      description.tables = CapturedTables(tx);
      if (installed) {
        const pqxx::result id =
            tx.exec("SELECT value FROM " + State() + " WHERE name = 'source_id'");
        if (!id.empty()) description.source_id = id[0][0].as<std::string>();
        description.last_change_id =
            tx.exec1("SELECT coalesce(max(seq), 0) FROM " + Log())[0].as<std::int64_t>();
      }
      tx.commit();
      return description;
    });
  }

  Result<LegacyTable> DescribeTable(const std::string& name) override {
    return Guard("describe table '" + name + "'", [&]() -> Result<LegacyTable> {
      pqxx::work tx(conn_->raw());
      std::optional<PgTable> table = LoadTable(tx, name);
      tx.commit();
      if (!table) return Status::NotFound("no table '" + name + "' in " + url_.location);
      if (table->key.empty()) {
        return Status::InvalidArgument("table '" + name + "' has no primary key");
      }
      return Public(*table);
    });
  }

  Result<std::unique_ptr<LegacySnapshot>> OpenSnapshot() override {
    Result<std::unique_ptr<PgConnection>> own = snapshots_->Take();
    if (!own.ok()) return own.status();
    std::unique_ptr<PgConnection> conn = std::move(*own);
    CapturePosition position;
    std::unique_ptr<pqxx::dbtransaction> tx;
    try {
      tx = std::make_unique<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(conn->raw());
      // The first statement takes the transaction's snapshot.
      const pqxx::row row =
          tx->exec_params1("SELECT pg_current_snapshot()::text, to_regclass($1)", Log());
      if (row[1].is_null()) {
        return Status::InvalidArgument("capture is not installed in " + url_.location +
                                       ": a snapshot needs a change log to be placed in");
      }
      position.snapshot = row[0].as<std::string>();
    } catch (const std::exception& error) {
      return conn->Error(error, "open a snapshot");
    }
    // Read after the snapshot was taken, once every change it sees has an id: each change
    // committed before the snapshot was, so before this statement's own snapshot, which sees
    // its committed version. When that statement finds no change without an id, each change
    // the snapshot sees already has one (given by a committed sequencer), no greater than the
    // max(seq) the same statement reads. Otherwise the sequencer runs first (waiting for any
    // sequencer still running), as ReadChanges does.
    Result<ChangeId> last = Guard("open a snapshot", [&]() -> Result<ChangeId> {
      const std::string max_seq = "SELECT coalesce(max(seq), 0) FROM " + Log();
      try {
        pqxx::nontransaction check(conn_->raw());
        const pqxx::row row = check.exec1("SELECT EXISTS (SELECT FROM " + Log() +
                                          " WHERE seq IS NULL), (" + max_seq + ")");
        if (!row[0].as<bool>()) return ChangeId{row[1].as<std::int64_t>()};
      } catch (const pqxx::undefined_table&) {
        return Status::InvalidArgument("capture was uninstalled meanwhile");
      }
      if (!Sequence()) return Status::InvalidArgument("capture was uninstalled meanwhile");
      pqxx::nontransaction read(conn_->raw());
      return ChangeId{read.exec1(max_seq)[0].as<std::int64_t>()};
    });
    if (!last.ok()) return last.status();
    position.change_id = *last;
    return std::unique_ptr<LegacySnapshot>(
        new PostgresSnapshot(snapshots_, std::move(conn), std::move(tx), std::move(position)));
  }

  Result<std::optional<std::vector<Key>>> KeysChangedAfter(const LegacyTable& table,
                                                           const CapturePosition& position,
                                                           std::size_t limit) override {
    return Guard("read changed keys of '" + table.name + "'",
                 [&]() -> Result<std::optional<std::vector<Key>>> {
                   return ChangedKeys(table, position, limit);
                 });
  }

  Result<ChangeId> LoadCheckpoint(std::string_view consumer) override {
    return Guard("load a checkpoint", [&]() -> Result<ChangeId> {
      pqxx::work tx(conn_->raw());
      if (!Installed(tx)) return ChangeId{0};
      const pqxx::result r = tx.exec_params("SELECT value FROM " + State() + " WHERE name = $1",
                                            "checkpoint:" + std::string(consumer));
      tx.commit();
      if (r.empty()) return ChangeId{0};
      return static_cast<ChangeId>(std::stoll(r[0][0].as<std::string>()));
    });
  }

  Status SaveCheckpoint(std::string_view consumer, ChangeId change_id) override {
    return Guard("save a checkpoint", [&]() -> Status {
      pqxx::work tx(conn_->raw());
      if (!Installed(tx)) {
        return Status::InvalidArgument("capture is not installed in " + url_.location);
      }
      tx.exec_params("INSERT INTO " + State() +
                         " (name, value) VALUES ($1, $2) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                     "checkpoint:" + std::string(consumer), std::to_string(change_id));
      tx.commit();
      return Status::Ok();
    });
  }

 private:
  // Runs `body` on a usable connection (reconnecting if the last one was lost), turning
  // exceptions into Status.
  template <class F>
  auto Guard(std::string_view what, F&& body) -> decltype(body()) {
    if (!conn_->usable()) {
      Result<std::unique_ptr<PgConnection>> fresh = PgConnection::Open(url_);
      if (!fresh.ok()) return fresh.status();
      conn_ = std::move(*fresh);
    }
    try {
      return body();
    } catch (const std::exception& error) {
      return conn_->Error(error, what);
    }
  }

  static Status Located(const Status& status, ChangeId change_id) {
    return Status::Corruption(status.message() + " (change " + std::to_string(change_id) + ")");
  }

  std::string Quoted(std::string_view name) const {
    return conn_->raw().quote_name(conn_->schema()) + "." +
           conn_->raw().quote_name(std::string(name));
  }
  std::string Log() const { return Quoted(kLogTable); }
  std::string State() const { return Quoted(kStateTable); }

  // Serialises installs (or sequencers) of this schema, in every process, until `tx` ends.
  void Lock(pqxx::transaction_base& tx, std::string_view what) {
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                   conn_->schema() + "/sluice_capture/" + std::string(what));
  }

  bool Installed(pqxx::transaction_base& tx) {
    return !tx.exec_params1("SELECT to_regclass($1)", State())[0].is_null();
  }

  std::vector<std::string> CapturedTables(pqxx::transaction_base& tx) {
    const pqxx::result r = tx.exec_params(
        "SELECT DISTINCT c.relname COLLATE \"C\" FROM pg_trigger t JOIN pg_class c ON c.oid = "
        "t.tgrelid "
        "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE t.tgname = $1 AND n.nspname = $2 ORDER BY 1",
        std::string(kRowTrigger), conn_->schema());
    std::vector<std::string> tables;
    for (const pqxx::row& row : r) tables.push_back(row[0].as<std::string>());
    return tables;
  }

  // Gives change ids to every change whose transaction has committed (see the header); false
  // when capture is not installed. Throws on errors.
  bool Sequence() {
    {
      // Nothing to do when no change is without an id: the common case, and without a lock or a
      // write. A change still being given an id by another sequencer has none in this
      // statement's snapshot, so then this one runs and waits for that one.
      pqxx::nontransaction check(conn_->raw());
      if (check.exec_params1("SELECT to_regclass($1)", Log())[0].is_null()) return false;
      if (!check.exec1("SELECT EXISTS (SELECT FROM " + Log() + " WHERE seq IS NULL)")[0]
               .as<bool>()) {
        return true;
      }
    }
    for (;;) {
      pqxx::work tx(conn_->raw());
      if (tx.exec_params1("SELECT to_regclass($1)", Log())[0].is_null()) return false;
      Lock(tx, "sequence");
      // A statement of its own after the lock: its snapshot sees the ids the last holder gave.
      const pqxx::result done = tx.exec_params(
          "WITH todo AS (SELECT id FROM " + Log() +
              " WHERE seq IS NULL AND pg_visible_in_snapshot(txid, pg_current_snapshot()) "
              "ORDER BY id LIMIT $1), "
              "numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM todo), "
              "base AS (SELECT coalesce(max(seq), 0) AS m FROM " +
              Log() + ") UPDATE " + Log() +
              " AS l SET seq = base.m + numbered.n FROM numbered, base WHERE l.id = numbered.id",
          kSequenceBatch);
      tx.commit();
      if (done.affected_rows() < static_cast<pqxx::result::size_type>(kSequenceBatch)) return true;
    }
  }

  Result<std::optional<std::vector<Key>>> ChangedKeys(const LegacyTable& table,
                                                      const CapturePosition& position,
                                                      std::size_t limit) {
    pqxx::work tx(conn_->raw());
    if (tx.exec_params1("SELECT to_regclass($1)", Log())[0].is_null()) {
      return Status::InvalidArgument("capture is not installed in " + url_.location);
    }
    const std::int64_t fetch = limit >= static_cast<std::size_t>(INT64_MAX)
                                   ? INT64_MAX
                                   : static_cast<std::int64_t>(limit) + 1;
    pqxx::result result;
    if (position.snapshot.empty()) {
      result = tx.exec_params("SELECT op, key::text FROM " + Log() +
                                  " WHERE table_name = $1 AND (seq IS NULL OR seq > $2) LIMIT $3",
                              table.name, position.change_id, fetch);
    } else {
      result = tx.exec_params("SELECT op, key::text FROM " + Log() +
                                  " WHERE table_name = $1 AND (seq IS NULL OR seq > $2 OR "
                                  "(txid >= pg_snapshot_xmin($4::pg_snapshot) AND "
                                  "NOT pg_visible_in_snapshot(txid, $4::pg_snapshot))) LIMIT $3",
                              table.name, position.change_id, fetch, position.snapshot);
    }
    tx.commit();
    std::vector<Key> keys;
    for (const pqxx::row& row : result) {
      if (keys.size() == limit || row[0].as<std::string>() == "T") {
        return std::optional<std::vector<Key>>();
      }
      Result<std::vector<std::pair<std::string, Value>>> values =
          pg::ValuesOfRaw(row[1].as<std::string>());
      if (!values.ok()) return values.status();
      Key key;
      for (const std::size_t index : table.key) {
        if (index >= table.columns.size()) {
          return Status::InvalidArgument("table '" + table.name + "': key column out of range");
        }
        const std::string& name = table.columns[index].name;
        const auto found = std::find_if(values->begin(), values->end(),
                                        [&](const auto& pair) { return pair.first == name; });
        if (found == values->end()) {
          return Status::Corruption("change log: a key of '" + table.name + "' has no column '" +
                                    name + "'");
        }
        key.push_back(found->second);
      }
      keys.push_back(std::move(key));
    }
    return std::optional<std::vector<Key>>(std::move(keys));
  }

  const ServerUrl url_;
  std::unique_ptr<PgConnection> conn_;
  const std::shared_ptr<SnapshotShared> snapshots_;
};

}  // namespace

Result<std::unique_ptr<LegacySource>> OpenPostgresLegacySource(const std::string& url) {
  Result<ServerUrl> parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  Result<std::unique_ptr<PgConnection>> conn = PgConnection::Open(*parsed);
  if (!conn.ok()) return conn.status();
  return std::unique_ptr<LegacySource>(
      new PostgresLegacySource(std::move(*parsed), std::move(*conn)));
}

}  // namespace sluice::migration
