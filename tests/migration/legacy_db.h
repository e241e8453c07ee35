// A legacy SQLite database as a legacy application would use it: plain SQL on its own connection.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sluice/migration/change.h"
#include "sluice/migration/legacy_source.h"

namespace sluice::migration::testing {

class LegacyDb {
 public:
  explicit LegacyDb(const std::filesystem::path& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~LegacyDb() { sqlite3_close(db_); }
  LegacyDb(const LegacyDb&) = delete;
  LegacyDb& operator=(const LegacyDb&) = delete;

  // Runs `sql`; returns false (with the message in `error()`) if it failed.
  bool TryExec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    error_ = message != nullptr ? message : "";
    sqlite3_free(message);
    return rc == SQLITE_OK;
  }
  void Exec(const std::string& sql) { ASSERT_TRUE(TryExec(sql)) << sql << ": " << error_; }
  const std::string& error() const { return error_; }

  // Every row of `sql`, each column as text ("NULL" for null).
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        row.push_back(text == nullptr ? "NULL" : text);
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  }

  // The schema as sqlite_master lists it.
  std::vector<std::vector<std::string>> Schema() {
    return Query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name");
  }

 private:
  sqlite3* db_ = nullptr;
  std::string error_;
};

// An empty folder for the running test: <tmp>/sluice-<prefix>-<pid>-<test name>.
inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("sluice-" + prefix + "-" + std::to_string(getpid()) + "-" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Every change in the source's log.
inline std::vector<Change> AllChanges(LegacySource& source) {
  Result<std::vector<Change>> changes = source.ReadChanges(0, 1'000'000);
  EXPECT_TRUE(changes.ok()) << changes.status().ToString();
  return changes.ok() ? *changes : std::vector<Change>{};
}

}  // namespace sluice::migration::testing
