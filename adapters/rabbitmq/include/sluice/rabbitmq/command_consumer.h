// Commands between services over RabbitMQ (point-to-point): a CommandSender publishes a command as
// a JSON message to a queue; CommandConsumers (competing: several processes may share one queue)
// decode each message by its AMQP `type` through CommandRoutes and dispatch it to a CommandBus.
//
//   CommandRoutes routes;
//   routes.Add<ReserveStock>("shop.ReserveStock");          // JSON body -> ReserveStock (cereal)
//   CommandConsumer consumer(url, bus, routes, {.queue = "stock-commands"});
//   Status s = consumer.Run(&stop_flag);
//
// Delivery contract:
//   - CommandMetadata.command_id = the message id, correlation_id = the message's correlation id,
//     causation_id = header `x-sluice-causation-id`, headers = the other `x-sluice-meta-<key>`
//     headers. With AggregateService (event ids derived from the command id) a redelivered
//     message is a no-op (CommandResult::duplicate).
//   - A message is acknowledged only after Dispatch returned, i.e. after the handler's synced
//     append.
//   - Transient failures (Unavailable, WrongExpectedVersion, IOError, NotFound: the stream may be
//     created by a command still on its way) are retried: the message is published to the queue
//     again with x-sluice-attempts + 1 (confirmed), after a short backoff, then the original is
//     acked. After max_attempts the message is dead-lettered with the last error.
//   - Malformed messages (no message id, unknown type, a body that does not decode) and Rejected
//     or InvalidArgument commands go straight to the dead letters (dead_letters.h) with the reason.
// The consumer never throws; a handler that throws becomes InvalidArgument (CommandBus).
//
// Commands are encoded as JSON with cereal's JSON archive, by the command's member
// `template <class Ar> void serialize(Ar&)` (as the EventTypeRegistry does for JSON events).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "sluice/core/command.h"
#include "sluice/core/command_bus.h"
#include "sluice/core/event_type_registry.h"
#include "sluice/core/status.h"
#include "sluice/rabbitmq/amqp_message.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace sluice::rabbitmq {

inline constexpr const char* kCausationHeader = "x-sluice-causation-id";
inline constexpr const char* kCommandMetaPrefix = "x-sluice-meta-";

// The JSON text of `command` (EncodeJsonFields); InvalidArgument if cereal fails.
template <typename C>
Result<std::string> EncodeCommandJson(const C& command) {
  Result<std::string> json = EncodeJsonFields(command);
  if (!json.ok()) return json.status().WithContext("cannot encode the command as JSON");
  return json;
}

// `json` as a C (DecodeJsonFields); InvalidArgument (naming the error) if it does not decode.
template <typename C>
Result<C> DecodeCommandJson(std::string_view json) {
  Result<C> command = DecodeJsonFields<C>(json);
  if (!command.ok()) return command.status().WithContext("the body does not decode");
  return command;
}

// Message type name -> how to decode the body and dispatch the command. Fill it at start-up;
// then read-only (safe from any thread).
class CommandRoutes {
 public:
  // Decodes a body and returns the dispatch of the decoded command.
  using Dispatch = std::function<Result<CommandResult>(CommandBus&, CommandMetadata)>;
  using Decoder = std::function<Result<Dispatch>(std::string_view body)>;

  // Messages of `type` carry a C as JSON. InvalidArgument if `type` is empty or taken.
  template <typename C>
  Status Add(const std::string& type) {
    return AddDecoder(type, [](std::string_view body) -> Result<Dispatch> {
      Result<C> command = DecodeCommandJson<C>(body);
      if (!command.ok()) return command.status();
      return Dispatch([c = std::move(*command)](CommandBus& bus, CommandMetadata metadata) {
        return bus.Dispatch(c, std::move(metadata));
      });
    });
  }
  Status AddDecoder(const std::string& type, Decoder decoder);

  // The decoder of `type`, or null.
  const Decoder* Find(const std::string& type) const;

