// The tool's commands. Each takes its already-parsed flags, prints JSON to standard output and
// errors to standard error, and returns the process exit code (exit_codes.h).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace sluice::cli {

struct AppendFlags {
  std::string store;
  std::string stream;
  std::string expected = "any";
  bool no_sync = false;
};
// Reads events from `input` (one JSON object per line, see json_codec.h) and appends them all in
// one atomic append. Everything is validated before the store is opened.
int RunAppend(const AppendFlags& flags, std::istream& input);

struct ReadFlags {
  std::string store;
  std::string stream;
  std::optional<std::string> from;  // version; default 0, or the last event with --backward
  std::optional<std::string> max;   // default: no limit
  bool backward = false;
};
// Prints the events of one stream; a stream that does not exist is an error (exit 1).
int RunRead(const ReadFlags& flags);

struct ReadAllFlags {
  std::string store;
  std::optional<std::string> from;  // global position; events at >= from are printed
  std::optional<std::string> max;   // default: no limit
  bool follow = false;
};
// Prints the global log; with `follow`, keeps printing new events until SIGINT or SIGTERM.
int RunReadAll(const ReadAllFlags& flags);

int RunStreams(const std::string& store);
int RunStats(const std::string& store);
// Exit 0 when the store is sound, 1 when it has problems (listed in the JSON).
int RunCheck(const std::string& store);

}  // namespace sluice::cli
