// What only the SQLite read-model store does: tables that plain SQL reads, WAL locking between
// connections and processes, schema changes made by another connection, damaged files.
#include "sluice/sqlite/sqlite_read_model_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "conformance/temp_dir.h"
#include "sluice/projections/read_model_store.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

// A plain sqlite3 connection, as an operator's tool or another program would open the file.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "open " << path << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_busy_timeout(db_, 2000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs `sql`; returns "" or the error message.
  std::string Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return "";
    std::string message = error != nullptr ? error : "error";
    sqlite3_free(error);
    return message;
  }

  // Every row of `sql`, each column as text ("NULL" for NULL) prefixed by its typeof().
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return rows;
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        switch (sqlite3_column_type(stmt, i)) {
          case SQLITE_NULL:
            row.push_back("null:");
            break;
          case SQLITE_INTEGER:
            row.push_back("integer:" + std::to_string(sqlite3_column_int64(stmt, i)));
            break;
          case SQLITE_FLOAT:
            row.push_back("real:" + std::to_string(sqlite3_column_double(stmt, i)));
            break;
          case SQLITE_TEXT: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
            row.push_back("text:" + std::string(text, sqlite3_column_bytes(stmt, i)));
            break;
          }
          default: {
            const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt, i));
            const int size = sqlite3_column_bytes(stmt, i);
            row.push_back("blob:" + (size > 0 ? std::string(bytes, size) : std::string()));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

TableSchema TypeCounts() {
  return TableSchema{"type-counts",
                     {{"type", ColumnType::kText}},
                     {{"count", ColumnType::kInteger},
                      {"ratio", ColumnType::kReal},
                      {"sample", ColumnType::kBlob}}};
}

TableSchema Pairs(std::string name) {
  return TableSchema{std::move(name),
                     {{"a", ColumnType::kInteger}, {"b", ColumnType::kText}},
                     {{"v", ColumnType::kText}}};
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<ReadModelStore> Open(SqliteReadModelStoreOptions options = {}) {
    Result<std::unique_ptr<ReadModelStore>> store = OpenSqliteReadModelStore(path_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::unique_ptr<ReadModelBatch> Begin(ReadModelStore& store) {
    Result<std::unique_ptr<ReadModelBatch>> batch = store.Begin();
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    return batch.ok() ? std::move(batch).value() : nullptr;
  }

  // Creates `schema` and puts `rows` in one committed transaction.
  void CreateWith(ReadModelStore& store, const TableSchema& schema, std::vector<Row> rows) {
    auto batch = Begin(store);
    ASSERT_NE(batch, nullptr);
    ASSERT_TRUE(batch->CreateTable(schema).ok());
    for (Row& row : rows) ASSERT_TRUE(batch->Put(schema.name, std::move(row)).ok());
    ASSERT_TRUE(batch->Commit().ok());
  }

  testing::TempDir dir_;
  std::string path_ = dir_.Sub("read-models.db");
};

TEST_F(SqliteStoreTest, TablesAreVisibleToPlainSqlUnderTheirNames) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CreateWith(*store, TypeCounts(),
             {{std::string("bank.Deposited.v1"), std::int64_t{3}, 0.5, Blob{"x"}},
              {std::string("bank.Opened.v1"), std::int64_t{1}, std::monostate{}, Blob{}}});
  EXPECT_EQ(store->Describe(), "sqlite:" + path_);

  RawDb raw(path_);
  using Rows = std::vector<std::vector<std::string>>;
  EXPECT_EQ(raw.Query("SELECT * FROM \"type-counts\" ORDER BY type"),
            (Rows{{"text:bank.Deposited.v1", "integer:3", "real:0.500000", "blob:x"},
                  {"text:bank.Opened.v1", "integer:1", "null:", "blob:"}}));
  // Columns, SQL types and the primary key as the schema says.
  EXPECT_EQ(raw.Query("SELECT name, type, pk FROM pragma_table_info('type-counts') ORDER BY cid"),
            (Rows{{"text:type", "text:TEXT", "integer:1"},
                  {"text:count", "text:INTEGER", "integer:0"},
                  {"text:ratio", "text:REAL", "integer:0"},
                  {"text:sample", "text:BLOB", "integer:0"}}));
  // STRICT and WITHOUT ROWID.
  EXPECT_EQ(raw.Query("SELECT wr, strict FROM pragma_table_list('type-counts')"),
            (Rows{{"integer:1", "integer:1"}}));
  // STRICT: a tool cannot slip a value of the wrong type in behind the store.
  EXPECT_NE(raw.Exec("INSERT INTO \"type-counts\" VALUES ('x', 'not a number', NULL, NULL)"), "");
}

TEST_F(SqliteStoreTest, CompositeKeysArePrimaryKeysInOrder) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CreateWith(*store, Pairs("pairs"),
             {{std::int64_t{2}, std::string("a"), std::string("x")},
              {std::int64_t{1}, std::string("b"), std::string("y")},
              {std::int64_t{1}, std::string("a"), std::monostate{}}});
  RawDb raw(path_);
  using Rows = std::vector<std::vector<std::string>>;
  EXPECT_EQ(raw.Query("SELECT name, pk FROM pragma_table_info('pairs') ORDER BY cid"),
            (Rows{{"text:a", "integer:1"}, {"text:b", "integer:2"}, {"text:v", "integer:0"}}));
  Key after{std::int64_t{1}, std::string("a")};
  Result<std::vector<Row>> rows = store->Scan("pairs", &after, 10);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (Row{std::int64_t{1}, std::string("b"), std::string("y")}));
  EXPECT_EQ((*rows)[1], (Row{std::int64_t{2}, std::string("a"), std::string("x")}));
}

