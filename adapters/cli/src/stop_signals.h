// Ending long-running commands (`project`, `migrate tail`) cleanly on SIGINT or SIGTERM.
#pragma once

#include <signal.h>

#include <atomic>

namespace sluice::cli {

// Installs SIGINT/SIGTERM handlers that set a flag, for its lifetime, and restores the previous
// handlers afterwards. One at a time per process.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Becomes true when SIGINT or SIGTERM arrived since construction.
  const std::atomic<bool>* flag() const;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace sluice::cli
