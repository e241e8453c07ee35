#include "sluice/rabbitmq/amqp_url.h"

#include <utility>

#include "sluice/core/url_parts.h"

namespace sluice::rabbitmq {
namespace {

Status Malformed(std::string_view why) {
  return Status::InvalidArgument("bad AMQP URL (" + std::string(why) +
                                 "); the form is amqp://user:password@host:port/vhost");
}

// %XX-decodes one URL part (named `what` in messages).
Result<std::string> Unescape(std::string_view part, std::string_view what) {
  std::optional<std::string> decoded = PercentDecode(part);
  if (!decoded) return Malformed("a bad %-escape or a NUL byte in the " + std::string(what));
  return std::move(*decoded);
}

// The vhost as a URL path segment: `/` and `%` escaped, like the parser expects them.
std::string Escape(std::string_view vhost) {
  std::string out;
  for (char c : vhost) {
    if (c == '/' || c == '%' || c == '@' || c == '?' || c == '#' ||
        static_cast<unsigned char>(c) < 0x21) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string AmqpUrl::Redacted() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "amqp://" + user + (password.empty() ? "" : ":***") + "@" +
         (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + Escape(vhost);
}

Result<AmqpUrl> ParseAmqpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "amqp://";
  if (url.substr(0, 8) == "amqps://") return Malformed("amqps (TLS) is not supported");
  if (url.substr(0, kScheme.size()) != kScheme) return Malformed("it does not start with amqp://");
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Malformed("query parameters are not supported");
  }
  AmqpUrl parsed;
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash + 1);
    if (path.find('/') != std::string_view::npos) {
      return Malformed("a '/' in the vhost must be written %2F");
    }
    if (!path.empty()) {
      Result<std::string> vhost = Unescape(path, "vhost");
      if (!vhost.ok()) return vhost.status();
      parsed.vhost = std::move(*vhost);
    }
  }
  std::string_view hostport = authority;
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    hostport = authority.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    Result<std::string> user = Unescape(userinfo.substr(0, colon), "user");
    if (!user.ok()) return user.status();
    if (user->empty()) return Malformed("an empty user");
    parsed.user = std::move(*user);
    parsed.password.clear();
    if (colon != std::string_view::npos) {
      Result<std::string> password = Unescape(userinfo.substr(colon + 1), "password");
      if (!password.ok()) return password.status();
      parsed.password = std::move(*password);
    }
  }
  Result<HostPort> host = ParseHostPort(hostport);
  if (!host.ok()) return Malformed(host.status().message());
  parsed.host = std::move(host->host);
  if (host->port) parsed.port = *host->port;
  return parsed;
}

}  // namespace sluice::rabbitmq
