// Opening the read model named by --read-model and finding projections, with the tool's error
// reporting and exit codes (shared by the projection commands).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sluice/projections/projection.h"
#include "sluice/projections/projection_registry.h"
#include "sluice/projections/read_model_store.h"

namespace sluice::cli {

// Checks the URL's form without opening anything; prints the problem and returns false (exit 2).
bool CheckReadModelUrl(const std::string& url);

// Opens an existing read model for looking at it: nothing is created. Sets *missing (and returns
// nullptr) when there is none, which the commands treat as an empty read model. On any other
// failure prints the reason and returns nullptr with *missing false (exit 1).
std::unique_ptr<ReadModelStore> OpenExistingReadModel(const std::string& url, bool* missing);

// Opens (creating if needed) the read model; prints the reason and returns nullptr on failure
// (exit 1).
std::unique_ptr<ReadModelStore> OpenReadModelForWriting(const std::string& url);

// The registry's projection `name`; prints the problem, listing the known names, and returns
// nullptr if there is none (exit 2).
std::shared_ptr<Projection> CreateProjection(const ProjectionRegistry& registry,
                                             const std::string& name);

// Parses an optional strictly decimal flag in [min, max]; prints the problem and returns nullopt
// if it is bad (exit 2). `fallback` when absent.
std::optional<std::int64_t> ParseBoundedFlag(const char* flag,
                                             const std::optional<std::string>& text,
                                             std::int64_t fallback, std::int64_t min,
                                             std::int64_t max);

}  // namespace sluice::cli
