// What the crash helper and the crash test agree on (see crash_helper.cc).
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "eventstore/tagged_batch.h"

namespace sluice::crash {

inline constexpr const char* kIdNamespace = "sluice-crash-test";

// A synced batch of `size` events with ids derived from `batch_id`.
inline std::vector<EventData> Batch(const std::string& batch_id, int size) {
  return testing::TaggedBatch(batch_id, size, kIdNamespace);
}

// One acknowledged append, as the helper writes it to the ack file.
struct Ack {
  std::string batch_id;
  std::string stream;
  std::uint64_t first_position = 0;
  std::uint64_t last_position = 0;
  std::int64_t next_expected_version = 0;
  int size = 0;
};

// Parses the complete lines of `text`; a last line without its newline (cut by the kill) is
// ignored. False if a complete line is malformed.
inline bool ParseAcks(const std::string& text, std::vector<Ack>* acks) {
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) return true;
    std::istringstream line(text.substr(start, end - start));
    Ack ack;
    if (!(line >> ack.batch_id >> ack.stream >> ack.first_position >> ack.last_position >>
          ack.next_expected_version >> ack.size)) {
      return false;
    }
    acks->push_back(std::move(ack));
    start = end + 1;
  }
}

}  // namespace sluice::crash
