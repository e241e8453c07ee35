#include "legacy_access.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "exit_codes.h"
#include "output.h"
#include "sluice/migration/legacy_url.h"

namespace sluice::cli {

std::vector<std::string> SplitTables(const std::string& text) {
  std::vector<std::string> tables;
  std::set<std::string> seen;
  std::stringstream in(text);
  std::string name;
  bool bad = text.empty() || text.back() == ',';
  while (!bad && std::getline(in, name, ',')) {
    bad = name.empty() || !seen.insert(name).second;
    tables.push_back(name);
  }
  if (bad) {
    PrintError("--tables: '" + text + "' is not a comma-separated list of distinct table names");
    return {};
  }
  return tables;
}

std::unique_ptr<migration::LegacySource> OpenLegacy(const std::string& url, int* exit_code) {
  Result<std::unique_ptr<migration::LegacySource>> source = migration::OpenLegacySource(url);
  if (!source.ok()) {
    const bool usage = source.status().code() == StatusCode::kInvalidArgument;
    PrintError(usage ? "--legacy" : "cannot open legacy database", source.status());
    *exit_code = usage ? kExitUsage : kExitFailure;
    return nullptr;
  }
  return std::move(source).value();
}

bool CheckCaptured(migration::LegacySource& source, const std::vector<std::string>& tables,
                   int* exit_code, const std::string& why) {
  Result<migration::SourceDescription> description = source.Describe();
  if (!description.ok()) {
    PrintError("describe", description.status());
    *exit_code = kExitFailure;
    return false;
  }
  for (const std::string& table : tables) {
    if (std::find(description->tables.begin(), description->tables.end(), table) ==
        description->tables.end()) {
      PrintError("--tables: capture is not installed for '" + table +
                 "' (run sluice migrate install)" + why);
      *exit_code = kExitUsage;
      return false;
    }
  }
  return true;
}

int ExitCodeOf(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace sluice::cli
