// CommandBus: one handler per command type, middleware order and powers, id completion,
// correlation into event metadata, asynchronous dispatch, and no exception crossing Dispatch.
#include "sluice/core/command_bus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "aggregates/bank.h"
#include "aggregates/stores.h"
#include "sluice/core/aggregate_service.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/core/uuid.h"

namespace sluice::bank {
namespace {

using sluice::testing::ReadWholeStream;

struct Ping {
  static constexpr std::string_view kCommandName = "test.Ping";
  int n = 0;
};
struct Pong {  // no kCommandName: goes by its C++ type name
  int n = 0;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A result that tells which handler produced it.
Result<CommandResult> Handled(const std::string& by, int attempts = 1) {
  CommandResult r;
  r.stream = by;
  r.attempts = attempts;
  return r;
}

TEST(CommandBusTest, DispatchRoutesEachCommandTypeToItsOwnHandler) {
  CommandBus bus;
  ASSERT_TRUE(
      bus.Register<Ping>([](const Ping& p, const CommandMetadata&) { return Handled("ping", p.n); })
          .ok());
  ASSERT_TRUE(
      bus.Register<Pong>([](const Pong& p, const CommandMetadata&) { return Handled("pong", p.n); })
          .ok());
  Result<CommandResult> ping = bus.Dispatch(Ping{3});
  Result<CommandResult> pong = bus.Dispatch(Pong{4});
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  ASSERT_TRUE(pong.ok()) << pong.status().ToString();
  EXPECT_EQ(ping->stream, "ping");
  EXPECT_EQ(ping->attempts, 3);
  EXPECT_EQ(pong->stream, "pong");
  EXPECT_EQ(pong->attempts, 4);
}

TEST(CommandBusTest, RegisteringASecondHandlerForATypeIsInvalidArgumentAndKeepsTheFirst) {
  CommandBus bus;
  ASSERT_TRUE(
      bus.Register<Ping>([](const Ping&, const CommandMetadata&) { return Handled("first"); })
          .ok());
  const Status second =
      bus.Register<Ping>([](const Ping&, const CommandMetadata&) { return Handled("second"); });
  EXPECT_EQ(second.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(second.message(), "test.Ping")) << second.ToString();
  Result<CommandResult> r = bus.Dispatch(Ping{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stream, "first");
}

TEST(CommandBusTest, RegisteringAnEmptyHandlerIsInvalidArgument) {
  CommandBus bus;
  EXPECT_EQ(bus.Register<Ping>(CommandBus::Handler<Ping>()).code(), StatusCode::kInvalidArgument);
  // And the type is still free.
  EXPECT_TRUE(
      bus.Register<Ping>([](const Ping&, const CommandMetadata&) { return Handled("p"); }).ok());
}

TEST(CommandBusTest, CommandWithoutAHandlerIsNotFoundNamingTheCommand) {
  CommandBus bus;
  ASSERT_TRUE(
      bus.Register<Pong>([](const Pong&, const CommandMetadata&) { return Handled("p"); }).ok());
  Result<CommandResult> r = bus.Dispatch(Ping{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "test.Ping")) << r.status().ToString();
}

TEST(CommandBusTest, CommandNameIsTheDeclaredNameOrTheTypeName) {
  EXPECT_EQ(CommandNameOf<Ping>(), "test.Ping");
  EXPECT_TRUE(Contains(CommandNameOf<Pong>(), "Pong")) << CommandNameOf<Pong>();
}

TEST(CommandBusTest, MiddlewareRunsOutermostFirstAroundTheHandler) {
  CommandBus bus;
  std::vector<std::string> trace;
  bus.Use([&](CommandEnvelope& c, const CommandBus::Next& next) {
    trace.push_back("outer before");
    Result<CommandResult> r = next(c);
    trace.push_back("outer after");
    return r;
  });
  bus.Use([&](CommandEnvelope& c, const CommandBus::Next& next) {
    trace.push_back("inner before");
    Result<CommandResult> r = next(c);
    trace.push_back("inner after");
    return r;
  });
  ASSERT_TRUE(bus.Register<Ping>([&](const Ping&, const CommandMetadata&) {
                   trace.push_back("handler");
                   return Handled("p");
                 })
                  .ok());
  ASSERT_TRUE(bus.Dispatch(Ping{}).ok());
  EXPECT_EQ(trace, (std::vector<std::string>{"outer before", "inner before", "handler",
                                             "inner after", "outer after"}));
}

TEST(CommandBusTest, MiddlewareCanShortCircuitWithoutCallingTheHandlerOrInnerMiddleware) {
  CommandBus bus;
  int inner_calls = 0;
  int handler_calls = 0;
  bus.Use([](CommandEnvelope&, const CommandBus::Next&) { return Handled("cached"); });
  bus.Use([&](CommandEnvelope& c, const CommandBus::Next& next) {
    ++inner_calls;
    return next(c);
  });
  ASSERT_TRUE(bus.Register<Ping>([&](const Ping&, const CommandMetadata&) {
                   ++handler_calls;
                   return Handled("handler");
                 })
                  .ok());
  Result<CommandResult> r = bus.Dispatch(Ping{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stream, "cached");
  EXPECT_EQ(inner_calls, 0);
  EXPECT_EQ(handler_calls, 0);
}

TEST(CommandBusTest, ValidationMiddlewareRejectsInvalidCommandsOfItsTypeOnly) {
  CommandBus bus;
  bus.Use([](CommandEnvelope& c, const CommandBus::Next& next) {
    if (const Withdraw* w = c.As<Withdraw>(); w != nullptr && w->amount <= 0) {
      return Result<CommandResult>(Status::InvalidArgument("amount must be positive"));
    }
    return next(c);
  });
  int handled = 0;
  ASSERT_TRUE(bus.Register<Withdraw>([&](const Withdraw&, const CommandMetadata&) {
                   ++handled;
                   return Handled("w");
                 })
                  .ok());
  ASSERT_TRUE(bus.Register<Deposit>([&](const Deposit&, const CommandMetadata&) {
                   ++handled;
                   return Handled("d");
                 })
                  .ok());
  Result<CommandResult> bad = bus.Dispatch(Withdraw{"1", 0});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(handled, 0);
  EXPECT_TRUE(bus.Dispatch(Withdraw{"1", 5}).ok());
  EXPECT_TRUE(bus.Dispatch(Deposit{"1", 0}).ok());  // not a Withdraw: As<Withdraw>() is null
  EXPECT_EQ(handled, 2);
}

TEST(CommandBusTest, EnvelopeAsGivesTheCommandOnlyAsItsOwnType) {
  CommandBus bus;
  bool checked = false;
  bus.Use([&](CommandEnvelope& c, const CommandBus::Next& next) {
    EXPECT_EQ(c.name, "test.Ping");
    EXPECT_EQ(c.As<Pong>(), nullptr);
    const Ping* ping = c.As<Ping>();
    EXPECT_NE(ping, nullptr);
    if (ping != nullptr) {
      EXPECT_EQ(ping->n, 42);
    }
    checked = true;
    return next(c);
  });
  ASSERT_TRUE(
      bus.Register<Ping>([](const Ping&, const CommandMetadata&) { return Handled("p"); }).ok());
  ASSERT_TRUE(bus.Dispatch(Ping{42}).ok());
  EXPECT_TRUE(checked);
}

TEST(CommandBusTest, MiddlewareHeadersReachTheHandler) {
  CommandBus bus;
  bus.Use([](CommandEnvelope& c, const CommandBus::Next& next) {
    c.metadata.headers["user"] = "ana";
    return next(c);
  });
  CommandMetadata seen;
  ASSERT_TRUE(bus.Register<Ping>([&](const Ping&, const CommandMetadata& m) {
                   seen = m;
                   return Handled("p");
                 })
                  .ok());
  CommandMetadata given;
  given.headers["tenant"] = "t1";
  ASSERT_TRUE(bus.Dispatch(Ping{}, given).ok());
  EXPECT_EQ(seen.headers, (std::map<std::string, std::string>{{"tenant", "t1"}, {"user", "ana"}}));
}

TEST(CommandBusTest, MissingIdsAreFilledInBeforeMiddlewareRuns) {
  CommandBus bus;
  CommandMetadata in_middleware;
  CommandMetadata in_handler;
  bus.Use([&](CommandEnvelope& c, const CommandBus::Next& next) {
    in_middleware = c.metadata;
    return next(c);
  });
  ASSERT_TRUE(bus.Register<Ping>([&](const Ping&, const CommandMetadata& m) {
                   in_handler = m;
                   return Handled("p");
                 })
                  .ok());
  ASSERT_TRUE(bus.Dispatch(Ping{}).ok());
  EXPECT_TRUE(ParseUuid(in_middleware.command_id).has_value()) << in_middleware.command_id;
  EXPECT_EQ(in_middleware.correlation_id, in_middleware.command_id)
      << "a command without a correlation id starts a new chain";
  EXPECT_EQ(in_middleware.causation_id, "");
  EXPECT_EQ(in_handler.command_id, in_middleware.command_id);
  EXPECT_EQ(in_handler.correlation_id, in_middleware.correlation_id);

  // Each dispatch gets an id of its own.
  const std::string first = in_middleware.command_id;
  ASSERT_TRUE(bus.Dispatch(Ping{}).ok());
  EXPECT_NE(in_middleware.command_id, first);
}

TEST(CommandBusTest, GivenIdsPassThroughUnchanged) {
  CommandBus bus;
  CommandMetadata seen;
  ASSERT_TRUE(bus.Register<Ping>([&](const Ping&, const CommandMetadata& m) {
                   seen = m;
                   return Handled("p");
                 })
                  .ok());
  CommandMetadata given;
  given.command_id = "c0ffee00-0000-4000-8000-000000000001";
  given.correlation_id = "corr-1";
  given.causation_id = "cause-1";
  ASSERT_TRUE(bus.Dispatch(Ping{}, given).ok());
  EXPECT_EQ(seen.command_id, given.command_id);
  EXPECT_EQ(seen.correlation_id, "corr-1");
  EXPECT_EQ(seen.causation_id, "cause-1");

  // Only the correlation id missing: it becomes the command id.
  given.correlation_id.clear();
  ASSERT_TRUE(bus.Dispatch(Ping{}, given).ok());
  EXPECT_EQ(seen.correlation_id, given.command_id);
}

TEST(CommandBusTest, ThrowingHandlerGivesAnErrorNamingTheCommandNotACrash) {
  CommandBus bus;
  ASSERT_TRUE(
      bus.Register<Ping>([](const Ping& p, const CommandMetadata&) -> Result<CommandResult> {
           if (p.n == 1) throw std::runtime_error("boom");
           throw 42;
         })
          .ok());
  CommandMetadata m;
  m.command_id = "c0ffee00-0000-4000-8000-000000000002";
  Result<CommandResult> r = bus.Dispatch(Ping{1}, m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "test.Ping")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "boom")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), m.command_id)) << r.status().ToString();

