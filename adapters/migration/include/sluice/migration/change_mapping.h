// How the tailer turns a captured change into events: the generic mirror mapping, or your own.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/status.h"
#include "sluice/migration/change.h"

namespace sluice::migration {

// What one change becomes: events appended, in order and atomically, to one stream.
struct MappedChange {
  std::string stream;
  // Leave event_id empty: the tailer derives it from the source, table and change id (so a replay
  // appends nothing twice). Ids set here must be just as stable.
  std::vector<sluice::EventData> events;
};

class ChangeMapping {
 public:
  virtual ~ChangeMapping() = default;
  // nullopt skips the change. An error stops the tailer before the change (it is retried on the
  // next run); it must not depend on anything but the change, or replays differ.
  virtual Result<std::optional<MappedChange>> Map(const Change& change) const = 0;
};

// The generic mirror mapping. For a change of table T:
//   type     "T.RowInserted.v1" | "T.RowUpdated.v1" | "T.RowDeleted.v1"
//   stream   "T-" + StreamKey(key), e.g. "orders-42", "order_lines-7,2", "customers-\"bob\"";
//            when that is longer than 200 bytes: "T-#" + a UUID derived from it
//   payload  JSON {"table": T, "key": {...}, "row": {...}} (no "row" for deletes), values typed as
//            in change.h; content type kJson
// A TRUNCATE (kTruncate) of T becomes "T.TableTruncated.v1" with payload {"table": T} on the
// stream "T.schema" (schema_event.h), where it is ordered with T's schema events; it removes every
// row, so a consumer must apply it in global-log order with T's row events.
//   metadata extra "change_id" (decimal) and "source" (the table's capture source name, set by the
//            tailer as "migration:<source_id>")
std::shared_ptr<const ChangeMapping> MirrorMapping();

// The key part of a mirror stream name: the key values (typed as in change.h), compact JSON,
// joined by ',' in primary-key order, i.e. the JSON array of the key without its brackets. It is
// unambiguous (parse "[" + it + "]") and a single integer key stays plain: 42 -> "42".
Result<std::string> StreamKey(const std::string& key_json);

}  // namespace sluice::migration
