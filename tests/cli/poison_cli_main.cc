// A `sluice` built the way an application builds its own: sluice::cli::RunCli with a registry that
// adds the application's projections. Used by projection_cli_test to drive dead letters and
// failures end to end.
//   poisoned:   table "poisoned" (stream -> count); fails on every event of type
//               "test.Poison.v1" until SLUICE_TEST_POISON_FIXED=1 is in the environment (the "fix"
//               deployed before a replay).
//   bad-tables: declares a table with a reserved name, so its worker cannot start.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "sluice/cli/cli.h"
#include "sluice/projections/projection.h"
#include "sluice/projections/projection_registry.h"

namespace {

class PoisonedProjection final : public sluice::Projection {
 public:
  std::string Name() const override { return "poisoned"; }
  std::vector<sluice::TableSchema> Tables() const override {
    return {{"poisoned",
             {{"stream", sluice::ColumnType::kText}},
             {{"count", sluice::ColumnType::kInteger}}}};
  }
  sluice::Status Apply(const sluice::RecordedEvent& event,
                       sluice::ReadModelTransaction& tx) override {
    const char* fixed = std::getenv("SLUICE_TEST_POISON_FIXED");
    if (event.type == "test.Poison.v1" && (fixed == nullptr || std::strcmp(fixed, "1") != 0)) {
      return sluice::Status::InvalidArgument("cannot digest " + event.type);
    }
    sluice::Result<std::optional<sluice::Row>> row = tx.Get("poisoned", {event.stream});
    if (!row.ok()) return row.status();
    std::int64_t count = 1;
    if (row->has_value()) count += std::get<std::int64_t>((**row)[1]);
    return tx.Put("poisoned", {event.stream, count});
  }
};

class BadTablesProjection final : public sluice::Projection {
 public:
  std::string Name() const override { return "bad-tables"; }
  std::vector<sluice::TableSchema> Tables() const override {
    return {{"sluice_mine", {{"k", sluice::ColumnType::kText}}, {}}};
  }
  sluice::Status Apply(const sluice::RecordedEvent&, sluice::ReadModelTransaction&) override {
    return sluice::Status::Ok();
  }
};

}  // namespace

int main(int argc, char** argv) {
  sluice::ProjectionRegistry registry;
  for (const sluice::Status& added :
       {registry.Add("poisoned", [] { return std::make_shared<PoisonedProjection>(); }),
        registry.Add("bad-tables", [] { return std::make_shared<BadTablesProjection>(); })}) {
    if (!added.ok()) {
      std::cerr << "error: " << added.ToString() << std::endl;
      return 1;
    }
  }
  return sluice::cli::RunCli(argc, argv, registry);
}
