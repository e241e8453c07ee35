// The conformance suite every ReadModelStore implementation passes (STYLE.md, habit 6): a typed
// GoogleTest suite over a factory per store. Instantiate it for a store with
//
//   struct MyStoreFactory {
//     static std::string Name();            // e.g. "Sqlite"
//     static constexpr bool kPersistent;    // true: reopen tests run
//     // Optional, true if absent. false: the store cannot keep text with a NUL byte (PostgreSQL)
//     // and refuses it with InvalidArgument, which the suite checks instead of the round trip.
//     static constexpr bool kTextMayHoldNul;
//     // Opens the store; on the same factory object always at the same place, so a persistent
//     // store opened again holds what was committed before.
//     Result<std::unique_ptr<ReadModelStore>> Open();
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, ReadModelStoreConformance,
//                                  ::testing::Types<MyStoreFactory>, ReadModelFactoryNames);
//
// Each test gets a fresh factory object (and so a fresh, empty store). A factory whose store needs
// a server may skip (GTEST_SKIP) or fail the test from its constructor when there is none.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/projections/read_model_store.h"
#include "sluice/projections/table.h"

namespace sluice {

// So failures print blobs as x'..' rather than raw bytes.
inline void PrintTo(const Blob& blob, std::ostream* os) { *os << DescribeValue(Value(blob)); }

namespace conformance {

// How long a read may take while a transaction is open before the test calls it blocked.
inline constexpr auto kBlockedReadTimeout = std::chrono::seconds(20);

inline Value I(std::int64_t v) { return Value(v); }
inline Value R(double v) { return Value(v); }
inline Value T(std::string v) { return Value(std::move(v)); }
inline Value B(std::string bytes) { return Value(Blob{std::move(bytes)}); }
inline Value N() { return Value(std::monostate()); }

inline TableSchema Schema(std::string name, std::vector<Column> key,
                          std::vector<Column> columns = {}) {
  return TableSchema{std::move(name), std::move(key), std::move(columns)};
}
inline Column Int(std::string name) { return Column{std::move(name), ColumnType::kInteger}; }
inline Column Real(std::string name) { return Column{std::move(name), ColumnType::kReal}; }
inline Column Text(std::string name) { return Column{std::move(name), ColumnType::kText}; }
inline Column Bytes(std::string name) { return Column{std::move(name), ColumnType::kBlob}; }

// A table with an integer key and one column of each type.
inline TableSchema AllTypes(std::string name = "all_types") {
  return Schema(std::move(name), {Int("id")}, {Int("i"), Real("r"), Text("t"), Bytes("b")});
}
// A table of (id integer key, value text).
inline TableSchema Simple(std::string name) {
  return Schema(std::move(name), {Int("id")}, {Text("value")});
}

inline ::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.ToString();
}
template <typename V>
::testing::AssertionResult IsOk(const Result<V>& r) {
  return IsOk(r.status());
}
inline ::testing::AssertionResult HasCode(const Status& s, StatusCode code) {
  if (s.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << s.ToString() << ", want " << StatusCodeName(code);
}
template <typename V>
::testing::AssertionResult HasCode(const Result<V>& r, StatusCode code) {
  return HasCode(r.status(), code);
}

// Factory::kTextMayHoldNul, or true if the factory does not say.
template <typename Factory>
constexpr bool TextMayHoldNul() {
  if constexpr (requires { Factory::kTextMayHoldNul; }) {
    return Factory::kTextMayHoldNul;
  } else {
    return true;
  }
}

inline bool HasNul(const Value& value) {
  const std::string* text = std::get_if<std::string>(&value);
  return text != nullptr && text->find('\0') != std::string::npos;
}

// The names of instantiations: the factory's Name().
class ReadModelFactoryNames {
 public:
  template <typename Factory>
  static std::string GetName(int) {
    return Factory::Name();
  }
};

}  // namespace conformance

template <typename Factory>
class ReadModelStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    Result<std::unique_ptr<ReadModelStore>> opened = factory_.Open();
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  // Closes the store and opens it again at the same place.
  void Reopen() {
    store_.reset();
    Open();
  }

  ReadModelStore& store() { return *store_; }

  // A new transaction; null (and a test failure) if Begin fails.
  std::unique_ptr<ReadModelBatch> Begin() {
    Result<std::unique_ptr<ReadModelBatch>> batch = store_->Begin();
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    return batch.ok() ? std::move(*batch) : nullptr;
  }

  // Runs `work` in one transaction and commits it; the first error comes back.
  Status Apply(const std::function<Status(ReadModelBatch&)>& work) {
    Result<std::unique_ptr<ReadModelBatch>> batch = store_->Begin();
    if (!batch.ok()) return batch.status();
    SLUICE_RETURN_IF_ERROR(work(**batch));
    return (*batch)->Commit();
  }

  Status Create(const TableSchema& schema) {
    return Apply([&](ReadModelBatch& b) { return b.CreateTable(schema); });
  }

  Status PutRows(const std::string& table, const std::vector<Row>& rows) {
    return Apply([&](ReadModelBatch& b) {
      for (const Row& row : rows) SLUICE_RETURN_IF_ERROR(b.Put(table, row));
      return Status::Ok();
    });
  }

  // Every committed row of `table`, by key (empty on error, with a test failure).
  std::vector<Row> ScanAll(const std::string& table) {
    Result<std::vector<Row>> rows = store_->Scan(table, nullptr, 1'000'000);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? std::move(*rows) : std::vector<Row>{};
  }

  // The committed row with this key (nullopt on error, with a test failure).
  std::optional<Row> StoreGet(const std::string& table, const Key& key) {
    Result<std::optional<Row>> row = store_->Get(table, key);
    EXPECT_TRUE(row.ok()) << row.status().ToString();
    return row.ok() ? std::move(*row) : std::nullopt;
  }

  std::vector<std::string> Tables() {
    Result<std::vector<std::string>> names = store_->ListTables();
    EXPECT_TRUE(names.ok()) << names.status().ToString();
    return names.ok() ? std::move(*names) : std::vector<std::string>{};
  }

  // For a store whose text cannot hold NUL bytes (TextMayHoldNul false): checks that Put refuses
  // each row of `rows` with such text (InvalidArgument), and removes those rows so that the test
  // goes on with the others. Does nothing for other stores.
  void RefuseTextWithNul(const std::string& table, std::vector<Row>* rows) {
    if constexpr (!conformance::TextMayHoldNul<Factory>()) {
      auto batch = Begin();
      ASSERT_NE(batch, nullptr);
      std::erase_if(*rows, [&](const Row& row) {
        if (std::none_of(row.begin(), row.end(), conformance::HasNul)) return false;
        EXPECT_TRUE(conformance::HasCode(batch->Put(table, row), StatusCode::kInvalidArgument))
            << Factory::Name() << " accepted text with a NUL byte";
        return true;
      });
    }
  }

