// Starting the crash helper as a child process, reading its standard output and reaping it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

extern char** environ;

namespace sluice::testing {

class ChildProcess {
 public:
  // Starts `path` with `args`; its standard output goes to a pipe we read. pid() is -1 on failure.
  ChildProcess(const std::string& path, const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<std::string> all = {path};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      return;
    }
    pid_ = pid;
    out_fd_ = fds[0];
  }
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Reads `n` bytes of the child's output; false at end of output (the child ended) or after
  // `timeout_ms` without progress (a hang).
  bool ReadBytes(std::size_t n, int timeout_ms) {
    char buf[256];
    while (n > 0) {
      pollfd p{out_fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      const ssize_t got = ::read(out_fd_, buf, n < sizeof(buf) ? n : sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }

  // Waits up to `timeout_ms` for the child to close its output (normally: to exit). False on
  // timeout.
  bool WaitForEndOfOutput(int timeout_ms) {
    char buf[256];
    while (true) {
      pollfd p{out_fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      const ssize_t got = ::read(out_fd_, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return true;
    }
  }

  void Kill() { ::kill(pid_, SIGKILL); }

  // Reaps the child; returns its wait status.
  int Wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
};

}  // namespace sluice::testing
