#include "sluice/migration/backfill.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "sluice/core/stream_id.h"
#include "sluice/core/uuid.h"
#include "sluice/migration/change_mapping.h"
#include "sluice/migration/schema_event.h"
#include "typed_json.h"

namespace sluice::migration {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kRowIdNamespace = "sluice.migration.backfill-row";
constexpr std::string_view kProgressIdNamespace = "sluice.migration.backfill-progress";

std::string ProgressStream(std::string_view table) { return std::string(table) + ".backfill"; }
std::string ProgressType(std::string_view table) {
  return std::string(table) + ".BackfillProgressed.v1";
}

std::vector<std::string> KeyNames(const LegacyTable& table) {
  std::vector<std::string> names;
  for (std::size_t index : table.key) names.push_back(table.columns[index].name);
  return names;
}

std::vector<std::string> ColumnNames(const LegacyTable& table) {
  std::vector<std::string> names;
  for (const LegacyColumn& column : table.columns) names.push_back(column.name);
  return names;
}

// Where a table's backfill stood after its newest progress event.
struct Resume {
  BackfillProgress progress;
  std::optional<Key> after;
};

Result<Resume> LoadResume(EventStore& store, const LegacyTable& table,
                          const std::string& source_id) {
  Resume resume;
  resume.progress.table = table.name;
  Result<StreamId> stream = StreamId::Make(ProgressStream(table.name));
  if (!stream.ok()) return stream.status();
  Result<std::vector<RecordedEvent>> newest =
      store.ReadStream(*stream, kStreamEnd, 1, Direction::kBackward);
  if (!newest.ok()) {
    if (newest.status().IsNotFound()) return resume;
    return newest.status();
  }
  if (newest->empty()) return resume;
  const RecordedEvent& event = newest->front();
  try {
    const Json payload = Json::parse(event.payload);
    if (payload.value("source_id", std::string()) != source_id) return resume;  // another install
    BackfillProgress& p = resume.progress;
    p.rows = payload.at("rows").get<std::uint64_t>();
    p.loaded = payload.at("loaded").get<std::uint64_t>();
    p.skipped = payload.at("skipped").get<std::uint64_t>();
    p.chunks = payload.at("chunks").get<std::uint64_t>();
    p.position = payload.at("position").get<ChangeId>();
    p.done = payload.at("done").get<bool>();
    if (payload.contains("after")) {
      Result<std::vector<std::pair<std::string, Value>>> values =
          ValuesOfTypedJson(payload["after"].dump());
      if (!values.ok()) return values.status();
      const std::vector<std::string> names = KeyNames(table);
      if (values->size() != names.size()) {
        return Status::Corruption("backfill progress of " + table.name +
                                  ": its key does not match the table's key");
      }
      Key key;
      for (std::size_t i = 0; i < names.size(); ++i) {
        if ((*values)[i].first != names[i]) {
          return Status::Corruption("backfill progress of " + table.name + ": key column '" +
                                    (*values)[i].first + "' is not '" + names[i] + "'");
        }
        key.push_back(std::move((*values)[i].second));
      }
      resume.after = std::move(key);
    }
  } catch (const Json::exception& e) {
    return Status::Corruption("backfill progress of " + table.name + " (stream " +
                              ProgressStream(table.name) + " version " +
                              std::to_string(event.version) + "): " + e.what());
  }
  return resume;
}

}  // namespace

Backfill::Backfill(LegacySource& source, EventStore& store, std::vector<std::string> tables,
                   BackfillOptions options)
    : source_(source), store_(store), tables_(std::move(tables)), options_(std::move(options)) {
  if (options_.chunk_rows == 0) options_.chunk_rows = 1000;
}

