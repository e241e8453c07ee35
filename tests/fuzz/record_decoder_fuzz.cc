// libFuzzer target for the global-log record decoder (eventstore/src/record_codec.h).
//
// Input: one mode byte, then the record bytes. When the mode byte's low bit is set, the record's
// checksum field is recomputed before decoding, so the fuzzer also reaches the field parsing behind
// the checksum check; otherwise the bytes are decoded as they are.
//
// Checks, beyond "no crash, no undefined behaviour, no unbounded allocation" (ASan, UBSan and
// libFuzzer's -rss_limit_mb / -malloc_limit_mb):
//   - a failed decode is Corruption and names the position;
//   - a successful decode re-encodes to a record that decodes to an equal event.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "record_codec.h"
#include "sluice/core/event.h"
#include "sluice/core/status.h"

namespace {

constexpr sluice::GlobalPosition kPosition = 9'876'543'210;
constexpr std::size_t kHeaderSize = 1 + 4;  // u8 format, u32 crc32c of the rest

[[noreturn]] void Die(const char* what, const sluice::Status& status) {
  std::fprintf(stderr, "record_decoder_fuzz: %s: %s\n", what, status.ToString().c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool fix_checksum = (data[0] & 1) != 0;
  std::string record(reinterpret_cast<const char*>(data + 1), size - 1);
  if (fix_checksum && record.size() >= kHeaderSize) {
    const std::uint32_t crc =
        sluice::internal::Crc32c(std::string_view(record).substr(kHeaderSize));
    for (int i = 0; i < 4; ++i) record[1 + i] = static_cast<char>(crc >> (24 - 8 * i));
  }

  sluice::RecordedEvent event;
  sluice::Status status = sluice::internal::DecodeRecord(record, kPosition, &event);
  if (!status.ok()) {
    if (status.code() != sluice::StatusCode::kCorruption)
      Die("decode failed with a code other than Corruption", status);
    if (status.message().find(std::to_string(kPosition)) == std::string::npos) {
      Die("decode error does not name the position", status);
    }
    return 0;
  }
  if (event.position != kPosition) Die("decode did not set the position", sluice::Status::Ok());

  std::string encoded;
  sluice::internal::EncodeRecord(event, &encoded);
  sluice::RecordedEvent again;
  sluice::Status round_trip = sluice::internal::DecodeRecord(encoded, kPosition, &again);
  if (!round_trip.ok()) Die("re-encoded record does not decode", round_trip);
  if (!(again == event)) Die("re-encoded record decodes to another event", sluice::Status::Ok());
  return 0;
}
