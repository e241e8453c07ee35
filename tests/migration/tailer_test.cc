// The tailer: captured changes become events, in order, exactly once, across restarts.
#include "sluice/migration/tailer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "legacy_db.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/migration/sqlite_legacy_source.h"

namespace sluice::migration {
namespace {

using nlohmann::json;
using testing::LegacyDb;

// The events of captured changes, in log order: every event but the tables' schema events
// (schema_event.h), which the tailer appends before a table's first change.
std::vector<RecordedEvent> AllEvents(EventStore& store) {
  Result<std::vector<RecordedEvent>> events = store.ReadAll(1, 1'000'000);
  EXPECT_TRUE(events.ok());
  std::vector<RecordedEvent> changes;
  if (!events.ok()) return changes;
  for (RecordedEvent& event : *events) {
    if (!event.type.ends_with(".SchemaCaptured.v1")) changes.push_back(std::move(event));
  }
  return changes;
}

class TailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("tailer");
    path_ = (dir_ / "legacy.db").string();
    db_ = std::make_unique<LegacyDb>(path_);
    db_->Exec(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE order_lines (order_id INTEGER, line_no INTEGER, qty INTEGER, "
        "PRIMARY KEY (order_id, line_no));"
        "CREATE TABLE tags (tag TEXT PRIMARY KEY);");
    source_ = OpenSource();
    ASSERT_TRUE(source_->Install({"customers", "order_lines", "tags"}).ok());
  }
  void TearDown() override {
    source_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<LegacySource> OpenSource() {
    Result<std::unique_ptr<LegacySource>> source = OpenSqliteLegacySource(path_);
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return source.ok() ? std::move(*source) : nullptr;
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<LegacyDb> db_;
  std::unique_ptr<LegacySource> source_;
  InMemoryEventStore store_;
};

TEST_F(TailerTest, AppendsEveryCommittedChangeInOrderWithTheMirrorMapping) {
  db_->Exec(
      "INSERT INTO customers VALUES (42, 'ann');"
      "INSERT INTO order_lines VALUES (7, 2, 5);"
      "INSERT INTO tags VALUES ('a,b');"
      "UPDATE customers SET name = 'anne';"
      "BEGIN; DELETE FROM customers; ROLLBACK;"
      "DELETE FROM order_lines;");
  Tailer tailer(*source_, store_);
  Result<TailProgress> progress = tailer.CatchUp();
  ASSERT_TRUE(progress.ok()) << progress.status().ToString();
  EXPECT_EQ(progress->changes, 5u);
  EXPECT_EQ(progress->checkpoint, 5);

  const std::vector<RecordedEvent> events = AllEvents(store_);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].stream, "customers-42");
  EXPECT_EQ(events[0].type, "customers.RowInserted.v1");
  EXPECT_EQ(events[0].content_type, ContentType::kJson);
  EXPECT_EQ(json::parse(events[0].payload),
            json::parse(R"({"table":"customers","key":{"id":42},"row":{"id":42,"name":"ann"}})"));
  EXPECT_EQ(events[0].metadata.extra.at("change_id"), "1");
  EXPECT_EQ(events[0].metadata.extra.at("source").rfind("migration:", 0), 0u);
  EXPECT_EQ(events[1].stream, "order_lines-7,2");
  EXPECT_EQ(events[2].stream, "tags-\"a,b\"");
  EXPECT_EQ(events[3].type, "customers.RowUpdated.v1");
  EXPECT_EQ(events[3].stream, "customers-42");
  EXPECT_EQ(events[3].version, 1);
  EXPECT_EQ(events[4].type, "order_lines.RowDeleted.v1");
  EXPECT_EQ(json::parse(events[4].payload),
            json::parse(R"({"table":"order_lines","key":{"order_id":7,"line_no":2}})"));
  EXPECT_EQ(*source_->LoadCheckpoint(tailer.consumer()), 5);
}

TEST_F(TailerTest, RestartAfterACrashBetweenAppendAndCheckpointDuplicatesNothing) {
  for (int i = 1; i <= 10; ++i) {
    db_->Exec("INSERT INTO customers VALUES (" + std::to_string(i) + ", 'c')");
  }
  TailerOptions options;
  options.batch_size = 4;
  {
    Tailer first(*source_, store_, options);
    ASSERT_TRUE(first.Step().ok());  // changes 1-4 appended and checkpointed
    ASSERT_TRUE(first.Step().ok());  // changes 5-8 appended...
  }
  // ...and the process "crashed" before saving the checkpoint of the second batch.
  ASSERT_TRUE(source_->SaveCheckpoint("tail:", 4).ok());
  EXPECT_EQ(AllEvents(store_).size(), 8u);

  source_ = OpenSource();
  Tailer restarted(*source_, store_, options);
  Result<TailProgress> progress = restarted.CatchUp();
  ASSERT_TRUE(progress.ok()) << progress.status().ToString();
  const std::vector<RecordedEvent> events = AllEvents(store_);
  ASSERT_EQ(events.size(), 10u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].stream, "customers-" + std::to_string(i + 1));
    EXPECT_EQ(events[i].metadata.extra.at("change_id"), std::to_string(i + 1));
  }
}

