// The `sluice` command line: parses arguments with CLI11 and runs one command.
#pragma once

namespace sluice::cli {

// Returns the process exit code: 0 for --help, 2 for any usage error (CLI11's own exit codes are
// not used), otherwise the command's code (exit_codes.h).
int RunCli(int argc, char** argv);

}  // namespace sluice::cli
