// TemporaryFolder: a fresh folder under the system's temporary directory, removed with everything
// in it when the object dies. The examples keep their event store in one when no folder is given.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <utility>

#include "sluice/core/status.h"

namespace example {

class TemporaryFolder {
 public:
  // A new, empty folder named like "<tmp>/<prefix>-XXXXXX". IOError if it cannot be made.
  static sluice::Result<TemporaryFolder> Create(const std::string& prefix) {
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) return sluice::Status::IOError("no temporary directory: " + ec.message());
    std::string pattern = (base / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return sluice::Status::IOError("cannot create a folder like " + pattern);
    }
    return TemporaryFolder(std::move(pattern));
  }

  TemporaryFolder(TemporaryFolder&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TemporaryFolder& operator=(TemporaryFolder&&) = delete;
  ~TemporaryFolder() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) std::cerr << "could not remove " << path_ << ": " << ec.message() << "\n";
  }

  const std::string& path() const { return path_; }

 private:
  explicit TemporaryFolder(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace example
