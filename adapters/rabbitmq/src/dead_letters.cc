#include "sluice/rabbitmq/dead_letters.h"

#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "amqp_connection.h"

namespace sluice::rabbitmq {
namespace {

constexpr std::string_view kDlqSuffix = ".dlq";

bool EndsWith(const std::string& text, std::string_view suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Header(const AmqpMessage& message, const char* name) {
  const auto it = message.headers.find(name);
  return it == message.headers.end() ? std::string() : it->second;
}

Result<std::unique_ptr<detail::AmqpConnection>> OpenFor(const AmqpUrl& url, const char* name,
                                                        int connect_timeout_ms) {
  return detail::AmqpConnection::Open(url, name, std::chrono::milliseconds(connect_timeout_ms));
}

// The message count of the dead-letter queue; NotFound with a clear message when it is missing.
Result<std::uint32_t> CheckQueue(detail::AmqpConnection& conn, const std::string& dlq) {
  Result<std::uint32_t> count = conn.DeclareQueue(dlq, {}, /*passive=*/true);
  if (!count.ok() && count.status().IsNotFound()) {
    return Status::NotFound("dead-letter queue '" + dlq + "' does not exist on " +
                            conn.url().Redacted());
  }
  return count;
}

}  // namespace

std::string DeadLetterExchangeOf(const std::string& queue) { return queue + ".dlx"; }
std::string DeadLetterQueueOf(const std::string& queue) { return queue + ".dlq"; }

std::string ResolveDeadLetterQueue(const std::string& name) {
  return EndsWith(name, kDlqSuffix) ? name : DeadLetterQueueOf(name);
}

DeadLetter DeadLetterOf(const AmqpMessage& message, const std::string& dead_letter_queue) {
  DeadLetter letter;
  letter.message = message;
  letter.reason = Header(message, kReasonHeader);
  const std::string attempts = Header(message, kAttemptsHeader);
  int parsed = 0;
  const auto [end, ec] =
      std::from_chars(attempts.data(), attempts.data() + attempts.size(), parsed);
  if (ec == std::errc() && end == attempts.data() + attempts.size()) letter.attempts = parsed;
  letter.queue = Header(message, kQueueHeader);
  if (letter.queue.empty()) {
    letter.queue = EndsWith(dead_letter_queue, kDlqSuffix)
                       ? dead_letter_queue.substr(0, dead_letter_queue.size() - kDlqSuffix.size())
                       : dead_letter_queue;
  }
  letter.exchange = Header(message, kExchangeHeader);
  letter.routing_key = Header(message, kRoutingKeyHeader);
  return letter;
}

Result<std::uint64_t> ListDeadLetters(const AmqpUrl& url, const std::string& queue,
                                      const std::function<void(const DeadLetter&)>& visit,
                                      int connect_timeout_ms) {
  const std::string dlq = ResolveDeadLetterQueue(queue);
  Result<std::unique_ptr<detail::AmqpConnection>> conn =
      OpenFor(url, "sluice-dlq-list", connect_timeout_ms);
  if (!conn.ok()) return conn.status();
  Result<std::uint32_t> count = CheckQueue(**conn, dlq);
  if (!count.ok()) return count.status();
  // Every message read stays unacknowledged on this channel until the end, so the broker cannot
  // hand any of them out again to this listing.
  std::uint64_t listed = 0;
  std::uint64_t last_tag = 0;
  Status failed;
  for (;;) {
    Result<std::optional<AmqpDelivery>> got = (*conn)->Get(dlq);
    if (!got.ok()) {
      failed = got.status();
      break;
    }
    if (!got->has_value()) break;
    last_tag = (**got).delivery_tag;
    visit(DeadLetterOf((**got).message, dlq));
    ++listed;
  }
  if (last_tag != 0 && !(*conn)->broken()) {
    // Closing the connection would requeue them as well; the nack does it at once.
    Status nacked = (*conn)->Nack(last_tag, /*requeue=*/true, /*multiple=*/true);
    if (failed.ok()) failed = nacked;
  }
  if (!failed.ok()) return failed;
  return listed;
}

Result<std::uint64_t> RequeueDeadLetters(const AmqpUrl& url, const std::string& queue,
                                         int connect_timeout_ms) {
  const std::string dlq = ResolveDeadLetterQueue(queue);
  Result<std::unique_ptr<detail::AmqpConnection>> conn =
      OpenFor(url, "sluice-dlq-requeue", connect_timeout_ms);
  if (!conn.ok()) return conn.status();
  Result<std::uint32_t> count = CheckQueue(**conn, dlq);
  if (!count.ok()) return count.status();
  SLUICE_RETURN_IF_ERROR((*conn)->EnableConfirms());
  std::uint64_t requeued = 0;
  for (std::uint32_t i = 0; i < *count; ++i) {
    Result<std::optional<AmqpDelivery>> got = (*conn)->Get(dlq);
    if (!got.ok()) return got.status();
    if (!got->has_value()) break;
    const AmqpDelivery& delivery = **got;
    const DeadLetter letter = DeadLetterOf(delivery.message, dlq);
    AmqpMessage message = delivery.message;
    for (const char* header : {kReasonHeader, kAttemptsHeader, kQueueHeader, kExchangeHeader,
                               kRoutingKeyHeader, kLastErrorHeader}) {
      message.headers.erase(header);
    }
    const std::uint64_t returned_before = (*conn)->returned();
    Result<std::uint64_t> tag = (*conn)->Publish("", letter.queue, message, /*mandatory=*/true);
    Status confirmed =
        tag.ok() ? (*conn)->WaitForConfirms(*tag, std::chrono::seconds(10)) : tag.status();
    if (confirmed.ok() && (*conn)->returned() != returned_before) {
      confirmed = Status::NotFound("queue '" + letter.queue + "' does not exist on " +
                                   url.Redacted() + "; the dead letter stays in '" + dlq + "'");
    }
    if (!confirmed.ok()) {
      if (!(*conn)->broken()) {
        (*conn)->Nack(delivery.delivery_tag, /*requeue=*/true).PermitUncheckedError();
      }
      return confirmed.WithContext("after requeuing " + std::to_string(requeued));
    }
    SLUICE_RETURN_IF_ERROR((*conn)->Ack(delivery.delivery_tag));
    ++requeued;
  }
  return requeued;
}

}  // namespace sluice::rabbitmq
