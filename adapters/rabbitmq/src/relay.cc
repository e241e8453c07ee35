#include "sluice/rabbitmq/relay.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "amqp_connection.h"
#include "relay_checkpoint.h"
#include "sluice/rabbitmq/event_message.h"

namespace sluice::rabbitmq {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// AMQP short strings (routing keys) hold at most 255 bytes.
constexpr std::size_t kMaxRoutingKey = 255;

std::string CutRoutingKey(std::string key) {
  if (key.size() <= kMaxRoutingKey) return key;
  std::size_t n = kMaxRoutingKey;
  // Back to the first byte of a UTF-8 character.
  while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
  key.resize(n);
  return key;
}

}  // namespace

std::string_view RelayStateName(RelayState state) {
  switch (state) {
    case RelayState::kConnecting:
      return "connecting";
    case RelayState::kPublishing:
      return "publishing";
    case RelayState::kCaughtUp:
      return "caught_up";
    case RelayState::kReconnecting:
      return "reconnecting";
    case RelayState::kStopped:
      return "stopped";
    case RelayState::kFailed:
      return "failed";
  }
  return "unknown";
}

Status ValidateExchangeName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("the exchange name is empty");
  if (name.size() > 255) {
    return Status::InvalidArgument("the exchange name is longer than 255 bytes");
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) {
      return Status::InvalidArgument("bad exchange name '" + std::string(name) +
                                     "': only letters, digits, '-', '_', '.' and ':' are allowed");
    }
  }
  if (name.substr(0, 4) == "amq.") {
    return Status::InvalidArgument("bad exchange name '" + std::string(name) +
                                   "': names starting with 'amq.' are reserved by the broker");
  }
  return Status::Ok();
}

class Relay::Impl {
 public:
  Impl(EventStore& store, RelayOptions options, GlobalPosition checkpoint)
      : store_(store),
        options_(std::move(options)),
        broker_(options_.url.Redacted()),
        checkpoint_(checkpoint) {}

  ~Impl() { Stop(); }

