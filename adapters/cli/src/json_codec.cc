#include "json_codec.h"

#include <string>
#include <utility>

#include "sluice/core/append_rules.h"
#include "sluice/core/base64.h"
#include "sluice/core/uuid.h"

namespace sluice::cli {
namespace {

using nlohmann::json;

// Deeper JSON is refused on input and printed as base64 on output: nlohmann parses iteratively but
// dumps recursively, so unbounded nesting could exhaust the stack.
constexpr int kMaxNesting = 1000;

// The deepest nesting of arrays and objects in `text`, counting brackets outside strings; stops
// counting past kMaxNesting. Text that is not JSON gives some number; the parser judges it.
int NestingDepth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > kMaxNesting) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::string CompactText(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::strict);
}

std::string StringOrText(const json& value) {
  return value.is_string() ? value.get<std::string>() : CompactText(value);
}

Status ParseMetadata(const json& metadata, Metadata* out) {
  if (metadata.is_null()) return Status::Ok();
  if (!metadata.is_object()) return Status::InvalidArgument("\"metadata\" must be an object");
  for (const auto& [key, value] : metadata.items()) {
    if (key == "correlation_id") {
      out->correlation_id = StringOrText(value);
    } else if (key == "causation_id") {
      out->causation_id = StringOrText(value);
    } else {
      out->extra[key] = StringOrText(value);
    }
  }
  return Status::Ok();
}

Status ParsePayload(const json& line, EventData* out) {
  const auto data = line.find("data");
  const auto data_base64 = line.find("data_base64");
  if (data != line.end() && data_base64 != line.end()) {
    return Status::InvalidArgument("give either \"data\" or \"data_base64\", not both");
  }
  if (data_base64 != line.end()) {
    if (!data_base64->is_string()) {
      return Status::InvalidArgument("\"data_base64\" must be a string");
    }
    std::optional<std::string> bytes = Base64Decode(data_base64->get<std::string>());
    if (!bytes) return Status::InvalidArgument("\"data_base64\" is not valid base64");
    out->content_type = ContentType::kBinary;
    out->payload = std::move(*bytes);
    return Status::Ok();
  }
  out->content_type = ContentType::kJson;
  out->payload = data != line.end() ? CompactText(*data) : "{}";
  return Status::Ok();
}

}  // namespace

Result<EventData> ParseEventLine(std::string_view line) {
  if (NestingDepth(line) > kMaxNesting) {
    return Status::InvalidArgument("nested deeper than " + std::to_string(kMaxNesting) + " levels");
  }
  json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Status::InvalidArgument("not valid JSON");
  if (!parsed.is_object()) return Status::InvalidArgument("not a JSON object");

  EventData event;
  const auto type = parsed.find("type");
  if (type == parsed.end()) return Status::InvalidArgument("\"type\" is missing");
  if (!type->is_string()) return Status::InvalidArgument("\"type\" must be a string");
  event.type = type->get<std::string>();
  // The store's own rule, checked here so that bad input never opens the store.
  SLUICE_RETURN_IF_ERROR(ValidateStoredTypeName(event.type));

  const auto id = parsed.find("id");
  if (id != parsed.end() && !id->is_null()) {
    if (!id->is_string()) return Status::InvalidArgument("\"id\" must be a UUID string");
    std::optional<UuidBytes> uuid = ParseUuid(id->get<std::string>());
    if (!uuid) {
      return Status::InvalidArgument("\"id\" is not a UUID: '" + id->get<std::string>() + "'");
    }
    event.event_id = FormatUuid(*uuid);
  }

  SLUICE_RETURN_IF_ERROR(ParsePayload(parsed, &event));
  if (const auto metadata = parsed.find("metadata"); metadata != parsed.end()) {
    SLUICE_RETURN_IF_ERROR(ParseMetadata(*metadata, &event.metadata));
  }
  return event;
}

nlohmann::ordered_json RecordedEventToJson(const RecordedEvent& event) {
  nlohmann::ordered_json out;
  out["position"] = event.position;
  out["stream"] = event.stream;
  out["version"] = event.version;
  out["id"] = event.event_id;
  out["type"] = event.type;
  bool data_done = false;
  if (event.content_type == ContentType::kJson && NestingDepth(event.payload) <= kMaxNesting) {
    nlohmann::ordered_json data =
        nlohmann::ordered_json::parse(event.payload, nullptr, /*allow_exceptions=*/false);
    if (!data.is_discarded()) {
      out["data"] = std::move(data);
      data_done = true;
    }
  }
  if (!data_done) out["data_base64"] = Base64Encode(event.payload);
  nlohmann::ordered_json metadata = nlohmann::ordered_json::object();
  if (!event.metadata.correlation_id.empty()) {
    metadata["correlation_id"] = event.metadata.correlation_id;
  }
  if (!event.metadata.causation_id.empty()) metadata["causation_id"] = event.metadata.causation_id;
  for (const auto& [key, value] : event.metadata.extra) metadata[key] = value;
  out["metadata"] = std::move(metadata);
  out["recorded_at"] = event.recorded_at_us;
  return out;
}

nlohmann::ordered_json ProjectionReportToJson(const ProjectionReport& report) {
  nlohmann::ordered_json out;
  out["name"] = report.name;
  out["checkpoint"] = report.checkpoint;
  out["head"] = report.head;
  out["lag"] = report.lag_events;
  out["state"] = std::string(ProjectionStateName(report.state));
  out["parked"] = report.parked;
  out["partitions"] = report.partitions;
  if (!report.error.empty()) out["error"] = report.error;
  return out;
}

}  // namespace sluice::cli
