// Shared helpers for the RocksDB event store tests: opening stores, events that know which batch
// they belong to, and a checker for the invariants of the global log.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conformance/temp_dir.h"
#include "eventstore/tagged_batch.h"
#include "sluice/core/event.h"
#include "sluice/core/stream_id.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice::testing {

inline StreamId Sid(const std::string& name) {
  Result<StreamId> id = StreamId::Make(name);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return *id;
}

// Opens (or creates) the store in `dir`; fails the test and returns null on error.
inline std::unique_ptr<RocksEventStore> OpenStore(const std::string& dir,
                                                  const RocksEventStoreOptions& options = {}) {
  Result<std::unique_ptr<RocksEventStore>> store = RocksEventStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << "Open(" << dir << "): " << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

// Reads the whole global log in chunks.
inline Result<std::vector<RecordedEvent>> ReadWholeLog(EventStore& store,
                                                       std::size_t chunk = 4096) {
  std::vector<RecordedEvent> all;
  GlobalPosition next = 1;
  while (true) {
    Result<std::vector<RecordedEvent>> part = store.ReadAll(next, chunk);
    if (!part.ok()) return part.status();
    if (part->empty()) break;
    next = part->back().position + 1;
    for (RecordedEvent& e : *part) all.push_back(std::move(e));
    if (part->size() < chunk) break;
  }
  return all;
}

// Checks a prefix of the global log read from position 1:
//  - positions are 1, 2, 3, ... without a gap;
//  - each stream's versions are 0, 1, 2, ... in log order;
//  - every tagged batch is whole: all its events, in index order, at consecutive positions and
//    versions of one stream. With `complete_tail` false the read may have been cut short by a
//    maximum count, so a batch that reaches the last event read may be incomplete.
inline ::testing::AssertionResult CheckLogInvariants(const std::vector<RecordedEvent>& log,
                                                     bool complete_tail = true) {
  std::map<std::string, StreamVersion> next_version;
  struct Seen {
    std::size_t size = 0;
    std::vector<const RecordedEvent*> events;
  };
  std::map<std::string, Seen> batches;
  for (std::size_t i = 0; i < log.size(); ++i) {
    const RecordedEvent& e = log[i];
    if (e.position != i + 1) {
      return ::testing::AssertionFailure()
             << "gap in the global log: entry " << i << " has position " << e.position;
    }
    StreamVersion& want = next_version[e.stream];
    if (e.version != want) {
      return ::testing::AssertionFailure()
             << "stream '" << e.stream << "' at position " << e.position << " has version "
             << e.version << ", expected " << want;
    }
    ++want;
    auto batch = e.metadata.extra.find(kBatchKey);
    if (batch == e.metadata.extra.end()) continue;
    Seen& seen = batches[batch->second];
    seen.size = std::stoul(e.metadata.extra.at(kBatchSizeKey));
    seen.events.push_back(&e);
  }
  const GlobalPosition last = log.empty() ? 0 : log.back().position;
  for (const auto& [id, seen] : batches) {
    const bool touches_tail = seen.events.back()->position == last;
    if (seen.events.size() != seen.size) {
      if (!complete_tail && touches_tail && seen.events.size() < seen.size) continue;
      return ::testing::AssertionFailure()
             << "batch " << id << " is partial: " << seen.events.size() << " of " << seen.size
             << " events, first at position " << seen.events.front()->position;
    }
    for (std::size_t i = 0; i < seen.events.size(); ++i) {
      const RecordedEvent& e = *seen.events[i];
      const RecordedEvent& first = *seen.events.front();
      if (e.metadata.extra.at(kBatchIndexKey) != std::to_string(i) ||
          e.position != first.position + i ||
          e.version != first.version + static_cast<StreamVersion>(i) || e.stream != first.stream) {
        return ::testing::AssertionFailure() << "batch " << id << " is not contiguous at its event "
                                             << i << " (position " << e.position << ")";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult CheckIsClean(RocksEventStore& store) {
  Result<CheckReport> report = store.Check();
  if (!report.ok()) return ::testing::AssertionFailure() << "Check: " << report.status().ToString();
  if (!report->ok()) {
    auto failure = ::testing::AssertionFailure();
    failure << report->problem_count << " problems:";
    for (const std::string& p : report->problems) failure << "\n  " << p;
    return failure;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace sluice::testing
