// `sluice watch`: the sync watcher.
#include "commands.h"
#include "exit_codes.h"
#include "output.h"

namespace sluice::cli {

int RunWatch(const WatchFlags&) {
  PrintError("watch: not implemented yet");
  return kExitFailure;
}

}  // namespace sluice::cli
