// The relay's checkpoint file: the global position up to which every event is confirmed by the
// broker, kept durable across crashes (temp file, fsync, rename, fsync of the folder).
//
// Format (text, three lines, so an operator can read it):
//   sluice-relay-checkpoint v1
//   position <decimal>
//   checksum <16 hex digits: FNV-1a 64 of the first two lines>
// Anything else is Corruption naming the file: a damaged checkpoint is never read as 0 (that
// would re-publish the whole log) nor as some other position (that could skip events).
#pragma once

#include <string>

#include "sluice/core/status.h"
#include "sluice/core/version.h"

namespace sluice::rabbitmq::detail {

// The position in `path`; 0 when the file does not exist. Corruption for a damaged file,
// IOError when it cannot be read.
Result<GlobalPosition> LoadRelayCheckpoint(const std::string& path);

// Writes `position` durably: `path`.tmp written and fsync'ed, renamed over `path`, the folder
// fsync'ed. Creates the folder if needed. IOError naming the file on failure (the old checkpoint
// is then still intact).
Status SaveRelayCheckpoint(const std::string& path, GlobalPosition position);

}  // namespace sluice::rabbitmq::detail
