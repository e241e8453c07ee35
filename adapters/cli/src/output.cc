#include "output.h"

#include <iostream>

namespace sluice::cli {

std::string JsonText(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void PrintJsonLine(const nlohmann::ordered_json& value, bool flush) {
  std::cout << JsonText(value) << '\n';
  if (flush) std::cout.flush();
}

bool FinishOutput() {
  std::cout.flush();
  if (std::cout.good()) return true;
  PrintError("writing to standard output failed");
  return false;
}

void PrintError(std::string_view message) { std::cerr << "error: " << message << std::endl; }

void PrintError(std::string_view context, const Status& status) {
  std::cerr << "error: " << context << ": " << status.message() << std::endl;
}

}  // namespace sluice::cli
