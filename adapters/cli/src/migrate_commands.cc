// `sluice migrate install|uninstall|tail|backfill|mirror`: change capture on a legacy database,
// the tailer, the backfill and the generic mirror projection.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "exit_codes.h"
#include "json_codec.h"
#include "legacy_access.h"
#include "output.h"
#include "read_model_access.h"
#include "sluice/cli/projection_host.h"
#include "sluice/migration/backfill.h"
#include "sluice/migration/legacy_url.h"
#include "sluice/migration/mirror_projection.h"
#include "sluice/migration/tailer.h"
#include "stop_signals.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

using migration::LegacySource;

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr auto kProgressInterval = std::chrono::milliseconds(500);
// How often `mirror` looks for a schema event it waits for.
constexpr auto kSchemaPollInterval = std::chrono::milliseconds(200);

nlohmann::ordered_json BackfillToJson(const migration::BackfillProgress& progress,
                                      bool final_line) {
  nlohmann::ordered_json out;
  out["table"] = progress.table;
  out["rows"] = progress.rows;
  out["loaded"] = progress.loaded;
  out["skipped"] = progress.skipped;
  out["chunks"] = progress.chunks;
  out["position"] = progress.position;
  out["done"] = progress.done;
  if (final_line) out["final"] = true;
  return out;
}

// As `sluice project` prints a projection, with the table first.
nlohmann::ordered_json MirrorReportToJson(const std::string& table,
                                          const ProjectionReport& report) {
  nlohmann::ordered_json out;
  out["table"] = table;
  out.update(ProjectionReportToJson(report));
  return out;
}

// Shared by install and uninstall: parse, open, act, print what is captured now.
int RunCaptureChange(const MigrateFlags& flags, bool install) {
  const std::vector<std::string> tables = SplitTables(flags.tables);
  if (tables.empty()) return kExitUsage;
  int exit_code = kExitOk;
  std::unique_ptr<LegacySource> source = OpenLegacy(flags.legacy, &exit_code);
  if (source == nullptr) return exit_code;
  const Status status = install ? source->Install(tables) : source->Uninstall(tables);
  if (!status.ok()) {
    PrintError(install ? "install" : "uninstall", status);
    return ExitCodeOf(status);
  }
  Result<migration::SourceDescription> description = source->Describe();
  if (!description.ok()) {
    PrintError("describe", description.status());
    return kExitFailure;
  }
  nlohmann::ordered_json out;
  out[install ? "installed" : "uninstalled"] = tables;
  out["captured"] = description->tables;
  out["source_id"] = description->source_id;
  out["last_change_id"] = description->last_change_id;
  PrintJsonLine(out);
  return FinishOutput() ? kExitOk : kExitFailure;
}

nlohmann::ordered_json ProgressToJson(const migration::TailProgress& total,
                                      migration::ChangeId head) {
  nlohmann::ordered_json out;
  out["checkpoint"] = total.checkpoint;
  out["head"] = head;
  out["lag"] = head > total.checkpoint ? head - total.checkpoint : 0;
  out["changes"] = total.changes;
  out["events"] = total.events;
  return out;
}

}  // namespace

int RunMigrateInstall(const MigrateFlags& flags) { return RunCaptureChange(flags, true); }
int RunMigrateUninstall(const MigrateFlags& flags) { return RunCaptureChange(flags, false); }

int RunMigrateBackfill(const MigrateFlags& flags) {
  StopSignals signals;
  const std::vector<std::string> tables = SplitTables(flags.tables);
  if (tables.empty()) return kExitUsage;
  int exit_code = kExitOk;
  std::unique_ptr<LegacySource> source = OpenLegacy(flags.legacy, &exit_code);
  if (source == nullptr) return exit_code;
  if (!CheckCaptured(*source, tables, &exit_code)) return exit_code;
  std::unique_ptr<RocksEventStore> store = OpenForWriting(flags.store);
  if (store == nullptr) return kExitFailure;

  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  auto last_report = std::chrono::steady_clock::now() - kProgressInterval;
  migration::BackfillOptions options;
  options.stop = signals.flag();
  options.on_progress = [&](const migration::BackfillProgress& progress) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report < kProgressInterval && !progress.done) return;
    last_report = now;
    if (terminal) {
      std::cerr << "\rbackfilling " << progress.table << ": " << progress.rows << " rows, "
                << progress.loaded << " loaded, " << progress.skipped << " skipped, "
                << progress.chunks << " chunks" << (progress.done ? ", done" : "") << "   "
                << std::flush;
    } else {
      PrintJsonLine(BackfillToJson(progress, false), true);
    }
  };
  migration::Backfill backfill(*source, *store, tables, options);
  Result<std::vector<migration::BackfillProgress>> done = backfill.Run();
  if (terminal) std::cerr << "\n";
  if (!done.ok()) {
    PrintError("backfill", done.status());
    return ExitCodeOf(done.status());
  }
  bool complete = true;
  for (const migration::BackfillProgress& progress : *done) {
    PrintJsonLine(BackfillToJson(progress, true), true);
    complete = complete && progress.done;
  }
  const bool output_ok = FinishOutput();
  if (!complete) {
    PrintError("backfill stopped before it was complete; run it again to continue");
    return kExitFailure;
  }
  return output_ok ? kExitOk : kExitFailure;
}

