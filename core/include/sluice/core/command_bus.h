// CommandBus: point-to-point routing of commands, each command type to exactly one handler, through
// a chain of middleware (validation, logging, metrics, correlation).
//
//   CommandBus bus;
//   bus.Use([](CommandEnvelope& c, const CommandBus::Next& next) {   // outermost first
//     if (const auto* w = c.As<Withdraw>(); w && w->amount <= 0) {
//       return Result<CommandResult>(Status::InvalidArgument("amount must be positive"));
//     }
//     return next(c);
//   });
//   bus.Register<Withdraw>([&](const Withdraw& c, const CommandMetadata& m) { ... });
//   Result<CommandResult> r = bus.Dispatch(Withdraw{"42", 10});
//   std::future<Result<CommandResult>> f = bus.DispatchAsync(Withdraw{"42", 10});
//
// Thread safety: register handlers and middleware at start-up; Dispatch and DispatchAsync may then
// be called from any thread. No exception crosses Dispatch: a handler or middleware that throws
// gives an InvalidArgument status naming the command.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include "sluice/core/command.h"
#include "sluice/core/status.h"

namespace sluice {

// The name a command type goes by in errors and logs: C::kCommandName if it declares one (e.g.
// `static constexpr std::string_view kCommandName = "bank.Withdraw";`), else the C++ type name.
template <typename C>
std::string CommandNameOf() {
  if constexpr (requires { C::kCommandName; }) {
    return std::string(C::kCommandName);
  } else {
    return typeid(C).name();
  }
}

// A command on its way through the middleware to its handler.
struct CommandEnvelope {
  std::type_index type;
  std::string name;
  const void* command;       // points at a C where type == typeid(C)
  CommandMetadata metadata;  // ids already filled in; middleware may add headers

  // The command as C, or null if it is another type.
  template <typename C>
  const C* As() const {
    return type == std::type_index(typeid(C)) ? static_cast<const C*>(command) : nullptr;
  }
};

class CommandBus {
 public:
  using Next = std::function<Result<CommandResult>(CommandEnvelope&)>;
  using Middleware = std::function<Result<CommandResult>(CommandEnvelope&, const Next&)>;
  template <typename C>
  using Handler = std::function<Result<CommandResult>(const C&, const CommandMetadata&)>;

  // `async_workers` threads serve DispatchAsync (started on first use).
  explicit CommandBus(std::size_t async_workers = 2);
  // Finishes every queued asynchronous command, then stops the workers.
  ~CommandBus();

  // InvalidArgument if C already has a handler.
  template <typename C>
  Status Register(Handler<C> handler);

  // Adds middleware around every dispatch; the first added is the outermost.
  void Use(Middleware middleware);

  // Fills in missing ids (see CommandMetadata), runs the middleware and the handler of C.
  // NotFound (naming the command) if C has no handler.
  template <typename C>
  Result<CommandResult> Dispatch(const C& command, CommandMetadata metadata = {});

  // As Dispatch, on a worker thread; the future never throws. Unavailable once the bus is being
  // destroyed.
  template <typename C>
  std::future<Result<CommandResult>> DispatchAsync(C command, CommandMetadata metadata = {});

  CommandBus(const CommandBus&) = delete;
  CommandBus& operator=(const CommandBus&) = delete;

 private:
  using ErasedHandler = std::function<Result<CommandResult>(const CommandEnvelope&)>;

  Status RegisterErased(std::type_index type, std::string name, ErasedHandler handler);
  Result<CommandResult> DispatchErased(CommandEnvelope envelope);
  bool Enqueue(std::function<void()> task);
  void WorkerLoop();

  mutable std::shared_mutex mu_;
  std::unordered_map<std::type_index, ErasedHandler> handlers_;  // GUARDED_BY(mu_)
  std::vector<Middleware> middleware_;                           // GUARDED_BY(mu_)

  const std::size_t worker_count_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(queue_mu_)
  bool stopping_ = false;                    // GUARDED_BY(queue_mu_)
  std::vector<std::thread> workers_;         // GUARDED_BY(queue_mu_)
};

// Fills in a missing command id (a new UUID) and correlation id (the command id).
void CompleteMetadata(CommandMetadata* metadata);

template <typename C>
Status CommandBus::Register(Handler<C> handler) {
  if (!handler) return Status::InvalidArgument("empty handler for " + CommandNameOf<C>());
  return RegisterErased(std::type_index(typeid(C)), CommandNameOf<C>(),
                        [h = std::move(handler)](const CommandEnvelope& envelope) {
                          return h(*static_cast<const C*>(envelope.command), envelope.metadata);
                        });
}

template <typename C>
Result<CommandResult> CommandBus::Dispatch(const C& command, CommandMetadata metadata) {
  return DispatchErased(CommandEnvelope{std::type_index(typeid(C)), CommandNameOf<C>(), &command,
                                        std::move(metadata)});
}

template <typename C>
std::future<Result<CommandResult>> CommandBus::DispatchAsync(C command, CommandMetadata metadata) {
  auto promise = std::make_shared<std::promise<Result<CommandResult>>>();
  std::future<Result<CommandResult>> future = promise->get_future();
  const bool queued =
      Enqueue([this, promise, c = std::move(command), m = std::move(metadata)]() mutable {
        promise->set_value(Dispatch(c, std::move(m)));
      });
  if (!queued) {
    promise->set_value(Status::Unavailable("command bus is shutting down; " + CommandNameOf<C>() +
                                           " was not dispatched"));
  }
  return future;
}

}  // namespace sluice
