#include "record_codec.h"

#include <array>
#include <cstring>

#include "keys.h"
#include "sluice/core/uuid.h"

namespace sluice::internal {
namespace {

constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kHeaderSize = 1 + 4;
// version + id + recorded_at + content type
constexpr std::size_t kFixedSize = 8 + 16 + 8 + 1;

constexpr std::array<std::uint32_t, 256> MakeCrcTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<std::uint32_t, 256> kCrcTable = MakeCrcTable();

void PutString(std::string* out, std::string_view s) {
  PutBigEndian32(out, static_cast<std::uint32_t>(s.size()));
  out->append(s);
}

// Reads fields from a record, refusing to go past its end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool Fixed(std::size_t n, std::string_view* out) {
    if (rest_.size() < n) return false;
    *out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool U32(std::uint32_t* v) {
    std::string_view b;
    if (!Fixed(4, &b)) return false;
    *v = GetBigEndian32(b.data());
    return true;
  }
  bool String(std::string* out) {
    std::uint32_t n = 0;
    std::string_view b;
    if (!U32(&n) || !Fixed(n, &b)) return false;
    out->assign(b);
    return true;
  }
  std::size_t remaining() const { return rest_.size(); }

 private:
  std::string_view rest_;
};

}  // namespace

std::uint32_t Crc32cPortable(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) crc = kCrcTable[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t Crc32cSse42(std::string_view data) {
  std::uint64_t crc = 0xFFFFFFFFu;
  const char* p = data.data();
  std::size_t n = data.size();
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    crc = __builtin_ia32_crc32di(crc, word);
    p += 8;
    n -= 8;
  }
  auto crc32 = static_cast<std::uint32_t>(crc);
  while (n-- > 0) crc32 = __builtin_ia32_crc32qi(crc32, static_cast<unsigned char>(*p++));
  return crc32 ^ 0xFFFFFFFFu;
}
#endif

std::uint32_t Crc32c(std::string_view data) {
#if defined(__x86_64__)
  static const bool kHasSse42 = __builtin_cpu_supports("sse4.2");
  if (kHasSse42) return Crc32cSse42(data);
#endif
  return Crc32cPortable(data);
}

void EncodeRecord(const RecordedEvent& event, std::string* out) {
  const std::size_t start = out->size();
  out->push_back(static_cast<char>(kFormat));
  PutBigEndian32(out, 0);  // checksum, filled in below
  PutBigEndian64(out, static_cast<std::uint64_t>(event.version));
  const UuidBytes id = ParseUuid(event.event_id).value_or(UuidBytes{});
  out->append(reinterpret_cast<const char*>(id.data()), id.size());
  PutBigEndian64(out, static_cast<std::uint64_t>(event.recorded_at_us));
  out->push_back(static_cast<char>(event.content_type));
  PutString(out, event.stream);
  PutString(out, event.type);
  PutString(out, event.metadata.correlation_id);
  PutString(out, event.metadata.causation_id);
  PutBigEndian32(out, static_cast<std::uint32_t>(event.metadata.extra.size()));
  for (const auto& [key, value] : event.metadata.extra) {
    PutString(out, key);
    PutString(out, value);
  }
  PutString(out, event.payload);
  const std::uint32_t crc = Crc32c(std::string_view(*out).substr(start + kHeaderSize));
  std::string crc_bytes;
  PutBigEndian32(&crc_bytes, crc);
  out->replace(start + 1, 4, crc_bytes);
}

