#include "sluice/core/event_type_registry.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace sluice {
namespace {

struct Line {
  std::string sku;
  std::vector<std::int64_t> quantities;
  double price = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(sku), CEREAL_NVP(quantities), CEREAL_NVP(price));
  }
  friend bool operator==(const Line&, const Line&) = default;
};

struct OrderPlaced {
  std::int64_t order_id = 0;
  double total = 0;
  std::string customer;
  std::vector<std::string> tags;
  std::map<std::string, Line> lines;
  std::map<std::string, std::vector<std::int64_t>> buckets;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(order_id), CEREAL_NVP(total), CEREAL_NVP(customer), CEREAL_NVP(tags),
       CEREAL_NVP(lines), CEREAL_NVP(buckets));
  }
  friend bool operator==(const OrderPlaced&, const OrderPlaced&) = default;
};

struct MoneyDeposited {
  std::int64_t amount = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount));
  }
};

struct MoneyWithdrawn {
  std::int64_t amount = 0;
  std::string reason;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount), CEREAL_NVP(reason));
  }
  friend bool operator==(const MoneyWithdrawn&, const MoneyWithdrawn&) = default;
};

struct Unregistered {
  int x = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(x));
  }
};

struct Named {
  std::string name;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(name));
  }
};

OrderPlaced SampleOrder() {
  OrderPlaced o;
  o.order_id = std::numeric_limits<std::int64_t>::min();
  o.total = 1234.5678;
  o.customer = "caf\xC3\xA9 \"quoted\" \\ back\tslash";
  o.tags = {"a", "", "long tag with spaces"};
  o.lines["sku-1"] = Line{"sku-1", {1, -2, std::numeric_limits<std::int64_t>::max()}, 0.1};
  o.lines["sku-2"] = Line{"sku-2", {}, -3.25e300};
  o.buckets["empty"] = {};
  o.buckets["full"] = {5, 6, 7};
  return o;
}

// A RecordedEvent as a store would hand it back.
RecordedEvent Recorded(const EventData& data, GlobalPosition position = 17) {
  RecordedEvent r;
  r.stream = "order-1";
  r.version = 3;
  r.position = position;
  r.event_id = "00000000-0000-4000-8000-000000000001";
  r.type = data.type;
  r.content_type = data.content_type;
  r.payload = data.payload;
  return r;
}

class EventTypeRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Register<OrderPlaced>("shop.OrderPlaced.v1").ok());
    ASSERT_TRUE(registry_.Register<MoneyDeposited>("bank.MoneyDeposited.v1").ok());
    ASSERT_TRUE(registry_.Register<MoneyWithdrawn>("bank.MoneyWithdrawn.v2").ok());
  }
  EventTypeRegistry registry_;
};