Status Backfill::Prepare() {
  if (tables_.empty()) return Status::InvalidArgument("backfill: no tables");
  std::set<std::string> seen;
  for (const std::string& table : tables_) {
    if (!seen.insert(table).second) {
      return Status::InvalidArgument("backfill: table '" + table + "' is named twice");
    }
  }
  Result<SourceDescription> description = source_.Describe();
  if (!description.ok()) return description.status();
  if (description->source_id.empty()) {
    return Status::InvalidArgument("change capture is not installed in " + description->location);
  }
  for (const std::string& table : tables_) {
    if (std::find(description->tables.begin(), description->tables.end(), table) ==
        description->tables.end()) {
      return Status::InvalidArgument("capture is not installed for table '" + table + "'");
    }
  }
  source_id_ = description->source_id;
  TailerOptions tailer;
  tailer.tables = std::set<std::string>(tables_.begin(), tables_.end());
  tailer_ = std::make_unique<Tailer>(source_, store_, tailer);
  return Status::Ok();
}

Status Backfill::TailTo(ChangeId position) {
  int busy = 0;
  while (tailed_ < position) {
    Result<TailProgress> step = tailer_->Step();
    // The legacy database busy past its lock wait: retried a few times with backoff.
    if (!step.ok() && step.status().code() == StatusCode::kUnavailable && ++busy <= 8) {
      std::this_thread::sleep_for(options_.poll_interval * (1 << busy));
      continue;
    }
    if (!step.ok()) return step.status();
    busy = 0;
    tailed_ = step->checkpoint;
    if (tailed_ >= position) break;
    if (step->changes == 0) {
      if (options_.stop != nullptr && options_.stop->load()) break;
      std::this_thread::sleep_for(options_.poll_interval);
    }
  }
  return Status::Ok();
}

