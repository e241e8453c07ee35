#include "store_access.h"

#include <filesystem>
#include <system_error>

#include "output.h"

namespace sluice::cli {

std::unique_ptr<RocksEventStore> OpenForReading(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    PrintError("no store at '" + dir + "': " +
               (std::filesystem::exists(dir, ec) ? "not a folder" : "the folder does not exist"));
    return nullptr;
  }
  RocksEventStoreOptions options;
  options.create_if_missing = false;
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::OpenFollower(dir, options);
  if (!store.ok()) {
    PrintError("cannot open store '" + dir + "' for reading", store.status());
    return nullptr;
  }
  if (Status s = (*store)->Refresh(); !s.ok()) {
    PrintError("cannot catch up with the writer of store '" + dir + "'", s);
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
