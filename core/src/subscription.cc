#include "sluice/core/subscription.h"

#include <atomic>
#include <boost/signals2/connection.hpp>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "sluice/core/event_store.h"

namespace sluice {

// Owned jointly by the Subscription handle and its thread, so the thread can outlive a handle that
// is destroyed from inside the handler.
struct Subscription::State {
  EventStore* store = nullptr;
  EventHandler handler;
  SubscriptionOptions options;

  std::atomic<bool> stop{false};
  std::atomic<GlobalPosition> position{0};
  std::atomic<bool> live{false};

  std::mutex mu;
  std::condition_variable cv;
  GlobalPosition announced = 0;  // GUARDED_BY(mu): highest head position signalled
  Status status;                 // GUARDED_BY(mu)

  boost::signals2::scoped_connection connection;  // written before the thread starts
  std::atomic<std::thread::id> thread_id{};       // set by the thread itself before any delivery
  std::mutex join_mu;                             // serialises join/detach of `thread`
  std::thread thread;                             // GUARDED_BY(join_mu)

  void Fail(const Status& s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      status = s;
    }
    stop = true;
    if (options.on_error) options.on_error(s);
  }

  void Run() {
    thread_id = std::this_thread::get_id();
    GlobalPosition pos = position.load();
    std::vector<RecordedEvent> batch;  // reused page after page
    while (!stop.load()) {
      if (Status read = store->ReadAllInto(pos + 1, options.batch_size, &batch); !read.ok()) {
        Fail(read);
        return;
      }
      for (const RecordedEvent& e : batch) {
        if (stop.load()) return;
        // The parts of an upcast split share one position (upcasting_event_store.h).
        if (e.position != pos + 1 && !(e.position == pos && pos != 0)) {
          Fail(Status::Corruption("global log gap: expected position " + std::to_string(pos + 1) +
                                  ", read " + std::to_string(e.position)));
          return;
        }
        try {
          handler(e);
        } catch (const std::exception& ex) {
          Fail(Status::InvalidArgument("subscription handler failed at position " +
                                       std::to_string(e.position) + ": " + ex.what()));
          return;
        } catch (...) {
          Fail(Status::InvalidArgument("subscription handler failed at position " +
                                       std::to_string(e.position)));
          return;
        }
        pos = e.position;
        position.store(pos);
      }
      if (batch.size() >= options.batch_size) continue;
      if (!live.exchange(true) && options.on_live && !stop.load()) options.on_live();
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return stop.load() || announced > pos; });
    }
  }
};

std::unique_ptr<Subscription> Subscription::Start(EventStore& store, GlobalPosition checkpoint,
                                                  EventHandler handler,
                                                  SubscriptionOptions options) {
  auto state = std::make_shared<State>();
  state->store = &store;
  state->handler = std::move(handler);
  state->options = std::move(options);
  if (state->options.batch_size == 0) state->options.batch_size = 1;
  state->position = checkpoint;
  // Connect before the first read, so no commit between the read and the wait goes unnoticed.
  std::weak_ptr<State> weak = state;
  state->connection = store.OnCommitted([weak](GlobalPosition head) {
    if (auto s = weak.lock()) {
      {
        std::lock_guard<std::mutex> lock(s->mu);
        if (head > s->announced) s->announced = head;
      }
      s->cv.notify_one();
    }
  });
  {
    std::lock_guard<std::mutex> lock(state->mu);
    state->announced = store.HeadPosition();
  }
  {
    std::lock_guard<std::mutex> lock(state->join_mu);
    state->thread = std::thread([state] { state->Run(); });
  }
  return std::unique_ptr<Subscription>(new Subscription(state));
}

Subscription::Subscription(std::shared_ptr<State> state) : state_(std::move(state)) {}

Subscription::~Subscription() {
  const bool on_own_thread = state_->thread_id.load() == std::this_thread::get_id();
  Stop();
  if (on_own_thread) {
    // Destroyed from inside the handler: the thread keeps the state alive and ends when the
    // handler returns.
    std::lock_guard<std::mutex> lock(state_->join_mu);
    if (state_->thread.joinable()) state_->thread.detach();
  }
}

void Subscription::Stop() {
  state_->stop = true;
  state_->connection.disconnect();
  { std::lock_guard<std::mutex> lock(state_->mu); }
  state_->cv.notify_all();
  if (state_->thread_id.load() == std::this_thread::get_id()) return;  // from inside the handler
  std::lock_guard<std::mutex> lock(state_->join_mu);
  if (state_->thread.joinable()) state_->thread.join();
}

GlobalPosition Subscription::position() const { return state_->position.load(); }

bool Subscription::is_live() const { return state_->live.load(); }

Status Subscription::status() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->status;
}

}  // namespace sluice
