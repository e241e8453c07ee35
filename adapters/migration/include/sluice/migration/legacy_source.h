// The LegacySource port: change capture on a legacy database (SQLite now, PostgreSQL later).
//
// Install adds a change log and AFTER INSERT/UPDATE/DELETE triggers to the chosen tables; from then
// on every committed change of those tables is recorded by the legacy application's own
// transaction, so a rolled-back change (or savepoint) is never captured. ReadChanges returns them
// in commit order. Consumers (the tailer) keep their checkpoints in the source too, beside the log.
//
// A primary-key UPDATE is captured as a kDelete of the old key followed by a kInsert of the new
// one (two changes, same transaction), so every change belongs to exactly one key.
//
// Thread safety: one object is used by one thread at a time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/migration/change.h"

namespace sluice::migration {

struct SourceDescription {
  std::string kind;      // "sqlite" or "postgresql"
  std::string location;  // file path or connection target (never a password)
  // A UUID made by the first Install and kept until the last Uninstall. Event ids derive from it,
  // so a reinstalled change log (whose ids start again at 1) never collides with the old one.
  // Empty when nothing is installed.
  std::string source_id;
  std::vector<std::string> tables;  // tables with capture installed, by name
  ChangeId last_change_id = 0;      // newest change in the log (0: none, or not installed)
};

class LegacySource {
 public:
  virtual ~LegacySource() = default;

  // Creates the change log (if missing) and the capture triggers of `tables` (replacing any of
  // ours already there), in one transaction. Identifiers are always quoted: any table or column
  // name works and none can inject SQL. Key columns come from the schema.
  // Returns InvalidArgument (installing nothing) for no tables, an unknown table, a table without
  // a primary key, or one of the change log's own tables.
  virtual Status Install(const std::vector<std::string>& tables) = 0;

  // Drops the triggers of `tables`; once no table is captured any more, drops the change log and
  // the checkpoints too, leaving the schema exactly as before Install. Idempotent: tables without
  // capture (or missing) are fine.
  virtual Status Uninstall(const std::vector<std::string>& tables) = 0;

  // Up to `limit` changes with change_id > `after`, in commit order. Empty when there are none or
  // nothing is installed.
  virtual Result<std::vector<Change>> ReadChanges(ChangeId after, std::size_t limit) = 0;

  virtual Result<SourceDescription> Describe() = 0;

  // The last change a consumer has fully processed (0 when it has none). Durable once
  // SaveCheckpoint returns OK. Without an installed change log, LoadCheckpoint gives 0 and
  // SaveCheckpoint InvalidArgument.
  virtual Result<ChangeId> LoadCheckpoint(std::string_view consumer) = 0;
  virtual Status SaveCheckpoint(std::string_view consumer, ChangeId change_id) = 0;
};

}  // namespace sluice::migration
