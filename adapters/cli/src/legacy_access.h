// What the migration commands share: the --tables list, opening --legacy, checking capture, and
// the exit code of an error, with the tool's error reporting.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/migration/legacy_source.h"

namespace sluice::cli {

// The table names of --tables, or empty after reporting a malformed list (exit 2).
std::vector<std::string> SplitTables(const std::string& text);

// Opens the legacy database of --legacy. On failure reports it and sets `*exit_code` (2 for a bad
// URL, 1 otherwise).
std::unique_ptr<migration::LegacySource> OpenLegacy(const std::string& url, int* exit_code);

// False (after reporting it, with `*exit_code` set) unless capture is installed for every table.
// `why` is added to the message when capture is missing.
bool CheckCaptured(migration::LegacySource& source, const std::vector<std::string>& tables,
                   int* exit_code, const std::string& why = "");

// 2 for InvalidArgument (the user's input), 1 for every other error.
int ExitCodeOf(const Status& status);

}  // namespace sluice::cli