TEST_F(SqliteStoreTest, EmptyBlobStaysABlobAndNullStaysNull) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TableSchema schema{"cells",
                     {{"id", ColumnType::kInteger}},
                     {{"b", ColumnType::kBlob}, {"t", ColumnType::kText}}};
  CreateWith(*store, schema,
             {{std::int64_t{1}, Blob{}, std::string()},
              {std::int64_t{2}, std::monostate{}, std::monostate{}},
              {std::int64_t{3}, Blob{std::string("a\0b", 3)}, std::string("c\0d", 3)}});
  Result<std::vector<Row>> rows = store->Scan("cells", nullptr, 10);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0], (Row{std::int64_t{1}, Blob{}, std::string()}));
  EXPECT_EQ((*rows)[1], (Row{std::int64_t{2}, std::monostate{}, std::monostate{}}));
  EXPECT_EQ((*rows)[2],
            (Row{std::int64_t{3}, Blob{std::string("a\0b", 3)}, std::string("c\0d", 3)}));
  RawDb raw(path_);
  using Rows = std::vector<std::vector<std::string>>;
  EXPECT_EQ(raw.Query("SELECT typeof(b), typeof(t), length(CAST(t AS BLOB)) FROM cells"),
            (Rows{{"text:blob", "text:text", "integer:0"},
                  {"text:null", "text:null", "null:"},
                  {"text:blob", "text:text", "integer:3"}}));
}

