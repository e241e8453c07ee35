// Where the store connects: the parsed URL and the libpq connection string made from it. Kept
// apart from the connection code so that the password is handled in one place only: messages
// name the server with Describe() and HostPort(), which never contain it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "sluice/core/status.h"

namespace sluice::postgres_internal {

struct ServerAddress {
  std::string user;
  std::string password;  // empty: none given
  std::string host;      // without the [] of an IPv6 address
  int port = 5432;
  std::string dbname;

  // "host:port" ("[::1]:5432" for IPv6).
  std::string HostPort() const;
  // "postgresql://user@host:port/dbname", without the password.
  std::string Describe() const;
};

// Parses "postgresql://user[:password]@host[:port]/dbname" (or "postgres://..."). User, password
// and dbname may be %-encoded. InvalidArgument, without echoing the URL (it may hold a password),
// for anything else.
Result<ServerAddress> ParseServerUrl(std::string_view url);

// Session settings sent with every connection.
struct SessionSettings {
  std::chrono::seconds connect_timeout{10};
  bool sync = true;
  std::chrono::milliseconds lock_timeout{10000};
  std::string application_name = "sluice";
};

// The libpq keyword/value connection string: the address, connect_timeout, TCP keepalives, UTF8
// client encoding, and server settings the store relies on (read committed by default, hex bytea
// output, exact float output, lock_timeout, synchronous_commit).
std::string ConnectionString(const ServerAddress& address, const SessionSettings& settings);

// `message` with every occurrence of the password (if it is long enough to be told from ordinary
// text) replaced by "***", and on one line.
std::string Redact(std::string_view message, const ServerAddress& address);

}  // namespace sluice::postgres_internal
