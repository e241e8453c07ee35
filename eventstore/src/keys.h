// Key and value layout of the RocksDB event store (private). See docs/storage-format.md.
//
//   column family   key                                  value
//   default         "sluice.format"                      "sluice-eventstore/1"
//   log             be64(position)                       record (record_codec.h)
//   streams         stream bytes, 0x00, be64(version)    be64(position)
//   heads           stream bytes                         be64(version) be64(last position)
//   ids             16 bytes of the event id (UUID)      be64(position)
//   snapshots       stream bytes                         snapshot record (record_codec.h)
//
// Stream ids never contain 0x00 (a control character), so the 0x00 separator keeps one stream's
// keys together and in version order. Big-endian integers sort numerically as bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/core/version.h"

namespace sluice::internal {

inline constexpr std::string_view kFormatKey = "sluice.format";
inline constexpr std::string_view kFormatValue = "sluice-eventstore/1";
inline constexpr const char* kLogFamily = "log";
inline constexpr const char* kStreamsFamily = "streams";
inline constexpr const char* kHeadsFamily = "heads";
inline constexpr const char* kIdsFamily = "ids";
inline constexpr const char* kSnapshotsFamily = "snapshots";

void PutBigEndian64(std::string* out, std::uint64_t value);
void PutBigEndian32(std::string* out, std::uint32_t value);
std::uint64_t GetBigEndian64(const char* p);
std::uint32_t GetBigEndian32(const char* p);

std::string PositionKey(GlobalPosition position);
// REQUIRES: key.size() == 8
GlobalPosition ParsePositionKey(std::string_view key);

// stream, 0x00, be64(version)
std::string StreamKey(std::string_view stream, StreamVersion version);
// stream, 0x00: every key of the stream starts with this.
std::string StreamPrefix(std::string_view stream);
// False if `key` is not a well-formed stream key.
bool ParseStreamKey(std::string_view key, std::string_view* stream, StreamVersion* version);

struct HeadValue {
  StreamVersion version = kNoStream;
  GlobalPosition last_position = 0;
};
std::string EncodeHead(const HeadValue& head);
bool DecodeHead(std::string_view bytes, HeadValue* head);

std::string EncodePositionValue(GlobalPosition position);
bool DecodePositionValue(std::string_view bytes, GlobalPosition* position);

}  // namespace sluice::internal