TEST(EventTypeNameTest, AcceptsVersionedPrintableNames) {
  for (const char* name : {"bank.MoneyDeposited.v1", "x.v0", "a-b_c:d/e.v12", "a.v1.v2"}) {
    EXPECT_TRUE(ValidateEventTypeName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateEventTypeName(std::string(197, 'a') + ".v1").ok());  // 200 bytes
}

TEST(EventTypeNameTest, RejectsMalformedNames) {
  const std::string bad[] = {
      "",
      "NoVersion",
      "bank.MoneyDeposited",
      "bank.MoneyDeposited.v",
      "bank.MoneyDeposited.vx",
      "bank.MoneyDeposited.v1x",
      "bank.MoneyDeposited.V1",
      ".v1",
      "has space.v1",
      "tab\t.v1",
      std::string("nul\0.v1", 7),
      "caf\xC3\xA9.v1",
      "del\x7F.v1",
      std::string(198, 'a') + ".v1",  // 201 bytes
  };
  for (const std::string& name : bad) {
    Status s = ValidateEventTypeName(name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
  }
}

TEST_F(EventTypeRegistryTest, RegisterRejectsBadNames) {
  EventTypeRegistry registry;
  EXPECT_EQ(registry.Register<Unregistered>("NoVersion").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register<Unregistered>("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register<Unregistered>("a b.v1").code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(registry.IsRegistered("NoVersion"));
  EXPECT_FALSE(registry.TypeNameOf<Unregistered>().ok());
}

TEST_F(EventTypeRegistryTest, RegistersAndLooksUpNames) {
  EXPECT_TRUE(registry_.IsRegistered("shop.OrderPlaced.v1"));
  EXPECT_FALSE(registry_.IsRegistered("shop.OrderPlaced.v2"));
  Result<std::string> name = registry_.TypeNameOf<MoneyDeposited>();
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "bank.MoneyDeposited.v1");
}

TEST_F(EventTypeRegistryTest, RegisteringTheSameTypeUnderTheSameNameAgainIsOk) {
  EXPECT_TRUE(registry_.Register<MoneyDeposited>("bank.MoneyDeposited.v1").ok());
  EXPECT_EQ(*registry_.TypeNameOf<MoneyDeposited>(), "bank.MoneyDeposited.v1");
}

TEST_F(EventTypeRegistryTest, DuplicateNameForAnotherTypeIsAnError) {
  Status s = registry_.Register<Unregistered>("bank.MoneyDeposited.v1");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(registry_.TypeNameOf<Unregistered>().ok());
  EXPECT_EQ(*registry_.TypeNameOf<MoneyDeposited>(), "bank.MoneyDeposited.v1");
}

TEST_F(EventTypeRegistryTest, SecondNameForARegisteredTypeIsAnError) {
  Status s = registry_.Register<MoneyDeposited>("bank.MoneyDeposited.v9");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(registry_.IsRegistered("bank.MoneyDeposited.v9"));
  EXPECT_EQ(*registry_.TypeNameOf<MoneyDeposited>(), "bank.MoneyDeposited.v1");
}

TEST_F(EventTypeRegistryTest, UnregisteredTypeIsNotFound) {
  EXPECT_EQ(registry_.TypeNameOf<Unregistered>().status().code(), StatusCode::kNotFound);
  Result<EventData> data = registry_.Encode(Unregistered{1});
  EXPECT_EQ(data.status().code(), StatusCode::kNotFound);
}

TEST_F(EventTypeRegistryTest, EncodeSetsTypeAndContentTypeAndLeavesIdAndMetadataEmpty) {
  Result<EventData> data = registry_.Encode(MoneyDeposited{5});
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->type, "bank.MoneyDeposited.v1");
  EXPECT_EQ(data->content_type, ContentType::kBinary);
  EXPECT_TRUE(data->event_id.empty());
  EXPECT_EQ(data->metadata, Metadata{});
  EXPECT_FALSE(data->payload.empty());

  Result<EventData> json = registry_.Encode(MoneyDeposited{5}, ContentType::kJson);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->content_type, ContentType::kJson);
}

TEST_F(EventTypeRegistryTest, BinaryRoundTripOfNestedStruct) {
  const OrderPlaced original = SampleOrder();
  Result<EventData> data = registry_.Encode(original);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  Result<OrderPlaced> back = registry_.Decode<OrderPlaced>(Recorded(*data));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, original);
}

TEST_F(EventTypeRegistryTest, BinaryRoundTripKeepsNulBytesInStrings) {
  OrderPlaced original = SampleOrder();
  original.customer = std::string("a\0b\0", 4);
  Result<EventData> data = registry_.Encode(original);
  ASSERT_TRUE(data.ok());
  Result<OrderPlaced> back = registry_.Decode<OrderPlaced>(Recorded(*data));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->customer, original.customer);
}

TEST_F(EventTypeRegistryTest, JsonRoundTripOfNestedStruct) {
  const OrderPlaced original = SampleOrder();
  Result<EventData> data = registry_.Encode(original, ContentType::kJson);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  Result<OrderPlaced> back = registry_.Decode<OrderPlaced>(Recorded(*data));
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << data->payload;
  EXPECT_EQ(*back, original);
}

TEST_F(EventTypeRegistryTest, JsonWritesFieldsAsTheTopLevelObject) {
  Result<EventData> data = registry_.Encode(MoneyWithdrawn{42, "rent"}, ContentType::kJson);
  ASSERT_TRUE(data.ok());
  const std::string& json = data->payload;
  const std::size_t first = json.find_first_not_of(" \n\r\t");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(json[first], '{') << json;
  EXPECT_NE(json.find("\"amount\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"reason\""), std::string::npos) << json;
  EXPECT_NE(json.find("42"), std::string::npos) << json;
  EXPECT_EQ(json.find("value0"), std::string::npos)
      << "fields wrapped in an outer object: " << json;
}

TEST_F(EventTypeRegistryTest, DecodesHandWrittenJsonWithFieldsInAnyOrder) {
  EventData data;
  data.type = "bank.MoneyWithdrawn.v2";
  data.content_type = ContentType::kJson;
  data.payload = R"({"reason": "rent", "amount": 42})";
  Result<MoneyWithdrawn> back = registry_.Decode<MoneyWithdrawn>(Recorded(data));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->amount, 42);
  EXPECT_EQ(back->reason, "rent");
}

