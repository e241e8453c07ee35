// UUIDs as used for event ids: canonical lower-case text, 8-4-4-4-12 hex digits.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

using UuidBytes = std::array<std::uint8_t, 16>;

// A random (version 4) UUID in canonical text form. Thread-safe.
std::string NewUuid();
// The 16 bytes of a UUID in text form (either case), or nullopt if `text` is not one.
std::optional<UuidBytes> ParseUuid(std::string_view text);
// Canonical lower-case text of 16 bytes.
std::string FormatUuid(const UuidBytes& bytes);
// A name-based UUID (version 5 layout, SHA-1 free: a 128-bit hash of namespace + name). Used to
// derive stable event ids from other ids, so retries produce the same ids.
std::string DeriveUuid(std::string_view namespace_id, std::string_view name);

}  // namespace sluice
