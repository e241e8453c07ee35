#include <nlohmann/json.hpp>

#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"
#include "sluice/migration/change_mapping.h"
#include "sluice/migration/schema_event.h"

namespace sluice::migration {
namespace {

using Json = nlohmann::ordered_json;

// Namespace of the UUIDs that stand in for stream keys too long for a stream name.
constexpr std::string_view kLongKeyNamespace = "sluice.migration.long-stream-key";

std::string_view TypeSuffix(ChangeOp op) {
  switch (op) {
    case ChangeOp::kInsert:
      return ".RowInserted.v1";
    case ChangeOp::kUpdate:
      return ".RowUpdated.v1";
    case ChangeOp::kDelete:
      return ".RowDeleted.v1";
    case ChangeOp::kTruncate:
      return ".TableTruncated.v1";
  }
  return ".Unknown.v1";
}

class Mirror final : public ChangeMapping {
 public:
  Result<std::optional<MappedChange>> Map(const Change& change) const override {
    if (change.op == ChangeOp::kTruncate) {
      // On the schema stream: ordered with the schema events, and one stream per table.
      MappedChange mapped;
      mapped.stream = SchemaStream(change.table);
      Json payload;
      payload["table"] = change.table;
      EventData event;
      event.type = change.table + std::string(TypeSuffix(change.op));
      event.content_type = ContentType::kJson;
      event.payload = payload.dump();
      mapped.events.push_back(std::move(event));
      return std::optional<MappedChange>(std::move(mapped));
    }
    Result<std::string> key = StreamKey(change.key_json);
    if (!key.ok()) return key.status();
    MappedChange mapped;
    mapped.stream = change.table + "-" + *key;
    if (mapped.stream.size() > StreamId::kMaxBytes) {
      mapped.stream = change.table + "-#" + DeriveUuid(kLongKeyNamespace, mapped.stream);
    }
    try {
      Json payload;
      payload["table"] = change.table;
      payload["key"] = Json::parse(change.key_json);
      if (change.op != ChangeOp::kDelete) payload["row"] = Json::parse(change.row_json);
      EventData event;
      event.type = change.table + std::string(TypeSuffix(change.op));
      event.content_type = ContentType::kJson;
      event.payload = payload.dump();
      mapped.events.push_back(std::move(event));
    } catch (const Json::exception& e) {
      return Status::InvalidArgument("change " + std::to_string(change.change_id) + ": " +
                                     e.what());
    }
    return std::optional<MappedChange>(std::move(mapped));
  }
};

}  // namespace

std::shared_ptr<const ChangeMapping> MirrorMapping() {
  static const auto mirror = std::make_shared<const Mirror>();
  return mirror;
}

Result<std::string> StreamKey(const std::string& key_json) {
  try {
    const Json key = Json::parse(key_json);
    if (!key.is_object() || key.empty()) {
      return Status::InvalidArgument("a key must be a non-empty JSON object: " + key_json);
    }
    std::string out;
    for (const auto& [column, value] : key.items()) {
      if (!out.empty()) out += ',';
      out += value.dump();
    }
    return out;
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string("bad key JSON: ") + e.what());
  }
}

}  // namespace sluice::migration