TEST_F(EventTypeRegistryTest, DecodeAsAnotherRegisteredTypeIsInvalidArgument) {
  Result<EventData> data = registry_.Encode(MoneyDeposited{5});
  ASSERT_TRUE(data.ok());
  Result<MoneyWithdrawn> wrong = registry_.Decode<MoneyWithdrawn>(Recorded(*data));
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  Result<Unregistered> unregistered = registry_.Decode<Unregistered>(Recorded(*data));
  EXPECT_EQ(unregistered.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EventTypeRegistryTest, DecodeOfUnknownTypeIsInvalidArgumentNamingTheEvent) {
  Result<EventData> data = registry_.Encode(MoneyDeposited{5});
  ASSERT_TRUE(data.ok());
  RecordedEvent r = Recorded(*data, 99);
  r.type = "bank.Unknown.v1";
  Result<MoneyDeposited> back = registry_.Decode<MoneyDeposited>(r);
  EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("bank.Unknown.v1"), std::string::npos)
      << back.status().message();
}

TEST_F(EventTypeRegistryTest, TruncatedBinaryPayloadIsCorruptionNamingThePosition) {
  Result<EventData> data = registry_.Encode(SampleOrder());
  ASSERT_TRUE(data.ok());
  for (std::size_t keep : {std::size_t{0}, std::size_t{1}, std::size_t{5}, data->payload.size() / 2,
                           data->payload.size() - 1}) {
    SCOPED_TRACE(keep);
    EventData cut = *data;
    cut.payload.resize(keep);
    Result<OrderPlaced> back = registry_.Decode<OrderPlaced>(Recorded(cut, 4242));
    ASSERT_FALSE(back.ok());
    EXPECT_EQ(back.status().code(), StatusCode::kCorruption);
    EXPECT_NE(back.status().message().find("4242"), std::string::npos) << back.status().message();
  }
}

TEST_F(EventTypeRegistryTest, ImpossibleElementCountInBinaryPayloadIsCorruption) {
  // Portable binary: one endianness byte, then the fields in order. OrderPlaced starts with an
  // int64, a double and a string (empty here); then the tags vector claims 2^62 elements, which can
  // never be allocated and must come back as an error, not a crash.
  RecordedEvent r;
  r.type = "shop.OrderPlaced.v1";
  r.position = 77;
  r.content_type = ContentType::kBinary;
  r.payload.push_back('\x01');
  r.payload.append(8, '\0');  // order_id
  r.payload.append(8, '\0');  // total
  r.payload.append(8, '\0');  // customer: length 0
  const std::uint64_t count = std::uint64_t{1} << 62;
  for (int i = 0; i < 8; ++i) r.payload.push_back(static_cast<char>(count >> (8 * i)));
  Result<OrderPlaced> back = registry_.Decode<OrderPlaced>(r);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kCorruption);
  EXPECT_NE(back.status().message().find("77"), std::string::npos) << back.status().message();
}

TEST_F(EventTypeRegistryTest, TrailingBytesAfterABinaryPayloadAreCorruption) {
  Result<EventData> data = registry_.Encode(MoneyDeposited{5});
  ASSERT_TRUE(data.ok());
  EventData longer = *data;
  longer.payload += "junk";
  Result<MoneyDeposited> back = registry_.Decode<MoneyDeposited>(Recorded(longer, 606));
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kCorruption);
  EXPECT_NE(back.status().message().find("606"), std::string::npos) << back.status().message();
}

TEST_F(EventTypeRegistryTest, DecodesBigEndianPortableBinaryPayloads) {
  std::ostringstream out;
  {
    cereal::PortableBinaryOutputArchive archive(
        out, cereal::PortableBinaryOutputArchive::Options::BigEndian());
    archive(SampleOrder());
  }
  EventData data;
  data.type = "shop.OrderPlaced.v1";
  data.payload = std::move(out).str();
  Result<OrderPlaced> back = registry_.Decode<OrderPlaced>(Recorded(data));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, SampleOrder());
}

TEST_F(EventTypeRegistryTest, MalformedJsonPayloadIsCorruptionNamingThePosition) {
  const char* bad[] = {"",     "{not json", "[1,2", R"({"amount": "text"})", R"({"other": 1})",
                       "null", "42"};
  for (const char* payload : bad) {
    SCOPED_TRACE(payload);
    RecordedEvent r;
    r.type = "bank.MoneyDeposited.v1";
    r.position = 31337;
    r.content_type = ContentType::kJson;
    r.payload = payload;
    Result<MoneyDeposited> back = registry_.Decode<MoneyDeposited>(r);
    ASSERT_FALSE(back.ok());
    EXPECT_EQ(back.status().code(), StatusCode::kCorruption);
    EXPECT_NE(back.status().message().find("31337"), std::string::npos) << back.status().message();
  }
}