 private:
  std::map<std::string, Decoder> decoders_;
};

// The message a command travels as: JSON body, message id = metadata.command_id (a new UUID if
// empty), type = `type`, correlation id (= the command id if empty), causation id and headers as
// x-sluice-causation-id and x-sluice-meta-<key> headers.
Result<AmqpMessage> CommandMessage(const std::string& type, std::string json_body,
                                   CommandMetadata metadata);

// Publishes commands to queues through the default exchange, with publisher confirms: Send
// returns OK once the broker has the message (persistent). Unavailable if the broker cannot be
// reached or did not confirm (the next Send reconnects); NotFound if the queue does not exist.
// Thread safety: one thread at a time.
class CommandSender {
 public:
  explicit CommandSender(AmqpUrl url, std::string connection_name = "sluice-command-sender");
  ~CommandSender();
  CommandSender(const CommandSender&) = delete;
  CommandSender& operator=(const CommandSender&) = delete;

  template <typename C>
  Status Send(const std::string& queue, const std::string& type, const C& command,
              CommandMetadata metadata = {}) {
    Result<std::string> body = EncodeCommandJson(command);
    if (!body.ok()) return body.status();
    Result<AmqpMessage> message = CommandMessage(type, std::move(*body), std::move(metadata));
    if (!message.ok()) return message.status();
    return SendMessage(queue, *message);
  }
  Status SendMessage(const std::string& queue, const AmqpMessage& message);

 private:
  struct State;
  AmqpUrl url_;
  std::string name_;
  std::unique_ptr<State> state_;
};

struct CommandConsumerOptions {
  // The work queue (declared durable if missing), with `queue.dlx` and `queue.dlq`. Required.
  std::string queue;
  // Unacknowledged messages the broker sends ahead to this consumer. Default 10. Lower spreads
  // work more evenly over competing consumers; higher hides network latency.
  std::uint16_t prefetch = 10;
  // Handling attempts of a transiently failing command before it is dead-lettered. Default 5.
  int max_attempts = 5;
  // Pause before a retry: retry_backoff * 2^(attempt-1), at most max_backoff. Default 50 ms / 1 s.
  std::chrono::milliseconds retry_backoff{50};
  std::chrono::milliseconds max_backoff{1000};
  // TCP connect and login timeout. Default 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // Shown in the broker's connection list.
  std::string connection_name = "sluice-command-consumer";
};

struct CommandConsumerStats {
  std::uint64_t received = 0;
  std::uint64_t handled = 0;     // dispatched and acked (duplicates included)
  std::uint64_t duplicates = 0;  // the command id had been handled before
  std::uint64_t retried = 0;
  std::uint64_t dead_lettered = 0;
};

// Thread safety: Start/Run/PollOnce from one thread; stats() from any.
class CommandConsumer {
 public:
  // `bus` and `routes` must outlive the consumer.
  CommandConsumer(AmqpUrl url, CommandBus& bus, const CommandRoutes& routes,
                  CommandConsumerOptions options);
  ~CommandConsumer();
  CommandConsumer(const CommandConsumer&) = delete;
  CommandConsumer& operator=(const CommandConsumer&) = delete;

  // Connects, declares the queue and its dead letters, starts consuming. Unavailable when the
  // broker cannot be reached (within connect_timeout); InvalidArgument for a refused login.
  Status Start();
  // Handles at most one message, waiting up to `timeout`; false if none came. Starts first if
  // needed.
  Result<bool> PollOnce(std::chrono::milliseconds timeout);
  // Handles messages until `*stop` becomes true (checked at least every 200 ms), or with
  // `until_empty` until the queue has no ready message. Reconnects after a lost connection;
  // returns an error if the first Start fails, or with `until_empty` if reconnecting fails.
  Status Run(const std::atomic<bool>* stop, bool until_empty = false);

  CommandConsumerStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::rabbitmq
