// The EventStore port: what every event store (in-memory, RocksDB, later PostgreSQL) provides.
// Implementations must pass the shared conformance suite in tests/conformance.
//
// Thread safety: every method may be called from any thread concurrently.
#pragma once

#include <boost/signals2/connection.hpp>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"
#include "sluice/core/subscription.h"
#include "sluice/core/version.h"

namespace sluice {

struct AppendOptions {
  // true (default): Append returns only after the batch is in the write-ahead log and fsync'ed, so
  // it survives kill -9, a kernel crash and power loss.
  // false: the batch is written to the write-ahead log but not fsync'ed. It survives a crash of the
  // process (kill -9), but a power loss or kernel crash can lose the most recently acknowledged
  // unsynced batches. What is lost is always a suffix of the global log made of whole batches:
  // never part of a batch, never a gap. A later synced append makes every earlier one durable too.
  bool sync = true;
};

struct AppendResult {
  GlobalPosition first_position = 0;                // global position of the first appended event
  GlobalPosition last_position = 0;                 // global position of the last appended event
  StreamVersion next_expected_version = kNoStream;  // version of the stream's last event now
  // True when the append repeated an earlier one (same event ids): nothing was written and the
  // positions are the earlier append's. Not part of equality: both describe the same append.
  bool repeated = false;

  friend bool operator==(const AppendResult& a, const AppendResult& b) {
    return a.first_position == b.first_position && a.last_position == b.last_position &&
           a.next_expected_version == b.next_expected_version;
  }
};

enum class Direction : std::uint8_t { kForward, kBackward };

// Where an event lives.
struct EventLocation {
  std::string stream;
  StreamVersion version = 0;
  GlobalPosition position = 0;

  friend bool operator==(const EventLocation&, const EventLocation&) = default;
};

// Used as `from` of a backward stream read: start at the stream's last event.
inline constexpr StreamVersion kStreamEnd = std::numeric_limits<StreamVersion>::max();

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends `events` to `stream` atomically, if the stream's version satisfies `expected`; the
  // check is atomic with the write. Events get consecutive stream versions and contiguous global
  // positions. Empty event ids are generated.
  // Returns:
  //   WrongExpectedVersion (with actual_version()) when `expected` does not hold;
  //   InvalidArgument for no events, an empty type, an event id that is not a UUID, the same id
  //     twice in the batch, or ids of which some (not all) were already appended;
  //   the first result again, writing nothing, when every id was already appended, in this order,
  //     to this stream at a place `expected` allows (idempotent retry).
  virtual Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                                      std::vector<EventData> events,
                                      const AppendOptions& options = {}) = 0;

  // Up to `max_count` events of `stream`, forward from version `from` (ascending), or backward from
  // `from` (descending; kStreamEnd starts at the last event). NotFound if the stream does not
  // exist.
  virtual Result<std::vector<RecordedEvent>> ReadStream(
      const StreamId& stream, StreamVersion from, std::size_t max_count,
      Direction direction = Direction::kForward) = 0;

  // Up to `max_count` events of the global log with position >= `from`, ascending.
  // A reader that sees position p has seen every position below p.
  // As ReadAll, into `*out` (replacing its contents) while reusing the capacity of the events
  // already in it: the allocation-free path for long catch-ups that read page after page.
  virtual Status ReadAllInto(GlobalPosition from, std::size_t max_count,
                             std::vector<RecordedEvent>* out) {
    Result<std::vector<RecordedEvent>> page = ReadAll(from, max_count);
    if (!page.ok()) return page.status();
    *out = std::move(*page);
    return Status::Ok();
  }

  virtual Result<std::vector<RecordedEvent>> ReadAll(GlobalPosition from,
                                                     std::size_t max_count) = 0;

  // Where the event with this id (UUID text, any case) was appended, or nullopt if nowhere.
  // InvalidArgument if `event_id` is not a UUID.
  virtual Result<std::optional<EventLocation>> FindEvent(std::string_view event_id) = 0;

  // Version of the stream's last event, or kNoStream if it has none.
  virtual Result<StreamVersion> StreamHead(const StreamId& stream) = 0;

  // Position of the last committed and readable event (0 when the store is empty).
  virtual GlobalPosition HeadPosition() = 0;

  // Calls `slot` with the new head position after each commit, once the events are durable (for
  // synced appends) and readable. Slots run on the committing thread: keep them short, never block
  // and never append from one. Disconnect (or drop the scoped connection) before the store dies.
  virtual boost::signals2::connection OnCommitted(std::function<void(GlobalPosition)> slot) = 0;

  // Delivers every event after `checkpoint` to `handler` in global order, on a thread of the
  // subscription's own: first catching up in batches, then live as commits are announced. Never
  // blocks appends. See subscription.h. The subscription must be destroyed before the store.
  std::unique_ptr<Subscription> SubscribeToAll(GlobalPosition checkpoint, EventHandler handler,
                                               SubscriptionOptions options = {}) {
    return Subscription::Start(*this, checkpoint, std::move(handler), std::move(options));
  }
};

}  // namespace sluice
