// The LegacySource conformance suite: what every legacy-database implementation (SQLite,
// PostgreSQL) must do, written once and run against each through a LegacyBackend that knows how
// to reach its database as a legacy application would (plain SQL on connections of its own).
//
// Instantiate with a factory type F: `static std::unique_ptr<LegacyBackend> F::Make()` returns
// the backend for one test (its own database or schema), or nullptr after skipping the test (or
// failing it on CI) when the database cannot be reached.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sluice/migration/change.h"
#include "sluice/migration/legacy_source.h"
#include "sluice/projections/table.h"

namespace sluice::migration::testing {

// A connection of the legacy application on which a test keeps a transaction open.
class LegacySession {
 public:
  virtual ~LegacySession() = default;
  virtual void Exec(const std::string& sql) = 0;  // a failed statement fails the test
};

class LegacyBackend {
 public:
  virtual ~LegacyBackend() = default;
  virtual Result<std::unique_ptr<LegacySource>> Open() = 0;
  // Runs `sql` (several statements allowed) in autocommit mode; false with `*error` if it failed.
  virtual bool TryExec(const std::string& sql, std::string* error) = 0;
  // Every object of the test's database or schema (tables, columns, indexes, triggers,
  // functions, ...) as text, so two calls compare equal when the schema did not change.
  virtual std::vector<std::string> Schema() = 0;
  virtual std::unique_ptr<LegacySession> NewSession() = 0;
  virtual std::string BlobType() const = 0;
  // A SQL literal of the bytes with this hex text.
  virtual std::string BlobLiteral(std::string_view hex) const = 0;

  void Exec(const std::string& sql) {
    std::string error;
    ASSERT_TRUE(TryExec(sql, &error)) << sql << ": " << error;
  }
};

inline std::string QuoteName(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

inline std::string Base64Decode(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (v < 0) continue;  // padding
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

// A value of change.h's typed JSON as a sluice::Value (the test's own decoder).
inline Value ValueOfJson(const nlohmann::json& json) {
  if (json.is_null()) return Value{};
  if (json.is_number_integer()) return Value{json.get<std::int64_t>()};
  if (json.is_number_float()) return Value{json.get<double>()};
  if (json.is_string()) return Value{json.get<std::string>()};
  if (json.is_object() && json.contains("$blob")) {
    return Value{Blob{Base64Decode(json["$blob"].get<std::string>())}};
  }
  if (json.is_object() && json.contains("$real")) {
    const std::string name = json["$real"].get<std::string>();
    if (name == "NaN") return Value{std::nan("")};
    return Value{name == "Infinity" ? HUGE_VAL : -HUGE_VAL};
  }
  ADD_FAILURE() << "not typed JSON: " << json.dump();
  return Value{};
}

// The values of a change's row_json, in its (table) order.
inline Row RowOfJson(const std::string& text) {
  Row row;
  const nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(text);
  for (const auto& [name, value] : parsed.items()) {
    row.push_back(ValueOfJson(nlohmann::json::parse(value.dump())));
  }
  return row;
}

// Values compared exactly: NaN equals NaN, -0.0 differs from 0.0, 1 differs from 1.0.
inline bool SameValue(const Value& a, const Value& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    if (std::isnan(*x) || std::isnan(y)) return std::isnan(*x) && std::isnan(y);
    return *x == y && std::signbit(*x) == std::signbit(y);
  }
  return a == b;
}

inline std::string Describe(const Row& row) {
  std::string out = "(";
  for (std::size_t i = 0; i < row.size(); ++i) {
    out += (i > 0 ? ", " : "") + DescribeValue(row[i]);
    if (const auto* x = std::get_if<double>(&row[i]); x != nullptr && std::signbit(*x)) {
      out += "[neg]";
    }
  }
  return out + ")";
}

inline ::testing::AssertionResult SameRow(const Row& a, const Row& b) {
  bool same = a.size() == b.size();
  for (std::size_t i = 0; same && i < a.size(); ++i) same = SameValue(a[i], b[i]);
  if (same) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << Describe(a) << " vs " << Describe(b);
}

template <class Factory>
class LegacySourceConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = Factory::Make();
    if (backend_ == nullptr) return;  // skipped (or failed on CI)
    Exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, score DOUBLE PRECISION)");
    Exec(
        "CREATE TABLE order_lines (order_id INTEGER, line_no INTEGER, qty INTEGER, "
        "PRIMARY KEY (order_id, line_no))");
    Exec("CREATE TABLE notes (body TEXT)");
    source_ = OpenSource();
  }
  void TearDown() override {
    source_.reset();
    backend_.reset();
  }

  void Exec(const std::string& sql) { backend_->Exec(sql); }

  std::unique_ptr<LegacySource> OpenSource() {
    Result<std::unique_ptr<LegacySource>> source = backend_->Open();
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return source.ok() ? std::move(*source) : nullptr;
  }

  void Install(const std::vector<std::string>& tables) {
    const Status status = source_->Install(tables);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  std::vector<Change> Changes(ChangeId after = 0) {
    Result<std::vector<Change>> changes = source_->ReadChanges(after, 1'000'000);
    EXPECT_TRUE(changes.ok()) << changes.status().ToString();
    return changes.ok() ? *changes : std::vector<Change>{};
  }

  LegacyTable Describe(const std::string& table) {
    Result<LegacyTable> description = source_->DescribeTable(table);
    EXPECT_TRUE(description.ok()) << description.status().ToString();
    return description.ok() ? *description : LegacyTable{};
  }

  std::unique_ptr<LegacySnapshot> Snapshot() {
    Result<std::unique_ptr<LegacySnapshot>> snapshot = source_->OpenSnapshot();
    EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    return snapshot.ok() ? std::move(*snapshot) : nullptr;
  }

  // Every row of `table` through `snapshot`, `page` rows at a time.
  std::vector<Row> AllRows(LegacySnapshot& snapshot, const LegacyTable& table, std::size_t page) {
    std::vector<Row> rows;
    std::optional<Key> after;
    for (;;) {
      Result<std::vector<Row>> chunk = snapshot.ReadRows(table, after ? &*after : nullptr, page);
      EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
      if (!chunk.ok() || chunk->empty()) return rows;
      EXPECT_LE(chunk->size(), page);
      for (Row& row : *chunk) rows.push_back(std::move(row));
      Key key;
      for (std::size_t index : table.key) key.push_back(rows.back()[index]);
      after = std::move(key);
    }
  }

  // The set of keys KeysChangedAfter gives (as text), or nullopt.
  std::optional<std::set<std::string>> ChangedKeys(const LegacyTable& table,
                                                   const CapturePosition& position,
                                                   std::size_t limit) {
    Result<std::optional<std::vector<Key>>> keys =
        source_->KeysChangedAfter(table, position, limit);
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    if (!keys.ok() || !keys->has_value()) return std::nullopt;
    std::set<std::string> out;
    for (const Key& key : **keys) out.insert(testing::Describe(key));
    return out;
  }

  std::unique_ptr<LegacyBackend> backend_;
  std::unique_ptr<LegacySource> source_;
};

