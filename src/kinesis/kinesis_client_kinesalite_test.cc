// KinesisClient against real emulators: kinesalite for every operation, kinesis-local for what
// kinesalite lacks (StreamARN, ShardFilter, ChildShards). Skipped with a message when node or
// node_modules are missing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <thread>

#include "kinesis/kinesis_client.h"
#include "kinesis/kinesis_error.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::kinesis {
namespace {

using shoal::test::EmulatorKind;
using shoal::test::KinesisEmulator;
using shoal::test::KinesisEmulatorOptions;
using shoal::test::KinesisTestClient;
using shoal::test::unique_stream_name;

// Polls DescribeStreamSummary until ACTIVE (bounded: 200 tries, 25 ms apart).
Status wait_until_active(KinesisClient& client, const StreamRef& stream) {
  for (int i = 0; i < 200; ++i) {
    auto summary = client.describe_stream_summary(stream);
    if (summary.ok() && summary->stream_status == "ACTIVE") return ok_status();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return make_error(ErrorCode::kTimeout, "stream did not become ACTIVE");
}

// Every record of a shard from `type` until a page comes back empty (bounded: 50 pages).
std::vector<Record> read_shard(KinesisClient& client, const GetShardIteratorRequest& request) {
  std::vector<Record> records;
  auto iterator = client.get_shard_iterator(request);
  EXPECT_TRUE(iterator.ok()) << iterator.error().to_string();
  if (!iterator.ok()) return records;
  std::optional<std::string> next = *iterator;
  for (int page = 0; page < 50 && next; ++page) {
    auto result = client.get_records(*next);
    EXPECT_TRUE(result.ok()) << result.error().to_string();
    if (!result.ok()) break;
    for (Record& r : result->records) records.push_back(std::move(r));
    if (result->records.empty()) break;
    next = result->next_shard_iterator;
  }
  return records;
}

class KinesaliteClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!KinesisEmulator::unavailable_reason().empty()) return;
    emulator_ = new KinesisEmulator();
    Status started = emulator_->start();
    ASSERT_TRUE(started.ok()) << started.error().to_string();
  }
  static void TearDownTestSuite() {
    delete emulator_;
    emulator_ = nullptr;
  }
  void SetUp() override {
    if (std::string reason = KinesisEmulator::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
    ASSERT_NE(emulator_, nullptr);
    k_ = std::make_unique<KinesisTestClient>(emulator_->endpoint());
  }

  StreamRef create_stream(const std::string& prefix, int shards) {
    std::string name = unique_stream_name(prefix);
    Status created = k_->client.create_stream({name, shards, false});
    EXPECT_TRUE(created.ok()) << created.error().to_string();
    StreamRef ref = StreamRef::by_name(name);
    EXPECT_TRUE(wait_until_active(k_->client, ref).ok());
    return ref;
  }

  static KinesisEmulator* emulator_;
  std::unique_ptr<KinesisTestClient> k_;
};

KinesisEmulator* KinesaliteClientTest::emulator_ = nullptr;

