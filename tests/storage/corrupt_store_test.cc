// What the RocksDB store does when its bytes are damaged behind its back: errors naming the
// position, never a crash, and `Check` lists the problem.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <functional>

#include "keys.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice {
namespace {

class CorruptStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-corrupt-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto store = RocksEventStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int i = 0; i < 5; ++i) {
      std::vector<EventData> events(1);
      events[0].type = "test.Happened.v1";
      events[0].payload = "payload-" + std::to_string(i);
      ASSERT_TRUE((*store)->Append(Stream(), ExpectedVersion::Any(), events).ok());
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static StreamId Stream() { return *StreamId::Make("thing-1"); }

  // Opens the store's RocksDB directly and lets `damage` write to the named column family.
  void Damage(const std::string& family,
              const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& damage) {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_.string(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir_.string(), descriptors, &handles, &db).ok());
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == family) damage(db, handles[i]);
    }
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }

  std::unique_ptr<RocksEventStore> Reopen() {
    auto store = RocksEventStore::Open(dir_.string());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::filesystem::path dir_;
};

TEST_F(CorruptStoreTest, GarbledRecordIsCorruptionNamingItsPosition) {
  Damage("log", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, internal::PositionKey(3), "\x01garbage").ok());
  });
  auto store = Reopen();
  ASSERT_TRUE(store);
  auto all = store->ReadAll(1, 100);
  ASSERT_EQ(all.status().code(), StatusCode::kCorruption);
  EXPECT_NE(all.status().message().find("position 3"), std::string::npos)
      << all.status().ToString();
  auto before = store->ReadAll(1, 2);
  ASSERT_TRUE(before.ok());  // what comes before the damage still reads
  EXPECT_EQ(before->size(), 2u);
  auto stream = store->ReadStream(Stream(), 0, 100);
  EXPECT_EQ(stream.status().code(), StatusCode::kCorruption);
  auto report = store->Check();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());
  ASSERT_FALSE(report->problems.empty());
  EXPECT_NE(report->problems[0].find("position 3"), std::string::npos) << report->problems[0];
}

TEST_F(CorruptStoreTest, MissingLogEntryIsAGapNotASilentSkip) {
  Damage("log", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), cf, internal::PositionKey(2)).ok());
  });
  auto store = Reopen();
  ASSERT_TRUE(store);
  auto all = store->ReadAll(1, 100);
  ASSERT_EQ(all.status().code(), StatusCode::kCorruption);
  EXPECT_NE(all.status().message().find("position 2"), std::string::npos);
  auto report = store->Check();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());
}

TEST_F(CorruptStoreTest, SubscriptionStopsWithTheErrorInsteadOfSkipping) {
  Damage("log", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, internal::PositionKey(4), "bad").ok());
  });
  auto store = Reopen();
  ASSERT_TRUE(store);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Status> error;
  std::vector<GlobalPosition> seen;
  SubscriptionOptions options;
  options.batch_size = 1;
  options.on_error = [&](const Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    error = s;
    cv.notify_all();
  };
  auto sub = store->SubscribeToAll(
      0, [&](const RecordedEvent& e) { seen.push_back(e.position); }, options);
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return error.has_value(); }));
  EXPECT_EQ(error->code(), StatusCode::kCorruption);
  EXPECT_EQ(seen, (std::vector<GlobalPosition>{1, 2, 3}));
  EXPECT_EQ(sub->status().code(), StatusCode::kCorruption);
}

TEST_F(CorruptStoreTest, MissingStreamIndexEntryIsReportedByCheck) {
  Damage("streams", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), cf, internal::StreamKey("thing-1", 1)).ok());
  });
  auto store = Reopen();
  ASSERT_TRUE(store);
  auto report = store->Check();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());
  bool named = false;
  for (const auto& p : report->problems) named = named || p.find("thing-1") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST_F(CorruptStoreTest, DamagedHeadFailsAppendsWithCorruption) {
  Damage("heads", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, "thing-1", "xyz").ok());
  });
  auto store = Reopen();
  ASSERT_TRUE(store);
  std::vector<EventData> events(1);
  events[0].type = "test.Happened.v1";
  auto result = store->Append(Stream(), ExpectedVersion::Any(), events);
  EXPECT_EQ(result.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(store->HeadPosition(), 5u);  // nothing written
  EXPECT_EQ(store->StreamHead(Stream()).status().code(), StatusCode::kCorruption);
  auto report = store->Check();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());
}

TEST_F(CorruptStoreTest, WrongHeadVersionIsReportedByCheck) {
  Damage("heads", [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, "thing-1", internal::EncodeHead({2, 3})).ok());
  });
  auto store = Reopen();
  ASSERT_TRUE(store);
  auto report = store->Check();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());
}

TEST_F(CorruptStoreTest, SoundStoreChecksClean) {
  auto store = Reopen();
  ASSERT_TRUE(store);
  auto report = store->Check();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << (report->problems.empty() ? "" : report->problems[0]);
  EXPECT_EQ(report->events_checked, 5u);
  EXPECT_EQ(report->streams_checked, 1u);
  EXPECT_EQ(report->head_position, 5u);
}

TEST(OpenStoreTest, ForeignRocksDbIsRefused) {
  auto dir =
      std::filesystem::temp_directory_path() / ("sluice-foreign-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.string(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete db;
  }
  auto store = RocksEventStore::Open(dir.string());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << store.status().ToString();
  std::filesystem::remove_all(dir);
}

TEST(OpenStoreTest, FollowerOfMissingStoreIsNotFound) {
  auto store = RocksEventStore::OpenFollower("/nonexistent/sluice-store");
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice
