#include "sluice/core/upcaster.h"

#include "sluice/core/uuid.h"

namespace sluice {
namespace {

constexpr int kMaxSteps = 16;

}  // namespace

Status Upcasters::AddRaw(std::string from_type, Fn fn) {
  if (from_type.empty()) return Status::InvalidArgument("upcaster for an empty type name");
  if (chain_.contains(from_type)) {
    return Status::InvalidArgument("type '" + from_type + "' already has an upcaster");
  }
  chain_.emplace(std::move(from_type), std::move(fn));
  return Status::Ok();
}

Status Upcasters::Rename(std::string from_type, std::string to_type) {
  return AddRaw(
      std::move(from_type),
      [to = std::move(to_type)](const RecordedEvent& e) -> Result<std::vector<RecordedEvent>> {
        RecordedEvent out = e;
        out.type = to;
        return std::vector<RecordedEvent>{std::move(out)};
      });
}

Result<std::vector<RecordedEvent>> Upcasters::Apply(const RecordedEvent& event) const {
  std::vector<RecordedEvent> current{event};
  if (chain_.empty()) return current;
  for (int step = 0; step < kMaxSteps; ++step) {
    bool changed = false;
    std::vector<RecordedEvent> next;
    next.reserve(current.size());
    for (RecordedEvent& e : current) {
      auto it = chain_.find(e.type);
      if (it == chain_.end()) {
        next.push_back(std::move(e));
        continue;
      }
      changed = true;
      Result<std::vector<RecordedEvent>> replaced = [&]() -> Result<std::vector<RecordedEvent>> {
        try {
          return it->second(e);
        } catch (const std::exception& ex) {
          return Status::Corruption("upcaster for " + DescribeEvent(e) + " threw: " + ex.what());
        }
      }();
      if (!replaced.ok()) {
        if (replaced.status().code() == StatusCode::kCorruption) return replaced.status();
        return Status::Corruption("upcaster for " + DescribeEvent(e) +
                                  " failed: " + replaced.status().ToString());
      }
      for (RecordedEvent& r : *replaced) next.push_back(std::move(r));
    }
    current = std::move(next);
    if (!changed) return current;
  }
  return Status::InvalidArgument("upcasters for " + DescribeEvent(event) + " loop (more than " +
                                 std::to_string(kMaxSteps) + " steps)");
}

Status Upcasters::ApplyAll(std::vector<RecordedEvent>* events) const {
  if (chain_.empty()) return Status::Ok();
  bool any = false;
  for (const RecordedEvent& e : *events) any = any || chain_.contains(e.type);
  if (!any) return Status::Ok();
  std::vector<RecordedEvent> out;
  out.reserve(events->size());
  for (const RecordedEvent& e : *events) {
    Result<std::vector<RecordedEvent>> applied = Apply(e);
    if (!applied.ok()) return applied.status();
    for (RecordedEvent& r : *applied) out.push_back(std::move(r));
  }
  *events = std::move(out);
  return Status::Ok();
}

}  // namespace sluice
