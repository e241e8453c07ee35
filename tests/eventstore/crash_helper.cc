// Child process for the crash and multi-process tests (not a test itself).
//
//   sluice_crash_helper try-open DIR
//       Opens the store for writing and exits: 0 when it opened, 10 when Open said Unavailable,
//       11 on any other error.
//   sluice_crash_helper append DIR ACK_FILE RUN_ID THREADS [unsynced]
//       Opens the store and runs THREADS threads appending batches of 1-5 events until it is
//       killed; synced unless "unsynced" is given (both must survive kill -9). Thread t alternates
//       between its own stream "crash-<t>" (exact expected versions) and shared streams
//       "shared-<n>" (expected version any). Event ids are BatchEventId(kCrashIdNamespace, batch
//       id, index) with batch id "<RUN_ID>/<t>/<k>", and each event carries its batch id, size and
//       index in its metadata. Only after Append has returned OK is the batch acknowledged: one
//       line
//         <batch id> <stream> <first position> <last position> <next expected version> <size>
//       appended to ACK_FILE with one write(2) (the kernel keeps it across kill -9, which is all
//       the test does to us, so no fsync), then one '.' on standard output so the parent can count
//       acknowledgements without polling. Exits 3 (with a message on stderr) if an append fails.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/crash_protocol.h"
#include "sluice/core/uuid.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice {
namespace {

bool WriteAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

[[noreturn]] void Die(const std::string& message, int code) {
  std::fprintf(stderr, "sluice_crash_helper: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(code);
}

int TryOpen(const std::string& dir) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir);
  if (store.ok()) return 0;
  std::fprintf(stderr, "sluice_crash_helper: %s\n", store.status().ToString().c_str());
  return store.status().code() == StatusCode::kUnavailable ? 10 : 11;
}

int AppendUntilKilled(const std::string& dir, const std::string& ack_path,
                      const std::string& run_id, int threads, bool sync) {
  Result<std::unique_ptr<RocksEventStore>> opened = RocksEventStore::Open(dir);
  if (!opened.ok()) Die("open: " + opened.status().ToString(), 2);
  RocksEventStore& store = **opened;
  const int ack_fd = ::open(ack_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (ack_fd < 0) Die("cannot open " + ack_path, 2);
  std::mutex stdout_mu;
  AppendOptions options;
  options.sync = sync;

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string own = "crash-" + std::to_string(t);
      Result<StreamId> own_id = StreamId::Make(own);
      Result<StreamVersion> head = store.StreamHead(*own_id);
      if (!head.ok()) Die("stream head: " + head.status().ToString(), 3);
      StreamVersion own_version = *head;
      std::uint64_t rng = std::hash<std::string>{}(run_id) ^ (0x9E3779B97F4A7C15ULL * (t + 1));
      for (std::uint64_t k = 0;; ++k) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        const int size = 1 + static_cast<int>((rng >> 33) % 5);
        const bool use_own = k % 2 == 0;
        const std::string stream = use_own ? own : "shared-" + std::to_string((rng >> 40) % 3);
        const std::string batch_id = run_id + "/" + std::to_string(t) + "/" + std::to_string(k);
        const ExpectedVersion expected =
            use_own ? ExpectedVersion::Exact(own_version) : ExpectedVersion::Any();
        Result<AppendResult> r =
            store.Append(*StreamId::Make(stream), expected, crash::Batch(batch_id, size), options);
        if (!r.ok()) Die("append " + batch_id + ": " + r.status().ToString(), 3);
        if (use_own) own_version = r->next_expected_version;
        const std::string line = batch_id + " " + stream + " " + std::to_string(r->first_position) +
                                 " " + std::to_string(r->last_position) + " " +
                                 std::to_string(r->next_expected_version) + " " +
                                 std::to_string(size) + "\n";
        if (!WriteAll(ack_fd, line)) Die("cannot write the ack file", 3);
        std::lock_guard<std::mutex> lock(stdout_mu);
        if (!WriteAll(STDOUT_FILENO, ".")) Die("cannot write to stdout", 3);
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "try-open") return sluice::TryOpen(args[1]);
  if ((args.size() == 5 || (args.size() == 6 && args[5] == "unsynced")) && args[0] == "append") {
    return sluice::AppendUntilKilled(args[1], args[2], args[3], std::atoi(args[4].c_str()),
                                     /*sync=*/args.size() == 5);
  }
  std::fprintf(stderr,
               "usage: sluice_crash_helper try-open DIR\n"
               "       sluice_crash_helper append DIR ACK_FILE RUN_ID THREADS [unsynced]\n");
  return 64;
}
