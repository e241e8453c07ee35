#include "sluice/sqlite/sqlite_read_model_store.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "connection.h"

namespace sluice {
namespace {

using sqlite_internal::Connection;
using sqlite_internal::ConnectionSettings;
using sqlite_internal::Table;

// The write connection, shared by the store and its batches (a batch may outlive the store).
// A batch holds it from Begin until Commit or destruction: one transaction at a time. Not a
// mutex held across calls, since a batch may be committed or destroyed by another thread than
// the one that began it (unlocking a std::mutex there is undefined).
class WriteSide {
 public:
  explicit WriteSide(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

  // Waits up to `timeout` for the connection; null if another batch kept it.
  Connection* Acquire(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!free_.wait_for(lock, timeout, [this] { return !taken_; })) return nullptr;
    taken_ = true;
    return conn_.get();
  }

  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      taken_ = false;
    }
    free_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable free_;
  bool taken_ = false;  // GUARDED_BY(mu_)
  // Used only by the holder (the thread between Acquire and Release).
  const std::unique_ptr<Connection> conn_;
};

// Holds the write connection for a batch; gives it back when destroyed or released.
class WriteHold {
 public:
  WriteHold(std::shared_ptr<WriteSide> side, Connection* conn)
      : side_(std::move(side)), conn_(conn) {}
  ~WriteHold() { Release(); }
  WriteHold(const WriteHold&) = delete;
  WriteHold& operator=(const WriteHold&) = delete;

  Connection& conn() const { return *conn_; }
  void Release() {
    if (conn_ == nullptr) return;
    conn_ = nullptr;
    side_->Release();
  }

 private:
  std::shared_ptr<WriteSide> side_;  // keeps the connection alive past the store
  Connection* conn_;                 // null once released
};

// Read connections, each used by one reader at a time; a reader takes an idle one or opens one.
class ReadPool {
 public:
  ReadPool(std::string path, ConnectionSettings settings)
      : path_(std::move(path)), settings_(settings) {}

  Result<std::unique_ptr<Connection>> Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Connection> conn = std::move(idle_.back());
        idle_.pop_back();
        return conn;
      }
    }
    return Connection::Open(path_, settings_, Connection::Role::kReader);
  }

  void Give(std::unique_ptr<Connection> conn) {
    if (conn->InTransaction()) return;  // could not end its read: close it
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(conn));
  }

 private:
  static constexpr std::size_t kMaxIdle = 4;
  const std::string path_;
  const ConnectionSettings settings_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(mu_)
};

class SqliteBatch final : public ReadModelBatch {
 public:
  explicit SqliteBatch(std::unique_ptr<WriteHold> hold)
      : hold_(std::move(hold)), conn_(hold_->conn()) {}

  ~SqliteBatch() override {
    if (done_) return;
    conn_.Rollback();
    if (ddl_) conn_.ForgetCatalog();  // the copy followed DDL that is now undone
  }

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    Result<Table*> found = conn_.Find(table);
    if (!found.ok()) return Track(found.status());
    Result<std::optional<Row>> row = conn_.Get(**found, key);
    if (!row.ok()) return Track(row.status());
    return row;
  }

  Status Put(std::string_view table, Row row) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    Result<Table*> found = conn_.Find(table);
    if (!found.ok()) return Track(found.status());
    return Track(conn_.Put(**found, std::move(row)));
  }

  Status Delete(std::string_view table, const Key& key) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    Result<Table*> found = conn_.Find(table);
    if (!found.ok()) return Track(found.status());
    return Track(conn_.Delete(**found, key));
  }

  Status CreateTable(const TableSchema& schema) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    ddl_ = true;
    return Track(conn_.CreateTable(schema));
  }

  Status DropTable(std::string_view table) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    ddl_ = true;
    return Track(conn_.DropTable(table));
  }

  Status RenameTable(std::string_view from, std::string_view to) override {
    SLUICE_RETURN_IF_ERROR(Usable());
    ddl_ = true;
    return Track(conn_.RenameTable(from, to));
  }

  Status Commit() override {
    SLUICE_RETURN_IF_ERROR(Usable());
    done_ = true;
    Status status = conn_.Commit();
    if (!status.ok()) {
      conn_.Rollback();
      conn_.ForgetCatalog();
    }
    // After a successful commit the catalog copy is the committed one (re-read after each DDL
    // inside the transaction, at the schema version now committed).
    hold_->Release();
    return status;
  }

 private:
  Status Usable() const {
    if (done_) return Status::InvalidArgument(conn_.where() + ": the transaction has ended");
    return broken_;
  }

  // SQLite ends the whole transaction on some errors (disk full, I/O error, out of memory): then
  // nothing more can happen in this batch, and every later call says why.
  Status Track(Status status) {
    if (!status.ok() && !conn_.InTransaction()) broken_ = status;
    return status;
  }

  std::unique_ptr<WriteHold> hold_;
  Connection& conn_;  // hold_->conn(), ours until Commit
  bool done_ = false;
  bool ddl_ = false;
  Status broken_;
};

