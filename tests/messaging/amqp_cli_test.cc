// The tool's messaging commands as a real process: `sluice subscribe` and `sluice amqp dlq
// list|requeue`, their JSON and exit codes (0 ok, 2 bad input, 1 other errors such as an
// unreachable broker or a missing queue), never showing the password.
#include <gtest/gtest.h>

#include "cli/cli_process.h"
#include "messaging_test_util.h"
#include "sluice/core/base64.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::messaging_testing {
namespace {

using cli_testing::json;
using cli_testing::ParseLines;
using cli_testing::RunResult;
using cli_testing::RunSluice;

class AmqpCliTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    exchange_ = testing::UniqueAmqpName("cli-events");
    queue_ = testing::UniqueAmqpName("cli-copy");
    work_ = TempDir(queue_);
    store_ = (work_ / "store").string();
  }
  void TearDown() override {
    if (publisher_ != nullptr) {
      publisher_->DeleteQueue(queue_).PermitUncheckedError();
      publisher_->DeleteQueue(queue_ + ".dlq").PermitUncheckedError();
      publisher_->DeleteExchange(queue_ + ".dlx").PermitUncheckedError();
      publisher_->DeleteExchange(exchange_).PermitUncheckedError();
    }
    if (!work_.empty()) std::filesystem::remove_all(work_);
  }

  RunResult Subscribe(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"subscribe", "--amqp", url_text_, "--exchange", exchange_,
                                     "--queue",   queue_,   "--store", store_,       "--once"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunSluice(work_, args);
  }
  RunResult Dlq(const std::string& action, const std::string& queue) {
    return RunSluice(work_, {"amqp", "dlq", action, "--amqp", url_text_, "--queue", queue});
  }
  void PublishEvent(const RecordedEvent& e) {
    Publish(exchange_, rabbitmq::DefaultRoutingKey(e), rabbitmq::EventToMessage(e));
  }

  std::string exchange_;
  std::string queue_;
  std::filesystem::path work_;
  std::string store_;
};