TEST_F(KinesaliteClientTest, CreatesDescribesListsAndDeletesAStream) {
  std::string name = unique_stream_name("lifecycle");
  ASSERT_TRUE(k_->client.create_stream({name, 3, false}).ok());
  StreamRef ref = StreamRef::by_name(name);
  ASSERT_TRUE(wait_until_active(k_->client, ref).ok());
  auto summary = k_->client.describe_stream_summary(ref);
  ASSERT_TRUE(summary.ok()) << summary.error().to_string();
  EXPECT_EQ(summary->stream_name, name);
  EXPECT_EQ(summary->stream_arn, "arn:aws:kinesis:us-east-1:000000000000:stream/" + name);
  EXPECT_EQ(summary->open_shard_count, 3);
  EXPECT_EQ(summary->retention_period_hours, 24);
  EXPECT_GT(summary->stream_creation_timestamp, 1600000000000);

  auto names = k_->client.list_streams();
  ASSERT_TRUE(names.ok()) << names.error().to_string();
  EXPECT_NE(std::find(names->begin(), names->end(), name), names->end());

  auto shards = k_->client.list_shards({ref, {}, "", 0});
  ASSERT_TRUE(shards.ok()) << shards.error().to_string();
  ASSERT_EQ(shards->size(), 3u);
  EXPECT_EQ((*shards)[0].starting_hash_key, "0");
  EXPECT_EQ((*shards)[2].ending_hash_key, "340282366920938463463374607431768211455");

  ASSERT_TRUE(k_->client.delete_stream(ref).ok());
  for (int i = 0; i < 200; ++i) {
    auto gone = k_->client.describe_stream_summary(ref);
    if (!gone.ok()) {
      EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
      EXPECT_EQ(aws_error_code(gone.error()), "ResourceNotFoundException");
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  FAIL() << "stream was not deleted";
}

TEST_F(KinesaliteClientTest, CreatingAnExistingStreamIsResourceInUse) {
  StreamRef ref = create_stream("twice", 1);
  Status again = k_->client.create_stream({ref.name, 1, false});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(aws_error_code(again.error()), "ResourceInUseException");
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
}

TEST_F(KinesaliteClientTest, ListShardsPaginatesWithMaxResults) {
  StreamRef ref = create_stream("paged", 5);
  auto shards = k_->client.list_shards({ref, {}, "", 2});
  ASSERT_TRUE(shards.ok()) << shards.error().to_string();
  ASSERT_EQ(shards->size(), 5u);
  std::set<std::string> ids;
  for (const Shard& s : *shards) ids.insert(s.shard_id);
  EXPECT_EQ(ids.size(), 5u);
  auto after = k_->client.list_shards({ref, {}, "shardId-000000000002", 0});
  ASSERT_TRUE(after.ok()) << after.error().to_string();
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].shard_id, "shardId-000000000003");
}

TEST_F(KinesaliteClientTest, RecordsGoToTheShardThatTheShardMapPredicts) {
  StreamRef ref = create_stream("routing", 4);
  auto shards = k_->client.list_shards({ref, {}, "", 0});
  ASSERT_TRUE(shards.ok());
  auto map = make_shard_map(*shards);
  ASSERT_TRUE(map.ok()) << map.error().message;
  std::vector<std::string> keys;
  for (int i = 0; i < 60; ++i) keys.push_back("user-" + std::to_string(i) + "-\xc3\xa9");
  std::vector<PutRecordsEntry> entries;
  for (const std::string& key : keys) entries.push_back({key, key, {}});
  auto result = k_->client.put_records(ref, entries);
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  EXPECT_EQ(result->failed_record_count, 0);
  ASSERT_EQ(result->records.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(result->records[i].shard_id, map->find_for_partition_key(keys[i])->shard_id)
        << keys[i];
  }
  // An ExplicitHashKey overrides the partition key's hash.
  auto pinned = k_->client.put_record({ref, "x", "any-key", "340282366920938463463374607431768211455", {}});
  ASSERT_TRUE(pinned.ok()) << pinned.error().to_string();
  EXPECT_EQ(pinned->shard_id, map->find(HashKey::max())->shard_id);
}

TEST_F(KinesaliteClientTest, BinaryDataRoundTripsThroughPutAndGet) {
  StreamRef ref = create_stream("binary", 1);
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  auto put = k_->client.put_record({ref, all_bytes, "k", {}, {}});
  ASSERT_TRUE(put.ok()) << put.error().to_string();
  EXPECT_EQ(put->shard_id, "shardId-000000000000");
  auto records = read_shard(k_->client, {ref, "shardId-000000000000",
                                         ShardIteratorType::kTrimHorizon, "", 0});
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].data, all_bytes);
  EXPECT_EQ(records[0].partition_key, "k");
  EXPECT_EQ(records[0].sequence_number, put->sequence_number);
  const TimestampMs now = WallClock().now_ms();
  EXPECT_LE(std::abs(records[0].approximate_arrival_timestamp - now), 60000);
}

