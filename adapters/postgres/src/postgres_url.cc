#include "postgres_url.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "sluice/core/url_parts.h"

namespace sluice::postgres_internal {
namespace {

constexpr std::string_view kForm = "postgresql://user[:password]@host:port/dbname";

Status Malformed(std::string_view why) {
  return Status::InvalidArgument("bad PostgreSQL URL (" + std::string(why) + "); the form is " +
                                 std::string(kForm));
}

// %XX-decodes `part` (named `what` in messages) into `*out`.
Status Decode(std::string_view part, std::string_view what, std::string* out) {
  std::optional<std::string> decoded = PercentDecode(part);
  if (!decoded) return Malformed("a bad %-escape or a NUL byte in the " + std::string(what));
  *out = std::move(*decoded);
  return Status::Ok();
}

// A libpq connection-string value: quoted, with ' and \ escaped.
std::string Quoted(std::string_view value) {
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '\'';
  return quoted;
}

}  // namespace

std::string ServerAddress::HostPort() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string ServerAddress::Describe() const {
  return "postgresql://" + user + "@" + HostPort() + "/" + dbname;
}

Result<ServerAddress> ParseServerUrl(std::string_view url) {
  std::string_view rest;
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  if (rest.empty()) return Malformed("it does not start with postgresql://");
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return Malformed("no database name");
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view path = rest.substr(slash + 1);
  if (path.find_first_of("?#/") != std::string_view::npos) {
    return Malformed("parameters and paths after the database name are not supported");
  }
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return Malformed("no user");
  const std::string_view userinfo = authority.substr(0, at);
  std::string_view hostport = authority.substr(at + 1);

  ServerAddress address;
  const std::size_t colon = userinfo.find(':');
  SLUICE_RETURN_IF_ERROR(Decode(userinfo.substr(0, colon), "user", &address.user));
  if (colon != std::string_view::npos) {
    SLUICE_RETURN_IF_ERROR(Decode(userinfo.substr(colon + 1), "password", &address.password));
  }
  if (address.user.empty()) return Malformed("no user");
  SLUICE_RETURN_IF_ERROR(Decode(path, "database name", &address.dbname));
  if (address.dbname.empty()) return Malformed("no database name");

  Result<HostPort> host = ParseHostPort(hostport);
  if (!host.ok()) return Malformed(host.status().message());
  address.host = std::move(host->host);
  if (host->port) address.port = *host->port;
  return address;
}

std::string ConnectionString(const ServerAddress& address, const SessionSettings& settings) {
  std::string info;
  auto add = [&info](std::string_view key, std::string_view value) {
    if (!info.empty()) info += ' ';
    info += key;
    info += '=';
    info += Quoted(value);
  };
  add("host", address.host);
  add("port", std::to_string(address.port));
  add("user", address.user);
  if (!address.password.empty()) add("password", address.password);
  add("dbname", address.dbname);
  add("connect_timeout", std::to_string(std::max<long long>(1, settings.connect_timeout.count())));
  // A server that vanishes without closing the connection is noticed in about a minute.
  add("keepalives", "1");
  add("keepalives_idle", "30");
  add("keepalives_interval", "10");
  add("keepalives_count", "3");
  add("client_encoding", "UTF8");
  add("application_name", settings.application_name);
  // Server settings: values as the store parses them, and the waits it promises. In `options`
  // a space inside a value is escaped with a backslash.
  std::string options =
      "-c default_transaction_isolation=read\\ committed -c bytea_output=hex"
      " -c extra_float_digits=3 -c client_min_messages=warning -c lock_timeout=" +
      std::to_string(std::max<long long>(0, settings.lock_timeout.count())) +
      " -c synchronous_commit=" + (settings.sync ? "on" : "off");
  add("options", options);
  return info;
}

std::string Redact(std::string_view message, const ServerAddress& address) {
  std::string text;
  text.reserve(message.size());
  bool space = false;
  for (char c : message) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !text.empty();
      continue;
    }
    if (space) text += ' ';
    space = false;
    text += c;
  }
  const std::string& secret = address.password;
  if (secret.size() < 3) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

}  // namespace sluice::postgres_internal
