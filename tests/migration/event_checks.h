// What the migration tests check about the events in a store: every event, and that nothing was
// appended twice (tests only).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sluice/core/event_store.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::migration::testing {

// Every event of `store`, in log order.
inline std::vector<RecordedEvent> AllEvents(EventStore& store) {
  Result<std::vector<RecordedEvent>> events = store.ReadAll(1, 10'000'000);
  EXPECT_TRUE(events.ok()) << events.status().ToString();
  return events.ok() ? *events : std::vector<RecordedEvent>{};
}

// Every event of the RocksDB store in `dir` (opened for the call, so no process may hold it).
inline std::vector<RecordedEvent> StoreEvents(const std::string& dir) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? AllEvents(**store) : std::vector<RecordedEvent>{};
}

struct AppendedChanges {
  std::set<std::string> change_ids;       // the change ids of the change events
  std::map<std::string, int> per_stream;  // change events per stream
};

// No event twice: every event id once, change events once per change id, backfill images at most
// once per stream and only as a stream's first event. Returns what was appended, for the caller
// to compare with the change log.
inline AppendedChanges ExpectNoDuplicates(const std::vector<RecordedEvent>& events) {
  AppendedChanges appended;
  std::set<std::string> ids;
  std::map<std::string, int> backfilled;
  for (const RecordedEvent& event : events) {
    EXPECT_TRUE(ids.insert(event.event_id).second) << event.stream;
    auto change = event.metadata.extra.find("change_id");
    if (change != event.metadata.extra.end()) {
      EXPECT_TRUE(appended.change_ids.insert(change->second).second) << "change " << change->second;
      ++appended.per_stream[event.stream];
    }
    if (event.metadata.extra.count("backfill") != 0 && event.type.ends_with(".RowInserted.v1")) {
      EXPECT_EQ(++backfilled[event.stream], 1) << event.stream;
      EXPECT_EQ(event.version, 0) << event.stream;
    }
  }
  return appended;
}

}  // namespace sluice::migration::testing
