// The throwaway PostgreSQL server of the CTest fixture `postgres_server` (tests/postgres), for
// tests that need one: its URL comes from SLUICE_TEST_POSTGRES_URL. Without a server that answers,
// a test fails when CI=true (CI must run these tests) and is skipped otherwise.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "server_requirement.h"
#include "sluice/projections/sql_schema_text.h"

namespace sluice::testing {

// Why the server cannot be used ("" if it can), found out once per process.
inline const std::string& PostgresUnavailableReason() {
  static const std::string reason = [] {
    const char* url = std::getenv("SLUICE_TEST_POSTGRES_URL");
    if (url == nullptr || *url == '\0') {
      return std::string(
          "SLUICE_TEST_POSTGRES_URL is not set (ctest sets it and starts the server: "
          "ctest -L postgres)");
    }
    try {
      pqxx::connection probe(std::string(url) + "?connect_timeout=5");
      return std::string();
    } catch (const std::exception& error) {
      return "the test server " + std::string(url) + " does not answer: " + error.what();
    }
  }();
  return reason;
}

// The server's URL, or "" after skipping (or, on CI, failing) the current test. Call it in a
// fixture's constructor or SetUp; GoogleTest runs no more of a test that skipped or failed there.
inline std::string RequirePostgres() {
  const std::string& reason = PostgresUnavailableReason();
  if (!reason.empty()) {
    internal::RecordNoServer("PostgreSQL", reason);
    return {};
  }
  return std::getenv("SLUICE_TEST_POSTGRES_URL");
}

// Runs `sql` on the server with plain libpqxx, from outside the store.
inline pqxx::result Sql(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  pqxx::result r = tx.exec(sql);
  tx.commit();
  return r;
}

// A PostgreSQL schema of its own for one test (so tests share the server and run in parallel),
// dropped with everything in it afterwards. Nothing happens without a URL.
class ScratchSchema {
 public:
  explicit ScratchSchema(std::string url) : url_(std::move(url)) {
    static std::atomic<int> counter{0};
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    name_ = "test_" + std::to_string(getpid()) + "_" + std::to_string(++counter) + "_" +
            std::to_string(now % 1000000007);
  }
  ~ScratchSchema() {
    if (url_.empty()) return;
    try {
      Sql(url_, "DROP SCHEMA IF EXISTS " + QuoteSqlIdentifier(name_) + " CASCADE");
    } catch (const std::exception& error) {
      ADD_FAILURE() << "could not drop schema " << name_ << ": " << error.what();
    }
  }
  ScratchSchema(const ScratchSchema&) = delete;
  ScratchSchema& operator=(const ScratchSchema&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::string name_;
};

}  // namespace sluice::testing
