// kill -9 during delivery: a child process (this test binary, re-executed with a filter) runs a
// store, the engine and the exporter with a subscription to kinesalite behind the fault proxy
// (throttled so delivery takes seconds), commits 2,000 profile changes that each enter the
// audience, and is killed with SIGKILL while its deliverer is sending. The parent reopens the
// same data directory in-process: every trigger whose change was committed arrives at least
// once, every copy of a profile's message has the same id, and the duplicates are at most the
// one call that was in flight. Bounded waits only.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "export/exporter.h"
#include "model/json.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_fault_proxy.h"
#include "tests/support/kinesis_test_env.h"
#include "tests/support/self_child.h"

namespace shoal::exports {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr const char* kChildEnv = "SHOAL_EXPORT_CRASH_CHILD";
constexpr int kEvents = 2000;
constexpr std::size_t kBatchRecords = 100;

// A node: store, exporter, partition, as `shoal serve` wires them.
struct Bed {
  WallClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<Exporter> exporter;
  std::unique_ptr<engine::Partition> partition;

  Status open(const std::string& dir) {
    SHOAL_ASSIGN_OR_RETURN(store, storage::Store::open(dir, {}));
    exporter = std::make_unique<Exporter>(
        *store, clock, [this](const Subscription& s) -> Result<std::unique_ptr<Sink>> {
          return std::unique_ptr<Sink>(
              new KinesisSink(s, std::make_unique<test::FixedCredentialsProvider>(), clock));
        });
    SHOAL_RETURN_IF_ERROR(exporter->load());
    engine::EngineOptions engine_options;
    engine_options.synchronous_segment_builds = false;
    engine_options.commit_observer = exporter->commit_observer();
    partition = std::make_unique<engine::Partition>(*store, engine_options, clock,
                                                    engine::PartitionOptions{},
                                                    exporter->trigger_sink());
    SHOAL_RETURN_IF_ERROR(partition->start());
    exporter->start(*partition);
    return ok_status();
  }
  ~Bed() {
    if (exporter) exporter->stop();
    if (partition) partition->stop();
  }
  Status run(std::function<Status(engine::Engine&)> work) {
    auto result = std::make_shared<Status>();
    auto done = std::make_shared<std::promise<Status>>();
    auto future = done->get_future();
    SHOAL_RETURN_IF_ERROR(partition->submit(
        [result, work](engine::Engine& e) { *result = work(e); },
        [result, done](const Status& committed) {
          done->set_value(committed.ok() ? *result : committed);
        }));
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      return make_error(ErrorCode::kTimeout, "no commit within 30 s");
    }
    return future.get();
  }
};

TEST(ExportCrashChild, Run) {
  const char* env = std::getenv(kChildEnv);
  if (env == nullptr) GTEST_SKIP() << "runs only as ExportCrashTest's child process";
  std::string spec = env;  // <dir>|<endpoint>|<stream>
  std::size_t a = spec.find('|'), b = spec.rfind('|');
  std::string dir = spec.substr(0, a), endpoint = spec.substr(a + 1, b - a - 1),
              stream = spec.substr(b + 1);
  Bed bed;
  ASSERT_TRUE(bed.open(dir).ok());
  ASSERT_TRUE(bed.run([](engine::Engine& e) -> Status {
                   auto m = e.set_mapping("SELECT user_id, plan FROM events INTO user BY user_id");
                   if (!m.ok()) return m.take_error();
                   for (const auto& o :
                        e.register_segments({"FILTER plan == \"pro\" ALIAS pro"}).outcomes) {
                     if (!o.result.ok()) return o.result.error();
                   }
                   return ok_status();
                 }).ok());
  Subscription s;
  s.name = "crash";
  s.stream = stream;
  s.region = "us-east-1";
  s.endpoint = endpoint;
  s.identifier_field = "user_id";
  s.segment_ids = {"pro"};
  s.delivery.max_batch_records = kBatchRecords;
  s.delivery.linger_ms = 5;
  s.delivery.backoff_base_ms = 20;
  s.delivery.backoff_max_ms = 200;
  ASSERT_TRUE(bed.exporter->create_and_wait(s).ok());
  for (int first = 0; first < kEvents; first += 100) {
    ASSERT_TRUE(bed.run([first](engine::Engine& e) -> Status {
                     model::JsonParser parser;
                     for (int i = first; i < first + 100; ++i) {
                       auto v = parser.parse("{\"user_id\":\"c" + std::to_string(i) +
                                             "\",\"plan\":\"pro\"}");
                       if (!v.ok()) return v.take_error();
                       e.apply_event("events", *v, e.now());
                     }
                     return ok_status();
                   }).ok());
  }
  std::this_thread::sleep_for(std::chrono::seconds(60));  // the parent kills us long before
  std::_Exit(3);  // never stop cleanly: this run exists to be killed
}