TEST_F(TailerTest, EventIdsAreDerivedFromTheChangeAndChangeWithAReinstall) {
  db_->Exec("INSERT INTO customers VALUES (1, 'a')");
  Tailer tailer(*source_, store_);
  ASSERT_TRUE(tailer.CatchUp().ok());
  InMemoryEventStore other;
  TailerOptions options;
  options.consumer = "other";
  Tailer again(*source_, other, options);
  ASSERT_TRUE(again.CatchUp().ok());
  EXPECT_EQ(AllEvents(store_)[0].event_id, AllEvents(other)[0].event_id);

  // A reinstalled change log starts again at change 1: its events must not look like old ones.
  ASSERT_TRUE(source_->Uninstall({"customers", "order_lines", "tags"}).ok());
  ASSERT_TRUE(source_->Install({"customers"}).ok());
  db_->Exec("INSERT INTO customers VALUES (2, 'b')");
  Tailer fresh(*source_, store_);
  ASSERT_TRUE(fresh.CatchUp().ok());
  const std::vector<RecordedEvent> events = AllEvents(store_);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].event_id, events[1].event_id);
}

TEST_F(TailerTest, OnlyTheChosenTablesBecomeEvents) {
  db_->Exec("INSERT INTO customers VALUES (1, 'a'); INSERT INTO tags VALUES ('t');");
  TailerOptions options;
  options.tables = {"tags"};
  Tailer tailer(*source_, store_, options);
  EXPECT_EQ(tailer.consumer(), "tail:tags");
  Result<TailProgress> progress = tailer.CatchUp();
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->checkpoint, 2);
  const std::vector<RecordedEvent> events = AllEvents(store_);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].stream, "tags-\"t\"");
}

// A user mapping: inserted customers become domain events, everything else is skipped.
class CustomerMapping final : public ChangeMapping {
 public:
  Result<std::optional<MappedChange>> Map(const Change& change) const override {
    if (change.table != "customers" || change.op != ChangeOp::kInsert)
      return std::optional<MappedChange>();
    const json row = json::parse(change.row_json);
    MappedChange mapped;
    mapped.stream = "customer-" + std::to_string(row["id"].get<int>());
    EventData event;
    event.type = "crm.CustomerRegistered.v1";
    event.content_type = ContentType::kJson;
    event.payload = json{{"name", row["name"]}}.dump();
    mapped.events = {event, event};
    mapped.events[1].type = "crm.WelcomeDue.v1";
    return std::optional<MappedChange>(std::move(mapped));
  }
};

TEST_F(TailerTest, UserMappingsReplaceTheMirror) {
  db_->Exec("INSERT INTO customers VALUES (9, 'zed'); UPDATE customers SET name = 'z';");
  TailerOptions options;
  options.mapping = std::make_shared<CustomerMapping>();
  Tailer tailer(*source_, store_, options);
  ASSERT_TRUE(tailer.CatchUp().ok());
  const std::vector<RecordedEvent> events = AllEvents(store_);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].stream, "customer-9");
  EXPECT_EQ(events[0].type, "crm.CustomerRegistered.v1");
  EXPECT_EQ(events[1].type, "crm.WelcomeDue.v1");
  EXPECT_NE(events[0].event_id, events[1].event_id);
}

TEST_F(TailerTest, NothingInstalledIsInvalidArgument) {
  ASSERT_TRUE(source_->Uninstall({"customers", "order_lines", "tags"}).ok());
  Tailer tailer(*source_, store_);
  EXPECT_EQ(tailer.CatchUp().status().code(), StatusCode::kInvalidArgument);
}

TEST(StreamKeyTest, JoinsTypedKeyValuesUnambiguously) {
  EXPECT_EQ(*StreamKey(R"({"id":42})"), "42");
  EXPECT_EQ(*StreamKey(R"({"id":"42"})"), "\"42\"");
  EXPECT_EQ(*StreamKey(R"({"a":7,"b":"x,y"})"), "7,\"x,y\"");
  EXPECT_EQ(*StreamKey(R"({"a":{"$blob":"AP8="}})"), R"({"$blob":"AP8="})");
  EXPECT_FALSE(StreamKey("{}").ok());
}

TEST(MirrorMappingTest, LongKeysGetAStableShortStream) {
  Change change;
  change.change_id = 1;
  change.table = "t";
  change.key_json = "{\"k\":\"" + std::string(300, 'x') + "\"}";
  change.row_json = change.key_json;
  Result<std::optional<MappedChange>> first = MirrorMapping()->Map(change);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)->stream.rfind("t-#", 0), 0u);
  EXPECT_LE((*first)->stream.size(), 200u);
  EXPECT_EQ((*MirrorMapping()->Map(change))->stream, (*first)->stream);
}

}  // namespace
}  // namespace sluice::migration
