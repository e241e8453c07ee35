// Dead letters of a work queue: where command consumers and event subscribers park the messages
// they cannot handle, and the tools to look at them and put them back (`sluice amqp dlq`).
//
// For a work queue Q: a durable fanout exchange `Q.dlx` and a durable queue `Q.dlq` bound to it
// (both declared by the consumer when it starts, see DeclareDeadLetters). A dead letter is the
// original message (body, properties, message id, type, correlation id, headers) with these
// headers added:
//   x-sluice-reason       why it was parked (the error)
//   x-sluice-attempts     how many times handling was attempted (1 for malformed messages)
//   x-sluice-queue        Q, where requeue sends it back to
//   x-sluice-exchange     the exchange the message was first published to ("" = default)
//   x-sluice-routing-key  its original routing key
// Retried messages carry x-sluice-attempts (attempts so far) and x-sluice-last-error too.
//
// `sluice amqp dlq list` prints one JSON line per dead letter (ListDeadLetters) and no summary
// line; `sluice amqp dlq requeue` prints {"requeued":N} (RequeueDeadLetters).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "sluice/core/status.h"
#include "sluice/rabbitmq/amqp_message.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace sluice::rabbitmq {

inline constexpr const char* kReasonHeader = "x-sluice-reason";
inline constexpr const char* kAttemptsHeader = "x-sluice-attempts";
inline constexpr const char* kQueueHeader = "x-sluice-queue";
inline constexpr const char* kExchangeHeader = "x-sluice-exchange";
inline constexpr const char* kRoutingKeyHeader = "x-sluice-routing-key";
inline constexpr const char* kLastErrorHeader = "x-sluice-last-error";

// `Q.dlx` and `Q.dlq`.
std::string DeadLetterExchangeOf(const std::string& queue);
std::string DeadLetterQueueOf(const std::string& queue);
// The dead-letter queue named by `name`: `name` itself when it ends in `.dlq`, else `name.dlq`.
std::string ResolveDeadLetterQueue(const std::string& name);

// One parked message as the tools see it.
struct DeadLetter {
  AmqpMessage message;  // as parked, with the x-sluice-* headers
  std::string reason;
  int attempts = 0;
  std::string queue;  // the work queue it came from (x-sluice-queue, else the dlq's name
                      // without `.dlq`)
  std::string exchange;
  std::string routing_key;
};

// A parked delivery as a DeadLetter; `dead_letter_queue` names the queue it was read from.
DeadLetter DeadLetterOf(const AmqpMessage& message, const std::string& dead_letter_queue);

// Calls `visit` with every dead letter of `queue` (a work queue or its `.dlq`), oldest first,
// without removing any: each is read with basic.get and no ack, and all are put back (nack with
// requeue) once every one was read, so none is seen twice. NotFound if the dead-letter queue does
// not exist; Unavailable if the broker cannot be reached (within `connect_timeout_ms`).
// Returns how many were listed.
Result<std::uint64_t> ListDeadLetters(const AmqpUrl& url, const std::string& queue,
                                      const std::function<void(const DeadLetter&)>& visit,
                                      int connect_timeout_ms = 5000);

// Publishes each dead letter of `queue` (at most as many as it held at the start, so messages
// that fail again meanwhile are not looped over) back to its work queue through the default
// exchange, without the x-sluice-* headers (attempts start again at 0), with publisher confirms;
// each dead letter is acknowledged (removed) only after its copy was confirmed. NotFound if the
// dead-letter queue does not exist, or (the letter stays parked) if its work queue does not.
// Returns how many were requeued.
Result<std::uint64_t> RequeueDeadLetters(const AmqpUrl& url, const std::string& queue,
                                         int connect_timeout_ms = 5000);

}  // namespace sluice::rabbitmq
