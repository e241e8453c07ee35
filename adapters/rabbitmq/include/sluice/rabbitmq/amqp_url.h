// Broker addresses: `amqp://user:password@host:port/vhost` URLs (AMQP 0-9-1 over TCP), parsed
// once and printed without the password wherever they appear in messages or logs.
//
//   Result<AmqpUrl> url = ParseAmqpUrl("amqp://guest:guest@127.0.0.1:5672/%2f");
//   std::cout << url->Redacted();   // amqp://guest:***@127.0.0.1:5672/%2F
//
// Defaults follow the RabbitMQ URI spec: user and password `guest`, host 127.0.0.1 (localhost),
// port 5672, vhost `/` when the path is missing or `/`; the path after the first `/` is the
// vhost, percent-decoded (`%2f` is `/`). `amqps` (TLS) is not supported.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/core/status.h"

namespace sluice::rabbitmq {

struct AmqpUrl {
  std::string user = "guest";
  std::string password = "guest";
  std::string host = "127.0.0.1";
  std::uint16_t port = 5672;
  std::string vhost = "/";

  // The URL with the password replaced by `***` (none shown when there is none).
  std::string Redacted() const;
};

// InvalidArgument, naming what is wrong (never the password), for anything else than
// amqp://[user[:password]@]host[:port][/vhost].
Result<AmqpUrl> ParseAmqpUrl(std::string_view url);

}  // namespace sluice::rabbitmq
