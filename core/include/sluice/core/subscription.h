// Catch-up subscriptions to the global log: read in batches from a checkpoint, then follow live,
// woken by the store's commit signal (no polling). One thread per subscription delivers events in
// global order with no gap and no duplicate across the catch-up/live hand-over.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "sluice/core/event.h"
#include "sluice/core/status.h"
#include "sluice/core/version.h"

namespace sluice {

class EventStore;

// Called on the subscription's thread for each event, in global order.
using EventHandler = std::function<void(const RecordedEvent&)>;

struct SubscriptionOptions {
  std::size_t batch_size = 1024;  // events per read while catching up
  // Called once on the subscription's thread when it has delivered everything committed so far.
  std::function<void()> on_live;
  // Called on the subscription's thread when reading fails or the handler throws; the subscription
  // then stops. Without it the error is only visible through Subscription::status().
  std::function<void(const Status&)> on_error;
};

class Subscription {
 public:
  // Prefer EventStore::SubscribeToAll.
  static std::unique_ptr<Subscription> Start(EventStore& store, GlobalPosition checkpoint,
                                             EventHandler handler, SubscriptionOptions options);

  // Stops delivery; joins the thread unless called on it. Safe at any time, from any thread,
  // also from inside the handler, and more than once.
  ~Subscription();
  void Stop();

  // Position of the last event delivered (the subscription's checkpoint).
  GlobalPosition position() const;
  // True once the subscription has caught up and follows live.
  bool is_live() const;
  // OK while running or after a clean Stop; the error that stopped it otherwise.
  Status status() const;

  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  struct State;

 private:
  explicit Subscription(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace sluice
