// What every benchmark in tests/bench shares: quick mode, the payload, fatal errors, scratch
// folders.
#pragma once

#include <cstdint>
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

// Every benchmark's event payload: 256 bytes of printable pseudo-random text (compresses a
// little, like real payloads), the same bytes for Sluice and for the raw RocksDB baseline.
inline constexpr std::size_t kPayloadBytes = 256;
inline const std::string& Payload() {
  static const std::string payload = [] {
    std::string p(kPayloadBytes, ' ');
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    static constexpr char kAlphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789{}";
    for (char& c : p) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = kAlphabet[x % 64];
    }
    return p;
  }();
  return payload;
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