TEST_F(KinesaliteClientTest, AllFiveIteratorTypesStartWhereTheyShould) {
  StreamRef ref = create_stream("iterators", 1);
  const std::string shard = "shardId-000000000000";
  const TimestampMs before = WallClock().now_ms() - 5000;
  std::vector<std::string> sequence_numbers;
  for (int i = 0; i < 3; ++i) {
    std::string data = "record-" + std::to_string(i);
    auto put = k_->client.put_record({ref, data, "k", {}, {}});
    ASSERT_TRUE(put.ok()) << put.error().to_string();
    sequence_numbers.push_back(put->sequence_number);
  }
  EXPECT_EQ(compare_sequence_numbers(sequence_numbers[0], sequence_numbers[1]),
            std::strong_ordering::less);

  auto trim = read_shard(k_->client, {ref, shard, ShardIteratorType::kTrimHorizon, "", 0});
  ASSERT_EQ(trim.size(), 3u);
  EXPECT_EQ(trim[2].data, "record-2");

  auto at = read_shard(k_->client,
                       {ref, shard, ShardIteratorType::kAtSequenceNumber, sequence_numbers[1], 0});
  ASSERT_EQ(at.size(), 2u);
  EXPECT_EQ(at[0].data, "record-1");

  auto after = read_shard(
      k_->client, {ref, shard, ShardIteratorType::kAfterSequenceNumber, sequence_numbers[1], 0});
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].data, "record-2");

  auto at_time = read_shard(k_->client, {ref, shard, ShardIteratorType::kAtTimestamp, "", before});
  EXPECT_EQ(at_time.size(), 3u);

  auto latest = k_->client.get_shard_iterator({ref, shard, ShardIteratorType::kLatest, "", 0});
  ASSERT_TRUE(latest.ok());
  auto nothing = k_->client.get_records(*latest);
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->records.empty());
  ASSERT_TRUE(nothing->next_shard_iterator.has_value());
  ASSERT_TRUE(k_->client.put_record({ref, "record-3", "k", {}, {}}).ok());
  auto fresh = k_->client.get_records(*nothing->next_shard_iterator);
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(fresh->records.size(), 1u);
  EXPECT_EQ(fresh->records[0].data, "record-3");
  EXPECT_EQ(fresh->millis_behind_latest, 0);
}

TEST_F(KinesaliteClientTest, GetRecordsHonoursTheLimit) {
  StreamRef ref = create_stream("limit", 1);
  std::vector<PutRecordsEntry> entries(10, PutRecordsEntry{"d", "k", {}});
  ASSERT_TRUE(k_->client.put_records(ref, entries).ok());
  auto it = k_->client.get_shard_iterator(
      {ref, "shardId-000000000000", ShardIteratorType::kTrimHorizon, "", 0});
  ASSERT_TRUE(it.ok());
  auto page = k_->client.get_records(*it, 4);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->records.size(), 4u);
}