  // The keys (first column) of `rows`.
  static std::vector<Value> FirstColumn(const std::vector<Row>& rows) {
    std::vector<Value> out;
    for (const Row& row : rows) out.push_back(row.empty() ? conformance::N() : row[0]);
    return out;
  }

  Factory factory_;
  std::unique_ptr<ReadModelStore> store_;  // declared last: closed before the factory's folder
};

TYPED_TEST_SUITE_P(ReadModelStoreConformance);

// ---- Tables and schemas ----

TYPED_TEST_P(ReadModelStoreConformance, CreateTableRejectsInvalidSchemas) {
  using namespace conformance;
  const std::vector<TableSchema> bad = {
      Schema("", {Int("id")}),
      Schema(std::string(65, 'a'), {Int("id")}),
      Schema("has space", {Int("id")}),
      Schema("slash/name", {Int("id")}),
      Schema("no_key", {}, {Text("value")}),
      Schema("real_key", {Real("id")}),
      Schema("dup", {Int("id")}, {Text("id")}),
      Schema("dup2", {Int("id")}, {Text("a"), Int("a")}),
      Schema("bad_column", {Int("1id")}),
      Schema("bad_column2", {Int("id")}, {Text("with-dash")}),
      Schema("bad_column3", {Int("id")}, {Text("")}),
      Schema("long_column", {Int("id")}, {Text(std::string(65, 'c'))}),
  };
  for (const TableSchema& schema : bad) {
    EXPECT_TRUE(HasCode(this->Create(schema), StatusCode::kInvalidArgument))
        << "table '" << schema.name << "'";
  }
  EXPECT_TRUE(this->Tables().empty());
  // The limits themselves are fine.
  EXPECT_TRUE(IsOk(this->Create(Schema(std::string(64, 'a'), {Int(std::string(64, 'k'))}))));
  EXPECT_TRUE(IsOk(this->Create(Schema("A-z_0.9", {Text("_x9")}, {Bytes("B")}))));
}

// The runtime keeps checkpoints and parked events in "sluice_" tables of the same store; a store
// cannot tell the runtime from a projection, so it accepts them (projections' tables are checked
// by the runtime with ValidateSchema).
TYPED_TEST_P(ReadModelStoreConformance, StoreAcceptsTheRuntimesReservedTables) {
  using namespace conformance;
  EXPECT_TRUE(IsOk(this->Create(Simple("sluice_checkpoints"))));
  EXPECT_TRUE(this->store().DescribeTable("sluice_checkpoints")->has_value());
}

TYPED_TEST_P(ReadModelStoreConformance, CreateTableIsIdempotentForTheSameSchema) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(AllTypes())));
  ASSERT_TRUE(IsOk(this->PutRows("all_types", {{I(1), I(2), R(3), T("x"), B("y")}})));
  EXPECT_TRUE(IsOk(this->Create(AllTypes())));
  EXPECT_EQ(this->ScanAll("all_types").size(), 1u);  // rows kept
  EXPECT_EQ(this->Tables(), std::vector<std::string>{"all_types"});
}

TYPED_TEST_P(ReadModelStoreConformance, CreateTableWithAnotherSchemaIsInvalidArgument) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("t"))));
  EXPECT_TRUE(HasCode(this->Create(Schema("t", {Int("id")}, {Int("value")})),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(this->Create(Schema("t", {Int("id")}, {Text("value"), Text("more")})),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(this->Create(Schema("t", {Text("id")}, {Text("value")})),
                      StatusCode::kInvalidArgument));
  EXPECT_EQ(*this->store().DescribeTable("t"), Simple("t"));
}

TYPED_TEST_P(ReadModelStoreConformance, DescribeTableReturnsTheSchemaOrNothing) {
  using namespace conformance;
  const TableSchema schema =
      Schema("orders", {Text("region"), Int("number")}, {Real("total"), Bytes("raw"), Int("n")});
  ASSERT_TRUE(IsOk(this->Create(schema)));
  Result<std::optional<TableSchema>> described = this->store().DescribeTable("orders");
  ASSERT_TRUE(IsOk(described));
  ASSERT_TRUE(described->has_value());
  EXPECT_EQ(**described, schema);
  EXPECT_EQ((*described)->IndexOf("number"), 1);
  EXPECT_EQ((*described)->IndexOf("raw"), 3);

  Result<std::optional<TableSchema>> missing = this->store().DescribeTable("nope");
  ASSERT_TRUE(IsOk(missing));
  EXPECT_FALSE(missing->has_value());
}

TYPED_TEST_P(ReadModelStoreConformance, ListTablesReturnsEveryTableByName) {
  using namespace conformance;
  EXPECT_TRUE(this->Tables().empty());
  ASSERT_TRUE(IsOk(this->Create(Simple("b"))));
  ASSERT_TRUE(IsOk(this->Apply([&](ReadModelBatch& batch) {
    SLUICE_RETURN_IF_ERROR(batch.CreateTable(Simple("c")));
    SLUICE_RETURN_IF_ERROR(batch.CreateTable(Simple("a.x")));
    return batch.CreateTable(Simple("A"));
  })));
  EXPECT_EQ(this->Tables(), (std::vector<std::string>{"A", "a.x", "b", "c"}));
}

// ---- Values ----

TYPED_TEST_P(ReadModelStoreConformance, EveryValueTypeRoundTrips) {
  using namespace conformance;
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr bool kNul = TextMayHoldNul<TypeParam>();
  const std::string with_nul("a\0b\0", 4);
  const std::string utf8 = "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80";  // grüß € 😀
  const std::vector<Row> rows = {
      {I(1), I(kMin), R(kInf), T(kNul ? with_nul : "a\1b\1"), B(std::string("\x00\xff\x01", 3))},
      {I(2), I(kMax), R(-kInf), T(utf8), B("\xff\xfe")},
      {I(3), I(0), R(std::numeric_limits<double>::denorm_min()), T(""), B("")},
      {I(4), I(-1), R(std::numeric_limits<double>::max()), T("'quoted'"), B("plain")},
      {I(5), N(), N(), N(), N()},
      {I(6), I(42), R(-1.5e-300), T("x"), B(std::string(1, '\0'))},
  };
  ASSERT_TRUE(IsOk(this->Create(AllTypes())));
  std::vector<Row> refused = {{I(7), N(), N(), T(with_nul), N()}};
  this->RefuseTextWithNul("all_types", &refused);
  ASSERT_TRUE(IsOk(this->PutRows("all_types", rows)));

  EXPECT_EQ(this->ScanAll("all_types"), rows);
  for (const Row& row : rows) {
    EXPECT_EQ(this->StoreGet("all_types", {row[0]}), row);
  }
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  for (const Row& row : rows) {
    Result<std::optional<Row>> got = batch->Get("all_types", {row[0]});
    ASSERT_TRUE(IsOk(got));
    EXPECT_EQ(*got, row);
  }
}

TYPED_TEST_P(ReadModelStoreConformance, NegativeZeroIsStoredAsZero) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(AllTypes())));
  ASSERT_TRUE(IsOk(this->PutRows("all_types", {{I(1), N(), R(-0.0), N(), N()}})));
  std::optional<Row> row = this->StoreGet("all_types", {I(1)});
  ASSERT_TRUE(row.has_value());
  ASSERT_TRUE(std::holds_alternative<double>((*row)[2]));
  EXPECT_EQ(std::get<double>((*row)[2]), 0.0);
  EXPECT_FALSE(std::signbit(std::get<double>((*row)[2])));
}