  Result<CommandResult> not_std = bus.Dispatch(Ping{2});
  ASSERT_FALSE(not_std.ok());
  EXPECT_TRUE(Contains(not_std.status().message(), "test.Ping")) << not_std.status().ToString();
}

TEST(CommandBusTest, ThrowingMiddlewareGivesAnError) {
  CommandBus bus;
  bus.Use([](CommandEnvelope&, const CommandBus::Next&) -> Result<CommandResult> {
    throw std::logic_error("middleware broke");
  });
  ASSERT_TRUE(
      bus.Register<Ping>([](const Ping&, const CommandMetadata&) { return Handled("p"); }).ok());
  Result<CommandResult> r = bus.Dispatch(Ping{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "middleware broke")) << r.status().ToString();
}

TEST(CommandBusTest, DispatchAsyncReturnsTheHandlersResultThroughAFuture) {
  CommandBus bus;
  ASSERT_TRUE(bus.Register<Ping>(
                     [](const Ping& p, const CommandMetadata&) { return Handled("async", p.n); })
                  .ok());
  std::future<Result<CommandResult>> f = bus.DispatchAsync(Ping{7});
  Result<CommandResult> r = f.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stream, "async");
  EXPECT_EQ(r->attempts, 7);
}

TEST(CommandBusTest, DispatchAsyncErrorsArriveThroughTheFutureWithoutThrowing) {
  CommandBus bus;
  ASSERT_TRUE(bus.Register<Ping>([](const Ping&, const CommandMetadata&) -> Result<CommandResult> {
                   throw std::runtime_error("async boom");
                 })
                  .ok());
  Result<CommandResult> thrown = bus.DispatchAsync(Ping{}).get();
  EXPECT_TRUE(Contains(thrown.status().message(), "async boom")) << thrown.status().ToString();
  Result<CommandResult> missing = bus.DispatchAsync(Pong{}).get();
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
}

