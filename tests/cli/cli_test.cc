// The `sluice` command-line tool, run as a real process: every command, every exit code, and the
// JSON it prints. Each test works in a fresh temporary folder.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_process.h"
#include "sluice/eventstore/rocks_event_store.h"

namespace sluice {
namespace {

using cli_testing::EventLine;
using cli_testing::ParseLines;
using cli_testing::Process;
using cli_testing::RunResult;
using nlohmann::json;

constexpr const char* kId1 = "8a1f6c3e-2b7d-4c55-9e0a-1f2e3d4c5b6a";
constexpr const char* kId2 = "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = std::filesystem::temp_directory_path() /
            ("sluice-cli-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(work_);
    std::filesystem::create_directories(work_);
    store_ = (work_ / "store").string();
  }
  void TearDown() override { std::filesystem::remove_all(work_); }

  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") {
    Process process(work_, args, input);
    RunResult result;
    result.exit_code = process.Wait();
    result.out = process.out();
    result.err = process.err();
    return result;
  }

  std::unique_ptr<Process> Start(const std::vector<std::string>& args) {
    return std::make_unique<Process>(work_, args, "");
  }

  RunResult Append(const std::string& stream, const std::string& input,
                   const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"append", "--store", store_, "--stream", stream};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args, input);
  }

  // Appends `n` events of type "test.Happened.v1" with data {"n": i}; expects success.
  void AppendMany(const std::string& stream, int n) {
    std::string input;
    for (int i = 0; i < n; ++i) input += EventLine("test.Happened.v1", {{"n", i}});
    RunResult r = Append(stream, input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // The events of the whole log, as `read-all` prints them.
  std::vector<json> ReadAll(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"read-all", "--store", store_};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseLines(r.out);
  }

  std::vector<json> Read(const std::string& stream, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"read", "--store", store_, "--stream", stream};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseLines(r.out);
  }

  static std::vector<std::int64_t> Versions(const std::vector<json>& events) {
    std::vector<std::int64_t> versions;
    for (const json& e : events) versions.push_back(e.at("version").get<std::int64_t>());
    return versions;
  }

  static std::vector<std::uint64_t> Positions(const std::vector<json>& events) {
    std::vector<std::uint64_t> positions;
    for (const json& e : events) positions.push_back(e.at("position").get<std::uint64_t>());
    return positions;
  }

  // Creates an empty store, so "nothing was written" can be checked with read-all.
  void CreateEmptyStore() {
    auto store = RocksEventStore::Open(store_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }

  std::unique_ptr<RocksEventStore> OpenWriter() {
    auto store = RocksEventStore::Open(store_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  static std::vector<EventData> Events(int n) {
    std::vector<EventData> events(n);
    for (auto& e : events) {
      e.type = "test.Written.v1";
      e.content_type = ContentType::kJson;
      e.payload = R"({"by":"test"})";
    }
    return events;
  }

  std::filesystem::path work_;
  std::string store_;
};

// --- append ---------------------------------------------------------------------------------

TEST_F(CliTest, AppendPrintsPositionsAndNextExpectedVersion) {
  RunResult r = Append("account-1", EventLine("bank.Opened.v1") + EventLine("bank.Deposited.v1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out),
            json({{"first_position", 1}, {"last_position", 2}, {"next_expected_version", 1}}));

  r = Append("account-2", EventLine("bank.Opened.v1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out),
            json({{"first_position", 3}, {"last_position", 3}, {"next_expected_version", 0}}));
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(CliTest, AppendSkipsBlankLines) {
  RunResult r = Append("account-1", "\n" + EventLine("a.B.v1") + "   \n\n" + EventLine("a.C.v1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["last_position"], 2);
}

TEST_F(CliTest, AppendHonoursEachKindOfExpectedVersion) {
  EXPECT_EQ(Append("s-1", EventLine("a.B.v1"), {"--expected", "no_stream"}).exit_code, 0);
  EXPECT_EQ(Append("s-1", EventLine("a.B.v1"), {"--expected", "0"}).exit_code, 0);
  EXPECT_EQ(Append("s-1", EventLine("a.B.v1"), {"--expected", "stream_exists"}).exit_code, 0);
  EXPECT_EQ(Append("s-1", EventLine("a.B.v1"), {"--expected", "any"}).exit_code, 0);
  EXPECT_EQ(Append("s-1", EventLine("a.B.v1"), {"--expected=3"}).exit_code, 0);
  EXPECT_EQ(Append("s-2", EventLine("a.B.v1"), {"--expected", "-1"}).exit_code, 0);
  EXPECT_EQ(Versions(Read("s-1")), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
}

TEST_F(CliTest, AppendWithWrongExpectedVersionExits3AndWritesNothing) {
  AppendMany("account-1", 5);

  RunResult r = Append("account-1", EventLine("a.B.v1"), {"--expected", "2"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("error: wrong expected version: stream 'account-1' is at version 4"),
            std::string::npos)
      << r.err;

  r = Append("account-1", EventLine("a.B.v1"), {"--expected", "no_stream"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("is at version 4"), std::string::npos) << r.err;

  r = Append("account-2", EventLine("a.B.v1"), {"--expected", "stream_exists"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("stream 'account-2' is at version -1"), std::string::npos) << r.err;

  EXPECT_EQ(ReadAll().size(), 5u);
}

TEST_F(CliTest, AppendMalformedLineExits2AndWritesNothing) {
  CreateEmptyStore();
  RunResult r = Append("account-1", EventLine("a.B.v1") + "{\"type\": \"a.C.v1\", \"data\": {\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("error: standard input line 2: not valid JSON"), std::string::npos) << r.err;
  EXPECT_TRUE(ReadAll().empty());
}

TEST_F(CliTest, AppendBadInputNeverCreatesTheStore) {
  RunResult r = Append("account-1", "not json\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(store_));
}

TEST_F(CliTest, AppendRejectsEveryKindOfBadEventWithExit2) {
  CreateEmptyStore();
  const std::vector<std::string> bad_inputs = {
      "",                                                 // no events
      "\n  \n",                                           // only blank lines
      "[1, 2]\n",                                         // not an object
      "\"text\"\n",                                       // not an object
      R"({"data": {}})",                                  // no type
      R"({"type": 5})",                                   // type not a string
      R"({"type": ""})",                                  // empty type
      R"({"type": "a B.v1"})",                            // whitespace in type
      R"({"type": ")" + std::string(201, 't') + R"("})",  // type too long
      std::string(R"({"type": "a.B.v1", "id": ")") + kId1 + "\"}\n" +
          R"({"type": "a.C.v1", "id": ")" + kId1 + "\"}",          // the same id twice
      R"({"type": "a.B.v1", "id": "not-a-uuid"})",                 // bad id
      R"({"type": "a.B.v1", "id": 42})",                           // id not a string
      R"({"type": "a.B.v1", "metadata": [1]})",                    // metadata not an object
      R"({"type": "a.B.v1", "data": {}, "data_base64": "AA=="})",  // both payload forms
      R"({"type": "a.B.v1", "data_base64": "%%%"})",               // bad base64
      R"({"type": "a.B.v1", "data": {"x": 1},})",                  // trailing comma
      "{\"type\": \"a.B.v1\", \"data\": \"\xff\"}",                // not UTF-8
      R"({"type": "a.B.v1", "data": )" + std::string(5000, '[') + std::string(5000, ']') + "}",
  };
  for (const std::string& input : bad_inputs) {
    // A good line first: one bad line must stop the whole batch.
    const bool blank = input.find_first_not_of(" \n") == std::string::npos;
    RunResult r = Append("account-1", blank ? input : EventLine("a.Fine.v1") + input + "\n");
    EXPECT_EQ(r.exit_code, 2) << "input: " << input << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_TRUE(ReadAll().empty());
}

TEST_F(CliTest, AppendRejectsBadFlagsWithExit2) {
  CreateEmptyStore();
  const std::string line = EventLine("a.B.v1");
  for (const char* expected :
       {"anything", "-2", "1.5", "", " 1", "0x10", "+1", "99999999999999999999"}) {
    RunResult r = Append("account-1", line, {"--expected", expected});
    EXPECT_EQ(r.exit_code, 2) << "--expected '" << expected << "': " << r.err;
  }
  for (const std::string& stream :
       {std::string(), std::string("a\x01z"), std::string(201, 'x'), std::string("bad\xff")}) {
    RunResult r = Append(stream, line);
    EXPECT_EQ(r.exit_code, 2) << "--stream '" << stream << "': " << r.err;
    EXPECT_NE(r.err.find("error: --stream"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Run({"append", "--store", store_}, line).exit_code, 2);  // no --stream
  EXPECT_EQ(Run({"append", "--stream", "s-1"}, line).exit_code, 2);  // no --store
  EXPECT_EQ(Append("s-1", line, {"--bogus"}).exit_code, 2);
  EXPECT_EQ(Append("s-1", line, {"extra-positional"}).exit_code, 2);
  EXPECT_TRUE(ReadAll().empty());
}

TEST_F(CliTest, AppendSameIdsAgainIsIdempotent) {
  const std::string input = EventLine("a.B.v1", {{"x", 1}}, kId1) + EventLine("a.C.v1", {}, kId2);
  RunResult first = Append("order-7", input, {"--expected", "no_stream"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  RunResult again = Append("order-7", input, {"--expected", "no_stream"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out), json::parse(first.out));
  EXPECT_EQ(ReadAll().size(), 2u);
}

TEST_F(CliTest, AppendPartlyRepeatedIdsExits2) {
  ASSERT_EQ(Append("order-7", EventLine("a.B.v1", {}, kId1)).exit_code, 0);
  RunResult r = Append("order-7", EventLine("a.B.v1", {}, kId1) + EventLine("a.C.v1", {}, kId2));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(ReadAll().size(), 1u);
}

TEST_F(CliTest, AppendWithNoSyncIsReadable) {
  RunResult r = Append("fast-1", EventLine("a.B.v1") + EventLine("a.B.v1"), {"--no-sync"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["last_position"], 2);
  EXPECT_EQ(Read("fast-1").size(), 2u);
}

TEST_F(CliTest, AppendWhileAnotherProcessWritesExits1) {
  auto writer = OpenWriter();
  ASSERT_TRUE(writer);
  RunResult r = Append("account-1", EventLine("a.B.v1"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("locked by another writer"), std::string::npos) << r.err;
  EXPECT_EQ(writer->HeadPosition(), 0u);
  writer.reset();
  EXPECT_EQ(Append("account-1", EventLine("a.B.v1")).exit_code, 0);
}

TEST_F(CliTest, AppendIntoSomethingThatIsNotAStoreExits1) {
  std::ofstream(work_ / "file") << "x";
  RunResult r =
      Run({"append", "--store", (work_ / "file").string(), "--stream", "s-1"}, EventLine("a.B.v1"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

// --- what read prints -------------------------------------------------------------------------

TEST_F(CliTest, ReadPrintsEveryFieldOfAnEvent) {
  const std::string input = json({{"type", "bank.Deposited.v1"},
                                  {"id", "8A1F6C3E-2B7D-4C55-9E0A-1F2E3D4C5B6A"},
                                  {"data", {{"amount", 12.5}, {"tags", {"a", "b"}}}},
                                  {"metadata",
                                   {{"correlation_id", "corr-1"},
                                    {"causation_id", "cause-1"},
                                    {"user", "ann"},
                                    {"attempt", 3}}}})
                                .dump() +
                            "\n" + R"({"type": "bank.Noted.v1"})" + "\n" +
                            R"({"type": "bank.Blob.v1", "data_base64": "AAH/"})" + "\n" +
                            R"({"type": "bank.Text.v1", "data": "just text", "metadata": null})" +
                            "\n";
  ASSERT_EQ(Append("account-1", input).exit_code, 0);

  const std::vector<json> events = Read("account-1");
  ASSERT_EQ(events.size(), 4u);
  const json& e = events[0];
  EXPECT_EQ(e["position"], 1);
  EXPECT_EQ(e["stream"], "account-1");
  EXPECT_EQ(e["version"], 0);
  EXPECT_EQ(e["id"], kId1);  // canonical lower case
  EXPECT_EQ(e["type"], "bank.Deposited.v1");
  EXPECT_EQ(e["data"], json({{"amount", 12.5}, {"tags", {"a", "b"}}}));
  EXPECT_EQ(e["metadata"], json({{"correlation_id", "corr-1"},
                                 {"causation_id", "cause-1"},
                                 {"user", "ann"},
                                 {"attempt", "3"}}));
  EXPECT_TRUE(e["recorded_at"].is_number_integer());
  EXPECT_GT(e["recorded_at"].get<std::int64_t>(), 1'600'000'000'000'000);
  EXPECT_EQ(e.size(), 8u);

  EXPECT_EQ(events[1]["data"], json::object());  // data absent: {}
  EXPECT_EQ(events[1]["metadata"], json::object());
  EXPECT_EQ(events[1]["id"].get<std::string>().size(), 36u);  // generated
  EXPECT_EQ(events[2]["data_base64"], "AAH/");                // binary payload
  EXPECT_FALSE(events[2].contains("data"));
  EXPECT_EQ(events[3]["data"], "just text");
}

TEST_F(CliTest, ReadOutputCanBeAppendedToAnotherStore) {
  ASSERT_EQ(Append("s-1", EventLine("a.B.v1", {{"k", 1}}, kId1) +
                              R"({"type": "a.Bin.v1", "data_base64": "3q2+7w=="})" + "\n" +
                              R"({"type": "a.Bin.v1", "data_base64": "AAE="})" + "\n")
                .exit_code,
            0);
  RunResult read = Run({"read", "--store", store_, "--stream", "s-1"});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  const std::string other = (work_ / "other").string();
  RunResult copy = Run({"append", "--store", other, "--stream", "s-1"}, read.out);
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  RunResult reread = Run({"read", "--store", other, "--stream", "s-1"});
  ASSERT_EQ(reread.exit_code, 0);
  std::vector<json> a = ParseLines(read.out), b = ParseLines(reread.out);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i].erase("recorded_at");
    b[i].erase("recorded_at");
    EXPECT_EQ(a[i], b[i]);
  }
}

TEST_F(CliTest, ReadPrintsBadBytesFromOtherWritersSafely) {
  {
    auto writer = OpenWriter();
    ASSERT_TRUE(writer);
    std::vector<EventData> events(2);
    events[0].type = "odd.Type.v1";
    events[0].content_type = ContentType::kJson;
    events[0].payload = "{not json";
    events[0].metadata.extra["key"] = "\xfe";
    events[1].type = "odd.Deep.v1";
    events[1].content_type = ContentType::kJson;
    events[1].payload = std::string(100'000, '[') + std::string(100'000, ']');
    ASSERT_TRUE(writer->Append(*StreamId::Make("odd-1"), ExpectedVersion::Any(), events).ok());
  }
  const std::vector<json> all = ReadAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["data_base64"], "e25vdCBqc29u");      // not JSON after all: base64
  EXPECT_EQ(all[0]["metadata"]["key"], "\xef\xbf\xbd");  // U+FFFD replaces the bad byte
  EXPECT_TRUE(all[1].contains("data_base64"));           // too deep to print as JSON
}

// --- read -------------------------------------------------------------------------------------

TEST_F(CliTest, ReadForwardBackwardFromAndMax) {
  AppendMany("account-1", 5);
  AppendMany("account-2", 2);
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(Versions(Read("account-1")), (V{0, 1, 2, 3, 4}));
  EXPECT_EQ(Versions(Read("account-1", {"--from", "2"})), (V{2, 3, 4}));
  EXPECT_EQ(Versions(Read("account-1", {"--max", "2"})), (V{0, 1}));
  EXPECT_EQ(Versions(Read("account-1", {"--from", "1", "--max", "3"})), (V{1, 2, 3}));
  EXPECT_EQ(Versions(Read("account-1", {"--backward"})), (V{4, 3, 2, 1, 0}));
  EXPECT_EQ(Versions(Read("account-1", {"--backward", "--from", "2"})), (V{2, 1, 0}));
  EXPECT_EQ(Versions(Read("account-1", {"--backward", "--max", "2"})), (V{4, 3}));
  EXPECT_EQ(Versions(Read("account-1", {"--from", "9"})), V{});
  EXPECT_EQ(Versions(Read("account-1", {"--max", "0"})), V{});
  EXPECT_EQ(Versions(Read("account-2")), (V{0, 1}));
  EXPECT_EQ(Positions(Read("account-2")), (std::vector<std::uint64_t>{6, 7}));
}

TEST_F(CliTest, ReadPagesThroughLongStreams) {
  AppendMany("big-1", 2345);
  const std::vector<json> forward = Read("big-1");
  ASSERT_EQ(forward.size(), 2345u);
  for (std::size_t i = 0; i < forward.size(); ++i) {
    ASSERT_EQ(forward[i]["version"], i);
    ASSERT_EQ(forward[i]["data"]["n"], i);
  }
  const std::vector<json> backward = Read("big-1", {"--backward", "--from", "2100"});
  ASSERT_EQ(backward.size(), 2101u);
  for (std::size_t i = 0; i < backward.size(); ++i) ASSERT_EQ(backward[i]["version"], 2100 - i);
  EXPECT_EQ(Read("big-1", {"--from", "500", "--max", "1500"}).size(), 1500u);
}

TEST_F(CliTest, ReadMissingStreamExits1) {
  AppendMany("account-1", 1);
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, {"--backward"}, {"--max", "0"}}) {
    std::vector<std::string> args = {"read", "--store", store_, "--stream", "account-9"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("error: stream 'account-9' does not exist"), std::string::npos) << r.err;
  }
}

TEST_F(CliTest, ReadBadArgumentsExit2) {
  AppendMany("account-1", 1);
  const std::vector<std::vector<std::string>> bad = {
      {"read", "--store", store_},                      // no --stream
      {"read", "--store", store_, "--stream", ""},      // bad stream id
      {"read", "--store", store_, "--stream", "a\nb"},  // bad stream id
      {"read", "--store", store_, "--stream", "account-1", "--from", "-1"},
      {"read", "--store", store_, "--stream", "account-1", "--from", "x"},
      {"read", "--store", store_, "--stream", "account-1", "--max", "-5"},
      {"read", "--store", store_, "--stream", "account-1", "--max", "1e3"},
      {"read", "--store", store_, "--stream", "account-1", "--follow"},
      {"read-all", "--store", store_, "--from", "abc"},
      {"read-all", "--store", store_, "--max", ""},
      {"read-all", "--store", store_, "--backward"},
      {"read-all"},
  };
  for (const auto& args : bad) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  }
}

// --- read-all ---------------------------------------------------------------------------------

TEST_F(CliTest, ReadAllFromAndMax) {
  AppendMany("a-1", 3);
  AppendMany("b-1", 2);
  using P = std::vector<std::uint64_t>;
  const std::vector<json> all = ReadAll();
  EXPECT_EQ(Positions(all), (P{1, 2, 3, 4, 5}));
  EXPECT_EQ(all[3]["stream"], "b-1");
  EXPECT_EQ(all[3]["version"], 0);
  EXPECT_EQ(Positions(ReadAll({"--from", "0"})), (P{1, 2, 3, 4, 5}));
  EXPECT_EQ(Positions(ReadAll({"--from", "3"})), (P{3, 4, 5}));
  EXPECT_EQ(Positions(ReadAll({"--max", "2"})), (P{1, 2}));
  EXPECT_EQ(Positions(ReadAll({"--from", "2", "--max", "2"})), (P{2, 3}));
  EXPECT_EQ(Positions(ReadAll({"--from", "6"})), P{});
  EXPECT_EQ(Positions(ReadAll({"--max", "0"})), P{});
}

TEST_F(CliTest, ReadAllPagesThroughLongLogs) {
  AppendMany("big-1", 2345);
  const std::vector<json> all = ReadAll();
  ASSERT_EQ(all.size(), 2345u);
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i]["position"], i + 1);
  const std::vector<json> part = ReadAll({"--from", "1001", "--max", "1200"});
  ASSERT_EQ(part.size(), 1200u);
  EXPECT_EQ(part.front()["position"], 1001);
  EXPECT_EQ(part.back()["position"], 2200);
}

TEST_F(CliTest, ReadAllOnEmptyStorePrintsNothing) {
  CreateEmptyStore();
  EXPECT_TRUE(ReadAll().empty());
}

TEST_F(CliTest, ReadAllFollowPrintsEventsAppendedLater) {
  AppendMany("a-1", 2);
  auto follow = Start({"read-all", "--store", store_, "--follow"});
  ASSERT_TRUE(follow->WaitForLines(2)) << follow->err();

  ASSERT_EQ(Append("b-1", EventLine("late.Arrived.v1", {{"late", true}})).exit_code, 0);
  ASSERT_TRUE(follow->WaitForLines(3)) << follow->err();

  follow->Signal(SIGINT);
  EXPECT_EQ(follow->Wait(), 0) << follow->err();
  const std::vector<json> lines = ParseLines(follow->out());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Positions(lines), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(lines[2]["type"], "late.Arrived.v1");
  EXPECT_EQ(lines[2]["data"], json({{"late", true}}));
}

TEST_F(CliTest, ReadAllFollowTracksALiveWriterAndStopsOnSigterm) {
  auto writer = OpenWriter();
  ASSERT_TRUE(writer);
  const StreamId stream = *StreamId::Make("live-1");
  ASSERT_TRUE(writer->Append(stream, ExpectedVersion::Any(), Events(3)).ok());

  auto follow = Start({"read-all", "--store", store_, "--follow", "--from", "2"});
  ASSERT_TRUE(follow->WaitForLines(2)) << follow->err();
  ASSERT_TRUE(writer->Append(stream, ExpectedVersion::Any(), Events(2)).ok());
  ASSERT_TRUE(follow->WaitForLines(4)) << follow->err();

  follow->Signal(SIGTERM);
  EXPECT_EQ(follow->Wait(), 0) << follow->err();
  EXPECT_EQ(Positions(ParseLines(follow->out())), (std::vector<std::uint64_t>{2, 3, 4, 5}));
}

TEST_F(CliTest, ReadAllFollowWithMaxExitsOnItsOwn) {
  AppendMany("a-1", 1);
  auto follow = Start({"read-all", "--store", store_, "--follow", "--max", "2"});
  ASSERT_TRUE(follow->WaitForLines(1)) << follow->err();
  ASSERT_EQ(Append("a-1", EventLine("a.B.v1") + EventLine("a.B.v1")).exit_code, 0);
  EXPECT_EQ(follow->Wait(), 0) << follow->err();
  EXPECT_EQ(Positions(ParseLines(follow->out())), (std::vector<std::uint64_t>{1, 2}));
}

// --- reading while another process writes -----------------------------------------------------

TEST_F(CliTest, ReadCommandsWorkWhileAnotherProcessWrites) {
  auto writer = OpenWriter();
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->Append(*StreamId::Make("held-1"), ExpectedVersion::Any(), Events(3)).ok());

  EXPECT_EQ(Versions(Read("held-1")), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(ReadAll().size(), 3u);
  RunResult streams = Run({"streams", "--store", store_});
  EXPECT_EQ(streams.exit_code, 0) << streams.err;
  EXPECT_EQ(json::parse(streams.out)["streams"],
            json::parse(R"([{"stream": "held-1", "version": 2}])"));
  RunResult stats = Run({"stats", "--store", store_});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(json::parse(stats.out)["event_count"], 3);
  RunResult check = Run({"check", "--store", store_});
  EXPECT_EQ(check.exit_code, 0) << check.err;

  // A later append by the writer is seen by the next read.
  ASSERT_TRUE(writer->Append(*StreamId::Make("held-1"), ExpectedVersion::Any(), Events(1)).ok());
  EXPECT_EQ(Read("held-1").size(), 4u);
}

TEST_F(CliTest, ReadCommandsOnMissingStoreExit1AndCreateNothing) {
  const std::vector<std::vector<std::string>> commands = {
      {"read", "--store", store_, "--stream", "s-1"},
      {"read-all", "--store", store_},
      {"read-all", "--store", store_, "--follow"},
      {"streams", "--store", store_},
      {"stats", "--store", store_},
      {"check", "--store", store_},
  };
  for (const auto& args : commands) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("error: no store at"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(store_));
  }
}

TEST_F(CliTest, ReadCommandsOnAFolderWithoutAStoreExit1) {
  std::filesystem::create_directories(store_);
  for (const std::string command : {"read-all", "streams", "stats", "check"}) {
    RunResult r = Run({command, "--store", store_});
    EXPECT_EQ(r.exit_code, 1) << command << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  }
}

// --- streams, stats, check --------------------------------------------------------------------

TEST_F(CliTest, StreamsListsNamesAndVersionsInNameOrder) {
  CreateEmptyStore();
  RunResult empty = Run({"streams", "--store", store_});
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(json::parse(empty.out), json::parse(R"({"streams": []})"));

  AppendMany("order-2", 3);
  AppendMany("account-10", 1);
  AppendMany("account-9", 2);
  RunResult r = Run({"streams", "--store", store_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), json::parse(R"({"streams": [
      {"stream": "account-10", "version": 0},
      {"stream": "account-9", "version": 1},
      {"stream": "order-2", "version": 2}]})"));
}

TEST_F(CliTest, StreamsPagesThroughManyStreams) {
  {
    auto writer = OpenWriter();
    ASSERT_TRUE(writer);
    AppendOptions unsynced;
    unsynced.sync = false;
    for (int i = 0; i < 2100; ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "s-%05d", i);
      ASSERT_TRUE(
          writer->Append(*StreamId::Make(name), ExpectedVersion::Any(), Events(1), unsynced).ok());
    }
  }
  RunResult r = Run({"streams", "--store", store_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json streams = json::parse(r.out)["streams"];
  ASSERT_EQ(streams.size(), 2100u);
  for (int i = 0; i < 2100; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "s-%05d", i);
    ASSERT_EQ(streams[i]["stream"], name);
    ASSERT_EQ(streams[i]["version"], 0);
  }
}

TEST_F(CliTest, StatsCountsStreamsAndEvents) {
  AppendMany("a-1", 3);
  AppendMany("b-1", 4);
  RunResult r = Run({"stats", "--store", store_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json stats = json::parse(r.out);
  EXPECT_EQ(stats["head_position"], 7);
  EXPECT_EQ(stats["stream_count"], 2);
  EXPECT_EQ(stats["event_count"], 7);
  EXPECT_GT(stats["bytes_on_disk"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(stats.size(), 4u);
}

TEST_F(CliTest, CheckOnSoundStoreExits0) {
  AppendMany("a-1", 3);
  AppendMany("b-1", 2);
  RunResult r = Run({"check", "--store", store_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), json::parse(R"({"ok": true, "head_position": 5,
      "events_checked": 5, "streams_checked": 2, "problems": []})"));
}

TEST_F(CliTest, CheckOnDamagedStoreExits1AndListsProblems) {
  AppendMany("a-1", 5);
  {
    // Garble the record at position 3 (layout in docs/storage-format.md: column family "log",
    // key = big-endian position).
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), store_, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), store_, descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    bool damaged = false;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] != "log") continue;
      const std::string key("\0\0\0\0\0\0\0\x03", 8);
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[i], key, "\x01garbage").ok());
      damaged = true;
    }
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(damaged) << "no column family named log";
  }
  RunResult r = Run({"check", "--store", store_});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const json report = json::parse(r.out);
  EXPECT_EQ(report["ok"], false);
  ASSERT_TRUE(report["problems"].is_array());
  EXPECT_FALSE(report["problems"].empty());
  EXPECT_NE(r.err.find("error: "), std::string::npos);

  RunResult read = Run({"read-all", "--store", store_});
  EXPECT_EQ(read.exit_code, 1);
  EXPECT_NE(read.err.find("position 3"), std::string::npos) << read.err;
}

// --- usage ------------------------------------------------------------------------------------

TEST_F(CliTest, UsageErrorsExit2) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"bogus"},
      {"bogus", "--store", store_},
      {"--bogus"},
      {"streams"},
      {"stats", "--store"},
      {"check", "--store", store_, "--store", store_},
      {"streams", "--store", store_, "positional"},
  };
  for (const auto& args : bad) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "(no arguments)" : args[0]) << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  }
  EXPECT_NE(Run({"bogus"}).err.find("unknown command 'bogus'"), std::string::npos);
}

TEST_F(CliTest, HelpExits0) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"},
                                               {"-h"},
                                               {"append", "--help"},
                                               {"read", "--help"},
                                               {"read-all", "--help"},
                                               {"streams", "--help"},
                                               {"stats", "--help"},
                                               {"check", "--help"}}) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("--"), std::string::npos) << r.out;
  }
  EXPECT_NE(Run({"read", "--help"}).out.find("does not exist is an error"), std::string::npos);
}

}  // namespace
}  // namespace sluice
