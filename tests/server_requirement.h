// Tests that need a real server (PostgreSQL, RabbitMQ) started by a CTest fixture: without one that
// answers, such a test fails when CI=true (CI must run it) and is skipped otherwise.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace sluice::testing {

inline bool OnCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::string(ci) == "true" || std::string(ci) == "1");
}

namespace internal {
// GTEST_SKIP and GTEST_FAIL return from the function they are in: this one. `server` names it in
// the message, e.g. "PostgreSQL".
inline void RecordNoServer(const std::string& server, const std::string& reason) {
  if (OnCi()) GTEST_FAIL() << server << " tests must run on CI (CI=true): " << reason;
  GTEST_SKIP() << "no " << server << " server: " << reason;
}
}  // namespace internal

}  // namespace sluice::testing
