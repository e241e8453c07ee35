// sluice: append to, read and inspect a Sluice event store from the shell. Run `sluice --help`.
#include <exception>
#include <iostream>

#include "cli_app.h"
#include "exit_codes.h"

int main(int argc, char** argv) {
  // No exception may end the process with a crash: report it and exit 1.
  try {
    return sluice::cli::RunCli(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error: internal error: " << e.what() << std::endl;
  } catch (...) {
    std::cerr << "error: internal error" << std::endl;
  }
  return sluice::cli::kExitFailure;
}
