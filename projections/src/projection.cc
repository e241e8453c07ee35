#include "sluice/projections/projection.h"

#include <algorithm>
#include <set>

#include "system_tables.h"

namespace sluice {
namespace {

class BuiltProjection final : public Projection {
 public:
  BuiltProjection(std::string name, std::vector<TableSchema> tables,
                  std::vector<std::pair<std::string, ProjectionBuilder::RawHandler>> handlers)
      : name_(std::move(name)), tables_(std::move(tables)), handlers_(std::move(handlers)) {
    std::sort(handlers_.begin(), handlers_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [type, handler] : handlers_) filter_.types.push_back(type);
  }

  std::string Name() const override { return name_; }
  std::vector<TableSchema> Tables() const override { return tables_; }
  EventFilter Filter() const override { return filter_; }

  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    auto it = std::lower_bound(
        handlers_.begin(), handlers_.end(), event.type,
        [](const auto& entry, const std::string& type) { return entry.first < type; });
    if (it == handlers_.end() || it->first != event.type) return Status::Ok();
    return it->second(event, tx);
  }

 private:
  std::string name_;
  std::vector<TableSchema> tables_;
  std::vector<std::pair<std::string, ProjectionBuilder::RawHandler>> handlers_;
  EventFilter filter_;
};

}  // namespace

bool EventFilter::Matches(const RecordedEvent& event) const {
  if (categories.empty() && types.empty()) return true;
  if (!types.empty() && std::find(types.begin(), types.end(), event.type) != types.end()) {
    return true;
  }
  if (categories.empty()) return false;
  std::string_view category = CategoryOf(event.stream);
  return std::find(categories.begin(), categories.end(), category) != categories.end();
}

ProjectionBuilder::ProjectionBuilder(std::string name,
                                     std::shared_ptr<const EventTypeRegistry> registry)
    : name_(std::move(name)), registry_(std::move(registry)) {
  error_ = projection_internal::ValidateProjectionName(name_);
}

ProjectionBuilder& ProjectionBuilder::Table(TableSchema schema) {
  if (error_.ok()) error_ = ValidateSchema(schema);
  if (error_.ok()) tables_.push_back(std::move(schema));
  return *this;
}

ProjectionBuilder& ProjectionBuilder::OnType(std::string type, RawHandler handler) {
  if (!error_.ok()) return *this;
  bool taken = std::any_of(handlers_.begin(), handlers_.end(),
                           [&](const auto& entry) { return entry.first == type; });
  if (type.empty() || taken || !handler) {
    error_ = Status::InvalidArgument("projection " + name_ + ": event type '" + type +
                                     "' is empty, handled twice or has no handler");
    return *this;
  }
  handlers_.emplace_back(std::move(type), std::move(handler));
  return *this;
}

Result<std::shared_ptr<Projection>> ProjectionBuilder::Build() {
  if (!error_.ok()) return error_;
  std::set<std::string> names;
  for (const TableSchema& table : tables_) {
    if (!names.insert(table.name).second) {
      return Status::InvalidArgument("projection " + name_ + ": table " + table.name +
                                     " declared twice");
    }
  }
  return std::shared_ptr<Projection>(std::make_shared<BuiltProjection>(name_, tables_, handlers_));
}

}  // namespace sluice