TYPED_TEST_SUITE_P(LegacySourceConformanceTest);

TYPED_TEST_P(LegacySourceConformanceTest, InstallTwiceThenUninstallTwiceLeavesSchemaAsBefore) {
  const auto before = this->backend_->Schema();
  this->Install({"customers", "order_lines"});
  this->Install({"customers", "order_lines"});
  this->Exec("INSERT INTO customers VALUES (1, 'ann', 1.5)");
  EXPECT_EQ(this->Changes().size(), 1u);
  Result<SourceDescription> description = this->source_->Describe();
  ASSERT_TRUE(description.ok()) << description.status().ToString();
  EXPECT_EQ(description->tables, (std::vector<std::string>{"customers", "order_lines"}));
  EXPECT_EQ(description->last_change_id, 1);
  EXPECT_FALSE(description->source_id.empty());

  ASSERT_TRUE(this->source_->Uninstall({"customers"}).ok());
  EXPECT_NE(this->backend_->Schema(), before);  // order_lines is still captured
  this->Exec("INSERT INTO customers VALUES (2, 'bob', 2.5)");
  EXPECT_EQ(this->Changes().size(), 1u);  // customers no longer captured
  ASSERT_TRUE(this->source_->Uninstall({"order_lines"}).ok());
  ASSERT_TRUE(this->source_->Uninstall({"customers", "order_lines", "missing"}).ok());
  EXPECT_EQ(this->backend_->Schema(), before);
  this->Exec("INSERT INTO customers VALUES (3, 'cy', 2.5)");  // no trigger left behind
  EXPECT_TRUE(this->Changes().empty());
  Result<SourceDescription> after = this->source_->Describe();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->tables.empty());
  EXPECT_TRUE(after->source_id.empty());
  EXPECT_EQ(after->last_change_id, 0);
}

