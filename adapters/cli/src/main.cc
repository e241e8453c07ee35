// sluice: append to, read and inspect a Sluice event store and run projections from the shell, with
// the built-in projections. Run `sluice --help`. Applications that want their own projections
// build the same tool around sluice::cli::RunCli (sluice/cli/cli.h).
#include "sluice/cli/cli.h"

int main(int argc, char** argv) { return sluice::cli::RunCli(argc, argv); }