TEST_F(SqliteStoreTest, CatalogIsHiddenAndReservedNamesAreRefused) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  TableSchema runtime = Pairs("sluice_checkpoints");
  CreateWith(*store, runtime, {});
  Result<std::vector<std::string>> tables = store->ListTables();
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, std::vector<std::string>{"sluice_checkpoints"});

  auto batch = Begin(*store);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->CreateTable(Pairs("_sluice_catalog")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(batch->CreateTable(Pairs("sqlite_stat1")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(batch->RenameTable("sluice_checkpoints", "_SLUICE_CATALOG").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(batch->Put("_sluice_catalog", {std::string("x"), std::string("y")}).code(),
            StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, NamesDifferingOnlyInCaseClashButACaseRenameWorks) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CreateWith(*store, Pairs("Orders"), {{std::int64_t{1}, std::string("a"), std::string("v")}});
  auto batch = Begin(*store);
  ASSERT_NE(batch, nullptr);
  Status clash = batch->CreateTable(Pairs("orders"));
  EXPECT_EQ(clash.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(clash.message().find("case"), std::string::npos) << clash.message();
  TableSchema twins{"twins", {{"id", ColumnType::kInteger}}, {{"ID", ColumnType::kText}}};
  if (ValidateSchema(twins).ok()) {
    EXPECT_EQ(batch->CreateTable(twins).code(), StatusCode::kInvalidArgument);
  }
  ASSERT_TRUE(batch->RenameTable("Orders", "ORDERS").ok());
  ASSERT_TRUE(batch->Commit().ok());
  Result<std::optional<Row>> row = store->Get("ORDERS", {std::int64_t{1}, std::string("a")});
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_TRUE(row->has_value());
  EXPECT_EQ(*store->ListTables(), std::vector<std::string>{"ORDERS"});
}

TEST_F(SqliteStoreTest, ReadsSeeOnlyCommittedDataAndAreNotBlockedByATransaction) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CreateWith(*store, Pairs("pairs"), {});
  auto batch = Begin(*store);
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(batch->Put("pairs", {std::int64_t{1}, std::string("a"), std::string("v")}).ok());
  const auto start = std::chrono::steady_clock::now();
  Result<std::optional<Row>> before = store->Get("pairs", {std::int64_t{1}, std::string("a")});
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_FALSE(before->has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  // The transaction reads its own write.
  Result<std::optional<Row>> own = batch->Get("pairs", {std::int64_t{1}, std::string("a")});
  ASSERT_TRUE(own.ok());
  EXPECT_TRUE(own->has_value());
  ASSERT_TRUE(batch->Commit().ok());
  Result<std::optional<Row>> after = store->Get("pairs", {std::int64_t{1}, std::string("a")});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->has_value());
}

TEST_F(SqliteStoreTest, BeginIsUnavailableWhileAnotherConnectionHoldsTheWriteLock) {
  SqliteReadModelStoreOptions options;
  options.busy_timeout = 200ms;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  RawDb raw(path_);
  ASSERT_EQ(raw.Exec("BEGIN IMMEDIATE"), "");
  const auto start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<ReadModelBatch>> batch = store->Begin();
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kUnavailable) << batch.status().ToString();
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 5s);
  // Reads go on meanwhile.
  EXPECT_TRUE(store->ListTables().ok());
  ASSERT_EQ(raw.Exec("ROLLBACK"), "");
  EXPECT_NE(Begin(*store), nullptr);
}

TEST_F(SqliteStoreTest, BeginIsUnavailableWhileAnotherProcessHoldsTheWriteLock) {
  SqliteReadModelStoreOptions options;
  options.busy_timeout = 200ms;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  int locked[2];
  int release[2];
  ASSERT_EQ(pipe(locked), 0);
  ASSERT_EQ(pipe(release), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child opens its own connection (never one inherited over fork) and holds the lock.
    sqlite3* db = nullptr;
    char byte = 'L';
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      byte = 'E';
    }
    if (write(locked[1], &byte, 1) != 1) _exit(2);
    if (read(release[0], &byte, 1) != 1) _exit(3);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close_v2(db);
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(locked[0], &byte, 1), 1);
  EXPECT_EQ(byte, 'L');
  Result<std::unique_ptr<ReadModelBatch>> batch = store->Begin();
  EXPECT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), StatusCode::kUnavailable) << batch.status().ToString();
  // Opening the store and reading need no write lock.
  Result<std::unique_ptr<ReadModelStore>> second = OpenSqliteReadModelStore(path_, options);
  EXPECT_TRUE(second.ok()) << second.status().ToString();
  if (second.ok()) {
    EXPECT_TRUE((*second)->ListTables().ok());
  }
  ASSERT_EQ(write(release[1], "go", 1), 1);
  int exit_status = 0;
  ASSERT_EQ(waitpid(child, &exit_status, 0), child);
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0);
  for (int fd : {locked[0], locked[1], release[0], release[1]}) close(fd);
  EXPECT_NE(Begin(*store), nullptr);
}

TEST_F(SqliteStoreTest, SecondBatchOfThisProcessWaitsForTheFirst) {
  SqliteReadModelStoreOptions options;
  options.busy_timeout = 150ms;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  CreateWith(*store, Pairs("pairs"), {});
  {
    auto first = Begin(*store);
    ASSERT_NE(first, nullptr);
    Result<std::unique_ptr<ReadModelBatch>> second = store->Begin();
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  }
  options.busy_timeout = 5s;
  auto patient = Open(options);
  ASSERT_NE(patient, nullptr);
  auto first = Begin(*patient);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Put("pairs", {std::int64_t{1}, std::string("a"), std::string("1")}).ok());
  std::thread committer([&first] {
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(first->Commit().ok());
  });
  auto second = Begin(*patient);  // waits for the commit
  committer.join();
  ASSERT_NE(second, nullptr);
  Result<std::optional<Row>> row = second->Get("pairs", {std::int64_t{1}, std::string("a")});
  ASSERT_TRUE(row.ok());
  EXPECT_TRUE(row->has_value());
}

