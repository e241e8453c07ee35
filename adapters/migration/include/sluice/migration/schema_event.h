// How the schema of a captured legacy table travels in the event log, so that the mirror
// projection (mirror_projection.h) and the sync watcher can work without access to the legacy
// database.
//
// Conventions (exact; the mirror, the sync watcher and tools rely on them):
//   stream   "<table>.schema" (SchemaStream): the table's schema events and its TableTruncated
//            events (change_mapping.h), so both are ordered with each other
//   type     "<table>.SchemaCaptured.v1" (SchemaEventType)
//   payload  JSON {"table": T,
//                  "columns": [{"name": N, "declared_type": D, "type": LogicalTypeName}, ...],
//                  "key": [column names in primary-key order]}, columns in table order;
//            content type kJson
//   metadata extra "source" = "migration:<source_id>"
//   event id DeriveUuid of the source id, the table, the payload and the id of the schema event it
//            follows in the stream ("" for the first), so appending the same schema again is the
//            store's idempotent retry, and a schema that changes back (A, B, A) is still appended.
// The tailer and the backfill append one (AppendSchemaIfChanged) before the first change of a
// table they append in a run, only when the newest schema event of the stream differs.
//
// Thread safety: plain functions; the store calls follow EventStore's rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/event.h"
#include "sluice/core/event_store.h"
#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"

namespace sluice::migration {

// "<table>.schema".
std::string SchemaStream(std::string_view table);
// "<table>.SchemaCaptured.v1".
std::string SchemaEventType(std::string_view table);

// The payload above (compact JSON, members in the order shown).
std::string EncodeSchema(const LegacyTable& table);
// Its inverse. Corruption when `payload` is not such a document (unknown logical type names,
// key columns that are not columns, no key, ...).
Result<LegacyTable> DecodeSchema(std::string_view payload);

// The newest schema event of `table` in `store`, decoded; nullopt when the stream holds none.
// Corruption when that event does not decode.
Result<std::optional<LegacyTable>> LoadSchema(EventStore& store, std::string_view table);

// Appends the schema event of `table` unless the newest one in the store is equal; `source_id` is
// the source's SourceDescription::source_id. `sync` as AppendOptions::sync. Returns whether an
// event was appended. The caller must be the store's only writer of the schema stream (the
// tailer and the backfill are: one process writes the store).
Result<bool> AppendSchemaIfChanged(EventStore& store, const LegacyTable& table,
                                   std::string_view source_id, bool sync = true);

}  // namespace sluice::migration
