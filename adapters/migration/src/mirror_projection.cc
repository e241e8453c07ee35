#include "sluice/migration/mirror_projection.h"

#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "sluice/migration/schema_event.h"
#include "typed_json.h"

namespace sluice::migration {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxProjectionName = 64;

class MirrorProjection final : public Projection {
 public:
  MirrorProjection(LegacyTable legacy, TableSchema schema)
      : legacy_(std::move(legacy)),
        schema_(std::move(schema)),
        inserted_(legacy_.name + ".RowInserted.v1"),
        updated_(legacy_.name + ".RowUpdated.v1"),
        deleted_(legacy_.name + ".RowDeleted.v1"),
        truncated_(legacy_.name + ".TableTruncated.v1"),
        schema_type_(SchemaEventType(legacy_.name)) {
    for (std::size_t i = 0; i < schema_.width(); ++i) {
      const Column& column =
          i < schema_.key.size() ? schema_.key[i] : schema_.columns[i - schema_.key.size()];
      index_of_[column.name] = i;
    }
  }

  std::string Name() const override { return MirrorProjectionName(legacy_.name); }
  std::vector<TableSchema> Tables() const override { return {schema_}; }
  EventFilter Filter() const override {
    EventFilter filter;
    filter.types = {inserted_, updated_, deleted_, truncated_, schema_type_};
    return filter;
  }

  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    if (event.type == schema_type_) return Status::Ok();
    if (event.type == truncated_) return Truncate(tx);
    const bool put = event.type == inserted_ || event.type == updated_;
    if (!put && event.type != deleted_) return Status::Ok();
    Json payload;
    try {
      payload = Json::parse(event.payload);
    } catch (const Json::exception& e) {
      return Status::InvalidArgument(std::string("mirror event payload is not JSON: ") + e.what());
    }
    const char* part = put ? "row" : "key";
    if (!payload.is_object() || !payload.contains(part) || !payload[part].is_object()) {
      return Status::InvalidArgument(std::string("mirror event payload has no \"") + part +
                                     "\" object");
    }
    std::string object;
    try {
      object = payload[part].dump();
    } catch (const Json::exception& e) {
      return Status::InvalidArgument(std::string("mirror event payload: ") + e.what());
    }
    Result<std::vector<std::pair<std::string, Value>>> values = ValuesOfTypedJson(object);
    if (!values.ok()) return values.status();
    const std::size_t width = put ? schema_.width() : schema_.key.size();
    Row row(width);
    for (auto& [name, value] : *values) {
      auto found = index_of_.find(name);
      if (found == index_of_.end()) {
        return Status::InvalidArgument("column '" + name + "' of legacy table " + legacy_.name +
                                       " is not in its captured schema (the table changed after "
                                       "the mirror read it: restart the mirror)");
      }
      if (found->second >= width) continue;  // a key object holds key columns only
      const Column& column = found->second < schema_.key.size()
                                 ? schema_.key[found->second]
                                 : schema_.columns[found->second - schema_.key.size()];
      Result<Value> converted = ToReadModelValue(value, column.type);
      if (!converted.ok()) {
        return converted.status().WithContext("column '" + name + "' of " + legacy_.name);
      }
      row[found->second] = std::move(*converted);
    }
    if (put) return tx.Put(legacy_.name, std::move(row));
    return tx.Delete(legacy_.name, row);
  }

 private:
  Status Truncate(ReadModelTransaction& tx) {
    // The worker hands its batch over as the transaction: dropping and creating the table in it
    // empties the table atomically with the other events of the batch.
    auto* batch = dynamic_cast<ReadModelBatch*>(&tx);
    if (batch == nullptr) {
      return Status::InvalidArgument(
          "a TRUNCATE of " + legacy_.name +
          " can only be applied by a projection worker (not by Rebuild): drop the read-model "
          "table and reset the projection instead");
    }
    SLUICE_RETURN_IF_ERROR(batch->DropTable(schema_.name));
    return batch->CreateTable(schema_);
  }

  const LegacyTable legacy_;
  const TableSchema schema_;
  const std::string inserted_;
  const std::string updated_;
  const std::string deleted_;
  const std::string truncated_;
  const std::string schema_type_;
  std::map<std::string, std::size_t> index_of_;  // column name -> index in a row
};

}  // namespace

std::string MirrorProjectionName(std::string_view table) { return "mirror." + std::string(table); }

Result<TableSchema> MirrorTableSchema(const LegacyTable& table) {
  TableSchema schema;
  schema.name = table.name;
  std::vector<bool> is_key(table.columns.size(), false);
  for (std::size_t index : table.key) {
    if (index >= table.columns.size()) {
      return Status::InvalidArgument("legacy table " + table.name +
                                     ": a key column index is out of range");
    }
    is_key[index] = true;
    schema.key.push_back({table.columns[index].name, ReadModelTypeOf(table.columns[index].type)});
  }
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (!is_key[i]) {
      schema.columns.push_back({table.columns[i].name, ReadModelTypeOf(table.columns[i].type)});
    }
  }
  if (Status s = ValidateSchema(schema); !s.ok()) {
    return s.WithContext("legacy table '" + table.name + "' cannot be mirrored");
  }
  return schema;
}

Result<std::shared_ptr<Projection>> MakeMirrorProjection(const LegacyTable& table) {
  Result<TableSchema> schema = MirrorTableSchema(table);
  if (!schema.ok()) return schema.status();
  const std::string name = MirrorProjectionName(table.name);
  if (name.size() > kMaxProjectionName) {
    return Status::InvalidArgument("legacy table '" + table.name +
                                   "' cannot be mirrored: its projection name " + name +
                                   " is longer than 64 bytes");
  }
  return std::shared_ptr<Projection>(std::make_shared<MirrorProjection>(table, *schema));
}

Result<std::vector<std::shared_ptr<Projection>>> MakeMirrorProjections(
    EventStore& store, const std::vector<std::string>& tables) {
  std::vector<std::shared_ptr<Projection>> projections;
  for (const std::string& table : tables) {
    Result<std::optional<LegacyTable>> schema = LoadSchema(store, table);
    if (!schema.ok()) return schema.status();
    if (!schema->has_value()) {
      return Status::NotFound("no schema event of legacy table '" + table + "' in the store (" +
                              SchemaStream(table) +
                              "): run sluice migrate tail or backfill for it first");
    }
    Result<std::shared_ptr<Projection>> projection = MakeMirrorProjection(**schema);
    if (!projection.ok()) return projection.status();
    projections.push_back(std::move(*projection));
  }
  return projections;
}

}  // namespace sluice::migration
