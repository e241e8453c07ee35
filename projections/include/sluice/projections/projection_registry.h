// Projections by name, so tools and worker processes (`sluice project`) can run the ones an
// application links in. Starts with the built-ins (builtin_projections.h).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/status.h"
#include "sluice/projections/projection.h"

namespace sluice {

class ProjectionRegistry {
 public:
  using Factory = std::function<std::shared_ptr<Projection>()>;

  // A registry holding "stream-index" and "type-counts".
  ProjectionRegistry();

  // InvalidArgument if `name` is taken or not a valid projection name.
  Status Add(std::string name, Factory factory);
  // A new instance of the named projection; NotFound (listing the known names) if none.
  Result<std::shared_ptr<Projection>> Create(const std::string& name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, Factory> factories_;
};

}  // namespace sluice
