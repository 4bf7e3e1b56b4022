#pragma once
// The KPL aggregated record format: many user records in one Kinesis record. Layout: magic
// F3 89 9A C2, a protobuf AggregatedRecord (partition key table, explicit hash key table,
// records with table indexes and data), then the 16-byte MD5 of the protobuf bytes.
// Decoding follows the KCL: data without the magic, too short, or with a wrong MD5 is a plain
// record, not an error. Sub-records share the Kinesis record's sequence number; their index is
// the sub-sequence number.
// Threading: free functions are pure; an AggregationBuilder belongs to one thread.
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace shoal::kinesis {

inline constexpr std::array<unsigned char, 4> kAggregationMagic = {0xF3, 0x89, 0x9A, 0xC2};

struct UserRecord {
  std::string partition_key;
  std::string explicit_hash_key;  // decimal; empty when the sub-record has none
  std::string data;

  friend bool operator==(const UserRecord&, const UserRecord&) = default;
};

// Whether `data` has the magic, room for a message and an MD5 trailer, and a matching MD5.
bool is_aggregated_record(std::string_view data);

// The sub-records of an aggregated record, in order; std::nullopt when `data` is a plain record.
// kCorruption when the magic and MD5 match but the message cannot be decoded or a table index is
// out of range.
Result<std::optional<std::vector<UserRecord>>> deaggregate(std::string_view data);

// Builds one aggregated record from user records. The first record's partition key and explicit
// hash key are the ones to send the Kinesis record with (as the KPL does), so it lands on the
// shard predicted for that first record.
class AggregationBuilder {
 public:
  AggregationBuilder();
  ~AggregationBuilder();
  AggregationBuilder(AggregationBuilder&&) noexcept;
  AggregationBuilder& operator=(AggregationBuilder&&) noexcept;

  void add(std::string_view partition_key, std::string_view explicit_hash_key,
           std::string_view data);
  // The size in bytes that build() would return now (magic, message and MD5 included).
  std::size_t size_bytes() const;
  // The size after adding a record like this one, without adding it.
  std::size_t size_bytes_with(std::string_view partition_key, std::string_view explicit_hash_key,
                              std::string_view data) const;
  std::size_t count() const;
  bool empty() const { return count() == 0; }

  // The aggregated record's bytes; the builder is then empty again.
  std::string build();
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One aggregated record holding `records` (at least one).
std::string aggregate(std::span<const UserRecord> records);

}  // namespace shoal::kinesis
