// The RabbitMQ relay (sluice/rabbitmq/relay.h) beside a plain rabbitmq-c publisher, in one run.
//
// Cases (issue 6, "Benchmark"); the summary at the end prints the figures and the ratio:
//   a.relay/raw      a plain rabbitmq-c publisher with publisher confirms publishing the same N
//                    messages the relay publishes (EventToMessage of the store's events, built
//                    before the clock starts: same bodies, properties, headers and routing keys)
//                    in batches of 512: 512 publishes, then a wait for the confirm of the last
//                    (the relay's batch size and pipelining depth). messages/s.
//   a.relay/sluice   Relay::Start on the store (fresh checkpoint) until WaitFor(N): reading the
//                    log, encoding, publishing, confirms and a durable checkpoint per batch.
//                    events/s; ratio = sluice / raw, target >= 0.8x.
//                    Both publish to one topic exchange with one non-durable queue bound to '#'
//                    (purged between runs), persistent messages. Best of 3 runs (quick: 1).
//   b.latency        end-to-end latency from an append in this process to the handler of a
//                    consumer in another process (forked before anything else starts, with its
//                    own AMQP connection): M synced appends, one every 2 ms, each carrying its
//                    append start time (CLOCK_REALTIME, µs) in the payload; the relay in this
//                    process follows live; the child records receive time - append start for
//                    each message and sends the sorted figures back through a pipe. p50, p99, max.
//
// Environment:
//   SLUICE_BENCH_AMQP_URL or SLUICE_TEST_AMQP_URL  the broker; without one the benchmark prints
//                        "skipped" and exits 0.
//   SLUICE_BENCH_QUICK=1  N = 5,000 instead of 100,000; M = 200 instead of 2,000.
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "amqp_connection.h"
#include "bench/bench_support.h"
#include "sluice/core/uuid.h"
#include "sluice/eventstore/rocks_event_store.h"
#include "sluice/rabbitmq/event_message.h"
#include "sluice/rabbitmq/relay.h"

namespace sluice::bench {
namespace {

using Clock = std::chrono::steady_clock;
using rabbitmq::AmqpMessage;
using rabbitmq::AmqpUrl;

constexpr std::size_t kBatch = 512;

std::string BrokerUrl() {
  for (const char* name : {"SLUICE_BENCH_AMQP_URL", "SLUICE_TEST_AMQP_URL"}) {
    const char* url = std::getenv(name);
    if (url != nullptr && *url != '\0') return url;
  }
  return "";
}

std::size_t Events() { return Quick() ? 5'000 : 100'000; }
std::size_t LatencySamples() { return Quick() ? 200 : 2'000; }
int Runs() { return Quick() ? 1 : 3; }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AmqpUrl Url() {
  Result<AmqpUrl> url = rabbitmq::ParseAmqpUrl(BrokerUrl());
  Check(url.status(), "parse the broker URL");
  return *url;
}

std::unique_ptr<rabbitmq::detail::AmqpConnection> Connect() {
  Result<std::unique_ptr<rabbitmq::detail::AmqpConnection>> conn =
      rabbitmq::detail::AmqpConnection::Open(Url(), "relay-bench");
  Check(conn.status(), "connect to the broker");
  return std::move(*conn);
}

// ---------------------------------------------------------------------------------------------
// The plain rabbitmq-c publisher: one connection, one channel with confirms, properties built as
// AmqpConnection builds them.
class RawPublisher {
 public:
  explicit RawPublisher(const AmqpUrl& url) : conn_(amqp_new_connection()) {
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (socket == nullptr || amqp_socket_open(socket, url.host.c_str(), url.port) != 0) {
      Die("raw publisher: cannot connect");
    }
    if (amqp_login(conn_, url.vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, url.user.c_str(),
                   url.password.c_str())
            .reply_type != AMQP_RESPONSE_NORMAL) {
      Die("raw publisher: cannot log in");
    }
    amqp_channel_open(conn_, 1);
    Expect("open a channel");
    amqp_confirm_select(conn_, 1);
    Expect("confirm.select");
  }
  ~RawPublisher() {
    amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
  }

  std::uint64_t Publish(const std::string& exchange, const std::string& key, const AmqpMessage& m) {
    amqp_basic_properties_t p;
    std::memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG |
               AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG;
    p.delivery_mode = 2;
    p.content_type = Bytes(m.content_type);
    p.message_id = Bytes(m.message_id);
    p.type = Bytes(m.type);
    if (!m.correlation_id.empty()) {
      p._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
      p.correlation_id = Bytes(m.correlation_id);
    }
    if (m.timestamp != 0) {
      p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
      p.timestamp = static_cast<uint64_t>(m.timestamp);
    }
    entries_.clear();
    for (const auto& [name, value] : m.headers) {
      amqp_table_entry_t entry;
      entry.key = Bytes(name);
      entry.value.kind = AMQP_FIELD_KIND_UTF8;
      entry.value.value.bytes = Bytes(value);
      entries_.push_back(entry);
    }
    p.headers.num_entries = static_cast<int>(entries_.size());
    p.headers.entries = entries_.data();
    if (amqp_basic_publish(conn_, 1, Bytes(exchange), Bytes(key), 0, 0, &p, Bytes(m.body)) !=
        AMQP_STATUS_OK) {
      Die("raw publisher: publish failed");
    }
    return next_tag_++;
  }

  void WaitForConfirms(std::uint64_t tag) {
    while (confirmed_ < tag) {
      amqp_frame_t frame;
      if (amqp_simple_wait_frame(conn_, &frame) != AMQP_STATUS_OK) Die("raw publisher: wait");
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        confirmed_ = std::max<std::uint64_t>(confirmed_, ack->delivery_tag);
      } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
        Die("raw publisher: the broker nacked a publish");
      }
      amqp_maybe_release_buffers(conn_);
    }
  }