  void Start() {
    commits_ = store_.OnCommitted([this](GlobalPosition) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        notified_ = true;
      }
      wake_.notify_all();
    });
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() {
    std::lock_guard<std::mutex> join_lock(join_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_requested_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    commits_.disconnect();
  }

  RelayReport Report() const {
    RelayReport report;
    report.head = store_.HeadPosition();
    std::lock_guard<std::mutex> lock(mu_);
    report.state = state_;
    report.broker = broker_;
    report.exchange = options_.exchange;
    report.checkpoint = checkpoint_;
    report.lag = report.head > checkpoint_ ? report.head - checkpoint_ : 0;
    report.published = published_;
    report.reconnects = reconnects_;
    report.last_error = last_error_;
    return report;
  }

  Status WaitFor(GlobalPosition position, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    progress_.wait_for(lock, timeout, [&] {
      return checkpoint_ >= position || state_ == RelayState::kFailed ||
             state_ == RelayState::kStopped;
    });
    if (checkpoint_ >= position) return Status::Ok();
    if (state_ == RelayState::kFailed) return failure_;
    if (state_ == RelayState::kStopped) {
      return Status::Unavailable("the relay stopped at position " + std::to_string(checkpoint_) +
                                 " before reaching " + std::to_string(position));
    }
    return Status::Unavailable("timed out waiting for the relay to reach position " +
                               std::to_string(position) + " (checkpoint " +
                               std::to_string(checkpoint_) + ")");
  }

 private:
  // Owned by the relay's thread.
  struct Loop {
    std::unique_ptr<detail::AmqpConnection> conn;
    GlobalPosition checkpoint = 0;  // the relay thread's copy of checkpoint_ (saved)
    GlobalPosition confirmed = 0;   // confirmed by the broker; >= checkpoint
    bool connected_once = false;
    milliseconds backoff{0};
    std::optional<steady_clock::time_point> failing_since;
    std::vector<RecordedEvent> events;
  };

  void Run() {
    Loop loop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      loop.checkpoint = checkpoint_;
    }
    loop.confirmed = loop.checkpoint;
    loop.backoff = options_.initial_backoff;
    while (!StopRequested()) {
      if (loop.conn == nullptr) {
        SetState(loop.connected_once || loop.failing_since ? RelayState::kReconnecting
                                                           : RelayState::kConnecting);
        bool fatal = false;
        Status connected = Connect(&loop, &fatal);
        if (fatal) return Fail(connected);
        if (!connected.ok()) {
          if (!Retry(connected, &loop)) return Finish();
          continue;
        }
      }
      const GlobalPosition head = store_.HeadPosition();
      if (loop.confirmed >= head) {
        if (Status saved = SaveCheckpoint(&loop); !saved.ok()) {
          if (!Retry(saved, &loop)) return Finish();
          continue;
        }
        SetState(RelayState::kCaughtUp);
        loop.failing_since.reset();
        loop.backoff = options_.initial_backoff;
        WaitForCommit();
        continue;
      }
      SetState(RelayState::kPublishing);
      if (Status read = store_.ReadAllInto(loop.confirmed + 1, options_.batch_size, &loop.events);
          !read.ok()) {
        read = read.WithContext("cannot read the store's log after position " +
                                std::to_string(loop.confirmed));
        if (read.code() != StatusCode::kUnavailable) return Fail(read);
        if (!Retry(read, &loop)) return Finish();
        continue;
      }
      if (loop.events.empty()) {
        WaitForCommit();
        continue;
      }
      // Publish this batch; while the broker takes it, checkpoint the batch confirmed before
      // (so the checkpoint's fsyncs overlap the broker's work); then wait for this batch's
      // confirms.
      Result<std::uint64_t> last_tag = PublishBatch(&loop);
      Status done = last_tag.status();
      if (done.ok()) done = SaveCheckpoint(&loop);
      if (done.ok()) done = AwaitConfirms(&loop, *last_tag);
      if (!done.ok()) {
        loop.conn.reset();  // start again after the last confirmed event, on a new connection
        if (!Retry(done, &loop)) return Finish();
        continue;
      }
      loop.confirmed = loop.events.back().position;
      {
        std::lock_guard<std::mutex> lock(mu_);
        published_ += loop.events.size();
      }
      loop.failing_since.reset();
      loop.backoff = options_.initial_backoff;
    }
    // What the broker confirmed is kept, so a restart publishes less again.
    SaveCheckpoint(&loop).PermitUncheckedError();
    Finish();
  }

  // Opens the connection, enables confirms, declares the exchange. `fatal` for failures a retry
  // cannot mend (the exchange exists with another type, access refused).
  Status Connect(Loop* loop, bool* fatal) {
    Result<std::unique_ptr<detail::AmqpConnection>> conn = detail::AmqpConnection::Open(
        options_.url, options_.connection_name, options_.connect_timeout);
    if (!conn.ok()) return conn.status();
    if (Status s = (*conn)->EnableConfirms(); !s.ok()) return s;
    if (Status s = (*conn)->DeclareExchange(options_.exchange, "topic", /*durable=*/true);
        !s.ok()) {
      *fatal = s.code() == StatusCode::kInvalidArgument;
      return s.WithContext("cannot declare the relay's exchange '" + options_.exchange + "'");
    }
    loop->conn = std::move(conn).value();
    if (loop->connected_once) {
      std::lock_guard<std::mutex> lock(mu_);
      ++reconnects_;
    }
    loop->connected_once = true;
    return Status::Ok();
  }

  // Publishes loop->events pipelined; returns the delivery tag of the last.
  Result<std::uint64_t> PublishBatch(Loop* loop) {
    detail::AmqpConnection& conn = *loop->conn;
    std::uint64_t last_tag = 0;
    for (const RecordedEvent& event : loop->events) {
      const AmqpMessage message = EventToMessage(event);
      std::string key =
          options_.routing_key ? options_.routing_key(event) : DefaultRoutingKey(event);
      Result<std::uint64_t> tag =
          conn.Publish(options_.exchange, CutRoutingKey(std::move(key)), message);
      if (!tag.ok()) return tag.status();
      last_tag = *tag;
    }
    return last_tag;
  }

  // Waits until the broker confirmed every publish up to `last_tag`; an error if it nacked one.
  Status AwaitConfirms(Loop* loop, std::uint64_t last_tag) {
    detail::AmqpConnection& conn = *loop->conn;
    // In slices, so Stop is not held up by a slow broker.
    const auto deadline = steady_clock::now() + options_.confirm_timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
      Status s =
          conn.WaitForConfirms(last_tag, std::clamp(left, milliseconds(1), milliseconds(200)));
      if (s.ok() || conn.broken() || conn.confirmed() >= last_tag) return s;
      if (StopRequested()) return Status::Unavailable("stopped while waiting for confirms");
      if (steady_clock::now() >= deadline) return s;
    }
  }

  // Writes the checkpoint file for what the broker confirmed, if it is ahead of it.
  Status SaveCheckpoint(Loop* loop) {
    if (loop->confirmed <= loop->checkpoint) return Status::Ok();
    SLUICE_RETURN_IF_ERROR(detail::SaveRelayCheckpoint(options_.checkpoint_path, loop->confirmed)
                               .WithContext("cannot save the relay checkpoint"));
    loop->checkpoint = loop->confirmed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      checkpoint_ = loop->checkpoint;
    }
    progress_.notify_all();
    return Status::Ok();
  }

  // Records a retryable failure and waits the backoff. False when the relay should end: stop
  // requested, or failing for longer than give_up_after (then it has failed).
  bool Retry(const Status& error, Loop* loop) {
    const auto now = steady_clock::now();
    if (!loop->failing_since) loop->failing_since = now;
    if (options_.give_up_after.count() > 0 &&
        now - *loop->failing_since >= options_.give_up_after) {
      Fail(error.WithContext("gave up after " + std::to_string(options_.give_up_after.count()) +
                             " ms of failures"));
      return false;
    }
    SetState(RelayState::kReconnecting, error.message(), /*always_report=*/true);
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, loop->backoff, [this] { return stop_requested_; });
      if (stop_requested_) return false;
    }
    loop->backoff = std::min(loop->backoff * 2, options_.max_backoff);
    return true;
  }

  void WaitForCommit() {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, options_.idle_check_interval,
                   [this] { return notified_ || stop_requested_; });
    notified_ = false;
  }

  bool StopRequested() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_requested_;
  }

  void SetState(RelayState state, std::optional<std::string> error = std::nullopt,
                bool always_report = false) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (state_ == RelayState::kFailed) return;
      const bool same = state_ == state && (!error || *error == last_error_);
      if (same && !always_report) return;
      state_ = state;
      if (error) last_error_ = std::move(*error);
    }
    progress_.notify_all();
    if (options_.on_state_change) options_.on_state_change(Report());
  }

  void Fail(const Status& error) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      failure_ = error;
      last_error_ = error.message();
      state_ = RelayState::kFailed;
    }
    progress_.notify_all();
    if (options_.on_state_change) options_.on_state_change(Report());
  }

  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (state_ == RelayState::kFailed) return;
    }
    SetState(RelayState::kStopped);
  }

  EventStore& store_;
  const RelayOptions options_;
  const std::string broker_;
  boost::signals2::scoped_connection commits_;
  std::thread thread_;
  std::mutex join_mu_;  // one Stop joins at a time

  mutable std::mutex mu_;
  std::condition_variable wake_;                // commit notices and Stop, for the relay's thread
  std::condition_variable progress_;            // checkpoint and state changes, for WaitFor
  bool stop_requested_ = false;                 // GUARDED_BY(mu_)
  bool notified_ = false;                       // GUARDED_BY(mu_): a commit since the last wait
  RelayState state_ = RelayState::kConnecting;  // GUARDED_BY(mu_)
  GlobalPosition checkpoint_;                   // GUARDED_BY(mu_)
  std::uint64_t published_ = 0;                 // GUARDED_BY(mu_)
  std::uint64_t reconnects_ = 0;                // GUARDED_BY(mu_)
  std::string last_error_;                      // GUARDED_BY(mu_)
  Status failure_;                              // GUARDED_BY(mu_)
};

