// Durability under kill -9 (DESIGN.md, promises 1-3): a child process appends synced batches from
// several threads and acknowledges each one after Append returned OK; we kill it at random moments,
// reopen the store and check that every acknowledged batch is there at its positions, that no
// batch is partial, that positions are contiguous and that Check() is clean. The next round
// continues on the same store.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "eventstore/child_process.h"
#include "eventstore/crash_protocol.h"
#include "eventstore/store_test_util.h"

namespace sluice {
namespace {

using testing::CheckIsClean;
using testing::CheckLogInvariants;
using testing::ReadWholeLog;
using testing::Sid;
using testing::TempDir;

constexpr int kRounds = 40;
constexpr int kWriterThreads = 4;
constexpr int kMaxAcksBeforeKill = 60;
constexpr int kHangTimeoutMs = 60'000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Opens the store after a crash and checks everything the acknowledgements promise.
// Sets `*batches_in_log` to the number of batches found in the log.
void VerifyAfterCrash(const std::string& store_dir, const std::vector<crash::Ack>& acks, int round,
                      std::size_t* batches_in_log) {
  SCOPED_TRACE("after round " + std::to_string(round));
  Result<std::unique_ptr<RocksEventStore>> opened = RocksEventStore::Open(store_dir);
  ASSERT_TRUE(opened.ok()) << "reopen after kill -9: " << opened.status().ToString();
  RocksEventStore& store = **opened;

  Result<std::vector<RecordedEvent>> log = ReadWholeLog(store);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  // Contiguous positions, per-stream versions without a gap, and no partial batch.
  ASSERT_TRUE(CheckLogInvariants(*log));
  EXPECT_EQ(store.HeadPosition(), log->size());

  std::map<std::string, std::vector<const RecordedEvent*>> batches;
  for (const RecordedEvent& e : *log) {
    const std::string& batch = e.metadata.extra.at(testing::kBatchKey);
    const int index = std::stoi(e.metadata.extra.at(testing::kBatchIndexKey));
    ASSERT_EQ(e.event_id, testing::BatchEventId(crash::kIdNamespace, batch, index))
        << "position " << e.position;
    batches[batch].push_back(&e);
  }
  *batches_in_log = batches.size();
  for (const crash::Ack& ack : acks) {
    auto it = batches.find(ack.batch_id);
    ASSERT_NE(it, batches.end()) << "acknowledged batch " << ack.batch_id << " (positions "
                                 << ack.first_position << "-" << ack.last_position << ") is lost";
    const std::vector<const RecordedEvent*>& events = it->second;
    ASSERT_EQ(events.size(), static_cast<std::size_t>(ack.size)) << ack.batch_id;
    EXPECT_EQ(events.front()->position, ack.first_position) << ack.batch_id;
    EXPECT_EQ(events.back()->position, ack.last_position) << ack.batch_id;
    EXPECT_EQ(events.back()->version, ack.next_expected_version) << ack.batch_id;
    EXPECT_EQ(events.front()->stream, ack.stream) << ack.batch_id;
  }

  // The id index survived too: retrying the last acknowledged batches returns their results and
  // writes nothing.
  const GlobalPosition head = store.HeadPosition();
  for (std::size_t i = acks.size() > 5 ? acks.size() - 5 : 0; i < acks.size(); ++i) {
    const crash::Ack& ack = acks[i];
    Result<AppendResult> again =
        store.Append(Sid(ack.stream), ExpectedVersion::Any(), crash::Batch(ack.batch_id, ack.size));
    ASSERT_TRUE(again.ok()) << ack.batch_id << ": " << again.status().ToString();
    EXPECT_EQ(*again,
              (AppendResult{ack.first_position, ack.last_position, ack.next_expected_version}));
  }
  EXPECT_EQ(store.HeadPosition(), head);

  EXPECT_TRUE(CheckIsClean(store));
  Result<StoreStats> stats = store.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->event_count, log->size());
  EXPECT_EQ(stats->head_position, log->size());
}

// Runs `rounds` rounds of start helper / wait for some acknowledgements / kill -9 / verify.
void RunKillRounds(int rounds, bool sync) {
  TempDir dir;
  const std::string store_dir = dir.Sub("store");
  const std::string ack_path = dir.Sub("acks.txt");
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::size_t acks_waited_for = 0;
  std::size_t acknowledged = 0;
  std::size_t batches_in_log = 0;

  for (int round = 0; round < rounds; ++round) {
    // Round 0 is killed at once (possibly while the store is being created); the others after a
    // random number of acknowledgements, while the other threads are mid-append.
    const int acks_before_kill =
        round == 0 ? 0 : std::uniform_int_distribution<int>(0, kMaxAcksBeforeKill)(rng);
    const std::string run_id = std::to_string(seed) + "-" + std::to_string(round);
    {
      std::vector<std::string> args = {"append", store_dir, ack_path, run_id,
                                       std::to_string(kWriterThreads)};
      if (!sync) args.push_back("unsynced");
      testing::ChildProcess child(SLUICE_CRASH_HELPER, args);
      ASSERT_GT(child.pid(), 0) << "cannot start " << SLUICE_CRASH_HELPER;
      const bool progressed = child.ReadBytes(acks_before_kill, kHangTimeoutMs);
      child.Kill();
      const int status = child.Wait();
      ASSERT_TRUE(progressed) << "round " << round << ": the helper ended or hung before "
                              << acks_before_kill << " acknowledgements (wait status " << status
                              << ")";
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "round " << round << ": the helper ended by itself, wait status " << status;
      acks_waited_for += acks_before_kill;
    }
    std::vector<crash::Ack> acks;
    ASSERT_TRUE(crash::ParseAcks(ReadFile(ack_path), &acks)) << "malformed ack file";
    ASSERT_GE(acks.size(), acks_waited_for);
    VerifyAfterCrash(store_dir, acks, round, &batches_in_log);
    if (::testing::Test::HasFatalFailure()) return;
    acknowledged = acks.size();
  }
  // Batches committed but killed before their acknowledgement show the kills landed mid-append.
  std::cout << "[ crash    ] " << rounds << (sync ? " synced" : " unsynced") << " kills, "
            << acknowledged << " acknowledged batches, " << batches_in_log
            << " batches in the log\n";
  ::testing::Test::RecordProperty("acknowledged_batches", static_cast<int>(acknowledged));
  ::testing::Test::RecordProperty("batches_in_log", static_cast<int>(batches_in_log));
}

TEST(CrashTest, AcknowledgedBatchesSurviveKillNineAndNoBatchIsPartial) {
  ASSERT_NO_FATAL_FAILURE(RunKillRounds(kRounds, /*sync=*/true));
}

// AppendOptions::sync = false promises to survive a process crash (not a power loss).
TEST(CrashTest, AcknowledgedUnsyncedBatchesSurviveKillNine) {
  ASSERT_NO_FATAL_FAILURE(RunKillRounds(kRounds / 2, /*sync=*/false));
}

}  // namespace
}  // namespace sluice
