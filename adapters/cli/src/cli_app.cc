#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <iostream>
#include <optional>
#include <string>

#include "commands.h"
#include "exit_codes.h"
#include "sluice/cli/cli.h"

namespace sluice::cli {
namespace {

constexpr const char* kDescription =
    "sluice: append to, read and inspect a Sluice event store (a RocksDB folder), and run\n"
    "projections into read models (sqlite:PATH or rocksdb:DIR).\n"
    "Every command prints JSON on standard output; errors go to standard error as 'error: ...'.\n"
    "Every command but append opens the store read-only and works while another process writes\n"
    "it; none creates a store.";

constexpr const char* kExitCodes =
    "Exit codes: 0 success; 1 failure (no store, store locked by another writer, stream not\n"
    "found, problems found by check, a projection failed, I/O error); 2 bad usage or bad input\n"
    "(unknown command, flag or projection, bad number or URL; nothing written); 3 wrong expected\n"
    "version (append; nothing written).";

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

constexpr const char* kReadModelHelp =
    "Read model: sqlite:PATH (a SQLite file) or rocksdb:DIR (a RocksDB folder)";

constexpr const char* kProjectHelp =
    "Run projections into a read model, following the writer of the store live (this process\n"
    "opens the store read-only). NAME is a projection of the registry: the built-ins\n"
    "stream-index and type-counts, or those of the application that linked the CLI. Runs until\n"
    "SIGINT or SIGTERM (each worker finishes and commits its current batch, then exit 0), or with\n"
    "--once until every projection has processed the store's head as it was at the start.\n"
    "A failing event is retried 5 times with backoff, then parked (see `sluice dlq`).\n"
    "Checkpoints and parked events live in the read model, so a restart goes on where it\n"
    "stopped. Several processes may run different projections against one store, each into its\n"
    "own read model or all into one SQLite file.\n"
    "At the end prints one JSON line per projection:\n"
    "  {\"name\", \"checkpoint\", \"head\", \"lag\", \"state\", \"parked\", \"partitions\"}\n"
    "(plus \"error\" when it failed); nothing else goes to standard output.\n"
    "Exit 0 stopped cleanly; 1 no store, the read model cannot be opened, or a projection failed\n"
    "(the error on standard error, state \"failed\"); 2 bad usage, unknown projection (the known\n"
    "ones are listed) or bad URL.";

constexpr const char* kProjectionsHelp =
    "Print one JSON line per projection that has run against the read model, by name:\n"
    "  {\"name\", \"checkpoint\", \"head\", \"lag\", \"state\", \"parked\", \"partitions\"}\n"
    "(plus \"error\" when it failed). checkpoint: every event at or below it is processed;\n"
    "head: the store's head; lag = head - checkpoint; state: catching_up, live, retrying, stopped\n"
    "or failed, as its worker last recorded it (a worker killed without a clean stop keeps its\n"
    "last state); parked: events in its dead-letter store. No read model or an empty one prints\n"
    "nothing. Exit 0 success; 1 no store or a read error; 2 bad usage or URL.";

constexpr const char* kDlqHelp =
    "A projection's dead-letter store: events it failed to apply after its retries.\n"
    "  list     one JSON line per parked event, by position:\n"
    "           {\"position\", \"stream\", \"version\", \"event_id\", \"type\", \"error\", "
    "\"attempts\",\n"
    "            \"parked_at_us\"}\n"
    "  replay   applies them again with the projection's current code, each in its own\n"
    "           transaction; prints {\"replayed\": N, \"still_failing\": M}. Those still failing\n"
    "           stay parked with the new error and attempt count (exit 0 all the same).\n"
    "  discard  removes them without applying them; prints {\"discarded\": N}.\n"
    "--position P acts on the event at global position P only: list prints nothing when it is\n"
    "not parked; replay and discard exit 1 then. Without --position, all parked events.\n"
    "Replay needs the projection in the registry; list and discard also take any projection\n"
    "that has run against the read model. Exit 0 success; 1 no store, a read or write error,\n"
    "P not parked; 2 bad usage, unknown projection or bad URL.";

constexpr const char* kRebuildHelp =
    "Build a new copy of the projection's read model from position 0 beside the live one (the\n"
    "old tables keep serving reads), then switch to it atomically. A worker running the\n"
    "projection meanwhile (another `sluice project` sharing a SQLite read model) goes on from the\n"
    "new copy. Progress: a bar on standard error when it is a terminal, otherwise JSON lines\n"
    "on standard output about every 0.5 s:\n"
    "  {\"events_done\", \"position\", \"head\", \"events_per_second\", \"eta_seconds\", "
    "\"switched\"}\n"
    "The last line, after the switch, has \"switched\": true (printed on a terminal too).\n"
    "Exit 0 switched; 1 no store, the read model cannot be opened or the rebuild failed; 2 bad\n"
    "usage, unknown projection or bad URL.";

constexpr const char* kMigrateHelp =
    "Legacy migration: capture the changes of a legacy database and append them as events.\n"
    "--legacy is sqlite:PATH or postgresql://user[:password]@host:port/dbname; --tables\n"
    "t1,t2,... names the tables (each needs a primary key).\n"
    "  install    adds a change log (sluice_change_log, sluice_capture_state) and AFTER\n"
    "             INSERT/UPDATE/DELETE triggers to the tables; idempotent. Prints\n"
    "             {\"installed\", \"captured\", \"source_id\", \"last_change_id\"}.\n"
    "  uninstall  removes the triggers; with the last table, the change log too. Prints\n"
    "             {\"uninstalled\", \"captured\", \"source_id\", \"last_change_id\"}.\n"
    "  tail       appends each captured change of the tables to --store (created if missing)\n"
    "             as <table>.RowInserted|RowUpdated|RowDeleted.v1 on stream <table>-<key>\n"
    "             (a TRUNCATE as <table>.TableTruncated.v1 on stream <table>.schema, after the\n"
    "             table's <table>.SchemaCaptured.v1 schema event), following the change log\n"
    "             until SIGINT or SIGTERM, or with --once until every change committed at the\n"
    "             start is appended. Event ids derive from the change ids and the checkpoint is\n"
    "             kept in the legacy database, so a restart never duplicates. Progress: JSON\n"
    "             lines {\"checkpoint\", \"head\", \"lag\", \"changes\", \"events\"} about\n"
    "             every 0.5 s when standard output is not a terminal (a status line on standard\n"
    "             error when it is), and one last line.\n"
    "  backfill   loads the rows the tables hold as <table>.RowInserted.v1 events, in chunks of\n"
    "             consistent reads, while the legacy application keeps writing; it tails the\n"
    "             captured changes itself (do not run tail on the same store meanwhile), so a\n"
    "             row whose stream already has a change is skipped. Progress is kept in the\n"
    "             store (stream <table>.backfill): after a crash or SIGINT/SIGTERM a rerun\n"
    "             continues, appending nothing twice. Progress JSON lines {\"table\", \"rows\",\n"
    "             \"loaded\", \"skipped\", \"chunks\", \"position\", \"done\"} when standard\n"
    "             output is not a terminal (a status line on standard error when it is), and a\n"
    "             last line per table with \"final\": true. Exit 1 if stopped before the end.\n"
    "  mirror     runs the projection mirror.<table> of each table (no --legacy): read-model\n"
    "             table <table> with the legacy table's key and columns, from the events above,\n"
    "             following the store until SIGINT or SIGTERM, or with --once until the store's\n"
    "             head at the start is processed. --read-model is sqlite:PATH, rocksdb:DIR or\n"
    "             postgresql://user[:password]@host:port/dbname. Waits for a table's schema event\n"
    "             (with --once: exit 1 when there is none). One JSON line per table at the end:\n"
    "             {\"table\", \"name\", \"checkpoint\", \"head\", \"lag\", \"state\", \"parked\",\n"
    "             \"partitions\"[, \"error\"]}.\n"
    "Exit 0 success; 1 the database or store cannot be opened, or another error; 2 bad usage,\n"
    "bad URL, unknown table, a table without primary key or without capture (tail, backfill),\n"
    "or one the mirror cannot hold (bad read-model name, REAL key).";

constexpr const char* kWatchHelp =
    "The sync watcher: compares each legacy table with its mirror read-model table (same name;\n"
    "key columns first, then the others) at known capture positions, chunk by chunk in key\n"
    "order with 128-bit hashes, waiting before each chunk until `migrate tail` (checkpoint\n"
    "\"tail:\" + the tables sorted, joined by ',') and `migrate mirror` have processed it (60 s\n"
    "at most: then exit 1). Keys changed after the compared position are rechecked, never\n"
    "reported while in flight. Values are normalised as docs/migration.md describes (NULL vs\n"
    "'' vs '<null>', 1 == 1.0, -0.0, NaN == NULL, decimals, time zones, booleans, char(n)).\n"
    "Standard output, one JSON line per difference, values typed as the change log types them:\n"
    "  {\"table\", \"key\": {column: value}, \"kind\": \"missing\"|\"extra\"}\n"
    "  {\"table\", \"key\", \"kind\": \"changed\", \"column\", \"legacy\",\n"
    "   \"read_model\"} (one line per differing column)\n"
    "then a summary line per check:\n"
    "  {\"tables\", \"in_sync\", \"rows_checked\", \"chunks\",\n"
    "   \"differences\": {\"missing\", \"extra\", \"changed\"}, \"rechecked\", \"unsettled\",\n"
    "   \"position\" (highest change id verified), \"positions\": {table: id}, \"seconds\"}\n"
    "--interval S checks every S seconds until SIGINT/SIGTERM (a summary line per check).\n"
    "--repair prints the corrective events it would append (dry run):\n"
    "  {\"repair\": kind, \"table\", \"key\", \"stream\", \"type\", \"event_id\", \"payload\"}\n"
    "<table>.RowUpdated.v1 with the legacy row for missing or changed rows,\n"
    "<table>.RowDeleted.v1 for extra rows. With\n"
    "--apply it appends them (\"appended\": true|false, false when an earlier repair did)\n"
    "after the check, so `migrate mirror` applies them; --apply opens --store for writing and\n"
    "fails while another process (e.g. `migrate tail`) writes it. The summary then has\n"
    "\"repairs\": {\"planned\", \"appended\", \"deferred\", \"dry_run\"}.\n"
    "Progress goes to standard error: a status line on a terminal, otherwise JSON lines\n"
    "{\"progress\": {\"table\", \"table_index\", \"tables\", \"rows_checked\", \"chunks\"}}.\n"
    "Exit 0 in sync (or stopped with --interval); 1 not in sync, a wait timed out, a read-model\n"
    "table whose columns differ from legacy, or another error; 2 bad usage, URL, --interval,\n"
    "unknown table or a table without capture.";

void AddStoreOption(CLI::App* command, std::string* store) {
  command->add_option("--store", *store, "Folder of the store")->required();
}

// An option kept as text (parsed strictly by the command) that stays nullopt when not given.
void AddOptionalOption(CLI::App* command, const std::string& name,
                       std::optional<std::string>* target, const std::string& help) {
  command->add_option_function<std::string>(
      name, [target](const std::string& value) { *target = value; }, help);
}

void AddReadModelOptions(CLI::App* command, std::string* store, std::string* read_model) {
  AddStoreOption(command, store);
  command->add_option("--read-model", *read_model, kReadModelHelp)->required();
}

int RunCliUnguarded(int argc, char** argv, const ProjectionRegistry& registry) {
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

  ProjectFlags project_flags;
  CLI::App* project = app.add_subcommand("project", "Run projections into a read model");
  project->footer(kProjectHelp);
  AddReadModelOptions(project, &project_flags.store, &project_flags.read_model);
  project
      ->add_option("--projection", project_flags.projections,
                   "NAME[,NAME...]: what to run (may be repeated)")
      ->required()
      ->allow_extra_args(false);  // one list per --projection
  project->add_flag("--once", project_flags.once,
                    "Stop once the head seen at the start is processed");
  AddOptionalOption(project, "--partitions", &project_flags.partitions,
                    "Worker threads per projection, partitioned by stream (1-64, default 1)");

  ReadModelFlags projections_flags;
  CLI::App* projections = app.add_subcommand("projections", "Show the projections of a read model");
  projections->footer(kProjectionsHelp);
  AddReadModelOptions(projections, &projections_flags.store, &projections_flags.read_model);

  DlqFlags dlq_flags;
  CLI::App* dlq = app.add_subcommand("dlq", "List, replay or discard parked events");
  dlq->footer(kDlqHelp);
  dlq->require_subcommand(1);
  CLI::App* dlq_list = dlq->add_subcommand("list", "Print the parked events");
  CLI::App* dlq_replay = dlq->add_subcommand("replay", "Apply the parked events again");
  CLI::App* dlq_discard = dlq->add_subcommand("discard", "Remove the parked events");
  for (CLI::App* action : {dlq_list, dlq_replay, dlq_discard}) {
    action->footer(kDlqHelp);
    AddReadModelOptions(action, &dlq_flags.store, &dlq_flags.read_model);
    action->add_option("--projection", dlq_flags.projection, "The projection")->required();
    AddOptionalOption(action, "--position", &dlq_flags.position,
                      "Only the event at this global position (default: all)");
  }

  RebuildFlags rebuild_flags;
  CLI::App* rebuild =
      app.add_subcommand("rebuild", "Rebuild a projection's read model and switch to it");
  rebuild->footer(kRebuildHelp);
  AddReadModelOptions(rebuild, &rebuild_flags.store, &rebuild_flags.read_model);
  rebuild->add_option("--projection", rebuild_flags.projection, "The projection")->required();

#ifdef SLUICE_CLI_WITH_MIGRATION
  MigrateFlags migrate_flags;
  CLI::App* migrate =
      app.add_subcommand("migrate", "Capture a legacy database's changes as events");
  migrate->footer(kMigrateHelp);
  migrate->require_subcommand(1);
  CLI::App* migrate_install = migrate->add_subcommand("install", "Add change capture to tables");
  CLI::App* migrate_uninstall =
      migrate->add_subcommand("uninstall", "Remove change capture from tables");
  CLI::App* migrate_tail = migrate->add_subcommand("tail", "Append captured changes as events");
  CLI::App* migrate_backfill =
      migrate->add_subcommand("backfill", "Load the rows the tables already hold as events");
  CLI::App* migrate_mirror =
      migrate->add_subcommand("mirror", "Run the mirror projection of the tables");
  for (CLI::App* action : {migrate_install, migrate_uninstall, migrate_tail, migrate_backfill}) {
    action
        ->add_option("--legacy", migrate_flags.legacy,
                     "Legacy database: sqlite:PATH or postgresql://user@host:port/db")
        ->required();
  }
  for (CLI::App* action :
       {migrate_install, migrate_uninstall, migrate_tail, migrate_backfill, migrate_mirror}) {
    action->footer(kMigrateHelp);
    action->add_option("--tables", migrate_flags.tables, "t1,t2,...: the tables")->required();
  }
  for (CLI::App* action : {migrate_tail, migrate_backfill, migrate_mirror}) {
    AddStoreOption(action, &migrate_flags.store);
  }
  migrate_mirror
      ->add_option("--read-model", migrate_flags.read_model,
                   "Read model: sqlite:PATH, rocksdb:DIR or postgresql://user@host:port/db")
      ->required();
  migrate_tail->add_flag("--once", migrate_flags.once,
                         "Stop once every change committed at the start is appended");
  migrate_mirror->add_flag("--once", migrate_flags.once,
                           "Stop once the store's head at the start is processed");

  WatchFlags watch_flags;
  CLI::App* watch = app.add_subcommand("watch", "Check that read models match their legacy tables");
  watch->footer(kWatchHelp);
  watch
      ->add_option("--legacy", watch_flags.legacy,
                   "Legacy database: sqlite:PATH or postgresql://user@host:port/db")
      ->required();
  watch
      ->add_option("--read-model", watch_flags.read_model,
                   "Read model: sqlite:PATH, rocksdb:DIR or postgresql://user@host:port/db")
      ->required();
  watch->add_option("--tables", watch_flags.tables, "t1,t2,...: the tables")->required();
  AddStoreOption(watch, &watch_flags.store);
  watch->add_option("--interval", watch_flags.interval,
                    "Check again every S seconds until SIGINT/SIGTERM");
  CLI::Option* repair =
      watch->add_flag("--repair", watch_flags.repair, "Plan corrective events (dry run)");
  watch->add_flag("--apply", watch_flags.apply, "With --repair: append them")->needs(repair);
#endif

#ifdef SLUICE_CLI_WITH_RABBITMQ
  RelayFlags relay_flags;
  CLI::App* relay =
      app.add_subcommand("relay", "Publish committed events to a RabbitMQ topic exchange");
  AddStoreOption(relay, &relay_flags.store);
  relay->add_option("--amqp", relay_flags.amqp, "Broker: amqp://user:password@host:port/vhost")
      ->required();
  relay->add_option("--exchange", relay_flags.exchange, "Topic exchange (declared if missing)")
      ->required();
  relay->add_flag("--once", relay_flags.once,
                  "Stop once every event committed at the start is confirmed");

  SubscribeFlags subscribe_flags;
  CLI::App* subscribe = app.add_subcommand(
      "subscribe", "Append events another service's relay published to a local store");
  subscribe
      ->add_option("--amqp", subscribe_flags.amqp, "Broker: amqp://user:password@host:port/vhost")
      ->required();
  subscribe->add_option("--exchange", subscribe_flags.exchange, "The relay's topic exchange")
      ->required();
  subscribe->add_option("--queue", subscribe_flags.queue, "Queue (declared and bound if missing)")
      ->required();
  subscribe->add_option("--binding", subscribe_flags.bindings,
                        "Routing-key pattern to bind (repeatable; default: #)");
  AddStoreOption(subscribe, &subscribe_flags.store);
  subscribe->add_flag("--once", subscribe_flags.once, "Stop when the queue is empty");

  AmqpDlqFlags amqp_dlq_flags;
  CLI::App* amqp = app.add_subcommand("amqp", "RabbitMQ tools");
  amqp->require_subcommand(1);
  CLI::App* amqp_dlq = amqp->add_subcommand("dlq", "Dead-lettered messages of a queue");
  amqp_dlq->require_subcommand(1);
  CLI::App* amqp_dlq_list =
      amqp_dlq->add_subcommand("list", "List dead letters (JSON lines, with reason and attempts)");
  CLI::App* amqp_dlq_requeue =
      amqp_dlq->add_subcommand("requeue", "Publish dead letters to their queue again");
  for (CLI::App* action : {amqp_dlq_list, amqp_dlq_requeue}) {
    action
        ->add_option("--amqp", amqp_dlq_flags.amqp, "Broker: amqp://user:password@host:port/vhost")
        ->required();
    action->add_option("--queue", amqp_dlq_flags.queue, "The queue whose dead letters to use")
        ->required();
  }
#endif

  // CLI11 reports an unknown command as "A subcommand is required"; name it instead.
  if (argc >= 2 && argv[1][0] != '-') {
    const std::string first = argv[1];
    const auto commands = app.get_subcommands([](CLI::App*) { return true; });
    const bool known = std::any_of(commands.begin(), commands.end(),
                                   [&first](const CLI::App* c) { return c->get_name() == first; });
    if (!known) {
      std::string names;
      for (const CLI::App* c : commands) names += (names.empty() ? "" : ", ") + c->get_name();
      std::cerr << "error: unknown command '" << first << "' (commands: " << names
                << ")\nRun 'sluice --help'.\n";
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
  if (project->parsed()) return RunProject(project_flags, registry);
  if (projections->parsed()) return RunProjections(projections_flags);
  if (dlq_list->parsed()) return RunDlq(DlqAction::kList, dlq_flags, registry);
  if (dlq_replay->parsed()) return RunDlq(DlqAction::kReplay, dlq_flags, registry);
  if (dlq_discard->parsed()) return RunDlq(DlqAction::kDiscard, dlq_flags, registry);
  if (rebuild->parsed()) return RunRebuild(rebuild_flags, registry);
#ifdef SLUICE_CLI_WITH_MIGRATION
  if (migrate_install->parsed()) return RunMigrateInstall(migrate_flags);
  if (migrate_uninstall->parsed()) return RunMigrateUninstall(migrate_flags);
  if (migrate_tail->parsed()) return RunMigrateTail(migrate_flags);
  if (migrate_backfill->parsed()) return RunMigrateBackfill(migrate_flags);
  if (migrate_mirror->parsed()) return RunMigrateMirror(migrate_flags);
  if (watch->parsed()) return RunWatch(watch_flags);
#endif
#ifdef SLUICE_CLI_WITH_RABBITMQ
  if (relay->parsed()) return RunRelay(relay_flags);
  if (subscribe->parsed()) return RunSubscribe(subscribe_flags);
  if (amqp_dlq_list->parsed()) return RunAmqpDlq(AmqpDlqAction::kList, amqp_dlq_flags);
  if (amqp_dlq_requeue->parsed()) return RunAmqpDlq(AmqpDlqAction::kRequeue, amqp_dlq_flags);
#endif
  std::cerr << "error: no command given\nRun 'sluice --help'.\n";
  return kExitUsage;
}

}  // namespace

int RunCli(int argc, char** argv, const ProjectionRegistry& registry) {
  // No exception may end the process with a crash: report it and exit 1.
  try {
    return RunCliUnguarded(argc, argv, registry);
  } catch (const std::exception& e) {
    std::cerr << "error: internal error: " << e.what() << std::endl;
  } catch (...) {
    std::cerr << "error: internal error" << std::endl;
  }
  return kExitFailure;
}

}  // namespace sluice::cli
