#include "projection_engine.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <thread>

namespace sluice::projection_internal {
namespace {

using std::chrono::milliseconds;

// Checkpoints of a partition with nothing to apply are committed at most this often.
constexpr auto kLazyCheckpointInterval = std::chrono::seconds(1);
// Chunks queued per partition before the reader waits.
constexpr std::size_t kQueueDepth = 4;
constexpr milliseconds kStoreRetryMin{20};
constexpr milliseconds kStoreRetryMax{2000};
// How often an idle worker checks that it still holds its projection.
constexpr milliseconds kIdleFenceCheck{100};

// The projection's view of a transaction: its table names get the target's suffix.
class SuffixedTransaction final : public ReadModelTransaction {
 public:
  SuffixedTransaction(ReadModelTransaction& inner, const std::string& suffix)
      : inner_(inner), suffix_(suffix) {}

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override {
    return inner_.Get(Name(table), key);
  }
  Status Put(std::string_view table, Row row) override {
    return inner_.Put(Name(table), std::move(row));
  }
  Status Delete(std::string_view table, const Key& key) override {
    return inner_.Delete(Name(table), key);
  }

 private:
  std::string Name(std::string_view table) const { return std::string(table) + suffix_; }
  ReadModelTransaction& inner_;
  const std::string& suffix_;
};

std::string Describe(const RecordedEvent& event) {
  return "position " + std::to_string(event.position) + " (stream " + event.stream + ", type " +
         event.type + ")";
}

// A layout, for deciding whether an event was already applied by an earlier partitioning.
bool AppliedBy(const std::vector<Layout>& layouts, const RecordedEvent& event) {
  for (const Layout& layout : layouts) {
    if (event.position > layout.High()) continue;
    int partition = PartitionOf(event.stream, layout.partitions);
    if (event.position <= layout.positions[static_cast<std::size_t>(partition)]) return true;
  }
  return false;
}

// Applies one partition's events, committing the checkpoint with them.
class PartitionApplier {
 public:
  PartitionApplier(RunContext& context, int partitions, int partition, GlobalPosition checkpoint)
      : c_(context),
        partitions_(partitions),
        partition_(partition),
        committed_(checkpoint),
        processed_(checkpoint),
        last_commit_(std::chrono::steady_clock::now()) {}

  // Applies `events` (this partition's, in order) and records that everything up to `end` is
  // processed.
  StepResult Process(const std::vector<const RecordedEvent*>& events, GlobalPosition end) {
    std::size_t i = 0;
    while (i < events.size()) {
      std::size_t limit = events.size();
      while (true) {
        std::unique_ptr<ReadModelBatch> tx;
        StepResult begun = BeginFenced(&tx);
        if (begun.outcome != Outcome::kOk) return begun;
        if (tx == nullptr) continue;  // store error, retried after a backoff
        std::size_t j = i;
        Status failure;
        for (; j < limit; ++j) {
          failure = SafeApply(*c_.projection, c_.target.table_suffix, *events[j], *tx);
          if (!failure.ok()) break;
        }
        if (!failure.ok()) {
          tx.reset();
          if (failure.code() == StatusCode::kUnavailable) {
            if (StoreTrouble(failure)) return {Outcome::kStopping, {}};
            continue;
          }
          if (j > i) {  // commit the events before the failing one first
            limit = j;
            continue;
          }
          StepResult handled = HandleFailure(*events[i], std::move(failure));
          if (handled.outcome != Outcome::kOk) return handled;
          ++i;
          break;
        }
        GlobalPosition checkpoint = limit == events.size() ? end : events[limit]->position - 1;
        Status committed = PutCheckpoint(*tx, c_.target.key, partitions_, partition_, checkpoint);
        if (committed.ok()) committed = tx->Commit();
        if (!committed.ok()) {
          if (StoreTrouble(committed)) return {Outcome::kStopping, {}};
          continue;
        }
        c_.telemetry->AddApplied(limit - i);
        MarkCommitted(checkpoint);
        i = limit;
        break;
      }
    }
    if (end > processed_) {
      processed_ = end;
      c_.telemetry->SetProcessed(partition_, end);
      if (std::chrono::steady_clock::now() - last_commit_ > kLazyCheckpointInterval) {
        return Flush();
      }
    }
    return {};
  }

