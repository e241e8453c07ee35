#include "cli_app.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <optional>
#include <string>

#include "commands.h"
#include "exit_codes.h"

namespace sluice::cli {
namespace {

constexpr const char* kDescription =
    "sluice: append to, read and inspect a Sluice event store (a RocksDB folder).\n"
    "Every command prints JSON on standard output; errors go to standard error as 'error: ...'.\n"
    "Read commands (read, read-all, streams, stats, check) open the store read-only and work "
    "while\n"
    "another process writes it; they never create a store.";

constexpr const char* kExitCodes =
    "Exit codes: 0 success; 1 failure (no store, store locked by another writer, stream not\n"
    "found, problems found by check, I/O error); 2 bad usage or bad input (nothing written);\n"
    "3 wrong expected version (append; nothing written).";

constexpr const char* kAppendHelp =
    "Append events read from standard input, one JSON object per line (blank lines are skipped),\n"
    "all in one atomic append:\n"
    "  {\"type\": \"bank.Deposited.v1\", \"data\": {...}, \"metadata\": {...}, \"id\": "
    "\"<uuid>\"}\n"
    "type: required, 1-200 bytes, no whitespace. data: any JSON value, default {}; stored as "
    "compact JSON\n"
    "text (or give \"data_base64\" instead for binary bytes). metadata: object; correlation_id "
    "and\n"
    "causation_id are kept as such, other keys as free key/values (non-strings as JSON text).\n"
    "id: optional UUID, generated when absent; appending the same ids again at the same expected\n"
    "version is idempotent. Other keys are ignored, so `read` output can be appended again.\n"
    "Prints {\"first_position\": P, \"last_position\": Q, \"next_expected_version\": V}.\n"
    "Exit 0 appended; 2 bad input or usage (nothing written); 3 wrong expected version (stderr\n"
    "names the stream's actual version); 1 any other error (e.g. another process writes the "
    "store).";

constexpr const char* kReadHelp =
    "Print the events of one stream, one JSON object per line:\n"
    "  {\"position\", \"stream\", \"version\", \"id\", \"type\", \"data\", \"metadata\", "
    "\"recorded_at\"}\n"
    "data is the payload as JSON when it is JSON, otherwise \"data_base64\" replaces it;\n"
    "recorded_at is microseconds since the Unix epoch.\n"
    "A stream that does not exist is an error: exit 1 with a message, nothing printed.\n"
    "Exit 0 success; 1 no store or no such stream; 2 bad usage.";

constexpr const char* kReadAllHelp =
    "Print the global log in position order, one JSON object per line (same shape as `read`).\n"
    "With --follow, keep printing new events as the writer commits them until SIGINT or\n"
    "SIGTERM (then exit 0), or until --max events were printed.\n"
    "Exit 0 success; 1 no store or a read error; 2 bad usage.";

constexpr const char* kStreamsHelp =
    "Print {\"streams\": [{\"stream\": name, \"version\": V}, ...]} in name order, where V is the\n"
    "version of the stream's last event.";

constexpr const char* kStatsHelp =
    "Print {\"head_position\": P, \"stream_count\": N, \"event_count\": N, \"bytes_on_disk\": N}.";

constexpr const char* kCheckHelp =
    "Verify the store: positions contiguous from 1, every log entry indexed under its stream and\n"
    "id and vice versa, stream heads correct, every record decodable. Prints\n"
    "{\"ok\": B, \"head_position\": P, \"events_checked\": N, \"streams_checked\": N, "
    "\"problems\": [...]}\n"
    "(plus \"problem_count\" when the list was cut short). Exit 0 when sound, 1 otherwise.";

void AddStoreOption(CLI::App* command, std::string* store) {
  command->add_option("--store", *store, "Folder of the store")->required();
}

// An option kept as text (parsed strictly by the command) that stays nullopt when not given.
void AddOptionalOption(CLI::App* command, const std::string& name,
                       std::optional<std::string>* target, const std::string& help) {
  command->add_option_function<std::string>(
      name, [target](const std::string& value) { *target = value; }, help);
}

}  // namespace

int RunCli(int argc, char** argv) {
  std::ios::sync_with_stdio(false);

  CLI::App app(kDescription, "sluice");
  app.footer(kExitCodes);
  app.require_subcommand(1);

  AppendFlags append_flags;
  CLI::App* append = app.add_subcommand("append", "Append events from standard input");
  append->footer(kAppendHelp);
  AddStoreOption(append, &append_flags.store);
  append->add_option("--stream", append_flags.stream, "Stream to append to")->required();
  append->add_option("--expected", append_flags.expected,
                     "any (default), no_stream, stream_exists, or the version N of the stream's "
                     "last event");
  append->add_flag("--no-sync", append_flags.no_sync,
                   "Do not fsync the write-ahead log: survives a crash of the process, but a "
                   "power loss can lose the latest appends (whole appends, never part of one)");

  ReadFlags read_flags;
  CLI::App* read = app.add_subcommand("read", "Print the events of one stream");
  read->footer(kReadHelp);
  AddStoreOption(read, &read_flags.store);
  read->add_option("--stream", read_flags.stream, "Stream to read")->required();
  AddOptionalOption(read, "--from", &read_flags.from,
                    "First version to print (default: 0, or the last event with --backward)");
  AddOptionalOption(read, "--max", &read_flags.max, "Print at most N events (default: all)");
  read->add_flag("--backward", read_flags.backward, "Newest first");

  ReadAllFlags read_all_flags;
  CLI::App* read_all = app.add_subcommand("read-all", "Print the global log");
  read_all->footer(kReadAllHelp);
  AddStoreOption(read_all, &read_all_flags.store);
  AddOptionalOption(read_all, "--from", &read_all_flags.from,
                    "Print events at global positions >= P (default: from the first)");
  AddOptionalOption(read_all, "--max", &read_all_flags.max,
                    "Print at most N events (default: all)");
  read_all->add_flag("--follow", read_all_flags.follow,
                     "Keep printing new events until interrupted (SIGINT/SIGTERM)");

  std::string streams_store;
  CLI::App* streams = app.add_subcommand("streams", "List the streams and their versions");
  streams->footer(kStreamsHelp);
  AddStoreOption(streams, &streams_store);

  std::string stats_store;
  CLI::App* stats = app.add_subcommand("stats", "Print counts and the size on disk");
  stats->footer(kStatsHelp);
  AddStoreOption(stats, &stats_store);

  std::string check_store;
  CLI::App* check = app.add_subcommand("check", "Verify every invariant of the store");
  check->footer(kCheckHelp);
  AddStoreOption(check, &check_store);

  // CLI11 reports an unknown command as "A subcommand is required"; name it instead.
  if (argc >= 2 && argv[1][0] != '-') {
    const std::string first = argv[1];
    const auto commands = app.get_subcommands([](CLI::App*) { return true; });
    const bool known = std::any_of(commands.begin(), commands.end(),
                                   [&first](const CLI::App* c) { return c->get_name() == first; });
    if (!known) {
      std::cerr << "error: unknown command '" << first
                << "' (commands: append, read, read-all, streams, stats, check)\n"
                   "Run 'sluice --help'.\n";
      return kExitUsage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --help-all: print help, exit 0. Every other parse error is a usage error (2).
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::cerr << "error: " << e.what() << "\nRun 'sluice --help' or 'sluice <command> --help'.\n";
    return kExitUsage;
  }

  if (append->parsed()) return RunAppend(append_flags, std::cin);
  if (read->parsed()) return RunRead(read_flags);
  if (read_all->parsed()) return RunReadAll(read_all_flags);
  if (streams->parsed()) return RunStreams(streams_store);
  if (stats->parsed()) return RunStats(stats_store);
  if (check->parsed()) return RunCheck(check_store);
  std::cerr << "error: no command given\nRun 'sluice --help'.\n";
  return kExitUsage;
}

}  // namespace sluice::cli