TEST_F(SqliteStoreTest, SchemaChangedByAnotherConnectionIsNoticed) {
  auto worker = Open();
  auto rebuilder = Open();
  ASSERT_NE(worker, nullptr);
  ASSERT_NE(rebuilder, nullptr);
  CreateWith(*worker, Pairs("orders"), {{std::int64_t{1}, std::string("a"), std::string("v")}});
  // The worker's connections have read the catalog (reads and a transaction).
  ASSERT_TRUE(worker->DescribeTable("orders")->has_value());
  {
    auto batch = Begin(*worker);
    ASSERT_NE(batch, nullptr);
    ASSERT_TRUE(batch->Get("orders", {std::int64_t{1}, std::string("a")}).ok());
  }
  // The rebuilder renames the table and creates another of the same name with another shape.
  {
    auto batch = Begin(*rebuilder);
    ASSERT_NE(batch, nullptr);
    ASSERT_TRUE(batch->RenameTable("orders", "orders-old").ok());
    ASSERT_TRUE(
        batch->CreateTable({"orders", {{"id", ColumnType::kText}}, {{"n", ColumnType::kInteger}}})
            .ok());
    ASSERT_TRUE(batch->Commit().ok());
  }
  Result<std::optional<TableSchema>> now = worker->DescribeTable("orders");
  ASSERT_TRUE(now.ok());
  ASSERT_TRUE(now->has_value());
  EXPECT_EQ((*now)->key, (std::vector<Column>{{"id", ColumnType::kText}}));
  Result<std::optional<Row>> old = worker->Get("orders-old", {std::int64_t{1}, std::string("a")});
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_TRUE(old->has_value());
  auto batch = Begin(*worker);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->Put("orders", {std::int64_t{2}, std::string("b"), std::string("v")}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(batch->Put("orders", {std::string("k"), std::int64_t{7}}).ok());
  ASSERT_TRUE(batch->DropTable("orders-old").ok());
  ASSERT_TRUE(batch->Commit().ok());
  EXPECT_EQ(*rebuilder->ListTables(), std::vector<std::string>{"orders"});
  EXPECT_EQ(*rebuilder->Get("orders", {std::string("k")}),
            (std::optional<Row>(Row{std::string("k"), std::int64_t{7}})));
}

TEST_F(SqliteStoreTest, DroppedBatchUndoesItsTablesAndTheCatalogFollows) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CreateWith(*store, Pairs("kept"), {});
  {
    auto batch = Begin(*store);
    ASSERT_NE(batch, nullptr);
    ASSERT_TRUE(batch->CreateTable(Pairs("gone")).ok());
    ASSERT_TRUE(batch->Put("gone", {std::int64_t{1}, std::string("a"), std::string("v")}).ok());
    ASSERT_TRUE(batch->RenameTable("kept", "renamed").ok());
  }
  EXPECT_EQ(*store->ListTables(), std::vector<std::string>{"kept"});
  auto batch = Begin(*store);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->Put("gone", {std::int64_t{1}, std::string("a"), std::string("v")}).code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(batch->Put("kept", {std::int64_t{1}, std::string("a"), std::string("v")}).ok());
  EXPECT_TRUE(batch->Commit().ok());
  EXPECT_EQ(batch->Put("kept", {std::int64_t{2}, std::string("a"), std::string("v")}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, BatchMayOutliveTheStore) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CreateWith(*store, Pairs("pairs"), {});
  auto batch = Begin(*store);
  ASSERT_NE(batch, nullptr);
  store.reset();
  ASSERT_TRUE(batch->Put("pairs", {std::int64_t{1}, std::string("a"), std::string("v")}).ok());
  ASSERT_TRUE(batch->Commit().ok());
  batch.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Get("pairs", {std::int64_t{1}, std::string("a")})->has_value());
}

TEST_F(SqliteStoreTest, UnsyncedStoreKeepsCommits) {
  SqliteReadModelStoreOptions options;
  options.sync = false;
  {
    auto store = Open(options);
    ASSERT_NE(store, nullptr);
    CreateWith(*store, Pairs("pairs"), {{std::int64_t{1}, std::string("a"), std::string("v")}});
  }
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Get("pairs", {std::int64_t{1}, std::string("a")})->has_value());
}