TEST_F(AmqpCliTest, SubscribeOnceCopiesEventsOnceAndParksMalformedMessages) {
  // The first run declares the queue and binds it (only order events), and finds nothing.
  RunResult first = Subscribe({"--binding", "order.#"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::vector<json> lines = ParseLines(first.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["received"], 0);

  const std::vector<RecordedEvent> source =
      SourceEvents({{"order-1", 3}, {"order-2", 2}, {"invoice-1", 1}});
  for (const RecordedEvent& e : source) PublishEvent(e);  // invoice-1 is not bound
  PublishEvent(source[1]);                                // a redelivered duplicate
  AmqpMessage malformed;
  malformed.body = std::string("\xff\x00 binary", 9);
  malformed.message_id = "not-a-uuid";
  malformed.type = "shop.Broken.v1";
  Publish(exchange_, "order.broken", malformed);

  RunResult second = Subscribe({"--binding", "order.#"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  lines = ParseLines(second.out);
  ASSERT_EQ(lines.size(), 1u) << second.out;
  EXPECT_EQ(lines[0]["received"], 7);
  EXPECT_EQ(lines[0]["appended"], 5);
  EXPECT_EQ(lines[0]["duplicates"], 1);
  EXPECT_EQ(lines[0]["dead_lettered"], 1);

  {
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(store_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ((*store)->HeadPosition(), 5u);
    for (const RecordedEvent& e : source) {
      Result<std::optional<EventLocation>> found = (*store)->FindEvent(e.event_id);
      ASSERT_TRUE(found.ok());
      if (e.stream == "invoice-1") {
        EXPECT_FALSE(found->has_value());
        continue;
      }
      ASSERT_TRUE(found->has_value()) << e.event_id;
      EXPECT_EQ((*found)->stream, e.stream);
      EXPECT_EQ((*found)->version, e.version);
    }
  }

  // Listed twice: nothing is removed, nothing is shown twice; NAME.dlq works as well.
  for (const std::string& name : std::vector<std::string>{queue_, queue_ + ".dlq"}) {
    RunResult list = Dlq("list", name);
    ASSERT_EQ(list.exit_code, 0) << list.err;
    lines = ParseLines(list.out);
    ASSERT_EQ(lines.size(), 1u) << list.out;
    EXPECT_EQ(lines[0]["message_id"], "not-a-uuid");
    EXPECT_EQ(lines[0]["type"], "shop.Broken.v1");
    EXPECT_EQ(lines[0]["attempts"], 1);
    EXPECT_EQ(lines[0]["queue"], queue_);
    EXPECT_EQ(lines[0]["routing_key"], "order.broken");
    EXPECT_EQ(lines[0]["reason"].get<std::string>().rfind("malformed: ", 0), 0u) << list.out;
    EXPECT_FALSE(lines[0].contains("body"));
    EXPECT_EQ(Base64Decode(lines[0]["body_base64"].get<std::string>()), malformed.body);
  }
}

TEST_F(AmqpCliTest, DlqListShowsAGapAndRequeueLetsItBeConsumed) {
  ASSERT_EQ(Subscribe().exit_code, 0);
  const std::vector<RecordedEvent> source = SourceEvents({{"order-7", 2}});
  PublishEvent(source[1]);  // version 1 without version 0
  RunResult parked = Subscribe();
  ASSERT_EQ(parked.exit_code, 0) << parked.err;
  std::vector<json> lines = ParseLines(parked.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["appended"], 0);
  EXPECT_EQ(lines[0]["dead_lettered"], 1);

  RunResult list = Dlq("list", queue_);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  lines = ParseLines(list.out);
  ASSERT_EQ(lines.size(), 1u) << list.out;
  EXPECT_EQ(lines[0]["message_id"], source[1].event_id);
  EXPECT_EQ(lines[0]["type"], source[1].type);
  EXPECT_EQ(lines[0]["attempts"], 5);
  EXPECT_NE(lines[0]["reason"].get<std::string>().find("gap"), std::string::npos);
  EXPECT_EQ(lines[0]["body"], source[1].payload);

  PublishEvent(source[0]);
  RunResult requeue = Dlq("requeue", queue_);
  ASSERT_EQ(requeue.exit_code, 0) << requeue.err;
  lines = ParseLines(requeue.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], json({{"requeued", 1}}));

  RunResult done = Subscribe();
  ASSERT_EQ(done.exit_code, 0) << done.err;
  lines = ParseLines(done.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["appended"], 2);
  EXPECT_EQ(lines[0]["dead_lettered"], 0);
  RunResult empty = Dlq("list", queue_);
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_EQ(empty.out, "");
  RunResult none = Dlq("requeue", queue_);
  EXPECT_EQ(ParseLines(none.out), std::vector<json>{json({{"requeued", 0}})});
}

TEST_F(AmqpCliTest, SubscribeWithoutOnceRunsUntilSigtermAndThenPrintsItsSummary) {
  ASSERT_EQ(Subscribe().exit_code, 0);  // declares and binds the queue
  cli_testing::Process running(work_,
                               {"subscribe", "--amqp", url_text_, "--exchange", exchange_,
                                "--queue", queue_, "--store", store_},
                               "");
  const std::vector<RecordedEvent> source = SourceEvents({{"order-3", 3}});
  for (const RecordedEvent& e : source) PublishEvent(e);
  // Watch the store as a follower (the tool has it open for writing) until all three landed.
  GlobalPosition head = 0;
  for (int i = 0; i < 3000 && head < 3; ++i) {
    Result<std::unique_ptr<RocksEventStore>> follower = RocksEventStore::OpenFollower(store_);
    if (follower.ok()) head = (*follower)->HeadPosition();
    if (head < 3) std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(head, 3u);
  EXPECT_EQ(running.out(), "");  // nothing until it ends
  running.Signal(SIGTERM);
  ASSERT_EQ(running.Wait(), 0) << running.err();
  const std::vector<json> lines = ParseLines(running.out());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["appended"], 3);
  EXPECT_EQ(lines[0]["dead_lettered"], 0);
}

TEST_F(AmqpCliTest, ABadUrlIsAUsageError) {
  for (const std::string bad : {"http://guest:pw@127.0.0.1:5672/", "amqp://h:notaport/", ""}) {
    RunResult sub = RunSluice(work_, {"subscribe", "--amqp", bad, "--exchange", "e", "--queue", "q",
                                      "--store", store_, "--once"});
    EXPECT_EQ(sub.exit_code, 2) << bad << ": " << sub.err;
    EXPECT_EQ(sub.out, "");
    for (const std::string action : {"list", "requeue"}) {
      RunResult dlq = RunSluice(work_, {"amqp", "dlq", action, "--amqp", bad, "--queue", "q"});
      EXPECT_EQ(dlq.exit_code, 2) << bad << ": " << dlq.err;
      EXPECT_EQ(dlq.out, "");
    }
  }
  EXPECT_FALSE(std::filesystem::exists(store_));
}

TEST_F(AmqpCliTest, AnUnreachableBrokerIsAClearErrorWithoutThePassword) {
  // Port 1 on this machine: nothing listens, the connection is refused at once.
  const std::string url = "amqp://guest:hunter2-secret@127.0.0.1:1/%2F";
  std::vector<RunResult> runs;
  runs.push_back(RunSluice(work_, {"subscribe", "--amqp", url, "--exchange", "e", "--queue", "q",
                                   "--store", store_, "--once"}));
  runs.push_back(RunSluice(work_, {"amqp", "dlq", "list", "--amqp", url, "--queue", "q"}));
  runs.push_back(RunSluice(work_, {"amqp", "dlq", "requeue", "--amqp", url, "--queue", "q"}));
  for (const RunResult& run : runs) {
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_EQ(run.out, "");
    EXPECT_NE(run.err.find("error:"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("127.0.0.1:1"), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("hunter2"), std::string::npos) << run.err;
  }
  // The store subscribe would have filled is not left behind, empty.
  EXPECT_FALSE(std::filesystem::exists(store_));
}

TEST_F(AmqpCliTest, AQueueThatDoesNotExistIsAnError) {
  for (const std::string action : {"list", "requeue"}) {
    RunResult run = Dlq(action, queue_);
    EXPECT_EQ(run.exit_code, 1) << run.err;
    EXPECT_EQ(run.out, "");
    EXPECT_NE(run.err.find(queue_ + ".dlq"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("does not exist"), std::string::npos) << run.err;
  }
}

}  // namespace
}  // namespace sluice::messaging_testing
