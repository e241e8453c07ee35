// What every benchmark in tests/bench shares: quick mode, fatal errors, scratch folders.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "sluice/core/status.h"

namespace sluice::bench {

// SLUICE_BENCH_QUICK=1 (the CI sets it): small sizes, so a run only proves the benchmark works.
inline bool Quick() {
  const char* q = std::getenv("SLUICE_BENCH_QUICK");
  return q != nullptr && *q != '\0' && std::string_view(q) != "0";
}

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "benchmark: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

// A fresh folder under SLUICE_BENCH_DIR (or the temporary folder), removed with everything in it
// when this goes away.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("SLUICE_BENCH_DIR");
    std::filesystem::path root = base != nullptr && *base != '\0'
                                     ? std::filesystem::path(base)
                                     : std::filesystem::temp_directory_path();
    std::string tmpl = (root / "sluice-bench-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) Die("cannot create a folder in " + root.string());
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace sluice::bench
