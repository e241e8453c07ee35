// Events: what a writer appends (EventData) and what a reader gets back (RecordedEvent).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "sluice/core/version.h"

namespace sluice {

// How the payload bytes are encoded.
enum class ContentType : std::uint8_t {
  kBinary = 0,  // cereal portable binary
  kJson = 1,    // UTF-8 JSON text
};

// Tracing across messages: correlation is copied along a chain, causation names the direct cause.
struct Metadata {
  std::string correlation_id;
  std::string causation_id;
  std::map<std::string, std::string> extra;  // free key/values

  friend bool operator==(const Metadata&, const Metadata&) = default;
};

// An event to append. `event_id` is a UUID in text form; leave it empty to have the store generate
// one. Appending the same ids again is idempotent (see EventStore::Append).
struct EventData {
  std::string event_id;
  std::string type;  // versioned type name, e.g. "bank.MoneyDeposited.v1"
  ContentType content_type = ContentType::kBinary;
  std::string payload;
  Metadata metadata;

  friend bool operator==(const EventData&, const EventData&) = default;
};

// An event as stored.
struct RecordedEvent {
  std::string stream;
  StreamVersion version = 0;
  GlobalPosition position = 0;
  std::string event_id;
  std::string type;
  ContentType content_type = ContentType::kBinary;
  std::string payload;
  Metadata metadata;
  std::int64_t recorded_at_us = 0;  // microseconds since the Unix epoch, set by the store

  friend bool operator==(const RecordedEvent&, const RecordedEvent&) = default;
};

}  // namespace sluice
