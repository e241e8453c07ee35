// `sluice relay`: publishes the store's committed events to a RabbitMQ topic exchange
// (sluice/rabbitmq/relay.h), following the store read-only as a follower so that another process
// may write it meanwhile. The checkpoint lives in the store's folder, in
// `<store>/relay/<exchange>.checkpoint` (RocksDB ignores folders it does not know).
//
// Standard output: one JSON summary line at the end. Standard error: JSON state lines when the
// relay connects, loses the broker, retries or reconnects; "error: ..." lines for failures.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "commands.h"
#include "exit_codes.h"
#include "output.h"
#include "sluice/rabbitmq/amqp_url.h"
#include "sluice/rabbitmq/relay.h"
#include "stop_signals.h"
#include "store_access.h"

namespace sluice::cli {
namespace {

using rabbitmq::RelayReport;
using rabbitmq::RelayState;

// With --once, an unreachable broker is an error after this long (not a hang).
constexpr std::chrono::milliseconds kOnceGiveUp{3000};

nlohmann::ordered_json ReportJson(const RelayReport& report) {
  nlohmann::ordered_json line;
  line["state"] = std::string(rabbitmq::RelayStateName(report.state));
  line["exchange"] = report.exchange;
  line["broker"] = report.broker;
  line["checkpoint"] = report.checkpoint;
  line["head"] = report.head;
  line["lag"] = report.lag;
  line["published"] = report.published;
  line["reconnects"] = report.reconnects;
  if (!report.last_error.empty()) line["error"] = report.last_error;
  return line;
}

// Prints the state lines worth a reader's attention: connecting, every failure and retry, the
// first state after a (re)connection, and the end; not each publishing/caught-up flip.
class StateLines {
 public:
  void OnChange(const RelayReport& report) {
    std::lock_guard<std::mutex> lock(mu_);
    const bool trouble = report.state == RelayState::kConnecting ||
                         report.state == RelayState::kReconnecting ||
                         report.state == RelayState::kFailed;
    const bool recovered = last_trouble_ && !trouble;
    if (report.state == RelayState::kPublishing || report.state == RelayState::kCaughtUp) {
      connected_ = true;
    }
    if (trouble || recovered) {
      std::cerr << JsonText(ReportJson(report)) << std::endl;
    }
    last_trouble_ = trouble;
  }

  // True once the relay has been connected to the broker (it publishes or is caught up only
  // then): --once needs that too, so an unreachable broker is an error even with nothing to
  // publish.
  bool connected() {
    std::lock_guard<std::mutex> lock(mu_);
    return connected_;
  }

 private:
  std::mutex mu_;
  bool last_trouble_ = false;
  bool connected_ = false;
};

}  // namespace

int RunRelay(const RelayFlags& flags) {
  Result<rabbitmq::AmqpUrl> url = rabbitmq::ParseAmqpUrl(flags.amqp);
  if (!url.ok()) {
    PrintError("bad --amqp URL", url.status());
    return kExitUsage;
  }
  if (Status valid = rabbitmq::ValidateExchangeName(flags.exchange); !valid.ok()) {
    PrintError("bad --exchange", valid);
    return kExitUsage;
  }
  Result<std::unique_ptr<RocksEventStore>> store = OpenFollowerStore(flags.store);
  if (!store.ok()) {
    PrintError(store.status().message());
    return store.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }

  StateLines lines;
  rabbitmq::RelayOptions options;
  options.url = *url;
  options.exchange = flags.exchange;
  options.checkpoint_path =
      (std::filesystem::path(flags.store) / "relay" / (flags.exchange + ".checkpoint")).string();
  if (flags.once) options.give_up_after = kOnceGiveUp;
  options.on_state_change = [&lines](const RelayReport& report) { lines.OnChange(report); };

  // Everything committed now is what --once must publish (the follower caught up at open).
  const GlobalPosition start_head = (*store)->HeadPosition();
  StopSignals signals;
  Result<std::unique_ptr<rabbitmq::Relay>> relay = rabbitmq::Relay::Start(**store, options);
  if (!relay.ok()) {
    PrintError("cannot start the relay", relay.status());
    return relay.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }

  Status ended;
  for (;;) {
    if (signals.flag()->load()) break;
    Status waited =
        (*relay)->WaitFor(flags.once ? start_head : std::numeric_limits<GlobalPosition>::max(),
                          std::chrono::milliseconds(100));
    if ((*relay)->Report().state == RelayState::kFailed) {
      // The error that stopped it (WaitFor of a position never reached returns it at once).
      ended = (*relay)->WaitFor(std::numeric_limits<GlobalPosition>::max(),
                                std::chrono::milliseconds(0));
      break;
    }
    if (waited.ok()) {  // only with --once
      if (lines.connected()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  (*relay)->Stop();
  const RelayReport report = (*relay)->Report();
  nlohmann::ordered_json summary;
  summary["published"] = report.published;
  summary["checkpoint"] = report.checkpoint;
  summary["head"] = report.head;
  summary["exchange"] = report.exchange;
  summary["broker"] = report.broker;
  summary["reconnects"] = report.reconnects;
  summary["state"] = std::string(rabbitmq::RelayStateName(report.state));
  PrintJsonLine(summary);
  const bool output_ok = FinishOutput();
  if (!ended.ok()) {
    PrintError("relay failed", ended);
    return kExitFailure;
  }
  return output_ok ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
