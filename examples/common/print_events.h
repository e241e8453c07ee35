// PrintStream: reads a stream back from an event store and prints each event decoded through the
// EventTypeRegistry, i.e. as the C++ struct the aggregate sees, not as stored bytes.
#pragma once

#include <cereal/archives/json.hpp>
#include <cstddef>
#include <iostream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/event_store.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"

namespace example {

// The fields of an event struct as one line of JSON, written by its cereal serialize().
template <typename T>
std::string FieldsAsJson(const T& value) {
  std::ostringstream out;
  {
    cereal::JSONOutputArchive archive(out, cereal::JSONOutputArchive::Options::NoIndent());
    // cereal's serialize() is one non-const member for both directions; saving does not modify.
    const_cast<T&>(value).serialize(archive);
  }
  std::string line;
  for (char c : out.str()) {
    // cereal puts each field on a line of its own; JSON strings never hold a raw newline.
    if (c != '\n') {
      line.push_back(c);
    } else if (!line.empty() && line.back() == ',') {
      line.push_back(' ');
    }
  }
  return line;
}

// Prints every event of `stream_name`, oldest first: version, global position, type name and the
// fields of the event decoded as the std::variant `Event`. With `with_metadata`, also the
// correlation id, causation id and extra key/values each event carries.
// Returns the first error: NotFound if the stream does not exist, InvalidArgument or Corruption if
// an event cannot be decoded as `Event`.
template <typename Event>
sluice::Status PrintStream(sluice::EventStore& store, const sluice::EventTypeRegistry& registry,
                           const std::string& stream_name, bool with_metadata = false) {
  sluice::Result<sluice::StreamId> stream = sluice::StreamId::Make(stream_name);
  if (!stream.ok()) return stream.status();
  std::cout << "  " << stream_name << ":\n";
  constexpr std::size_t kPage = 100;
  for (sluice::StreamVersion from = 0;;) {
    sluice::Result<std::vector<sluice::RecordedEvent>> page =
        store.ReadStream(*stream, from, kPage);
    if (!page.ok()) return page.status();
    for (const sluice::RecordedEvent& recorded : *page) {
      sluice::Result<Event> event = registry.DecodeVariant<Event>(recorded);
      if (!event.ok()) return event.status();
      const std::string fields = std::visit([](const auto& e) { return FieldsAsJson(e); }, *event);
      std::cout << "    v" << recorded.version << "  #" << recorded.position << "  "
                << recorded.type << "  " << fields << "\n";
      if (with_metadata) {
        std::cout << "        correlation " << recorded.metadata.correlation_id << "\n"
                  << "        causation   " << recorded.metadata.causation_id << "\n";
        for (const auto& [key, value] : recorded.metadata.extra) {
          std::cout << "        " << key << ": " << value << "\n";
        }
      }
      from = recorded.version + 1;
    }
    if (page->size() < kPage) return sluice::Status::Ok();
  }
}

}  // namespace example