int RunMigrateMirror(const MigrateFlags& flags) {
  StopSignals signals;
  const std::vector<std::string> tables = SplitTables(flags.tables);
  if (tables.empty()) return kExitUsage;
  if (!CheckReadModelUrl(flags.read_model)) return kExitUsage;
  std::unique_ptr<RocksEventStore> store = OpenForReading(flags.store);
  if (store == nullptr) return kExitFailure;

  // The projections need each table's schema event; without --once, wait for it to be appended.
  std::vector<std::shared_ptr<Projection>> projections;
  bool waiting_noted = false;
  while (true) {
    Result<std::vector<std::shared_ptr<Projection>>> made =
        migration::MakeMirrorProjections(*store, tables);
    if (made.ok()) {
      projections = std::move(*made);
      break;
    }
    if (!made.status().IsNotFound() || flags.once) {
      PrintError("mirror", made.status());
      return made.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
    }
    if (!waiting_noted) {
      std::cerr << "waiting: " << made.status().message() << std::endl;
      waiting_noted = true;
    }
    if (signals.flag()->load()) return FinishOutput() ? kExitOk : kExitFailure;
    std::this_thread::sleep_for(kSchemaPollInterval);
    if (Status s = store->Refresh(); !s.ok()) {
      PrintError("mirror: following the store", s);
      return kExitFailure;
    }
  }
  store.reset();  // the host opens its own follower

  ProjectionRegistry registry;
  ProjectionHostOptions options;
  options.store_dir = flags.store;
  options.read_model_url = flags.read_model;
  options.once = flags.once;
  // A TRUNCATE must be applied in log order with the row streams (mirror_projection.h).
  options.worker.partitions = 1;
  for (const std::shared_ptr<Projection>& projection : projections) {
    const std::string name = projection->Name();
    if (Status s = registry.Add(name, [projection] { return projection; }); !s.ok()) {
      PrintError("mirror", s);
      return kExitUsage;
    }
    options.projections.push_back(name);
  }
  Result<std::unique_ptr<ProjectionHost>> host = ProjectionHost::Start(options, registry);
  if (!host.ok()) {
    PrintError(host.status().message());
    return host.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  const Status ended = (*host)->Run(signals.flag());
  const std::vector<ProjectionReport> reports = (*host)->Reports();
  for (std::size_t i = 0; i < reports.size(); ++i) {
    PrintJsonLine(MirrorReportToJson(tables[i], reports[i]));
  }
  const bool output_ok = FinishOutput();
  if (!ended.ok()) {
    PrintError(ended.message());
    return kExitFailure;
  }
  return output_ok ? kExitOk : kExitFailure;
}

int RunMigrateTail(const MigrateFlags& flags) {
  StopSignals signals;
  const std::vector<std::string> tables = SplitTables(flags.tables);
  if (tables.empty()) return kExitUsage;
  int exit_code = kExitOk;
  std::unique_ptr<LegacySource> source = OpenLegacy(flags.legacy, &exit_code);
  if (source == nullptr) return exit_code;
  if (!CheckCaptured(*source, tables, &exit_code)) return exit_code;
  std::unique_ptr<RocksEventStore> store = OpenForWriting(flags.store);
  if (store == nullptr) return kExitFailure;

  migration::TailerOptions options;
  options.tables = std::set<std::string>(tables.begin(), tables.end());
  migration::Tailer tailer(*source, *store, options);
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  migration::TailProgress total;
  auto last_report = std::chrono::steady_clock::now() - kProgressInterval;

  const auto report = [&](bool final_line) -> Status {
    Result<migration::SourceDescription> now = source->Describe();
    if (!now.ok()) return now.status();
    const nlohmann::ordered_json line = ProgressToJson(total, now->last_change_id);
    if (terminal && !final_line) {
      std::cerr << "\rtailing: checkpoint " << total.checkpoint << "/" << now->last_change_id
                << ", " << total.changes << " changes, " << total.events << " events   "
                << std::flush;
    } else if (final_line || !terminal) {
      if (terminal) std::cerr << "\n";
      PrintJsonLine(line, true);
    }
    return Status::Ok();
  };

  // With --once: everything committed now. The legacy database being busy (Unavailable: its
  // lock not granted within the wait) is retried with backoff, visibly, never fatal.
  migration::ChangeId target = 0;
  if (flags.once) {
    Result<migration::SourceDescription> now = source->Describe();
    if (!now.ok()) {
      PrintError("tail", now.status());
      return ExitCodeOf(now.status());
    }
    target = now->last_change_id;
  }
  Status status = Status::Ok();
  auto backoff = kPollInterval;
  while (!signals.flag()->load()) {
    Result<migration::TailProgress> step = tailer.Step();
    if (!step.ok() && step.status().code() == StatusCode::kUnavailable) {
      PrintError("tail: retrying in " + std::to_string(backoff.count()) + " ms", step.status());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    if (!step.ok()) {
      status = step.status();
      break;
    }
    backoff = kPollInterval;
    total.checkpoint = step->checkpoint;
    total.changes += step->changes;
    total.events += step->events;
    if (flags.once && (step->changes == 0 || total.checkpoint >= target)) break;
    const auto now = std::chrono::steady_clock::now();
    if (step->changes > 0 && now - last_report >= kProgressInterval) {
      last_report = now;
      status = report(false);
      if (!status.ok()) break;
    }
    if (step->changes == 0) std::this_thread::sleep_for(kPollInterval);
  }
  if (!status.ok()) {
    PrintError("tail", status);
    return ExitCodeOf(status);
  }
  if (Status s = report(true); !s.ok()) {
    PrintError("tail", s);
    return kExitFailure;
  }
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
