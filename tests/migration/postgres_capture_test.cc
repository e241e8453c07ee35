// Change capture on PostgreSQL beyond the conformance suite: commit order with transactions that
// commit out of order (a long transaction, concurrent writers), TRUNCATE, the value of every
// mapped column type, byte order of keys whatever the collation, and connection failures.
// Each test has a schema of its own on the throwaway server (fixture postgres_server).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "legacy_source_conformance.h"
#include "postgres/postgres_test_server.h"
#include "sluice/migration/legacy_url.h"
#include "sluice/migration/postgres_legacy_source.h"

namespace sluice::migration {
namespace {

using testing::RowOfJson;
using testing::SameRow;

class PostgresCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = sluice::testing::RequirePostgres();
    if (server_.empty()) return;
    schema_ = std::make_unique<sluice::testing::ScratchSchema>(server_);
    url_ = server_ + "?options=-csearch_path%3D" + schema_->name();
    conn_ = std::make_unique<pqxx::connection>(url_);
    Exec("CREATE SCHEMA " + schema_->name());
    source_ = Open();
  }
  void TearDown() override {
    source_.reset();
    conn_.reset();
    schema_.reset();
  }

  std::unique_ptr<LegacySource> Open() {
    Result<std::unique_ptr<LegacySource>> source = OpenPostgresLegacySource(url_);
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return source.ok() ? std::move(*source) : nullptr;
  }

  pqxx::result Exec(const std::string& sql) {
    pqxx::nontransaction tx(*conn_);
    return tx.exec(sql);
  }

  void Install(const std::vector<std::string>& tables) {
    const Status status = source_->Install(tables);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  std::vector<Change> Changes(LegacySource& source, ChangeId after = 0) {
    Result<std::vector<Change>> changes = source.ReadChanges(after, 1'000'000);
    EXPECT_TRUE(changes.ok()) << changes.status().ToString();
    return changes.ok() ? *changes : std::vector<Change>{};
  }

  std::string server_;
  std::unique_ptr<sluice::testing::ScratchSchema> schema_;
  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<LegacySource> source_;
};

TEST_F(PostgresCaptureTest, LongTransactionCommittingAfterLaterOnesIsCapturedOnceAfterThem) {
  Exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  Install({"t"});
  pqxx::connection long_conn(url_);
  pqxx::work long_tx(long_conn);
  long_tx.exec("INSERT INTO t VALUES (1, 'long')");  // its change log row has the smallest id
  Exec("INSERT INTO t VALUES (2, 'short')");
  Exec("INSERT INTO t VALUES (3, 'short')");
  std::vector<Change> first = Changes(*source_);
  ASSERT_EQ(first.size(), 2u);  // the running transaction is not waited for
  EXPECT_EQ(first[0].key_json, R"({"id":2})");
  EXPECT_EQ(first[0].change_id, 1);
  EXPECT_EQ(first[1].key_json, R"({"id":3})");
  EXPECT_EQ(first[1].change_id, 2);
  ASSERT_TRUE(first[0].transaction_id.has_value());
  ASSERT_TRUE(source_->SaveCheckpoint("tailer", 2).ok());

  long_tx.exec("UPDATE t SET v = 'long2' WHERE id = 1");
  long_tx.commit();
  Exec("UPDATE t SET v = 'after' WHERE id = 1");  // waited for the long one's row lock
  const std::vector<Change> rest = Changes(*source_, *source_->LoadCheckpoint("tailer"));
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].change_id, 3);
  EXPECT_EQ(rest[0].op, ChangeOp::kInsert);
  EXPECT_EQ(rest[0].row_json, R"({"id":1,"v":"long"})");
  EXPECT_EQ(rest[1].row_json, R"({"id":1,"v":"long2"})");
  EXPECT_EQ(rest[1].transaction_id, rest[0].transaction_id);
  EXPECT_EQ(rest[2].row_json, R"({"id":1,"v":"after"})");
  EXPECT_NE(rest[2].transaction_id, rest[0].transaction_id);
  // Exactly once: the whole log, read again, has every change once with ids 1..5.
  const std::vector<Change> all = Changes(*source_);
  ASSERT_EQ(all.size(), 5u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].change_id, static_cast<ChangeId>(i + 1));
  }
  EXPECT_TRUE(Changes(*source_, 5).empty());
}

