// Decoding bad bytes must not allocate without bound (DESIGN.md, promise 7). This executable
// replaces the global operator new to record the largest single request while a decode runs, and
// refuses requests above 1 GiB so a failing run stays cheap (also under AddressSanitizer).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include "sluice/core/event_type_registry.h"

namespace {

std::atomic<bool> g_tracking{false};
std::atomic<std::size_t> g_largest_request{0};
constexpr std::size_t kRefuseAbove = std::size_t{1} << 30;

void* Allocate(std::size_t n) {
  if (g_tracking.load(std::memory_order_relaxed)) {
    std::size_t seen = g_largest_request.load(std::memory_order_relaxed);
    while (n > seen && !g_largest_request.compare_exchange_weak(seen, n)) {
    }
  }
  if (n > kRefuseAbove) throw std::bad_alloc();
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) { return Allocate(n); }
void* operator new[](std::size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace sluice {
namespace {

struct Note {
  std::int64_t amount = 0;
  std::string text;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(amount), CEREAL_NVP(text));
  }
};

TEST(CodecAllocationTest, HugeStringLengthInPayloadIsCorruptionWithoutAHugeAllocation) {
  EventTypeRegistry registry;
  ASSERT_TRUE(registry.Register<Note>("test.Note.v1").ok());
  // Portable binary: endianness byte, amount (8 bytes), then a string whose length prefix claims
  // 2^40 bytes although only 3 follow.
  RecordedEvent r;
  r.type = "test.Note.v1";
  r.position = 4711;
  r.content_type = ContentType::kBinary;
  r.payload.push_back('\x01');
  r.payload.append(8, '\0');
  const std::uint64_t claimed = std::uint64_t{1} << 40;
  for (int i = 0; i < 8; ++i) r.payload.push_back(static_cast<char>(claimed >> (8 * i)));
  r.payload += "abc";

  g_largest_request = 0;
  g_tracking = true;
  Result<Note> back = registry.Decode<Note>(r);
  g_tracking = false;

  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kCorruption);
  EXPECT_NE(back.status().message().find("4711"), std::string::npos) << back.status().message();
  EXPECT_LE(g_largest_request.load(), std::size_t{1} << 20)
      << "decoding a " << r.payload.size() << "-byte payload asked for one allocation of "
      << g_largest_request.load() << " bytes";
}

}  // namespace
}  // namespace sluice
