// How a stored event travels as an AMQP message, both ways: the relay encodes each committed event
// with EventToMessage; subscribers decode with MessageToEvent.
//
//   body            the payload bytes, as stored
//   content_type    application/json (ContentType::kJson) or application/x-cereal-portable-binary
//   message_id      the event id (receivers deduplicate by it)
//   type            the event type name, e.g. bank.MoneyDeposited.v1
//   correlation_id  metadata.correlation_id
//   timestamp       the recorded time, in seconds
//   headers         sluice-stream, sluice-version, sluice-position, sluice-recorded-at-us,
//                   sluice-causation-id, and each metadata.extra key as sluice-meta-<key>
//
// The default routing key is `<category>.<type>` (category: the stream name before its first '-').
#pragma once

#include <optional>
#include <string>

#include "sluice/core/event.h"
#include "sluice/core/status.h"
#include "sluice/rabbitmq/amqp_message.h"

namespace sluice::rabbitmq {

inline constexpr const char* kJsonContentType = "application/json";
inline constexpr const char* kBinaryContentType = "application/x-cereal-portable-binary";

AmqpMessage EventToMessage(const RecordedEvent& event);

// `<category>.<type>`.
std::string DefaultRoutingKey(const RecordedEvent& event);

// An event received from another service: where it was, and what to append.
struct InboundEvent {
  std::string stream;
  StreamVersion version = 0;           // its version in the source stream
  GlobalPosition source_position = 0;  // its position in the source store's log
  EventData data;                      // event id, type, payload, content type, metadata
  std::int64_t recorded_at_us = 0;
};

// InvalidArgument, naming what is wrong, for a message that is not an event as EventToMessage
// makes them: no or non-UUID message id, a bad type name or stream, an unknown content type, a
// missing or non-numeric version. Such messages are dead-lettered, never appended.
Result<InboundEvent> MessageToEvent(const AmqpMessage& message);

}  // namespace sluice::rabbitmq