TYPED_TEST_P(LegacySourceConformanceTest, InstallRefusesBadTablesAndInstallsNothing) {
  const auto before = this->backend_->Schema();
  EXPECT_EQ(this->source_->Install({}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(this->source_->Install({"customers", "missing"}).code(), StatusCode::kInvalidArgument);
  const Status no_key = this->source_->Install({"customers", "notes"});
  EXPECT_EQ(no_key.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_key.message().find("primary key"), std::string::npos) << no_key.ToString();
  EXPECT_EQ(this->source_->Install({"sluice_change_log"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(this->backend_->Schema(), before);
}

TYPED_TEST_P(LegacySourceConformanceTest, HostileIdentifiersAreQuotedNeverExecuted) {
  const std::string table = "we\"ird; DROP TABLE customers; --";
  const std::string q = QuoteName(table);
  this->Exec("CREATE TABLE " + q + " (" + QuoteName("k'ey") + " TEXT PRIMARY KEY, " +
             QuoteName("a b") + " INTEGER, " + QuoteName("c\"d;") + " TEXT, " + QuoteName("');--") +
             " TEXT)");
  const auto before = this->backend_->Schema();
  this->Install({table});
  this->Exec("INSERT INTO " + q + " VALUES ('x''1', 1, 'q\"', 'z')");
  this->Exec("UPDATE " + q + " SET " + QuoteName("a b") + " = 2");
  this->Exec("DELETE FROM " + q);
  const std::vector<Change> changes = this->Changes();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].table, table);
  EXPECT_EQ(changes[0].op, ChangeOp::kInsert);
  EXPECT_EQ(changes[0].key_json, R"({"k'ey":"x'1"})");
  EXPECT_EQ(changes[0].row_json, R"({"k'ey":"x'1","a b":1,"c\"d;":"q\"","');--":"z"})");
  EXPECT_EQ(changes[1].op, ChangeOp::kUpdate);
  EXPECT_EQ(changes[1].row_json, R"({"k'ey":"x'1","a b":2,"c\"d;":"q\"","');--":"z"})");
  EXPECT_EQ(changes[2].op, ChangeOp::kDelete);
  EXPECT_EQ(changes[2].row_json, "");
  const LegacyTable description = this->Describe(table);
  ASSERT_EQ(description.columns.size(), 4u);
  EXPECT_EQ(description.columns[2].name, "c\"d;");
  this->Exec("INSERT INTO customers VALUES (1, 'still here', 0)");  // not dropped
  ASSERT_TRUE(this->source_->Uninstall({table}).ok());
  EXPECT_EQ(this->backend_->Schema(), before);
}

TYPED_TEST_P(LegacySourceConformanceTest, CompositeKeysInPrimaryKeyOrder) {
  this->Exec("CREATE TABLE pairs (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (b, a))");
  this->Install({"order_lines", "pairs"});
  this->Exec("INSERT INTO order_lines VALUES (7, 2, 5)");
  this->Exec("INSERT INTO pairs VALUES ('x', 3, 'v')");
  const std::vector<Change> changes = this->Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].key_json, R"({"order_id":7,"line_no":2})");
  EXPECT_EQ(changes[0].row_json, R"({"order_id":7,"line_no":2,"qty":5})");
  EXPECT_EQ(changes[1].key_json, R"({"b":3,"a":"x"})");
  EXPECT_EQ(changes[1].row_json, R"({"a":"x","b":3,"v":"v"})");
}

