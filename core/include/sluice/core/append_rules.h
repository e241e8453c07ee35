// Rules every EventStore implementation applies to an append, so all stores agree exactly:
// batch validation, id generation, and the idempotency decision for ids seen before.
// For implementers of the EventStore port; applications do not need this header.
#pragma once

#include <optional>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/core/stream_id.h"

namespace sluice {

// InvalidArgument for an empty batch, an invalid type name (see ValidateStoredTypeName), an event
// id that is not a UUID, or the same id twice. Otherwise fills in missing ids and rewrites ids to
// canonical lower-case text. If `generated` is given, it receives one flag per event: true where
// the id was generated here (a random UUID, so it cannot have been appended before and needs no
// idempotency lookup).
Status PrepareBatch(std::vector<EventData>& events, std::vector<bool>* generated = nullptr);

// What a store accepts as an event type: 1-200 bytes of UTF-8 without control characters or
// whitespace. (EventTypeRegistry is stricter: its names also end in ".v<N>".)
Status ValidateStoredTypeName(std::string_view type);

// Where an event id was appended before.
struct ExistingEvent {
  std::string stream;
  StreamVersion version = 0;
  GlobalPosition position = 0;
};

// Decides an append given, for each event of the batch in order, where its id already lives
// (nullopt: new id) and the stream's current version:
//   all ids new                        -> nullopt: append normally;
//   all ids already in `stream`, in the same order, consecutive, at a place `expected` allowed
//                                      -> the earlier append's result (write nothing);
//   all ids there but `expected` did not allow that place -> WrongExpectedVersion;
//   anything else (some ids new, another stream, another order) -> InvalidArgument.
Result<std::optional<AppendResult>> DecideIdempotentAppend(
    const StreamId& stream, ExpectedVersion expected, StreamVersion current,
    const std::vector<std::optional<ExistingEvent>>& existing);

// InvalidArgument unless a snapshot at `version` fits a stream whose head is `head` (0..head).
Status CheckSnapshotVersion(const StreamId& stream, StreamVersion version, StreamVersion head);

// InvalidArgument: `text` is not a UUID.
Status NotAUuidError(std::string_view text);

// The WrongExpectedVersion status for `stream`.
Status WrongExpectedVersionError(const StreamId& stream, ExpectedVersion expected,
                                 StreamVersion current);

}  // namespace sluice
