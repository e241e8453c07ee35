// Standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, with '=' padding): how binary payloads
// and blobs travel in JSON (the sluice tool, the migration's typed values).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

std::string Base64Encode(std::string_view bytes);
// The decoded bytes, or nullopt unless `text` is padded base64 (no blanks, no line
// breaks, length a multiple of 4).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace sluice
