// The Consumer against kinesis-local (kinesis-mock) for what kinesalite lacks: UpdateShardCount
// while importing, ChildShards at a shard's end, and a stream given by ARN. kinesis-local is
// slow (< 1,000 records/s): the data stays tiny. Skipped with a message without node_modules.
#include <gtest/gtest.h>

#include "import/import_job.h"
#include "import/import_test_util.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::import {
namespace {

using shoal::test::EmulatorKind;
using shoal::test::KinesisEmulator;
using shoal::test::KinesisEmulatorOptions;
using shoal::test::KinesisTestClient;
using namespace shoal::import::testing;
using namespace std::chrono_literals;

KinesisEmulatorOptions local_options() {
  KinesisEmulatorOptions o;
  o.kind = EmulatorKind::kKinesisLocal;
  o.account_id = "123456789012";
  o.initialize_streams = "resharded:2";
  return o;
}

TEST(ImportKinesisLocalTest, UpdateShardCountWhileImportingLosesNothingAndKeepsPerKeyOrder) {
  if (std::string reason = KinesisEmulator::unavailable_reason(local_options()); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  KinesisEmulator emulator(local_options());
  ASSERT_TRUE(emulator.start().ok()) << emulator.output();
  KinesisTestClient k(emulator.endpoint());
  const std::string arn = "arn:aws:kinesis:us-east-1:123456789012:stream/resharded";
  kinesis::StreamRef stream = kinesis::StreamRef::by_arn(arn);
  const int users = 12;
  std::vector<std::string> names;
  for (int u = 0; u < users; ++u) names.push_back("k" + std::to_string(u));
  int n = 0;
  auto put_round = [&] {
    ++n;
    std::vector<std::string> data;
    for (const std::string& user : names) {
      data.push_back("{\"user_id\":\"" + user + "\",\"n\":" + std::to_string(n) + "}");
    }
    std::vector<kinesis::PutRecordsEntry> entries;
    for (int u = 0; u < users; ++u) entries.push_back({data[u], names[u], {}});
    auto put = k.client.put_records(stream, entries);
    ASSERT_TRUE(put.ok()) << put.error().to_string();
    ASSERT_EQ(put->failed_record_count, 0);
  };

  EngineBed bed("kinesis_local");
  RocksDbLeaseStore leases(*bed.store, "job-local");
  ConsumerOptions o;
  o.job_id = "job-local";
  o.target_stream = "events";
  o.stream = stream;
  o.worker_id = "worker-local";
  o.failover_time = 2000ms;
  o.discovery_interval = 60s;  // children are found through the end of their parents
  o.max_idle_interval = 400ms;
  o.tick = 20ms;
  std::string failure;
  std::mutex failure_mutex;
  Consumer consumer(o, k.client, leases, *bed.store, *bed.partition, bed.clock,
                    [&](std::string message) {
                      std::lock_guard lock(failure_mutex);
                      failure = message;
                    });
  ASSERT_TRUE(consumer.start().ok());
  auto counts_reach = [&](std::int64_t events) {
    return wait_for(
        [&] {
          auto profiles = bed.profiles(names);
          if (profiles.size() != names.size()) return false;
          for (auto& [user, values] : profiles) {
            if (values[0] < events) return false;
          }
          return true;
        },
        40s);
  };
  put_round();
  put_round();
  ASSERT_TRUE(counts_reach(2)) << failure;
  auto scaled = k.client.call(
      "UpdateShardCount",
      "{\"StreamARN\":\"" + arn + "\",\"TargetShardCount\":4,\"ScalingType\":\"UNIFORM_SCALING\"}");
  ASSERT_TRUE(scaled.ok()) << scaled.error().to_string();
  put_round();
  put_round();
  ASSERT_TRUE(counts_reach(4)) << failure;
  std::this_thread::sleep_for(500ms);
  auto profiles = bed.profiles(names);
  for (auto& [user, values] : profiles) {
    EXPECT_EQ(values[0], 4) << user;
    EXPECT_EQ(values[1], 10) << user;
    EXPECT_EQ(values[2], 4) << user << " (per-key order)";
  }
  ImportCounters c = consumer.counters();
  EXPECT_GE(c.shards_finished, 2u);  // both original shards were read to their end
  EXPECT_EQ(c.events_applied, static_cast<std::uint64_t>(users * 4));
  consumer.stop();
  std::lock_guard lock(failure_mutex);
  EXPECT_EQ(failure, "");
}

// kinesis-local keeps streams per region, as Kinesis does: a job signed for another region than
// its stream's gets "not found", and the job error must name the region it looked in.
TEST(ImportKinesisLocalTest, AWrongRegionIsAJobErrorNamingTheRegion) {
  if (std::string reason = KinesisEmulator::unavailable_reason(local_options()); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  KinesisEmulator emulator(local_options());
  ASSERT_TRUE(emulator.start().ok()) << emulator.output();
  KinesisTestClient right(emulator.endpoint(), "us-east-1");
  kinesis::ListShardsRequest list;
  list.stream = kinesis::StreamRef::by_name("resharded");
  ASSERT_TRUE(right.client.list_shards(list).ok()) << "the stream exists in us-east-1";
  KinesisTestClient wrong(emulator.endpoint(), "eu-west-1");

  EngineBed bed("kinesis_local_region");
  RocksDbLeaseStore leases(*bed.store, "job-region");
  ConsumerOptions o;
  o.job_id = "job-region";
  o.target_stream = "events";
  o.stream = kinesis::StreamRef::by_name("resharded");
  o.worker_id = "worker-region";
  o.error_backoff = 50ms;
  o.max_backoff = 200ms;
  o.error_after = 500ms;
  o.tick = 20ms;
  std::string failure;
  std::mutex failure_mutex;
  Consumer consumer(o, wrong.client, leases, *bed.store, *bed.partition, bed.clock,
                    [&](std::string message) {
                      std::lock_guard lock(failure_mutex);
                      failure = message;
                    });
  ASSERT_TRUE(consumer.start().ok());
  ASSERT_TRUE(wait_for(
      [&] {
        std::lock_guard lock(failure_mutex);
        return !failure.empty();
      },
      20s));
  consumer.stop();
  std::lock_guard lock(failure_mutex);
  EXPECT_NE(failure.find("stream 'resharded' was not found in region eu-west-1"), std::string::npos)
      << failure;
  EXPECT_NE(failure.find("region"), std::string::npos) << failure;
}

}  // namespace
}  // namespace shoal::import