TYPED_TEST_P(ReadModelStoreConformance, NanIsRefused) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(AllTypes())));
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  EXPECT_TRUE(HasCode(
      batch->Put("all_types", {I(1), N(), R(std::numeric_limits<double>::quiet_NaN()), N(), N()}),
      StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsOk(batch->Commit()));
  EXPECT_TRUE(this->ScanAll("all_types").empty());
}

TYPED_TEST_P(ReadModelStoreConformance, IntegerInARealColumnIsStoredAsReal) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(AllTypes())));
  ASSERT_TRUE(IsOk(this->PutRows("all_types", {{I(1), N(), I(7), N(), N()}})));
  std::optional<Row> row = this->StoreGet("all_types", {I(1)});
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ((*row)[2], R(7.0));
}

TYPED_TEST_P(ReadModelStoreConformance, EmptyTextEmptyBlobAndNullAreDistinct) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(
      Schema("cells", {Int("id")}, {Text("t1"), Bytes("b1"), Text("t2"), Bytes("b2")}))));
  const std::vector<Row> rows = {
      {I(1), T(""), B(""), N(), N()},
      {I(2), N(), N(), T(""), B("")},
  };
  ASSERT_TRUE(IsOk(this->PutRows("cells", rows)));
  std::vector<Row> got = this->ScanAll("cells");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got, rows);
  EXPECT_TRUE(std::holds_alternative<std::string>(got[0][1]));
  EXPECT_TRUE(std::holds_alternative<Blob>(got[0][2]));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(got[0][3]));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(got[1][1]));
  EXPECT_TRUE(std::holds_alternative<std::string>(got[1][3]));
  EXPECT_TRUE(std::holds_alternative<Blob>(got[1][4]));
}

TYPED_TEST_P(ReadModelStoreConformance, LargeValuesRoundTrip) {
  using namespace conformance;
  std::string text(1 << 20, 'x');
  std::string bytes(1 << 20, '\0');
  for (std::size_t i = 0; i < text.size(); ++i) {
    text[i] = static_cast<char>('a' + i % 26);
    bytes[i] = static_cast<char>(i * 7919 % 256);
  }
  const std::string big_key(4096, 'k');
  ASSERT_TRUE(IsOk(this->Create(Schema("big", {Text("id")}, {Text("t"), Bytes("b")}))));
  const Row row = {T(big_key), T(text), B(bytes)};
  ASSERT_TRUE(IsOk(this->PutRows("big", {row})));
  EXPECT_EQ(this->StoreGet("big", {T(big_key)}), row);
  EXPECT_EQ(this->ScanAll("big"), std::vector<Row>{row});
}

TYPED_TEST_P(ReadModelStoreConformance, WrongTypesAndWidthsAreInvalidArgument) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(AllTypes())));
  ASSERT_TRUE(IsOk(this->Create(Schema("keyed", {Text("a"), Bytes("b")}, {Int("n")}))));
  const std::vector<Row> bad_rows = {
      {},
      {I(1)},
      {I(1), N(), N(), N()},
      {I(1), N(), N(), N(), N(), N()},
      {N(), N(), N(), N(), N()},         // NULL key
      {T("1"), N(), N(), N(), N()},      // text in an integer key
      {R(1.0), N(), N(), N(), N()},      // real in an integer key
      {I(1), T("2"), N(), N(), N()},     // text in an integer column
      {I(1), R(2.0), N(), N(), N()},     // real in an integer column
      {I(1), N(), T("3"), N(), N()},     // text in a real column
      {I(1), N(), N(), B("blob"), N()},  // blob in a text column
      {I(1), N(), N(), N(), T("text")},  // text in a blob column
      {I(1), N(), N(), N(), I(5)},       // integer in a blob column
  };
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  for (std::size_t i = 0; i < bad_rows.size(); ++i) {
    EXPECT_TRUE(HasCode(batch->Put("all_types", bad_rows[i]), StatusCode::kInvalidArgument))
        << "row " << i;
  }
  EXPECT_TRUE(HasCode(batch->Put("keyed", {B("a"), B("b"), I(1)}), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(batch->Put("keyed", {T("a"), T("b"), I(1)}), StatusCode::kInvalidArgument));
  const std::vector<Key> bad_keys = {{}, {I(1), I(2)}, {T("1")}, {N()}, {R(1.0)}};
  for (std::size_t i = 0; i < bad_keys.size(); ++i) {
    EXPECT_TRUE(HasCode(batch->Get("all_types", bad_keys[i]), StatusCode::kInvalidArgument))
        << "key " << i;
    EXPECT_TRUE(HasCode(batch->Delete("all_types", bad_keys[i]), StatusCode::kInvalidArgument))
        << "key " << i;
  }
  ASSERT_TRUE(IsOk(batch->Commit()));
  for (std::size_t i = 0; i < bad_keys.size(); ++i) {
    EXPECT_TRUE(HasCode(this->store().Get("all_types", bad_keys[i]), StatusCode::kInvalidArgument))
        << "key " << i;
    EXPECT_TRUE(
        HasCode(this->store().Scan("all_types", &bad_keys[i], 10), StatusCode::kInvalidArgument))
        << "key " << i;
  }
  EXPECT_TRUE(this->ScanAll("all_types").empty());
}