  // Commits the checkpoint of positions processed without events to apply.
  StepResult Flush() {
    while (committed_ < processed_) {
      std::unique_ptr<ReadModelBatch> tx;
      StepResult begun = BeginFenced(&tx);
      if (begun.outcome != Outcome::kOk) return begun;
      if (tx == nullptr) continue;
      Status committed = PutCheckpoint(*tx, c_.target.key, partitions_, partition_, processed_);
      if (committed.ok()) committed = tx->Commit();
      if (committed.ok()) {
        MarkCommitted(processed_);
      } else if (StoreTrouble(committed)) {
        return {Outcome::kStopping, {}};
      }
    }
    return {};
  }

 private:
  void MarkCommitted(GlobalPosition checkpoint) {
    committed_ = checkpoint;
    if (checkpoint > processed_) processed_ = checkpoint;
    last_commit_ = std::chrono::steady_clock::now();
    store_failures_ = 0;
    if (c_.telemetry->retrying()) c_.telemetry->ClearRetrying();
    c_.telemetry->SetProcessed(partition_, processed_);
  }

  // Begins a transaction and checks the fence. On a store error, backs off and returns kOk with a
  // null batch (the caller tries again), or kStopping.
  StepResult BeginFenced(std::unique_ptr<ReadModelBatch>* tx) {
    Result<std::unique_ptr<ReadModelBatch>> begun = c_.store->Begin();
    if (!begun.ok()) {
      if (StoreTrouble(begun.status())) return {Outcome::kStopping, {}};
      return {};
    }
    Result<std::optional<ProjectionRecord>> record = LoadRecord(**begun, c_.target.key);
    if (!record.ok()) {
      if (StoreTrouble(record.status())) return {Outcome::kStopping, {}};
      return {};
    }
    if (!record->has_value() || (*record)->owner != c_.owner) {
      return {Outcome::kSuperseded, Status::Rejected("projection " + c_.target.key +
                                                     " was taken over by another worker")};
    }
    if ((*record)->epoch != c_.epoch) return {Outcome::kReload, {}};
    *tx = std::move(*begun);
    return {};
  }

  // A failure of the read-model store (not of the projection's code): conflicts are retried at
  // once, anything else after a growing backoff, visibly. True if the run is stopping.
  bool StoreTrouble(const Status& status) {
    if (status.code() == StatusCode::kUnavailable && store_failures_ < 3) {
      ++store_failures_;
      return c_.control->stopping();
    }
    ++store_failures_;
    c_.telemetry->SetRetrying(status);
    auto delay = std::min(kStoreRetryMax, kStoreRetryMin * (1 << std::min(store_failures_, 7)));
    return c_.control->SleepUnlessStopping(delay);
  }

  StepResult HandleFailure(const RecordedEvent& event, Status failure) {
    const FailurePolicy& policy = c_.options.failure;
    int attempts = 1;
    milliseconds backoff = policy.initial_backoff;
    while (attempts < policy.max_attempts) {
      c_.telemetry->SetRetrying(failure);
      if (c_.control->SleepUnlessStopping(backoff)) return {Outcome::kStopping, {}};
      backoff = std::min(backoff * 2, policy.max_backoff);
      std::unique_ptr<ReadModelBatch> tx;
      StepResult begun = BeginFenced(&tx);
      if (begun.outcome != Outcome::kOk) return begun;
      if (tx == nullptr) continue;
      Status applied = SafeApply(*c_.projection, c_.target.table_suffix, event, *tx);
      if (applied.ok()) {
        Status committed =
            PutCheckpoint(*tx, c_.target.key, partitions_, partition_, event.position);
        if (committed.ok()) committed = tx->Commit();
        if (committed.ok()) {
          c_.telemetry->AddApplied(1);
          MarkCommitted(event.position);
          return {};
        }
        if (StoreTrouble(committed)) return {Outcome::kStopping, {}};
        continue;
      }
      if (applied.code() == StatusCode::kUnavailable) continue;
      failure = std::move(applied);
      ++attempts;
    }
    std::string message = "projection " + c_.projection->Name() + " failed on event at " +
                          Describe(event) + " after " + std::to_string(attempts) + " attempt(s)";
    if (policy.then == OnFailure::kStop) {
      return {Outcome::kFailed, failure.WithContext(message)};
    }
    ParkedEvent parked = ParkedFrom(event, failure.ToString(), attempts);
    while (true) {
      std::unique_ptr<ReadModelBatch> tx;
      StepResult begun = BeginFenced(&tx);
      if (begun.outcome != Outcome::kOk) return begun;
      if (tx == nullptr) continue;
      Status committed = PutParked(*tx, c_.target.key, parked);
      if (committed.ok()) {
        committed = PutCheckpoint(*tx, c_.target.key, partitions_, partition_, event.position);
      }
      if (committed.ok()) committed = tx->Commit();
      if (committed.ok()) {
        c_.telemetry->AddApplied(1);
        MarkCommitted(event.position);
        return {};
      }
      if (StoreTrouble(committed)) return {Outcome::kStopping, {}};
    }
  }

