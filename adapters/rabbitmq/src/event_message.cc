#include "sluice/rabbitmq/event_message.h"

#include <charconv>

#include "sluice/core/event_type_registry.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"

namespace sluice::rabbitmq {
namespace {

constexpr std::string_view kMetaPrefix = "sluice-meta-";

template <typename T>
std::optional<T> Number(const std::map<std::string, std::string>& headers, const char* name) {
  const auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  T value{};
  const std::string& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Status Bad(const AmqpMessage& message, const std::string& why) {
  const std::string id = message.message_id.empty() ? "(no id)" : message.message_id.substr(0, 64);
  return Status::InvalidArgument("message " + id + " is not an event: " + why);
}

}  // namespace

std::string DefaultRoutingKey(const RecordedEvent& event) {
  return std::string(CategoryOf(event.stream)) + "." + event.type;
}

AmqpMessage EventToMessage(const RecordedEvent& event) {
  AmqpMessage message;
  message.body = event.payload;
  message.content_type =
      event.content_type == ContentType::kJson ? kJsonContentType : kBinaryContentType;
  message.message_id = event.event_id;
  message.type = event.type;
  message.correlation_id = event.metadata.correlation_id;
  message.timestamp = event.recorded_at_us / 1'000'000;
  message.persistent = true;
  message.headers["sluice-stream"] = event.stream;
  message.headers["sluice-version"] = std::to_string(event.version);
  message.headers["sluice-position"] = std::to_string(event.position);
  message.headers["sluice-recorded-at-us"] = std::to_string(event.recorded_at_us);
  if (!event.metadata.causation_id.empty()) {
    message.headers["sluice-causation-id"] = event.metadata.causation_id;
  }
  for (const auto& [key, value] : event.metadata.extra) {
    message.headers[std::string(kMetaPrefix) + key] = value;
  }
  return message;
}

Result<InboundEvent> MessageToEvent(const AmqpMessage& message) {
  if (message.message_id.empty()) return Bad(message, "no message id");
  if (!ParseUuid(message.message_id)) return Bad(message, "the message id is not a UUID");
  if (Status s = ValidateEventTypeName(message.type); !s.ok()) {
    return Bad(message, "bad type: " + s.message());
  }
  InboundEvent event;
  if (message.content_type == kJsonContentType) {
    event.data.content_type = ContentType::kJson;
  } else if (message.content_type == kBinaryContentType) {
    event.data.content_type = ContentType::kBinary;
  } else {
    return Bad(message, "unknown content type '" + message.content_type.substr(0, 64) + "'");
  }
  const auto stream = message.headers.find("sluice-stream");
  if (stream == message.headers.end()) return Bad(message, "no sluice-stream header");
  if (Status s = StreamId::Validate(stream->second); !s.ok()) {
    return Bad(message, "bad stream: " + s.message());
  }
  event.stream = stream->second;
  const std::optional<StreamVersion> version =
      Number<StreamVersion>(message.headers, "sluice-version");
  if (!version) return Bad(message, "no numeric sluice-version header");
  event.version = *version;
  event.source_position = Number<GlobalPosition>(message.headers, "sluice-position").value_or(0);
  event.recorded_at_us = Number<std::int64_t>(message.headers, "sluice-recorded-at-us").value_or(0);
  event.data.event_id = message.message_id;
  event.data.type = message.type;
  event.data.payload = message.body;
  event.data.metadata.correlation_id = message.correlation_id;
  if (const auto it = message.headers.find("sluice-causation-id"); it != message.headers.end()) {
    event.data.metadata.causation_id = it->second;
  }
  for (const auto& [key, value] : message.headers) {
    if (key.size() > kMetaPrefix.size() && key.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0) {
      event.data.metadata.extra[key.substr(kMetaPrefix.size())] = value;
    }
  }
  return event;
}

}  // namespace sluice::rabbitmq
