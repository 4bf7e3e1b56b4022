#include "import/record_decoder.h"

#include <zlib.h>

#include "core/time_format.h"
#include "kinesis/aggregation.h"

namespace shoal::import {

HashRange make_hash_range(std::string_view start_decimal, std::string_view end_decimal) {
  HashRange range;
  if (!start_decimal.empty()) {
    if (auto k = kinesis::parse_hash_key(start_decimal); k.ok()) range.start = *k;
  }
  if (!end_decimal.empty()) {
    if (auto k = kinesis::parse_hash_key(end_decimal); k.ok()) range.end = *k;
  }
  return range;
}

Status gunzip(std::string_view data, std::size_t max_bytes, std::string& out) {
  out.clear();
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return make_error(ErrorCode::kInternal, "zlib inflateInit2 failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  char buffer[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return make_error(ErrorCode::kInvalidArgument, std::string("corrupt gzip payload (") +
                                                         (zs.msg ? zs.msg : "truncated") + ")");
    }
    out.append(buffer, sizeof buffer - zs.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&zs);
      return make_error(ErrorCode::kInvalidArgument,
                        "gzip payload inflates to more than max_record_bytes (" +
                            std::to_string(max_bytes) + ")");
    }
    if (rc != Z_STREAM_END && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return make_error(ErrorCode::kInvalidArgument, "corrupt gzip payload (truncated)");
    }
  }
  inflateEnd(&zs);
  return ok_status();
}

std::string gzip(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

RecordDecoder::RecordDecoder(DecodeOptions options) : options_(std::move(options)) {}

TimestampMs RecordDecoder::event_time(const model::Value& data, TimestampMs fallback) const {
  if (options_.timestamp_field.empty()) return fallback;
  const model::Value* v = model::lookup_path(data, options_.timestamp_field);
  if (v == nullptr) return fallback;
  // Rationale: numbers below 10^11 are epoch seconds (10^11 s is the year 5138; 10^11 ms is 1973).
  if (v->is_int()) {
    std::int64_t n = v->as_int();
    return n < 100'000'000'000 ? n * 1000 : n;
  }
  if (v->is_number()) {
    double n = v->as_number();
    return static_cast<TimestampMs>(n < 1e11 ? n * 1000.0 : n);
  }
  if (v->is_date()) return v->as_date();
  if (v->is_string()) {
    if (auto t = parse_iso8601(v->as_string()); t.ok()) return *t;
  }
  return fallback;
}

std::vector<Result<model::Value>> RecordDecoder::parse_payload(std::string_view payload) {
  std::vector<Result<model::Value>> out;
  std::string_view body = payload;
  if (is_gzip(body)) {
    if (Status s = gunzip(body, options_.max_record_bytes, inflated_); !s.ok()) {
      out.emplace_back(s.error());
      return out;
    }
    body = inflated_;
  } else if (body.size() > options_.max_record_bytes) {
    out.emplace_back(make_error(ErrorCode::kInvalidArgument,
                                "record of " + std::to_string(body.size()) +
                                    " bytes exceeds max_record_bytes (" +
                                    std::to_string(options_.max_record_bytes) + ")"));
    return out;
  }
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    out.emplace_back(make_error(ErrorCode::kInvalidArgument, "empty record"));
    return out;
  }
  auto parsed = parser_.parse(body);
  if (parsed.ok()) {
    if (parsed->is_list()) {
      for (model::Value& item : parsed->as_list()) out.emplace_back(std::move(item));
    } else {
      out.emplace_back(std::move(*parsed));
    }
    return out;
  }
  // Newline-delimited JSON: one document per non-blank line.
  if (body.find('\n', first) == std::string_view::npos) {
    out.emplace_back(parsed.error().with_context("not JSON"));
    return out;
  }
  std::size_t at = 0;
  while (at <= body.size()) {
    std::size_t end = body.find('\n', at);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(at, end - at);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      auto item = parser_.parse(line);
      if (item.ok()) {
        out.emplace_back(std::move(*item));
      } else {
        out.emplace_back(item.error().with_context("not JSON"));
      }
    }
    at = end + 1;
  }
  return out;
}

void RecordDecoder::decode_payload(std::string_view shard_id, const kinesis::Record& record,
                                   std::uint32_t sub, std::string_view partition_key,
                                   std::string_view payload, std::vector<DecodedEvent>& events,
                                   std::vector<DeadLetter>& dead) {
  std::vector<Result<model::Value>> items = parse_payload(payload);
  for (std::size_t i = 0; i < items.size(); ++i) {
    RecordPosition position{record.sequence_number, sub, static_cast<std::uint32_t>(i)};
    if (items[i].ok()) {
      TimestampMs ts = event_time(*items[i], record.approximate_arrival_timestamp);
      events.push_back(DecodedEvent{std::move(*items[i]), ts, std::move(position)});
    } else {
      dead.push_back(DeadLetter{std::string(shard_id), std::move(position),
                                items[i].error().message, std::string(payload),
                                std::string(partition_key), record.approximate_arrival_timestamp,
                                0});
    }
  }
}

void RecordDecoder::decode(std::string_view shard_id, const kinesis::Record& record,
                           const HashRange& range, std::vector<DecodedEvent>& events,
                           std::vector<DeadLetter>& dead) {
  auto subs = kinesis::deaggregate(record.data);
  if (!subs.ok()) {
    dead.push_back(DeadLetter{std::string(shard_id),
                              {record.sequence_number, 0, 0},
                              "unreadable KPL aggregated record: " + subs.error().message,
                              record.data,
                              record.partition_key,
                              record.approximate_arrival_timestamp,
                              0});
    return;
  }
  if (!subs->has_value()) {
    decode_payload(shard_id, record, 0, record.partition_key, record.data, events, dead);
    return;
  }
  std::vector<kinesis::UserRecord>& users = **subs;
  for (std::size_t i = 0; i < users.size(); ++i) {
    const kinesis::UserRecord& user = users[i];
    kinesis::HashKey hash{};
    if (!user.explicit_hash_key.empty()) {
      auto parsed = kinesis::parse_hash_key(user.explicit_hash_key);
      hash = parsed.ok() ? *parsed : kinesis::hash_partition_key(user.partition_key);
    } else {
      hash = kinesis::hash_partition_key(user.partition_key);
    }
    if (!range.contains(hash)) continue;  // belongs to another shard since a reshard
    decode_payload(shard_id, record, static_cast<std::uint32_t>(i), user.partition_key, user.data,
                   events, dead);
  }
}

}  // namespace shoal::import
