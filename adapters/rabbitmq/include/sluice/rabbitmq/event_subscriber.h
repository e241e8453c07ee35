// A downstream copy of another service's events: consumes what that service's relay published to
// its topic exchange (messages made by EventToMessage, event_message.h) from a durable queue bound
// to the exchange, and appends each event to a local EventStore under the same stream name, stream
// version and event id.
//
//   EventSubscriber subscriber(url, store, {.exchange = "orders", .queue = "billing.orders"});
//   Status s = subscriber.Run(&stop_flag);
//
// Per message (acknowledged only after the append returned, and after a synced append by
// default):
//   - not an event as EventToMessage makes them (MessageToEvent fails)  -> dead letter, reason
//   - its event id is already in the store at the same stream and version -> duplicate, ack
//   - its event id is already in the store elsewhere                   -> dead letter (conflict)
//   - local head == version - 1  -> append with exactly that expected version (idempotent by id)
//   - local head >= version (another event holds that version)         -> dead letter (conflict)
//   - local head <  version - 1 (a gap: an earlier event has not arrived yet) -> retried: published
//     to the queue again with x-sluice-attempts + 1 after a backoff, so an earlier event that was
//     itself retried can land first; after max_attempts it is dead-lettered ("gap: ...").
//     Requeueing the missing event's dead letter and then this one repairs the stream.
//   - store errors: Unavailable, IOError and a lost version race are retried the same way;
//     others are dead-lettered.
// Dead letters go to `queue.dlx` / `queue.dlq` (dead_letters.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace sluice::rabbitmq {

struct EventSubscriberOptions {
  // The relay's topic exchange (declared durable topic if missing). Required.
  std::string exchange;
  // This subscriber's durable queue (declared and bound if missing). Required.
  std::string queue;
  // Binding keys of the queue to the exchange. Default {"#"}: every event.
  std::vector<std::string> bindings = {"#"};
  // Unacknowledged messages the broker sends ahead. Default 50.
  std::uint16_t prefetch = 50;
  // Attempts for retried messages (gaps, transient store errors) before dead-lettering. Default 5.
  int max_attempts = 5;
  // Pause before a retry: retry_backoff * 2^(attempt-1), at most max_backoff. Default 50 ms / 1 s.
  std::chrono::milliseconds retry_backoff{50};
  std::chrono::milliseconds max_backoff{1000};
  std::chrono::milliseconds connect_timeout{5000};
  // With Run(until_empty): the time without deliveries after which the queue's message count is
  // checked. Default 300 ms.
  std::chrono::milliseconds idle{300};
  // Synced appends (durable before the ack). Default true.
  bool sync = true;
  std::string connection_name = "sluice-subscriber";
};

struct EventSubscriberStats {
  std::uint64_t received = 0;
  std::uint64_t appended = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t retried = 0;
  std::uint64_t dead_lettered = 0;
};

// Thread safety: Start/Run/PollOnce from one thread; stats() from any.
class EventSubscriber {
 public:
  // `store` must outlive the subscriber.
  EventSubscriber(AmqpUrl url, EventStore& store, EventSubscriberOptions options);
  ~EventSubscriber();
  EventSubscriber(const EventSubscriber&) = delete;
  EventSubscriber& operator=(const EventSubscriber&) = delete;

  // Connects, declares the exchange, the queue, its bindings and dead letters, starts consuming.
  // Unavailable if the broker cannot be reached; InvalidArgument for a refused login or a
  // declaration that clashes with an existing one.
  Status Start();
  // Handles at most one message, waiting up to `timeout`; false if none came.
  Result<bool> PollOnce(std::chrono::milliseconds timeout);
  // Handles messages until `*stop` becomes true (may be null), or with `until_empty` until no
  // message came for options.idle and the queue has no ready message. Reconnects after a lost
  // connection; returns an error if the first Start fails, or with `until_empty` if reconnecting
  // fails (draining cannot end without the broker).
  Status Run(const std::atomic<bool>* stop, bool until_empty = false);

  EventSubscriberStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::rabbitmq
