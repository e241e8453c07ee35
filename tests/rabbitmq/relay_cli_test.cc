// `sluice relay` as a real process: --once publishes what is committed and prints a JSON summary,
// a second run publishes nothing new (the checkpoint lives in <store>/relay/), and the exit codes
// of its errors (unreachable broker 1, bad URL or exchange 2) never show the password.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_process.h"
#include "rabbitmq/rabbitmq_test_broker.h"
#include "rabbitmq/relay_amqp_helpers.h"
#include "sluice/core/uuid.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::rabbitmq {
namespace {

using cli_testing::json;
using cli_testing::ParseLines;
using cli_testing::RunResult;
using cli_testing::RunSluice;

class RelayCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "sluice-relay-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store_dir_ = (dir_ / "store").string();
    url_text_ = testing::RequireRabbitmq();
    if (url_text_.empty()) return;
    Result<AmqpUrl> parsed = ParseAmqpUrl(url_text_);
    ASSERT_TRUE(parsed.ok());
    url_ = *parsed;
    Result<std::unique_ptr<detail::AmqpConnection>> conn =
        detail::AmqpConnection::Open(url_, "relay-cli-test");
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(*conn);
    exchange_ = testing::UniqueAmqpName("relay.cli");
    queue_ = testing::UniqueAmqpName("relay.cli.q");
    ASSERT_TRUE(conn_->DeclareExchange(exchange_).ok());
    detail::QueueOptions options;
    options.durable = false;
    ASSERT_TRUE(conn_->DeclareQueue(queue_, options).ok());
    ASSERT_TRUE(conn_->BindQueue(queue_, exchange_, "#").ok());
  }

  void TearDown() override {
    if (conn_ != nullptr) {
      conn_->DeleteQueue(queue_).PermitUncheckedError();
      conn_->DeleteExchange(exchange_).PermitUncheckedError();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Appends `count` events to `stream`; returns their ids.
  std::vector<std::string> Append(RocksEventStore& store, const std::string& stream, int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      EventData e;
      e.event_id = NewUuid();
      e.type = "shop.OrderPlaced.v1";
      e.content_type = ContentType::kJson;
      e.payload = "{}";
      ids.push_back(e.event_id);
      EXPECT_TRUE(store.Append(StreamId::Make(stream).value(), ExpectedVersion::Any(), {e}).ok());
    }
    return ids;
  }

  std::filesystem::path dir_;
  std::string store_dir_;
  std::string url_text_;
  AmqpUrl url_;
  std::unique_ptr<detail::AmqpConnection> conn_;
  std::string exchange_;
  std::string queue_;
};

TEST_F(RelayCliTest, OncePublishesEverythingCommittedAndPrintsASummary) {
  // The writer stays open: the relay follows the store read-only beside it.
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(store_dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<std::string> ids = Append(**store, "order-1", 5);

  RunResult run = RunSluice(dir_, {"relay", "--store", store_dir_, "--amqp", url_text_,
                                   "--exchange", exchange_, "--once"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<json> lines = ParseLines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  EXPECT_EQ(lines[0]["published"], 5);
  EXPECT_EQ(lines[0]["checkpoint"], 5);
  EXPECT_EQ(lines[0]["exchange"], exchange_);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(store_dir_) / "relay" /
                                      (exchange_ + ".checkpoint")));

  // A second run starts from the checkpoint: only the new events.
  std::vector<std::string> more = Append(**store, "order-2", 3);
  run = RunSluice(dir_, {"relay", "--store", store_dir_, "--amqp", url_text_, "--exchange",
                         exchange_, "--once"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  lines = ParseLines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  EXPECT_EQ(lines[0]["published"], 3);
  EXPECT_EQ(lines[0]["checkpoint"], 8);

  ids.insert(ids.end(), more.begin(), more.end());
  std::vector<std::string> got;
  for (const AmqpDelivery& d : relay_testing::Drain(*conn_, queue_)) {
    got.push_back(d.message.message_id);
    EXPECT_EQ(d.routing_key, "order.shop.OrderPlaced.v1");
  }
  EXPECT_EQ(got, ids);
  // The store is still sound with the relay's folder in it.
  store->reset();
  RunResult check = RunSluice(dir_, {"check", "--store", store_dir_});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(RelayCliTest, RunsUntilSigtermFollowingNewCommits) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(store_dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<std::string> ids = Append(**store, "order-1", 2);
  cli_testing::Process relay(
      dir_, {"relay", "--store", store_dir_, "--amqp", url_text_, "--exchange", exchange_}, "");
  std::vector<std::string> more = Append(**store, "order-1", 3);
  ids.insert(ids.end(), more.begin(), more.end());
  // Wait (bounded) until all five arrived, while the relay follows the writer.
  std::vector<std::string> got;
  for (int i = 0; i < 1000 && got.size() < ids.size(); ++i) {
    for (const AmqpDelivery& d : relay_testing::Drain(*conn_, queue_)) {
      got.push_back(d.message.message_id);
    }
    if (got.size() < ids.size()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got, ids);
  relay.Signal(SIGTERM);
  ASSERT_EQ(relay.Wait(), 0) << relay.err();
  const std::vector<json> lines = ParseLines(relay.out());
  ASSERT_EQ(lines.size(), 1u) << relay.out();
  EXPECT_EQ(lines[0]["checkpoint"], 5);
}

TEST_F(RelayCliTest, AnUnreachableBrokerIsExitOneWithoutThePassword) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(store_dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Append(**store, "order-1", 1);
  store->reset();
  // Nothing listens on port 1.
  const RunResult run = RunSluice(
      dir_, {"relay", "--store", store_dir_, "--amqp", "amqp://guest:s3cret-pw@127.0.0.1:1/",
             "--exchange", "relay.nowhere", "--once"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("cannot reach the AMQP broker"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("guest:***@127.0.0.1:1"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("s3cret-pw"), std::string::npos) << run.err;
  EXPECT_EQ(run.out.find("s3cret-pw"), std::string::npos) << run.out;
}

TEST_F(RelayCliTest, BadInputIsExitTwo) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(store_dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store->reset();
  RunResult run = RunSluice(dir_, {"relay", "--store", store_dir_, "--amqp",
                                   "http://guest:s3cret-pw@host/", "--exchange", "x", "--once"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_EQ(run.err.find("s3cret-pw"), std::string::npos) << run.err;
  run = RunSluice(dir_, {"relay", "--store", store_dir_, "--amqp", url_text_, "--exchange",
                         "bad exchange", "--once"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("exchange"), std::string::npos) << run.err;
  run = RunSluice(dir_, {"relay", "--store", store_dir_, "--amqp", url_text_});
  EXPECT_EQ(run.exit_code, 2) << run.err;  // --exchange missing
}

}  // namespace
}  // namespace sluice::rabbitmq
