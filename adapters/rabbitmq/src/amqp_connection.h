// One AMQP 0-9-1 connection with one channel, through rabbitmq-c: what the relay, the consumers
// and the tools need, every failure a Status (never an exception, never a hang: connect, login
// and every RPC have timeouts).
//
// Statuses: Unavailable for a broker that cannot be reached, a lost connection or a timeout
// (retry, with a new connection once broken() is true); NotFound for a missing queue or exchange
// (404); InvalidArgument for a refused login, access refused (403) or a declaration that clashes
// with an existing one (406). Messages name the broker by its redacted URL.
//
// A channel error (404, 406, ...) closes the channel on the broker; the connection opens it again
// at once (with confirms again if they were on), so the object stays usable; delivery tags of
// publishes start again at 1 then.
//
// Thread safety: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sluice/core/status.h"
#include "sluice/rabbitmq/amqp_message.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace sluice::rabbitmq::detail {

struct QueueOptions {
  bool durable = true;
  bool exclusive = false;
  bool auto_delete = false;
  // Text arguments, e.g. x-dead-letter-exchange.
  std::map<std::string, std::string> arguments;
};

class AmqpConnection {
 public:
  // Connects (TCP within `timeout`), logs in, opens channel 1. `name` is shown in the broker's
  // connection list (client property connection_name).
  static Result<std::unique_ptr<AmqpConnection>> Open(
      const AmqpUrl& url, std::string name = "sluice",
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~AmqpConnection();
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  // True once the connection is lost: every call then fails; open a new one.
  bool broken() const { return broken_; }
  const AmqpUrl& url() const { return url_; }

  Status DeclareExchange(const std::string& name, const std::string& type = "topic",
                         bool durable = true);
  // Declares `name` (or checks it exists with `passive`); returns its message count.
  Result<std::uint32_t> DeclareQueue(const std::string& name, const QueueOptions& options = {},
                                     bool passive = false);
  Status BindQueue(const std::string& queue, const std::string& exchange,
                   const std::string& routing_key);
  Status DeleteQueue(const std::string& name);
  Status DeleteExchange(const std::string& name);
  Status PurgeQueue(const std::string& name);

  // Publisher confirms on this channel (confirm.select).
  Status EnableConfirms();
  // Publishes one message; with confirms on, returns its delivery tag (1, 2, ...; see
  // WaitForConfirms), else 0. A publish is not known to have reached the broker until confirmed.
  Result<std::uint64_t> Publish(const std::string& exchange, const std::string& routing_key,
                                const AmqpMessage& message, bool mandatory = false);
  // Waits until every publish with a delivery tag <= `tag` is confirmed. Unavailable if the broker
  // nacked one (it could not take it) or on timeout. A mandatory message the broker could not
  // route is returned and then acked: it counts as confirmed, and returned() counts it.
  Status WaitForConfirms(std::uint64_t tag, std::chrono::milliseconds timeout);
  // The highest delivery tag confirmed so far (all below it too).
  std::uint64_t confirmed() const { return confirmed_; }
  std::uint64_t returned() const { return returned_; }

  // At most `prefetch` unacknowledged deliveries to this channel's consumers.
  Status Qos(std::uint16_t prefetch);
  // Starts consuming `queue` (acknowledgements required); returns the consumer tag.
  Result<std::string> Consume(const std::string& queue, bool exclusive = false);
  Status Cancel(const std::string& consumer_tag);
  // The next delivery for this connection's consumers, or nullopt when none came within
  // `timeout`. Unavailable if the consumer was cancelled by the broker (queue deleted).
  Result<std::optional<AmqpDelivery>> Next(std::chrono::milliseconds timeout);
  // One message from `queue` without a consumer (basic.get), or nullopt when it is empty.
  Result<std::optional<AmqpDelivery>> Get(const std::string& queue);

  Status Ack(std::uint64_t delivery_tag, bool multiple = false);
  // basic.nack: back to the queue (requeue) or dropped / dead-lettered by the broker.
  Status Nack(std::uint64_t delivery_tag, bool requeue, bool multiple = false);

 private:
  struct State;
  explicit AmqpConnection(AmqpUrl url);

  Status OpenChannel();
  // The Status of the last RPC's reply (amqp_get_rpc_reply), handling a closed channel or
  // connection; `what` names the operation.
  Status Reply(const char* what);
  Status ChannelClosed(int code, const std::string& text, const char* what);
  Status Library(int error, const char* what);
  Status Broken(const std::string& why);
  // Handles one frame that is not a delivery (confirms, returns, closes) while waiting.
  Status HandleFrame(const void* frame, const char* what);

  AmqpUrl url_;
  std::unique_ptr<State> state_;
  bool broken_ = false;
  bool confirms_ = false;
  std::uint64_t next_tag_ = 1;
  std::uint64_t confirmed_ = 0;
  std::uint64_t returned_ = 0;
  std::string nacked_;  // why the broker nacked a publish, until WaitForConfirms reports it
  bool cancelled_ = false;
};

}  // namespace sluice::rabbitmq::detail
