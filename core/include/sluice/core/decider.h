// The decider model of an aggregate: plain state, a variant of its events, and pure functions.
//
//   struct Account {
//     struct State { bool open = false; std::int64_t balance = 0; };
//     using Event = std::variant<AccountOpened, MoneyDeposited, MoneyWithdrawn>;
//     static State Evolve(State state, const Event& event);       // must not fail: history is fact
//   };
//   Decision<Account::Event> Withdraw(const Account::State& s, const WithdrawMoney& c) {
//     if (s.balance < c.amount) return Reject("insufficient funds");
//     return Emit<Account::Event>(MoneyWithdrawn{c.amount});
//   }
//
// No base class, no I/O: deciders are tested with sluice/testing/given_when_then.h and run by
// AggregateService (aggregate_service.h) against any EventStore.
#pragma once

#include <concepts>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sluice/core/status.h"

namespace sluice {

// What a decide function returns: the new events (possibly none), or a Rejected status.
template <typename Event>
using Decision = Result<std::vector<Event>>;

// A business rule said no; nothing is appended and the caller should not retry.
inline Status Reject(std::string reason) { return Status::Rejected(std::move(reason)); }

// A decision made of the given events, in order.
template <typename Event, typename... Es>
Decision<Event> Emit(Es&&... events) {
  std::vector<Event> out;
  out.reserve(sizeof...(Es));
  (out.emplace_back(std::forward<Es>(events)), ...);
  return out;
}

template <typename T>
struct IsVariant : std::false_type {};
template <typename... Ts>
struct IsVariant<std::variant<Ts...>> : std::true_type {};

// An aggregate definition: State (default-constructible: the state before any event), Event (a
// std::variant of event structs), and a static Evolve(State, const Event&) -> State.
template <typename A>
concept Aggregate = std::default_initializable<typename A::State> &&
    IsVariant<typename A::Event>::value &&
    requires(typename A::State state, const typename A::Event& event) {
  { A::Evolve(std::move(state), event) } -> std::same_as<typename A::State>;
};

// Folds `events` over `state` with A::Evolve.
template <Aggregate A>
typename A::State Fold(typename A::State state, const std::vector<typename A::Event>& events) {
  for (const auto& e : events) state = A::Evolve(std::move(state), e);
  return state;
}

// Snapshot schema of an aggregate's State: A::kSnapshotVersion if it declares one, else 1. Bump it
// whenever State's serialized shape changes; snapshots of another version are ignored.
template <typename A>
constexpr int SnapshotVersionOf() {
  if constexpr (requires { A::kSnapshotVersion; }) {
    return A::kSnapshotVersion;
  } else {
    return 1;
  }
}

}  // namespace sluice
