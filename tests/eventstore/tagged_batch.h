// Events that know which append wrote them (no GoogleTest here: the crash helper uses it too).
#pragma once

#include <string>
#include <vector>

#include "sluice/core/event.h"
#include "sluice/core/uuid.h"

namespace sluice::testing {

// Metadata keys that tie an event to the append that wrote it.
inline constexpr const char* kBatchKey = "batch";
inline constexpr const char* kBatchSizeKey = "batch_size";
inline constexpr const char* kBatchIndexKey = "batch_index";

// The id of event `index` of batch `batch_id`: derived, so a retry or a checker can recompute it.
inline std::string BatchEventId(const std::string& id_namespace, const std::string& batch_id,
                                int index) {
  return DeriveUuid(id_namespace, batch_id + "/" + std::to_string(index));
}

// The events of one append, tagged with `batch_id` so readers can check the batch is whole. With
// an `id_namespace` the event ids are BatchEventId(...); otherwise the store generates them.
inline std::vector<EventData> TaggedBatch(const std::string& batch_id, int size,
                                          const std::string& id_namespace = "") {
  std::vector<EventData> out;
  for (int i = 0; i < size; ++i) {
    EventData e;
    e.type = "test.Tagged.v1";
    e.payload = batch_id + "#" + std::to_string(i);
    e.metadata.extra[kBatchKey] = batch_id;
    e.metadata.extra[kBatchSizeKey] = std::to_string(size);
    e.metadata.extra[kBatchIndexKey] = std::to_string(i);
    if (!id_namespace.empty()) e.event_id = BatchEventId(id_namespace, batch_id, i);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace sluice::testing
