// Running the `sluice` tool (or another program built on sluice::cli) as a real process in tests:
// standard streams redirected to files in the test's folder, exit codes, signals, JSON lines.
// SLUICE_CLI_PATH names the tool's binary.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sluice::cli_testing {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<json> ParseLines(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// One event line of `sluice append` input.
inline std::string EventLine(const std::string& type, const json& data = json::object(),
                             const std::string& id = "") {
  json line = {{"type", type}, {"data", data}};
  if (!id.empty()) line["id"] = id;
  return line.dump() + "\n";
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A `sluice` process with its standard streams redirected to files.
class Process {
 public:
  // Runs `binary` (default: the sluice tool) with `args`; `env` adds NAME=VALUE entries to this
  // process's environment.
  Process(const std::filesystem::path& work, const std::vector<std::string>& args,
          const std::string& input, const std::string& binary = SLUICE_CLI_PATH,
          const std::vector<std::string>& env = {}) {
    static int counter = 0;
    const std::string base = "run-" + std::to_string(++counter);
    const auto in_path = work / (base + ".in");
    out_path_ = work / (base + ".out");
    err_path_ = work / (base + ".err");
    std::ofstream(in_path, std::ios::binary) << input;

    std::vector<std::string> argv_text = {binary};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<std::string> env_text = env;
    for (char** e = environ; *e != nullptr; ++e) env_text.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
    EXPECT_EQ(rc, 0) << "cannot start " << binary;
  }

  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  std::string out() const { return ReadFile(out_path_); }
  std::string err() const { return ReadFile(err_path_); }

  // Waits until standard output holds at least `n` complete lines; false after `timeout`.
  bool WaitForLines(std::size_t n, milliseconds timeout = milliseconds(20'000)) const {
    const auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
      const std::string text = out();
      if (static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) >= n) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  void Signal(int signal_number) const { kill(pid_, signal_number); }

  // The exit code, or -1 if it was killed by a signal or still ran after `timeout` (then killed).
  int Wait(milliseconds timeout = milliseconds(60'000)) {
    if (pid_ <= 0) return -1;
    const auto deadline = steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (steady_clock::now() >= deadline) {
        ADD_FAILURE() << "sluice did not exit in time";
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    pid_ = -1;
    if (WIFSIGNALED(status)) ADD_FAILURE() << "sluice died of signal " << WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
};

// Runs the sluice tool with `args` (no input) in `work` to the end.
inline RunResult RunSluice(const std::filesystem::path& work,
                           const std::vector<std::string>& args) {
  Process process(work, args, "");
  RunResult result;
  result.exit_code = process.Wait();
  result.out = process.out();
  result.err = process.err();
  return result;
}

}  // namespace sluice::cli_testing
