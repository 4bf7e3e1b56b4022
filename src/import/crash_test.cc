// Exactly once in effect through kill -9: a child process (this test binary, filtered to
// ImportCrashChild.Run) imports a 2-shard kinesalite stream of 100,000 events and is killed with
// SIGKILL at 20 random instants (seeded); then the import is finished in-process on the same
// data directory. The profiles and the committed (profile, segment, event) triggers must equal
// those of an uninterrupted run. Event-time fields make the profiles' times match. The children
// checkpoint the engine every 150 ms, so kills land before, during and after checkpoints and
// every restart re-runs a command log.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "import/checkpoint.h"
#include "import/import_test_util.h"
#include "kinesis/kinesis_error.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_test_env.h"
#include "tests/support/self_child.h"

namespace shoal::import {
namespace {

using shoal::test::KinesisEmulator;
using shoal::test::KinesisTestClient;
using namespace shoal::import::testing;
using namespace std::chrono_literals;

constexpr const char* kChildEnv = "SHOAL_IMPORT_CRASH_CHILD";
constexpr const char* kJob = "crash-job";

ConsumerOptions crash_options(const std::string& stream, std::string worker_id) {
  ConsumerOptions o;
  o.job_id = kJob;
  o.target_stream = "events";
  o.stream = kinesis::StreamRef::by_name(stream);
  o.decode.timestamp_field = "ts";
  o.worker_id = std::move(worker_id);
  o.failover_time = 1000ms;
  o.min_poll_interval = 200ms;
  o.max_idle_interval = 400ms;
  o.tick = 20ms;
  o.get_records_limit = 500;  // many pages, so that kills land between and inside them
  return o;
}

// Runs one consumer on `bed` until every shard's checkpoint reaches `ends` (bounded).
bool run_until_caught_up(EngineBed& bed, const std::string& endpoint, const std::string& stream,
                         const std::map<std::string, std::string>& ends) {
  KinesisTestClient k(endpoint);
  RocksDbLeaseStore leases(*bed.store, kJob);
  auto worker_id = load_or_create_worker_id(*bed.store);
  EXPECT_TRUE(worker_id.ok());
  Consumer consumer(crash_options(stream, *worker_id), k.client, leases, *bed.store, *bed.partition,
                    bed.clock,
                    [](std::string message) { ADD_FAILURE() << "import failed: " << message; });
  EXPECT_TRUE(consumer.start().ok());
  bool caught_up = wait_for(
      [&] {
        for (const auto& [shard, last] : ends) {
          auto cp = read_checkpoint(*bed.store, kJob, shard);
          if (!cp.ok() || !cp->has_value()) return false;
          if (kinesis::compare_sequence_numbers((*cp)->sequence_number, last) !=
              std::strong_ordering::equal) {
            return false;
          }
        }
        return true;
      },
      180s);
  consumer.stop();
  return caught_up;
}

struct Outcome {
  std::map<std::string, std::vector<std::int64_t>> profiles;
  // user -> (segment slug, enter/exit) in trigger order
  std::map<std::string, std::vector<std::string>> triggers;
  std::size_t trigger_count = 0;
};

Outcome read_outcome(EngineBed& bed, const std::vector<std::string>& users) {
  Outcome out;
  out.profiles = bed.profiles(users);
  auto triggers = on_engine<std::vector<engine::Trigger>>(*bed.partition, [](engine::Engine& e) {
    auto read = e.read_outbox(0, 1'000'000);
    EXPECT_TRUE(read.ok());
    return read.ok() ? *read : std::vector<engine::Trigger>{};
  });
  out.trigger_count = triggers.size();
  for (const engine::Trigger& t : triggers) {
    std::string user;
    for (const model::Identity& id : t.identities()) {
      if (id.field == "user_id" && id.values.is_list() && !id.values.as_list().empty()) {
        user = id.values.as_list().front().as_string();
      }
    }
    out.triggers[user].push_back(t.slug() + ":" + std::string(engine::trigger_event_name(t.event)));
  }
  return out;
}

TEST(ImportCrashChild, Run) {
  const char* env = std::getenv(kChildEnv);
  if (env == nullptr) GTEST_SKIP() << "runs only as ImportCrashTest's child process";
  std::string spec = env;  // <dir>|<endpoint>|<stream>
  std::size_t a = spec.find('|'), b = spec.rfind('|');
  std::string dir = spec.substr(0, a), endpoint = spec.substr(a + 1, b - a - 1),
              stream = spec.substr(b + 1);
  engine::PartitionOptions partition_options;
  partition_options.checkpoint_interval = 150ms;
  EngineBed bed(dir, true, partition_options);
  {
    // The parent sums these: each restart re-ran the log written after the last checkpoint.
    std::ofstream replayed(dir + ".replayed", std::ios::app);
    replayed << bed.partition->stats().engine.log_records_replayed << "\n";
  }
  KinesisTestClient k(endpoint);
  RocksDbLeaseStore leases(*bed.store, kJob);
  auto worker_id = load_or_create_worker_id(*bed.store);
  ASSERT_TRUE(worker_id.ok());
  Consumer consumer(crash_options(stream, *worker_id), k.client, leases, *bed.store, *bed.partition,
                    bed.clock, [](std::string) {});
  ASSERT_TRUE(consumer.start().ok());
  std::this_thread::sleep_for(60s);  // the parent kills us long before
}

TEST(ImportCrashTest, KillNineAtRandomInstantsThenRestartMatchesAnUninterruptedRun) {
  if (std::string reason = KinesisEmulator::unavailable_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  KinesisEmulator emulator;
  ASSERT_TRUE(emulator.start().ok());
  KinesisTestClient k(emulator.endpoint());
  std::string stream = test::unique_stream_name("crash");
  ASSERT_TRUE(k.client.create_stream({stream, 2, false}).ok());
  std::this_thread::sleep_for(100ms);

  const int users = 1000, per_user = 100;  // 100,000 events
  std::vector<std::string> names;
  for (int u = 0; u < users; ++u) names.push_back("cu" + std::to_string(u));
  std::map<std::string, std::string> ends;  // shard -> last sequence number
  for (int n = 1; n <= per_user; ++n) {
    std::vector<std::string> data;
    for (const std::string& user : names) {
      data.push_back("{\"user_id\":\"" + user + "\",\"n\":" + std::to_string(n) +
                     ",\"ts\":" + std::to_string(1'700'000'000'000 + n * 1000) + "}");
    }
    for (int first = 0; first < users; first += 500) {  // PutRecords takes <= 500
      std::vector<kinesis::PutRecordsEntry> entries;
      for (int u = first; u < std::min(users, first + 500); ++u) {
        entries.push_back({data[u], names[u], {}});
      }
      auto put = k.client.put_records(kinesis::StreamRef::by_name(stream), entries);
      ASSERT_TRUE(put.ok()) << put.error().to_string();
      ASSERT_EQ(put->failed_record_count, 0);
      for (const auto& r : put->records) {
        auto& last = ends[r.shard_id];
        if (last.empty() || kinesis::compare_sequence_numbers(r.sequence_number, last) ==
                                std::strong_ordering::greater) {
          last = r.sequence_number;
        }
      }
    }
  }
  ASSERT_EQ(ends.size(), 2u);

  EngineBed reference("crash_reference");
  ASSERT_TRUE(run_until_caught_up(reference, emulator.endpoint(), stream, ends));
  Outcome expected = read_outcome(reference, names);
  ASSERT_EQ(expected.profiles.size(), names.size());
  ASSERT_GT(expected.trigger_count, 0u);

  auto dir = std::filesystem::temp_directory_path() /
             ("shoal_import_" + std::to_string(::getpid()) + "_crash_killed");
  std::filesystem::remove_all(dir);
  const std::string replayed_path = dir.string() + ".replayed";
  std::filesystem::remove(replayed_path);
  std::mt19937 random(20261123);
  std::uniform_int_distribution<int> delay_ms(150, 1200);
  const std::string child_env = dir.string() + "|" + emulator.endpoint() + "|" + stream;
  const int kills = 20;
  for (int i = 0; i < kills; ++i) {
    pid_t pid = test::start_self_as_child("ImportCrashChild.Run", kChildEnv, child_env);
    ASSERT_GE(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended by itself (status " << status << ")";
  }
  EngineBed killed(dir, true);  // reopens what the killed children committed
  // Some progress was made by the killed children (otherwise the test shows nothing).
  std::size_t committed_before = 0;
  for (const auto& [shard, last] : ends) {
    auto cp = read_checkpoint(*killed.store, kJob, shard);
    if (cp.ok() && cp->has_value()) ++committed_before;
  }
  EXPECT_GT(committed_before, 0u);
  // The children checkpointed (some kills then landed after one), and restarts re-ran the
  // command log written after the last one: some restart did (the last one may find none when
  // its predecessor had caught up and checkpointed everything before it was killed).
  auto checkpoint = killed.store->get(storage::meta_key("checkpoint"));
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_TRUE(checkpoint->has_value());
  std::uint64_t replayed = killed.partition->stats().engine.log_records_replayed;
  int restarts = 0;
  {
    std::ifstream in(replayed_path);
    for (std::uint64_t n = 0; in >> n; ++restarts) replayed += n;
  }
  EXPECT_GE(restarts, kills / 2) << "children that opened the store before being killed";
  EXPECT_GT(replayed, 0u) << "no restart re-ran a command log";
  ASSERT_TRUE(run_until_caught_up(killed, emulator.endpoint(), stream, ends));
  Outcome actual = read_outcome(killed, names);
  EXPECT_EQ(actual.profiles, expected.profiles);
  EXPECT_EQ(actual.trigger_count, expected.trigger_count);
  EXPECT_EQ(actual.triggers, expected.triggers);
  for (const auto& [user, values] : actual.profiles) {
    ASSERT_EQ(values.size(), 3u);
    EXPECT_EQ(values[0], per_user) << user;
  }
  killed.close();
  std::filesystem::remove_all(dir);
  std::filesystem::remove(replayed_path);
}

}  // namespace
}  // namespace shoal::import
