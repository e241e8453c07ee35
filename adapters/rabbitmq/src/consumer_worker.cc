#include "consumer_worker.h"

#include <algorithm>
#include <charconv>
#include <thread>
#include <utility>

#include "sluice/rabbitmq/dead_letters.h"

namespace sluice::rabbitmq::detail {

int AttemptOf(const AmqpMessage& message) {
  const auto it = message.headers.find(kAttemptsHeader);
  if (it == message.headers.end()) return 1;
  int before = 0;
  const char* first = it->second.data();
  const char* last = first + it->second.size();
  const auto [end, ec] = std::from_chars(first, last, before);
  if (ec != std::errc() || end != last || before < 0) return 1;
  return before >= 1'000'000 ? before : before + 1;
}

Status DeclareWorkQueue(AmqpConnection& conn, const std::string& queue) {
  Result<std::uint32_t> declared = conn.DeclareQueue(queue);
  if (declared.ok()) return Status::Ok();
  // 406: the queue exists with other arguments (e.g. its own x-dead-letter-exchange): use it.
  if (declared.status().code() == StatusCode::kInvalidArgument && !conn.broken()) {
    Result<std::uint32_t> existing = conn.DeclareQueue(queue, {}, /*passive=*/true);
    if (existing.ok()) return Status::Ok();
  }
  return declared.status();
}

Status DeclareDeadLetters(AmqpConnection& conn, const std::string& queue) {
  const std::string exchange = DeadLetterExchangeOf(queue);
  const std::string dlq = DeadLetterQueueOf(queue);
  SLUICE_RETURN_IF_ERROR(conn.DeclareExchange(exchange, "fanout", true));
  SLUICE_RETURN_IF_ERROR(DeclareWorkQueue(conn, dlq));
  return conn.BindQueue(dlq, exchange, "");
}

QueueWorker::QueueWorker(AmqpUrl url, WorkerOptions options, Handler handle)
    : url_(std::move(url)), options_(std::move(options)), handle_(std::move(handle)) {}

QueueWorker::~QueueWorker() = default;

void QueueWorker::Close() {
  consumer_.reset();
  publisher_.reset();
}

Status QueueWorker::Start() {
  Close();
  if (options_.queue.empty()) return Status::InvalidArgument("no queue name");
  Result<std::unique_ptr<AmqpConnection>> consumer =
      AmqpConnection::Open(url_, options_.connection_name, options_.connect_timeout);
  if (!consumer.ok()) return consumer.status();
  Result<std::unique_ptr<AmqpConnection>> publisher =
      AmqpConnection::Open(url_, options_.connection_name + "-publisher", options_.connect_timeout);
  if (!publisher.ok()) return publisher.status();
  AmqpConnection& conn = **consumer;
  SLUICE_RETURN_IF_ERROR(DeclareWorkQueue(conn, options_.queue));
  SLUICE_RETURN_IF_ERROR(DeclareDeadLetters(conn, options_.queue));
  if (options_.declare) SLUICE_RETURN_IF_ERROR(options_.declare(conn));
  SLUICE_RETURN_IF_ERROR((*publisher)->EnableConfirms());
  SLUICE_RETURN_IF_ERROR(conn.Qos(options_.prefetch == 0 ? 1 : options_.prefetch));
  Result<std::string> tag = conn.Consume(options_.queue);
  if (!tag.ok()) return tag.status();
  consumer_ = std::move(*consumer);
  publisher_ = std::move(*publisher);
  return Status::Ok();
}

Status QueueWorker::PublishConfirmed(const std::string& exchange, const std::string& routing_key,
                                     const AmqpMessage& message) {
  const std::uint64_t returned_before = publisher_->returned();
  Result<std::uint64_t> tag = publisher_->Publish(exchange, routing_key, message, true);
  if (!tag.ok()) return tag.status();
  SLUICE_RETURN_IF_ERROR(publisher_->WaitForConfirms(*tag, options_.confirm_timeout));
  if (publisher_->returned() != returned_before) {
    return Status::Unavailable("the broker could not route the message to '" +
                               (exchange.empty() ? routing_key : exchange) + "'");
  }
  return Status::Ok();
}

Status QueueWorker::Handle(const AmqpDelivery& delivery) {
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  const int attempt = AttemptOf(delivery.message);
  Verdict verdict = handle_(delivery, attempt);
  if (verdict.kind == Verdict::Kind::kDone || verdict.kind == Verdict::Kind::kDuplicate) {
    SLUICE_RETURN_IF_ERROR(consumer_->Ack(delivery.delivery_tag));
    (verdict.kind == Verdict::Kind::kDone ? counters_.done : counters_.duplicates)
        .fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }

  AmqpMessage copy = delivery.message;
  // Where the message first came from, kept across retries (which go through the default
  // exchange).
  if (copy.headers.find(kExchangeHeader) == copy.headers.end()) {
    copy.headers[kExchangeHeader] = delivery.exchange;
    copy.headers[kRoutingKeyHeader] = delivery.routing_key;
  }
  copy.headers[kAttemptsHeader] = std::to_string(attempt);
  const int max_attempts = std::max(1, options_.max_attempts);
  Status published;
  if (verdict.kind == Verdict::Kind::kRetry && attempt < max_attempts) {
    auto backoff = options_.retry_backoff * (1 << std::min(attempt - 1, 10));
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(backoff, options_.max_backoff));
    copy.headers[kLastErrorHeader] = verdict.reason;
    published = PublishConfirmed("", options_.queue, copy);
    if (published.ok()) counters_.retried.fetch_add(1, std::memory_order_relaxed);
  } else {
    copy.headers[kReasonHeader] =
        verdict.kind == Verdict::Kind::kRetry
            ? "gave up after " + std::to_string(attempt) + " attempts: " + verdict.reason
            : verdict.reason;
    copy.headers[kQueueHeader] = options_.queue;
    copy.headers.erase(kLastErrorHeader);
    published = PublishConfirmed(DeadLetterExchangeOf(options_.queue),
                                 copy.headers[kRoutingKeyHeader], copy);
    if (published.ok()) counters_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
  }
  if (!published.ok()) {
    // Not parked nor retried: leave it to the broker to deliver again, after a pause.
    if (!consumer_->broken()) {
      consumer_->Nack(delivery.delivery_tag, true).PermitUncheckedError();
    }
    std::this_thread::sleep_for(options_.max_backoff);
    return published;
  }
  return consumer_->Ack(delivery.delivery_tag);
}

