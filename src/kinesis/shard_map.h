#pragma once
// Partition key -> shard, as Kinesis routes records: MD5 of the UTF-8 partition key read as an
// unsigned big-endian 128-bit integer, matched against the shards' [StartingHashKey,
// EndingHashKey] ranges. Hash keys and sequence numbers cross the wire as decimal strings and are
// parsed exactly (never through a double). Shared by the consumer's de-aggregation filter and the
// producer's per-shard limits.
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace shoal::kinesis {

__extension__ typedef unsigned __int128 Uint128;

// A position on the Kinesis hash ring, 0 .. 2^128-1.
struct HashKey {
  Uint128 value = 0;

  static constexpr HashKey max() { return HashKey{~Uint128{0}}; }
  friend constexpr auto operator<=>(const HashKey&, const HashKey&) = default;
};

// Parses a decimal hash key: "0" or digits without a leading zero, at most 2^128-1.
Result<HashKey> parse_hash_key(std::string_view decimal);
// Exact decimal text of `key`.
std::string format_hash_key(HashKey key);

// MD5 of the partition key's bytes (UTF-8), big-endian.
HashKey hash_partition_key(std::string_view partition_key);

// Checks that `sequence_number` is 1..129 decimal digits without a leading zero.
Status validate_sequence_number(std::string_view sequence_number);
// Numeric order of two valid sequence numbers (by length, then by digits).
std::strong_ordering compare_sequence_numbers(std::string_view a, std::string_view b);

struct ShardRange {
  std::string shard_id;
  HashKey starting_hash_key;
  HashKey ending_hash_key;  // inclusive
};

// The open shards of a stream, sorted by hash range for binary search. Immutable once built:
// safe to read from any thread.
class ShardMap {
 public:
  ShardMap() = default;

  // Fails when a range is inverted or two ranges overlap (pass open shards only). Gaps are
  // allowed: a key in a gap has no shard.
  static Result<ShardMap> build(std::vector<ShardRange> shards);

  // The shard whose range contains `key`, or nullptr.
  const ShardRange* find(HashKey key) const;
  const ShardRange* find_for_partition_key(std::string_view partition_key) const {
    return find(hash_partition_key(partition_key));
  }

  const std::vector<ShardRange>& shards() const { return shards_; }
  bool empty() const { return shards_.empty(); }

 private:
  std::vector<ShardRange> shards_;  // by starting_hash_key; non-overlapping
};

}  // namespace shoal::kinesis
