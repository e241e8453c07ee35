// The tool's commands. Each takes its already-parsed flags, prints JSON to standard output and
// errors to standard error, and returns the process exit code (exit_codes.h).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "sluice/projections/projection_registry.h"

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

// Projection commands (issue 4). Names come from `registry`; read models are named by URL
// (sluice/cli/read_model_url.h).
struct ProjectFlags {
  std::string store;
  std::string read_model;
  // Each NAME[,NAME...] (the flag may be given several times).
  std::vector<std::string> projections;
  bool once = false;
  std::optional<std::string> partitions;  // 1-64, default 1
};
// Runs a ProjectionHost until SIGINT/SIGTERM (or, with once, until the start head is processed),
// then prints one JSON line per projection.
int RunProject(const ProjectFlags& flags, const ProjectionRegistry& registry);

struct ReadModelFlags {
  std::string store;
  std::string read_model;
};
// One JSON line per projection found in the read model.
int RunProjections(const ReadModelFlags& flags);

enum class DlqAction { kList, kReplay, kDiscard };
struct DlqFlags {
  std::string store;
  std::string read_model;
  std::string projection;
  std::optional<std::string> position;  // only this parked event; default all
};
int RunDlq(DlqAction action, const DlqFlags& flags, const ProjectionRegistry& registry);

struct RebuildFlags {
  std::string store;
  std::string read_model;
  std::string projection;
};
// A progress bar on standard error when it is a terminal, JSON progress lines otherwise.
int RunRebuild(const RebuildFlags& flags, const ProjectionRegistry& registry);

// Legacy migration (issue 5). --legacy is a database URL (sluice/migration/legacy_url.h);
// --tables a comma-separated list of table names.
struct MigrateFlags {
  std::string legacy;  // not mirror
  std::string tables;
  std::string store;       // backfill, tail, mirror
  std::string read_model;  // mirror only
  bool once = false;       // tail, mirror
};
// Adds (install) or removes (uninstall) the change log and capture triggers of the tables.
int RunMigrateInstall(const MigrateFlags& flags);
int RunMigrateUninstall(const MigrateFlags& flags);
// Appends captured changes to the store until SIGINT/SIGTERM, or with once until every change
// committed at the start is appended.
int RunMigrateTail(const MigrateFlags& flags);
// Loads the rows the tables hold into the store, while the legacy application keeps writing,
// until every row is loaded (resumable).
int RunMigrateBackfill(const MigrateFlags& flags);
// Runs the generic mirror projection of the tables into the read model, until SIGINT/SIGTERM, or
// with once until the store's head at the start is processed.
int RunMigrateMirror(const MigrateFlags& flags);

struct WatchFlags {
  std::string legacy;
  std::string read_model;
  std::string tables;
  std::string store;
  std::optional<std::string> interval;  // seconds between checks; default: check once
  bool repair = false;
  bool apply = false;  // with repair: append the corrective events (default: dry run)
};
// The sync watcher: compares the legacy tables with their mirror read-model tables. Once: exit 0
// in sync, 1 not in sync (one JSON line per difference, a summary line last), 2 bad input.
int RunWatch(const WatchFlags& flags);

// Messaging over RabbitMQ (issue 6). --amqp is a broker URL (sluice/rabbitmq/amqp_url.h); it is
// never printed with its password.
struct RelayFlags {
  std::string store;
  std::string amqp;
  std::string exchange;
  bool once = false;
};
// Publishes the store's committed events to the topic exchange (declared if missing), with
// publisher confirms and a checkpoint advanced after each confirm, until SIGINT/SIGTERM, or with
// once until every event committed at the start is confirmed (relay_command.cc).
int RunRelay(const RelayFlags& flags);

struct SubscribeFlags {
  std::string amqp;
  std::string exchange;
  std::string queue;
  std::vector<std::string> bindings;  // default: "#"
  std::string store;
  bool once = false;
};
// Consumes events another service's relay published and appends them to the store under the same
// streams and event ids, deduplicated, in order per stream; with once until the queue is empty
// (subscribe_command.cc).
int RunSubscribe(const SubscribeFlags& flags);

enum class AmqpDlqAction { kList, kRequeue };
struct AmqpDlqFlags {
  std::string amqp;
  std::string queue;
};
// Lists the dead letters of a queue (JSON lines with reason and attempt count) or publishes them
// to the queue again (amqp_dlq_command.cc).
int RunAmqpDlq(AmqpDlqAction action, const AmqpDlqFlags& flags);

}  // namespace sluice::cli