  RunContext& c_;
  const int partitions_;
  const int partition_;
  GlobalPosition committed_;  // durable checkpoint
  GlobalPosition processed_;  // >= committed_: beyond it only events of other partitions
  std::chrono::steady_clock::time_point last_commit_;
  int store_failures_ = 0;
};

// A page of the log shared by the partitions it feeds.
using Page = std::shared_ptr<std::vector<RecordedEvent>>;

struct Chunk {
  Page page;
  std::vector<const RecordedEvent*> events;
  GlobalPosition end = 0;
  bool flush = false;  // caught up: commit lazy checkpoints
};

// A bounded queue of chunks for one partition thread.
class ChunkQueue {
 public:
  // False if the run is stopping.
  bool Push(Chunk chunk, RunControl& control) {
    std::unique_lock lock(mu_);
    while (queue_.size() >= kQueueDepth && !control.stopping()) {
      not_full_.wait_for(lock, milliseconds(50));
    }
    if (control.stopping()) return false;
    queue_.push_back(std::move(chunk));
    not_empty_.notify_one();
    return true;
  }
  // False if the run is stopping.
  bool Pop(Chunk* chunk, RunControl& control) {
    std::unique_lock lock(mu_);
    while (queue_.empty() && !control.stopping()) not_empty_.wait_for(lock, milliseconds(50));
    if (control.stopping()) return false;
    *chunk = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Chunk> queue_;  // GUARDED_BY(mu_)
};

// The layout this run uses, and the earlier ones it must respect.
struct Layouts {
  Layout current;
  std::vector<Layout> earlier;
};

Result<Layouts> AdoptLayout(RunContext& c) {
  Result<std::vector<Layout>> all = LoadLayouts(*c.store, c.target.key);
  if (!all.ok()) return all.status();
  Layouts result;
  bool found = false;
  GlobalPosition low = ~GlobalPosition{0};
  for (Layout& layout : *all) {
    if (layout.partitions == c.options.partitions) {
      result.current = std::move(layout);
      found = true;
    } else {
      low = std::min(low, layout.Low());
      result.earlier.push_back(std::move(layout));
    }
  }
  if (!found) {
    // Everything at or below the lowest earlier checkpoint was applied by every partition.
    GlobalPosition start = result.earlier.empty() ? 0 : low;
    result.current.partitions = c.options.partitions;
    result.current.positions.assign(static_cast<std::size_t>(c.options.partitions), start);
  }
  // Earlier layouts every current partition has passed no longer decide anything.
  std::vector<Layout> obsolete;
  std::erase_if(result.earlier, [&](const Layout& layout) {
    if (layout.High() > result.current.Low()) return false;
    obsolete.push_back(layout);
    return true;
  });
  if (!found || !obsolete.empty()) {
    Status saved = RunTransaction(*c.store, [&](ReadModelBatch& tx) -> Status {
      Result<std::optional<ProjectionRecord>> record = LoadRecord(tx, c.target.key);
      if (!record.ok()) return record.status();
      if (!record->has_value() || (*record)->owner != c.owner || (*record)->epoch != c.epoch) {
        return Status::Rejected("fence");
      }
      for (const Layout& layout : obsolete) {
        SLUICE_RETURN_IF_ERROR(DeleteLayout(tx, c.target.key, layout));
      }
      if (!found) {
        for (int p = 0; p < result.current.partitions; ++p) {
          SLUICE_RETURN_IF_ERROR(PutCheckpoint(tx, c.target.key, result.current.partitions, p,
                                               result.current.positions[std::size_t(p)]));
        }
      }
      return Status::Ok();
    });
    if (!saved.ok()) return saved;
  }
  return result;
}

StepResult Stopped(RunContext&) { return {Outcome::kStopping, {}}; }

// Whether the run still holds its target (see system_tables.h), from the committed record.
StepResult CheckFence(RunContext& c) {
  Result<std::optional<ProjectionRecord>> record = LoadRecord(*c.store, c.target.key);
  if (!record.ok()) return {};  // a store error: the next transaction finds out and retries
  if (!record->has_value() || (*record)->owner != c.owner) {
    return {Outcome::kSuperseded,
            Status::Rejected("projection " + c.target.key + " was taken over by another worker")};
  }
  if ((*record)->epoch != c.epoch) return {Outcome::kReload, {}};
  return {};
}

// Reads pages from `from` and hands them to `dispatch` until stopped, caught up (when asked), or
// `dispatch` ends the run.
StepResult ReadLoop(RunContext& c, GlobalPosition from, bool until_caught_up,
                    const std::function<StepResult(const Page&)>& dispatch,
                    const std::function<StepResult()>& on_caught_up) {
  std::vector<Page> pool;
  int read_failures = 0;
  while (!c.control->stopping()) {
    Page page;
    for (const Page& candidate : pool) {
      if (candidate.use_count() == 1) page = candidate;
    }
    if (page == nullptr) {
      page = std::make_shared<std::vector<RecordedEvent>>();
      if (pool.size() < kQueueDepth * 2 + 2) pool.push_back(page);
    }
    Status read = c.events->ReadAllInto(from, c.options.batch_size, page.get());
    if (!read.ok()) {
      ++read_failures;
      c.telemetry->SetRetrying(
          read.WithContext("reading the event store at position " + std::to_string(from)));
      if (c.control->SleepUnlessStopping(
              std::min(kStoreRetryMax, kStoreRetryMin * (1 << std::min(read_failures, 7))))) {
        break;
      }
      continue;
    }
    if (read_failures > 0) {
      read_failures = 0;
      c.telemetry->ClearRetrying();
    }
    if (page->empty()) {
      StepResult flushed = on_caught_up();
      if (flushed.outcome != Outcome::kOk) return flushed;
      if (until_caught_up) return {};
      c.telemetry->SetLive(true);
      if (c.control->WaitForCommitAfter(from - 1, *c.events, kIdleFenceCheck)) break;
      // Idle workers notice a reset, a rebuild's switch or a takeover (perhaps by another
      // process) here, not only when the next event arrives.
      StepResult fence = CheckFence(c);
      if (fence.outcome != Outcome::kOk) return fence;
      continue;
    }
    if (page->front().position != from) {
      return {Outcome::kFailed, Status::Corruption("the event store returned position " +
                                                   std::to_string(page->front().position) +
                                                   " when asked for " + std::to_string(from))};
    }
    c.telemetry->SetLive(page->size() < c.options.batch_size &&
                         page->back().position >= c.events->HeadPosition());
    from = page->back().position + 1;
    StepResult step = dispatch(page);
    if (step.outcome != Outcome::kOk) return step;
    if (c.after_page) c.after_page(page->size());
    if (until_caught_up && c.stop_at != 0 && from > c.stop_at) return on_caught_up();
  }
  return Stopped(c);
}

StepResult RunSingle(RunContext& c, const Layouts& layouts, bool until_caught_up) {
  GlobalPosition start = layouts.current.positions[0];
  PartitionApplier applier(c, 1, 0, start);
  c.telemetry->SetPartitions(1, layouts.current.positions);
  std::vector<const RecordedEvent*> events;
  auto dispatch = [&](const Page& page) {
    events.clear();
    for (const RecordedEvent& event : *page) {
      if (event.position <= start || !c.filter.Matches(event) ||
          AppliedBy(layouts.earlier, event)) {
        continue;
      }
      events.push_back(&event);
    }
    return applier.Process(events, page->back().position);
  };
  StepResult result =
      ReadLoop(c, start + 1, until_caught_up, dispatch, [&] { return applier.Flush(); });
  if (result.outcome == Outcome::kStopping && c.control->stop_requested()) {
    applier.Flush().error.PermitUncheckedError();
  }
  return result;
}

StepResult RunPartitioned(RunContext& c, const Layouts& layouts, bool until_caught_up) {
  const int k = layouts.current.partitions;
  c.telemetry->SetPartitions(k, layouts.current.positions);
  std::vector<ChunkQueue> queues(static_cast<std::size_t>(k));
  std::mutex result_mu;
  StepResult first_failure;  // GUARDED_BY(result_mu)
  std::atomic<int> flushes_pending{0};
  auto fail = [&](StepResult step) {
    std::lock_guard lock(result_mu);
    if (first_failure.outcome == Outcome::kOk) first_failure = std::move(step);
    c.control->Abort();
  };
  std::vector<std::thread> threads;
  for (int p = 0; p < k; ++p) {
    threads.emplace_back([&, p] {
      PartitionApplier applier(c, k, p, layouts.current.positions[std::size_t(p)]);
      Chunk chunk;
      while (queues[std::size_t(p)].Pop(&chunk, *c.control)) {
        StepResult step = chunk.flush ? applier.Flush() : applier.Process(chunk.events, chunk.end);
        if (chunk.flush) flushes_pending.fetch_sub(1);
        chunk = Chunk();
        if (step.outcome != Outcome::kOk) {
          if (step.outcome != Outcome::kStopping) fail(std::move(step));
          return;
        }
        c.telemetry->NotifyProgress();
      }
      if (c.control->stop_requested()) applier.Flush().error.PermitUncheckedError();
    });
  }
  GlobalPosition from = layouts.current.Low();
  auto dispatch = [&](const Page& page) -> StepResult {
    std::vector<Chunk> chunks(static_cast<std::size_t>(k));
    for (const RecordedEvent& event : *page) {
      if (!c.filter.Matches(event) || AppliedBy(layouts.earlier, event)) continue;
      int p = PartitionOf(event.stream, k);
      if (event.position <= layouts.current.positions[std::size_t(p)]) continue;
      chunks[std::size_t(p)].events.push_back(&event);
    }
    for (int p = 0; p < k; ++p) {
      Chunk& chunk = chunks[std::size_t(p)];
      chunk.page = page;
      chunk.end = page->back().position;
      if (!queues[std::size_t(p)].Push(std::move(chunk), *c.control)) return Stopped(c);
    }
    return {};
  };
  auto caught_up = [&]() -> StepResult {
    flushes_pending.store(k);
    for (int p = 0; p < k; ++p) {
      Chunk flush;
      flush.flush = true;
      if (!queues[std::size_t(p)].Push(std::move(flush), *c.control)) return Stopped(c);
    }
    if (until_caught_up) {  // a rebuild switches only after every partition committed
      while (flushes_pending.load() > 0 && !c.control->stopping()) {
        std::this_thread::sleep_for(milliseconds(1));
      }
    }
    return {};
  };
  StepResult result = ReadLoop(c, from + 1, until_caught_up, dispatch, caught_up);
  if (result.outcome == Outcome::kOk) {
    // Caught up (until_caught_up): let the partitions drain, then end the run.
    while (flushes_pending.load() > 0 && !c.control->stopping()) {
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  c.control->Abort();
  for (std::thread& thread : threads) thread.join();
  std::lock_guard lock(result_mu);
  if (first_failure.outcome != Outcome::kOk) return first_failure;
  return result;
}

}  // namespace

void RunControl::RequestStop() {
  std::lock_guard lock(mu_);
  stop_.store(true);
  cv_.notify_all();
}

void RunControl::Abort() {
  std::lock_guard lock(mu_);
  abort_.store(true);
  cv_.notify_all();
}

void RunControl::Reset(bool clear_stop) {
  std::lock_guard lock(mu_);
  abort_.store(false);
  if (clear_stop) stop_.store(false);
}

bool RunControl::SleepUnlessStopping(std::chrono::milliseconds duration) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, duration, [&] { return stopping(); });
  return stopping();
}

void RunControl::Notify(GlobalPosition head) {
  std::lock_guard lock(mu_);
  if (head > announced_) announced_ = head;
  cv_.notify_all();
}

bool RunControl::WaitForCommitAfter(GlobalPosition position, EventStore& events,
                                    std::chrono::milliseconds at_most) {
  const auto deadline = std::chrono::steady_clock::now() + at_most;
  std::unique_lock lock(mu_);
  while (!stopping()) {
    if (announced_ > position || std::chrono::steady_clock::now() >= deadline) return false;
    lock.unlock();
    // A commit announced before we subscribed, or a store that does not announce: look.
    bool newer = events.HeadPosition() > position;
    lock.lock();
    if (newer) return false;
    cv_.wait_until(lock, deadline, [&] { return stopping() || announced_ > position; });
  }
  return true;
}

void Telemetry::SetPartitions(int partitions, const std::vector<GlobalPosition>& start) {
  for (int p = 0; p < kMaxPartitions; ++p) {
    processed_[std::size_t(p)].store(p < partitions ? start[std::size_t(p)] : ~GlobalPosition{0});
  }
  partitions_.store(partitions);
  NotifyProgress();
}

void Telemetry::SetProcessed(int partition, GlobalPosition position) {
  processed_[std::size_t(partition)].store(position);
  NotifyProgress();
}

GlobalPosition Telemetry::Processed() const {
  GlobalPosition low = ~GlobalPosition{0};
  for (int p = 0; p < partitions_.load(); ++p) {
    low = std::min(low, processed_[std::size_t(p)].load());
  }
  return low;
}

void Telemetry::AddApplied(std::uint64_t count) { applied_.fetch_add(count); }

void Telemetry::SetRetrying(const Status& error) {
  SetError(error.ToString());
  retrying_.store(true);
}

void Telemetry::ClearRetrying() { retrying_.store(false); }

std::string Telemetry::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void Telemetry::SetError(std::string error) {
  std::lock_guard lock(mu_);
  error_ = std::move(error);
}

void Telemetry::WaitForProgress(std::chrono::steady_clock::time_point deadline,
                                const std::function<bool()>& done) {
  std::unique_lock lock(mu_);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    progress_cv_.wait_for(lock, milliseconds(20));
  }
}

void Telemetry::NotifyProgress() {
  {
    // Taking the lock orders this notice after a waiter's check of its condition: none is missed.
    std::lock_guard lock(mu_);
  }
  progress_cv_.notify_all();
}

Status SafeApply(Projection& projection, const std::string& suffix, const RecordedEvent& event,
                 ReadModelTransaction& tx) {
  try {
    if (suffix.empty()) return projection.Apply(event, tx);
    SuffixedTransaction suffixed(tx, suffix);
    return projection.Apply(event, suffixed);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("projection " + projection.Name() + " threw on event at " +
                                   Describe(event) + ": " + e.what());
  } catch (...) {
    return Status::InvalidArgument("projection " + projection.Name() + " threw on event at " +
                                   Describe(event));
  }
}

Status PrepareTables(ReadModelStore& store, const Projection& projection, const Target& target) {
  SLUICE_RETURN_IF_ERROR(EnsureSystemTables(store));
  std::vector<TableSchema> tables = projection.Tables();
  for (const TableSchema& table : tables) SLUICE_RETURN_IF_ERROR(ValidateSchema(table));
  return RunTransaction(store, [&](ReadModelBatch& tx) {
    for (TableSchema table : tables) {
      table.name += target.table_suffix;
      SLUICE_RETURN_IF_ERROR(tx.CreateTable(table));
    }
    return Status::Ok();
  });
}

Result<std::int64_t> Claim(ReadModelStore& store, const Target& target, const std::string& owner) {
  std::int64_t epoch = 0;
  Status claimed = RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
    Result<std::optional<ProjectionRecord>> record = LoadRecord(tx, target.key);
    if (!record.ok()) return record.status();
    ProjectionRecord next;
    next.key = target.key;
    next.epoch = record->has_value() ? (*record)->epoch + 1 : 1;
    next.owner = owner;
    next.state = std::string(kStateRunning);
    next.updated_at_us = NowMicros();
    epoch = next.epoch;
    return PutRecord(tx, next);
  });
  if (!claimed.ok()) return claimed;
  return epoch;
}

void RecordState(ReadModelStore& store, const Target& target, const std::string& owner,
                 std::string_view state, const std::string& error) {
  RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
    Result<std::optional<ProjectionRecord>> record = LoadRecord(tx, target.key);
    if (!record.ok()) return record.status();
    if (!record->has_value() || (*record)->owner != owner) return Status::Ok();
    ProjectionRecord next = **record;
    next.state = std::string(state);
    next.error = error;
    next.updated_at_us = NowMicros();
    return PutRecord(tx, next);
  }).PermitUncheckedError();
}

StepResult RunOnce(RunContext& c, bool until_caught_up) {
  Result<Layouts> layouts = AdoptLayout(c);
  if (!layouts.ok()) {
    if (layouts.status().code() == StatusCode::kRejected) return {Outcome::kReload, {}};
    return {Outcome::kFailed, layouts.status()};
  }
  if (layouts->current.partitions == 1) return RunSingle(c, *layouts, until_caught_up);
  return RunPartitioned(c, *layouts, until_caught_up);
}

}  // namespace sluice::projection_internal
