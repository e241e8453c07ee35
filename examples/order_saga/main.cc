// Order fulfilment across two processes connected through RabbitMQ: a saga (process manager) in
// the orders service drives the warehouse service with commands and reacts to its events.
//
//   order placed -> reserve stock -> charge payment -> ship
//   payment declined             -> release the stock, cancel the order (compensation)
//   no answer from payments (2 s) -> the saga's durable deadline fires: release, cancel
//   too little stock             -> cancel
//
//   order_saga AMQP_URL [WORK_DIR]                        both services (this process starts the
//                                                         warehouse as a second process)
//   order_saga AMQP_URL WORK_DIR --service warehouse      the warehouse alone, until SIGTERM
//
// The orders service (orders.h) keeps its store in WORK_DIR/orders, the warehouse (warehouse.h)
// in WORK_DIR/warehouse (default WORK_DIR: a temporary folder, removed on exit). Exits 0 when each
// order ended as its scenario expects, 1 otherwise.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "examples/common/temporary_folder.h"
#include "examples/order_saga/orders.h"
#include "examples/order_saga/warehouse.h"
#include "sluice/rabbitmq/amqp_url.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

int Usage() {
  std::cerr << "usage: order_saga AMQP_URL [WORK_DIR] [--service warehouse]" << std::endl;
  return 2;
}

// Starts this program again as the warehouse service; returns its pid, or -1.
pid_t StartWarehouse(const char* self, const std::string& url, const std::string& dir) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(self, self, url.c_str(), dir.c_str(), "--service", "warehouse",
            static_cast<char*>(nullptr));
    std::perror("order_saga: exec the warehouse");
    ::_exit(127);
  }
  return pid;
}

// Stops the warehouse (SIGTERM) and returns whether it exited 0.
bool StopWarehouse(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 5) return Usage();
  const std::string url_text = argv[1];
  std::optional<std::string> dir;
  bool warehouse_only = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--service") {
      if (i + 1 >= argc || std::string_view(argv[i + 1]) != "warehouse") return Usage();
      warehouse_only = true;
      ++i;
    } else if (!dir) {
      dir = argv[i];
    } else {
      return Usage();
    }
  }
  sluice::Result<sluice::rabbitmq::AmqpUrl> url = sluice::rabbitmq::ParseAmqpUrl(url_text);
  if (!url.ok()) {
    std::cerr << "order_saga: " << url.status().message() << std::endl;
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  if (warehouse_only) {
    if (!dir) return Usage();
    return fulfilment::RunWarehouse(*url, *dir + "/warehouse", g_stop);
  }

  std::optional<example::TemporaryFolder> temporary;
  if (!dir) {
    sluice::Result<example::TemporaryFolder> made = example::TemporaryFolder::Create("order-saga");
    if (!made.ok()) {
      std::cerr << "order_saga: " << made.status().ToString() << std::endl;
      return 1;
    }
    temporary.emplace(std::move(*made));
    dir = temporary->path();
  }
  std::filesystem::create_directories(*dir + "/orders");
  std::filesystem::create_directories(*dir + "/warehouse");

  // The orders service declares its queue for the warehouse's events before the warehouse can
  // publish any; the warehouse declares its command queue as it starts.
  fulfilment::OrdersService orders(*url, *dir + "/orders");
  if (sluice::Status s = orders.Open(); !s.ok()) {
    std::cerr << "orders: " << s.ToString() << std::endl;
    return 1;
  }
  const pid_t warehouse = StartWarehouse(argv[0], url_text, *dir);
  if (warehouse < 0) {
    std::perror("order_saga: fork");
    return 1;
  }
  std::cout << "warehouse service started as process " << warehouse << std::endl;
  const bool ok = orders.Run(g_stop);
  const bool warehouse_ok = StopWarehouse(warehouse);
  if (!warehouse_ok) std::cerr << "order_saga: the warehouse service failed" << std::endl;
  std::cout << (ok && warehouse_ok ? "every order ended as expected" : "FAILED") << std::endl;
  return ok && warehouse_ok ? 0 : 1;
}
