// `sluice watch`: the sync watcher (sluice/migration/watcher.h), optionally with repair.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "exit_codes.h"
#include "legacy_access.h"
#include "output.h"
#include "read_model_access.h"
#include "sluice/migration/legacy_url.h"
#include "sluice/migration/repair.h"
#include "sluice/migration/watcher.h"
#include "sluice/projections/in_memory_read_model_store.h"
#include "stop_signals.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

using Json = nlohmann::ordered_json;
using migration::LegacySource;

// Repairs kept for --apply until the check ends (appending during the check would move the store
// head the check waits for); more are left for the next run.
constexpr std::size_t kMaxRepairsPerRun = 100'000;

// --interval: seconds, a number > 0 and <= 86400 (fractions allowed, e.g. 0.5).
std::optional<double> ParseInterval(const std::string& text) {
  std::size_t digits = 0;
  std::size_t points = 0;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.') {
      ++points;
    } else {
      digits = 0;
      break;
    }
  }
  if (digits > 0 && points <= 1 && text.size() <= 20) {
    const double seconds = std::strtod(text.c_str(), nullptr);
    if (seconds > 0 && seconds <= 86400) return seconds;
  }
  PrintError("--interval: '" + text + "' is not a number of seconds between 0 and 86400");
  return std::nullopt;
}

Json ParsedOrText(const std::string& json) {
  try {
    return Json::parse(json);
  } catch (const Json::exception&) {
    return Json(json);
  }
}

Json SummaryJson(const migration::WatchFigures& figures) {
  Json out;
  out["tables"] = figures.tables;
  out["in_sync"] = figures.in_sync();
  out["rows_checked"] = figures.rows_checked;
  out["chunks"] = figures.chunks;
  out["differences"] =
      Json{{"missing", figures.missing}, {"extra", figures.extra}, {"changed", figures.changed}};
  out["rechecked"] = figures.rechecked;
  out["unsettled"] = figures.unsettled;
  out["position"] = figures.position;
  Json positions = Json::object();
  for (const auto& [table, position] : figures.positions) positions[table] = position;
  out["positions"] = positions;
  out["seconds"] = std::round(figures.seconds * 1000) / 1000;
  return out;
}

Json RepairJson(const migration::RowDifference& difference, const migration::RepairEvent& repair) {
  Json out;
  out["repair"] = std::string(migration::DifferenceKindName(difference.kind));
  out["table"] = difference.table;
  out["key"] = ParsedOrText(difference.key_json);
  out["stream"] = repair.stream;
  out["type"] = repair.event.type;
  out["event_id"] = repair.event.event_id;
  out["payload"] = ParsedOrText(repair.event.payload);
  return out;
}

void PrintDifference(const migration::RowDifference& difference) {
  Json line;
  line["table"] = difference.table;
  line["key"] = ParsedOrText(difference.key_json);
  line["kind"] = std::string(migration::DifferenceKindName(difference.kind));
  if (difference.kind != migration::DifferenceKind::kChanged) {
    PrintJsonLine(line, true);
    return;
  }
  for (const migration::ColumnDifference& column : difference.columns) {
    Json changed = line;
    changed["column"] = column.column;
    changed["legacy"] = ParsedOrText(column.legacy_json);
    changed["read_model"] = ParsedOrText(column.read_model_json);
    PrintJsonLine(changed, true);
  }
}

void ShowProgress(const migration::WatchProgress& progress, bool terminal) {
  if (terminal) {
    std::cerr << "\rwatch: " << progress.table << " (" << progress.table_index + 1 << "/"
              << progress.tables << ")  " << progress.rows_checked << " rows, " << progress.chunks
              << " chunks   " << std::flush;
    return;
  }
  Json line;
  line["progress"] = Json{{"table", progress.table},
                          {"table_index", progress.table_index},
                          {"tables", progress.tables},
                          {"rows_checked", progress.rows_checked},
                          {"chunks", progress.chunks}};
  std::cerr << JsonText(line) << std::endl;
}

}  // namespace