TEST_F(PostgresCaptureTest, SnapshotPositionAndKeysChangedAfterHandleALateCommit) {
  Exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  Install({"t"});
  Exec("INSERT INTO t VALUES (1, 'a')");
  pqxx::connection long_conn(url_);
  pqxx::work long_tx(long_conn);
  long_tx.exec("UPDATE t SET v = 'long' WHERE id = 1");
  Exec("INSERT INTO t VALUES (2, 'b')");
  Result<std::unique_ptr<LegacySnapshot>> snapshot = source_->OpenSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  const CapturePosition position = (*snapshot)->position();
  EXPECT_EQ(position.change_id, 2);
  EXPECT_FALSE(position.snapshot.empty());
  long_tx.commit();
  // The late change gets id 3 > position; row 1 as the snapshot saw it is the old one.
  const std::vector<Change> changes = Changes(*source_);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[2].row_json, R"({"id":1,"v":"long"})");
  Result<LegacyTable> table = source_->DescribeTable("t");
  ASSERT_TRUE(table.ok());
  Result<std::optional<Row>> row = (*snapshot)->ReadRow(*table, Key{std::int64_t{1}});
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_TRUE(SameRow(**row, Row{std::int64_t{1}, std::string("a")}));
  Result<std::optional<std::vector<Key>>> keys = source_->KeysChangedAfter(*table, position, 10);
  ASSERT_TRUE(keys.ok() && keys->has_value()) << keys.status().ToString();
  EXPECT_EQ(**keys, (std::vector<Key>{Key{std::int64_t{1}}}));
}

// Writers in threads update a few shared rows (each update adds one to the row's counter), some
// transactions roll back; two readers (each its own source, as separate processes would) read
// the log while they run. Both must see every committed change exactly once, in the same order,
// with each row's counter going up by one from change to change.
TEST_F(PostgresCaptureTest, ConcurrentWritersAndReadersSeeEveryChangeOnceInPerRowOrder) {
  constexpr int kRows = 5;
  constexpr int kWriters = 4;
  constexpr int kTransactions = 60;
  Exec("CREATE TABLE c (id int PRIMARY KEY, n bigint NOT NULL)");
  Exec("INSERT INTO c SELECT g, 0 FROM generate_series(1, " + std::to_string(kRows) + ") g");
  Install({"c"});
  std::atomic<int> running{kWriters};
  std::atomic<int> committed_updates{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 random(static_cast<unsigned>(w) + 7);
      pqxx::connection conn(url_);
      for (int i = 0; i < kTransactions; ++i) {
        try {
          pqxx::work tx(conn);
          // Rows in ascending order: writers wait for each other, seldom deadlock.
          std::multiset<int> ids;
          for (int u = 1 + static_cast<int>(random() % 3); u > 0; --u) {
            ids.insert(1 + static_cast<int>(random() % kRows));
          }
          const int updates = static_cast<int>(ids.size());
          for (const int id : ids) {
            tx.exec("UPDATE c SET n = n + 1 WHERE id = " + std::to_string(id));
          }
          if (random() % 5 == 0) {
            tx.abort();
          } else {
            tx.commit();
            committed_updates += updates;
          }
        } catch (const pqxx::transaction_rollback&) {  // deadlock: nothing committed
        }
      }
      --running;
    });
  }
  std::vector<std::vector<Change>> seen(2);
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::unique_ptr<LegacySource> source = Open();
      if (source == nullptr) return;
      ChangeId after = 0;
      for (;;) {
        const bool last_round = running.load() == 0;
        Result<std::vector<Change>> batch = source->ReadChanges(after, 7);
        if (!batch.ok()) {
          ADD_FAILURE() << batch.status().ToString();
          return;
        }
        for (Change& change : *batch) {
          EXPECT_EQ(change.change_id, after + 1);
          after = change.change_id;
          seen[r].push_back(std::move(change));
        }
        if (last_round && batch->empty()) return;
      }
    });
  }
  for (std::thread& t : writers) t.join();
  for (std::thread& t : readers) t.join();
  ASSERT_EQ(seen[0].size(), static_cast<std::size_t>(committed_updates.load()));
  EXPECT_EQ(seen[0], seen[1]);
  std::map<std::string, std::int64_t> counters;
  for (const Change& change : seen[0]) {
    const Row row = RowOfJson(change.row_json);
    const std::int64_t n = std::get<std::int64_t>(row[1]);
    EXPECT_EQ(n, ++counters[change.key_json]) << change.key_json;
  }
  const pqxx::result final = Exec("SELECT id, n FROM c ORDER BY id");
  for (const pqxx::row& row : final) {
    EXPECT_EQ(counters["{\"id\":" + row[0].as<std::string>() + "}"], row[1].as<std::int64_t>());
  }
}

