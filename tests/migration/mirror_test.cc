// The schema event and the generic mirror projection: legacy changes captured by the tailer end
// up in a read-model table with the legacy table's key, columns and values, in SQLite and
// PostgreSQL read models (the latter on the throwaway server of the postgres_server fixture).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "legacy_db.h"
#include "mirror_check.h"
#include "postgres/postgres_test_server.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/migration/change_mapping.h"
#include "sluice/migration/mirror_projection.h"
#include "sluice/migration/schema_event.h"
#include "sluice/migration/sqlite_legacy_source.h"
#include "sluice/migration/tailer.h"
#include "sluice/postgres/postgres_read_model_store.h"
#include "sluice/projections/projection_worker.h"
#include "sluice/sqlite/sqlite_read_model_store.h"

namespace sluice::migration {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::LegacyDb;

LegacyTable Items() {
  LegacyTable table;
  table.name = "items";
  table.columns = {{"note", "TEXT", LogicalType::kText},
                   {"id", "INTEGER", LogicalType::kInteger},
                   {"price", "DECIMAL(10,2)", LogicalType::kDecimal},
                   {"region", "VARCHAR(4)", LogicalType::kText}};
  table.key = {3, 1};
  return table;
}

std::vector<RecordedEvent> StreamEvents(EventStore& store, const std::string& stream) {
  Result<std::vector<RecordedEvent>> events =
      store.ReadStream(*StreamId::Make(stream), 0, 1'000'000);
  return events.ok() ? *events : std::vector<RecordedEvent>{};
}

TEST(SchemaEventTest, EncodesTheDocumentedPayloadAndDecodesIt) {
  const LegacyTable table = Items();
  const json payload = json::parse(EncodeSchema(table));
  const json expected = {
      {"table", "items"},
      {"columns",
       {{{"name", "note"}, {"declared_type", "TEXT"}, {"type", "text"}},
        {{"name", "id"}, {"declared_type", "INTEGER"}, {"type", "integer"}},
        {{"name", "price"}, {"declared_type", "DECIMAL(10,2)"}, {"type", "decimal"}},
        {{"name", "region"}, {"declared_type", "VARCHAR(4)"}, {"type", "text"}}}},
      {"key", {"region", "id"}}};
  EXPECT_EQ(payload, expected);
  Result<LegacyTable> decoded = DecodeSchema(EncodeSchema(table));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, table);
  EXPECT_EQ(SchemaStream("items"), "items.schema");
  EXPECT_EQ(SchemaEventType("items"), "items.SchemaCaptured.v1");
  const std::vector<std::string> bad = {
      "{}",
      "[]",
      "x",
      R"j({"table": "t", "columns": [], "key": []})j",
      R"j({"table": "t", "columns": [{"name": "a", "declared_type": "", "type": "weird"}],
           "key": ["a"]})j",
      R"j({"table": "t", "columns": [{"name": "a", "declared_type": "", "type": "text"}],
           "key": ["b"]})j"};
  for (const std::string& text : bad) {
    Result<LegacyTable> refused = DecodeSchema(text);
    ASSERT_FALSE(refused.ok()) << text;
    EXPECT_EQ(refused.status().code(), StatusCode::kCorruption) << text;
  }
}

TEST(SchemaEventTest, AppendingTheSameSchemaAgainIsANoOpAndAChangeBackIsAppended) {
  InMemoryEventStore store;
  LegacyTable a = Items();
  LegacyTable b = a;
  b.columns.push_back({"extra", "TEXT", LogicalType::kText});
  EXPECT_EQ(AppendSchemaIfChanged(store, a, "src").value(), true);
  EXPECT_EQ(AppendSchemaIfChanged(store, a, "src").value(), false);
  EXPECT_EQ(AppendSchemaIfChanged(store, b, "src").value(), true);
  EXPECT_EQ(AppendSchemaIfChanged(store, a, "src").value(), true);  // A, B, A
  const std::vector<RecordedEvent> events = StreamEvents(store, "items.schema");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "items.SchemaCaptured.v1");
  EXPECT_EQ(events[0].metadata.extra.at("source"), "migration:src");
  EXPECT_NE(events[0].event_id, events[2].event_id);
  Result<std::optional<LegacyTable>> loaded = LoadSchema(store, "items");
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ(**loaded, a);
  EXPECT_FALSE(LoadSchema(store, "other").value().has_value());
}

