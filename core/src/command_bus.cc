#include "sluice/core/command_bus.h"

#include <exception>

#include "sluice/core/uuid.h"

namespace sluice {

void CompleteMetadata(CommandMetadata* metadata) {
  if (metadata->command_id.empty()) metadata->command_id = NewUuid();
  if (metadata->correlation_id.empty()) metadata->correlation_id = metadata->command_id;
}

CommandBus::CommandBus(std::size_t async_workers)
    : worker_count_(async_workers == 0 ? 1 : async_workers) {}

CommandBus::~CommandBus() {
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
    workers.swap(workers_);
  }
  queue_cv_.notify_all();
  for (std::thread& t : workers) t.join();
}

Status CommandBus::RegisterErased(std::type_index type, std::string name, ErasedHandler handler) {
  std::unique_lock lock(mu_);
  if (handlers_.contains(type)) {
    return Status::InvalidArgument("command " + name + " already has a handler");
  }
  handlers_.emplace(type, std::move(handler));
  return Status::Ok();
}

void CommandBus::Use(Middleware middleware) {
  std::unique_lock lock(mu_);
  middleware_.push_back(std::move(middleware));
}

Result<CommandResult> CommandBus::DispatchErased(CommandEnvelope envelope) {
  CompleteMetadata(&envelope.metadata);
  ErasedHandler handler;
  std::vector<Middleware> middleware;
  {
    std::shared_lock lock(mu_);
    auto it = handlers_.find(envelope.type);
    if (it == handlers_.end()) {
      return Status::NotFound("no handler registered for command " + envelope.name);
    }
    handler = it->second;
    middleware = middleware_;
  }
  // next(i) runs middleware i, or the handler after the last one.
  std::function<Result<CommandResult>(std::size_t, CommandEnvelope&)> run =
      [&](std::size_t i, CommandEnvelope& e) -> Result<CommandResult> {
    if (i == middleware.size()) return handler(e);
    return middleware[i](e, [&run, i](CommandEnvelope& inner) { return run(i + 1, inner); });
  };
  try {
    return run(0, envelope);
  } catch (const std::exception& ex) {
    return Status::InvalidArgument("command " + envelope.name + " (" +
                                   envelope.metadata.command_id + ") threw: " + ex.what());
  } catch (...) {
    return Status::InvalidArgument("command " + envelope.name + " (" +
                                   envelope.metadata.command_id + ") threw");
  }
}

bool CommandBus::Enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) return false;
    if (workers_.empty()) {
      for (std::size_t i = 0; i < worker_count_; ++i)
        workers_.emplace_back([this] { WorkerLoop(); });
    }
    queue_.push_back(std::move(task));
  }
  queue_cv_.notify_one();
  return true;
}

void CommandBus::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace sluice