TEST_F(KinesaliteClientTest, ErrorsFromTheEmulatorAreTyped) {
  auto missing = k_->client.put_record({StreamRef::by_name(unique_stream_name("missing")), "d",
                                        "k", {}, {}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(aws_error_code(missing.error()), "ResourceNotFoundException");

  auto bad_iterator = k_->client.get_records("bm90IGFuIGl0ZXJhdG9y");
  ASSERT_FALSE(bad_iterator.ok());
  EXPECT_EQ(bad_iterator.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(aws_error_code(bad_iterator.error()), "InvalidArgumentException");

  StreamRef ref = create_stream("errors", 1);
  auto unknown_shard = k_->client.get_shard_iterator(
      {ref, "shardId-000000000099", ShardIteratorType::kLatest, "", 0});
  ASSERT_FALSE(unknown_shard.ok());
  EXPECT_EQ(unknown_shard.error().code, ErrorCode::kNotFound);

  auto future = k_->client.get_shard_iterator({ref, "shardId-000000000000",
                                               ShardIteratorType::kAtTimestamp, "",
                                               WallClock().now_ms() + 3600000});
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(aws_error_code(future.error()), "InvalidArgumentException");

  // An operation the emulator does not implement.
  auto unknown_op = k_->client.call("UpdateShardCount", "{}");
  ASSERT_FALSE(unknown_op.ok());
  EXPECT_EQ(aws_error_code(unknown_op.error()), "UnknownOperationException");
}

TEST_F(KinesaliteClientTest, ReadsAClosedShardToItsEndAfterAMerge) {
  StreamRef ref = create_stream("merge", 2);
  ASSERT_TRUE(k_->client.put_record({ref, "before-merge", "k", "0", {}}).ok());
  auto merged = k_->client.call(
      "MergeShards", R"({"StreamName":")" + ref.name +
                         R"(","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000001"})");
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  ASSERT_TRUE(wait_until_active(k_->client, ref).ok());
  auto shards = k_->client.list_shards({ref, {}, "", 0});
  ASSERT_TRUE(shards.ok());
  ASSERT_EQ(shards->size(), 3u);
  EXPECT_FALSE((*shards)[0].open());
  EXPECT_TRUE((*shards)[2].open());
  EXPECT_EQ((*shards)[2].parent_shard_id, "shardId-000000000000");
  EXPECT_EQ((*shards)[2].adjacent_parent_shard_id, "shardId-000000000001");
  auto map = make_shard_map(*shards);
  ASSERT_TRUE(map.ok()) << map.error().message;
  EXPECT_EQ(map->shards().size(), 1u);

  auto it = k_->client.get_shard_iterator(
      {ref, "shardId-000000000000", ShardIteratorType::kTrimHorizon, "", 0});
  ASSERT_TRUE(it.ok());
  std::optional<std::string> next = *it;
  int records = 0;
  int pages = 0;
  for (; pages < 20 && next; ++pages) {
    auto page = k_->client.get_records(*next);
    ASSERT_TRUE(page.ok()) << page.error().to_string();
    records += static_cast<int>(page->records.size());
    next = page->next_shard_iterator;
  }
  EXPECT_EQ(records, 1);
  EXPECT_FALSE(next.has_value()) << "the closed shard never ended";
}

// ---- kinesis-local: StreamARN, ShardFilter, ChildShards -----------------------------------

class KinesisLocalClientTest : public ::testing::Test {
 protected:
  static KinesisEmulatorOptions options() {
    KinesisEmulatorOptions o;
    o.kind = EmulatorKind::kKinesisLocal;
    o.account_id = "123456789012";
    return o;
  }
  static void SetUpTestSuite() {
    if (!KinesisEmulator::unavailable_reason(options()).empty()) return;
    emulator_ = new KinesisEmulator(options());
    Status started = emulator_->start();
    ASSERT_TRUE(started.ok()) << started.error().to_string();
  }
  static void TearDownTestSuite() {
    delete emulator_;
    emulator_ = nullptr;
  }
  void SetUp() override {
    if (std::string reason = KinesisEmulator::unavailable_reason(options()); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
    ASSERT_NE(emulator_, nullptr);
    k_ = std::make_unique<KinesisTestClient>(emulator_->endpoint());
  }

  static KinesisEmulator* emulator_;
  std::unique_ptr<KinesisTestClient> k_;
};

KinesisEmulator* KinesisLocalClientTest::emulator_ = nullptr;

TEST_F(KinesisLocalClientTest, EveryDataCallWorksWithAStreamArn) {
  std::string name = unique_stream_name("arn");
  ASSERT_TRUE(k_->client.create_stream({name, 2, false}).ok());
  ASSERT_TRUE(wait_until_active(k_->client, StreamRef::by_name(name)).ok());
  auto summary = k_->client.describe_stream_summary(StreamRef::by_name(name));
  ASSERT_TRUE(summary.ok()) << summary.error().to_string();
  EXPECT_EQ(summary->stream_mode, "PROVISIONED");
  StreamRef arn = StreamRef::by_arn(summary->stream_arn);
  EXPECT_EQ(arn.arn, "arn:aws:kinesis:us-east-1:123456789012:stream/" + name);

  auto by_arn = k_->client.describe_stream_summary(arn);
  ASSERT_TRUE(by_arn.ok()) << by_arn.error().to_string();
  EXPECT_EQ(by_arn->stream_name, name);
  auto shards = k_->client.list_shards({arn, {}, "", 0});
  ASSERT_TRUE(shards.ok()) << shards.error().to_string();
  ASSERT_EQ(shards->size(), 2u);
  auto put = k_->client.put_record({arn, "via-arn", "k", {}, {}});
  ASSERT_TRUE(put.ok()) << put.error().to_string();
  std::vector<PutRecordsEntry> entries = {{"batch-via-arn", "k", {}}};
  auto batch = k_->client.put_records(arn, entries);
  ASSERT_TRUE(batch.ok()) << batch.error().to_string();
  EXPECT_EQ(batch->records[0].shard_id, put->shard_id);
  auto it = k_->client.get_shard_iterator({arn, put->shard_id, ShardIteratorType::kTrimHorizon,
                                           "", 0});
  ASSERT_TRUE(it.ok()) << it.error().to_string();
  auto records = k_->client.get_records(*it, 0, arn.arn);
  ASSERT_TRUE(records.ok()) << records.error().to_string();
  ASSERT_EQ(records->records.size(), 2u);
  EXPECT_EQ(records->records[0].data, "via-arn");
  EXPECT_TRUE(k_->client.delete_stream(arn).ok());
}

TEST_F(KinesisLocalClientTest, ShardFilterAndChildShardsAfterAMerge) {
  std::string name = unique_stream_name("filter");
  StreamRef ref = StreamRef::by_name(name);
  ASSERT_TRUE(k_->client.create_stream({name, 2, false}).ok());
  ASSERT_TRUE(wait_until_active(k_->client, ref).ok());
  ASSERT_TRUE(k_->client.put_record({ref, "parent-record", "k", "0", {}}).ok());
  auto merged = k_->client.call(
      "MergeShards", R"({"StreamName":")" + name +
                         R"(","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000001"})");
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  ASSERT_TRUE(wait_until_active(k_->client, ref).ok());

  auto all = k_->client.list_shards({ref, {}, "", 0});
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  EXPECT_EQ(all->size(), 3u);
  auto latest = k_->client.list_shards({ref, ShardFilter{ShardFilterType::kAtLatest, "", {}}, "", 0});
  ASSERT_TRUE(latest.ok()) << latest.error().to_string();
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].shard_id, "shardId-000000000002");
  auto after = k_->client.list_shards(
      {ref, ShardFilter{ShardFilterType::kAfterShardId, "shardId-000000000000", {}}, "", 0});
  ASSERT_TRUE(after.ok()) << after.error().to_string();
  EXPECT_EQ(after->size(), 2u);

  auto it = k_->client.get_shard_iterator(
      {ref, "shardId-000000000000", ShardIteratorType::kTrimHorizon, "", 0});
  ASSERT_TRUE(it.ok()) << it.error().to_string();
  std::optional<std::string> next = *it;
  std::vector<ChildShard> children;
  for (int page = 0; page < 20 && next; ++page) {
    auto result = k_->client.get_records(*next);
    ASSERT_TRUE(result.ok()) << result.error().to_string();
    next = result->next_shard_iterator;
    if (!result->child_shards.empty()) children = result->child_shards;
  }
  EXPECT_FALSE(next.has_value());
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].shard_id, "shardId-000000000002");
  EXPECT_EQ(children[0].parent_shards.size(), 2u);
  EXPECT_EQ(children[0].starting_hash_key, "0");
}

}  // namespace
}  // namespace shoal::kinesis