TYPED_TEST_P(ReadModelStoreConformance, UnknownTableIsNotFound) {
  using namespace conformance;
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  EXPECT_TRUE(HasCode(batch->Get("missing", {I(1)}), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(batch->Put("missing", {I(1), T("x")}), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(batch->Delete("missing", {I(1)}), StatusCode::kNotFound));
  EXPECT_TRUE(IsOk(batch->DropTable("missing")));  // nothing to drop is fine
  EXPECT_TRUE(IsOk(batch->Commit()));
  EXPECT_TRUE(HasCode(this->store().Get("missing", {I(1)}), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store().Scan("missing", nullptr, 10), StatusCode::kNotFound));
}

// ---- Keys and order ----

TYPED_TEST_P(ReadModelStoreConformance, CompositeKeysIdentifyRowsByEveryColumn) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(
      Schema("composite", {Text("region"), Int("number"), Bytes("tag")}, {Text("value")}))));
  const std::vector<Row> rows = {
      {T("eu"), I(1), B("a"), T("eu-1-a")},
      {T("eu"), I(1), B("b"), T("eu-1-b")},
      {T("eu"), I(2), B("a"), T("eu-2-a")},
      {T("us"), I(1), B("a"), T("us-1-a")},
  };
  ASSERT_TRUE(IsOk(this->PutRows("composite", rows)));
  for (const Row& row : rows) {
    EXPECT_EQ(this->StoreGet("composite", {row[0], row[1], row[2]}), row);
  }
  EXPECT_EQ(this->StoreGet("composite", {T("eu"), I(3), B("a")}), std::nullopt);
  ASSERT_TRUE(IsOk(this->Apply([](ReadModelBatch& b) {
    return b.Delete("composite", {T("eu"), I(1), B("b")});
  })));
  EXPECT_EQ(this->ScanAll("composite"), (std::vector<Row>{rows[0], rows[2], rows[3]}));
}

TYPED_TEST_P(ReadModelStoreConformance, ScanOrdersIntegersNumerically) {
  using namespace conformance;
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  ASSERT_TRUE(IsOk(this->Create(Simple("ints"))));
  const std::vector<std::int64_t> keys = {5, -1, kMax, 0, 256, kMin, -256, 1, -2, 255, kMin + 1};
  std::vector<Row> rows;
  for (std::int64_t k : keys) rows.push_back({I(k), N()});
  ASSERT_TRUE(IsOk(this->PutRows("ints", rows)));
  EXPECT_EQ(this->FirstColumn(this->ScanAll("ints")),
            (std::vector<Value>{I(kMin), I(kMin + 1), I(-256), I(-2), I(-1), I(0), I(1), I(5),
                                I(255), I(256), I(kMax)}));
}

TYPED_TEST_P(ReadModelStoreConformance, ScanOrdersTextBytewiseShorterFirst) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Schema("texts", {Text("id")}))));
  const std::vector<std::string> sorted = {"",
                                           std::string("\0", 1),
                                           "A",
                                           "Z",
                                           "a",
                                           std::string("a\0", 2),
                                           std::string("a\0b", 3),
                                           "a\x01",
                                           "ab",
                                           "abc",
                                           "b",
                                           "z",
                                           "\x7f",
                                           "\xc3\xa9" /* é: UTF-8 bytes above ASCII */,
                                           "\xe2\x82\xac"};
  std::vector<Row> rows;
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) rows.push_back({T(*it)});
  this->RefuseTextWithNul("texts", &rows);
  ASSERT_TRUE(IsOk(this->PutRows("texts", rows)));
  std::vector<Value> want;  // `sorted`, but for refused text
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) want.push_back((*it)[0]);
  EXPECT_EQ(this->FirstColumn(this->ScanAll("texts")), want);
}

TYPED_TEST_P(ReadModelStoreConformance, ScanOrdersBlobsBytewiseWithZeroAndFfBytes) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Schema("blobs", {Bytes("id")}))));
  const std::vector<std::string> sorted = {"",
                                           std::string("\0", 1),
                                           std::string("\0\0", 2),
                                           std::string("\0\x01", 2),
                                           std::string("\0\xff", 2),
                                           "\x01",
                                           "\x7f",
                                           "\x80",
                                           "\xff",
                                           std::string("\xff\0", 2),
                                           "\xff\xff",
                                           "\xff\xff\xff"};
  std::vector<Row> rows;
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) rows.push_back({B(*it)});
  ASSERT_TRUE(IsOk(this->PutRows("blobs", rows)));
  std::vector<Value> want;
  for (const std::string& s : sorted) want.push_back(B(s));
  EXPECT_EQ(this->FirstColumn(this->ScanAll("blobs")), want);
}

TYPED_TEST_P(ReadModelStoreConformance, ScanOrdersCompositeKeysColumnByColumn) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Schema("pairs", {Text("a"), Int("b")}))));
  std::vector<Row> sorted = {
      {T(""), I(5)},      {T("a"), I(-1)},
      {T("a"), I(2)},     {T(std::string("a\0", 2)), I(-100)},
      {T("a\x01"), I(0)}, {T("ab"), I(std::numeric_limits<std::int64_t>::min())},
      {T("b"), I(0)},
  };
  this->RefuseTextWithNul("pairs", &sorted);
  std::vector<Row> rows(sorted.rbegin(), sorted.rend());
  ASSERT_TRUE(IsOk(this->PutRows("pairs", rows)));
  EXPECT_EQ(this->ScanAll("pairs"), sorted);
}

