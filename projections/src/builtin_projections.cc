#include "sluice/projections/builtin_projections.h"

namespace sluice {
namespace {

std::int64_t Int(const Value& value) {
  const std::int64_t* number = std::get_if<std::int64_t>(&value);
  return number != nullptr ? *number : 0;
}

class StreamIndexProjection final : public Projection {
 public:
  std::string Name() const override { return "stream-index"; }
  std::vector<TableSchema> Tables() const override {
    return {{"stream-index",
             {{"stream", ColumnType::kText}},
             {{"version", ColumnType::kInteger},
              {"event_count", ColumnType::kInteger},
              {"first_position", ColumnType::kInteger},
              {"last_position", ColumnType::kInteger},
              {"last_type", ColumnType::kText}}}};
  }

  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    Result<std::optional<Row>> row = tx.Get("stream-index", {event.stream});
    if (!row.ok()) return row.status();
    const auto position = static_cast<std::int64_t>(event.position);
    std::int64_t count = 1;
    std::int64_t first = position;
    if (row->has_value()) {
      count = Int((**row)[2]) + 1;
      first = Int((**row)[3]);
    }
    return tx.Put("stream-index",
                  {event.stream, std::int64_t{event.version}, count, first, position, event.type});
  }
};

class TypeCountsProjection final : public Projection {
 public:
  std::string Name() const override { return "type-counts"; }
  std::vector<TableSchema> Tables() const override {
    return {{"type-counts", {{"type", ColumnType::kText}}, {{"count", ColumnType::kInteger}}}};
  }

  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    Result<std::optional<Row>> row = tx.Get("type-counts", {event.type});
    if (!row.ok()) return row.status();
    std::int64_t count = row->has_value() ? Int((**row)[1]) + 1 : 1;
    return tx.Put("type-counts", {event.type, count});
  }
};

}  // namespace

std::shared_ptr<Projection> NewStreamIndexProjection() {
  return std::make_shared<StreamIndexProjection>();
}

std::shared_ptr<Projection> NewTypeCountsProjection() {
  return std::make_shared<TypeCountsProjection>();
}

}  // namespace sluice
