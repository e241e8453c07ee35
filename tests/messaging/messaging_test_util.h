// Shared pieces of the messaging tests: the broker URL, relay-like publishing of events, reading
// dead letters, and child processes that may be SIGKILLed on purpose.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "amqp_connection.h"
#include "rabbitmq/rabbitmq_test_broker.h"
#include "sluice/core/event_store.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/rabbitmq/amqp_url.h"
#include "sluice/rabbitmq/dead_letters.h"
#include "sluice/rabbitmq/event_message.h"

extern char** environ;

namespace sluice::messaging_testing {

using namespace std::chrono_literals;
using rabbitmq::AmqpMessage;
using rabbitmq::AmqpUrl;
using rabbitmq::DeadLetter;
using rabbitmq::detail::AmqpConnection;

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_text_ = testing::RequireRabbitmq();
    if (url_text_.empty()) return;
    Result<AmqpUrl> parsed = rabbitmq::ParseAmqpUrl(url_text_);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    url_ = *parsed;
    publisher_ = Open();
    ASSERT_NE(publisher_, nullptr);
    ASSERT_TRUE(publisher_->EnableConfirms().ok());
  }

  std::unique_ptr<AmqpConnection> Open() {
    Result<std::unique_ptr<AmqpConnection>> conn = AmqpConnection::Open(url_, "test");
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(*conn) : nullptr;
  }

  // Publishes with confirms (as the relay does).
  void Publish(const std::string& exchange, const std::string& routing_key,
               const AmqpMessage& message) {
    Result<std::uint64_t> tag = publisher_->Publish(exchange, routing_key, message);
    ASSERT_TRUE(tag.ok()) << tag.status().ToString();
    ASSERT_TRUE(publisher_->WaitForConfirms(*tag, 10s).ok());
  }

  // Every dead letter of `queue`, read without removing them.
  std::vector<DeadLetter> DeadLetters(const std::string& queue) {
    std::vector<DeadLetter> letters;
    Result<std::uint64_t> listed = rabbitmq::ListDeadLetters(
        url_, queue, [&](const DeadLetter& letter) { letters.push_back(letter); });
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    if (listed.ok()) {
      EXPECT_EQ(*listed, letters.size());
    }
    return letters;
  }

  std::string url_text_;
  AmqpUrl url_;
  std::unique_ptr<AmqpConnection> publisher_;
};

// Events as a source service stores them: appended to an in-memory store, read back in global
// order (so they carry versions and positions as the relay sees them).
inline std::vector<RecordedEvent> SourceEvents(
    const std::vector<std::pair<std::string, int>>& streams) {
  InMemoryEventStore source;
  for (const auto& [stream, count] : streams) {
    for (int i = 0; i < count; ++i) {
      EventData data;
      data.type = "shop.OrderNoted.v1";
      data.content_type = ContentType::kJson;
      data.payload = "{\"stream\":\"" + stream + "\",\"n\":" + std::to_string(i) + "}";
      data.metadata.correlation_id = "corr-" + stream;
      data.metadata.causation_id = "cause-" + std::to_string(i);
      data.metadata.extra = {{"tenant", "t1"}};
      Result<AppendResult> appended =
          source.Append(*StreamId::Make(stream), ExpectedVersion::Any(), {std::move(data)});
      EXPECT_TRUE(appended.ok()) << appended.status().ToString();
    }
  }
  Result<std::vector<RecordedEvent>> all = source.ReadAll(1, 100000);
  EXPECT_TRUE(all.ok());
  return all.ok() ? *all : std::vector<RecordedEvent>{};
}

// A child process with standard output in a file; it may be killed on purpose.
class Child {
 public:
  Child(const std::filesystem::path& out, const std::vector<std::string>& args) : out_(out) {
    std::vector<std::string> text = args;
    std::vector<char*> argv;
    for (auto& a : text) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const std::string err = out.string() + ".err";
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "cannot start " << args[0];
    if (rc != 0) pid_ = -1;
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  std::string out() const {
    std::ifstream in(out_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void Signal(int signal_number) const {
    if (pid_ > 0) kill(pid_, signal_number);
  }
  // The raw wait status once it ended, or -1 if it still runs after `timeout` (then killed).
  int Wait(std::chrono::milliseconds timeout = 60s) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
    return status;
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == 0) return true;
    pid_ = -1;
    exit_status_ = status;
    return false;
  }
  int exit_status() const { return exit_status_; }

 private:
  std::filesystem::path out_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

inline std::filesystem::path TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sluice-messaging-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace sluice::messaging_testing