TYPED_TEST_P(ReadModelStoreConformance, ScanPagesWithAfterAndLimit) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("pages"))));
  std::vector<Row> rows;
  for (int i = 0; i < 25; ++i) rows.push_back({I(i * 2 - 20), T("v" + std::to_string(i))});
  ASSERT_TRUE(IsOk(this->PutRows("pages", rows)));

  std::vector<Row> collected;
  std::optional<Key> after;
  for (int pages = 0; pages < 100; ++pages) {
    Result<std::vector<Row>> page =
        this->store().Scan("pages", after.has_value() ? &*after : nullptr, 7);
    ASSERT_TRUE(IsOk(page));
    ASSERT_LE(page->size(), 7u);
    if (page->empty()) break;
    collected.insert(collected.end(), page->begin(), page->end());
    after = Key{page->back()[0]};
  }
  EXPECT_EQ(collected, rows);

  // `after` need not be a stored key; the row with key == after is not included.
  const Key between = {I(-3)};  // stored keys are even
  Result<std::vector<Row>> from_between = this->store().Scan("pages", &between, 2);
  ASSERT_TRUE(IsOk(from_between));
  EXPECT_EQ(this->FirstColumn(*from_between), (std::vector<Value>{I(-2), I(0)}));
  const Key exact = {I(0)};
  Result<std::vector<Row>> from_exact = this->store().Scan("pages", &exact, 1);
  ASSERT_TRUE(IsOk(from_exact));
  EXPECT_EQ(this->FirstColumn(*from_exact), (std::vector<Value>{I(2)}));
  const Key last = {I(28)};
  Result<std::vector<Row>> past_end = this->store().Scan("pages", &last, 10);
  ASSERT_TRUE(IsOk(past_end));
  EXPECT_TRUE(past_end->empty());
  Result<std::vector<Row>> none = this->store().Scan("pages", nullptr, 0);
  ASSERT_TRUE(IsOk(none));
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(ReadModelStoreConformance, ScanIntoReusesTheVectorAndGivesWhatScanGives) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("reuse"))));
  std::vector<Row> rows;
  for (int i = 0; i < 23; ++i) {
    Value text = i % 4 == 0 ? Value{} : T(std::string(static_cast<std::size_t>(i * 3), 'x'));
    rows.push_back({I(i), text});
  }
  ASSERT_TRUE(IsOk(this->PutRows("reuse", rows)));

  // A reused vector that starts with leftovers of other shapes and types.
  std::vector<Row> page = {{T("old"), Value{Blob{"\x01"}}, I(7)},
                           {},
                           {I(1)},
                           {I(2)},
                           {I(3)},
                           {I(4)},
                           {I(5)},
                           {I(6)},
                           {I(7)},
                           {I(8)}};
  std::optional<Key> after;
  std::vector<Row> collected;
  for (std::size_t limit : {5u, 9u, 1u, 100u, 100u}) {
    const Key* from = after.has_value() ? &*after : nullptr;
    ASSERT_TRUE(IsOk(this->store().ScanInto("reuse", from, limit, &page)));
    Result<std::vector<Row>> scanned = this->store().Scan("reuse", from, limit);
    ASSERT_TRUE(IsOk(scanned));
    EXPECT_EQ(page, *scanned) << "limit " << limit;
    if (page.empty()) continue;
    collected.insert(collected.end(), page.begin(), page.end());
    after = Key{page.back()[0]};
  }
  EXPECT_EQ(collected, rows);
  EXPECT_EQ(this->store().ScanInto("missing", nullptr, 10, &page).code(), StatusCode::kNotFound);
}

TYPED_TEST_P(ReadModelStoreConformance, ScanDoesNotMixTables) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("first"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("second"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("empty"))));
  ASSERT_TRUE(IsOk(this->PutRows("first", {{I(1), T("f1")}, {I(3), T("f3")}})));
  ASSERT_TRUE(IsOk(this->PutRows("second", {{I(2), T("s2")}})));
  EXPECT_EQ(this->ScanAll("first"), (std::vector<Row>{{I(1), T("f1")}, {I(3), T("f3")}}));
  EXPECT_EQ(this->ScanAll("second"), (std::vector<Row>{{I(2), T("s2")}}));
  EXPECT_TRUE(this->ScanAll("empty").empty());
  EXPECT_EQ(this->StoreGet("second", {I(1)}), std::nullopt);
}

// ---- Transactions ----

TYPED_TEST_P(ReadModelStoreConformance, PutReplacesTheRowWithTheSameKey) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("t"))));
  ASSERT_TRUE(IsOk(this->PutRows("t", {{I(1), T("old")}})));
  ASSERT_TRUE(IsOk(this->PutRows("t", {{I(1), T("new")}})));
  EXPECT_EQ(this->ScanAll("t"), (std::vector<Row>{{I(1), T("new")}}));
}

TYPED_TEST_P(ReadModelStoreConformance, TransactionReadsItsOwnWrites) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("t"))));
  ASSERT_TRUE(IsOk(this->PutRows("t", {{I(1), T("committed")}, {I(2), T("two")}})));
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(IsOk(batch->Put("t", {I(3), T("three")})));
  EXPECT_EQ(*batch->Get("t", {I(3)}), (std::optional<Row>(Row{I(3), T("three")})));
  ASSERT_TRUE(IsOk(batch->Put("t", {I(1), T("changed")})));
  EXPECT_EQ(*batch->Get("t", {I(1)}), (std::optional<Row>(Row{I(1), T("changed")})));
  ASSERT_TRUE(IsOk(batch->Delete("t", {I(2)})));
  EXPECT_EQ(*batch->Get("t", {I(2)}), std::nullopt);
  ASSERT_TRUE(IsOk(batch->Delete("t", {I(3)})));
  EXPECT_EQ(*batch->Get("t", {I(3)}), std::nullopt);
  ASSERT_TRUE(IsOk(batch->Put("t", {I(2), T("again")})));
  EXPECT_EQ(*batch->Get("t", {I(2)}), (std::optional<Row>(Row{I(2), T("again")})));
  EXPECT_TRUE(IsOk(batch->Delete("t", {I(99)})));  // deleting nothing is fine

  // Nothing is visible outside before the commit.
  EXPECT_EQ(this->ScanAll("t"), (std::vector<Row>{{I(1), T("committed")}, {I(2), T("two")}}));
  ASSERT_TRUE(IsOk(batch->Commit()));
  EXPECT_EQ(this->ScanAll("t"), (std::vector<Row>{{I(1), T("changed")}, {I(2), T("again")}}));
}

TYPED_TEST_P(ReadModelStoreConformance, DestroyingABatchWithoutCommitDiscardsEverything) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("keep"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("drop_me"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("rename_me"))));
  ASSERT_TRUE(IsOk(this->PutRows("keep", {{I(1), T("one")}})));
  {
    auto batch = this->Begin();
    ASSERT_NE(batch, nullptr);
    ASSERT_TRUE(IsOk(batch->Put("keep", {I(1), T("changed")})));
    ASSERT_TRUE(IsOk(batch->Put("keep", {I(2), T("two")})));
    ASSERT_TRUE(IsOk(batch->CreateTable(Simple("created"))));
    ASSERT_TRUE(IsOk(batch->Put("created", {I(1), T("x")})));
    ASSERT_TRUE(IsOk(batch->DropTable("drop_me")));
    ASSERT_TRUE(IsOk(batch->RenameTable("rename_me", "renamed")));
  }
  EXPECT_EQ(this->Tables(), (std::vector<std::string>{"drop_me", "keep", "rename_me"}));
  EXPECT_EQ(this->ScanAll("keep"), (std::vector<Row>{{I(1), T("one")}}));
  // The store is usable afterwards.
  EXPECT_TRUE(IsOk(this->PutRows("keep", {{I(3), T("three")}})));
  EXPECT_EQ(this->ScanAll("keep").size(), 2u);
}

