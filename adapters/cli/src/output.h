// Where the tool writes: JSON to standard output (one document per line), diagnostics to standard
// error as "error: ...". Nothing else ever goes to standard output, so scripts can parse it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "sluice/core/status.h"

namespace sluice::cli {

// `value` as compact JSON text; bytes that are not UTF-8 (possible in type names or metadata
// written by other programs) become U+FFFD.
std::string JsonText(const nlohmann::ordered_json& value);

// Writes JsonText(value) and a newline; `flush` for live output (--follow).
void PrintJsonLine(const nlohmann::ordered_json& value, bool flush = false);

// Flushes standard output; false (after reporting it) if anything written to it was lost, e.g.
// a full disk.
bool FinishOutput();

// "error: <message>" on standard error.
void PrintError(std::string_view message);
// "error: <context>: <status message>" on standard error.
void PrintError(std::string_view context, const Status& status);

}  // namespace sluice::cli
