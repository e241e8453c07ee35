// The LegacySource conformance suite (legacy_source_conformance.h) against every implementation:
// SQLite (a WAL-mode database file of its own per test) and PostgreSQL (a schema of its own per
// test on the throwaway server of the `postgres_server` fixture; skipped without one, failed on
// CI).
#include "legacy_source_conformance.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "legacy_db.h"
#include "postgres/postgres_test_server.h"
#include "sluice/migration/postgres_legacy_source.h"
#include "sluice/migration/sqlite_legacy_source.h"

namespace sluice::migration::testing {
namespace {

class SqliteSession final : public LegacySession {
 public:
  explicit SqliteSession(const std::string& path) : db_(path) {}
  void Exec(const std::string& sql) override { db_.Exec(sql); }

 private:
  LegacyDb db_;
};

class SqliteBackend final : public LegacyBackend {
 public:
  SqliteBackend()
      : dir_(FreshTestDir("conformance")),
        path_((dir_ / "legacy.db").string()),
        db_(std::make_unique<LegacyDb>(path_)) {
    // WAL: writers go on while a snapshot (a read transaction) is open.
    db_->Exec("PRAGMA journal_mode = WAL");
  }
  ~SqliteBackend() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  Result<std::unique_ptr<LegacySource>> Open() override { return OpenSqliteLegacySource(path_); }
  bool TryExec(const std::string& sql, std::string* error) override {
    const bool ok = db_->TryExec(sql);
    *error = db_->error();
    return ok;
  }
  std::vector<std::string> Schema() override {
    std::vector<std::string> out;
    for (const auto& row : db_->Schema()) {
      std::string line;
      for (const std::string& part : row) line += part + "|";
      out.push_back(line);
    }
    return out;
  }
  std::unique_ptr<LegacySession> NewSession() override {
    return std::make_unique<SqliteSession>(path_);
  }
  std::string BlobType() const override { return "BLOB"; }
  std::string BlobLiteral(std::string_view hex) const override {
    return "x'" + std::string(hex) + "'";
  }

 private:
  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<LegacyDb> db_;
};

struct Sqlite {
  static std::unique_ptr<LegacyBackend> Make() { return std::make_unique<SqliteBackend>(); }
};

class PostgresSession final : public LegacySession {
 public:
  explicit PostgresSession(const std::string& url) : conn_(url) {}
  void Exec(const std::string& sql) override {
    try {
      pqxx::nontransaction tx(conn_);
      tx.exec(sql);
    } catch (const std::exception& error) {
      ADD_FAILURE() << sql << ": " << error.what();
    }
  }

 private:
  pqxx::connection conn_;
};

// A schema of its own (first in the search_path of every connection) on the test server.
class PostgresBackend final : public LegacyBackend {
 public:
  explicit PostgresBackend(const std::string& server)
      : schema_(server), url_(server + "?options=-csearch_path%3D" + schema_.name()), conn_(url_) {
    pqxx::nontransaction tx(conn_);
    tx.exec("CREATE SCHEMA " + schema_.name());
  }

  Result<std::unique_ptr<LegacySource>> Open() override { return OpenPostgresLegacySource(url_); }
  bool TryExec(const std::string& sql, std::string* error) override {
    try {
      pqxx::nontransaction tx(conn_);
      tx.exec(sql);
      return true;
    } catch (const std::exception& e) {
      *error = e.what();
      try {
        pqxx::nontransaction tx(conn_);
        tx.exec("ROLLBACK");  // of a BEGIN in `sql`, if any
      } catch (const std::exception&) {
      }
      return false;
    }
  }
  std::vector<std::string> Schema() override {
    pqxx::nontransaction tx(conn_);
    const pqxx::result r = tx.exec_params(
        "SELECT 'relation ' || c.relname || ' ' || c.relkind::text FROM pg_class c "
        "  WHERE c.relnamespace = $1::regnamespace "
        "UNION ALL SELECT 'column ' || c.relname || '.' || a.attname || ' ' || "
        "  format_type(a.atttypid, a.atttypmod) || ' ' || coalesce(pg_get_expr(d.adbin, "
        "  d.adrelid), '') FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "  WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0 AND NOT a.attisdropped "
        "UNION ALL SELECT 'trigger ' || t.tgname || ' on ' || c.relname FROM pg_trigger t "
        "  JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = $1::regnamespace "
        "  AND NOT t.tgisinternal "
        "UNION ALL SELECT 'function ' || p.proname FROM pg_proc p "
        "  WHERE p.pronamespace = $1::regnamespace "
        "UNION ALL SELECT 'type ' || t.typname FROM pg_type t "
        "  WHERE t.typnamespace = $1::regnamespace "
        "ORDER BY 1",
        schema_.name());
    std::vector<std::string> out;
    for (const pqxx::row& row : r) out.push_back(row[0].as<std::string>());
    return out;
  }
  std::unique_ptr<LegacySession> NewSession() override {
    return std::make_unique<PostgresSession>(url_);
  }
  std::string BlobType() const override { return "BYTEA"; }
  std::string BlobLiteral(std::string_view hex) const override {
    return "'\\x" + std::string(hex) + "'::bytea";
  }

 private:
  sluice::testing::ScratchSchema schema_;
  std::string url_;
  pqxx::connection conn_;
};

struct Postgres {
  static std::unique_ptr<LegacyBackend> Make() {
    const std::string server = sluice::testing::RequirePostgres();
    if (server.empty()) return nullptr;
    return std::make_unique<PostgresBackend>(server);
  }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, LegacySourceConformanceTest, Sqlite);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, LegacySourceConformanceTest, Postgres);

}  // namespace sluice::migration::testing