TYPED_TEST_P(LegacySourceConformanceTest, PrimaryKeyUpdateIsDeleteOfOldKeyThenInsertOfNew) {
  this->Install({"customers", "order_lines"});
  this->Exec("INSERT INTO customers VALUES (1, 'ann', NULL)");
  this->Exec("UPDATE customers SET id = 5 WHERE id = 1");
  this->Exec("UPDATE customers SET name = 'anne' WHERE id = 5");
  this->Exec("INSERT INTO order_lines VALUES (7, 1, 1)");
  this->Exec("UPDATE order_lines SET line_no = 2");
  const std::vector<Change> changes = this->Changes();
  ASSERT_EQ(changes.size(), 7u);
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].change_id, static_cast<ChangeId>(i + 1));
  }
  EXPECT_EQ(changes[1].op, ChangeOp::kDelete);
  EXPECT_EQ(changes[1].key_json, R"({"id":1})");
  EXPECT_EQ(changes[1].row_json, "");
  EXPECT_EQ(changes[2].op, ChangeOp::kInsert);
  EXPECT_EQ(changes[2].row_json, R"({"id":5,"name":"ann","score":null})");
  EXPECT_EQ(changes[3].op, ChangeOp::kUpdate);
  EXPECT_EQ(changes[3].row_json, R"({"id":5,"name":"anne","score":null})");
  EXPECT_EQ(changes[5].op, ChangeOp::kDelete);
  EXPECT_EQ(changes[5].key_json, R"({"order_id":7,"line_no":1})");
  EXPECT_EQ(changes[6].op, ChangeOp::kInsert);
  EXPECT_EQ(changes[6].key_json, R"({"order_id":7,"line_no":2})");
}

TYPED_TEST_P(LegacySourceConformanceTest, DeletesCarryTheKeyAndNoRow) {
  this->Install({"customers"});
  this->Exec("INSERT INTO customers VALUES (1, 'a', 1.5), (2, 'b', 2.5)");
  this->Exec("DELETE FROM customers WHERE id = 2");
  const std::vector<Change> changes = this->Changes();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[2].op, ChangeOp::kDelete);
  EXPECT_EQ(changes[2].table, "customers");
  EXPECT_EQ(changes[2].key_json, R"({"id":2})");
  EXPECT_EQ(changes[2].row_json, "");
}

TYPED_TEST_P(LegacySourceConformanceTest, RolledBackChangesAreNeverCaptured) {
  this->Install({"customers"});
  this->Exec("BEGIN; INSERT INTO customers VALUES (1, 'lost', 0); ROLLBACK");
  this->Exec("INSERT INTO customers VALUES (2, 'kept', 0)");
  const std::vector<Change> changes = this->Changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key_json, R"({"id":2})");
  EXPECT_EQ(changes[0].change_id, 1);  // the rolled-back change never took an id
}

TYPED_TEST_P(LegacySourceConformanceTest, ChangesRolledBackToASavepointAreNeverCaptured) {
  this->Install({"customers"});
  this->Exec(
      "BEGIN; INSERT INTO customers VALUES (1, 'outer', 0);"
      "SAVEPOINT s; INSERT INTO customers VALUES (2, 'inner', 0);"
      "UPDATE customers SET name = 'changed' WHERE id = 1; ROLLBACK TO SAVEPOINT s; "
      "RELEASE SAVEPOINT s; INSERT INTO customers VALUES (3, 'after', 0); COMMIT;");
  const std::vector<Change> changes = this->Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].row_json, R"({"id":1,"name":"outer","score":0.0})");
  EXPECT_EQ(changes[1].key_json, R"({"id":3})");
  EXPECT_EQ(changes[1].change_id, 2);
}

TYPED_TEST_P(LegacySourceConformanceTest, CheckpointsAreKeptPerConsumerAndGoWithUninstall) {
  EXPECT_EQ(*this->source_->LoadCheckpoint("a"), 0);
  EXPECT_EQ(this->source_->SaveCheckpoint("a", 1).code(), StatusCode::kInvalidArgument);
  this->Install({"customers"});
  EXPECT_EQ(*this->source_->LoadCheckpoint("a"), 0);
  ASSERT_TRUE(this->source_->SaveCheckpoint("a", 7).ok());
  ASSERT_TRUE(this->source_->SaveCheckpoint("b", 3).ok());
  ASSERT_TRUE(this->source_->SaveCheckpoint("a", 9).ok());
  EXPECT_EQ(*this->source_->LoadCheckpoint("a"), 9);
  EXPECT_EQ(*this->source_->LoadCheckpoint("b"), 3);
  std::unique_ptr<LegacySource> other = this->OpenSource();  // durable, seen by others
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(*other->LoadCheckpoint("a"), 9);
  const Status uninstalled = this->source_->Uninstall({"customers"});
  ASSERT_TRUE(uninstalled.ok()) << uninstalled.ToString();
  EXPECT_EQ(*this->source_->LoadCheckpoint("a"), 0);
  EXPECT_EQ(this->source_->SaveCheckpoint("a", 1).code(), StatusCode::kInvalidArgument);
}

