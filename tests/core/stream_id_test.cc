#include "sluice/core/stream_id.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

void ExpectInvalid(std::string_view name) {
  Result<StreamId> id = StreamId::Make(name);
  EXPECT_FALSE(id.ok()) << "accepted a bad stream id of " << name.size() << " bytes";
  if (!id.ok()) {
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(id.status().message().empty());
  }
  EXPECT_EQ(StreamId::Validate(name).code(), StatusCode::kInvalidArgument);
}

void ExpectValid(std::string_view name) {
  Result<StreamId> id = StreamId::Make(name);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->str(), name);
  EXPECT_TRUE(StreamId::Validate(name).ok());
}

TEST(StreamIdTest, AcceptsOrdinaryNames) {
  ExpectValid("account-42");
  ExpectValid("a");
  ExpectValid("with space and punctuation !#$%&'()*+,./:;<=>?@[]^_`{|}~");
  ExpectValid("\x7E");  // '~', the last printable ASCII character
}

TEST(StreamIdTest, RejectsEmpty) { ExpectInvalid(""); }

TEST(StreamIdTest, Accepts200BytesAndRejects201) {
  ExpectValid(std::string(200, 'x'));
  ExpectInvalid(std::string(201, 'x'));
  ExpectInvalid(std::string(100000, 'x'));
}

TEST(StreamIdTest, CountsBytesNotCharacters) {
  // U+00E9 is two bytes: 100 of them are 200 bytes, 101 are 202.
  std::string e_acute;
  for (int i = 0; i < 100; ++i) e_acute += "\xC3\xA9";
  ExpectValid(e_acute);
  ExpectInvalid(e_acute + "\xC3\xA9");
  // 198 ASCII bytes plus a 3-byte character: 201 bytes.
  ExpectInvalid(std::string(198, 'x') + "\xE2\x82\xAC");
  ExpectValid(std::string(197, 'x') + "\xE2\x82\xAC");
}

TEST(StreamIdTest, AcceptsMultiByteUtf8) {
  ExpectValid("caf\xC3\xA9");       // U+00E9
  ExpectValid("\xE2\x82\xAC-1");    // U+20AC euro sign
  ExpectValid("\xF0\x9F\x98\x80");  // U+1F600
  ExpectValid("\xF4\x8F\xBF\xBF");  // U+10FFFF, the last code point
  ExpectValid("\xC2\xA0");          // U+00A0, first after the C1 controls
  ExpectValid("\xEF\xBF\xBD");      // U+FFFD
  ExpectValid("\xED\x9F\xBF");      // U+D7FF, just below the surrogates
  ExpectValid("\xEE\x80\x80");      // U+E000, just above the surrogates
}

TEST(StreamIdTest, RejectsInvalidUtf8) {
  ExpectInvalid("\x80");                  // lone continuation byte
  ExpectInvalid("abc\xBF");               // continuation byte at the end
  ExpectInvalid("\xC3");                  // truncated 2-byte sequence
  ExpectInvalid("\xE2\x82");              // truncated 3-byte sequence
  ExpectInvalid("\xF0\x9F\x98");          // truncated 4-byte sequence
  ExpectInvalid("\xC3(");                 // lead byte followed by ASCII
  ExpectInvalid("\xFE");                  // never valid
  ExpectInvalid("\xFF");                  // never valid
  ExpectInvalid("\xF8\x88\x80\x80\x80");  // 5-byte form
  ExpectInvalid("\xF4\x90\x80\x80");      // U+110000, above the last code point
  ExpectInvalid("\xF5\x80\x80\x80");      // lead byte beyond U+10FFFF
  ExpectInvalid(std::string_view("a\xC3", 2));
}

TEST(StreamIdTest, RejectsOverlongEncodings) {
  ExpectInvalid("\xC0\xAF");          // '/' in two bytes
  ExpectInvalid("\xC1\xBF");          // U+007F in two bytes
  ExpectInvalid("\xC0\x80");          // NUL in two bytes (modified UTF-8)
  ExpectInvalid("\xE0\x80\xAF");      // '/' in three bytes
  ExpectInvalid("\xE0\x9F\xBF");      // U+07FF in three bytes
  ExpectInvalid("\xF0\x80\x80\xAF");  // '/' in four bytes
  ExpectInvalid("\xF0\x8F\xBF\xBF");  // U+FFFF in four bytes
}

TEST(StreamIdTest, RejectsSurrogates) {
  ExpectInvalid("\xED\xA0\x80");              // U+D800
  ExpectInvalid("\xED\xBF\xBF");              // U+DFFF
  ExpectInvalid("\xED\xA0\xBD\xED\xB8\x80");  // CESU-8 surrogate pair
}

TEST(StreamIdTest, RejectsControlCharacters) {
  for (int c = 0; c < 0x20; ++c) {
    SCOPED_TRACE(c);
    std::string name = "ab";
    name.insert(name.begin() + 1, static_cast<char>(c));
    ExpectInvalid(name);
  }
  ExpectInvalid("a\x7F");
  ExpectInvalid(std::string_view("\0", 1));
  ExpectInvalid(std::string_view("abc\0", 4));
  ExpectInvalid("tab\there");
  ExpectInvalid("line\n");
}

TEST(StreamIdTest, RejectsC1ControlCharactersIncludingNextLine) {
  ExpectInvalid("a\xC2\x80");  // U+0080
  ExpectInvalid("a\xC2\x85");  // U+0085 NEXT LINE
  ExpectInvalid("a\xC2\x9F");  // U+009F
  for (int c = 0x80; c <= 0x9F; ++c) {
    SCOPED_TRACE(c);
    std::string name = "x";
    name += '\xC2';
    name += static_cast<char>(c);
    ExpectInvalid(name);
  }
}

TEST(StreamIdTest, CategoryIsThePartBeforeTheFirstDash) {
  EXPECT_EQ(StreamId::Make("account-42")->Category(), "account");
  EXPECT_EQ(StreamId::Make("order-line-7")->Category(), "order");
  EXPECT_EQ(StreamId::Make("nodash")->Category(), "nodash");
  EXPECT_EQ(StreamId::Make("-leading")->Category(), "");
  EXPECT_EQ(StreamId::Make("trailing-")->Category(), "trailing");
  EXPECT_EQ(StreamId::Make("caf\xC3\xA9-1")->Category(), "caf\xC3\xA9");
}

TEST(StreamIdTest, ComparesByName) {
  StreamId a = *StreamId::Make("a");
  StreamId b = *StreamId::Make("b");
  StreamId a2 = *StreamId::Make("a");
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
}

}  // namespace
}  // namespace sluice
