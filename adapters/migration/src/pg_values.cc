#include "pg_values.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "typed_json.h"

namespace sluice::migration::pg {
namespace {

Status Bad(Category category, std::string_view text) {
  return Status::Corruption("PostgreSQL value '" + std::string(text) + "' is not of category '" +
                            std::string(1, static_cast<char>(category)) + "'");
}

// NaN, Infinity and -Infinity as PostgreSQL prints them; nullopt for anything else.
std::optional<double> NonFinite(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Category CategoryOfType(unsigned type_oid) {
  switch (type_oid) {
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
      return Category::kInteger;
    case 700:
      return Category::kFloat4;
    case 701:
      return Category::kFloat8;
    case 16:
      return Category::kBool;
    case 17:
      return Category::kBytea;
    default:
      return Category::kText;
  }
}

Result<Value> ValueFromText(Category category, std::string_view text) {
  switch (category) {
    case Category::kInteger: {
      std::int64_t number = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (ec != std::errc() || end != text.data() + text.size()) return Bad(category, text);
      return Value{number};
    }
    case Category::kFloat4:
    case Category::kFloat8: {
      if (std::optional<double> special = NonFinite(text)) return Value{*special};
      // Correctly rounded, like strtof/strtod, without a copy or the locale.
      const char* const end = text.data() + text.size();
      double number = 0;
      std::from_chars_result parsed{};
      if (category == Category::kFloat4) {
        float single = 0;
        parsed = std::from_chars(text.data(), end, single);
        number = static_cast<double>(single);
      } else {
        parsed = std::from_chars(text.data(), end, number);
      }
      if (parsed.ec == std::errc::result_out_of_range) {
        // Subnormal values, which from_chars may refuse: strtof/strtod give them (with ERANGE).
        const std::string copy(text);
        char* stop = nullptr;
        number = category == Category::kFloat4
                     ? static_cast<double>(std::strtof(copy.c_str(), &stop))
                     : std::strtod(copy.c_str(), &stop);
        if (stop != copy.c_str() + copy.size()) return Bad(category, text);
        return Value{number};
      }
      if (text.empty() || parsed.ec != std::errc() || parsed.ptr != end) {
        return Bad(category, text);
      }
      return Value{number};
    }
    case Category::kBool:
      if (text == "t") return Value{std::int64_t{1}};
      if (text == "f") return Value{std::int64_t{0}};
      return Bad(category, text);
    case Category::kBytea: {
      if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
        return Bad(category, text);
      }
      Blob blob;
      blob.bytes.reserve(text.size() / 2 - 1);
      for (std::size_t i = 2; i < text.size(); i += 2) {
        const int high = Hex(text[i]);
        const int low = Hex(text[i + 1]);
        if (high < 0 || low < 0) return Bad(category, text);
        blob.bytes += static_cast<char>(high * 16 + low);
      }
      return Value{std::move(blob)};
    }
    case Category::kText:
      return Value{std::string(text)};
  }
  return Bad(category, text);
}

Result<std::vector<std::pair<std::string, Value>>> ValuesOfRaw(std::string_view raw) {
  try {
    const nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(raw);
    if (!parsed.is_object()) return Status::Corruption("change log: a row is not an object");
    std::vector<std::pair<std::string, Value>> values;
    values.reserve(parsed.size());
    for (const auto& [column, item] : parsed.items()) {
      if (item.is_null()) {
        values.emplace_back(column, Value{});
        continue;
      }
      if (!item.is_string()) return Status::Corruption("change log: malformed " + item.dump());
      const std::string& text = item.get_ref<const std::string&>();
      if (text.size() < 2 || text[1] != ':') {
        return Status::Corruption("change log: malformed " + item.dump());
      }
      Result<Value> value =
          ValueFromText(static_cast<Category>(text[0]), std::string_view(text).substr(2));
      if (!value.ok()) return value.status();
      values.emplace_back(column, std::move(*value));
    }
    return values;
  } catch (const std::exception& error) {
    return Status::Corruption(std::string("change log: ") + error.what());
  }
}

Result<std::string> CanonicalOfRaw(std::string_view raw) {
  Result<std::vector<std::pair<std::string, Value>>> values = ValuesOfRaw(raw);
  if (!values.ok()) return values.status();
  std::vector<std::string> names;
  std::vector<Value> row;
  names.reserve(values->size());
  row.reserve(values->size());
  for (auto& [column, value] : *values) {
    names.push_back(std::move(column));
    row.push_back(std::move(value));
  }
  try {
    return TypedJsonOf(names, row);
  } catch (const std::exception& error) {  // text that is not UTF-8
    return Status::Corruption(std::string("change log: ") + error.what());
  }
}

}  // namespace sluice::migration::pg