TEST(MirrorTableSchemaTest, KeyColumnsFirstInKeyOrderThenTheOthersInTableOrder) {
  Result<TableSchema> schema = MirrorTableSchema(Items());
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_EQ(schema->name, "items");
  EXPECT_EQ(schema->key,
            (std::vector<Column>{{"region", ColumnType::kText}, {"id", ColumnType::kInteger}}));
  EXPECT_EQ(schema->columns,
            (std::vector<Column>{{"note", ColumnType::kText}, {"price", ColumnType::kText}}));
  EXPECT_EQ(MirrorProjectionName("items"), "mirror.items");
}

TEST(MirrorTableSchemaTest, NamesAReadModelCannotHoldAreAClearError) {
  LegacyTable spaced = Items();
  spaced.name = "order lines";
  LegacyTable bad_column = Items();
  bad_column.columns[0].name = "a b";
  LegacyTable real_key = Items();
  real_key.columns[1].type = LogicalType::kReal;
  LegacyTable long_name = Items();
  long_name.name = std::string(60, 't');
  for (const LegacyTable& table : {spaced, bad_column, real_key, long_name}) {
    Result<std::shared_ptr<Projection>> made = MakeMirrorProjection(table);
    ASSERT_FALSE(made.ok()) << table.name;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(made.status().message().find("cannot be mirrored"), std::string::npos)
        << made.status().ToString();
  }
  InMemoryEventStore store;
  Result<std::vector<std::shared_ptr<Projection>>> none = MakeMirrorProjections(store, {"items"});
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.status().IsNotFound());
  EXPECT_NE(none.status().message().find("items"), std::string::npos);
}

