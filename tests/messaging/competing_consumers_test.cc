// Competing consumers as real processes (messaging_command_worker): several share one command
// queue, each with its own RocksDB store, and every command is handled exactly once in total, also
// when a consumer is SIGKILLed mid-run and its unacknowledged messages are delivered again.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "messaging_test_util.h"
#include "shop_domain.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/uuid.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/rabbitmq/command_consumer.h"

namespace sluice::messaging_testing {
namespace {

struct Handled {
  std::string id;
  bool duplicate = false;
};

std::vector<Handled> HandledBy(const Child& child) {
  std::vector<Handled> out;
  std::istringstream in(child.out());
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("id")) out.push_back({j["id"], j["duplicate"]});
  }
  return out;
}

class CompetingConsumersTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    queue_ = testing::UniqueAmqpName("shared-commands");
    dir_ = TempDir(queue_);
    ASSERT_TRUE(publisher_->DeclareQueue(queue_).ok());
    sender_ = std::make_unique<rabbitmq::CommandSender>(url_);
  }
  void TearDown() override {
    children_.clear();
    if (publisher_ != nullptr) {
      publisher_->DeleteQueue(queue_).PermitUncheckedError();
      publisher_->DeleteQueue(queue_ + ".dlq").PermitUncheckedError();
      publisher_->DeleteExchange(queue_ + ".dlx").PermitUncheckedError();
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Child& StartWorker(int store, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {SLUICE_COMMAND_WORKER_PATH, url_text_, queue_,
                                     (dir_ / ("store-" + std::to_string(store))).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto out = dir_ / ("worker-" + std::to_string(children_.size()) + ".out");
    children_.push_back(std::make_unique<Child>(out, args));
    return *children_.back();
  }

  std::vector<std::string> SendCommands(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      CommandMetadata metadata;
      metadata.command_id = NewUuid();
      ids.push_back(metadata.command_id);
      Status sent = sender_->Send(queue_, "shop.AddItem",
                                  shop::AddItem{"k" + std::to_string(i % 17), 1}, metadata);
      EXPECT_TRUE(sent.ok()) << sent.ToString();
    }
    return ids;
  }

  // Waits (bounded, for liveness only) until the workers together reported `n` distinct ids.
  std::set<std::string> WaitForDistinct(std::size_t n) {
    std::set<std::string> ids;
    for (int i = 0; i < 6000 && ids.size() < n; ++i) {
      ids.clear();
      for (const auto& child : children_) {
        for (const Handled& h : HandledBy(*child)) ids.insert(h.id);
      }
      std::this_thread::sleep_for(20ms);
    }
    return ids;
  }

  void StopAll() {
    // A worker signalled before it installed its handler would die without its stats line.
    for (auto& child : children_) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (child->running() && child->out().find("\"ready\"") == std::string::npos &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    for (auto& child : children_) child->Signal(SIGTERM);
    for (auto& child : children_) child->Wait();
  }

  // For each command id, in how many of the stores its (first) event is.
  std::map<std::string, int> StoresHolding(const std::vector<std::string>& ids, int stores,
                                           std::uint64_t* total_events) {
    std::map<std::string, int> count;
    *total_events = 0;
    for (int s = 0; s < stores; ++s) {
      Result<std::unique_ptr<RocksEventStore>> store =
          RocksEventStore::Open((dir_ / ("store-" + std::to_string(s))).string());
      EXPECT_TRUE(store.ok()) << store.status().ToString();
      if (!store.ok()) continue;
      *total_events += (*store)->HeadPosition();
      for (const std::string& id : ids) {
        Result<std::optional<EventLocation>> found = (*store)->FindEvent(EventIdForCommand(id, 0));
        EXPECT_TRUE(found.ok());
        if (found.ok() && found->has_value()) ++count[id];
      }
    }
    return count;
  }

  std::string queue_;
  std::filesystem::path dir_;
  std::unique_ptr<rabbitmq::CommandSender> sender_;
  std::vector<std::unique_ptr<Child>> children_;
};

TEST_F(CompetingConsumersTest, ThreeProcessesShareAQueueAndHandleEveryCommandOnce) {
  constexpr int kCommands = 300;
  // Worker 0 is SIGKILLed just before it dispatches its 26th command: that one and the others
  // it had fetched ahead (prefetch 5) are unacknowledged and go to the other workers.
  Child& doomed = StartWorker(0, {"--prefetch", "5", "--die-before-dispatch", "25"});
  StartWorker(1, {"--prefetch", "5"});
  StartWorker(2, {"--prefetch", "5"});
  const std::vector<std::string> ids = SendCommands(kCommands);

  const int status = doomed.Wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  EXPECT_EQ(HandledBy(doomed).size(), 25u);
  StartWorker(0, {"--prefetch", "5"});  // back on its store after the crash

  EXPECT_EQ(WaitForDistinct(kCommands).size(), static_cast<std::size_t>(kCommands));
  StopAll();
  std::size_t handled_after_crash = 0;
  for (std::size_t c = 1; c < children_.size(); ++c) {
    const std::vector<Handled> handled = HandledBy(*children_[c]);
    if (c < 3) {
      EXPECT_GT(handled.size(), 0u) << "worker " << c << " handled nothing";
    }
    handled_after_crash += handled.size();
    EXPECT_NE(children_[c]->out().find("\"stats\""), std::string::npos) << "worker " << c;
  }
  EXPECT_EQ(handled_after_crash + 25, static_cast<std::size_t>(kCommands));

  std::uint64_t total = 0;
  const std::map<std::string, int> holding = StoresHolding(ids, 3, &total);
  EXPECT_EQ(total, static_cast<std::uint64_t>(kCommands));
  EXPECT_EQ(holding.size(), static_cast<std::size_t>(kCommands));
  for (const auto& [id, stores] : holding) EXPECT_EQ(stores, 1) << id;
  Result<std::uint32_t> left = publisher_->DeclareQueue(queue_, {}, true);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, 0u);
  EXPECT_TRUE(DeadLetters(queue_).empty());
}

TEST_F(CompetingConsumersTest, ACrashBetweenAppendAndAckIsDeliveredAgainAndNotAppendedTwice) {
  constexpr int kCommands = 10;
  // SIGKILLed right after the 5th command's synced append, before its ack.
  Child& doomed = StartWorker(0, {"--prefetch", "1", "--die-after-append", "5"});
  const std::vector<std::string> ids = SendCommands(kCommands);
  const int status = doomed.Wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  EXPECT_EQ(HandledBy(doomed).size(), 4u);

  Child& restarted = StartWorker(0, {"--prefetch", "1"});
  EXPECT_EQ(WaitForDistinct(kCommands).size(), static_cast<std::size_t>(kCommands));
  StopAll();
  const std::vector<Handled> again = HandledBy(restarted);
  ASSERT_EQ(again.size(), 6u);
  EXPECT_EQ(again[0].id, ids[4]);
  EXPECT_TRUE(again[0].duplicate);  // appended before the crash: nothing appended this time
  for (std::size_t i = 1; i < again.size(); ++i) EXPECT_FALSE(again[i].duplicate);

  std::uint64_t total = 0;
  const std::map<std::string, int> holding = StoresHolding(ids, 1, &total);
  EXPECT_EQ(total, static_cast<std::uint64_t>(kCommands));
  for (const std::string& id : ids) EXPECT_EQ(holding.count(id) ? holding.at(id) : 0, 1) << id;
}

}  // namespace
}  // namespace sluice::messaging_testing