TEST(CommandBusTest, DispatchAsyncFromManyThreadsHandlesEveryCommandExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  CommandBus bus(4);
  std::mutex mu;
  std::multiset<int> handled;
  std::atomic<int> middleware_calls{0};
  bus.Use([&](CommandEnvelope& c, const CommandBus::Next& next) {
    ++middleware_calls;
    return next(c);
  });
  ASSERT_TRUE(bus.Register<Ping>([&](const Ping& p, const CommandMetadata&) {
                   std::lock_guard<std::mutex> lock(mu);
                   handled.insert(p.n);
                   return Handled("p", p.n);
                 })
                  .ok());
  std::vector<std::vector<std::future<Result<CommandResult>>>> futures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        futures[t].push_back(bus.DispatchAsync(Ping{t * kPerThread + i}));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      Result<CommandResult> r = futures[t][i].get();
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->attempts, t * kPerThread + i) << "a future got another command's result";
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(handled.size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (int n = 0; n < kThreads * kPerThread; ++n) EXPECT_EQ(handled.count(n), 1u) << n;
  EXPECT_EQ(middleware_calls.load(), kThreads * kPerThread);
}

TEST(CommandBusTest, DestroyingTheBusFinishesEveryQueuedCommand) {
  constexpr int kCommands = 50;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> handled{0};
  std::vector<std::future<Result<CommandResult>>> futures;
  {
    CommandBus bus(1);
    ASSERT_TRUE(bus.Register<Ping>([&](const Ping&, const CommandMetadata&) {
                     released.wait();  // the first command holds the only worker
                     ++handled;
                     return Handled("p");
                   })
                    .ok());
    for (int i = 0; i < kCommands; ++i) futures.push_back(bus.DispatchAsync(Ping{i}));
    release.set_value();
  }  // ~CommandBus
  EXPECT_EQ(handled.load(), kCommands);
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
}