Result<std::unique_ptr<Relay>> Relay::Start(EventStore& store, RelayOptions options) {
  SLUICE_RETURN_IF_ERROR(ValidateExchangeName(options.exchange));
  if (options.checkpoint_path.empty()) {
    return Status::InvalidArgument("the relay needs a checkpoint file");
  }
  if (options.batch_size == 0) return Status::InvalidArgument("batch_size must be at least 1");
  if (options.initial_backoff.count() < 1 || options.max_backoff < options.initial_backoff) {
    return Status::InvalidArgument("the backoff must be at least 1 ms and max >= initial");
  }
  if (options.idle_check_interval.count() < 1 || options.confirm_timeout.count() < 1 ||
      options.connect_timeout.count() < 1 || options.give_up_after.count() < 0) {
    return Status::InvalidArgument("relay timeouts must be positive");
  }
  Result<GlobalPosition> checkpoint = detail::LoadRelayCheckpoint(options.checkpoint_path);
  if (!checkpoint.ok()) return checkpoint.status();
  const GlobalPosition head = store.HeadPosition();
  if (*checkpoint > head) {
    return Status::InvalidArgument(
        "the relay checkpoint '" + options.checkpoint_path + "' is at position " +
        std::to_string(*checkpoint) + ", beyond the store's head " + std::to_string(head) +
        ": it belongs to another store (remove it to publish the whole log)");
  }
  auto impl = std::make_unique<Impl>(store, std::move(options), *checkpoint);
  impl->Start();
  return std::unique_ptr<Relay>(new Relay(std::move(impl)));
}

Relay::Relay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Relay::~Relay() = default;
void Relay::Stop() { impl_->Stop(); }
RelayReport Relay::Report() const { return impl_->Report(); }
Status Relay::WaitFor(GlobalPosition position, std::chrono::milliseconds timeout) {
  return impl_->WaitFor(position, timeout);
}

}  // namespace sluice::rabbitmq