Status DecodeRecord(std::string_view bytes, GlobalPosition position, RecordedEvent* event) {
  auto corrupt = [position](const std::string& what) {
    return Status::Corruption("record at position " + std::to_string(position) + ": " + what);
  };
  if (bytes.size() < kHeaderSize + kFixedSize)
    return corrupt("too short (" + std::to_string(bytes.size()) + " bytes)");
  if (static_cast<std::uint8_t>(bytes[0]) != kFormat) {
    return corrupt("unknown record format " + std::to_string(static_cast<std::uint8_t>(bytes[0])));
  }
  const std::uint32_t stored_crc = GetBigEndian32(bytes.data() + 1);
  if (Crc32c(bytes.substr(kHeaderSize)) != stored_crc) return corrupt("checksum mismatch");

  Reader r(bytes.substr(kHeaderSize));
  std::string_view fixed;
  r.Fixed(kFixedSize, &fixed);
  const std::uint64_t version = GetBigEndian64(fixed.data());
  if (version > static_cast<std::uint64_t>(INT64_MAX)) return corrupt("impossible stream version");
  UuidBytes id{};
  for (std::size_t i = 0; i < 16; ++i) id[i] = static_cast<std::uint8_t>(fixed[8 + i]);
  const auto recorded_at = static_cast<std::int64_t>(GetBigEndian64(fixed.data() + 24));
  const auto content_type = static_cast<std::uint8_t>(fixed[32]);
  if (content_type > static_cast<std::uint8_t>(ContentType::kJson)) {
    return corrupt("unknown content type " + std::to_string(content_type));
  }
  RecordedEvent& e = *event;  // decoded in place: callers reuse the strings' capacity
  e.metadata.extra.clear();
  e.position = position;
  e.version = static_cast<StreamVersion>(version);
  e.event_id = FormatUuid(id);
  e.recorded_at_us = recorded_at;
  e.content_type = static_cast<ContentType>(content_type);
  std::uint32_t extra_count = 0;
  if (!r.String(&e.stream) || !r.String(&e.type) || !r.String(&e.metadata.correlation_id) ||
      !r.String(&e.metadata.causation_id) || !r.U32(&extra_count)) {
    return corrupt("truncated field");
  }
  // Each extra entry takes at least 8 bytes, so a count beyond that is impossible.
  if (extra_count > r.remaining() / 8) return corrupt("impossible metadata count");
  for (std::uint32_t i = 0; i < extra_count; ++i) {
    std::string key, value;
    if (!r.String(&key) || !r.String(&value)) return corrupt("truncated metadata");
    e.metadata.extra.emplace(std::move(key), std::move(value));
  }
  if (!r.String(&e.payload)) return corrupt("truncated payload");
  if (r.remaining() != 0)
    return corrupt(std::to_string(r.remaining()) + " unexpected trailing bytes");
  return Status::Ok();
}

void EncodeSnapshot(const Snapshot& snapshot, std::string* out) {
  const std::size_t start = out->size();
  out->push_back(static_cast<char>(kFormat));
  PutBigEndian32(out, 0);
  PutBigEndian64(out, static_cast<std::uint64_t>(snapshot.version));
  PutBigEndian32(out, static_cast<std::uint32_t>(snapshot.schema_version));
  out->append(snapshot.payload);
  std::string crc;
  PutBigEndian32(&crc, Crc32c(std::string_view(*out).substr(start + kHeaderSize)));
  out->replace(start + 1, 4, crc);
}

Status DecodeSnapshot(std::string_view bytes, std::string_view stream, Snapshot* snapshot) {
  auto corrupt = [stream](const std::string& what) {
    return Status::Corruption("snapshot of stream '" + std::string(stream) + "': " + what);
  };
  if (bytes.size() < kHeaderSize + 12) return corrupt("too short");
  if (static_cast<std::uint8_t>(bytes[0]) != kFormat) return corrupt("unknown format");
  if (Crc32c(bytes.substr(kHeaderSize)) != GetBigEndian32(bytes.data() + 1)) {
    return corrupt("checksum mismatch");
  }
  const std::uint64_t version = GetBigEndian64(bytes.data() + kHeaderSize);
  if (version > static_cast<std::uint64_t>(INT64_MAX)) return corrupt("impossible version");
  snapshot->version = static_cast<StreamVersion>(version);
  snapshot->schema_version = static_cast<int>(GetBigEndian32(bytes.data() + kHeaderSize + 8));
  snapshot->payload.assign(bytes.substr(kHeaderSize + 12));
  return Status::Ok();
}

}  // namespace sluice::internal