using BankEvent = std::variant<MoneyDeposited, MoneyWithdrawn>;

TEST_F(EventTypeRegistryTest, DecodeVariantPicksTheRegisteredAlternative) {
  Result<EventData> deposited = registry_.Encode(MoneyDeposited{5});
  Result<EventData> withdrawn = registry_.Encode(MoneyWithdrawn{7, "fee"}, ContentType::kJson);
  ASSERT_TRUE(deposited.ok());
  ASSERT_TRUE(withdrawn.ok());

  Result<BankEvent> a = registry_.DecodeVariant<BankEvent>(Recorded(*deposited));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(std::holds_alternative<MoneyDeposited>(*a));
  EXPECT_EQ(std::get<MoneyDeposited>(*a).amount, 5);

  Result<BankEvent> b = registry_.DecodeVariant<BankEvent>(Recorded(*withdrawn));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(std::holds_alternative<MoneyWithdrawn>(*b));
  EXPECT_EQ(std::get<MoneyWithdrawn>(*b), (MoneyWithdrawn{7, "fee"}));
}

TEST_F(EventTypeRegistryTest, DecodeVariantOfATypeOutsideTheVariantIsInvalidArgument) {
  Result<EventData> order = registry_.Encode(SampleOrder());
  ASSERT_TRUE(order.ok());
  Result<BankEvent> v = registry_.DecodeVariant<BankEvent>(Recorded(*order));
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);

  RecordedEvent unknown = Recorded(*order);
  unknown.type = "bank.Unknown.v1";
  EXPECT_EQ(registry_.DecodeVariant<BankEvent>(unknown).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(EventTypeRegistryTest, DecodeVariantOfCorruptPayloadIsCorruption) {
  RecordedEvent r;
  r.type = "bank.MoneyWithdrawn.v2";
  r.position = 555;
  r.payload = "\x01\x02";
  Result<BankEvent> v = registry_.DecodeVariant<BankEvent>(r);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kCorruption);
  EXPECT_NE(v.status().message().find("555"), std::string::npos) << v.status().message();
}

TEST_F(EventTypeRegistryTest, DecodeVariantIgnoresAlternativesThatAreNotRegistered) {
  using Mixed = std::variant<Unregistered, MoneyDeposited>;
  Result<EventData> deposited = registry_.Encode(MoneyDeposited{9});
  ASSERT_TRUE(deposited.ok());
  Result<Mixed> v = registry_.DecodeVariant<Mixed>(Recorded(*deposited));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(std::get<MoneyDeposited>(*v).amount, 9);
}

TEST_F(EventTypeRegistryTest, EncodesAndDecodesFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < 500; ++i) {
        MoneyWithdrawn event{t * 1000 + i, "r" + std::to_string(i)};
        Result<EventData> data =
            registry_.Encode(event, i % 2 ? ContentType::kJson : ContentType::kBinary);
        if (!data.ok()) {
          ++failures[t];
          continue;
        }
        Result<MoneyWithdrawn> back = registry_.Decode<MoneyWithdrawn>(Recorded(*data));
        if (!back.ok() || !(*back == event)) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST(DescribeEventTest, NamesPositionStreamVersionAndType) {
  RecordedEvent r;
  r.stream = "account-42";
  r.version = 6;
  r.position = 1001;
  r.type = "bank.MoneyDeposited.v1";
  const std::string text = DescribeEvent(r);
  EXPECT_NE(text.find("1001"), std::string::npos) << text;
  EXPECT_NE(text.find("account-42"), std::string::npos) << text;
  EXPECT_NE(text.find("bank.MoneyDeposited.v1"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

struct NothingToSay {
  template <class Archive>
  void serialize(Archive& /*ar*/) {}
};

TEST(EventTypeRegistryJsonTest, StructWithoutFieldsRoundTripsAsJson) {
  EventTypeRegistry registry;
  ASSERT_TRUE(registry.Register<NothingToSay>("test.NothingToSay.v1").ok());
  Result<EventData> data = registry.Encode(NothingToSay{}, ContentType::kJson);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->payload, "{}");
  RecordedEvent recorded;
  recorded.type = data->type;
  recorded.content_type = data->content_type;
  recorded.payload = data->payload;
  EXPECT_TRUE(registry.Decode<NothingToSay>(recorded).ok());
}

}  // namespace
}  // namespace sluice
