#include "sluice/projections/reactor.h"

#include <map>

#include "system_tables.h"

namespace sluice {
namespace {

class Reactor final : public Projection {
 public:
  Reactor(std::string name, CommandBus& bus,
          std::map<std::string, ReactorBuilder::RawHandler, std::less<>> handlers)
      : name_(std::move(name)), bus_(bus), handlers_(std::move(handlers)) {
    for (const auto& [type, handler] : handlers_) filter_.types.push_back(type);
  }

  std::string Name() const override { return name_; }
  std::vector<TableSchema> Tables() const override { return {}; }
  EventFilter Filter() const override { return filter_; }

  Status Apply(const RecordedEvent& event, ReadModelTransaction&) override {
    auto it = handlers_.find(event.type);
    if (it == handlers_.end()) {
      return Status::InvalidArgument("reactor " + name_ + " has no reaction to event type '" +
                                     event.type + "' (" + DescribeEvent(event) + ")");
    }
    ReactionContext ctx(bus_, name_, event);
    return it->second(event, ctx).WithContext("reactor " + name_ + " on " + DescribeEvent(event));
  }

 private:
  std::string name_;
  CommandBus& bus_;
  std::map<std::string, ReactorBuilder::RawHandler, std::less<>> handlers_;
  EventFilter filter_;
};

}  // namespace

CommandMetadata CausedCommandMetadata(const RecordedEvent& event, std::string_view step,
                                      std::size_t index) {
  CommandMetadata metadata;
  metadata.command_id =
      DeriveUuid(event.event_id, std::string(step) + "/command-" + std::to_string(index));
  metadata.causation_id = event.event_id;
  metadata.correlation_id =
      event.metadata.correlation_id.empty() ? event.event_id : event.metadata.correlation_id;
  return metadata;
}

ReactorBuilder::ReactorBuilder(std::string name, CommandBus& bus,
                               std::shared_ptr<const EventTypeRegistry> registry)
    : name_(std::move(name)), bus_(bus), registry_(std::move(registry)) {}

ReactorBuilder& ReactorBuilder::OnType(std::string type, RawHandler handler) {
  if (!error_.ok()) return *this;
  if (!handler) {
    error_ = Status::InvalidArgument("reactor " + name_ + ": empty handler for " + type);
    return *this;
  }
  handlers_.emplace_back(std::move(type), std::move(handler));
  return *this;
}

Result<std::shared_ptr<Projection>> ReactorBuilder::Build() {
  if (!error_.ok()) return error_;
  SLUICE_RETURN_IF_ERROR(projection_internal::ValidateProjectionName(name_));
  if (handlers_.empty()) return Status::InvalidArgument("reactor " + name_ + " reacts to nothing");
  std::map<std::string, RawHandler, std::less<>> handlers;
  for (auto& [type, handler] : handlers_) {
    SLUICE_RETURN_IF_ERROR(ValidateEventTypeName(type));
    if (!handlers.emplace(type, handler).second) {
      return Status::InvalidArgument("reactor " + name_ + " handles " + type + " twice");
    }
  }
  return std::shared_ptr<Projection>(std::make_shared<Reactor>(name_, bus_, std::move(handlers)));
}

}  // namespace sluice