// The read models the mirror writes to, by name.
class MirrorFlowTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("mirror");
    path_ = (dir_ / "legacy.db").string();
    db_ = std::make_unique<LegacyDb>(path_);
    if (GetParam() == "postgres") {
      const std::string url = sluice::testing::RequirePostgres();
      if (url.empty()) return;
      schema_ = std::make_unique<sluice::testing::ScratchSchema>(url);
      PostgresReadModelStoreOptions options;
      options.schema = schema_->name();
      Result<std::unique_ptr<ReadModelStore>> opened = OpenPostgresReadModelStore(url, options);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      read_model_ = std::move(*opened);
    } else {
      Result<std::unique_ptr<ReadModelStore>> opened =
          OpenSqliteReadModelStore((dir_ / "read.db").string());
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      read_model_ = std::move(*opened);
    }
  }
  void TearDown() override {
    workers_.clear();
    read_model_.reset();
    source_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Install(const std::vector<std::string>& tables) {
    Result<std::unique_ptr<LegacySource>> source = OpenSqliteLegacySource(path_);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    source_ = std::move(*source);
    ASSERT_TRUE(source_->Install(tables).ok());
    TailerOptions options;
    options.tables = std::set<std::string>(tables.begin(), tables.end());
    tailer_ = std::make_unique<Tailer>(*source_, events_, options);
  }

  void Tail() {
    Result<TailProgress> done = tailer_->CatchUp();
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }

  void StartMirror(const std::vector<std::string>& tables) {
    Result<std::vector<std::shared_ptr<Projection>>> projections =
        MakeMirrorProjections(events_, tables);
    ASSERT_TRUE(projections.ok()) << projections.status().ToString();
    for (const std::shared_ptr<Projection>& projection : *projections) {
      ProjectionOptions options;
      options.failure.then = OnFailure::kStop;
      options.failure.max_attempts = 1;
      Result<std::unique_ptr<ProjectionWorker>> worker =
          ProjectionWorker::Start(events_, *read_model_, projection, options);
      ASSERT_TRUE(worker.ok()) << worker.status().ToString();
      workers_.push_back(std::move(*worker));
    }
  }

  // Waits until every mirror has processed the whole log.
  void CatchUp() {
    for (const auto& worker : workers_) {
      const Status reached = worker->WaitFor(events_.HeadPosition(), milliseconds(60'000));
      ASSERT_TRUE(reached.ok()) << worker->name() << ": " << reached.ToString();
    }
  }

  void ExpectInSync(const std::string& table) {
    EXPECT_EQ(testing::Describe(testing::ReadModelRows(*read_model_, table)),
              testing::Describe(testing::ExpectedMirrorRows(*source_, table)))
        << table;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<LegacyDb> db_;
  std::unique_ptr<sluice::testing::ScratchSchema> schema_;
  std::unique_ptr<ReadModelStore> read_model_;
  std::unique_ptr<LegacySource> source_;
  InMemoryEventStore events_;
  std::unique_ptr<Tailer> tailer_;
  std::vector<std::unique_ptr<ProjectionWorker>> workers_;
};

TEST_P(MirrorFlowTest, TheTailerAppendsTheSchemaEventBeforeTheFirstChangeOnce) {
  db_->Exec("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)");
  Install({"items"});
  db_->Exec("INSERT INTO items VALUES (1, 'a')");
  Tail();
  db_->Exec("INSERT INTO items VALUES (2, 'b')");
  Tail();
  const std::vector<RecordedEvent> all = events_.ReadAll(1, 100).value();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].stream, "items.schema");
  EXPECT_EQ(all[0].type, "items.SchemaCaptured.v1");
  EXPECT_EQ(json::parse(all[0].payload)["key"], json::array({"id"}));
  EXPECT_EQ(all[1].type, "items.RowInserted.v1");
  // A new tailer (a new run) does not append an equal schema again.
  Tailer again(*source_, events_, TailerOptions{{"items"}, "other", 500, nullptr});
  db_->Exec("INSERT INTO items VALUES (3, 'c')");
  ASSERT_TRUE(again.CatchUp().ok());
  EXPECT_EQ(StreamEvents(events_, "items.schema").size(), 1u);
}

TEST_P(MirrorFlowTest, InsertUpdateDeleteAndKeyUpdatesWithACompositeKey) {
  db_->Exec(
      "CREATE TABLE order_lines (order_id INTEGER, sku TEXT, qty INTEGER, note TEXT, "
      "PRIMARY KEY (sku, order_id))");
  Install({"order_lines"});
  db_->Exec("INSERT INTO order_lines VALUES (1, 'a', 1, 'x')");
  Tail();
  StartMirror({"order_lines"});
  db_->Exec(
      "INSERT INTO order_lines VALUES (1, 'b', 2, NULL), (2, 'a', 3, ''), (2, 'b', 4, 'y');"
      "UPDATE order_lines SET qty = 10 WHERE order_id = 1 AND sku = 'a';"
      "DELETE FROM order_lines WHERE order_id = 2 AND sku = 'b';"
      "UPDATE order_lines SET order_id = 7, sku = 'z' WHERE order_id = 2 AND sku = 'a';"
      "UPDATE order_lines SET note = 'moved' WHERE order_id = 7;");
  Tail();
  CatchUp();
  ExpectInSync("order_lines");
  const std::vector<Row> rows = testing::ReadModelRows(*read_model_, "order_lines");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (Row{std::string("a"), std::int64_t{1}, std::int64_t{10}, std::string("x")}));
  EXPECT_EQ(rows[2],
            (Row{std::string("z"), std::int64_t{7}, std::int64_t{3}, std::string("moved")}));
}

TEST_P(MirrorFlowTest, ValuesOfEveryTypeKeepTheirMeaning) {
  db_->Exec(
      "CREATE TABLE vals (id INTEGER PRIMARY KEY, i INTEGER, r REAL, d DECIMAL(10,2), "
      "b BOOLEAN, bl BLOB, t TEXT, ts TIMESTAMP, dt DATE, x)");
  Install({"vals"});
  db_->Exec(
      "INSERT INTO vals VALUES (1, 42, 1.5, '1.10', 1, x'00ff', 'héllo', '2024-01-02 03:04:05', "
      "'2024-01-02', 'free');"
      "INSERT INTO vals VALUES (2, NULL, 9e999, 12.5, 0, x'', '', NULL, NULL, 7);"
      "INSERT INTO vals VALUES (3, -9223372036854775808, -0.0, 3, NULL, NULL, '<null>', NULL, "
      "NULL, 2.25);"
      "INSERT INTO vals VALUES (4, 1, 2, '1e2', 1, NULL, 'a''b\"c', NULL, NULL, NULL);");
  Tail();
  StartMirror({"vals"});
  CatchUp();
  ExpectInSync("vals");
  const std::vector<Row> rows = testing::ReadModelRows(*read_model_, "vals");
  ASSERT_EQ(rows.size(), 4u);
  // Decimals are text. SQLite's NUMERIC affinity stored '1.10' as the real 1.1 and '1e2' as the
  // integer 100: a number in a decimal column becomes its shortest exact text.
  EXPECT_EQ(rows[0][3], Value{std::string("1.1")});
  EXPECT_EQ(rows[1][3], Value{std::string("12.5")});
  EXPECT_EQ(rows[3][3], Value{std::string("100")});
  EXPECT_EQ(rows[0][5], Value{Blob{std::string("\0\xff", 2)}});
  EXPECT_EQ(rows[1][2], Value{std::numeric_limits<double>::infinity()});
  EXPECT_EQ(rows[3][2], Value{2.0});               // an integer in a REAL column becomes a real
  EXPECT_EQ(rows[1][9], Value{std::string("7")});  // untyped column: text
  EXPECT_EQ(rows[2][1], Value{std::numeric_limits<std::int64_t>::min()});
}

