// The `sluice` command-line tool as a library call, so an application can ship its own `sluice`
// that also runs the projections it links in:
//
//   int main(int argc, char** argv) {
//     sluice::ProjectionRegistry registry;  // holds the built-ins
//     sluice::Status added = registry.Add("order-summary", NewOrderSummaryProjection);
//     if (!added.ok()) return 1;
//     return sluice::cli::RunCli(argc, argv, registry);
//   }
//
// Every command prints JSON lines on standard output and "error: ..." on standard error; run
// `sluice --help` for the commands and `sluice <command> --help` for each one.
#pragma once

#include "sluice/projections/projection_registry.h"

namespace sluice::cli {

// Parses `argv` and runs one command. `project`, `dlq replay` and `rebuild` take their projections
// from `registry` (the built-ins "stream-index" and "type-counts" when defaulted). Returns the
// process exit code: 0 success (and --help), 1 failure, 2 bad usage or input, 3 wrong expected
// version (append). Never throws: an unexpected exception is reported and returns 1.
// `project` installs SIGINT/SIGTERM handlers while it runs (they end it cleanly) and restores the
// previous ones; `read-all --follow` blocks those signals in the calling thread.
int RunCli(int argc, char** argv, const ProjectionRegistry& registry = ProjectionRegistry());

}  // namespace sluice::cli
