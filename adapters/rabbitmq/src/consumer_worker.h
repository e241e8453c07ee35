// What command consumers and event subscribers share: consuming one work queue with acks after
// handling, retries (republish with x-sluice-attempts + 1, confirmed, then ack) and dead letters
// (publish to Q.dlx, confirmed, then ack), reconnecting after a lost connection.
//
// Two connections: one consumes and acks; the other publishes retries and dead letters with
// confirms (waiting for confirms on a consuming channel would swallow deliveries).
//
// Thread safety: one thread runs it; counters may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "amqp_connection.h"
#include "sluice/core/status.h"
#include "sluice/rabbitmq/amqp_message.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace sluice::rabbitmq::detail {

// What became of one delivery.
struct Verdict {
  enum class Kind : std::uint8_t { kDone, kDuplicate, kRetry, kDeadLetter };
  Kind kind = Kind::kDone;
  std::string reason;  // kRetry, kDeadLetter

  static Verdict Done() { return {Kind::kDone, {}}; }
  static Verdict Duplicate() { return {Kind::kDuplicate, {}}; }
  static Verdict Retry(std::string why) { return {Kind::kRetry, std::move(why)}; }
  static Verdict DeadLetter(std::string why) { return {Kind::kDeadLetter, std::move(why)}; }
};

struct WorkerOptions {
  std::string queue;
  std::string connection_name = "sluice-consumer";
  std::uint16_t prefetch = 10;
  int max_attempts = 5;
  std::chrono::milliseconds retry_backoff{50};
  std::chrono::milliseconds max_backoff{1000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds confirm_timeout{10000};
  // How long without a delivery before `until_empty` looks at the queue's message count.
  std::chrono::milliseconds idle{300};
  // Declarations after the work queue's (exchanges, bindings), on the consuming connection.
  std::function<Status(AmqpConnection&)> declare;
};

struct WorkerCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> retried{0};
  std::atomic<std::uint64_t> dead_lettered{0};
};

// The attempt a delivery is: x-sluice-attempts (attempts made before) + 1.
int AttemptOf(const AmqpMessage& message);

// Declares `queue` (durable; an existing one with other arguments is used as it is), Q.dlx and
// Q.dlq bound to it.
Status DeclareWorkQueue(AmqpConnection& conn, const std::string& queue);
Status DeclareDeadLetters(AmqpConnection& conn, const std::string& queue);

class QueueWorker {
 public:
  // `handle(delivery, attempt)` decides each delivery.
  using Handler = std::function<Verdict(const AmqpDelivery&, int attempt)>;

  QueueWorker(AmqpUrl url, WorkerOptions options, Handler handle);
  ~QueueWorker();

  // Connects both connections, declares, sets the prefetch and starts consuming. Unavailable
  // when the broker cannot be reached; InvalidArgument for a refused login.
  Status Start();

  // Handles at most one delivery, waiting up to `timeout`; false if none came. Starts first if
  // not connected.
  Result<bool> PollOnce(std::chrono::milliseconds timeout);

  // Handles deliveries until `*stop` (may be null), or with `until_empty` until no delivery came
  // for options.idle and the queue holds no ready message. A lost connection is reopened with
  // backoff (unacked deliveries come again: handlers are idempotent); the error is returned when
  // the first Start fails, or with `until_empty` when reconnecting fails.
  Status Run(const std::atomic<bool>* stop, bool until_empty);

  const WorkerCounters& counters() const { return counters_; }
  const WorkerOptions& options() const { return options_; }

 private:
  Status Handle(const AmqpDelivery& delivery);
  // Publishes `message` with confirms on the publishing connection; NotFound-like Unavailable if
  // the broker returned it as unroutable.
  Status PublishConfirmed(const std::string& exchange, const std::string& routing_key,
                          const AmqpMessage& message);
  void Close();

  AmqpUrl url_;
  WorkerOptions options_;
  Handler handle_;
  std::unique_ptr<AmqpConnection> consumer_;
  std::unique_ptr<AmqpConnection> publisher_;
  WorkerCounters counters_;
};

}  // namespace sluice::rabbitmq::detail
