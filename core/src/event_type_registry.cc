#include "sluice/core/event_type_registry.h"

namespace sluice {

Status ValidateEventTypeName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("event type name is empty");
  if (name.size() > 200) return Status::InvalidArgument("event type name is longer than 200 bytes");
  for (char c : name) {
    if (c <= ' ' || c > '~') {
      return Status::InvalidArgument("event type name '" + std::string(name) +
                                     "' has a character outside printable ASCII");
    }
  }
  const std::size_t dot = name.rfind(".v");
  if (dot == std::string_view::npos || dot == 0 || dot + 2 == name.size() ||
      name.find_first_not_of("0123456789", dot + 2) != std::string_view::npos) {
    return Status::InvalidArgument("event type name '" + std::string(name) +
                                   "' must end in a version, e.g. 'bank.MoneyDeposited.v1'");
  }
  return Status::Ok();
}

std::string DescribeEvent(const RecordedEvent& event) {
  return "event at position " + std::to_string(event.position) + " (stream '" + event.stream +
         "', version " + std::to_string(event.version) + ", type '" + event.type + "')";
}

Status EventTypeRegistry::RegisterName(std::type_index type, std::string type_name) {
  SLUICE_RETURN_IF_ERROR(ValidateEventTypeName(type_name));
  std::unique_lock lock(mu_);
  if (auto it = names_.find(type); it != names_.end()) {
    if (it->second == type_name) return Status::Ok();
    return Status::InvalidArgument("C++ type already registered as '" + it->second +
                                   "', cannot also be '" + type_name + "'");
  }
  if (types_.contains(type_name)) {
    return Status::InvalidArgument("event type name '" + type_name +
                                   "' is already registered for another C++ type");
  }
  names_.emplace(type, type_name);
  types_.emplace(std::move(type_name), type);
  return Status::Ok();
}

Result<std::string> EventTypeRegistry::NameOf(std::type_index type) const {
  std::shared_lock lock(mu_);
  auto it = names_.find(type);
  if (it == names_.end()) {
    return Status::NotFound(std::string("event type not registered: ") + type.name());
  }
  return it->second;
}

bool EventTypeRegistry::IsRegistered(std::string_view type_name) const {
  std::shared_lock lock(mu_);
  return types_.contains(std::string(type_name));
}

Status EventTypeRegistry::CheckType(std::type_index type, const RecordedEvent& event) const {
  std::shared_lock lock(mu_);
  auto it = types_.find(event.type);
  if (it == types_.end()) {
    return Status::InvalidArgument("unknown event type: " + DescribeEvent(event));
  }
  if (it->second != type) {
    return Status::InvalidArgument("event type '" + event.type +
                                   "' is registered for another C++ type (" + DescribeEvent(event) +
                                   ")");
  }
  return Status::Ok();
}

}  // namespace sluice
