// Relay: publishes every committed event of an EventStore's global log to a RabbitMQ topic
// exchange, as a checkpointed consumer of the log, with publisher confirms.
//
// Delivery is at least once and nothing is lost across crashes of the relay or the broker: a
// batch of events is published pipelined (every publish, then one wait for the confirm of the
// last), and only after the broker confirmed all of them is the checkpoint advanced and written
// durably to its file (while the next batch is on its way). After a lost connection or a nack the
// relay publishes again everything after the last confirmed event, after a crash everything after
// the checkpoint, so an unconfirmed tail may be published twice: receivers deduplicate by message
// id (= event id). One channel publishes in log order, so order per stream is kept (per exchange
// and queue, as RabbitMQ delivers it).
//
//   RelayOptions options;
//   options.url = *ParseAmqpUrl("amqp://guest:guest@127.0.0.1:5672/");
//   options.exchange = "orders.events";
//   options.checkpoint_path = store_dir + "/relay/orders.events.checkpoint";
//   Result<std::unique_ptr<Relay>> relay = Relay::Start(store, options);
//   ...
//   (*relay)->WaitFor(store.HeadPosition(), std::chrono::seconds(10));
//
// Broker outages: reconnects with exponential backoff (capped) and resumes from the checkpoint;
// Report() says what it is doing. Live following: once caught up the relay waits for the store's
// commit notice (EventStore::OnCommitted), with a slow periodic check as a safety net (a follower
// store, RocksEventStore::OpenFollower, fires the notice as it catches up with its writer).
//
// Messages: EventToMessage (event_message.h), persistent; routing key `<category>.<type>`
// (DefaultRoutingKey) unless RelayOptions::routing_key says otherwise. Credentials never appear
// in reports or errors (AmqpUrl::Redacted).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/core/event.h"
#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace sluice::rabbitmq {

enum class RelayState : std::uint8_t {
  kConnecting,    // opening the first connection
  kPublishing,    // behind the head: publishing and waiting for confirms
  kCaughtUp,      // everything committed is confirmed; waiting for the next commit
  kReconnecting,  // a connection failed (or the broker nacked): waiting to retry, or retrying
  kStopped,       // stopped by Stop()
  kFailed,        // stopped by an error it cannot retry (see last_error and WaitFor)
};

// "connecting", "publishing", "caught_up", "reconnecting", "stopped", "failed".
std::string_view RelayStateName(RelayState state);

// What the relay is doing, for status pages and tools.
struct RelayReport {
  RelayState state = RelayState::kConnecting;
  std::string broker;             // the redacted URL
  std::string exchange;           // as configured
  GlobalPosition checkpoint = 0;  // every event at or below it is confirmed and checkpointed
  GlobalPosition head = 0;        // the store's head position
  std::uint64_t lag = 0;          // head - checkpoint (0 if the head is behind)
  std::uint64_t published = 0;    // messages confirmed by the broker since Start (re-sends too)
  std::uint64_t reconnects = 0;   // connections opened after the first one
  std::string last_error;         // the latest failure ("" if none yet); never a password
};

struct RelayOptions {
  AmqpUrl url;           // the broker
  std::string exchange;  // topic exchange, declared durable if missing (ValidateExchangeName)
  // The checkpoint file (required). Written as `<path>.tmp` then renamed; its folder is created.
  std::string checkpoint_path;
  // Routing key of each event; empty: DefaultRoutingKey. Keys longer than 255 bytes (the AMQP
  // limit) are cut at a UTF-8 character boundary.
  std::function<std::string(const RecordedEvent&)> routing_key;
  // Events published before waiting for their confirms (and then checkpointing). Default 512:
  // larger batches publish faster but re-publish more after a failure.
  std::size_t batch_size = 512;
  std::chrono::milliseconds connect_timeout{5000};
  // How long a batch's confirms may take before the connection is dropped and the batch
  // published again. Default 30 s.
  std::chrono::milliseconds confirm_timeout{30'000};
  // Delay before reconnecting after a failure, doubled each time up to max_backoff.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // 0 (default): retry for ever. Otherwise, when the broker could not be reached (or kept
  // failing) for this long in a row, the relay stops in state kFailed with the last error: for
  // tools that must not hang on an unreachable broker.
  std::chrono::milliseconds give_up_after{0};
  // While caught up, the store's head is also checked this often in case a commit notice was
  // missed. Default 1 s.
  std::chrono::milliseconds idle_check_interval{1000};
  // Shown in the broker's connection list.
  std::string connection_name = "sluice-relay";
  // Called on the relay's thread after each change of state or of last_error, with the report.
  // Keep it short; never call the relay's Stop from it.
  std::function<void(const RelayReport&)> on_state_change;
};

// InvalidArgument naming the problem unless `name` is 1-255 bytes of letters, digits, '-', '_',
// '.' and ':' and does not start with "amq." (reserved by the broker).
Status ValidateExchangeName(std::string_view name);

class Relay {
 public:
  // Loads the checkpoint and starts the relay's thread, which connects in the background (so
  // Start does not fail for an unreachable broker: see give_up_after). `store` must outlive the
  // relay. InvalidArgument for bad options, or a checkpoint beyond the store's head (a checkpoint
  // of another store); Corruption for a damaged checkpoint file; IOError if it cannot be read.
  static Result<std::unique_ptr<Relay>> Start(EventStore& store, RelayOptions options);

  // Stops (see Stop).
  ~Relay();

  // Stops publishing and joins the thread; a batch not yet confirmed is left to be published
  // again by the next run. Idempotent; safe from any thread but the relay's own.
  void Stop();

  // Thread safe.
  RelayReport Report() const;

  // Blocks until every event at or below `position` is confirmed and checkpointed. Unavailable
  // when `timeout` passes first; the error that stopped the relay if it failed; Unavailable if it
  // was stopped.
  Status WaitFor(GlobalPosition position, std::chrono::milliseconds timeout);

  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  class Impl;

 private:
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::rabbitmq
