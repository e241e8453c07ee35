// `sluice migrate install|uninstall|tail`: change capture on a legacy database and the tailer.
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
#include "output.h"
#include "sluice/migration/legacy_url.h"
#include "sluice/migration/tailer.h"
#include "stop_signals.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

using migration::LegacySource;

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr auto kProgressInterval = std::chrono::milliseconds(500);

// The table names of --tables, or empty after reporting a malformed list.
std::vector<std::string> SplitTables(const std::string& text) {
  std::vector<std::string> tables;
  std::set<std::string> seen;
  std::stringstream in(text);
  std::string name;
  bool bad = text.empty() || text.back() == ',';
  while (!bad && std::getline(in, name, ',')) {
    bad = name.empty() || !seen.insert(name).second;
    tables.push_back(name);
  }
  if (bad) {
    PrintError("--tables: '" + text + "' is not a comma-separated list of distinct table names");
    return {};
  }
  return tables;
}

// Opens the legacy database of --legacy. On failure reports it and sets `*exit_code`.
std::unique_ptr<LegacySource> OpenLegacy(const std::string& url, int* exit_code) {
  Result<std::unique_ptr<LegacySource>> source = migration::OpenLegacySource(url);
  if (!source.ok()) {
    const bool usage = source.status().code() == StatusCode::kInvalidArgument;
    PrintError(usage ? "--legacy" : "cannot open legacy database", source.status());
    *exit_code = usage ? kExitUsage : kExitFailure;
    return nullptr;
  }
  return std::move(source).value();
}

int ExitCodeOf(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
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

int RunMigrateBackfill(const MigrateFlags&) {
  PrintError("migrate backfill: not implemented yet");
  return kExitFailure;
}

int RunMigrateMirror(const MigrateFlags&) {
  PrintError("migrate mirror: not implemented yet");
  return kExitFailure;
}

int RunMigrateTail(const MigrateFlags& flags) {
  StopSignals signals;
  const std::vector<std::string> tables = SplitTables(flags.tables);
  if (tables.empty()) return kExitUsage;
  int exit_code = kExitOk;
  std::unique_ptr<LegacySource> source = OpenLegacy(flags.legacy, &exit_code);
  if (source == nullptr) return exit_code;
  Result<migration::SourceDescription> description = source->Describe();
  if (!description.ok()) {
    PrintError("describe", description.status());
    return kExitFailure;
  }
  for (const std::string& table : tables) {
    if (std::find(description->tables.begin(), description->tables.end(), table) ==
        description->tables.end()) {
      PrintError("--tables: capture is not installed for '" + table +
                 "' (run sluice migrate install)");
      return kExitUsage;
    }
  }
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

  Status status = Status::Ok();
  if (flags.once) {
    Result<migration::TailProgress> done = tailer.CatchUp(signals.flag());
    if (done.ok()) total = *done;
    status = done.status();
  } else {
    while (!signals.flag()->load()) {
      Result<migration::TailProgress> step = tailer.Step();
      if (!step.ok()) {
        status = step.status();
        break;
      }
      total.checkpoint = step->checkpoint;
      total.changes += step->changes;
      total.events += step->events;
      const auto now = std::chrono::steady_clock::now();
      if (step->changes > 0 && now - last_report >= kProgressInterval) {
        last_report = now;
        status = report(false);
        if (!status.ok()) break;
      }
      if (step->changes == 0) std::this_thread::sleep_for(kPollInterval);
    }
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