TEST_P(MirrorFlowTest, NanBecomesNull) {
  // SQLite stores no NaN; the event comes as a PostgreSQL capture would make it.
  db_->Exec("CREATE TABLE m (id INTEGER PRIMARY KEY, r DOUBLE PRECISION)");
  Install({"m"});
  db_->Exec("INSERT INTO m VALUES (1, 0.5)");
  Tail();
  Change change;
  change.change_id = 100;
  change.table = "m";
  change.op = ChangeOp::kUpdate;
  change.key_json = R"({"id":1})";
  change.row_json = R"({"id":1,"r":{"$real":"NaN"}})";
  Result<std::optional<MappedChange>> mapped = MirrorMapping()->Map(change);
  ASSERT_TRUE(mapped.ok());
  ASSERT_TRUE(
      events_.Append(*StreamId::Make((*mapped)->stream), ExpectedVersion::Any(), (*mapped)->events)
          .ok());
  StartMirror({"m"});
  CatchUp();
  EXPECT_EQ(testing::ReadModelRows(*read_model_, "m"),
            (std::vector<Row>{{std::int64_t{1}, Value{}}}));
}

TEST_P(MirrorFlowTest, TruncateRemovesEveryRowInOrderWithTheRowEvents) {
  db_->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  Install({"t"});
  db_->Exec("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
  Tail();
  // A TRUNCATE as PostgreSQL captures it, then rows written after it.
  Change truncate;
  truncate.change_id = 50;
  truncate.table = "t";
  truncate.op = ChangeOp::kTruncate;
  truncate.key_json = "{}";
  Result<std::optional<MappedChange>> mapped = MirrorMapping()->Map(truncate);
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  EXPECT_EQ((*mapped)->stream, "t.schema");
  EXPECT_EQ((*mapped)->events.at(0).type, "t.TableTruncated.v1");
  EXPECT_EQ(json::parse((*mapped)->events.at(0).payload), json::parse(R"({"table": "t"})"));
  ASSERT_TRUE(
      events_.Append(*StreamId::Make((*mapped)->stream), ExpectedVersion::Any(), (*mapped)->events)
          .ok());
  db_->Exec("DELETE FROM t; INSERT INTO t VALUES (3, 'c')");
  Tail();
  StartMirror({"t"});
  CatchUp();
  ExpectInSync("t");
  EXPECT_EQ(testing::ReadModelRows(*read_model_, "t").size(), 1u);
}

TEST_P(MirrorFlowTest, CheckpointReachesTheHeadWhenTheNewestEventsBelongToOtherTables) {
  db_->Exec(
      "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER);"
      "CREATE TABLE b (id INTEGER PRIMARY KEY, v INTEGER);");
  Install({"a", "b"});
  db_->Exec("INSERT INTO a VALUES (1, 1); INSERT INTO b VALUES (1, 1);");
  Tail();
  StartMirror({"a"});
  CatchUp();
  for (int i = 2; i < 50; ++i) db_->Exec("INSERT INTO b VALUES (" + std::to_string(i) + ", 0)");
  Tail();
  CatchUp();  // only b's events after a's checkpoint: it must still reach the head
  EXPECT_EQ(workers_[0]->Report().checkpoint, events_.HeadPosition());
  Result<std::optional<TableSchema>> b = read_model_->DescribeTable("b");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->has_value());  // mirror.a never touches b
  ExpectInSync("a");
}

INSTANTIATE_TEST_SUITE_P(ReadModels, MirrorFlowTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

}  // namespace
}  // namespace sluice::migration
