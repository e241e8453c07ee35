// Uses the installed Sluice: opens a RocksEventStore in the folder named by argv[1], appends one
// event, reads it back and checks it. Exits 0 when everything matches, 1 otherwise.
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/version.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace {

int Fail(const std::string& what, const sluice::Status& status) {
  std::cerr << "consumer: " << what << ": " << status.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " STORE_DIR\n";
    return 2;
  }
  auto store = sluice::RocksEventStore::Open(argv[1]);
  if (!store.ok()) return Fail("open", store.status());

  auto stream = sluice::StreamId::Make("consumer-1");
  if (!stream.ok()) return Fail("stream id", stream.status());

  sluice::EventData event;
  event.type = "consumer.Installed.v1";
  event.content_type = sluice::ContentType::kJson;
  event.payload = R"({"ok":true})";
  event.metadata.correlation_id = "install-test";
  std::vector<sluice::EventData> events;
  events.push_back(event);

  auto appended = (*store)->Append(*stream, sluice::ExpectedVersion::NoStream(), std::move(events));
  if (!appended.ok()) return Fail("append", appended.status());

  auto read = (*store)->ReadStream(*stream, 0, 10);
  if (!read.ok()) return Fail("read", read.status());
  if (read->size() != 1 || (*read)[0].type != event.type || (*read)[0].payload != event.payload ||
      (*read)[0].metadata.correlation_id != event.metadata.correlation_id ||
      (*read)[0].position != appended->first_position) {
    std::cerr << "consumer: read back something else than was appended\n";
    return 1;
  }
  std::cout << "consumer: appended and read back position " << (*read)[0].position << "\n";
  return 0;
}
