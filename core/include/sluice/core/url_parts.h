// Pieces of the server URLs the adapters parse (postgresql://..., amqp://...): %-escapes and the
// host[:port] part, with IPv6 hosts in brackets. Each URL parser words its own errors around
// these reasons.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/core/status.h"

namespace sluice {

// %XX-decodes `text`; nullopt on a bad escape or a decoded NUL byte.
std::optional<std::string> PercentDecode(std::string_view text);

struct HostPort {
  std::string host;                   // without brackets
  std::optional<std::uint16_t> port;  // when the text has one
};

// `host`, `host:port`, `[v6]` or `[v6]:port`. InvalidArgument with a short reason ("no host",
// "the port is not a number from 1 to 65535", ...) otherwise. Hosts are letters, digits, '.', '-'
// and '_' (and ':' inside brackets).
Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace sluice
