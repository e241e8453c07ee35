// The generic mirror projection: for each captured legacy table T, a projection named
// "mirror.<T>" (MirrorProjectionName) that keeps a read-model table named T with the same key and
// columns, from the mirror mapping's events (change_mapping.h) and the schema event
// (schema_event.h).
//
// The read-model table (MirrorTableSchema): the key columns in primary-key order, then the other
// columns in legacy table order, each typed ReadModelTypeOf(its logical type). Values are decoded
// from the typed JSON payloads and stored with ToReadModelValue (a NaN becomes NULL, numbers in a
// text column their shortest exact text, decimals stay text). T and the column names must be valid
// read-model names (table.h) and no key column may be REAL (InvalidArgument naming the problem).
//
// Events (only these: the filter lists the five types, so a table name with '-' works too):
//   T.RowInserted.v1, T.RowUpdated.v1  Put of the full row image
//   T.RowDeleted.v1                     Delete of the key
//   T.TableTruncated.v1                 every row deleted, in the same transaction (the table is
//                                       dropped and created again in the worker's batch)
//   T.SchemaCaptured.v1                 nothing (the schema is read when the projection is made)
// A row image holding a column the schema does not know is an error (the legacy table changed
// after the schema was read: restart the mirror); a column the image lacks (an older event,
// before an ADD COLUMN) is stored as NULL.
//
// Run it with ProjectionOptions::partitions == 1: a TRUNCATE (on the schema stream) must be
// applied in log order with the row streams, which partitions do not keep. A TRUNCATE applied by
// Rebuild (rebuild.h, which renames tables behind the projection's back) fails: rebuild a mirror by
// dropping its table and resetting the projection to 0 instead.
//
// The checkpoint of a mirror worker advances over other tables' events too (the worker commits
// the positions of filtered-out events lazily and when caught up), so WaitFor(head) returns.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/table.h"

namespace sluice::migration {

// "mirror." + table.
std::string MirrorProjectionName(std::string_view table);

// The read-model table of the mirror of `table`, as above; InvalidArgument when it is not a valid
// read-model table.
Result<TableSchema> MirrorTableSchema(const LegacyTable& table);

// The mirror projection of a table whose schema is known. InvalidArgument as MirrorTableSchema,
// or when "mirror.<table>" is not a valid projection name (table names up to 57 bytes).
Result<std::shared_ptr<Projection>> MakeMirrorProjection(const LegacyTable& table);

// The mirror projections of `tables` (in that order), from the newest schema event of each in
// `store`. NotFound naming the table when its schema event is not in the store yet (run
// `sluice migrate tail` or `backfill` first); InvalidArgument as MakeMirrorProjection.
Result<std::vector<std::shared_ptr<Projection>>> MakeMirrorProjections(
    EventStore& store, const std::vector<std::string>& tables);

}  // namespace sluice::migration