Result<bool> QueueWorker::PollOnce(std::chrono::milliseconds timeout) {
  if (consumer_ == nullptr || publisher_ == nullptr) SLUICE_RETURN_IF_ERROR(Start());
  Result<std::optional<AmqpDelivery>> next = consumer_->Next(timeout);
  if (!next.ok()) return next.status();
  if (!next->has_value()) return false;
  SLUICE_RETURN_IF_ERROR(Handle(**next));
  return true;
}

Status QueueWorker::Run(const std::atomic<bool>* stop, bool until_empty) {
  auto stopped = [&] { return stop != nullptr && stop->load(); };
  if (consumer_ == nullptr) SLUICE_RETURN_IF_ERROR(Start());
  auto reconnect_pause = std::chrono::milliseconds(100);
  while (!stopped()) {
    if (consumer_ == nullptr) {
      if (Status s = Start(); !s.ok()) {
        // Draining to empty must end: without a broker it cannot, so it reports why.
        if (until_empty) return s;
        std::this_thread::sleep_for(reconnect_pause);
        reconnect_pause = std::min(reconnect_pause * 2, std::chrono::milliseconds(5000));
        continue;
      }
      reconnect_pause = std::chrono::milliseconds(100);
    }
    Result<bool> handled = PollOnce(until_empty ? options_.idle : std::chrono::milliseconds(200));
    if (!handled.ok()) {
      if (consumer_->broken() || publisher_->broken() ||
          handled.status().code() == StatusCode::kUnavailable) {
        Close();  // unacked deliveries go back to the queue
      }
      continue;
    }
    if (*handled || !until_empty) continue;
    Result<std::uint32_t> ready = consumer_->DeclareQueue(options_.queue, {}, /*passive=*/true);
    if (ready.ok() && *ready == 0) break;
    if (!ready.ok()) Close();
  }
  Close();
  return Status::Ok();
}

}  // namespace sluice::rabbitmq::detail