TEST_F(PostgresCaptureTest, TruncateIsOneChangeAndEveryKeyChanged) {
  Exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  Install({"t"});
  Exec("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  Result<LegacyTable> table = source_->DescribeTable("t");
  ASSERT_TRUE(table.ok());
  Result<std::unique_ptr<LegacySnapshot>> snapshot = source_->OpenSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  const CapturePosition position = (*snapshot)->position();
  snapshot->reset();  // TRUNCATE waits for readers of the table
  Exec("TRUNCATE t");
  const std::vector<Change> changes = Changes(*source_);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[2].op, ChangeOp::kTruncate);
  EXPECT_EQ(changes[2].table, "t");
  EXPECT_EQ(changes[2].key_json, "{}");
  EXPECT_EQ(changes[2].row_json, "");
  Result<std::optional<std::vector<Key>>> keys = source_->KeysChangedAfter(*table, position, 1000);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_FALSE(keys->has_value());
}

TEST_F(PostgresCaptureTest, EveryMappedTypeReadsTheSameThroughChangesAndSnapshots) {
  Exec(
      "CREATE TABLE v (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, "
      "d numeric(10,2), dn numeric, b bool, t text, vc varchar(10), ch char(5), x bytea, "
      "ts timestamp, tz timestamptz, dt date, u uuid, j jsonb)");
  Install({"v"});
  // A writer whose session prints everything differently from ours.
  pqxx::connection writer(url_);
  {
    pqxx::nontransaction tx(writer);
    tx.exec(
        "SET TimeZone = 'Asia/Kolkata'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = -3; "
        "SET bytea_output = 'escape'; SET IntervalStyle = 'sql_standard'");
    tx.exec(
        "INSERT INTO v VALUES (1, -32768, 2147483647, -9223372036854775808, 0.1, 0.1, 1.10, "
        "1.10, true, 'ünï', 'a ', 'ab', '\\x00ff10'::bytea, '2024-02-29 13:14:15.123456', "
        "'2024-01-01 12:00:00+05:30', '2024-12-31', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
        "'{\"b\": 1, \"a\": [1.10, null]}')");
    tx.exec(
        "INSERT INTO v VALUES (2, 0, 0, 0, 'NaN', '-0', 0, -0.000, false, '', '', '', "
        "''::bytea, '0001-01-01 00:00:00', '1970-01-01 00:00:00+00', '2000-01-01', NULL, "
        "'null')");
    tx.exec(
        "INSERT INTO v VALUES (3, NULL, NULL, NULL, 'Infinity', '-Infinity', NULL, NULL, NULL, "
        "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
    tx.exec(
        "INSERT INTO v VALUES (4, 1, 1, 1, '-Infinity', 1e300, 99999999.99, 1e-20, "
        "NULL, 'x', 'y', 'z', NULL, 'infinity', '-infinity', 'infinity', NULL, '1.5')");
  }
  Result<LegacyTable> table = source_->DescribeTable("v");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  const std::vector<LogicalType> types = {
      LogicalType::kInteger, LogicalType::kInteger,   LogicalType::kInteger,
      LogicalType::kInteger, LogicalType::kReal,      LogicalType::kReal,
      LogicalType::kDecimal, LogicalType::kDecimal,   LogicalType::kBoolean,
      LogicalType::kText,    LogicalType::kText,      LogicalType::kText,
      LogicalType::kBlob,    LogicalType::kTimestamp, LogicalType::kTimestampTz,
      LogicalType::kDate,    LogicalType::kOther,     LogicalType::kOther};
  ASSERT_EQ(table->columns.size(), types.size());
  for (std::size_t i = 0; i < types.size(); ++i) {
    EXPECT_EQ(table->columns[i].type, types[i]) << table->columns[i].name;
  }
  EXPECT_EQ(table->columns[6].declared_type, "numeric(10,2)");
  EXPECT_EQ(table->columns[11].declared_type, "character(5)");

  Result<std::unique_ptr<LegacySnapshot>> snapshot = source_->OpenSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  const std::vector<Change> changes = Changes(*source_);
  ASSERT_EQ(changes.size(), 4u);
  std::vector<Row> rows;
  for (const Change& change : changes) {
    const Row from_log = RowOfJson(change.row_json);
    Result<std::optional<Row>> row = (*snapshot)->ReadRow(*table, Key{from_log[0]});
    ASSERT_TRUE(row.ok()) << row.status().ToString();
    ASSERT_TRUE(row->has_value());
    EXPECT_TRUE(SameRow(from_log, **row)) << change.row_json;
    rows.push_back(**row);
  }
  using S = std::string;
  const Row expected_1 = {std::int64_t{1},
                          std::int64_t{-32768},
                          std::int64_t{2147483647},
                          std::int64_t{INT64_MIN},
                          static_cast<double>(0.1f),
                          0.1,
                          S("1.10"),
                          S("1.10"),
                          std::int64_t{1},
                          S("ünï"),
                          S("a "),
                          S("ab   "),
                          Blob{S("\x00\xff\x10", 3)},
                          S("2024-02-29 13:14:15.123456"),
                          S("2024-01-01 06:30:00+00"),
                          S("2024-12-31"),
                          S("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                          S(R"({"a": [1.10, null], "b": 1})")};
  EXPECT_TRUE(SameRow(rows[0], expected_1));
  const Row expected_2 = {std::int64_t{2},
                          std::int64_t{0},
                          std::int64_t{0},
                          std::int64_t{0},
                          std::nan(""),
                          -0.0,
                          S("0.00"),
                          S("0.000"),
                          std::int64_t{0},
                          S(""),
                          S(""),
                          S("     "),
                          Blob{},
                          S("0001-01-01 00:00:00"),
                          S("1970-01-01 00:00:00+00"),
                          S("2000-01-01"),
                          Value{},
                          S("null")};
  EXPECT_TRUE(SameRow(rows[1], expected_2));
  EXPECT_TRUE(SameRow(rows[2], Row{std::int64_t{3}, Value{}, Value{}, Value{}, HUGE_VAL, -HUGE_VAL,
                                   Value{}, Value{}, Value{}, Value{}, Value{}, Value{}, Value{},
                                   Value{}, Value{}, Value{}, Value{}, Value{}}));
  EXPECT_EQ(std::get<S>(rows[3][13]), "infinity");
  EXPECT_EQ(std::get<S>(rows[3][7]), "0.00000000000000000001");
  EXPECT_NE(changes[1].row_json.find(R"("f4":{"$real":"NaN"},"f8":-0.0,)"), std::string::npos)
      << changes[1].row_json;
  EXPECT_NE(changes[0].row_json.find(R"("x":{"$blob":"AP8Q"})"), std::string::npos);
}

TEST_F(PostgresCaptureTest, KeysAreInByteOrderWhateverTheCollationOrType) {
  Exec(
      "CREATE TABLE k (a text PRIMARY KEY); CREATE TABLE n (a numeric PRIMARY KEY); "
      "CREATE TABLE b (a bytea PRIMARY KEY)");
  const bool icu = !Exec("SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu'").empty();
  if (icu) Exec("CREATE TABLE ki (a text COLLATE \"en-x-icu\" PRIMARY KEY)");
  std::vector<std::string> tables = {"k", "n", "b"};
  if (icu) tables.push_back("ki");
  Install(tables);
  Exec("INSERT INTO k VALUES ('b'), ('B'), ('a'), ('A'), ('_'), ('é')");
  if (icu) Exec("INSERT INTO ki SELECT a FROM k");
  Exec("INSERT INTO n VALUES (9), (10), (-1), (1.5), (100)");
  Exec("INSERT INTO b VALUES ('\\x00'), ('\\xff'), ('\\x0001'), ('')");
  Result<std::unique_ptr<LegacySnapshot>> snapshot = source_->OpenSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  for (const std::string& name : tables) {
    Result<LegacyTable> table = source_->DescribeTable(name);
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    std::vector<Key> keys;
    std::optional<Key> after;
    for (;;) {
      Result<std::vector<Row>> rows = (*snapshot)->ReadRows(*table, after ? &*after : nullptr, 2);
      ASSERT_TRUE(rows.ok()) << rows.status().ToString();
      if (rows->empty()) break;
      for (const Row& row : *rows) keys.push_back(Key{row[0]});
      after = keys.back();
    }
    ASSERT_FALSE(keys.empty()) << name;
    for (std::size_t i = 1; i < keys.size(); ++i) {
      EXPECT_EQ(CompareKeys(keys[i - 1], keys[i]), std::strong_ordering::less)
          << name << " " << DescribeValue(keys[i - 1][0]) << " " << DescribeValue(keys[i][0]);
    }
    EXPECT_EQ(keys.size(), name == "b" ? 4u : name == "n" ? 5u : 6u) << name;
  }
}

TEST_F(PostgresCaptureTest, WritersWithAnotherSearchPathAreCaptured) {
  Exec("CREATE TABLE t (id int PRIMARY KEY)");
  Install({"t"});
  pqxx::connection other(server_);  // search_path: "$user", public
  pqxx::nontransaction tx(other);
  tx.exec("INSERT INTO " + other.quote_name(schema_->name()) + ".t VALUES (1)");
  ASSERT_EQ(Changes(*source_).size(), 1u);
}

TEST_F(PostgresCaptureTest, PasswordIsNeverInTheLocationOrErrors) {
  // Trust authentication accepts any password.
  const std::string with_password = "postgresql://sluice:s3cr%40t-pw@" +
                                    server_.substr(server_.find('@') + 1) +
                                    "?options=-csearch_path%3D" + schema_->name();
  Result<std::unique_ptr<LegacySource>> source = OpenLegacySource(with_password);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Result<SourceDescription> description = (*source)->Describe();
  ASSERT_TRUE(description.ok()) << description.status().ToString();
  EXPECT_EQ(description->kind, "postgresql");
  EXPECT_EQ(description->location.find("s3cr"), std::string::npos) << description->location;
  EXPECT_EQ(description->location.find("?"), std::string::npos) << description->location;
  EXPECT_NE(description->location.find("sluice@"), std::string::npos) << description->location;
  // An error naming the database: the password stays out.
  const Status missing = (*source)->Install({"missing"});
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.message().find("s3cr"), std::string::npos) << missing.ToString();
  Result<std::unique_ptr<LegacySource>> wrong_db = OpenLegacySource(
      "postgresql://sluice:s3cr%40t-pw@" + server_.substr(server_.find('@') + 1) + "_missing");
  ASSERT_FALSE(wrong_db.ok());
  EXPECT_EQ(wrong_db.status().message().find("s3cr"), std::string::npos)
      << wrong_db.status().ToString();
}

TEST_F(PostgresCaptureTest, WideTablesAndCompositeHostileKeysAreRecorded) {
  std::string create = "CREATE TABLE wide (\"k\"\"1\" text, k2 int";
  for (int i = 0; i < 150; ++i)
    create += ", c" + std::to_string(i) + " int DEFAULT " + std::to_string(i);
  Exec(create + ", PRIMARY KEY (k2, \"k\"\"1\"))");
  Install({"wide"});
  Exec("INSERT INTO wide (\"k\"\"1\", k2) VALUES ('x', 7)");
  const std::vector<Change> changes = Changes(*source_);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key_json, R"({"k2":7,"k\"1":"x"})");
  EXPECT_NE(changes[0].row_json.find(R"("c0":0,"c1":1,)"), std::string::npos);
  EXPECT_NE(changes[0].row_json.find(R"("c149":149})"), std::string::npos);
}