TYPED_TEST_P(ReadModelStoreConformance, BatchCannotBeUsedAfterCommit) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("t"))));
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(IsOk(batch->Put("t", {I(1), T("x")})));
  ASSERT_TRUE(IsOk(batch->Commit()));
  EXPECT_FALSE(batch->Put("t", {I(2), T("late")}).ok());
  EXPECT_FALSE(batch->Commit().ok());
  batch.reset();
  EXPECT_EQ(this->ScanAll("t"), (std::vector<Row>{{I(1), T("x")}}));
}

TYPED_TEST_P(ReadModelStoreConformance, OneCommitSpanningTablesAndDdlIsAtomic) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("a"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("b"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("gone"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("old_name"))));
  ASSERT_TRUE(IsOk(this->PutRows("a", {{I(1), T("a1")}})));
  ASSERT_TRUE(IsOk(this->PutRows("b", {{I(1), T("b1")}, {I(2), T("b2")}})));
  ASSERT_TRUE(IsOk(this->PutRows("gone", {{I(1), T("g1")}})));
  ASSERT_TRUE(IsOk(this->PutRows("old_name", {{I(7), T("o7")}})));

  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(IsOk(batch->Put("a", {I(2), T("a2")})));
  ASSERT_TRUE(IsOk(batch->Delete("b", {I(1)})));
  ASSERT_TRUE(IsOk(batch->CreateTable(Simple("fresh"))));
  ASSERT_TRUE(IsOk(batch->Put("fresh", {I(1), T("f1")})));
  ASSERT_TRUE(IsOk(batch->DropTable("gone")));
  ASSERT_TRUE(IsOk(batch->RenameTable("old_name", "new_name")));
  ASSERT_TRUE(IsOk(batch->Put("new_name", {I(8), T("n8")})));

  // Before the commit: the old state, all of it.
  EXPECT_EQ(this->Tables(), (std::vector<std::string>{"a", "b", "gone", "old_name"}));
  EXPECT_EQ(this->ScanAll("a").size(), 1u);
  EXPECT_EQ(this->ScanAll("b").size(), 2u);
  EXPECT_EQ(this->ScanAll("gone").size(), 1u);
  EXPECT_EQ(this->ScanAll("old_name").size(), 1u);
  EXPECT_TRUE(HasCode(this->store().Scan("fresh", nullptr, 10), StatusCode::kNotFound));

  ASSERT_TRUE(IsOk(batch->Commit()));
  EXPECT_EQ(this->Tables(), (std::vector<std::string>{"a", "b", "fresh", "new_name"}));
  EXPECT_EQ(this->ScanAll("a"), (std::vector<Row>{{I(1), T("a1")}, {I(2), T("a2")}}));
  EXPECT_EQ(this->ScanAll("b"), (std::vector<Row>{{I(2), T("b2")}}));
  EXPECT_EQ(this->ScanAll("fresh"), (std::vector<Row>{{I(1), T("f1")}}));
  EXPECT_EQ(this->ScanAll("new_name"), (std::vector<Row>{{I(7), T("o7")}, {I(8), T("n8")}}));
  EXPECT_TRUE(HasCode(this->store().Scan("gone", nullptr, 10), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(this->store().Get("old_name", {I(7)}), StatusCode::kNotFound));
}

TYPED_TEST_P(ReadModelStoreConformance, TableCreatedInATransactionIsUsableInIt) {
  using namespace conformance;
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(IsOk(batch->CreateTable(AllTypes("fresh"))));
  ASSERT_TRUE(IsOk(batch->CreateTable(AllTypes("fresh"))));  // idempotent in the transaction too
  ASSERT_TRUE(IsOk(batch->Put("fresh", {I(1), I(2), R(3.5), T("four"), B("five")})));
  EXPECT_EQ(*batch->Get("fresh", {I(1)}),
            (std::optional<Row>(Row{I(1), I(2), R(3.5), T("four"), B("five")})));
  EXPECT_TRUE(this->Tables().empty());
  EXPECT_FALSE(this->store().DescribeTable("fresh")->has_value());
  ASSERT_TRUE(IsOk(batch->Commit()));
  EXPECT_EQ(*this->store().DescribeTable("fresh"), AllTypes("fresh"));
  EXPECT_EQ(this->ScanAll("fresh"), (std::vector<Row>{{I(1), I(2), R(3.5), T("four"), B("five")}}));
}

TYPED_TEST_P(ReadModelStoreConformance, DropTableRemovesItsRows) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("t"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("other"))));
  ASSERT_TRUE(IsOk(this->PutRows("t", {{I(1), T("x")}, {I(2), T("y")}})));
  ASSERT_TRUE(IsOk(this->PutRows("other", {{I(1), T("stays")}})));
  ASSERT_TRUE(IsOk(this->Apply([](ReadModelBatch& b) { return b.DropTable("t"); })));
  EXPECT_FALSE(this->store().DescribeTable("t")->has_value());
  EXPECT_TRUE(HasCode(this->store().Get("t", {I(1)}), StatusCode::kNotFound));
  EXPECT_EQ(this->Tables(), std::vector<std::string>{"other"});
  // A table created again under the name starts empty.
  ASSERT_TRUE(IsOk(this->Create(Simple("t"))));
  EXPECT_TRUE(this->ScanAll("t").empty());
  EXPECT_EQ(this->StoreGet("t", {I(1)}), std::nullopt);
  EXPECT_EQ(this->ScanAll("other"), (std::vector<Row>{{I(1), T("stays")}}));
}

TYPED_TEST_P(ReadModelStoreConformance, DropAndCreateInOneTransactionStartsEmpty) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("t"))));
  ASSERT_TRUE(IsOk(this->PutRows("t", {{I(1), T("x")}})));
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(IsOk(batch->DropTable("t")));
  EXPECT_TRUE(HasCode(batch->Get("t", {I(1)}), StatusCode::kNotFound));
  ASSERT_TRUE(IsOk(batch->CreateTable(Schema("t", {Int("id")}, {Int("n")}))));
  EXPECT_EQ(*batch->Get("t", {I(1)}), std::nullopt);
  ASSERT_TRUE(IsOk(batch->Put("t", {I(2), I(20)})));
  ASSERT_TRUE(IsOk(batch->Commit()));
  EXPECT_EQ(*this->store().DescribeTable("t"), Schema("t", {Int("id")}, {Int("n")}));
  EXPECT_EQ(this->ScanAll("t"), (std::vector<Row>{{I(2), I(20)}}));
}

