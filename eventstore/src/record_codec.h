// The on-disk encoding of one event record in the global log (private to eventstore).
//
// Layout (all integers big-endian):
//   u8  format (1)        u32 crc32c of everything after this field
//   u64 version           u8[16] event id      i64 recorded_at_us     u8 content type
//   str stream            str type             str correlation id     str causation id
//   u32 extra count       (str key, str value) * count
//   str payload
// where str = u32 length + bytes. Decoding checks every length against the bytes that remain and
// the checksum first, so damaged bytes give Corruption naming the position, never a crash or an
// allocation larger than the record.
#pragma once

#include <string>
#include <string_view>

#include "sluice/core/event.h"
#include "sluice/core/snapshot_store.h"
#include "sluice/core/status.h"

namespace sluice::internal {

// Appends the record for `event` (its position is the key, not stored) to `out`.
void EncodeRecord(const RecordedEvent& event, std::string* out);

// Decodes a record stored at `position` into *event (reusing its strings), setting
// event->position. On error *event holds an unspecified mix of fields.
Status DecodeRecord(std::string_view bytes, GlobalPosition position, RecordedEvent* event);

// A snapshot record: u8 format (1), u32 crc32c of the rest, be64 version, be32 schema version,
// then the payload to the end.
void EncodeSnapshot(const Snapshot& snapshot, std::string* out);
Status DecodeSnapshot(std::string_view bytes, std::string_view stream, Snapshot* snapshot);

// CRC-32C (Castagnoli) of `data`.
std::uint32_t Crc32c(std::string_view data);
// The table-driven version (used where the CPU lacks SSE4.2); exposed so tests can compare.
std::uint32_t Crc32cPortable(std::string_view data);

}  // namespace sluice::internal
