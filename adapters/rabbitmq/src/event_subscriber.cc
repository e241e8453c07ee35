#include "sluice/rabbitmq/event_subscriber.h"

#include <utility>

#include "amqp_connection.h"
#include "consumer_worker.h"
#include "sluice/rabbitmq/event_message.h"

namespace sluice::rabbitmq {

using detail::Verdict;

namespace {

bool IsTransient(const Status& status) {
  return status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kIOError ||
         status.code() == StatusCode::kWrongExpectedVersion;
}

std::string Describe(const InboundEvent& e) {
  return "event " + e.data.event_id + " (" + e.data.type + ") at version " +
         std::to_string(e.version) + " of stream '" + e.stream + "'";
}

}  // namespace

struct EventSubscriber::State {
  EventStore& store;
  bool sync = true;
  std::unique_ptr<detail::QueueWorker> worker;

  explicit State(EventStore& s) : store(s) {}

  Verdict Handle(const AmqpDelivery& delivery) {
    Result<InboundEvent> inbound = MessageToEvent(delivery.message);
    if (!inbound.ok()) return Verdict::DeadLetter("malformed: " + inbound.status().message());
    InboundEvent& e = *inbound;
    Result<StreamId> stream = StreamId::Make(e.stream);
    if (!stream.ok()) return Verdict::DeadLetter("malformed: " + stream.status().message());

    Result<std::optional<EventLocation>> found = store.FindEvent(e.data.event_id);
    if (!found.ok()) {
      const std::string why = "cannot look up " + Describe(e) + ": " + found.status().ToString();
      return IsTransient(found.status()) ? Verdict::Retry(why) : Verdict::DeadLetter(why);
    }
    if (found->has_value()) {
      if ((*found)->stream == e.stream && (*found)->version == e.version) {
        return Verdict::Duplicate();
      }
      return Verdict::DeadLetter("conflict: " + Describe(e) + " is already stored at version " +
                                 std::to_string((*found)->version) + " of stream '" +
                                 (*found)->stream + "'");
    }

    Result<StreamVersion> head = store.StreamHead(*stream);
    if (!head.ok()) {
      const std::string why =
          "cannot read the head of '" + e.stream + "': " + head.status().ToString();
      return IsTransient(head.status()) ? Verdict::Retry(why) : Verdict::DeadLetter(why);
    }
    if (*head >= e.version) {
      return Verdict::DeadLetter(
          "conflict: the local stream already holds another event at the "
          "version of " +
          Describe(e) + " (local head " + std::to_string(*head) + ")");
    }
    if (*head < e.version - 1) {
      return Verdict::Retry("gap: " + Describe(e) + " arrived while the local stream is at " +
                            (*head == kNoStream ? std::string("no version (it does not exist)")
                                                : "version " + std::to_string(*head)) +
                            "; the events between are missing");
    }
    const std::string what = Describe(e);
    std::vector<EventData> events;
    events.push_back(std::move(e.data));
    Result<AppendResult> appended = store.Append(*stream, ExpectedVersion::Exact(*head),
                                                 std::move(events), AppendOptions{sync});
    if (appended.ok()) return appended->repeated ? Verdict::Duplicate() : Verdict::Done();
    const std::string why = "cannot append " + what + ": " + appended.status().ToString();
    return IsTransient(appended.status()) ? Verdict::Retry(why) : Verdict::DeadLetter(why);
  }
};

EventSubscriber::EventSubscriber(AmqpUrl url, EventStore& store, EventSubscriberOptions options)
    : state_(std::make_unique<State>(store)) {
  state_->sync = options.sync;
  detail::WorkerOptions w;
  w.queue = options.queue;
  w.connection_name = options.connection_name;
  w.prefetch = options.prefetch;
  w.max_attempts = options.max_attempts;
  w.retry_backoff = options.retry_backoff;
  w.max_backoff = options.max_backoff;
  w.connect_timeout = options.connect_timeout;
  w.idle = options.idle;
  std::vector<std::string> bindings = options.bindings;
  if (bindings.empty()) bindings.push_back("#");
  w.declare = [exchange = options.exchange, queue = options.queue,
               bindings](detail::AmqpConnection& conn) -> Status {
    if (exchange.empty()) return Status::InvalidArgument("no exchange name");
    SLUICE_RETURN_IF_ERROR(conn.DeclareExchange(exchange, "topic", true));
    for (const std::string& key : bindings) {
      SLUICE_RETURN_IF_ERROR(conn.BindQueue(queue, exchange, key));
    }
    return Status::Ok();
  };
  State* state = state_.get();
  state_->worker = std::make_unique<detail::QueueWorker>(
      std::move(url), std::move(w),
      [state](const AmqpDelivery& delivery, int) { return state->Handle(delivery); });
}

EventSubscriber::~EventSubscriber() = default;

Status EventSubscriber::Start() { return state_->worker->Start(); }

Result<bool> EventSubscriber::PollOnce(std::chrono::milliseconds timeout) {
  return state_->worker->PollOnce(timeout);
}

Status EventSubscriber::Run(const std::atomic<bool>* stop, bool until_empty) {
  return state_->worker->Run(stop, until_empty);
}

EventSubscriberStats EventSubscriber::stats() const {
  const detail::WorkerCounters& c = state_->worker->counters();
  EventSubscriberStats s;
  s.received = c.received.load();
  s.appended = c.done.load();
  s.duplicates = c.duplicates.load();
  s.retried = c.retried.load();
  s.dead_lettered = c.dead_lettered.load();
  return s;
}

}  // namespace sluice::rabbitmq