TYPED_TEST_P(LegacySourceConformanceTest, ReadChangesPagesInOrder) {
  this->Install({"customers"});
  for (int i = 1; i <= 10; ++i) {
    this->Exec("INSERT INTO customers VALUES (" + std::to_string(i) + ", 'c', 0)");
  }
  Result<std::vector<Change>> page = this->source_->ReadChanges(4, 3);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].change_id, 5);
  EXPECT_EQ((*page)[0].key_json, R"({"id":5})");
  EXPECT_EQ((*page)[2].change_id, 7);
  EXPECT_TRUE(this->source_->ReadChanges(10, 3)->empty());
}

TYPED_TEST_P(LegacySourceConformanceTest, DescribeTableGivesColumnsTypesAndKeyOrder) {
  this->Exec("CREATE TABLE described (a TEXT, b INTEGER, c DOUBLE PRECISION, d " +
             this->backend_->BlobType() + ", e NUMERIC(10,2), f BOOLEAN, g DATE, h TIMESTAMP, " +
             "PRIMARY KEY (b, a))");
  const LegacyTable table = this->Describe("described");
  EXPECT_EQ(table.name, "described");
  ASSERT_EQ(table.columns.size(), 8u);
  const std::vector<std::string> names = {"a", "b", "c", "d", "e", "f", "g", "h"};
  const std::vector<LogicalType> types = {
      LogicalType::kText,    LogicalType::kInteger, LogicalType::kReal, LogicalType::kBlob,
      LogicalType::kDecimal, LogicalType::kBoolean, LogicalType::kDate, LogicalType::kTimestamp};
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(table.columns[i].name, names[i]);
    EXPECT_EQ(table.columns[i].type, types[i]) << names[i] << " " << table.columns[i].declared_type
                                               << " is " << LogicalTypeName(table.columns[i].type);
    EXPECT_FALSE(table.columns[i].declared_type.empty());
  }
  EXPECT_EQ(table.key, (std::vector<std::size_t>{1, 0}));
  EXPECT_EQ(this->source_->DescribeTable("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->source_->DescribeTable("notes").status().code(), StatusCode::kInvalidArgument);
}

TYPED_TEST_P(LegacySourceConformanceTest, SnapshotNeedsCaptureInstalled) {
  EXPECT_EQ(this->source_->OpenSnapshot().status().code(), StatusCode::kInvalidArgument);
}

TYPED_TEST_P(LegacySourceConformanceTest, SnapshotIsOneConsistentReadWithAPositionBound) {
  this->Install({"customers"});
  this->Exec("INSERT INTO customers VALUES (1, 'a', 1.5), (2, 'b', 2.5)");
  const LegacyTable table = this->Describe("customers");
  std::unique_ptr<LegacySnapshot> snapshot = this->Snapshot();
  ASSERT_NE(snapshot, nullptr);
  const CapturePosition position = snapshot->position();
  EXPECT_GE(position.change_id, 2);
  // Changes committed after the snapshot was taken: invisible to it, and after its position.
  this->Exec("INSERT INTO customers VALUES (3, 'c', 3.5)");
  this->Exec("UPDATE customers SET name = 'changed' WHERE id = 1");
  const std::vector<Row> rows = this->AllRows(*snapshot, table, 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(SameRow(rows[0], Row{std::int64_t{1}, std::string("a"), 1.5}));
  EXPECT_TRUE(SameRow(rows[1], Row{std::int64_t{2}, std::string("b"), 2.5}));
  Result<std::optional<Row>> one = snapshot->ReadRow(table, Key{std::int64_t{3}});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_FALSE(one->has_value());
  // The source stays usable while the snapshot is open.
  const std::vector<Change> changes = this->Changes();
  ASSERT_EQ(changes.size(), 4u);
  for (const Change& change : changes) {
    if (change.change_id <= position.change_id) continue;
    EXPECT_TRUE(change.key_json == R"({"id":3})" || change.key_json == R"({"id":1})")
        << change.key_json;
  }
  EXPECT_EQ(this->ChangedKeys(table, position, 10), (std::set<std::string>{"(1)", "(3)"}));
}

TYPED_TEST_P(LegacySourceConformanceTest, ReadRowsIsInBytewiseKeyOrderPageByPage) {
  this->Exec("CREATE TABLE words (w TEXT PRIMARY KEY, n INTEGER)");
  this->Install({"words"});
  // Bytewise: "" < "A" < "B" < "Z" < "a" < "aa" < "b" < "\xc3\xa9" (é), whatever the collation.
  this->Exec(
      "INSERT INTO words VALUES ('b', 1), ('a', 2), ('B', 3), ('A', 4), ('aa', 5), ('Z', 6), "
      "('', 7), ('\xc3\xa9', 8)");
  const LegacyTable table = this->Describe("words");
  std::unique_ptr<LegacySnapshot> snapshot = this->Snapshot();
  ASSERT_NE(snapshot, nullptr);
  const std::vector<std::string> expected = {"", "A", "B", "Z", "a", "aa", "b", "\xc3\xa9"};
  for (std::size_t page : {1u, 2u, 3u, 100u}) {
    const std::vector<Row> rows = this->AllRows(*snapshot, table, page);
    ASSERT_EQ(rows.size(), expected.size()) << "page " << page;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(std::get<std::string>(rows[i][0]), expected[i]) << "page " << page;
    }
  }
  const Key after{std::string("B")};
  Result<std::vector<Row>> rows = snapshot->ReadRows(table, &after, 2);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(std::get<std::string>((*rows)[0][0]), "Z");
  EXPECT_EQ(std::get<std::string>((*rows)[1][0]), "a");
  Result<std::optional<Row>> one = snapshot->ReadRow(table, Key{std::string("a")});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_TRUE(one->has_value());
  EXPECT_TRUE(SameRow(**one, Row{std::string("a"), std::int64_t{2}}));
  Result<std::optional<Row>> none = snapshot->ReadRow(table, Key{std::string("c")});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TYPED_TEST_P(LegacySourceConformanceTest, ReadRowsPagesThroughCompositeKeys) {
  this->Install({"order_lines"});
  std::string values;
  for (int order = 1; order <= 4; ++order) {
    for (int line = 1; line <= 12; ++line) {  // 10 < 9 as text, not as integers
      if (!values.empty()) values += ", ";
      values += "(" + std::to_string(order) + ", " + std::to_string(line) + ", 1)";
    }
  }
  this->Exec("INSERT INTO order_lines VALUES " + values);
  const LegacyTable table = this->Describe("order_lines");
  std::unique_ptr<LegacySnapshot> snapshot = this->Snapshot();
  ASSERT_NE(snapshot, nullptr);
  const std::vector<Row> rows = this->AllRows(*snapshot, table, 5);
  ASSERT_EQ(rows.size(), 48u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(std::get<std::int64_t>(rows[i][0]), static_cast<std::int64_t>(i / 12 + 1));
    EXPECT_EQ(std::get<std::int64_t>(rows[i][1]), static_cast<std::int64_t>(i % 12 + 1));
  }
  Result<std::optional<Row>> one = snapshot->ReadRow(table, Key{std::int64_t{3}, std::int64_t{11}});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_TRUE(one->has_value());
  EXPECT_TRUE(SameRow(**one, Row{std::int64_t{3}, std::int64_t{11}, std::int64_t{1}}));
}

TYPED_TEST_P(LegacySourceConformanceTest, KeysChangedAfterAPositionIncludeLateCommits) {
  this->Install({"customers", "order_lines"});
  this->Exec("INSERT INTO customers VALUES (1, 'a', 0), (2, 'b', 0)");
  const LegacyTable customers = this->Describe("customers");
  const LegacyTable lines = this->Describe("order_lines");
  // A transaction open (uncommitted) when the snapshot is taken, committed afterwards.
  std::unique_ptr<LegacySession> late = this->backend_->NewSession();
  late->Exec("BEGIN");
  late->Exec("INSERT INTO customers VALUES (9, 'late', 0)");
  std::unique_ptr<LegacySnapshot> snapshot = this->Snapshot();
  ASSERT_NE(snapshot, nullptr);
  const CapturePosition position = snapshot->position();
  EXPECT_EQ(this->ChangedKeys(customers, position, 10), (std::set<std::string>{}));
  late->Exec("COMMIT");
  this->Exec("UPDATE customers SET name = 'x' WHERE id = 2");
  this->Exec("INSERT INTO order_lines VALUES (5, 6, 7)");
  EXPECT_EQ(this->ChangedKeys(customers, position, 10), (std::set<std::string>{"(2)", "(9)"}));
  EXPECT_EQ(this->ChangedKeys(lines, position, 10), (std::set<std::string>{"(5, 6)"}));
  EXPECT_EQ(this->ChangedKeys(customers, position, 2), (std::set<std::string>{"(2)", "(9)"}));
  Result<std::optional<std::vector<Key>>> over =
      this->source_->KeysChangedAfter(customers, position, 1);
  ASSERT_TRUE(over.ok()) << over.status().ToString();
  EXPECT_FALSE(over->has_value());
  // The snapshot did not see row 9 but saw rows 1 and 2 as they were.
  Result<std::optional<Row>> nine = snapshot->ReadRow(customers, Key{std::int64_t{9}});
  ASSERT_TRUE(nine.ok());
  EXPECT_FALSE(nine->has_value());
  // Everything the snapshot saw is within its position; a later snapshot sees everything.
  snapshot.reset();
  std::unique_ptr<LegacySnapshot> later = this->Snapshot();
  ASSERT_NE(later, nullptr);
  EXPECT_GE(later->position().change_id, 5);
  EXPECT_EQ(this->ChangedKeys(customers, later->position(), 10), (std::set<std::string>{}));
}

TYPED_TEST_P(LegacySourceConformanceTest, ReadChangesGiveTheSameValuesAsReadRows) {
  this->Exec("CREATE TABLE v (id INTEGER PRIMARY KEY, i BIGINT, r DOUBLE PRECISION, t TEXT, b " +
             this->backend_->BlobType() + ")");
  this->Install({"v"});
  const std::string blob = this->backend_->BlobLiteral("00ff10");
  const std::string empty_blob = this->backend_->BlobLiteral("");
  this->Exec("INSERT INTO v VALUES (1, 1, 1.0, '1', " + blob + ")");
  this->Exec("INSERT INTO v VALUES (2, -9223372036854775807, 0.1, '', " + empty_blob + ")");
  this->Exec("INSERT INTO v VALUES (3, NULL, NULL, NULL, NULL)");
  this->Exec("INSERT INTO v VALUES (4, 0, 2.5e-300, 'ünï \"q\" ''s''', " + blob + ")");
  this->Exec("INSERT INTO v VALUES (5, 0, -1.5, 'trailing  ', NULL)");
  this->Exec("UPDATE v SET r = 1e300 WHERE id = 5");
  const LegacyTable table = this->Describe("v");
  std::unique_ptr<LegacySnapshot> snapshot = this->Snapshot();
  ASSERT_NE(snapshot, nullptr);
  const std::vector<Change> changes = this->Changes();
  ASSERT_EQ(changes.size(), 6u);
  std::size_t compared = 0;
  for (const Change& change : changes) {
    const Row from_log = RowOfJson(change.row_json);
    Result<std::optional<Row>> row = snapshot->ReadRow(table, Key{from_log[0]});
    ASSERT_TRUE(row.ok()) << row.status().ToString();
    ASSERT_TRUE(row->has_value());
    if (change.change_id == 5) continue;  // row 5 was updated since
    EXPECT_TRUE(SameRow(from_log, **row)) << change.row_json;
    ++compared;
  }
  EXPECT_EQ(compared, 5u);
  EXPECT_EQ(changes[0].row_json, R"({"id":1,"i":1,"r":1.0,"t":"1","b":{"$blob":"AP8Q"}})");
  EXPECT_EQ(changes[2].row_json, R"({"id":3,"i":null,"r":null,"t":null,"b":null})");
}

REGISTER_TYPED_TEST_SUITE_P(
    LegacySourceConformanceTest, InstallTwiceThenUninstallTwiceLeavesSchemaAsBefore,
    InstallRefusesBadTablesAndInstallsNothing, HostileIdentifiersAreQuotedNeverExecuted,
    CompositeKeysInPrimaryKeyOrder, PrimaryKeyUpdateIsDeleteOfOldKeyThenInsertOfNew,
    DeletesCarryTheKeyAndNoRow, RolledBackChangesAreNeverCaptured,
    ChangesRolledBackToASavepointAreNeverCaptured, CheckpointsAreKeptPerConsumerAndGoWithUninstall,
    ReadChangesPagesInOrder, DescribeTableGivesColumnsTypesAndKeyOrder,
    SnapshotNeedsCaptureInstalled, SnapshotIsOneConsistentReadWithAPositionBound,
    ReadRowsIsInBytewiseKeyOrderPageByPage, ReadRowsPagesThroughCompositeKeys,
    KeysChangedAfterAPositionIncludeLateCommits, ReadChangesGiveTheSameValuesAsReadRows);

}  // namespace sluice::migration::testing
