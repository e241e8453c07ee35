#include "system_tables.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

namespace sluice::projection_internal {
namespace {

constexpr int kMaxConflictRetries = 1000;
constexpr std::size_t kScanPage = 512;

const TableSchema& ProjectionsSchema() {
  static const TableSchema schema{std::string(kProjectionsTable),
                                  {{"projection", ColumnType::kText}},
                                  {{"epoch", ColumnType::kInteger},
                                   {"owner", ColumnType::kText},
                                   {"state", ColumnType::kText},
                                   {"error", ColumnType::kText},
                                   {"updated_at_us", ColumnType::kInteger},
                                   {"paused_until_us", ColumnType::kInteger}}};
  return schema;
}

const TableSchema& CheckpointsSchema() {
  static const TableSchema schema{
      std::string(kCheckpointsTable),
      {{"projection", ColumnType::kText},
       {"partitions", ColumnType::kInteger},
       {"partition", ColumnType::kInteger}},
      {{"position", ColumnType::kInteger}, {"updated_at_us", ColumnType::kInteger}}};
  return schema;
}

const TableSchema& ParkedSchema() {
  static const TableSchema schema{
      std::string(kParkedTable),
      {{"projection", ColumnType::kText}, {"position", ColumnType::kInteger}},
      {{"stream", ColumnType::kText},
       {"version", ColumnType::kInteger},
       {"event_id", ColumnType::kText},
       {"type", ColumnType::kText},
       {"error", ColumnType::kText},
       {"attempts", ColumnType::kInteger},
       {"parked_at_us", ColumnType::kInteger}}};
  return schema;
}

Status Malformed(std::string_view table, const Row& row) {
  std::string text = "malformed bookkeeping row in " + std::string(table) + ":";
  for (const Value& value : row) text += " " + DescribeValue(value);
  return Status::Corruption(std::move(text));
}

bool IsInt(const Value& v) { return std::holds_alternative<std::int64_t>(v); }
bool IsText(const Value& v) { return std::holds_alternative<std::string>(v); }
std::int64_t Int(const Value& v) { return std::get<std::int64_t>(v); }
const std::string& Text(const Value& v) { return std::get<std::string>(v); }
std::string TextOr(const Value& v) { return IsText(v) ? Text(v) : std::string(); }

Result<ProjectionRecord> RecordFromRow(const Row& row) {
  if (row.size() != 7 || !IsText(row[0]) || !IsInt(row[1])) {
    return Malformed(kProjectionsTable, row);
  }
  ProjectionRecord record;
  record.key = Text(row[0]);
  record.epoch = Int(row[1]);
  record.owner = TextOr(row[2]);
  record.state = TextOr(row[3]);
  record.error = TextOr(row[4]);
  record.updated_at_us = IsInt(row[5]) ? Int(row[5]) : 0;
  record.paused_until_us = IsInt(row[6]) ? Int(row[6]) : 0;
  return record;
}

Result<ParkedEvent> ParkedFromRow(const Row& row) {
  if (row.size() != 9 || !IsInt(row[1]) || !IsInt(row[3]) || !IsInt(row[7]) || !IsInt(row[8]) ||
      Int(row[1]) <= 0) {
    return Malformed(kParkedTable, row);
  }
  ParkedEvent parked;
  parked.position = static_cast<GlobalPosition>(Int(row[1]));
  parked.stream = TextOr(row[2]);
  parked.version = Int(row[3]);
  parked.event_id = TextOr(row[4]);
  parked.type = TextOr(row[5]);
  parked.error = TextOr(row[6]);
  parked.attempts = Int(row[7]);
  parked.parked_at_us = Int(row[8]);
  return parked;
}

std::int64_t AsInt(GlobalPosition position) { return static_cast<std::int64_t>(position); }

}  // namespace

GlobalPosition Layout::Low() const {
  return positions.empty() ? 0 : *std::min_element(positions.begin(), positions.end());
}

GlobalPosition Layout::High() const {
  return positions.empty() ? 0 : *std::max_element(positions.begin(), positions.end());
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ValidateProjectionName(std::string_view name) {
  bool chars_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
  if (name.empty() || name.size() > 64 || !chars_ok) {
    return Status::InvalidArgument("projection name '" + std::string(name) +
                                   "' must be 1-64 characters of A-Z a-z 0-9 _ . -");
  }
  if (name.ends_with(kShadowSuffix)) {
    return Status::InvalidArgument("projection name '" + std::string(name) + "' may not end in " +
                                   std::string(kShadowSuffix));
  }
  return Status::Ok();
}

int PartitionOf(std::string_view stream, int partitions) {
  std::uint64_t hash = 14695981039346656037ull;
  for (char c : stream) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return static_cast<int>(hash % static_cast<std::uint64_t>(partitions));
}

Status RunTransaction(ReadModelStore& store,
                      const std::function<Status(ReadModelBatch& tx)>& work) {
  Status last;
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    Result<std::unique_ptr<ReadModelBatch>> tx = store.Begin();
    if (!tx.ok()) return tx.status();
    Status done = work(**tx);
    if (done.ok()) done = (*tx)->Commit();
    if (done.code() != StatusCode::kUnavailable) return done;
    last = done;
    std::this_thread::sleep_for(std::chrono::microseconds(100 * std::min(attempt + 1, 50)));
  }
  return last;
}

Status EnsureSystemTables(ReadModelStore& store) {
  return RunTransaction(store, [](ReadModelBatch& tx) {
    for (const TableSchema* schema :
         {&ProjectionsSchema(), &CheckpointsSchema(), &ParkedSchema()}) {
      SLUICE_RETURN_IF_ERROR(tx.CreateTable(*schema));
    }
    return Status::Ok();
  });
}

Result<std::optional<ProjectionRecord>> LoadRecord(ReadModelStore& store, std::string_view key) {
  Result<std::optional<Row>> row = store.Get(kProjectionsTable, {std::string(key)});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<ProjectionRecord>();
  Result<ProjectionRecord> record = RecordFromRow(**row);
  if (!record.ok()) return record.status();
  return std::optional<ProjectionRecord>(std::move(*record));
}

Result<std::optional<ProjectionRecord>> LoadRecord(ReadModelTransaction& tx, std::string_view key) {
  Result<std::optional<Row>> row = tx.Get(kProjectionsTable, {std::string(key)});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<ProjectionRecord>();
  Result<ProjectionRecord> record = RecordFromRow(**row);
  if (!record.ok()) return record.status();
  return std::optional<ProjectionRecord>(std::move(*record));
}

Status PutRecord(ReadModelTransaction& tx, const ProjectionRecord& record) {
  return tx.Put(kProjectionsTable, {record.key, record.epoch, record.owner, record.state,
                                    record.error, record.updated_at_us, record.paused_until_us});
}

Status DeleteRecord(ReadModelTransaction& tx, std::string_view key) {
  return tx.Delete(kProjectionsTable, {std::string(key)});
}

Result<std::vector<std::string>> ListRecordKeys(ReadModelStore& store) {
  std::vector<std::string> keys;
  std::optional<Key> after;
  while (true) {
    Result<std::vector<Row>> page =
        store.Scan(kProjectionsTable, after ? &*after : nullptr, kScanPage);
    if (!page.ok()) return page.status();
    for (const Row& row : *page) {
      if (row.empty() || !IsText(row[0])) return Malformed(kProjectionsTable, row);
      keys.push_back(Text(row[0]));
    }
    if (page->size() < kScanPage) return keys;
    after = Key{page->back()[0]};
  }
}

Result<std::vector<Layout>> LoadLayouts(ReadModelStore& store, std::string_view key) {
  std::map<int, Layout> layouts;
  Key after{std::string(key), std::int64_t{0}, std::int64_t{0}};
  while (true) {
    Result<std::vector<Row>> page = store.Scan(kCheckpointsTable, &after, kScanPage);
    if (!page.ok()) return page.status();
    for (const Row& row : *page) {
      if (row.size() != 5 || !IsText(row[0]) || !IsInt(row[1]) || !IsInt(row[2]) ||
          !IsInt(row[3])) {
        return Malformed(kCheckpointsTable, row);
      }
      if (Text(row[0]) != key) {
        page->clear();
        break;
      }
      std::int64_t partitions = Int(row[1]);
      std::int64_t partition = Int(row[2]);
      if (partitions < 1 || partitions > 1024 || partition < 0 || partition >= partitions ||
          Int(row[3]) < 0) {
        return Malformed(kCheckpointsTable, row);
      }
      Layout& layout = layouts[static_cast<int>(partitions)];
      layout.partitions = static_cast<int>(partitions);
      layout.positions.resize(static_cast<std::size_t>(partitions), 0);
      layout.positions[static_cast<std::size_t>(partition)] =
          static_cast<GlobalPosition>(Int(row[3]));
    }
    if (page->size() < kScanPage) break;
    after = KeyOf(CheckpointsSchema(), page->back());
  }
  std::vector<Layout> result;
  for (auto& [partitions, layout] : layouts) result.push_back(std::move(layout));
  return result;
}

Status PutCheckpoint(ReadModelTransaction& tx, std::string_view key, int partitions, int partition,
                     GlobalPosition position) {
  return tx.Put(kCheckpointsTable, {std::string(key), std::int64_t{partitions},
                                    std::int64_t{partition}, AsInt(position), NowMicros()});
}

Status DeleteCheckpoints(ReadModelStore& store, ReadModelTransaction& tx, std::string_view key) {
  Result<std::vector<Layout>> layouts = LoadLayouts(store, key);
  if (!layouts.ok()) return layouts.status();
  for (const Layout& layout : *layouts) SLUICE_RETURN_IF_ERROR(DeleteLayout(tx, key, layout));
  return Status::Ok();
}

Status DeleteLayout(ReadModelTransaction& tx, std::string_view key, const Layout& layout) {
  for (int partition = 0; partition < layout.partitions; ++partition) {
    SLUICE_RETURN_IF_ERROR(
        tx.Delete(kCheckpointsTable,
                  {std::string(key), std::int64_t{layout.partitions}, std::int64_t{partition}}));
  }
  return Status::Ok();
}

Status PutParked(ReadModelTransaction& tx, std::string_view key, const ParkedEvent& parked) {
  return tx.Put(kParkedTable, {std::string(key), AsInt(parked.position), parked.stream,
                               std::int64_t{parked.version}, parked.event_id, parked.type,
                               parked.error, parked.attempts, parked.parked_at_us});
}

Status DeleteParked(ReadModelTransaction& tx, std::string_view key, GlobalPosition position) {
  return tx.Delete(kParkedTable, {std::string(key), AsInt(position)});
}

Result<std::optional<ParkedEvent>> LoadParked(ReadModelTransaction& tx, std::string_view key,
                                              GlobalPosition position) {
  Result<std::optional<Row>> row = tx.Get(kParkedTable, {std::string(key), AsInt(position)});
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<ParkedEvent>();
  Result<ParkedEvent> parked = ParkedFromRow(**row);
  if (!parked.ok()) return parked.status();
  return std::optional<ParkedEvent>(std::move(*parked));
}

Result<std::vector<ParkedEvent>> ScanParked(ReadModelStore& store, std::string_view key,
                                            GlobalPosition after, std::size_t limit) {
  std::vector<ParkedEvent> result;
  if (after >= static_cast<GlobalPosition>(INT64_MAX)) return result;
  Key from{std::string(key), AsInt(after)};
  Result<std::vector<Row>> page = store.Scan(kParkedTable, &from, limit);
  if (!page.ok()) return page.status();
  for (const Row& row : *page) {
    if (row.empty() || !IsText(row[0])) return Malformed(kParkedTable, row);
    if (Text(row[0]) != key) break;
    Result<ParkedEvent> parked = ParkedFromRow(row);
    if (!parked.ok()) return parked.status();
    result.push_back(std::move(*parked));
  }
  return result;
}

ParkedEvent ParkedFrom(const RecordedEvent& event, std::string error, std::int64_t attempts) {
  ParkedEvent parked;
  parked.position = event.position;
  parked.stream = event.stream;
  parked.version = event.version;
  parked.event_id = event.event_id;
  parked.type = event.type;
  parked.error = std::move(error);
  parked.attempts = attempts;
  parked.parked_at_us = NowMicros();
  return parked;
}

}  // namespace sluice::projection_internal
