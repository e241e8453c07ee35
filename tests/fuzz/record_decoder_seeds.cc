// Writes a seed corpus for record_decoder_fuzz into the folder named by argv[1]: valid records of
// assorted shapes (with the fuzz target's mode byte in front), plus a few damaged ones.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "record_codec.h"
#include "sluice/core/event.h"

namespace {

sluice::RecordedEvent Event(std::string stream, sluice::StreamVersion version, std::string type,
                            sluice::ContentType content_type, std::string payload) {
  sluice::RecordedEvent e;
  e.stream = std::move(stream);
  e.version = version;
  e.position = 1;
  e.event_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  e.type = std::move(type);
  e.content_type = content_type;
  e.payload = std::move(payload);
  e.recorded_at_us = 1'700'000'000'000'000;
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR\n";
    return 2;
  }
  const std::string dir = argv[1];

  std::vector<sluice::RecordedEvent> events;
  events.push_back(Event("account-1", 0, "bank.AccountOpened.v1", sluice::ContentType::kJson,
                         R"({"owner":"Alice","currency":"EUR"})"));
  sluice::RecordedEvent with_metadata =
      Event("account-1", 1, "bank.MoneyDeposited.v1", sluice::ContentType::kJson,
            R"({"amount_cents":100})");
  with_metadata.metadata.correlation_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  with_metadata.metadata.causation_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  with_metadata.metadata.extra = {{"source", "seed"}, {"user", "alice"}, {"", ""}};
  events.push_back(with_metadata);
  events.push_back(Event("x", 0, "t.v1", sluice::ContentType::kBinary, ""));
  events.push_back(Event("order-42", 9'223'372'036'854'775'807, "shop.OrderPlaced.v2",
                         sluice::ContentType::kBinary, std::string("\0\1\2\3\xff", 5)));
  events.push_back(Event(std::string(200, 's'), 123456, "big.Payload.v1",
                         sluice::ContentType::kBinary, std::string(4096, 'p')));

  int written = 0;
  auto write = [&](const std::string& bytes) {
    const std::string path = dir + "/seed-" + std::to_string(written++);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::cerr << "cannot write " << path << "\n";
      std::exit(1);
    }
  };
  for (const sluice::RecordedEvent& e : events) {
    std::string record;
    sluice::internal::EncodeRecord(e, &record);
    write(std::string(1, '\0') + record);  // as stored
    write(std::string(1, '\1') + record);  // checksum recomputed by the fuzz target
    std::string truncated = record.substr(0, record.size() / 2);
    write(std::string(1, '\1') + truncated);
    std::string flipped = record;
    flipped[flipped.size() - 1] = static_cast<char>(flipped.back() ^ 0x40);
    write(std::string(1, '\0') + flipped);
  }
  write(std::string(1, '\0'));
  std::cout << "wrote " << written << " seeds to " << dir << "\n";
  return 0;
}
