#include <istream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "arguments.h"
#include "commands.h"
#include "exit_codes.h"
#include "json_codec.h"
#include "output.h"
#include "sluice/core/stream_id.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

bool IsBlank(const std::string& line) {
  return line.find_first_not_of(" \t\r\n\f\v") == std::string::npos;
}

// Every non-blank line of `input` as an event; InvalidArgument naming the first bad line.
Result<std::vector<EventData>> ReadEvents(std::istream& input) {
  std::vector<EventData> events;
  std::string line;
  for (std::size_t line_number = 1; std::getline(input, line); ++line_number) {
    if (IsBlank(line)) continue;
    Result<EventData> event = ParseEventLine(line);
    if (!event.ok()) {
      return Status::InvalidArgument("standard input line " + std::to_string(line_number) + ": " +
                                     event.status().message());
    }
    events.push_back(std::move(event).value());
  }
  if (input.bad()) return Status::IOError("reading standard input failed");
  if (events.empty()) return Status::InvalidArgument("no events on standard input");
  std::set<std::string> ids;
  for (const EventData& event : events) {
    if (!event.event_id.empty() && !ids.insert(event.event_id).second) {
      return Status::InvalidArgument("event id " + event.event_id + " appears twice");
    }
  }
  return events;
}

std::string DescribeVersion(std::int64_t version) {
  return version == kNoStream ? "-1 (it does not exist)" : std::to_string(version);
}

}  // namespace

int RunAppend(const AppendFlags& flags, std::istream& input) {
  Result<StreamId> stream = StreamId::Make(flags.stream);
  if (!stream.ok()) {
    PrintError("--stream", stream.status());
    return kExitUsage;
  }
  Result<ExpectedVersion> expected = ParseExpectedVersion(flags.expected);
  if (!expected.ok()) {
    PrintError(expected.status().message());
    return kExitUsage;
  }
  Result<std::vector<EventData>> events = ReadEvents(input);
  if (!events.ok()) {
    PrintError(events.status().message());
    return events.status().code() == StatusCode::kIOError ? kExitFailure : kExitUsage;
  }

  std::unique_ptr<RocksEventStore> store = OpenForWriting(flags.store);
  if (store == nullptr) return kExitFailure;
  AppendOptions options;
  options.sync = !flags.no_sync;
  Result<AppendResult> result =
      store->Append(*stream, *expected, std::move(events).value(), options);
  if (!result.ok()) {
    const Status& status = result.status();
    if (status.IsWrongExpectedVersion()) {
      PrintError("wrong expected version: stream '" + flags.stream + "' is at version " +
                 DescribeVersion(status.actual_version().value_or(kNoStream)) + ", expected " +
                 expected->ToString());
      return kExitWrongExpectedVersion;
    }
    PrintError("append to stream '" + flags.stream + "' failed", status);
    return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  nlohmann::ordered_json out;
  out["first_position"] = result->first_position;
  out["last_position"] = result->last_position;
  out["next_expected_version"] = result->next_expected_version;
  PrintJsonLine(out);
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
