#include "kinesis/shard_map.h"

#include <gtest/gtest.h>

namespace shoal::kinesis {
namespace {

constexpr const char* kMaxText = "340282366920938463463374607431768211455";  // 2^128-1

HashKey key(std::string_view text) {
  auto parsed = parse_hash_key(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? *parsed : HashKey{};
}

TEST(HashKeyTest, ParsesAndFormatsTheWholeRangeExactly) {
  for (const char* text : {"0", "1", "9", "10", "18446744073709551615", "18446744073709551616",
                           "170141183460469231731687303715884105727",
                           "170141183460469231731687303715884105728", kMaxText}) {
    auto parsed = parse_hash_key(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
    EXPECT_EQ(format_hash_key(*parsed), text);
  }
  EXPECT_EQ(key(kMaxText), HashKey::max());
  EXPECT_EQ(key("18446744073709551616").value, Uint128{1} << 64);
}

TEST(HashKeyTest, RejectsValuesAbove2To128Minus1) {
  auto too_big = parse_hash_key("340282366920938463463374607431768211456");
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(too_big.error().message.find("larger than 2^128-1"), std::string::npos);
  EXPECT_FALSE(parse_hash_key("999999999999999999999999999999999999999").ok());
  EXPECT_FALSE(parse_hash_key("1000000000000000000000000000000000000000").ok());
}

TEST(HashKeyTest, RejectsAnythingButPlainDecimalDigits) {
  for (const char* text : {"", "-1", "+1", " 1", "1 ", "1.0", "1e5", "0x10", "01", "00", "abc"}) {
    auto parsed = parse_hash_key(text);
    EXPECT_FALSE(parsed.ok()) << "'" << text << "' was accepted";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(HashKeyTest, PartitionKeyHashIsBigEndianMd5OfUtf8Bytes) {
  // Expected values: int.from_bytes(hashlib.md5(key.encode()).digest(), 'big') in Python.
  EXPECT_EQ(format_hash_key(hash_partition_key("pk")), "38317986088707300215492326132921849533");
  EXPECT_EQ(format_hash_key(hash_partition_key("")), "281949768489412648962353822266799178366");
  EXPECT_EQ(format_hash_key(hash_partition_key("user-42")),
            "157107139746365290205026809710278036035");
  EXPECT_EQ(format_hash_key(hash_partition_key("\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac")),  // "é日本"
            "18975913606251655374270061662024347576");
}

TEST(SequenceNumberTest, ComparesNumericallyNotLexicographically) {
  EXPECT_EQ(compare_sequence_numbers("9", "10"), std::strong_ordering::less);
  EXPECT_EQ(compare_sequence_numbers("100", "99"), std::strong_ordering::greater);
  EXPECT_EQ(compare_sequence_numbers("49590338271490256608559692538361571095921575989136588898",
                                     "49590338271490256608559692538361571095921575989136588898"),
            std::strong_ordering::equal);
  EXPECT_EQ(compare_sequence_numbers("49590338271490256608559692538361571095921575989136588898",
                                     "49590338271490256608559692540925702759324208523137515618"),
            std::strong_ordering::less);
}

TEST(SequenceNumberTest, ValidatesDigitsAndLength) {
  EXPECT_TRUE(validate_sequence_number("0").ok());
  EXPECT_TRUE(validate_sequence_number(std::string(129, '9')).ok());
  EXPECT_FALSE(validate_sequence_number(std::string(130, '9')).ok());
  EXPECT_FALSE(validate_sequence_number("").ok());
  EXPECT_FALSE(validate_sequence_number("12a").ok());
  EXPECT_FALSE(validate_sequence_number("0123").ok());
}

std::vector<ShardRange> two_shards() {
  return {{"shardId-000000000001", key("170141183460469231731687303715884105728"), key(kMaxText)},
          {"shardId-000000000000", key("0"), key("170141183460469231731687303715884105727")}};
}

TEST(ShardMapTest, FindsTheShardWhoseRangeContainsTheKey) {
  auto map = ShardMap::build(two_shards());
  ASSERT_TRUE(map.ok()) << map.error().message;
  EXPECT_EQ(map->find(key("0"))->shard_id, "shardId-000000000000");
  EXPECT_EQ(map->find(key("170141183460469231731687303715884105727"))->shard_id,
            "shardId-000000000000");
  EXPECT_EQ(map->find(key("170141183460469231731687303715884105728"))->shard_id,
            "shardId-000000000001");
  EXPECT_EQ(map->find(HashKey::max())->shard_id, "shardId-000000000001");
  // MD5("pk") is below 2^127, MD5("") above.
  EXPECT_EQ(map->find_for_partition_key("pk")->shard_id, "shardId-000000000000");
  EXPECT_EQ(map->find_for_partition_key("")->shard_id, "shardId-000000000001");
}

TEST(ShardMapTest, KeyInAGapHasNoShard) {
  auto map = ShardMap::build({{"a", key("10"), key("19")}, {"b", key("30"), key("39")}});
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->find(key("9")), nullptr);
  EXPECT_EQ(map->find(key("20")), nullptr);
  EXPECT_EQ(map->find(key("40")), nullptr);
  EXPECT_EQ(map->find(key("10"))->shard_id, "a");
  EXPECT_EQ(map->find(key("39"))->shard_id, "b");
  EXPECT_EQ(ShardMap().find(key("1")), nullptr);
}

TEST(ShardMapTest, RejectsOverlappingAndInvertedRanges) {
  auto overlap = ShardMap::build({{"a", key("0"), key("20")}, {"b", key("20"), key("40")}});
  ASSERT_FALSE(overlap.ok());
  EXPECT_NE(overlap.error().message.find("overlapping"), std::string::npos);
  auto inverted = ShardMap::build({{"a", key("20"), key("10")}});
  ASSERT_FALSE(inverted.ok());
  EXPECT_NE(inverted.error().message.find("above EndingHashKey"), std::string::npos);
}

TEST(ShardMapTest, LooksUpAmongManyShards) {
  std::vector<ShardRange> shards;
  const Uint128 width = (~Uint128{0}) / 100 + 1;
  for (int i = 0; i < 100; ++i) {
    Uint128 start = width * static_cast<Uint128>(i);
    Uint128 end = i == 99 ? ~Uint128{0} : start + width - 1;
    shards.push_back({"s" + std::to_string(i), HashKey{start}, HashKey{end}});
  }
  auto map = ShardMap::build(shards);
  ASSERT_TRUE(map.ok());
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(map->find(shards[i].starting_hash_key)->shard_id, shards[i].shard_id);
    EXPECT_EQ(map->find(shards[i].ending_hash_key)->shard_id, shards[i].shard_id);
  }
}

}  // namespace
}  // namespace shoal::kinesis