TEST(ExportCrashTest, Kill9DuringDeliveryThenRestartDeliversEveryTriggerWithItsId) {
  if (std::string reason = test::KinesisEmulator::unavailable_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  test::KinesisEmulator emulator;
  ASSERT_TRUE(emulator.start().ok());
  WallClock wall;
  test::KinesisFaultProxy proxy(emulator.endpoint(), wall);
  // 2 shards x 300 records/s: 2,000 messages take several seconds to deliver.
  proxy.set_throttle(test::ShardThrottle{300, 1 << 20, 0.2});
  ASSERT_TRUE(proxy.start().ok());
  test::KinesisTestClient direct(emulator.endpoint());
  std::string stream = test::unique_stream_name("export-crash");
  ASSERT_TRUE(direct.client.create_stream({stream, 2, false}).ok());
  for (int i = 0; i < 200; ++i) {
    auto summary = direct.client.describe_stream_summary(kinesis::StreamRef::by_name(stream));
    if (summary.ok() && summary->stream_status == "ACTIVE") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }

  fs::path dir = fs::temp_directory_path() / ("shoal_export_crash_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string child_env = dir.string() + "|" + proxy.endpoint() + "|" + stream;
  pid_t pid = test::start_self_as_child("ExportCrashChild.Run", kChildEnv, child_env);
  ASSERT_GE(pid, 0);
  // Kill once a fifth of the messages were accepted: delivery is under way.
  for (int i = 0; i < 3000 && proxy.counters().entries_accepted < kEvents / 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended by itself (status " << status << ")";
  const std::uint64_t accepted_before_kill = proxy.counters().entries_accepted;
  EXPECT_GE(accepted_before_kill, static_cast<std::uint64_t>(kEvents / 5));
  EXPECT_LT(accepted_before_kill, static_cast<std::uint64_t>(kEvents))
      << "the kill came after delivery ended";

  // Restart on the same directory: the committed changes are those whose profile exists.
  Bed bed;
  ASSERT_TRUE(bed.open(dir.string()).ok());
  std::set<std::string> committed;
  ASSERT_TRUE(bed.run([&committed](engine::Engine& e) -> Status {
                   for (int i = 0; i < kEvents; ++i) {
                     std::string user = "c" + std::to_string(i);
                     auto profile = e.find_profile("user_id", user);
                     if (profile.ok() && profile.value()) committed.insert(user);
                   }
                   return ok_status();
                 }).ok());
  ASSERT_FALSE(committed.empty());

  // Read the stream until every committed user's message is there (bounded).
  std::map<std::string, std::vector<std::string>> ids_by_user;
  std::size_t records = 0;
  for (int attempt = 0; attempt < 300; ++attempt) {
    ids_by_user.clear();
    records = 0;
    kinesis::ListShardsRequest list;
    list.stream = kinesis::StreamRef::by_name(stream);
    auto shards = direct.client.list_shards(list);
    ASSERT_TRUE(shards.ok());
    for (const kinesis::Shard& shard : *shards) {
      kinesis::GetShardIteratorRequest from_start;
      from_start.stream = kinesis::StreamRef::by_name(stream);
      from_start.shard_id = shard.shard_id;
      auto iterator = direct.client.get_shard_iterator(from_start);
      ASSERT_TRUE(iterator.ok());
      std::string it = *iterator;
      for (int pages = 0; pages < 50; ++pages) {
        auto got = direct.client.get_records(it, 10000);
        if (!got.ok()) break;
        for (const kinesis::Record& r : got->records) {
          json::value message = json::parse(r.data);
          ids_by_user[r.partition_key].push_back(std::string(message.at("id").as_string()));
          ++records;
        }
        if (got->records.empty() || !got->next_shard_iterator) break;
        it = *got->next_shard_iterator;
      }
    }
    if (ids_by_user.size() >= committed.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const std::string& user : committed) {
    auto found = ids_by_user.find(user);
    ASSERT_NE(found, ids_by_user.end()) << user << "'s trigger never arrived";
    for (const std::string& id : found->second) {
      EXPECT_EQ(id, found->second.front()) << user << " got two different messages";
    }
  }
  EXPECT_EQ(ids_by_user.size(), committed.size());  // nothing uncommitted was sent
  const std::size_t duplicates = records - ids_by_user.size();
  std::printf("accepted before the kill: %llu; committed: %zu; records after restart: %zu "
              "(%zu duplicates)\n",
              static_cast<unsigned long long>(accepted_before_kill), committed.size(), records,
              duplicates);
  EXPECT_LE(duplicates, kBatchRecords) << "more duplicates than the one call in flight";
  bed.exporter->stop();  // before the proxy and the emulator go away
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shoal::exports
