// One AMQP message as Sluice publishes and consumes it: the body plus the properties events and
// commands travel with (message id = event or command id, type, correlation id, headers).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace sluice::rabbitmq {

struct AmqpMessage {
  std::string body;
  std::string content_type;  // e.g. application/json, application/octet-stream
  std::string message_id;    // event id or command id: what receivers deduplicate by
  std::string type;          // event or command type name
  std::string correlation_id;
  std::int64_t timestamp = 0;  // seconds since the epoch; 0: none
  bool persistent = true;      // delivery mode 2: kept on disk in durable queues
  // Headers with text values. Headers of other AMQP types arrive as text too (integers in
  // decimal, booleans as true/false); nested tables and arrays are left out.
  std::map<std::string, std::string> headers;
};

// A message as a consumer receives it.
struct AmqpDelivery {
  AmqpMessage message;
  std::string exchange;
  std::string routing_key;
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
};

}  // namespace sluice::rabbitmq
