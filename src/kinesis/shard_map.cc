#include "kinesis/shard_map.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cassert>

namespace shoal::kinesis {
namespace {

constexpr std::size_t kMaxHashKeyDigits = 39;       // 2^128-1 = 340282366920938463463374607431768211455
constexpr std::size_t kMaxSequenceNumberDigits = 129;

std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 60;
  std::string out = "'";
  out.append(text.substr(0, kShown));
  if (text.size() > kShown) out += "...";
  out += "'";
  return out;
}

}  // namespace

Result<HashKey> parse_hash_key(std::string_view decimal) {
  if (decimal.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "hash key is empty; expected decimal digits");
  }
  if (decimal.size() > 1 && decimal.front() == '0') {
    return make_error(ErrorCode::kInvalidArgument,
                      "hash key " + quoted(decimal) + " has a leading zero");
  }
  if (decimal.size() > kMaxHashKeyDigits) {
    return make_error(ErrorCode::kInvalidArgument,
                      "hash key " + quoted(decimal) + " is larger than 2^128-1");
  }
  constexpr Uint128 kMax = ~Uint128{0};
  Uint128 value = 0;
  for (char c : decimal) {
    if (c < '0' || c > '9') {
      return make_error(ErrorCode::kInvalidArgument,
                        "hash key " + quoted(decimal) + " is not a decimal number");
    }
    const unsigned digit = static_cast<unsigned>(c - '0');
    if (value > (kMax - digit) / 10) {
      return make_error(ErrorCode::kInvalidArgument,
                        "hash key " + quoted(decimal) + " is larger than 2^128-1");
    }
    value = value * 10 + digit;
  }
  return HashKey{value};
}

std::string format_hash_key(HashKey key) {
  char buffer[kMaxHashKeyDigits];
  std::size_t at = sizeof(buffer);
  Uint128 value = key.value;
  do {
    buffer[--at] = static_cast<char>('0' + static_cast<int>(value % 10));
    value /= 10;
  } while (value != 0);
  return std::string(buffer + at, sizeof(buffer) - at);
}

HashKey hash_partition_key(std::string_view partition_key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  const int ok = EVP_Digest(partition_key.data(), partition_key.size(), digest.data(), &length,
                            EVP_md5(), nullptr);
  assert(ok == 1 && length == 16);
  (void)ok;
  Uint128 value = 0;
  for (unsigned i = 0; i < 16; ++i) value = (value << 8) | digest[i];
  return HashKey{value};
}

Status validate_sequence_number(std::string_view sequence_number) {
  if (sequence_number.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "sequence number is empty");
  }
  if (sequence_number.size() > kMaxSequenceNumberDigits) {
    return make_error(ErrorCode::kInvalidArgument,
                      "sequence number " + quoted(sequence_number) + " has more than 129 digits");
  }
  if (sequence_number.size() > 1 && sequence_number.front() == '0') {
    return make_error(ErrorCode::kInvalidArgument,
                      "sequence number " + quoted(sequence_number) + " has a leading zero");
  }
  for (char c : sequence_number) {
    if (c < '0' || c > '9') {
      return make_error(ErrorCode::kInvalidArgument,
                        "sequence number " + quoted(sequence_number) + " is not a decimal number");
    }
  }
  return ok_status();
}

std::strong_ordering compare_sequence_numbers(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() <=> b.size();
  const int c = a.compare(b);
  return c < 0 ? std::strong_ordering::less
               : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

Result<ShardMap> ShardMap::build(std::vector<ShardRange> shards) {
  for (const ShardRange& shard : shards) {
    if (shard.starting_hash_key > shard.ending_hash_key) {
      return make_error(ErrorCode::kInvalidArgument,
                        "shard " + shard.shard_id + " has StartingHashKey " +
                            format_hash_key(shard.starting_hash_key) + " above EndingHashKey " +
                            format_hash_key(shard.ending_hash_key));
    }
  }
  std::sort(shards.begin(), shards.end(), [](const ShardRange& a, const ShardRange& b) {
    return a.starting_hash_key < b.starting_hash_key;
  });
  for (std::size_t i = 1; i < shards.size(); ++i) {
    if (shards[i].starting_hash_key <= shards[i - 1].ending_hash_key) {
      return make_error(ErrorCode::kInvalidArgument,
                        "shards " + shards[i - 1].shard_id + " and " + shards[i].shard_id +
                            " have overlapping hash key ranges; build the map from open shards");
    }
  }
  ShardMap map;
  map.shards_ = std::move(shards);
  return map;
}

const ShardRange* ShardMap::find(HashKey key) const {
  // The last shard starting at or below `key`.
  auto it = std::upper_bound(shards_.begin(), shards_.end(), key,
                             [](HashKey k, const ShardRange& s) { return k < s.starting_hash_key; });
  if (it == shards_.begin()) return nullptr;
  --it;
  return key <= it->ending_hash_key ? &*it : nullptr;
}

}  // namespace shoal::kinesis
