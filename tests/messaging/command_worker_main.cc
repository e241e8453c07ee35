// One competing consumer process for the messaging tests: a CommandConsumer on QUEUE dispatching
// shop.AddItem commands to an AggregateService over its own RocksDB store in STORE_DIR.
//
//   messaging_command_worker URL QUEUE STORE_DIR [--prefetch N] [--die-before-dispatch N]
//                            [--die-after-append N]
//
// Prints {"id":...,"duplicate":...} for every command handled (after its append returned) and a
// {"stats":...} line when SIGTERM or SIGINT stops it. --die-before-dispatch N: SIGKILLs itself
// when the (N+1)-th command is about to be dispatched (its unacked messages go back to the queue,
// nothing of them was appended). --die-after-append N: SIGKILLs itself right after the N-th
// command's append returned, before the message is acknowledged (a redelivery must be a no-op).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "shop_domain.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/rabbitmq/amqp_url.h"
#include "sluice/rabbitmq/command_consumer.h"

namespace {

std::atomic<bool> stop{false};

void OnSignal(int) { stop.store(true); }

// SIGKILL, after a pause that lets the acks already sent reach the broker (a socket closed with
// unread data is reset, which could drop them), so the crash point is exactly where the test
// says.
void Die() {
  std::fflush(stdout);
  usleep(300 * 1000);
  raise(SIGKILL);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " URL QUEUE STORE_DIR [options]\n";
    return 2;
  }
  int prefetch = 5;
  long die_before = -1;
  long die_after = -1;
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const long value = std::atol(argv[i + 1]);
    if (flag == "--prefetch") prefetch = static_cast<int>(value);
    if (flag == "--die-before-dispatch") die_before = value;
    if (flag == "--die-after-append") die_after = value;
  }
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  // From here on SIGTERM ends the worker with its stats line; tests wait for this line before
  // they send it (a signal that arrives before main ran would kill the process silently).
  std::printf("{\"ready\":true}\n");
  std::fflush(stdout);

  Result<rabbitmq::AmqpUrl> url = rabbitmq::ParseAmqpUrl(argv[1]);
  if (!url.ok()) return 2;
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(argv[3]);
  if (!store.ok()) {
    std::cerr << store.status().ToString() << "\n";
    return 1;
  }
  shop::ShopService shop(**store);
  long dispatched = 0;
  shop.bus.Use([&](CommandEnvelope& c, const CommandBus::Next& next) -> Result<CommandResult> {
    if (die_before >= 0 && dispatched == die_before) Die();
    ++dispatched;
    Result<CommandResult> result = next(c);
    if (die_after >= 0 && dispatched == die_after) Die();
    if (result.ok()) {
      std::printf("{\"id\":\"%s\",\"duplicate\":%s}\n", c.metadata.command_id.c_str(),
                  result->duplicate ? "true" : "false");
      std::fflush(stdout);
    }
    return result;
  });
  rabbitmq::CommandConsumerOptions options;
  options.queue = argv[2];
  options.prefetch = static_cast<std::uint16_t>(prefetch);
  rabbitmq::CommandConsumer consumer(*url, shop.bus, shop.routes, options);
  if (Status s = consumer.Start(); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  if (Status s = consumer.Run(&stop); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  const rabbitmq::CommandConsumerStats stats = consumer.stats();
  std::printf(
      "{\"stats\":{\"received\":%llu,\"handled\":%llu,\"duplicates\":%llu,\"dead_lettered\":%llu}}"
      "\n",
      static_cast<unsigned long long>(stats.received),
      static_cast<unsigned long long>(stats.handled),
      static_cast<unsigned long long>(stats.duplicates),
      static_cast<unsigned long long>(stats.dead_lettered));
  std::fflush(stdout);
  return 0;
}
