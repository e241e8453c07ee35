#include "sluice/core/stream_id.h"

#include <cstdint>

#include "text_rules.h"

namespace sluice {
namespace {

// Decodes one UTF-8 code point at `i`; returns its length or 0 if the sequence is invalid
// (overlong, surrogate, above U+10FFFF or truncated).
std::size_t DecodeUtf8(std::string_view s, std::size_t i, std::uint32_t* cp) {
  const auto b0 = static_cast<std::uint8_t>(s[i]);
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, *cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, *cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, *cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<std::uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

Status ValidateName(std::string_view what, std::string_view name, std::size_t max_bytes) {
  const std::string label(what);
  if (name.empty()) return Status::InvalidArgument(label + " is empty");
  if (name.size() > max_bytes) {
    return Status::InvalidArgument(label + " is " + std::to_string(name.size()) +
                                   " bytes; the limit is " + std::to_string(max_bytes));
  }
  for (std::size_t i = 0; i < name.size();) {
    std::uint32_t cp = 0;
    const std::size_t len = DecodeUtf8(name, i, &cp);
    if (len == 0) {
      return Status::InvalidArgument(label + " is not valid UTF-8 at byte " + std::to_string(i));
    }
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      return Status::InvalidArgument(label + " has a control character at byte " +
                                     std::to_string(i));
    }
    i += len;
  }
  return Status::Ok();
}

Status StreamId::Validate(std::string_view name) {
  return ValidateName("stream id", name, kMaxBytes);
}

Result<StreamId> StreamId::Make(std::string_view name) {
  Status s = Validate(name);
  if (!s.ok()) return s;
  return StreamId(std::string(name));
}

std::string_view CategoryOf(std::string_view stream) { return stream.substr(0, stream.find('-')); }

std::string_view StreamId::Category() const { return CategoryOf(name_); }

}  // namespace sluice