// ---------------------------------------------------------------------------------------------
// Correlation through the bus and AggregateService into event metadata.

class BusCorrelationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBankEvents(registry_).ok());
    ASSERT_TRUE(accounts_
                    .Handle<OpenAccount>(
                        bus_, [](const OpenAccount& c) { return AccountStream(c.id); },
                        ExpectedState::kNew, DecideOpen)
                    .ok());
    ASSERT_TRUE(accounts_
                    .Handle<Deposit>(
                        bus_, [](const Deposit& c) { return AccountStream(c.id); },
                        ExpectedState::kExisting, DecideDeposit)
                    .ok());
  }

  InMemoryEventStore store_;
  EventTypeRegistry registry_;
  AggregateService<Account> accounts_{store_, registry_};
  CommandBus bus_;
};

TEST_F(BusCorrelationTest, EventsRecordTheCorrelationIdAndTheCommandIdAsCausation) {
  CommandMetadata m;
  m.command_id = "0a000000-0000-4000-8000-000000000001";
  m.correlation_id = "0b000000-0000-4000-8000-000000000002";
  m.causation_id = "0c000000-0000-4000-8000-000000000003";
  Result<CommandResult> r = bus_.Dispatch(OpenAccount{"7", "ana", 10}, m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stream, "account-7");
  EXPECT_EQ(r->events_appended, 2u);
  const std::vector<RecordedEvent> events = ReadWholeStream(store_, "account-7");
  ASSERT_EQ(events.size(), 2u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].metadata.correlation_id, m.correlation_id);
    EXPECT_EQ(events[i].metadata.causation_id, m.command_id);
    EXPECT_EQ(events[i].event_id, EventIdForCommand(m.command_id, i));
  }
  EXPECT_NE(events[0].event_id, events[1].event_id);
}

