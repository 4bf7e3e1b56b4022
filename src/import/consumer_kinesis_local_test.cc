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

// The options both tests share; each sets its timings.
ConsumerOptions consumer_options(const std::string& job, kinesis::StreamRef stream) {
  ConsumerOptions o;
  o.job_id = job;
  o.target_stream = "events";
  o.stream = std::move(stream);
  o.worker_id = "worker-" + job;
  o.tick = 20ms;
  return o;
}

// Keeps the consumer's fatal message (written by its threads).
struct FailureRecorder {
  Consumer::FatalHandler handler() {
    return [this](std::string message) {
      std::lock_guard lock(mutex);
      failure = std::move(message);
    };
  }
  std::string get() {
    std::lock_guard lock(mutex);
    return failure;
  }
  std::mutex mutex;
  std::string failure;
};

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
  ConsumerOptions o = consumer_options("job-local", stream);
  o.failover_time = 2000ms;
  o.discovery_interval = 60s;  // children are found through the end of their parents
  o.max_idle_interval = 400ms;
  FailureRecorder failure;
  Consumer consumer(o, k.client, leases, *bed.store, *bed.partition, bed.clock,
                    failure.handler());
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
  ASSERT_TRUE(counts_reach(2)) << failure.get();
  auto scaled = k.client.call(
      "UpdateShardCount",
      "{\"StreamARN\":\"" + arn + "\",\"TargetShardCount\":4,\"ScalingType\":\"UNIFORM_SCALING\"}");
  ASSERT_TRUE(scaled.ok()) << scaled.error().to_string();
  put_round();
  put_round();
  ASSERT_TRUE(counts_reach(4)) << failure.get();
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
  EXPECT_EQ(failure.get(), "");
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
  ConsumerOptions o = consumer_options("job-region", kinesis::StreamRef::by_name("resharded"));
  o.error_backoff = 50ms;
  o.max_backoff = 200ms;
  o.error_after = 500ms;
  FailureRecorder failure;
  Consumer consumer(o, wrong.client, leases, *bed.store, *bed.partition, bed.clock,
                    failure.handler());
  ASSERT_TRUE(consumer.start().ok());
  ASSERT_TRUE(wait_for([&] { return !failure.get().empty(); }, 20s));
  consumer.stop();
  std::string message = failure.get();
  EXPECT_NE(message.find("stream 'resharded' was not found in region eu-west-1"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("region"), std::string::npos) << message;
}

}  // namespace
}  // namespace shoal::import
