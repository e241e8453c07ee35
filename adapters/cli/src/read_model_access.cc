#include "read_model_access.h"

#include "arguments.h"
#include "output.h"
#include "sluice/cli/read_model_url.h"

namespace sluice::cli {

bool CheckReadModelUrl(const std::string& url) {
  Result<ReadModelUrl> parsed = ParseReadModelUrl(url);
  if (parsed.ok()) return true;
  PrintError("--read-model", parsed.status());
  return false;
}

std::unique_ptr<ReadModelStore> OpenExistingReadModel(const std::string& url, bool* missing) {
  *missing = false;
  OpenReadModelOptions options;
  options.create_if_missing = false;
  Result<std::unique_ptr<ReadModelStore>> store = OpenReadModel(url, options);
  if (store.ok()) return std::move(store).value();
  if (store.status().IsNotFound()) {
    *missing = true;
    return nullptr;
  }
  PrintError("cannot open read model '" + RedactedReadModelUrl(url) + "'", store.status());
  return nullptr;
}

std::unique_ptr<ReadModelStore> OpenReadModelForWriting(const std::string& url) {
  Result<std::unique_ptr<ReadModelStore>> store = OpenReadModel(url);
  if (store.ok()) return std::move(store).value();
  PrintError("cannot open read model '" + RedactedReadModelUrl(url) + "'", store.status());
  return nullptr;
}

std::shared_ptr<Projection> CreateProjection(const ProjectionRegistry& registry,
                                             const std::string& name) {
  Result<std::shared_ptr<Projection>> projection = registry.Create(name);
  if (!projection.ok()) {
    PrintError("--projection", projection.status());
    return nullptr;
  }
  if ((*projection)->Name() != name) {
    PrintError("--projection: the projection registered as " + name + " calls itself " +
               (*projection)->Name());
    return nullptr;
  }
  return std::move(projection).value();
}

std::optional<std::int64_t> ParseBoundedFlag(const char* flag,
                                             const std::optional<std::string>& text,
                                             std::int64_t fallback, std::int64_t min,
                                             std::int64_t max) {
  if (!text) return fallback;
  Result<std::int64_t> value = ParseNonNegative(flag, *text);
  if (!value.ok()) {
    PrintError(value.status().message());
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    PrintError(std::string(flag) + ": " + *text + " is not between " + std::to_string(min) +
               " and " + std::to_string(max));
    return std::nullopt;
  }
  return *value;
}

}  // namespace sluice::cli
