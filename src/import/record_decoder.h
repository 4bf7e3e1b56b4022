#pragma once
// RecordDecoder: one Kinesis record -> the events it carries, or dead letters saying why not.
// Steps, each in the KCL's or the customer's producers' format:
//  1. KPL de-aggregation (kinesis/aggregation.h); sub-records whose effective hash key lies
//     outside the shard's range are dropped, as the KCL does (duplicates after a reshard);
//  2. gzip (magic 1F 8B) is inflated, bounded by max_record_bytes;
//  3. the payload is one JSON object, a JSON array of objects, or newline-delimited JSON.
// The event time is the timestamp field when configured and readable (epoch seconds or
// milliseconds, or ISO-8601), else the record's ApproximateArrivalTimestamp.
// Threading: one decoder per thread (it reuses a JSON parser).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "kinesis/kinesis_client.h"
#include "kinesis/shard_map.h"
#include "model/json.h"
#include "model/value.h"

namespace shoal::import {

struct DecodeOptions {
  std::string timestamp_field;               // empty: ApproximateArrivalTimestamp
  std::size_t max_record_bytes = 10u << 20;  // of one record's payload after inflating
};

// Where an event or a dead letter came from: the record's sequence number, its sub-record index
// (0 when not aggregated) and its item index within a JSON array or NDJSON payload.
struct RecordPosition {
  std::string sequence_number;
  std::uint32_t sub_sequence = 0;
  std::uint32_t item = 0;
};

struct DecodedEvent {
  model::Value data;
  TimestampMs ts = 0;
  RecordPosition position;
};

struct DeadLetter {
  std::string shard_id;
  RecordPosition position;
  std::string reason;
  std::string data;  // the raw payload (the sub-record's, when aggregated)
  std::string partition_key;
  TimestampMs arrival_ms = 0;
  TimestampMs dead_lettered_ms = 0;
};

// The inclusive hash key range of a shard; an empty range accepts every key.
struct HashRange {
  std::optional<kinesis::HashKey> start;
  std::optional<kinesis::HashKey> end;
  bool contains(const kinesis::HashKey& key) const {
    return (!start || *start <= key) && (!end || key <= *end);
  }
};
HashRange make_hash_range(std::string_view start_decimal, std::string_view end_decimal);

class RecordDecoder {
 public:
  explicit RecordDecoder(DecodeOptions options);

  // Appends the events of `record` (read from shard `shard_id`) and its dead letters.
  void decode(std::string_view shard_id, const kinesis::Record& record, const HashRange& range,
              std::vector<DecodedEvent>& events, std::vector<DeadLetter>& dead);
  // The events of one (sub-)record payload, for a dead letter's replay: each item is an event
  // or the reason it cannot be one.
  std::vector<Result<model::Value>> parse_payload(std::string_view payload);
  // The event time of `data` (the timestamp field), or `fallback`.
  TimestampMs event_time(const model::Value& data, TimestampMs fallback) const;

  const DecodeOptions& options() const { return options_; }

 private:
  void decode_payload(std::string_view shard_id, const kinesis::Record& record, std::uint32_t sub,
                      std::string_view partition_key, std::string_view payload,
                      std::vector<DecodedEvent>& events, std::vector<DeadLetter>& dead);

  DecodeOptions options_;
  model::JsonParser parser_;
  std::string inflated_;
};

// gunzip `data` into `out`; kInvalidArgument when corrupt or larger than `max_bytes`.
Status gunzip(std::string_view data, std::size_t max_bytes, std::string& out);
inline bool is_gzip(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}
// For tests and tools: gzip `data`.
std::string gzip(std::string_view data);

}  // namespace shoal::import
