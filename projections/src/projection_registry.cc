#include "sluice/projections/projection_registry.h"

#include "sluice/projections/builtin_projections.h"
#include "system_tables.h"

namespace sluice {

ProjectionRegistry::ProjectionRegistry() {
  factories_["stream-index"] = NewStreamIndexProjection;
  factories_["type-counts"] = NewTypeCountsProjection;
}

Status ProjectionRegistry::Add(std::string name, Factory factory) {
  SLUICE_RETURN_IF_ERROR(projection_internal::ValidateProjectionName(name));
  if (!factory) return Status::InvalidArgument("projection " + name + " has no factory");
  if (factories_.count(name) != 0) {
    return Status::InvalidArgument("projection " + name + " is already registered");
  }
  factories_.emplace(std::move(name), std::move(factory));
  return Status::Ok();
}

Result<std::shared_ptr<Projection>> ProjectionRegistry::Create(const std::string& name) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [each, factory] : factories_) known += (known.empty() ? "" : ", ") + each;
    return Status::NotFound("no projection named '" + name + "' (known: " + known + ")");
  }
  std::shared_ptr<Projection> projection = it->second();
  if (projection == nullptr) return Status::InvalidArgument("projection " + name + ": null");
  if (projection->Name() != name) {
    return Status::InvalidArgument("projection registered as '" + name + "' names itself '" +
                                   projection->Name() + "'");
  }
  return projection;
}

std::vector<std::string> ProjectionRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories_) names.push_back(name);
  return names;
}

}  // namespace sluice