 private:
  static amqp_bytes_t Bytes(const std::string& s) {
    amqp_bytes_t b;
    b.len = s.size();
    b.bytes = const_cast<char*>(s.data());
    return b;
  }
  void Expect(const char* what) {
    if (amqp_get_rpc_reply(conn_).reply_type != AMQP_RESPONSE_NORMAL) {
      Die(std::string("raw publisher: ") + what);
    }
  }

  amqp_connection_state_t conn_;
  std::vector<amqp_table_entry_t> entries_;
  std::uint64_t next_tag_ = 1;
  std::uint64_t confirmed_ = 0;
};

// ---------------------------------------------------------------------------------------------
// a.relay: one store of N events (100 streams, 256-byte payloads), shared by both cases.
struct ThroughputData {
  TempDir dir;
  std::unique_ptr<RocksEventStore> store;
  std::vector<AmqpMessage> messages;
  std::vector<std::string> keys;
  std::string exchange = "bench.relay." + std::to_string(getpid());
  std::string queue = "bench.relay.q." + std::to_string(getpid());
};

ThroughputData& Data() {
  static ThroughputData* data = [] {
    auto* d = new ThroughputData;
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(d->dir.path() + "/s");
    Check(store.status(), "open the store");
    d->store = std::move(*store);
    const std::size_t n = Events();
    for (std::size_t i = 0; i < n; i += 100) {
      std::vector<EventData> batch;
      for (std::size_t j = i; j < std::min(n, i + 100); ++j) {
        EventData e;
        e.event_id = NewUuid();
        e.type = "shop.OrderPlaced.v1";
        e.content_type = ContentType::kJson;
        e.payload = Payload();
        e.metadata.correlation_id = "corr-" + std::to_string(j % 1000);
        batch.push_back(std::move(e));
      }
      // One stream per batch of 100, 100 streams in turn.
      const StreamId stream = StreamId::Make("order-" + std::to_string((i / 100) % 100)).value();
      AppendOptions options;
      options.sync = false;
      Check(d->store->Append(stream, ExpectedVersion::Any(), std::move(batch), options).status(),
            "fill the store");
    }
    Result<std::vector<RecordedEvent>> all = d->store->ReadAll(1, n);
    Check(all.status(), "read the store");
    for (const RecordedEvent& e : *all) {
      d->messages.push_back(rabbitmq::EventToMessage(e));
      d->keys.push_back(rabbitmq::DefaultRoutingKey(e));
    }
    auto conn = Connect();
    Check(conn->DeclareExchange(d->exchange), "declare the exchange");
    rabbitmq::detail::QueueOptions queue;
    queue.durable = false;
    Check(conn->DeclareQueue(d->queue, queue).status(), "declare the queue");
    Check(conn->BindQueue(d->queue, d->exchange, "#"), "bind the queue");
    return d;
  }();
  return *data;
}

void Purge() {
  auto conn = Connect();
  Check(conn->PurgeQueue(Data().queue), "purge the queue");
}

double RawRun() {
  ThroughputData& d = Data();
  Purge();
  RawPublisher publisher(Url());
  const auto start = Clock::now();
  for (std::size_t i = 0; i < d.messages.size(); i += kBatch) {
    std::uint64_t last = 0;
    for (std::size_t j = i; j < std::min(d.messages.size(), i + kBatch); ++j) {
      last = publisher.Publish(d.exchange, d.keys[j], d.messages[j]);
    }
    publisher.WaitForConfirms(last);
  }
  return Seconds(Clock::now() - start);
}

double SluiceRun() {
  ThroughputData& d = Data();
  Purge();
  const std::string checkpoint = d.dir.path() + "/relay.checkpoint";
  std::filesystem::remove(checkpoint);
  rabbitmq::RelayOptions options;
  options.url = Url();
  options.exchange = d.exchange;
  options.checkpoint_path = checkpoint;
  options.batch_size = kBatch;
  const auto start = Clock::now();
  Result<std::unique_ptr<rabbitmq::Relay>> relay = rabbitmq::Relay::Start(*d.store, options);
  Check(relay.status(), "start the relay");
  Check((*relay)->WaitFor(d.messages.size(), std::chrono::minutes(5)), "relay everything");
  const double seconds = Seconds(Clock::now() - start);
  (*relay)->Stop();
  return seconds;
}

struct Figures {
  double raw = 0;     // messages/s
  double sluice = 0;  // events/s
  double p50_us = 0, p99_us = 0, max_us = 0;
  std::size_t samples = 0;
};
Figures figures;

void BM_RelayRaw(benchmark::State& state) {
  for (auto _ : state) {
    double best = 1e100;
    for (int r = 0; r < Runs(); ++r) best = std::min(best, RawRun());
    state.SetIterationTime(best);
    figures.raw = static_cast<double>(Data().messages.size()) / best;
  }
  state.counters["msgs_per_s"] = figures.raw;
}

void BM_RelaySluice(benchmark::State& state) {
  for (auto _ : state) {
    double best = 1e100;
    for (int r = 0; r < Runs(); ++r) best = std::min(best, SluiceRun());
    state.SetIterationTime(best);
    figures.sluice = static_cast<double>(Data().messages.size()) / best;
  }
  state.counters["events_per_s"] = figures.sluice;
  if (figures.raw > 0) state.counters["ratio"] = figures.sluice / figures.raw;
}

// ---------------------------------------------------------------------------------------------
// b.latency: the consumer child.
struct LatencyChild {
  pid_t pid = -1;
  int results = -1;  // read end: sorted latencies (int64 µs) after the child received them all
  std::string exchange = "bench.relay.lat." + std::to_string(getpid());
};

// Runs in the forked child: consumes `samples` messages, writes the sorted latencies to `out`.
[[noreturn]] void ConsumeInChild(const LatencyChild& child, int ready, int out,
                                 std::size_t samples) {
  auto conn = Connect();
  const std::string queue = child.exchange + ".q";
  Check(conn->DeclareExchange(child.exchange), "declare the latency exchange");
  rabbitmq::detail::QueueOptions options;
  options.durable = false;
  options.auto_delete = true;
  Check(conn->DeclareQueue(queue, options).status(), "declare the latency queue");
  Check(conn->BindQueue(queue, child.exchange, "#"), "bind the latency queue");
  Check(conn->Qos(1000), "qos");
  Check(conn->Consume(queue).status(), "consume");
  const char byte = 1;
  if (write(ready, &byte, 1) != 1) Die("child: cannot signal");
  std::vector<std::int64_t> latencies;
  while (latencies.size() < samples) {
    // The throughput cases run first: the first message may take minutes.
    Result<std::optional<rabbitmq::AmqpDelivery>> next = conn->Next(std::chrono::minutes(10));
    Check(next.status(), "receive");
    if (!next->has_value()) Die("child: no message for 10 minutes");
    const std::int64_t now = NowMicros();
    latencies.push_back(now - std::stoll((*next)->message.body));
    Check(conn->Ack((*next)->delivery_tag), "ack");
  }
  std::sort(latencies.begin(), latencies.end());
  const std::size_t bytes = latencies.size() * sizeof(std::int64_t);
  if (write(out, latencies.data(), bytes) != static_cast<ssize_t>(bytes)) Die("child: write");
  conn->DeleteExchange(child.exchange).PermitUncheckedError();
  _exit(0);
}

// Forked before anything starts threads (RocksDB, the relay).
LatencyChild StartLatencyChild() {
  LatencyChild child;
  int ready[2], out[2];
  if (pipe(ready) != 0 || pipe(out) != 0) Die("pipe");
  child.pid = fork();
  if (child.pid < 0) Die("fork");
  if (child.pid == 0) {
    close(ready[0]);
    close(out[0]);
    ConsumeInChild(child, ready[1], out[1], LatencySamples());
  }
  close(ready[1]);
  close(out[1]);
  char byte = 0;
  if (read(ready[0], &byte, 1) != 1) Die("the consumer child did not start");
  close(ready[0]);
  child.results = out[0];
  return child;
}
LatencyChild* latency_child = nullptr;

void BM_Latency(benchmark::State& state) {
  for (auto _ : state) {
    TempDir dir;
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir.path() + "/s");
    Check(store.status(), "open the latency store");
    rabbitmq::RelayOptions options;
    options.url = Url();
    options.exchange = latency_child->exchange;
    options.checkpoint_path = dir.path() + "/relay.checkpoint";
    Result<std::unique_ptr<rabbitmq::Relay>> relay = rabbitmq::Relay::Start(**store, options);
    Check(relay.status(), "start the relay");
    const std::size_t m = LatencySamples();
    const auto start = Clock::now();
    for (std::size_t i = 0; i < m; ++i) {
      EventData e;
      e.type = "shop.Ping.v1";
      e.content_type = ContentType::kJson;
      e.payload = std::to_string(NowMicros());
      Check((*store)
                ->Append(StreamId::Make("ping-" + std::to_string(i % 10)).value(),
                         ExpectedVersion::Any(), {e})
                .status(),
            "append");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::vector<std::int64_t> latencies(m);
    const std::size_t bytes = m * sizeof(std::int64_t);
    std::size_t got = 0;
    while (got < bytes) {
      const ssize_t n = read(latency_child->results,
                             reinterpret_cast<char*>(latencies.data()) + got, bytes - got);
      if (n <= 0) Die("the consumer child failed");
      got += static_cast<std::size_t>(n);
    }
    int status = 0;
    waitpid(latency_child->pid, &status, 0);
    state.SetIterationTime(Seconds(Clock::now() - start));
    (*relay)->Stop();
    figures.samples = m;
    figures.p50_us = static_cast<double>(latencies[m / 2]);
    figures.p99_us = static_cast<double>(latencies[std::min(m - 1, m * 99 / 100)]);
    figures.max_us = static_cast<double>(latencies.back());
  }
  state.counters["p50_us"] = figures.p50_us;
  state.counters["p99_us"] = figures.p99_us;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  benchmark::Initialize(&argc, argv);
  if (BrokerUrl().empty()) {
    std::printf(
        "relay_bench: skipped: no broker (set SLUICE_BENCH_AMQP_URL or SLUICE_TEST_AMQP_URL)\n");
    return 0;
  }
  static LatencyChild child = StartLatencyChild();
  latency_child = &child;
  benchmark::RegisterBenchmark("a.relay/raw", BM_RelayRaw)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("a.relay/sluice", BM_RelaySluice)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("b.latency", BM_Latency)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\n== relay_bench summary (%zu events, batches of %zu, %s)\n", Events(), kBatch,
              Quick() ? "quick" : "full");
  std::printf(
      "a.relay   raw rabbitmq-c %10.0f msg/s   sluice relay %10.0f ev/s   ratio %.2fx "
      "(target >= 0.8x)\n",
      figures.raw, figures.sluice, figures.raw > 0 ? figures.sluice / figures.raw : 0.0);
  std::printf(
      "b.latency append -> handler in another process: p50 %.0f us, p99 %.0f us, max %.0f "
      "us (%zu samples)\n",
      figures.p50_us, figures.p99_us, figures.max_us, figures.samples);
  return 0;
}