TEST_F(SqliteStoreTest, FileThatIsNotADatabaseIsAnErrorNotACrash) {
  {
    std::ofstream out(path_, std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is a text file, not a database\n";
  }
  Result<std::unique_ptr<ReadModelStore>> store = OpenSqliteReadModelStore(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().code() == StatusCode::kCorruption ||
              store.status().code() == StatusCode::kInvalidArgument)
      << store.status().ToString();
  EXPECT_NE(store.status().message().find("not a database"), std::string::npos)
      << store.status().ToString();
  EXPECT_NE(store.status().message().find(path_), std::string::npos);
}

TEST_F(SqliteStoreTest, MissingFileDirectoryAndMemoryPathsAreRefused) {
  SqliteReadModelStoreOptions options;
  options.create_if_missing = false;
  EXPECT_EQ(OpenSqliteReadModelStore(path_, options).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(OpenSqliteReadModelStore(dir_.path()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenSqliteReadModelStore(":memory:").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(OpenSqliteReadModelStore(dir_.Sub("no/such/folder/x.db")).ok());
}

TEST_F(SqliteStoreTest, ForeignCatalogTableIsRefused) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "CREATE TABLE _sluice_catalog (id INTEGER)", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close_v2(db);
  Result<std::unique_ptr<ReadModelStore>> store = OpenSqliteReadModelStore(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << store.status().ToString();
}

TEST_F(SqliteStoreTest, DamagedCatalogEntryIsCorruption) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    CreateWith(*store, Pairs("pairs"), {});
  }
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("UPDATE _sluice_catalog SET schema = 'key a decimal\n'"), "");
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->ListTables().status().code(), StatusCode::kCorruption);
  EXPECT_EQ(store->Begin().status().code(), StatusCode::kCorruption);
}

TEST_F(SqliteStoreTest, TableDroppedBehindTheStoresBackIsCorruption) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  CreateWith(*store, Pairs("pairs"), {{std::int64_t{1}, std::string("a"), std::string("v")}});
  ASSERT_TRUE(store->Scan("pairs", nullptr, 10).ok());
  {
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("DROP TABLE pairs"), "");
  }
  EXPECT_EQ(store->Scan("pairs", nullptr, 10).status().code(), StatusCode::kCorruption);
  auto batch = Begin(*store);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->Put("pairs", {std::int64_t{2}, std::string("b"), std::string("v")}).code(),
            StatusCode::kCorruption);
  // Dropping it through the store mends the catalog.
  EXPECT_TRUE(batch->DropTable("pairs").ok());
  EXPECT_TRUE(batch->Commit().ok());
  EXPECT_EQ(*store->ListTables(), std::vector<std::string>{});
}

TEST_F(SqliteStoreTest, DamagedPagesAreErrorsNotCrashes) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    std::vector<Row> rows;
    for (std::int64_t i = 0; i < 2000; ++i) {
      rows.push_back({i, std::string("key") + std::to_string(i), std::string(100, 'v')});
    }
    CreateWith(*store, Pairs("pairs"), std::move(rows));
  }  // the last connection checkpoints the WAL into the file
  {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.good());
    file.seekp(0, std::ios::end);
    const std::streamoff size = file.tellp();
    ASSERT_GT(size, 16384);
    // Page 1 (the header and sqlite_schema) stays; every later page gets garbage in its middle.
    for (std::streamoff at = 4096 + 1000; at < size; at += 4096) {
      file.seekp(at);
      file.write("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", 16);
    }
  }
  Result<std::unique_ptr<ReadModelStore>> store = OpenSqliteReadModelStore(path_);
  bool failed = !store.ok();
  auto check = [&failed](const Status& status) {
    if (status.ok()) return;
    failed = true;
    EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.ToString();
  };
  if (store.ok()) {
    check((*store)->ListTables().status());
    check((*store)->Scan("pairs", nullptr, 5000).status());
    check((*store)->Get("pairs", {std::int64_t{1500}, std::string("key1500")}).status());
    Result<std::unique_ptr<ReadModelBatch>> batch = (*store)->Begin();
    check(batch.status());
    if (batch.ok()) {
      for (std::int64_t i = 0; i < 2000; i += 100) {
        check((*batch)->Put("pairs", {i, std::string("new"), std::string("v")}));
      }
      check((*batch)->Commit());
    }
  } else {
    EXPECT_EQ(store.status().code(), StatusCode::kCorruption) << store.status().ToString();
  }
  EXPECT_TRUE(failed);
}

}  // namespace
}  // namespace sluice
