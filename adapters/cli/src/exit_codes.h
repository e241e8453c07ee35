// Exit codes of the `sluice` tool; scripts rely on them, so they never change meaning.
#pragma once

namespace sluice::cli {

inline constexpr int kExitOk = 0;
// Anything not covered below: the store is locked by another writer, missing, damaged (`check`
// found problems), a stream to read does not exist, an I/O error.
inline constexpr int kExitFailure = 1;
// Bad usage or bad input (unknown command or flag, bad number, invalid JSON line, bad stream id):
// nothing was written.
inline constexpr int kExitUsage = 2;
// `append`: the stream's version did not satisfy --expected; nothing was written.
inline constexpr int kExitWrongExpectedVersion = 3;

}  // namespace sluice::cli
