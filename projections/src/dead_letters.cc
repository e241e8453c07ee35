#include "sluice/projections/dead_letters.h"

#include "projection_engine.h"
#include "system_tables.h"

namespace sluice {

using namespace projection_internal;

namespace {

constexpr std::size_t kPage = 512;

// False when the bookkeeping tables do not exist yet (nothing was ever parked).
Result<bool> HasParkedTable(ReadModelStore& store) {
  Result<std::optional<TableSchema>> table = store.DescribeTable(kParkedTable);
  if (!table.ok()) return table.status();
  return table->has_value();
}

}  // namespace

Result<std::vector<ParkedEvent>> ListParked(ReadModelStore& store, std::string_view projection,
                                            GlobalPosition after, std::size_t limit) {
  Result<bool> exists = HasParkedTable(store);
  if (!exists.ok()) return exists.status();
  if (!*exists || limit == 0) return std::vector<ParkedEvent>();
  return ScanParked(store, projection, after, limit);
}

Result<std::uint64_t> CountParked(ReadModelStore& store, std::string_view projection) {
  Result<bool> exists = HasParkedTable(store);
  if (!exists.ok()) return exists.status();
  std::uint64_t count = 0;
  GlobalPosition after = 0;
  while (*exists) {
    Result<std::vector<ParkedEvent>> page = ScanParked(store, projection, after, kPage);
    if (!page.ok()) return page.status();
    count += page->size();
    if (page->size() < kPage) break;
    after = page->back().position;
  }
  return count;
}

Result<ReplayResult> ReplayParked(EventStore& events, ReadModelStore& store, Projection& projection,
                                  PositionRange range, std::size_t batch) {
  const std::string key = projection.Name();
  ReplayResult result;
  Result<bool> exists = HasParkedTable(store);
  if (!exists.ok()) return exists.status();
  if (!*exists) return result;
  GlobalPosition after = range.from > 0 ? range.from - 1 : 0;
  batch = std::max<std::size_t>(batch, 1);
  while (true) {
    Result<std::vector<ParkedEvent>> page = ScanParked(store, key, after, batch);
    if (!page.ok()) return page.status();
    for (const ParkedEvent& parked : *page) {
      if (parked.position > range.to) return result;
      after = parked.position;
      Status failure;
      Result<std::vector<RecordedEvent>> read = events.ReadAll(parked.position, 1);
      if (!read.ok()) {
        failure = read.status();
      } else if (read->empty() || read->front().position != parked.position) {
        failure = Status::NotFound("the event store has no event at position " +
                                   std::to_string(parked.position));
      }
      bool applied = false;
      if (failure.ok()) {
        Status done = RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
          applied = false;
          Result<std::optional<ParkedEvent>> still = LoadParked(tx, key, parked.position);
          if (!still.ok()) return still.status();
          if (!still->has_value()) return Status::Ok();  // discarded or replayed meanwhile
          failure = SafeApply(projection, "", read->front(), tx);
          if (!failure.ok()) {
            // Abort: whatever the failed call wrote must not be committed.
            return failure.code() == StatusCode::kUnavailable ? failure
                                                              : Status::Rejected("aborted");
          }
          applied = true;
          return DeleteParked(tx, key, parked.position);
        });
        if (!done.ok() && failure.ok()) return done;
        if (!done.ok()) applied = false;
      }
      if (applied) {
        ++result.replayed;
        continue;
      }
      if (failure.ok()) continue;
      ++result.still_failing;
      Status recorded = RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
        Result<std::optional<ParkedEvent>> still = LoadParked(tx, key, parked.position);
        if (!still.ok()) return still.status();
        if (!still->has_value()) return Status::Ok();
        ParkedEvent updated = **still;
        updated.attempts += 1;
        updated.error = failure.ToString();
        updated.parked_at_us = NowMicros();
        return PutParked(tx, key, updated);
      });
      if (!recorded.ok()) return recorded;
    }
    if (page->size() < batch) return result;
  }
}

Result<std::uint64_t> DiscardParked(ReadModelStore& store, std::string_view projection,
                                    PositionRange range) {
  Result<bool> exists = HasParkedTable(store);
  if (!exists.ok()) return exists.status();
  std::uint64_t discarded = 0;
  GlobalPosition after = range.from > 0 ? range.from - 1 : 0;
  while (*exists) {
    Result<std::vector<ParkedEvent>> page = ScanParked(store, projection, after, kPage);
    if (!page.ok()) return page.status();
    std::uint64_t in_page = 0;
    bool beyond = false;
    Status done = RunTransaction(store, [&](ReadModelBatch& tx) -> Status {
      in_page = 0;
      beyond = false;
      for (const ParkedEvent& parked : *page) {
        if (parked.position > range.to) {
          beyond = true;
          break;
        }
        SLUICE_RETURN_IF_ERROR(DeleteParked(tx, projection, parked.position));
        ++in_page;
      }
      return Status::Ok();
    });
    if (!done.ok()) return done;
    discarded += in_page;
    if (beyond || page->size() < kPage) break;
    after = page->back().position;
  }
  return discarded;
}

}  // namespace sluice
