// `sluice project`, `sluice projections` and `sluice rebuild`.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "exit_codes.h"
#include "json_codec.h"
#include "output.h"
#include "read_model_access.h"
#include "sluice/cli/projection_host.h"
#include "sluice/cli/read_model_url.h"
#include "sluice/projections/projection_catalog.h"
#include "sluice/projections/rebuild.h"
#include "stop_signals.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

constexpr int kMaxPartitions = 64;

// Splits each NAME[,NAME...]; prints the problem and returns an empty list if a name is empty or
// repeated.
std::vector<std::string> SplitNames(const std::vector<std::string>& lists) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const std::string& text : lists) {
    std::stringstream in(text);
    std::string name;
    bool bad = text.empty() || text.back() == ',';
    while (!bad && std::getline(in, name, ',')) {
      if (name.empty()) {
        bad = true;
      } else if (!seen.insert(name).second) {
        PrintError("--projection: " + name + " is named twice");
        return {};
      } else {
        names.push_back(name);
      }
    }
    if (bad) {
      PrintError("--projection: '" + text + "' is not a comma-separated list of projection names");
      return {};
    }
  }
  return names;
}

double Rounded(double value) { return std::round(value * 10) / 10; }

nlohmann::ordered_json ProgressToJson(const RebuildProgress& progress) {
  nlohmann::ordered_json out;
  out["events_done"] = progress.events_done;
  out["position"] = progress.position;
  out["head"] = progress.head;
  out["events_per_second"] = Rounded(progress.events_per_second);
  out["eta_seconds"] = Rounded(progress.eta_seconds);
  out["switched"] = progress.switched;
  return out;
}

// One line of the terminal progress bar, drawn over the previous one.
void DrawProgressBar(const std::string& name, const RebuildProgress& progress) {
  constexpr int kWidth = 30;
  const double fraction = progress.switched || progress.head == 0
                              ? 1.0
                              : std::min(1.0, static_cast<double>(progress.position) /
                                                  static_cast<double>(progress.head));
  const int filled = static_cast<int>(fraction * kWidth);
  std::ostringstream line;
  line << "\rrebuilding " << name << " [" << std::string(static_cast<std::size_t>(filled), '#')
       << std::string(static_cast<std::size_t>(kWidth - filled), '.') << "] "
       << static_cast<int>(fraction * 100) << "%  " << progress.position << "/" << progress.head
       << "  " << static_cast<std::uint64_t>(progress.events_per_second) << " events/s";
  if (progress.switched) {
    line << "  switched\n";
  } else {
    line << "  ETA " << static_cast<std::uint64_t>(std::ceil(progress.eta_seconds)) << "s   ";
  }
  std::cerr << line.str() << std::flush;
}

}  // namespace

int RunProject(const ProjectFlags& flags, const ProjectionRegistry& registry) {
  // First, so that a signal from here on ends the run cleanly instead of killing the process.
  StopSignals signals;
  const std::optional<std::int64_t> partitions =
      ParseBoundedFlag("--partitions", flags.partitions, 1, 1, kMaxPartitions);
  if (!partitions) return kExitUsage;
  const std::vector<std::string> names = SplitNames(flags.projections);
  if (names.empty()) return kExitUsage;
  for (const std::string& name : names) {
    if (CreateProjection(registry, name) == nullptr) return kExitUsage;
  }
  if (!CheckReadModelUrl(flags.read_model)) return kExitUsage;

  ProjectionHostOptions options;
  options.store_dir = flags.store;
  options.read_model_url = flags.read_model;
  options.projections = names;
  options.once = flags.once;
  options.worker.partitions = static_cast<int>(*partitions);
  Result<std::unique_ptr<ProjectionHost>> host = ProjectionHost::Start(options, registry);
  if (!host.ok()) {
    PrintError(host.status().message());
    return kExitFailure;
  }
  const Status ended = (*host)->Run(signals.flag());
  for (const ProjectionReport& report : (*host)->Reports())
    PrintJsonLine(ProjectionReportToJson(report));
  const bool output_ok = FinishOutput();
  if (!ended.ok()) {
    PrintError(ended.message());
    return kExitFailure;
  }
  return output_ok ? kExitOk : kExitFailure;
}

int RunProjections(const ReadModelFlags& flags) {
  if (!CheckReadModelUrl(flags.read_model)) return kExitUsage;
  std::unique_ptr<RocksEventStore> events = OpenForReading(flags.store);
  if (events == nullptr) return kExitFailure;
  bool missing = false;
  std::unique_ptr<ReadModelStore> read_model = OpenExistingReadModel(flags.read_model, &missing);
  if (missing) return FinishOutput() ? kExitOk : kExitFailure;
  if (read_model == nullptr) return kExitFailure;

  Result<std::vector<std::string>> names = ListProjections(*read_model);
  if (!names.ok()) {
    PrintError("listing the projections of '" + RedactedReadModelUrl(flags.read_model) + "' failed",
               names.status());
    return kExitFailure;
  }
  const GlobalPosition head = events->HeadPosition();
  for (const std::string& name : *names) {
    Result<ProjectionReport> report = DescribeProjection(*read_model, name, head);
    if (!report.ok()) {
      PrintError("describing projection " + name + " failed", report.status());
      return kExitFailure;
    }
    PrintJsonLine(ProjectionReportToJson(*report));
  }
  return FinishOutput() ? kExitOk : kExitFailure;
}

int RunRebuild(const RebuildFlags& flags, const ProjectionRegistry& registry) {
  std::shared_ptr<Projection> projection = CreateProjection(registry, flags.projection);
  if (projection == nullptr) return kExitUsage;
  if (!CheckReadModelUrl(flags.read_model)) return kExitUsage;
  std::unique_ptr<RocksEventStore> events = OpenForReading(flags.store);
  if (events == nullptr) return kExitFailure;
  std::unique_ptr<ReadModelStore> read_model = OpenReadModelForWriting(flags.read_model);
  if (read_model == nullptr) return kExitFailure;

  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  RebuildOptions options;
  options.progress_interval = std::chrono::milliseconds(terminal ? 100 : 500);
  options.on_progress = [&](const RebuildProgress& progress) {
    if (terminal) {
      DrawProgressBar(flags.projection, progress);
    } else {
      PrintJsonLine(ProgressToJson(progress), /*flush=*/true);
    }
  };
  Result<RebuildProgress> done = Rebuild(*events, *read_model, projection, options);
  if (!done.ok()) {
    if (terminal) std::cerr << '\n';
    PrintError(done.status().message());
    return kExitFailure;
  }
  // On a terminal the bar went to standard error; scripts still get the final figures.
  if (terminal) PrintJsonLine(ProgressToJson(*done));
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