Status Backfill::RunTable(const LegacyTable& table, BackfillProgress* progress) {
  Result<Resume> resume = LoadResume(store_, table, source_id_);
  if (!resume.ok()) return resume.status();
  *progress = resume->progress;
  std::optional<Key> after = std::move(resume->after);
  if (progress->done) {
    if (options_.on_progress) options_.on_progress(*progress);
    return Status::Ok();
  }
  Result<StreamId> progress_stream = StreamId::Make(ProgressStream(table.name));
  if (!progress_stream.ok()) return progress_stream.status();
  Result<bool> schema = AppendSchemaIfChanged(store_, table, source_id_);
  if (!schema.ok()) return schema.status();

  const std::vector<std::string> key_names = KeyNames(table);
  const std::vector<std::string> column_names = ColumnNames(table);
  const std::string source_name = "migration:" + source_id_;
  const std::shared_ptr<const ChangeMapping> mirror = MirrorMapping();
  while (options_.stop == nullptr || !options_.stop->load()) {
    // 1. A short consistent read of the next chunk.
    CapturePosition position;
    std::vector<Row> rows;
    {
      Result<std::unique_ptr<LegacySnapshot>> snapshot = source_.OpenSnapshot();
      if (!snapshot.ok()) return snapshot.status();
      Result<std::vector<Row>> read =
          (*snapshot)->ReadRows(table, after ? &*after : nullptr, options_.chunk_rows);
      if (!read.ok()) return read.status().WithContext("reading " + table.name);
      rows = std::move(*read);
      position = (*snapshot)->position();
    }
    // 2. Every change the snapshot saw goes into the store first.
    SLUICE_RETURN_IF_ERROR(TailTo(position.change_id));
    if (tailed_ < position.change_id) break;  // stopped while waiting

    // 3. The snapshot image of every row no change has reached yet.
    for (const Row& row : rows) {
      Key key;
      for (std::size_t index : table.key) key.push_back(row[index]);
      Change change;
      change.table = table.name;
      change.op = ChangeOp::kInsert;
      change.key_json = TypedJsonOf(key_names, key);
      change.row_json = TypedJsonOf(column_names, row);
      Result<std::optional<MappedChange>> mapped = mirror->Map(change);
      if (!mapped.ok()) return mapped.status();
      Result<StreamId> stream = StreamId::Make((*mapped)->stream);
      if (!stream.ok()) return stream.status();
      const std::string event_id =
          DeriveUuid(kRowIdNamespace,
                     source_id_ + "\n" + table.name + "\n" + change.key_json + "\n" + "backfill");
      Result<StreamVersion> head = store_.StreamHead(*stream);
      if (!head.ok()) return head.status();
      if (*head != kNoStream) {
        // Loaded by an earlier run of this chunk, or reached by a newer change.
        Result<std::optional<EventLocation>> found = store_.FindEvent(event_id);
        if (!found.ok()) return found.status();
        if (found->has_value()) {
          ++progress->loaded;
        } else {
          ++progress->skipped;
        }
        continue;
      }
      EventData event = std::move((*mapped)->events.front());
      event.event_id = event_id;
      event.metadata.extra["source"] = source_name;
      event.metadata.extra["backfill"] = "true";
      event.metadata.extra["capture_position"] = std::to_string(position.change_id);
      std::vector<EventData> events;
      events.push_back(std::move(event));
      AppendOptions unsynced;
      unsynced.sync = false;  // the progress append below syncs the whole chunk
      Result<AppendResult> appended =
          store_.Append(*stream, ExpectedVersion::NoStream(), std::move(events), unsynced);
      if (appended.ok()) {
        ++progress->loaded;
      } else if (appended.status().IsWrongExpectedVersion()) {
        ++progress->skipped;  // a change got there first; it carries a newer full image
      } else {
        return appended.status();
      }
    }

    // 4. Durable progress, with the chunk's appends.
    progress->rows += rows.size();
    ++progress->chunks;
    progress->position = position.change_id;
    progress->done = rows.size() < options_.chunk_rows;
    if (!rows.empty()) {
      Key last;
      for (std::size_t index : table.key) last.push_back(rows.back()[index]);
      after = std::move(last);
    }
    Json payload;
    payload["table"] = table.name;
    payload["source_id"] = source_id_;
    std::string after_json;
    if (after) {
      after_json = TypedJsonOf(key_names, *after);
      payload["after"] = Json::parse(after_json);
    }
    payload["rows"] = progress->rows;
    payload["loaded"] = progress->loaded;
    payload["skipped"] = progress->skipped;
    payload["chunks"] = progress->chunks;
    payload["position"] = progress->position;
    payload["done"] = progress->done;
    EventData event;
    event.type = ProgressType(table.name);
    event.content_type = ContentType::kJson;
    event.payload = payload.dump();
    event.event_id =
        DeriveUuid(kProgressIdNamespace, source_id_ + "\n" + table.name + "\n" +
                                             std::to_string(progress->chunks) + "\n" + after_json);
    event.metadata.extra["source"] = source_name;
    event.metadata.extra["backfill"] = "true";
    std::vector<EventData> events;
    events.push_back(std::move(event));
    Result<AppendResult> saved =
        store_.Append(*progress_stream, ExpectedVersion::Any(), std::move(events));
    if (!saved.ok()) return saved.status();
    if (options_.on_progress) options_.on_progress(*progress);
    if (progress->done) break;
  }
  return Status::Ok();
}

Result<std::vector<BackfillProgress>> Backfill::Run() {
  SLUICE_RETURN_IF_ERROR(Prepare());
  std::vector<LegacyTable> tables;
  for (const std::string& name : tables_) {
    Result<LegacyTable> table = source_.DescribeTable(name);
    if (!table.ok()) return table.status();
    tables.push_back(std::move(*table));
  }
  std::vector<BackfillProgress> results;
  for (const LegacyTable& table : tables) {
    BackfillProgress progress;
    progress.table = table.name;
    SLUICE_RETURN_IF_ERROR(RunTable(table, &progress));
    results.push_back(std::move(progress));
  }
  // Whatever committed meanwhile follows the backfilled images.
  Result<TailProgress> tailed = tailer_->CatchUp(options_.stop);
  if (!tailed.ok()) return tailed.status();
  return results;
}

}  // namespace sluice::migration