TEST_F(PostgresCaptureTest, UninstallAfterTheTableWasDroppedLeavesNothingBehind) {
  Exec("CREATE TABLE keep (id int PRIMARY KEY)");
  const pqxx::result before =
      Exec("SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace");
  Exec("CREATE TABLE gone (id int PRIMARY KEY)");
  Install({"keep", "gone"});
  Exec("DROP TABLE gone");
  ASSERT_TRUE(source_->Uninstall({"keep", "gone"}).ok());
  const pqxx::result after =
      Exec("SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace");
  EXPECT_EQ(after[0][0].as<int>(), before[0][0].as<int>());
  EXPECT_TRUE(Exec("SELECT to_regclass('sluice_change_log')")[0][0].is_null());
}

TEST(PostgresLegacySourceTest, UnreachableServerIsUnavailableWithoutThePassword) {
  // Nothing listens on port 1: refused at once.
  Result<std::unique_ptr<LegacySource>> refused =
      OpenLegacySource("postgresql://sluice:pw-secret-9@127.0.0.1:1/db");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find("pw-secret-9"), std::string::npos);
  EXPECT_NE(refused.status().message().find("127.0.0.1:1"), std::string::npos)
      << refused.status().ToString();
  // A documentation address that never answers: the connect timeout ends the wait.
  Result<std::unique_ptr<LegacySource>> silent =
      OpenLegacySource("postgres://sluice:pw-secret-9@192.0.2.1:5432/db?connect_timeout=2");
  EXPECT_EQ(silent.status().code(), StatusCode::kUnavailable) << silent.status().ToString();
  EXPECT_EQ(silent.status().message().find("pw-secret-9"), std::string::npos);
}

TEST(PostgresLegacySourceTest, MalformedUrlsAreInvalidArgument) {
  for (const std::string url :
       {"postgresql://", "postgresql://u:pw-secret-9@host", "postgresql://u@host:5432/",
        "postgresql://u@host:5432/?sslmode=disable", "postgresql://u:pw-secret-9@/db"}) {
    Result<std::unique_ptr<LegacySource>> source = OpenLegacySource(url);
    EXPECT_EQ(source.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(source.status().message().find("pw-secret-9"), std::string::npos);
  }
}

}  // namespace
}  // namespace sluice::migration
