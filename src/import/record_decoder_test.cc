#include "import/record_decoder.h"

#include <gtest/gtest.h>

#include "import/checkpoint.h"
#include "kinesis/aggregation.h"
#include "model/json.h"

namespace shoal::import {
namespace {

kinesis::Record record(std::string data, std::string seq = "100", TimestampMs arrival = 5000) {
  kinesis::Record r;
  r.sequence_number = std::move(seq);
  r.data = std::move(data);
  r.partition_key = "pk";
  r.approximate_arrival_timestamp = arrival;
  return r;
}

TEST(RecordDecoderTest, SplitsObjectArrayAndNewlineDelimitedJson) {
  RecordDecoder decoder({});
  std::vector<DecodedEvent> events;
  std::vector<DeadLetter> dead;
  decoder.decode("s", record(R"({"a":1})"), {}, events, dead);
  decoder.decode("s", record(R"([{"a":2},{"a":3}])"), {}, events, dead);
  decoder.decode("s", record("{\"a\":4}\n\n{\"a\":5}\n"), {}, events, dead);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_TRUE(dead.empty());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(events[i].data.find("a")->as_int(), i + 1);
    EXPECT_EQ(events[i].ts, 5000);
  }
  EXPECT_EQ(events[2].position.item, 1u);
  EXPECT_EQ(events[4].position.item, 1u);
}

TEST(RecordDecoderTest, InflatesGzip) {
  RecordDecoder decoder({});
  std::vector<DecodedEvent> events;
  std::vector<DeadLetter> dead;
  decoder.decode("s", record(gzip("{\"a\":1}\n{\"a\":2}")), {}, events, dead);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].data.find("a")->as_int(), 2);
}

TEST(RecordDecoderTest, DeadLettersNotJsonInvalidUtf8OversizedAndCorruptGzip) {
  DecodeOptions options;
  options.max_record_bytes = 64;
  RecordDecoder decoder(options);
  std::vector<DecodedEvent> events;
  std::vector<DeadLetter> dead;
  decoder.decode("s", record("not json", "1"), {}, events, dead);
  decoder.decode("s", record("{\"a\":\"\xff\xfe\"}", "2"), {}, events, dead);
  decoder.decode("s", record(std::string(100, ' '), "3"), {}, events, dead);
  std::string bad_gzip = gzip("{\"a\":1}");
  bad_gzip.resize(bad_gzip.size() - 6);
  decoder.decode("s", record(bad_gzip, "4"), {}, events, dead);
  decoder.decode("s", record(gzip(std::string(1000, ' ')), "5"), {}, events, dead);
  EXPECT_TRUE(events.empty());
  ASSERT_EQ(dead.size(), 5u);
  EXPECT_NE(dead[0].reason.find("not JSON"), std::string::npos) << dead[0].reason;
  EXPECT_NE(dead[1].reason.find("UTF-8"), std::string::npos) << dead[1].reason;
  EXPECT_NE(dead[2].reason.find("max_record_bytes"), std::string::npos) << dead[2].reason;
  EXPECT_NE(dead[3].reason.find("gzip"), std::string::npos) << dead[3].reason;
  EXPECT_NE(dead[4].reason.find("max_record_bytes"), std::string::npos) << dead[4].reason;
  EXPECT_EQ(dead[1].position.sequence_number, "2");
  EXPECT_EQ(dead[0].data, "not json");
}

TEST(RecordDecoderTest, DeaggregatesAndDropsSubRecordsOutsideTheShard) {
  std::vector<kinesis::UserRecord> users;
  for (int i = 0; i < 6; ++i) {
    users.push_back({"user-" + std::to_string(i), "", "{\"n\":" + std::to_string(i) + "}"});
  }
  std::string aggregated = kinesis::aggregate(users);
  // The lower half of the hash space: keep the sub-records whose MD5 hash falls in it.
  HashRange lower = make_hash_range("0", "170141183460469231731687303715884105727");
  RecordDecoder decoder({});
  std::vector<DecodedEvent> all, kept;
  std::vector<DeadLetter> dead;
  decoder.decode("s", record(aggregated), {}, all, dead);
  decoder.decode("s", record(aggregated), lower, kept, dead);
  ASSERT_EQ(all.size(), 6u);
  std::size_t expected = 0;
  for (std::size_t i = 0; i < users.size(); ++i) {
    EXPECT_EQ(all[i].position.sub_sequence, i);
    if (lower.contains(kinesis::hash_partition_key(users[i].partition_key))) ++expected;
  }
  EXPECT_GT(expected, 0u);
  EXPECT_LT(expected, 6u);
  EXPECT_EQ(kept.size(), expected);
  EXPECT_TRUE(dead.empty());
}

TEST(RecordDecoderTest, EventTimeFromTheTimestampField) {
  DecodeOptions options;
  options.timestamp_field = "ts";
  RecordDecoder decoder(options);
  model::JsonParser parser;
  EXPECT_EQ(decoder.event_time(*parser.parse(R"({"ts":1700000000})"), 1), 1700000000000);
  EXPECT_EQ(decoder.event_time(*parser.parse(R"({"ts":1700000000123})"), 1), 1700000000123);
  EXPECT_EQ(decoder.event_time(*parser.parse(R"({"ts":"2023-11-14T22:13:20Z"})"), 1),
            1700000000000);
  EXPECT_EQ(decoder.event_time(*parser.parse(R"({"ts":"yesterday"})"), 7), 7);
  EXPECT_EQ(decoder.event_time(*parser.parse(R"({"x":1})"), 9), 9);
}

TEST(CheckpointTest, RoundTripsAndRejectsGarbage) {
  Checkpoint cp{"49590338271490256608559692538361571095921575989136588898", 3, false};
  EXPECT_EQ(*decode_checkpoint(encode_checkpoint(cp)), cp);
  Checkpoint end{"", 0, true};
  EXPECT_EQ(*decode_checkpoint(encode_checkpoint(end)), end);
  EXPECT_FALSE(decode_checkpoint("S12/x").ok());
  EXPECT_FALSE(decode_checkpoint("Q").ok());
}

}  // namespace
}  // namespace shoal::import
