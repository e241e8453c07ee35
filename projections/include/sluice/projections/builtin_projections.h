// Two projections every store can run, useful to operators and tests:
//   stream-index: table "stream-index", one row per stream: stream (key), version (of its last
//                 event), event_count, first_position, last_position, last_type.
//   type-counts:  table "type-counts", one row per event type: type (key), count.
#pragma once

#include <memory>

#include "sluice/projections/projection.h"

namespace sluice {

std::shared_ptr<Projection> NewStreamIndexProjection();
std::shared_ptr<Projection> NewTypeCountsProjection();

}  // namespace sluice
