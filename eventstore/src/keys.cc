#include "keys.h"

namespace sluice::internal {

void PutBigEndian64(std::string* out, std::uint64_t value) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(value >> (56 - 8 * i));
  out->append(buf, 8);
}

void PutBigEndian32(std::string* out, std::uint32_t value) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(value >> (24 - 8 * i));
  out->append(buf, 4);
}

std::uint64_t GetBigEndian64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

std::uint32_t GetBigEndian32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

std::string PositionKey(GlobalPosition position) {
  std::string key;
  key.reserve(8);
  PutBigEndian64(&key, position);
  return key;
}

GlobalPosition ParsePositionKey(std::string_view key) { return GetBigEndian64(key.data()); }

std::string StreamPrefix(std::string_view stream) {
  std::string key;
  key.reserve(stream.size() + 9);
  key.append(stream);
  key.push_back('\0');
  return key;
}

std::string StreamKey(std::string_view stream, StreamVersion version) {
  std::string key = StreamPrefix(stream);
  PutBigEndian64(&key, static_cast<std::uint64_t>(version));
  return key;
}

bool ParseStreamKey(std::string_view key, std::string_view* stream, StreamVersion* version) {
  if (key.size() < 10 || key[key.size() - 9] != '\0') return false;
  *stream = key.substr(0, key.size() - 9);
  const std::uint64_t v = GetBigEndian64(key.data() + key.size() - 8);
  if (v > static_cast<std::uint64_t>(INT64_MAX)) return false;
  *version = static_cast<StreamVersion>(v);
  return true;
}

std::string EncodeHead(const HeadValue& head) {
  std::string out;
  out.reserve(16);
  PutBigEndian64(&out, static_cast<std::uint64_t>(head.version));
  PutBigEndian64(&out, head.last_position);
  return out;
}

bool DecodeHead(std::string_view bytes, HeadValue* head) {
  if (bytes.size() != 16) return false;
  const std::uint64_t v = GetBigEndian64(bytes.data());
  if (v > static_cast<std::uint64_t>(INT64_MAX)) return false;
  head->version = static_cast<StreamVersion>(v);
  head->last_position = GetBigEndian64(bytes.data() + 8);
  return true;
}

std::string EncodePositionValue(GlobalPosition position) { return PositionKey(position); }

bool DecodePositionValue(std::string_view bytes, GlobalPosition* position) {
  if (bytes.size() != 8) return false;
  *position = GetBigEndian64(bytes.data());
  return *position != 0;
}

}  // namespace sluice::internal
