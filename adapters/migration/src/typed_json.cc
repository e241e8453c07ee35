#include "typed_json.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <variant>

#include "sluice/core/base64.h"

namespace sluice::migration {
namespace {

using Json = nlohmann::ordered_json;

Json NonFinite(const char* name) { return Json{{"$real", name}}; }

Result<Json> RealFromText(const std::string& text) {
  if (text == "Inf" || text == "+Inf") return NonFinite("Infinity");
  if (text == "-Inf") return NonFinite("-Infinity");
  if (text == "NaN") return NonFinite("NaN");
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) {
    return Status::Corruption("change log: bad real '" + text + "'");
  }
  if (std::isinf(value)) return NonFinite(value > 0 ? "Infinity" : "-Infinity");
  return Json(value);
}

Result<std::string> HexToBytes(const std::string& hex) {
  if (hex.size() % 2 != 0) return Status::Corruption("change log: bad blob hex");
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const std::string pair = hex.substr(i, 2);
    char* end = nullptr;
    const long value = std::strtol(pair.c_str(), &end, 16);
    if (end != pair.c_str() + 2) return Status::Corruption("change log: bad blob hex");
    bytes += static_cast<char>(value);
  }
  return bytes;
}

Result<Json> CanonicalValue(const Json& raw) {
  if (!raw.is_array() || raw.size() != 2 || !raw[0].is_string()) {
    return Status::Corruption("change log: malformed value " + raw.dump());
  }
  const std::string type = raw[0].get<std::string>();
  const Json& value = raw[1];
  if (type == "null") return Json(nullptr);
  if (type == "integer" && value.is_number_integer()) return value;
  if (type == "text" && value.is_string()) return value;
  if (type == "real" && value.is_string()) return RealFromText(value.get<std::string>());
  if (type == "blob" && value.is_string()) {
    Result<std::string> bytes = HexToBytes(value.get<std::string>());
    if (!bytes.ok()) return bytes.status();
    return Json{{"$blob", Base64Encode(*bytes)}};
  }
  return Status::Corruption("change log: malformed value " + raw.dump());
}

Json TypedValue(const Value& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return Json(*integer);
  if (const auto* real = std::get_if<double>(&value)) {
    if (std::isnan(*real)) return NonFinite("NaN");
    if (std::isinf(*real)) return NonFinite(*real > 0 ? "Infinity" : "-Infinity");
    return Json(*real);
  }
  if (const auto* text = std::get_if<std::string>(&value)) return Json(*text);
  if (const auto* blob = std::get_if<Blob>(&value))
    return Json{{"$blob", Base64Encode(blob->bytes)}};
  return Json(nullptr);
}

Result<Value> ValueOfTyped(const Json& json) {
  if (json.is_null()) return Value{};
  if (json.is_number_integer()) {
    if (json.is_number_unsigned() && json.get<std::uint64_t>() > INT64_MAX) {
      return Status::Corruption("typed JSON: integer out of range: " + json.dump());
    }
    return Value{json.get<std::int64_t>()};
  }
  if (json.is_number_float()) return Value{json.get<double>()};
  if (json.is_string()) return Value{json.get<std::string>()};
  if (json.is_object() && json.size() == 1) {
    if (const auto blob = json.find("$blob"); blob != json.end() && blob->is_string()) {
      std::optional<std::string> bytes = Base64Decode(blob->get<std::string>());
      if (!bytes) return Status::Corruption("typed JSON: bad base64 in " + json.dump());
      return Value{Blob{std::move(*bytes)}};
    }
    if (const auto real = json.find("$real"); real != json.end() && real->is_string()) {
      const std::string name = real->get<std::string>();
      if (name == "NaN") return Value{std::nan("")};
      if (name == "Infinity") return Value{HUGE_VAL};
      if (name == "-Infinity") return Value{-HUGE_VAL};
    }
  }
  return Status::Corruption("typed JSON: not a value: " + json.dump());
}

}  // namespace

Result<std::string> CanonicalFromRaw(std::string_view raw) {
  try {
    const Json parsed = Json::parse(raw);
    if (!parsed.is_object()) return Status::Corruption("change log: row is not an object");
    Json out = Json::object();
    for (const auto& [column, value] : parsed.items()) {
      Result<Json> canonical = CanonicalValue(value);
      if (!canonical.ok()) return canonical.status();
      out[column] = std::move(*canonical);
    }
    return out.dump();
  } catch (const Json::exception& e) {
    return Status::Corruption(std::string("change log: ") + e.what());
  }
}

std::string TypedJsonOf(const std::vector<std::string>& names, const std::vector<Value>& values) {
  Json out = Json::object();
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out[names[i]] = TypedValue(values[i]);
  }
  return out.dump();
}

Result<std::vector<std::pair<std::string, Value>>> ValuesOfTypedJson(std::string_view object) {
  try {
    const Json parsed = Json::parse(object);
    if (!parsed.is_object()) return Status::Corruption("typed JSON: not an object");
    std::vector<std::pair<std::string, Value>> out;
    out.reserve(parsed.size());
    for (const auto& [column, json] : parsed.items()) {
      Result<Value> value = ValueOfTyped(json);
      if (!value.ok()) return value.status().WithContext("column '" + column + "'");
      out.emplace_back(column, std::move(*value));
    }
    return out;
  } catch (const Json::exception& e) {
    return Status::Corruption(std::string("typed JSON: ") + e.what());
  }
}

}  // namespace sluice::migration
