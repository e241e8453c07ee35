// The table rules every read-model store shares (table.h), and the RocksDB store's private
// key/value codec (rocks_table_codec.h): order-preserving keys and bounds-checked decoding.
#include "sluice/projections/table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "conformance/read_model_store_conformance.h"
#include "rocks_table_codec.h"

namespace sluice {
namespace {

using conformance::B;
using conformance::Bytes;
using conformance::I;
using conformance::Int;
using conformance::N;
using conformance::R;
using conformance::Real;
using conformance::Schema;
using conformance::T;
using conformance::Text;

TEST(TableTest, ReservedPrefixNeedsAllowReserved) {
  const TableSchema schema = Schema("sluice_checkpoints", {Text("projection")}, {Int("position")});
  EXPECT_EQ(ValidateSchema(schema).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateSchema(schema, /*allow_reserved=*/true).ok());
  EXPECT_TRUE(ValidateSchema(Schema("sluice", {Int("id")})).ok());  // only the prefix is reserved
}

TEST(TableTest, ValidateRowNormalisesRealsAndRefusesNan) {
  const TableSchema schema = Schema("t", {Int("id")}, {Real("r")});
  Row row = {I(1), I(3)};
  ASSERT_TRUE(ValidateRow(schema, &row).ok());
  EXPECT_EQ(row[1], R(3.0));
  row = {I(1), R(-0.0)};
  ASSERT_TRUE(ValidateRow(schema, &row).ok());
  EXPECT_FALSE(std::signbit(std::get<double>(row[1])));
  row = {I(1), R(std::nan(""))};
  Status nan = ValidateRow(schema, &row);
  EXPECT_EQ(nan.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nan.message().find("'r'"), std::string::npos) << nan.ToString();
}

TEST(TableTest, ErrorsNameTheTableColumnAndValue) {
  const TableSchema schema = Schema("orders", {Int("id")}, {Int("total")});
  Row row = {I(1), T("lots")};
  Status s = ValidateRow(schema, &row);
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'orders'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("'total'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("'lots'"), std::string::npos) << s.ToString();

  Status key = ValidateKey(schema, {N()});
  ASSERT_EQ(key.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(key.message().find("'id'"), std::string::npos) << key.ToString();
  EXPECT_NE(key.message().find("NULL"), std::string::npos) << key.ToString();
}

TEST(TableTest, ErrorMessagesCutLongValues) {
  const TableSchema schema = Schema("t", {Int("id")}, {Int("n")});
  Row row = {I(1), T(std::string(1 << 20, 'x'))};
  Status s = ValidateRow(schema, &row);
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_LT(s.message().size(), 400u);
}

TEST(TableTest, DescribeValueWritesSqlLiterals) {
  EXPECT_EQ(DescribeValue(N()), "NULL");
  EXPECT_EQ(DescribeValue(I(42)), "42");
  EXPECT_EQ(DescribeValue(I(-7)), "-7");
  EXPECT_EQ(DescribeValue(R(1.5)), "1.5");
  EXPECT_EQ(DescribeValue(R(0.1)), "0.1");
  EXPECT_EQ(DescribeValue(T("text")), "'text'");
  EXPECT_EQ(DescribeValue(T("it's")), "'it''s'");
  EXPECT_EQ(DescribeValue(B("\x0a\xff")), "x'0aff'");
  EXPECT_EQ(DescribeValue(B("")), "x''");
}

TEST(TableTest, ColumnTypeNamesAndIndexOf) {
  EXPECT_EQ(ColumnTypeName(ColumnType::kInteger), "integer");
  EXPECT_EQ(ColumnTypeName(ColumnType::kReal), "real");
  EXPECT_EQ(ColumnTypeName(ColumnType::kText), "text");
  EXPECT_EQ(ColumnTypeName(ColumnType::kBlob), "blob");
  const TableSchema schema = Schema("t", {Text("a"), Int("b")}, {Real("c")});
  EXPECT_EQ(schema.IndexOf("a"), 0);
  EXPECT_EQ(schema.IndexOf("c"), 2);
  EXPECT_EQ(schema.IndexOf("d"), -1);
  EXPECT_EQ(KeyOf(schema, {T("x"), I(1), R(2)}), (Key{T("x"), I(1)}));
}

TEST(TableTest, CompareKeysOrdersColumnByColumn) {
  EXPECT_TRUE(CompareKeys({I(-1)}, {I(0)}) < 0);
  EXPECT_TRUE(CompareKeys({I(std::numeric_limits<std::int64_t>::min())}, {I(-1)}) < 0);
  EXPECT_TRUE(CompareKeys({T("a")}, {T(std::string("a\0", 2))}) < 0);
  EXPECT_TRUE(CompareKeys({T("Z")}, {T("a")}) < 0);
  EXPECT_TRUE(CompareKeys({T("z")}, {T("\xc3\xa9")}) < 0);  // bytes compare unsigned
  EXPECT_TRUE(CompareKeys({B("\x7f")}, {B("\x80")}) < 0);
  EXPECT_TRUE(CompareKeys({T("a"), I(5)}, {T("b"), I(1)}) < 0);
  EXPECT_TRUE(CompareKeys({T("a"), I(5)}, {T("a"), I(1)}) > 0);
  EXPECT_TRUE(CompareKeys({T("a"), B("")}, {T("a"), B("")}) == 0);
}

// ---- The RocksDB codec ----

std::vector<Value> RandomKeyValues(std::mt19937_64& rng, const TableSchema& schema) {
  std::vector<Value> key;
  for (const Column& c : schema.key) {
    if (c.type == ColumnType::kInteger) {
      // Small values collide often, so equal prefixes are exercised.
      const auto pick = rng() % 4;
      key.push_back(I(pick == 0   ? static_cast<std::int64_t>(rng())
                      : pick == 1 ? static_cast<std::int64_t>(rng() % 5) - 2
                      : pick == 2 ? std::numeric_limits<std::int64_t>::min()
                                  : std::numeric_limits<std::int64_t>::max()));
    } else {
      std::string bytes(rng() % 4, '\0');
      for (char& ch : bytes) {
        const char alphabet[] = {'\0', '\x01', 'a', '\xff'};
        ch = alphabet[rng() % 4];
      }
      key.push_back(c.type == ColumnType::kText ? T(bytes) : B(bytes));
    }
  }
  return key;
}

TEST(RocksTableCodecTest, EncodedKeysSortLikeCompareKeys) {
  const TableSchema schema = Schema("t", {Text("a"), Int("b"), Bytes("c")});
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    const Key x = RandomKeyValues(rng, schema);
    const Key y = RandomKeyValues(rng, schema);
    std::string ex;
    std::string ey;
    internal::EncodeKey(schema, x.data(), &ex);
    internal::EncodeKey(schema, y.data(), &ey);
    const int bytes = ex.compare(ey);
    const std::strong_ordering keys = CompareKeys(x, y);
    EXPECT_EQ(bytes < 0, keys < 0) << DescribeValue(x[0]) << " vs " << DescribeValue(y[0]);
    EXPECT_EQ(bytes == 0, keys == 0);
    // And they decode back.
    Row decoded(schema.width());
    ASSERT_TRUE(internal::DecodeKey(schema, ex, &decoded).ok());
    EXPECT_EQ(decoded, x);
  }
}

TEST(RocksTableCodecTest, RowValuesRoundTrip) {
  const TableSchema schema =
      Schema("t", {Int("id")}, {Int("i"), Real("r"), Text("t"), Bytes("b"), Int("n")});
  const std::vector<Row> rows = {
      {I(1), I(std::numeric_limits<std::int64_t>::min()), R(-1.5), T(""), B(""), N()},
      {I(2), I(std::numeric_limits<std::int64_t>::max()), R(INFINITY), T(std::string("\0", 1)),
       B("\xff"), I(-1)},
      {I(3), I(0), R(5e-324), T("text"), B(std::string(300, 'b')), I(63)},
  };
  for (const Row& row : rows) {
    std::string encoded;
    internal::EncodeRowValue(schema, row, &encoded);
    Row decoded(schema.width());
    decoded[0] = row[0];
    ASSERT_TRUE(internal::DecodeRowValue(schema, encoded, &decoded).ok());
    EXPECT_EQ(decoded, row);
  }
}

// Random bytes never crash the decoders (run under ASan/UBSan): they decode or give Corruption.
TEST(RocksTableCodecTest, RandomBytesDecodeOrGiveCorruption) {
  const TableSchema schema =
      Schema("t", {Text("a"), Int("b")}, {Int("i"), Real("r"), Text("t"), Bytes("b2")});
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50000; ++i) {
    std::string bytes(rng() % 24, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 6 == 0 ? 0 : rng());
    Row row(schema.width());
    Status value = internal::DecodeRowValue(schema, bytes, &row);
    EXPECT_TRUE(value.ok() || value.code() == StatusCode::kCorruption);
    Status key = internal::DecodeKey(schema, bytes, &row);
    EXPECT_TRUE(key.ok() || key.code() == StatusCode::kCorruption);
    std::uint64_t id = 0;
    TableSchema decoded;
    Status entry = internal::DecodeCatalogEntry(bytes, "t", &id, &decoded);
    EXPECT_TRUE(entry.ok() || entry.code() == StatusCode::kCorruption);
  }
}

TEST(RocksTableCodecTest, CatalogEntriesRoundTrip) {
  const TableSchema schema =
      Schema("orders", {Text("region"), Int("n")}, {Real("total"), Bytes("raw")});
  std::string encoded;
  internal::EncodeCatalogEntry(77, schema, &encoded);
  std::uint64_t id = 0;
  TableSchema decoded;
  ASSERT_TRUE(internal::DecodeCatalogEntry(encoded, "orders", &id, &decoded).ok());
  EXPECT_EQ(id, 77u);
  EXPECT_EQ(decoded, schema);
  for (std::size_t cut = 0; cut < encoded.size(); ++cut) {
    EXPECT_EQ(internal::DecodeCatalogEntry(encoded.substr(0, cut), "orders", &id, &decoded).code(),
              StatusCode::kCorruption);
  }
}

}  // namespace
}  // namespace sluice
