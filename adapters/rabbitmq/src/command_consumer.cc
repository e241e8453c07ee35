#include "sluice/rabbitmq/command_consumer.h"

#include <chrono>
#include <ctime>
#include <utility>

#include "amqp_connection.h"
#include "consumer_worker.h"
#include "sluice/core/uuid.h"
#include "sluice/rabbitmq/event_message.h"

namespace sluice::rabbitmq {

using detail::Verdict;

Status CommandRoutes::AddDecoder(const std::string& type, Decoder decoder) {
  if (type.empty()) return Status::InvalidArgument("a command route needs a type name");
  if (!decoder) return Status::InvalidArgument("empty decoder for command type " + type);
  if (!decoders_.emplace(type, std::move(decoder)).second) {
    return Status::InvalidArgument("command type " + type + " is already routed");
  }
  return Status::Ok();
}

const CommandRoutes::Decoder* CommandRoutes::Find(const std::string& type) const {
  const auto it = decoders_.find(type);
  return it == decoders_.end() ? nullptr : &it->second;
}

Result<AmqpMessage> CommandMessage(const std::string& type, std::string json_body,
                                   CommandMetadata metadata) {
  if (type.empty()) return Status::InvalidArgument("a command message needs a type name");
  CompleteMetadata(&metadata);
  AmqpMessage message;
  message.body = std::move(json_body);
  message.content_type = kJsonContentType;
  message.message_id = metadata.command_id;
  message.type = type;
  message.correlation_id = metadata.correlation_id;
  message.timestamp = static_cast<std::int64_t>(std::time(nullptr));
  if (!metadata.causation_id.empty()) message.headers[kCausationHeader] = metadata.causation_id;
  for (const auto& [key, value] : metadata.headers) {
    message.headers[kCommandMetaPrefix + key] = value;
  }
  return message;
}

// ---------------------------------------------------------------------------------------------

struct CommandSender::State {
  std::unique_ptr<detail::AmqpConnection> conn;
};

CommandSender::CommandSender(AmqpUrl url, std::string connection_name)
    : url_(std::move(url)), name_(std::move(connection_name)), state_(std::make_unique<State>()) {}

CommandSender::~CommandSender() = default;

Status CommandSender::SendMessage(const std::string& queue, const AmqpMessage& message) {
  if (state_->conn == nullptr || state_->conn->broken()) {
    state_->conn.reset();
    Result<std::unique_ptr<detail::AmqpConnection>> conn =
        detail::AmqpConnection::Open(url_, name_);
    if (!conn.ok()) return conn.status();
    SLUICE_RETURN_IF_ERROR((*conn)->EnableConfirms());
    state_->conn = std::move(*conn);
  }
  detail::AmqpConnection& conn = *state_->conn;
  const std::uint64_t returned_before = conn.returned();
  Result<std::uint64_t> tag = conn.Publish("", queue, message, /*mandatory=*/true);
  if (!tag.ok()) return tag.status();
  SLUICE_RETURN_IF_ERROR(conn.WaitForConfirms(*tag, std::chrono::seconds(10)));
  if (conn.returned() != returned_before) {
    return Status::NotFound("queue '" + queue + "' does not exist on " + url_.Redacted() +
                            "; command " + message.message_id + " was not sent");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------

namespace {

bool IsTransient(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kWrongExpectedVersion:
    case StatusCode::kIOError:
    case StatusCode::kNotFound:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct CommandConsumer::State {
  CommandBus& bus;
  const CommandRoutes& routes;
  std::unique_ptr<detail::QueueWorker> worker;

  State(CommandBus& b, const CommandRoutes& r) : bus(b), routes(r) {}

  Verdict Handle(const AmqpDelivery& delivery) {
    const AmqpMessage& m = delivery.message;
    if (m.message_id.empty()) {
      return Verdict::DeadLetter("malformed: the message has no message id (the command id)");
    }
    const CommandRoutes::Decoder* decoder = routes.Find(m.type);
    if (decoder == nullptr) {
      return Verdict::DeadLetter("malformed: unknown command type '" + m.type + "'");
    }
    Result<CommandRoutes::Dispatch> dispatch = (*decoder)(m.body);
    if (!dispatch.ok()) {
      return Verdict::DeadLetter("malformed: " + m.type + ": " + dispatch.status().message());
    }
    CommandMetadata metadata;
    metadata.command_id = m.message_id;
    metadata.correlation_id = m.correlation_id;
    for (const auto& [key, value] : m.headers) {
      if (key == kCausationHeader) {
        metadata.causation_id = value;
      } else if (key.rfind(kCommandMetaPrefix, 0) == 0) {
        metadata.headers[key.substr(std::string_view(kCommandMetaPrefix).size())] = value;
      }
    }
    Result<CommandResult> result = (*dispatch)(bus, std::move(metadata));
    if (result.ok()) return result->duplicate ? Verdict::Duplicate() : Verdict::Done();
    const std::string why = m.type + " " + m.message_id + ": " + result.status().ToString();
    return IsTransient(result.status()) ? Verdict::Retry(why) : Verdict::DeadLetter(why);
  }
};

CommandConsumer::CommandConsumer(AmqpUrl url, CommandBus& bus, const CommandRoutes& routes,
                                 CommandConsumerOptions options)
    : state_(std::make_unique<State>(bus, routes)) {
  detail::WorkerOptions w;
  w.queue = options.queue;
  w.connection_name = options.connection_name;
  w.prefetch = options.prefetch;
  w.max_attempts = options.max_attempts;
  w.retry_backoff = options.retry_backoff;
  w.max_backoff = options.max_backoff;
  w.connect_timeout = options.connect_timeout;
  State* state = state_.get();
  state_->worker = std::make_unique<detail::QueueWorker>(
      std::move(url), std::move(w),
      [state](const AmqpDelivery& delivery, int) { return state->Handle(delivery); });
}

CommandConsumer::~CommandConsumer() = default;

Status CommandConsumer::Start() { return state_->worker->Start(); }

Result<bool> CommandConsumer::PollOnce(std::chrono::milliseconds timeout) {
  return state_->worker->PollOnce(timeout);
}

Status CommandConsumer::Run(const std::atomic<bool>* stop, bool until_empty) {
  return state_->worker->Run(stop, until_empty);
}

CommandConsumerStats CommandConsumer::stats() const {
  const detail::WorkerCounters& c = state_->worker->counters();
  CommandConsumerStats s;
  s.received = c.received.load();
  s.duplicates = c.duplicates.load();
  s.handled = c.done.load() + s.duplicates;
  s.retried = c.retried.load();
  s.dead_lettered = c.dead_lettered.load();
  return s;
}

}  // namespace sluice::rabbitmq