TYPED_TEST_P(ReadModelStoreConformance, RenameTableKeepsItsRows) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("before"))));
  ASSERT_TRUE(IsOk(this->PutRows("before", {{I(1), T("x")}, {I(2), T("y")}})));
  ASSERT_TRUE(
      IsOk(this->Apply([](ReadModelBatch& b) { return b.RenameTable("before", "after"); })));
  EXPECT_EQ(this->Tables(), std::vector<std::string>{"after"});
  EXPECT_EQ(*this->store().DescribeTable("after"), Simple("after"));  // the schema's name follows
  EXPECT_EQ(this->ScanAll("after"), (std::vector<Row>{{I(1), T("x")}, {I(2), T("y")}}));
  EXPECT_TRUE(HasCode(this->store().Scan("before", nullptr, 10), StatusCode::kNotFound));
  // Usable under the new name, in transactions too.
  ASSERT_TRUE(IsOk(this->Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.Delete("after", {I(1)}));
    return b.Put("after", {I(3), T("z")});
  })));
  EXPECT_EQ(this->ScanAll("after"), (std::vector<Row>{{I(2), T("y")}, {I(3), T("z")}}));
}

TYPED_TEST_P(ReadModelStoreConformance, RenameThenCreateTheOldNameInOneTransaction) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("live"))));
  ASSERT_TRUE(IsOk(this->PutRows("live", {{I(1), T("old rows")}})));
  // The swap a rebuild does: the finished table takes the name, the old one moves aside.
  ASSERT_TRUE(IsOk(this->Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.RenameTable("live", "live.old"));
    SLUICE_RETURN_IF_ERROR(b.CreateTable(Simple("live")));
    SLUICE_RETURN_IF_ERROR(b.Put("live", {I(2), T("new rows")}));
    return b.DropTable("live.old");
  })));
  EXPECT_EQ(this->Tables(), std::vector<std::string>{"live"});
  EXPECT_EQ(this->ScanAll("live"), (std::vector<Row>{{I(2), T("new rows")}}));
}