class SqliteReadModelStore final : public ReadModelStore {
 public:
  SqliteReadModelStore(std::string path, std::shared_ptr<WriteSide> side,
                       const ConnectionSettings& settings)
      : path_(path),
        busy_timeout_(settings.busy_timeout),
        side_(std::move(side)),
        readers_(std::move(path), settings) {}

  Result<std::unique_ptr<ReadModelBatch>> Begin() override {
    const auto deadline = std::chrono::steady_clock::now() + busy_timeout_;
    Connection* acquired = side_->Acquire(busy_timeout_);
    if (acquired == nullptr) {
      return Status::Unavailable(Describe() + ": another transaction of this process held the " +
                                 "store for " + std::to_string(busy_timeout_.count()) + " ms");
    }
    auto hold = std::make_unique<WriteHold>(side_, acquired);
    Connection& conn = hold->conn();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    SLUICE_RETURN_IF_ERROR(conn.Begin(/*immediate=*/true, left));
    // Another process may have changed tables since this connection's last transaction.
    Status refreshed = conn.RefreshCatalog();
    if (!refreshed.ok()) {
      conn.Rollback();
      return refreshed;
    }
    return std::unique_ptr<ReadModelBatch>(new SqliteBatch(std::move(hold)));
  }

  Result<std::optional<TableSchema>> DescribeTable(std::string_view table) override {
    return Read<std::optional<TableSchema>>(
        [&](Connection& conn) -> Result<std::optional<TableSchema>> {
          Result<Table*> found = conn.Find(table);
          if (found.ok()) return std::optional<TableSchema>((*found)->schema);
          if (found.status().IsNotFound()) return std::optional<TableSchema>();
          return found.status();
        });
  }

  Result<std::vector<std::string>> ListTables() override {
    return Read<std::vector<std::string>>(
        [](Connection& conn) -> Result<std::vector<std::string>> { return conn.TableNames(); });
  }

  Result<std::optional<Row>> Get(std::string_view table, const Key& key) override {
    return Read<std::optional<Row>>([&](Connection& conn) -> Result<std::optional<Row>> {
      Result<Table*> found = conn.Find(table);
      if (!found.ok()) return found.status();
      return conn.Get(**found, key);
    });
  }

  Result<std::vector<Row>> Scan(std::string_view table, const Key* after,
                                std::size_t limit) override {
    return Read<std::vector<Row>>([&](Connection& conn) -> Result<std::vector<Row>> {
      Result<Table*> found = conn.Find(table);
      if (!found.ok()) return found.status();
      return conn.Scan(**found, after, limit);
    });
  }

  Status ScanInto(std::string_view table, const Key* after, std::size_t limit,
                  std::vector<Row>* rows) override {
    Result<bool> done = Read<bool>([&](Connection& conn) -> Result<bool> {
      Result<Table*> found = conn.Find(table);
      if (!found.ok()) return found.status();
      SLUICE_RETURN_IF_ERROR(conn.ScanInto(**found, after, limit, rows));
      return true;
    });
    return done.status();
  }

  std::string Describe() const override { return "sqlite:" + path_; }

 private:
  // Runs `body` in a read transaction of a pooled connection: one consistent snapshot of the
  // committed data, with the catalog checked against it.
  template <typename T, typename Body>
  Result<T> Read(Body body) {
    Result<std::unique_ptr<Connection>> taken = readers_.Take();
    if (!taken.ok()) return taken.status();
    std::unique_ptr<Connection> conn = std::move(taken).value();
    Status status = conn->Begin(/*immediate=*/false, busy_timeout_);
    if (status.ok()) status = conn->RefreshCatalog();
    std::optional<Result<T>> result;
    if (status.ok()) result.emplace(body(*conn));
    // A read-only transaction: ending it can only release the snapshot.
    conn->Rollback();
    readers_.Give(std::move(conn));
    if (!status.ok()) return status;
    return std::move(*result);
  }

  const std::string path_;
  const std::chrono::milliseconds busy_timeout_;
  std::shared_ptr<WriteSide> side_;
  ReadPool readers_;
};

}  // namespace

Result<std::unique_ptr<ReadModelStore>> OpenSqliteReadModelStore(
    const std::string& path, const SqliteReadModelStoreOptions& options) {
  if (path.empty() || path == ":memory:" || path.front() == ':') {
    // One store uses several connections, which must all reach the same file.
    return Status::InvalidArgument("sqlite:" + path + ": the store needs a file path");
  }
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!options.create_if_missing && !std::filesystem::exists(status)) {
    return Status::NotFound("sqlite:" + path + ": no such file (create_if_missing is false)");
  }
  if (std::filesystem::is_directory(status)) {
    return Status::InvalidArgument("sqlite:" + path + ": is a directory, not a database file");
  }
  ConnectionSettings settings;
  settings.create_if_missing = options.create_if_missing;
  settings.sync = options.sync;
  settings.busy_timeout = options.busy_timeout;
  Result<std::unique_ptr<Connection>> writer =
      Connection::Open(path, settings, Connection::Role::kWriter);
  if (!writer.ok()) return writer.status();
  auto side = std::make_shared<WriteSide>(std::move(writer).value());
  return std::unique_ptr<ReadModelStore>(new SqliteReadModelStore(path, std::move(side), settings));
}

}  // namespace sluice
