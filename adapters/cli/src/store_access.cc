#include "store_access.h"

#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>

#include "output.h"

namespace sluice::cli {

Result<std::unique_ptr<RocksEventStore>> OpenFollowerStore(const std::string& dir,
                                                           int follow_interval_ms) {
  std::error_code ec;
  if (dir.empty()) return Status::InvalidArgument("no store folder given");
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::NotFound(
        "no store at '" + dir +
        "': " + (std::filesystem::exists(dir, ec) ? "not a folder" : "the folder does not exist"));
  }
  RocksEventStoreOptions options;
  options.create_if_missing = false;
  if (follow_interval_ms > 0) options.follow_interval_ms = follow_interval_ms;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::OpenFollower(dir, options);
    Status status = store.status().WithContext("cannot open store '" + dir + "' for reading");
    if (store.ok()) {
      status =
          (*store)->Refresh().WithContext("cannot catch up with the writer of store '" + dir + "'");
      if (status.ok()) return store;
    }
    if (std::chrono::steady_clock::now() >= give_up) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::unique_ptr<RocksEventStore> OpenForReading(const std::string& dir) {
  Result<std::unique_ptr<RocksEventStore>> store = OpenFollowerStore(dir);
  if (!store.ok()) {
    PrintError(store.status().message());
    return nullptr;
  }
  return std::move(store).value();
}

std::unique_ptr<RocksEventStore> OpenForWriting(const std::string& dir) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir);
  if (!store.ok()) {
    if (store.status().code() == StatusCode::kUnavailable) {
      PrintError(
          "store '" + dir + "' is locked by another writer (one process writes a store at a time)",
          store.status());
    } else {
      PrintError("cannot open store '" + dir + "' for writing", store.status());
    }
    return nullptr;
  }
  return std::move(store).value();
}

}  // namespace sluice::cli
