// `sluice subscribe`: a downstream copy of another service's events (sluice::rabbitmq's
// EventSubscriber) in a local store.
//
// Prints one JSON summary line when it ends (with --once when the queue is empty, else on SIGINT or
// SIGTERM): {"exchange","queue","received","appended","duplicates","retried","dead_lettered"}.
// Exit codes: 2 for a bad URL or an empty name, 1 when the store cannot be opened for writing or
// the broker cannot be reached (a clear error within the connect timeout, never a hang).
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>

#include "commands.h"
#include "exit_codes.h"
#include "output.h"
#include "sluice/rabbitmq/amqp_url.h"
#include "sluice/rabbitmq/event_subscriber.h"
#include "stop_signals.h"
#include "store_access.h"

namespace sluice::cli {

int RunSubscribe(const SubscribeFlags& flags) {
  Result<rabbitmq::AmqpUrl> url = rabbitmq::ParseAmqpUrl(flags.amqp);
  if (!url.ok()) {
    PrintError("--amqp", url.status());
    return kExitUsage;
  }
  if (flags.exchange.empty()) {
    PrintError("--exchange must not be empty");
    return kExitUsage;
  }
  if (flags.queue.empty()) {
    PrintError("--queue must not be empty");
    return kExitUsage;
  }
  for (const std::string& binding : flags.bindings) {
    if (binding.empty()) {
      PrintError("--binding must not be empty");
      return kExitUsage;
    }
  }
  if (flags.store.empty()) {
    PrintError("--store must not be empty");
    return kExitUsage;
  }

  StopSignals signals;
  std::error_code ec;
  const bool store_existed = std::filesystem::exists(flags.store, ec);
  std::unique_ptr<RocksEventStore> store = OpenForWriting(flags.store);
  if (store == nullptr) return kExitFailure;

  rabbitmq::EventSubscriberOptions options;
  options.exchange = flags.exchange;
  options.queue = flags.queue;
  if (!flags.bindings.empty()) options.bindings = flags.bindings;
  auto subscriber = std::make_unique<rabbitmq::EventSubscriber>(*url, *store, options);
  if (Status started = subscriber->Start(); !started.ok()) {
    PrintError("cannot subscribe at " + url->Redacted(), started);
    // Nothing was received: a store this run created (empty) goes again, leaving no trace.
    if (!store_existed) {
      subscriber.reset();
      store.reset();
      std::filesystem::remove_all(flags.store, ec);
    }
    return kExitFailure;
  }
  if (Status ran = subscriber->Run(signals.flag(), flags.once); !ran.ok()) {
    PrintError("subscribe", ran);
    return kExitFailure;
  }
  const rabbitmq::EventSubscriberStats stats = subscriber->stats();
  nlohmann::ordered_json summary;
  summary["exchange"] = flags.exchange;
  summary["queue"] = flags.queue;
  summary["received"] = stats.received;
  summary["appended"] = stats.appended;
  summary["duplicates"] = stats.duplicates;
  summary["retried"] = stats.retried;
  summary["dead_lettered"] = stats.dead_lettered;
  PrintJsonLine(summary, true);
  return FinishOutput() ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
