#include "sluice/migration/schema_event.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"

namespace sluice::migration {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kSchemaIdNamespace = "sluice.migration.schema-event";
// Events read per page when looking back for the newest schema event (truncates sit between).
constexpr std::size_t kPage = 64;

constexpr LogicalType kAllTypes[] = {
    LogicalType::kInteger, LogicalType::kReal, LogicalType::kDecimal,   LogicalType::kBoolean,
    LogicalType::kText,    LogicalType::kBlob, LogicalType::kTimestamp, LogicalType::kTimestampTz,
    LogicalType::kDate,    LogicalType::kOther};

std::optional<LogicalType> LogicalTypeNamed(std::string_view name) {
  for (LogicalType type : kAllTypes) {
    if (LogicalTypeName(type) == name) return type;
  }
  return std::nullopt;
}

// The newest schema event of the stream, undecoded; nullopt when there is none.
Result<std::optional<RecordedEvent>> NewestSchemaEvent(EventStore& store, std::string_view table) {
  Result<StreamId> stream = StreamId::Make(SchemaStream(table));
  if (!stream.ok()) return stream.status();
  const std::string type = SchemaEventType(table);
  StreamVersion from = kStreamEnd;
  while (true) {
    Result<std::vector<RecordedEvent>> page =
        store.ReadStream(*stream, from, kPage, Direction::kBackward);
    if (!page.ok()) {
      if (page.status().IsNotFound()) return std::optional<RecordedEvent>();
      return page.status();
    }
    for (RecordedEvent& event : *page) {
      if (event.type == type) return std::optional<RecordedEvent>(std::move(event));
    }
    if (page->size() < kPage || page->back().version == 0) return std::optional<RecordedEvent>();
    from = page->back().version - 1;
  }
}

}  // namespace

std::string SchemaStream(std::string_view table) { return std::string(table) + ".schema"; }

std::string SchemaEventType(std::string_view table) {
  return std::string(table) + ".SchemaCaptured.v1";
}

std::string EncodeSchema(const LegacyTable& table) {
  Json payload;
  payload["table"] = table.name;
  Json columns = Json::array();
  for (const LegacyColumn& column : table.columns) {
    Json entry;
    entry["name"] = column.name;
    entry["declared_type"] = column.declared_type;
    entry["type"] = std::string(LogicalTypeName(column.type));
    columns.push_back(std::move(entry));
  }
  payload["columns"] = std::move(columns);
  Json key = Json::array();
  for (std::size_t index : table.key) {
    key.push_back(index < table.columns.size() ? table.columns[index].name : std::string());
  }
  payload["key"] = std::move(key);
  return payload.dump();
}

Result<LegacyTable> DecodeSchema(std::string_view payload) {
  try {
    const Json document = Json::parse(payload);
    if (!document.is_object() || !document.contains("table") || !document["table"].is_string() ||
        !document.contains("columns") || !document["columns"].is_array() ||
        !document.contains("key") || !document["key"].is_array()) {
      return Status::Corruption("schema event: expected {\"table\", \"columns\", \"key\"}");
    }
    LegacyTable table;
    table.name = document["table"].get<std::string>();
    for (const Json& entry : document["columns"]) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
          !entry.contains("declared_type") || !entry["declared_type"].is_string() ||
          !entry.contains("type") || !entry["type"].is_string()) {
        return Status::Corruption("schema event of " + table.name +
                                  ": a column needs \"name\", \"declared_type\" and \"type\"");
      }
      LegacyColumn column;
      column.name = entry["name"].get<std::string>();
      column.declared_type = entry["declared_type"].get<std::string>();
      const std::string type_name = entry["type"].get<std::string>();
      std::optional<LogicalType> type = LogicalTypeNamed(type_name);
      if (!type) {
        return Status::Corruption("schema event of " + table.name + ": unknown logical type '" +
                                  type_name + "'");
      }
      column.type = *type;
      table.columns.push_back(std::move(column));
    }
    for (const Json& name : document["key"]) {
      std::size_t index = table.columns.size();
      if (name.is_string()) {
        for (std::size_t i = 0; i < table.columns.size(); ++i) {
          if (table.columns[i].name == name.get<std::string>()) index = i;
        }
      }
      if (index == table.columns.size()) {
        return Status::Corruption("schema event of " + table.name + ": key column " + name.dump() +
                                  " is not one of its columns");
      }
      table.key.push_back(index);
    }
    if (table.key.empty()) {
      return Status::Corruption("schema event of " + table.name + ": no key columns");
    }
    return table;
  } catch (const Json::exception& e) {
    return Status::Corruption(std::string("schema event: ") + e.what());
  }
}

Result<std::optional<LegacyTable>> LoadSchema(EventStore& store, std::string_view table) {
  Result<std::optional<RecordedEvent>> newest = NewestSchemaEvent(store, table);
  if (!newest.ok()) return newest.status();
  if (!newest->has_value()) return std::optional<LegacyTable>();
  Result<LegacyTable> decoded = DecodeSchema((*newest)->payload);
  if (!decoded.ok()) {
    return decoded.status().WithContext("stream " + SchemaStream(table) + " version " +
                                        std::to_string((*newest)->version));
  }
  return std::optional<LegacyTable>(std::move(*decoded));
}

Result<bool> AppendSchemaIfChanged(EventStore& store, const LegacyTable& table,
                                   std::string_view source_id, bool sync) {
  Result<StreamId> stream = StreamId::Make(SchemaStream(table.name));
  if (!stream.ok()) {
    return stream.status().WithContext("the schema stream of legacy table '" + table.name + "'");
  }
  Result<std::optional<RecordedEvent>> newest = NewestSchemaEvent(store, table.name);
  if (!newest.ok()) return newest.status();
  const std::string payload = EncodeSchema(table);
  if (newest->has_value() && (*newest)->payload == payload) return false;
  EventData event;
  event.type = SchemaEventType(table.name);
  event.content_type = ContentType::kJson;
  event.payload = payload;
  event.event_id = DeriveUuid(kSchemaIdNamespace,
                              std::string(source_id) + "\n" + table.name + "\n" + payload + "\n" +
                                  (newest->has_value() ? (*newest)->event_id : std::string()));
  event.metadata.extra["source"] = "migration:" + std::string(source_id);
  std::vector<EventData> events;
  events.push_back(std::move(event));
  AppendOptions options;
  options.sync = sync;
  Result<AppendResult> appended =
      store.Append(*stream, ExpectedVersion::Any(), std::move(events), options);
  if (!appended.ok()) return appended.status();
  return !appended->repeated;
}

}  // namespace sluice::migration