TYPED_TEST_P(ReadModelStoreConformance, RenameOntoAnExistingTableIsInvalidArgument) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("one"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("two"))));
  ASSERT_TRUE(IsOk(this->PutRows("one", {{I(1), T("x")}})));
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  EXPECT_TRUE(HasCode(batch->RenameTable("one", "two"), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(batch->RenameTable("one", "one"), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(batch->RenameTable("one", "bad name"), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(batch->RenameTable("one", ""), StatusCode::kInvalidArgument));
  ASSERT_TRUE(IsOk(batch->Commit()));
  EXPECT_EQ(this->Tables(), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(this->ScanAll("one").size(), 1u);
}

TYPED_TEST_P(ReadModelStoreConformance, RenameOfAMissingTableIsNotFound) {
  using namespace conformance;
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  EXPECT_TRUE(HasCode(batch->RenameTable("missing", "other"), StatusCode::kNotFound));
}

// ---- Isolation and concurrency ----

TYPED_TEST_P(ReadModelStoreConformance, StoreReadsSeeOnlyCommittedDataAndAreNotBlocked) {
  using namespace conformance;
  ASSERT_TRUE(IsOk(this->Create(Simple("t"))));
  ASSERT_TRUE(IsOk(this->PutRows("t", {{I(1), T("committed")}})));
  auto batch = this->Begin();
  ASSERT_NE(batch, nullptr);
  ASSERT_TRUE(IsOk(batch->Put("t", {I(1), T("uncommitted")})));
  ASSERT_TRUE(IsOk(batch->Put("t", {I(2), T("uncommitted")})));
  ASSERT_TRUE(IsOk(batch->CreateTable(Simple("pending"))));

  // Read from another thread while the transaction stays open.
  struct Seen {
    Result<std::optional<Row>> row = Status::Unavailable("not read");
    Result<std::vector<Row>> rows = Status::Unavailable("not read");
    Result<std::vector<std::string>> tables = Status::Unavailable("not read");
    Result<std::optional<TableSchema>> pending = Status::Unavailable("not read");
  };
  ReadModelStore* store = &this->store();
  std::future<Seen> reader = std::async(std::launch::async, [store] {
    Seen seen;
    seen.row = store->Get("t", {I(1)});
    seen.rows = store->Scan("t", nullptr, 100);
    seen.tables = store->ListTables();
    seen.pending = store->DescribeTable("pending");
    return seen;
  });
  const bool finished = reader.wait_for(kBlockedReadTimeout) == std::future_status::ready;
  EXPECT_TRUE(finished) << "store-level reads blocked by an open transaction";
  if (!finished) batch.reset();  // unblock the reader so the test can end
  Seen seen = reader.get();
  if (finished) {
    ASSERT_TRUE(IsOk(seen.row));
    EXPECT_EQ(*seen.row, (std::optional<Row>(Row{I(1), T("committed")})));
    ASSERT_TRUE(IsOk(seen.rows));
    EXPECT_EQ(*seen.rows, (std::vector<Row>{{I(1), T("committed")}}));
    ASSERT_TRUE(IsOk(seen.tables));
    EXPECT_EQ(*seen.tables, std::vector<std::string>{"t"});
    ASSERT_TRUE(IsOk(seen.pending));
    EXPECT_FALSE(seen.pending->has_value());
    ASSERT_TRUE(IsOk(batch->Commit()));
    EXPECT_EQ(this->ScanAll("t"),
              (std::vector<Row>{{I(1), T("uncommitted")}, {I(2), T("uncommitted")}}));
  }
}

// Read-modify-write from several threads, each retrying its transaction on Unavailable as the
// contract asks: no increment is lost, whether the store serialises or detects conflicts.
TYPED_TEST_P(ReadModelStoreConformance, ConcurrentReadModifyWritesLoseNoUpdate) {
  using namespace conformance;
  constexpr int kThreads = 4;
  constexpr int kIncrements = 200;
  constexpr int kMaxAttempts = 100'000;
  ASSERT_TRUE(IsOk(this->Create(Schema("counter", {Int("id")}, {Int("n")}))));
  ASSERT_TRUE(IsOk(this->PutRows("counter", {{I(0), I(0)}})));

  ReadModelStore* store = &this->store();
  // One attempt: OK, Unavailable (retry) or another error (fail).
  auto increment = [store]() -> Status {
    Result<std::unique_ptr<ReadModelBatch>> batch = store->Begin();
    if (!batch.ok()) return batch.status();
    Result<std::optional<Row>> row = (*batch)->Get("counter", {I(0)});
    if (!row.ok()) return row.status();
    if (!row->has_value() || !std::holds_alternative<std::int64_t>((**row)[1])) {
      return Status::Corruption("the counter row is missing or not an integer");
    }
    const std::int64_t n = std::get<std::int64_t>((**row)[1]);
    SLUICE_RETURN_IF_ERROR((*batch)->Put("counter", {I(0), I(n + 1)}));
    return (*batch)->Commit();
  };
  std::atomic<int> failures{0};
  std::atomic<int> retries{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements; ++i) {
        Status s;
        int attempt = 0;
        for (; attempt < kMaxAttempts; ++attempt) {
          s = increment();
          if (s.code() != StatusCode::kUnavailable) break;
          retries.fetch_add(1);
          std::this_thread::yield();
        }
        if (!s.ok()) {
          errors[t] = s.ToString();
          failures.fetch_add(1);
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(this->StoreGet("counter", {I(0)}),
            (std::optional<Row>(Row{I(0), I(kThreads * kIncrements)})));
  ::testing::Test::RecordProperty("conflict_retries", retries.load());
}

// ---- Persistence ----

TYPED_TEST_P(ReadModelStoreConformance, CommittedDataSurvivesReopenAndUncommittedDoesNot) {
  using namespace conformance;
  if (!TypeParam::kPersistent) GTEST_SKIP() << TypeParam::Name() << " does not persist";
  const TableSchema composite =
      Schema("composite", {Text("region"), Bytes("tag")}, {Real("r"), Int("i")});
  ASSERT_TRUE(IsOk(this->Create(AllTypes())));
  ASSERT_TRUE(IsOk(this->Create(composite)));
  ASSERT_TRUE(IsOk(this->Create(Simple("dropped"))));
  ASSERT_TRUE(IsOk(this->Create(Simple("renamed_from"))));
  const std::vector<Row> typed = {
      {I(-1), I(std::numeric_limits<std::int64_t>::min()), R(-2.5),
       T(TextMayHoldNul<TypeParam>() ? std::string("a\0b", 3) : std::string("a\1b")),
       B(std::string("\0\xff", 2))},
      {I(1), N(), N(), N(), N()},
  };
  const std::vector<Row> composite_rows = {{T("eu"), B(""), R(1.0), I(1)},
                                           {T("eu"), B("x"), N(), I(2)}};
  ASSERT_TRUE(IsOk(this->PutRows("all_types", typed)));
  ASSERT_TRUE(IsOk(this->PutRows("composite", composite_rows)));
  ASSERT_TRUE(IsOk(this->PutRows("dropped", {{I(1), T("x")}})));
  ASSERT_TRUE(IsOk(this->PutRows("renamed_from", {{I(1), T("kept")}})));
  ASSERT_TRUE(IsOk(this->Apply([](ReadModelBatch& b) {
    SLUICE_RETURN_IF_ERROR(b.DropTable("dropped"));
    return b.RenameTable("renamed_from", "renamed_to");
  })));
  {
    auto batch = this->Begin();
    ASSERT_NE(batch, nullptr);
    ASSERT_TRUE(IsOk(batch->Put("all_types", {I(99), N(), N(), T("uncommitted"), N()})));
    ASSERT_TRUE(IsOk(batch->CreateTable(Simple("uncommitted"))));
  }

  this->Reopen();
  ASSERT_NE(this->store_, nullptr);
  EXPECT_EQ(this->Tables(), (std::vector<std::string>{"all_types", "composite", "renamed_to"}));
  EXPECT_EQ(*this->store().DescribeTable("composite"), composite);
  EXPECT_EQ(this->ScanAll("all_types"), typed);
  EXPECT_EQ(this->ScanAll("composite"), composite_rows);
  EXPECT_EQ(this->ScanAll("renamed_to"), (std::vector<Row>{{I(1), T("kept")}}));

  // And the reopened store carries on: new tables do not meet old rows.
  ASSERT_TRUE(IsOk(this->Create(Simple("dropped"))));
  EXPECT_TRUE(this->ScanAll("dropped").empty());
  ASSERT_TRUE(IsOk(this->PutRows("all_types", {{I(2), I(2), N(), N(), N()}})));
  this->Reopen();
  ASSERT_NE(this->store_, nullptr);
  EXPECT_EQ(this->ScanAll("all_types").size(), 3u);
  EXPECT_EQ(this->Tables(),
            (std::vector<std::string>{"all_types", "composite", "dropped", "renamed_to"}));
}

REGISTER_TYPED_TEST_SUITE_P(
    ReadModelStoreConformance, CreateTableRejectsInvalidSchemas,
    StoreAcceptsTheRuntimesReservedTables, CreateTableIsIdempotentForTheSameSchema,
    CreateTableWithAnotherSchemaIsInvalidArgument, DescribeTableReturnsTheSchemaOrNothing,
    ListTablesReturnsEveryTableByName, EveryValueTypeRoundTrips, NegativeZeroIsStoredAsZero,
    NanIsRefused, IntegerInARealColumnIsStoredAsReal, EmptyTextEmptyBlobAndNullAreDistinct,
    LargeValuesRoundTrip, WrongTypesAndWidthsAreInvalidArgument, UnknownTableIsNotFound,
    CompositeKeysIdentifyRowsByEveryColumn, ScanOrdersIntegersNumerically,
    ScanOrdersTextBytewiseShorterFirst, ScanOrdersBlobsBytewiseWithZeroAndFfBytes,
    ScanOrdersCompositeKeysColumnByColumn, ScanPagesWithAfterAndLimit,
    ScanIntoReusesTheVectorAndGivesWhatScanGives, ScanDoesNotMixTables,
    PutReplacesTheRowWithTheSameKey, TransactionReadsItsOwnWrites,
    DestroyingABatchWithoutCommitDiscardsEverything, BatchCannotBeUsedAfterCommit,
    OneCommitSpanningTablesAndDdlIsAtomic, TableCreatedInATransactionIsUsableInIt,
    DropTableRemovesItsRows, DropAndCreateInOneTransactionStartsEmpty, RenameTableKeepsItsRows,
    RenameThenCreateTheOldNameInOneTransaction, RenameOntoAnExistingTableIsInvalidArgument,
    RenameOfAMissingTableIsNotFound, StoreReadsSeeOnlyCommittedDataAndAreNotBlocked,
    ConcurrentReadModifyWritesLoseNoUpdate, CommittedDataSurvivesReopenAndUncommittedDoesNot);

}  // namespace sluice
