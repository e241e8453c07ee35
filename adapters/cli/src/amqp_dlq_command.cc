// `sluice amqp dlq list|requeue --amqp URL --queue NAME`: the dead letters of a work queue
// (sluice/rabbitmq/dead_letters.h). NAME is the work queue (its dead letters are in NAME.dlq) or
// NAME.dlq itself.
//
// list: one JSON line per dead letter, oldest first, and nothing else (no summary line; an empty
// queue prints nothing): {"message_id","type","reason","attempts","queue","exchange",
// "routing_key","correlation_id","content_type","timestamp","headers",("body"|"body_base64")}.
// The body is shown as text when it is valid UTF-8, else base64. Nothing is removed.
// requeue: publishes each dead letter to its work queue again (attempts start over), removing it
// once the broker confirmed the copy; prints {"requeued":N}.
// Exit codes: 2 for a bad URL or queue name, 1 when the broker cannot be reached or the queue does
// not exist.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "commands.h"
#include "exit_codes.h"
#include "output.h"
#include "sluice/core/base64.h"
#include "sluice/rabbitmq/amqp_url.h"
#include "sluice/rabbitmq/dead_letters.h"

namespace sluice::cli {
namespace {

bool IsUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      code = (code << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && code < 0x10000) || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

nlohmann::ordered_json LetterToJson(const rabbitmq::DeadLetter& letter) {
  const rabbitmq::AmqpMessage& m = letter.message;
  nlohmann::ordered_json out;
  out["message_id"] = m.message_id;
  out["type"] = m.type;
  out["reason"] = letter.reason;
  out["attempts"] = letter.attempts;
  out["queue"] = letter.queue;
  out["exchange"] = letter.exchange;
  out["routing_key"] = letter.routing_key;
  out["correlation_id"] = m.correlation_id;
  out["content_type"] = m.content_type;
  out["timestamp"] = m.timestamp;
  nlohmann::ordered_json headers = nlohmann::ordered_json::object();
  for (const auto& [key, value] : m.headers) headers[key] = value;
  out["headers"] = std::move(headers);
  if (IsUtf8(m.body)) {
    out["body"] = m.body;
  } else {
    out["body_base64"] = Base64Encode(m.body);
  }
  return out;
}

}  // namespace

int RunAmqpDlq(AmqpDlqAction action, const AmqpDlqFlags& flags) {
  Result<rabbitmq::AmqpUrl> url = rabbitmq::ParseAmqpUrl(flags.amqp);
  if (!url.ok()) {
    PrintError("--amqp", url.status());
    return kExitUsage;
  }
  if (flags.queue.empty() || flags.queue == ".dlq") {
    PrintError("--queue must name a queue");
    return kExitUsage;
  }
  if (action == AmqpDlqAction::kList) {
    Result<std::uint64_t> listed = rabbitmq::ListDeadLetters(
        *url, flags.queue,
        [](const rabbitmq::DeadLetter& letter) { PrintJsonLine(LetterToJson(letter), true); });
    if (!listed.ok()) {
      PrintError("dlq list", listed.status());
      return kExitFailure;
    }
    return FinishOutput() ? kExitOk : kExitFailure;
  }
  Result<std::uint64_t> requeued = rabbitmq::RequeueDeadLetters(*url, flags.queue);
  if (!requeued.ok()) {
    PrintError("dlq requeue", requeued.status());
    return kExitFailure;
  }
  nlohmann::ordered_json summary;
  summary["requeued"] = *requeued;
  PrintJsonLine(summary, true);
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
