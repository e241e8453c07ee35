// The throwaway RabbitMQ broker of the CTest fixture `rabbitmq_server` (tests/rabbitmq), for tests
// that need one: its URL comes from SLUICE_TEST_AMQP_URL; its folder and script (for restarts) from
// the compile definitions SLUICE_TEST_AMQP_DIR and SLUICE_TEST_AMQP_SCRIPT. Without a broker that
// answers, a test fails when CI=true (CI must run these tests) and is skipped otherwise.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>

#include "server_requirement.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace sluice::testing {

// Why the broker cannot be used ("" if it can): a TCP connect to its port.
inline std::string AmqpUnavailableReason() {
  const char* url = std::getenv("SLUICE_TEST_AMQP_URL");
  if (url == nullptr || *url == '\0') {
    return "SLUICE_TEST_AMQP_URL is not set (ctest sets it and starts the broker: ctest -L "
           "rabbitmq)";
  }
  Result<rabbitmq::AmqpUrl> parsed = rabbitmq::ParseAmqpUrl(url);
  if (!parsed.ok()) return parsed.status().ToString();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "no socket";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(parsed->port);
  ::inet_pton(AF_INET, parsed->host.c_str(), &address.sin_addr);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::close(fd);
  if (rc != 0) return "the test broker " + parsed->Redacted() + " does not answer";
  return {};
}

// The broker's URL, or "" after skipping (or, on CI, failing) the current test. Call it in a
// fixture's SetUp; GoogleTest runs no more of a test that skipped or failed there.
inline std::string RequireRabbitmq() {
  const std::string reason = AmqpUnavailableReason();
  if (!reason.empty()) {
    internal::RecordNoServer("RabbitMQ", reason);
    return {};
  }
  return std::getenv("SLUICE_TEST_AMQP_URL");
}

// A name no other test (or earlier run) uses, for queues and exchanges: `prefix.<pid>.<n>.<t>`.
inline std::string UniqueAmqpName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return prefix + "." + std::to_string(getpid()) + "." + std::to_string(++counter) + "." +
         std::to_string(now % 1000003);
}

// Restarts the broker on the same data (durable queues and persistent messages survive); true
// once it answers again.
inline bool RestartRabbitmq() {
#if defined(SLUICE_TEST_AMQP_DIR) && defined(SLUICE_TEST_AMQP_SCRIPT)
  const std::string command = std::string(SLUICE_TEST_AMQP_SCRIPT) + " restart '" +
                              SLUICE_TEST_AMQP_DIR + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
#else
  return false;  // the test target lacks ${SLUICE_TEST_AMQP_DEFINITIONS}
#endif
}

}  // namespace sluice::testing
