#include "typed_json.h"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

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

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned n = static_cast<unsigned char>(bytes[i]) << 16 |
                       static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace sluice::migration
