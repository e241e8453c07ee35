#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>

#include "commands.h"
#include "exit_codes.h"
#include "output.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

constexpr std::size_t kStreamsPerPage = 1000;

}  // namespace

int RunStreams(const std::string& dir) {
  std::unique_ptr<RocksEventStore> store = OpenForReading(dir);
  if (store == nullptr) return kExitFailure;
  // Written piece by piece, one page of streams at a time, so memory stays bounded.
  std::cout << "{\"streams\":[";
  std::string after;
  bool first = true;
  while (true) {
    Result<std::vector<StreamInfo>> page = store->ListStreams(after, kStreamsPerPage);
    if (!page.ok()) {
      std::cout << std::endl;
      PrintError("listing the streams of store '" + dir + "' failed", page.status());
      return kExitFailure;
    }
    for (const StreamInfo& info : *page) {
      nlohmann::ordered_json entry;
      entry["stream"] = info.stream;
      entry["version"] = info.version;
      std::cout << (first ? "" : ",") << JsonText(entry);
      first = false;
    }
    if (page->size() < kStreamsPerPage) break;
    after = page->back().stream;
  }
  std::cout << "]}\n";
  return FinishOutput() ? kExitOk : kExitFailure;
}

int RunStats(const std::string& dir) {
  std::unique_ptr<RocksEventStore> store = OpenForReading(dir);
  if (store == nullptr) return kExitFailure;
  Result<StoreStats> stats = store->Stats();
  if (!stats.ok()) {
    PrintError("reading the statistics of store '" + dir + "' failed", stats.status());
    return kExitFailure;
  }
  nlohmann::ordered_json out;
  out["head_position"] = stats->head_position;
  out["stream_count"] = stats->stream_count;
  out["event_count"] = stats->event_count;
  out["bytes_on_disk"] = stats->bytes_on_disk;
  PrintJsonLine(out);
  return FinishOutput() ? kExitOk : kExitFailure;
}

int RunCheck(const std::string& dir) {
  std::unique_ptr<RocksEventStore> store = OpenForReading(dir);
  if (store == nullptr) return kExitFailure;
  Result<CheckReport> report = store->Check();
  if (!report.ok()) {
    PrintError("checking store '" + dir + "' failed", report.status());
    return kExitFailure;
  }
  const bool sound = report->ok() && report->problems.empty();
  nlohmann::ordered_json out;
  out["ok"] = sound;
  out["head_position"] = report->head_position;
  out["events_checked"] = report->events_checked;
  out["streams_checked"] = report->streams_checked;
  out["problems"] = report->problems;
  // Only when the list was capped, so a sound store's summary has exactly the documented keys.
  if (report->problem_count > report->problems.size()) {
    out["problem_count"] = report->problem_count;
  }
  PrintJsonLine(out);
  if (!FinishOutput()) return kExitFailure;
  if (!sound) {
    PrintError(
        "store '" + dir + "' has " +
        std::to_string(std::max<std::uint64_t>(report->problem_count, report->problems.size())) +
        " problem(s)");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace sluice::cli
