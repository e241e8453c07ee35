// Shared pieces of the projection runtime tests: read-model store factories, a projection that
// proves order and exactly-once, one that fails on demand, and helpers to append and compare.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conformance/temp_dir.h"
#include "sluice/core/event_store.h"
#include "sluice/core/in_memory_event_store.h"
#include "sluice/projections/in_memory_read_model_store.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/rocks_read_model_store.h"
#ifdef SLUICE_TEST_WITH_SQLITE
#include "sluice/sqlite/sqlite_read_model_store.h"
#endif

namespace sluice::testing {

inline constexpr auto kWait = std::chrono::seconds(30);

struct InMemoryReadModel {
  static constexpr const char* kName = "InMemory";
  Result<std::unique_ptr<ReadModelStore>> Open() {
    if (store_ == nullptr) store_ = NewInMemoryReadModelStore();
    return std::unique_ptr<ReadModelStore>(new Borrowed(*store_));
  }

 private:
  // Keeps the one in-memory store alive across "reopens".
  class Borrowed final : public ReadModelStore {
   public:
    explicit Borrowed(ReadModelStore& inner) : inner_(inner) {}
    Result<std::unique_ptr<ReadModelBatch>> Begin() override { return inner_.Begin(); }
    Result<std::optional<TableSchema>> DescribeTable(std::string_view t) override {
      return inner_.DescribeTable(t);
    }
    Result<std::vector<std::string>> ListTables() override { return inner_.ListTables(); }
    Result<std::optional<Row>> Get(std::string_view t, const Key& k) override {
      return inner_.Get(t, k);
    }
    Result<std::vector<Row>> Scan(std::string_view t, const Key* after,
                                  std::size_t limit) override {
      return inner_.Scan(t, after, limit);
    }
    std::string Describe() const override { return inner_.Describe(); }

   private:
    ReadModelStore& inner_;
  };
  std::unique_ptr<ReadModelStore> store_;
};

struct RocksReadModel {
  static constexpr const char* kName = "RocksDB";
  Result<std::unique_ptr<ReadModelStore>> Open() {
    RocksReadModelStoreOptions options;
    options.sync = false;  // tests do not lose power
    return OpenRocksReadModelStore(dir.Sub("read-model"), options);
  }
  TempDir dir;
};

#ifdef SLUICE_TEST_WITH_SQLITE
struct SqliteReadModel {
  static constexpr const char* kName = "SQLite";
  Result<std::unique_ptr<ReadModelStore>> Open() {
    SqliteReadModelStoreOptions options;
    options.sync = false;
    return OpenSqliteReadModelStore(dir.Sub("read-model.db"), options);
  }
  TempDir dir;
};
using ReadModels = ::testing::Types<InMemoryReadModel, RocksReadModel, SqliteReadModel>;
#else
using ReadModels = ::testing::Types<InMemoryReadModel, RocksReadModel>;
#endif

class ReadModelNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

inline StreamId Sid(const std::string& name) {
  Result<StreamId> id = StreamId::Make(name);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return *id;
}

// Appends `count` events of `type` to `stream`, one append each; returns the last position.
inline GlobalPosition AppendEvents(EventStore& store, const std::string& stream, int count,
                                   const std::string& type = "test.Happened.v1") {
  GlobalPosition last = 0;
  for (int i = 0; i < count; ++i) {
    EventData event;
    event.type = type;
    event.content_type = ContentType::kJson;
    event.payload = "{\"i\":" + std::to_string(i) + "}";
    Result<AppendResult> appended = store.Append(Sid(stream), ExpectedVersion::Any(), {event});
    EXPECT_TRUE(appended.ok()) << appended.status().ToString();
    if (appended.ok()) last = appended->last_position;
  }
  return last;
}

// Records every event it applies in "applied" (key: position) and each stream's last version in
// "streams"; fails (so the worker stops with kStop) when an event arrives twice or out of order
// within its stream.
class RecordingProjection : public Projection {
 public:
  explicit RecordingProjection(std::string name = "recording") : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::vector<TableSchema> Tables() const override {
    return {{"applied",
             {{"position", ColumnType::kInteger}},
             {{"stream", ColumnType::kText}, {"version", ColumnType::kInteger}}},
            {"streams", {{"stream", ColumnType::kText}}, {{"version", ColumnType::kInteger}}}};
  }
  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    const auto position = static_cast<std::int64_t>(event.position);
    Result<std::optional<Row>> seen = tx.Get("applied", {position});
    if (!seen.ok()) return seen.status();
    if (seen->has_value()) {
      return Status::Rejected("position " + std::to_string(position) + " applied twice");
    }
    Result<std::optional<Row>> last = tx.Get("streams", {event.stream});
    if (!last.ok()) return last.status();
    std::int64_t expected = last->has_value() ? std::get<std::int64_t>((**last)[1]) + 1 : 0;
    if (event.version != expected) {
      return Status::Rejected("stream " + event.stream + ": version " +
                              std::to_string(event.version) + " arrived, expected " +
                              std::to_string(expected));
    }
    SLUICE_RETURN_IF_ERROR(tx.Put("applied", {position, event.stream, event.version}));
    return tx.Put("streams", {event.stream, event.version});
  }

 private:
  std::string name_;
};

// Counts events per type in "counts"; events of `poison_type` fail while `broken` is set.
class PoisonableProjection : public Projection {
 public:
  PoisonableProjection(std::string poison_type, std::shared_ptr<std::atomic<bool>> broken)
      : poison_type_(std::move(poison_type)), broken_(std::move(broken)) {}
  std::string Name() const override { return "poisonable"; }
  std::vector<TableSchema> Tables() const override {
    return {{"counts", {{"type", ColumnType::kText}}, {{"count", ColumnType::kInteger}}}};
  }
  Status Apply(const RecordedEvent& event, ReadModelTransaction& tx) override {
    attempts.fetch_add(1);
    Result<std::optional<Row>> row = tx.Get("counts", {event.type});
    if (!row.ok()) return row.status();
    std::int64_t count = row->has_value() ? std::get<std::int64_t>((**row)[1]) + 1 : 1;
    // Write before failing: the runtime must discard a failed call's writes.
    SLUICE_RETURN_IF_ERROR(tx.Put("counts", {event.type, count}));
    if (event.type == poison_type_ && broken_->load()) {
      if (throw_instead) throw std::runtime_error("cannot digest " + event.type);
      return Status::InvalidArgument("cannot digest " + event.type);
    }
    return Status::Ok();
  }
  std::atomic<int> attempts{0};
  bool throw_instead = false;

 private:
  std::string poison_type_;
  std::shared_ptr<std::atomic<bool>> broken_;
};

// Every row of `table` (empty if it does not exist).
inline std::vector<Row> AllRows(ReadModelStore& store, const std::string& table) {
  std::vector<Row> rows;
  std::optional<Key> after;
  while (true) {
    Result<std::vector<Row>> page = store.Scan(table, after ? &*after : nullptr, 1000);
    if (!page.ok()) return rows;
    for (Row& row : *page) rows.push_back(std::move(row));
    if (page->size() < 1000) return rows;
    Result<std::optional<TableSchema>> schema = store.DescribeTable(table);
    after = KeyOf(**schema, rows.back());
  }
}

inline std::int64_t CountOf(ReadModelStore& store, const std::string& table, const Key& key,
                            int column) {
  Result<std::optional<Row>> row = store.Get(table, key);
  if (!row.ok() || !row->has_value()) return -1;
  const std::int64_t* value = std::get_if<std::int64_t>(&(**row)[std::size_t(column)]);
  return value != nullptr ? *value : -1;
}

}  // namespace sluice::testing