TEST_F(BusCorrelationTest, MissingIdsAreGeneratedAndTheCommandStartsTheChain) {
  std::string command_id;
  bus_.Use([&](CommandEnvelope& c, const CommandBus::Next& next) {
    command_id = c.metadata.command_id;
    return next(c);
  });
  ASSERT_TRUE(bus_.Dispatch(OpenAccount{"8", "bob"}).ok());
  ASSERT_TRUE(ParseUuid(command_id).has_value()) << command_id;
  const std::vector<RecordedEvent> events = ReadWholeStream(store_, "account-8");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].metadata.causation_id, command_id);
  EXPECT_EQ(events[0].metadata.correlation_id, command_id);
  EXPECT_EQ(events[0].event_id, EventIdForCommand(command_id, 0));
}

TEST_F(BusCorrelationTest, HeadersFromTheCallerAndMiddlewareAreCopiedIntoEventMetadata) {
  bus_.Use([](CommandEnvelope& c, const CommandBus::Next& next) {
    c.metadata.headers["user"] = "ana";
    return next(c);
  });
  CommandMetadata m;
  m.headers["tenant"] = "t1";
  ASSERT_TRUE(bus_.Dispatch(OpenAccount{"9", "ana", 5}, m).ok());
  const std::vector<RecordedEvent> events = ReadWholeStream(store_, "account-9");
  ASSERT_EQ(events.size(), 2u);
  for (const RecordedEvent& e : events) {
    EXPECT_EQ(e.metadata.extra,
              (std::map<std::string, std::string>{{"tenant", "t1"}, {"user", "ana"}}));
  }
}

TEST_F(BusCorrelationTest, AChainOfCommandsSharesOneCorrelationId) {
  CommandMetadata first;
  first.command_id = "0a000000-0000-4000-8000-00000000000a";
  ASSERT_TRUE(bus_.Dispatch(OpenAccount{"10", "ana"}, first).ok());
  const RecordedEvent opened = ReadWholeStream(store_, "account-10").at(0);
  // A command caused by that event: causation = the event id, correlation copied.
  CommandMetadata next;
  next.command_id = "0a000000-0000-4000-8000-00000000000b";
  next.correlation_id = opened.metadata.correlation_id;
  next.causation_id = opened.event_id;
  ASSERT_TRUE(bus_.Dispatch(Deposit{"10", 3}, next).ok());
  const std::vector<RecordedEvent> events = ReadWholeStream(store_, "account-10");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].metadata.correlation_id, first.command_id);
  EXPECT_EQ(events[1].metadata.causation_id, next.command_id);
}

TEST_F(BusCorrelationTest, ADecideFunctionThatThrowsGivesAnErrorAndAppendsNothing) {
  ASSERT_TRUE(bus_.Dispatch(OpenAccount{"11", "ana", 5}).ok());
  ASSERT_TRUE(accounts_
                  .Handle<Withdraw>(
                      bus_, [](const Withdraw& c) { return AccountStream(c.id); },
                      ExpectedState::kExisting,
                      [](const Account::State&, const Withdraw&) -> Decision<Account::Event> {
                        throw std::out_of_range("decider bug");
                      })
                  .ok());
  Result<CommandResult> r = bus_.Dispatch(Withdraw{"11", 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "decider bug")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "bank.Withdraw")) << r.status().ToString();
  EXPECT_EQ(ReadWholeStream(store_, "account-11").size(), 2u);
}

TEST_F(BusCorrelationTest, RegisteringTheSameCommandTwiceThroughServicesIsAnError) {
  const Status again = accounts_.Handle<Deposit>(
      bus_, [](const Deposit& c) { return AccountStream(c.id); }, ExpectedState::kAny,
      DecideDeposit);
  EXPECT_EQ(again.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(again.message(), "bank.Deposit")) << again.ToString();
}

TEST_F(BusCorrelationTest, AnInvalidStreamNameIsInvalidArgument) {
  CommandBus bus;
  ASSERT_TRUE(accounts_
                  .Handle<Withdraw>(
                      bus, [](const Withdraw&) { return std::string(); }, ExpectedState::kAny,
                      DecideWithdraw)
                  .ok());
  Result<CommandResult> empty = bus.Dispatch(Withdraw{"1", 5});
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument) << empty.status().ToString();
}

}  // namespace
}  // namespace sluice::bank