int RunWatch(const WatchFlags& flags) {
  StopSignals signals;
  const std::vector<std::string> tables = SplitTables(flags.tables);
  if (tables.empty()) return kExitUsage;
  std::optional<double> interval;
  if (flags.interval) {
    interval = ParseInterval(*flags.interval);
    if (!interval) return kExitUsage;
  }
  if (flags.apply && !flags.repair) {
    PrintError("--apply needs --repair");
    return kExitUsage;
  }
  if (!CheckReadModelUrl(flags.read_model)) return kExitUsage;

  int exit_code = kExitOk;
  std::unique_ptr<LegacySource> opened = OpenLegacy(flags.legacy, &exit_code);
  if (opened == nullptr) return exit_code;
  LegacySource& source = *opened;
  for (const std::string& table : tables) {
    Result<migration::LegacyTable> legacy_table = source.DescribeTable(table);
    if (!legacy_table.ok()) {
      PrintError("--tables", legacy_table.status());
      return legacy_table.status().IsNotFound() ? kExitUsage : ExitCodeOf(legacy_table.status());
    }
  }
  if (!CheckCaptured(source, tables, &exit_code, ": the watcher compares at capture positions")) {
    return exit_code;
  }

  // The mirror creates the read model when it starts: give it the wait's time to appear. Still
  // none then: every table is missing, so every legacy row is reported missing.
  bool missing = false;
  std::unique_ptr<ReadModelStore> read_model = OpenExistingReadModel(flags.read_model, &missing);
  const auto give_up = std::chrono::steady_clock::now() + migration::PipelineWaitOptions{}.timeout;
  while (read_model == nullptr && missing && !signals.flag()->load() &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    read_model = OpenExistingReadModel(flags.read_model, &missing);
  }
  if (read_model == nullptr && !missing) return kExitFailure;
  if (read_model == nullptr) read_model = NewInMemoryReadModelStore();

  std::unique_ptr<RocksEventStore> store =
      flags.apply ? OpenForWriting(flags.store) : OpenForReading(flags.store);
  if (store == nullptr) return kExitFailure;

  migration::PipelineWaitOptions wait_options;
  std::vector<std::string> sorted = tables;
  std::sort(sorted.begin(), sorted.end());
  wait_options.consumer = "tail:";
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    wait_options.consumer += (i > 0 ? "," : "") + sorted[i];
  }
  RocksEventStore* events = store.get();
  wait_options.store_head = [events]() -> Result<GlobalPosition> {
    if (Status s = events->Refresh(); !s.ok()) return s;
    return events->HeadPosition();
  };

  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  bool progress_shown = false;
  std::vector<std::pair<migration::RowDifference, migration::RepairEvent>> repairs;
  std::uint64_t repairs_planned = 0;
  std::uint64_t repairs_deferred = 0;
  Status repair_error = Status::Ok();
  std::map<std::string, migration::LegacyTable> legacy_tables;

  migration::WatcherOptions options;
  options.wait = migration::PipelineWait(source, *read_model, wait_options);
  options.stop = signals.flag();
  options.on_progress = [&](const migration::WatchProgress& progress) {
    ShowProgress(progress, terminal);
    progress_shown = true;
  };
  options.on_difference = [&](const migration::RowDifference& difference) {
    if (terminal && progress_shown) {
      std::cerr << "\n";
      progress_shown = false;
    }
    PrintDifference(difference);
    if (!flags.repair || !repair_error.ok()) return;
    auto found = legacy_tables.find(difference.table);
    if (found == legacy_tables.end()) {
      Result<migration::LegacyTable> described = source.DescribeTable(difference.table);
      if (!described.ok()) {
        repair_error = described.status();
        return;
      }
      found = legacy_tables.emplace(difference.table, std::move(*described)).first;
    }
    Result<migration::RepairEvent> repair = migration::PlanRepair(found->second, difference);
    if (!repair.ok()) {
      repair_error = repair.status();
      return;
    }
    ++repairs_planned;
    if (!flags.apply) {
      PrintJsonLine(RepairJson(difference, *repair), true);
    } else if (repairs.size() < kMaxRepairsPerRun) {
      repairs.emplace_back(difference, std::move(*repair));
    } else {
      ++repairs_deferred;
    }
  };

  migration::SyncWatcher watcher(source, *read_model, options);
  for (;;) {
    repairs.clear();
    repairs_planned = 0;
    repairs_deferred = 0;
    Result<migration::WatchFigures> figures = watcher.Check(tables);
    if (terminal && progress_shown) {
      std::cerr << "\n";
      progress_shown = false;
    }
    if (!figures.ok()) {
      PrintError("watch", figures.status());
      if (!interval || figures.status().code() == StatusCode::kInvalidArgument) {
        return ExitCodeOf(figures.status());
      }
    } else {
      if (!repair_error.ok()) {
        PrintError("repair", repair_error);
        return kExitFailure;
      }
      migration::RepairOptions repair_options;
      migration::RepairAppender appender(*store, repair_options);
      std::uint64_t appended = 0;
      for (auto& [difference, repair] : repairs) {
        Json line = RepairJson(difference, repair);
        Result<bool> done = appender.Append(std::move(repair));
        if (!done.ok()) {
          PrintError("repair: append to stream " + line["stream"].get<std::string>(),
                     done.status());
          return kExitFailure;
        }
        line["appended"] = *done;
        appended += *done ? 1 : 0;
        PrintJsonLine(line, true);
      }
      Json summary = SummaryJson(*figures);
      if (flags.repair) {
        summary["repairs"] = Json{{"planned", repairs_planned},
                                  {"appended", appended},
                                  {"deferred", repairs_deferred},
                                  {"dry_run", !flags.apply}};
      }
      PrintJsonLine(summary, true);
      if (!interval) {
        if (!FinishOutput()) return kExitFailure;
        return figures->in_sync() ? kExitOk : kExitFailure;
      }
    }
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(*interval));
    while (!signals.flag()->load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (signals.flag()->load()) return FinishOutput() ? kExitOk : kExitFailure;
  }
}

}  // namespace sluice::cli
