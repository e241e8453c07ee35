// Standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, with '=' padding), for payloads that are
// not JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::cli {

std::string Base64Encode(std::string_view bytes);
// The decoded bytes, or nullopt unless `text` is padded base64 (no blanks, no line
// breaks, length a multiple of 4).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace sluice::cli
