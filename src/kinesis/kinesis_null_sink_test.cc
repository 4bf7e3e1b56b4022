// The null sink (tests/support/kinesis_null_sink.h) answers like Kinesis and stores nothing.
#include "tests/support/kinesis_null_sink.h"

#include <gtest/gtest.h>

#include "kinesis/kinesis_client.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::kinesis {
namespace {

TEST(KinesisNullSinkTest, AnswersPutRecordsWithIncreasingSequenceNumbersAndTrueShards) {
  test::KinesisNullSink sink(4);
  ASSERT_TRUE(sink.start().ok());
  test::KinesisTestClient k(sink.endpoint());
  StreamRef stream = StreamRef::by_name("bench");
  auto shards = k.client.list_shards({stream, {}, "", 0});
  ASSERT_TRUE(shards.ok()) << shards.error().to_string();
  ASSERT_EQ(shards->size(), 4u);
  auto map = make_shard_map(*shards);
  ASSERT_TRUE(map.ok()) << map.error().message;

  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) keys.push_back("user-" + std::to_string(i));
  std::vector<PutRecordsEntry> entries;
  for (const std::string& key : keys) entries.push_back({"payload", key, {}});
  auto first = k.client.put_records(stream, entries);
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  ASSERT_EQ(first->records.size(), 500u);
  std::string previous;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const PutRecordsResultEntry& entry = first->records[i];
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ(entry.shard_id, map->find_for_partition_key(keys[i])->shard_id);
    EXPECT_EQ(entry.sequence_number.size(), 56u);
    if (!previous.empty()) {
      EXPECT_EQ(compare_sequence_numbers(previous, entry.sequence_number),
                std::strong_ordering::less);
    }
    previous = entry.sequence_number;
  }
  auto single = k.client.put_record({stream, "one", "k", "0", {}});
  ASSERT_TRUE(single.ok()) << single.error().to_string();
  EXPECT_EQ(single->shard_id, "shardId-000000000000");
  EXPECT_EQ(sink.records_received(), 501u);

  auto summary = k.client.describe_stream_summary(stream);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->stream_status, "ACTIVE");
  EXPECT_EQ(summary->open_shard_count, 4);
}

TEST(KinesisNullSinkTest, RefusesMoreThan500Records) {
  test::KinesisNullSink sink;
  ASSERT_TRUE(sink.start().ok());
  test::KinesisTestClient k(sink.endpoint());
  auto refused = k.client.call("PutRecords", R"({"StreamName":"s","Records":[]})");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(sink.records_received(), 0u);
}

}  // namespace
}  // namespace shoal::kinesis
