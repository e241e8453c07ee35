#include "sluice/core/url_parts.h"

#include <charconv>

namespace sluice {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHostChar(char c, bool bracketed) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || (bracketed && c == ':');
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int high = i + 2 < text.size() ? HexDigit(text[i + 1]) : -1;
    const int low = high >= 0 ? HexDigit(text[i + 2]) : -1;
    if (low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  if (out.find('\0') != std::string::npos) return std::nullopt;
  return out;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  HostPort parsed;
  std::string_view port;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos)
      return Status::InvalidArgument("an unclosed [ in the host");
    parsed.host = std::string(text.substr(1, close - 1));
    bracketed = true;
    text.remove_prefix(close + 1);
    if (!text.empty()) {
      if (text.front() != ':') return Status::InvalidArgument("text after the host");
      port = text.substr(1);
      if (port.empty()) return Status::InvalidArgument("an empty port");
    }
  } else {
    const std::size_t colon = text.find(':');
    parsed.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.empty()) return Status::InvalidArgument("an empty port");
    }
  }
  if (parsed.host.empty()) return Status::InvalidArgument("no host");
  for (char c : parsed.host) {
    if (!IsHostChar(c, bracketed)) return Status::InvalidArgument("a bad character in the host");
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return Status::InvalidArgument("the port is not a number from 1 to 65535");
    }
    parsed.port = static_cast<std::uint16_t>(value);
  }
  return parsed;
}

}  // namespace sluice
