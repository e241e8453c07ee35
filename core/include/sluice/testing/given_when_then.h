// Given/when/then fixtures for deciders (sluice/core/decider.h), for GoogleTest. Link
// sluice::testing.
//
//   TEST(AccountTest, WithdrawingMoreThanTheBalanceIsRejected) {
//     EXPECT_TRUE(Given<Account>({AccountOpened{"ana"}, MoneyDeposited{50}})
//                     .When(WithdrawMoney{80}, Withdraw)
//                     .ThenRejected("insufficient funds"));
//   }
//
// Then() compares the decided events with the expected ones exactly (same events, same order;
// event structs need operator==) and on failure prints both lists, each event as its type and its
// fields in JSON (from its cereal serialize()).
#pragma once

#include <cxxabi.h>
#include <gtest/gtest.h>

#include <cereal/archives/json.hpp>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sluice/core/decider.h"

namespace sluice::testing {

// A readable C++ type name.
template <typename T>
std::string TypeNameForDisplay() {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(typeid(T).name(), nullptr, nullptr, &status), std::free);
  std::string out = status == 0 && name ? name.get() : typeid(T).name();
  if (const std::size_t colon = out.rfind("::"); colon != std::string::npos)
    out.erase(0, colon + 2);
  return out;
}

// "TypeName {fields as JSON}" for one event of a variant.
template <typename Event>
std::string Describe(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        std::string fields;
        if constexpr (requires(T t, cereal::JSONOutputArchive & ar) { t.serialize(ar); }) {
          try {
            std::ostringstream out;
            {
              cereal::JSONOutputArchive archive(out,
                                                cereal::JSONOutputArchive::Options::NoIndent());
              const_cast<T&>(e).serialize(archive);
            }
            fields = " " + out.str();
          } catch (const std::exception& ex) {
            fields = std::string(" <cannot print: ") + ex.what() + ">";
          }
        }
        return TypeNameForDisplay<T>() + fields;
      },
      event);
}

template <typename Event>
std::string DescribeAll(const std::vector<Event>& events) {
  if (events.empty()) return "  (no events)\n";
  std::string out;
  for (std::size_t i = 0; i < events.size(); ++i) {
    out += "  [" + std::to_string(i) + "] " + Describe(events[i]) + "\n";
  }
  return out;
}

template <Aggregate A>
class Scenario {
 public:
  using State = typename A::State;
  using Event = typename A::Event;

  explicit Scenario(std::vector<Event> given)
      : given_(std::move(given)), state_(Fold<A>({}, given_)) {}

  // Decides `command` on the state the given events produce.
  template <typename C, typename Decide>
  Scenario& When(const C& command, const Decide& decide) {
    decision_.emplace(decide(std::as_const(state_), command));
    when_ = TypeNameForDisplay<C>();
    return *this;
  }

  // Exactly these events were decided.
  ::testing::AssertionResult Then(const std::vector<Event>& expected) const {
    if (!decision_) return ::testing::AssertionFailure() << "Then() without When()";
    if (!decision_->ok()) {
      return ::testing::AssertionFailure()
             << Context() << "expected events:\n"
             << DescribeAll(expected)
             << "but the command failed: " << decision_->status().ToString();
    }
    if (**decision_ == expected) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << Context() << "expected events:\n"
                                         << DescribeAll(expected) << "actual events:\n"
                                         << DescribeAll(**decision_);
  }

  // No events were decided (and nothing was rejected).
  ::testing::AssertionResult ThenNothing() const { return Then({}); }

  // The command was rejected, with a reason containing `reason_part` (any reason if empty).
  ::testing::AssertionResult ThenRejected(std::string_view reason_part = {}) const {
    if (!decision_) return ::testing::AssertionFailure() << "ThenRejected() without When()";
    if (decision_->ok()) {
      return ::testing::AssertionFailure()
             << Context() << "expected a rejection" << (reason_part.empty() ? "" : " containing '")
             << reason_part << (reason_part.empty() ? "" : "'") << "\nactual events:\n"
             << DescribeAll(**decision_);
    }
    const Status& s = decision_->status();
    if (s.code() != StatusCode::kRejected || s.message().find(reason_part) == std::string::npos) {
      return ::testing::AssertionFailure() << Context() << "expected a rejection containing '"
                                           << reason_part << "'\nactual: " << s.ToString();
    }
    return ::testing::AssertionSuccess();
  }

  // The state after the given events and, once Then() has passed, still before the new ones.
  const State& state() const { return state_; }
  // The state after the given events and the decided ones. REQUIRES: When() decided events.
  State StateAfter() const { return Fold<A>(state_, decision_->value()); }

 private:
  std::string Context() const { return "given:\n" + DescribeAll(given_) + "when: " + when_ + "\n"; }

  std::vector<Event> given_;
  State state_;
  std::optional<Decision<Event>> decision_;
  std::string when_;
};

// Starts a scenario from past events (none: a new aggregate).
template <Aggregate A>
Scenario<A> Given(std::vector<typename A::Event> events = {}) {
  return Scenario<A>(std::move(events));
}

}  // namespace sluice::testing
