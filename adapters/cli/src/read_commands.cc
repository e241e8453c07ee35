#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <ctime>
#include <limits>
#include <string>

#include "arguments.h"
#include "commands.h"
#include "exit_codes.h"
#include "json_codec.h"
#include "output.h"
#include "sluice/core/stream_id.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

// Events read per call: output starts at once and memory stays bounded however long the log.
constexpr std::uint64_t kPageSize = 1000;

// Parses an optional flag; `fallback` when absent. Prints the problem and returns false if bad.
bool ParseOptional(const char* flag, const std::optional<std::string>& text, std::int64_t fallback,
                   std::int64_t* out) {
  if (!text) {
    *out = fallback;
    return true;
  }
  Result<std::int64_t> value = ParseNonNegative(flag, *text);
  if (!value.ok()) {
    PrintError(value.status().message());
    return false;
  }
  *out = *value;
  return true;
}

int StreamNotFound(const std::string& stream) {
  PrintError("stream '" + stream + "' does not exist");
  return kExitFailure;
}

// Prints events from `from` on until SIGINT/SIGTERM or `max` events; new events appear as the
// follower catches up with the writer (every follow_interval_ms).
int Follow(const std::string& dir, GlobalPosition from, std::uint64_t max) {
  // Block the signals before any thread exists (the store's threads inherit the mask), then wait
  // for them here, so they end the loop instead of the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<RocksEventStore> store = OpenForReading(dir);
  if (store == nullptr) return kExitFailure;
  if (max == 0) return kExitOk;

  std::atomic<bool> done{false};
  std::uint64_t printed = 0;  // only touched on the subscription's thread
  SubscriptionOptions options;
  options.batch_size = kPageSize;
  options.on_error = [&done](const Status&) { done = true; };
  std::unique_ptr<Subscription> subscription = store->SubscribeToAll(
      from == 0 ? 0 : from - 1,
      [&](const RecordedEvent& event) {
        if (done.load()) return;
        PrintJsonLine(RecordedEventToJson(event), /*flush=*/true);
        if (++printed >= max) done = true;
      },
      std::move(options));

  while (!done.load()) {
    timespec timeout{0, 100'000'000};
    const int received = sigtimedwait(&signals, nullptr, &timeout);
    if (received == SIGINT || received == SIGTERM) break;
  }
  subscription->Stop();
  const Status status = subscription->status();
  subscription.reset();
  if (!status.ok()) {
    PrintError("following store '" + dir + "' failed", status);
    return kExitFailure;
  }
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace

int RunRead(const ReadFlags& flags) {
  Result<StreamId> stream = StreamId::Make(flags.stream);
  if (!stream.ok()) {
    PrintError("--stream", stream.status());
    return kExitUsage;
  }
  std::int64_t from = 0;
  std::int64_t max = 0;
  if (!ParseOptional("--from", flags.from, flags.backward ? kStreamEnd : 0, &from) ||
      !ParseOptional("--max", flags.max, std::numeric_limits<std::int64_t>::max(), &max)) {
    return kExitUsage;
  }
  std::unique_ptr<RocksEventStore> store = OpenForReading(flags.store);
  if (store == nullptr) return kExitFailure;

  auto remaining = static_cast<std::uint64_t>(max);
  if (remaining == 0) {  // nothing to print, but a missing stream is still an error
    Result<StreamVersion> head = store->StreamHead(*stream);
    if (!head.ok()) {
      PrintError("reading stream '" + flags.stream + "' failed", head.status());
      return kExitFailure;
    }
    return *head == kNoStream ? StreamNotFound(flags.stream) : kExitOk;
  }
  const Direction direction = flags.backward ? Direction::kBackward : Direction::kForward;
  while (remaining > 0) {
    const std::uint64_t count = std::min(remaining, kPageSize);
    Result<std::vector<RecordedEvent>> page =
        store->ReadStream(*stream, from, static_cast<std::size_t>(count), direction);
    if (!page.ok()) {
      if (page.status().IsNotFound()) return StreamNotFound(flags.stream);
      PrintError("reading stream '" + flags.stream + "' failed", page.status());
      return kExitFailure;
    }
    for (const RecordedEvent& event : *page) PrintJsonLine(RecordedEventToJson(event));
    remaining -= page->size();
    if (page->size() < count) break;
    const StreamVersion last = page->back().version;
    if (flags.backward && last == 0) break;
    from = flags.backward ? last - 1 : last + 1;
  }
  return FinishOutput() ? kExitOk : kExitFailure;
}

int RunReadAll(const ReadAllFlags& flags) {
  std::int64_t from = 0;
  std::int64_t max = 0;
  if (!ParseOptional("--from", flags.from, 0, &from) ||
      !ParseOptional("--max", flags.max, std::numeric_limits<std::int64_t>::max(), &max)) {
    return kExitUsage;
  }
  if (flags.follow) {
    return Follow(flags.store, static_cast<GlobalPosition>(from), static_cast<std::uint64_t>(max));
  }
  std::unique_ptr<RocksEventStore> store = OpenForReading(flags.store);
  if (store == nullptr) return kExitFailure;

  auto position = std::max<GlobalPosition>(static_cast<GlobalPosition>(from), 1);
  auto remaining = static_cast<std::uint64_t>(max);
  while (remaining > 0) {
    const std::uint64_t count = std::min(remaining, kPageSize);
    Result<std::vector<RecordedEvent>> page =
        store->ReadAll(position, static_cast<std::size_t>(count));
    if (!page.ok()) {
      PrintError("reading the global log of store '" + flags.store + "' failed", page.status());
      return kExitFailure;
    }
    for (const RecordedEvent& event : *page) PrintJsonLine(RecordedEventToJson(event));
    remaining -= page->size();
    if (page->size() < count) break;
    position = page->back().position + 1;
  }
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
