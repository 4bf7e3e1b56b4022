#include "export/sink.h"

#include <algorithm>

#include "kinesis/kinesis_error.h"

namespace shoal::exports {
namespace {

aws::HttpClientOptions http_options(const Subscription& s) {
  aws::HttpClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(5000);
  options.request_timeout = std::chrono::milliseconds(s.delivery.request_timeout_ms);
  return options;
}

// Shard maps are reloaded this often, so a reshard is picked up.
constexpr TimestampMs kShardMapLifetimeMs = 60'000;

}  // namespace

bool ShardRateLimiter::take(const std::string& shard_id, std::size_t bytes, TimestampMs now) {
  auto it = buckets_.find(shard_id);
  if (it == buckets_.end()) it = buckets_.emplace(shard_id, Bucket{}).first;
  Bucket& b = it->second;
  if (b.fresh) {
    b = Bucket{records_per_second_, bytes_per_second_, now, false};
  } else if (now > b.updated) {
    double seconds = static_cast<double>(now - b.updated) / 1000.0;
    b.records = std::min(records_per_second_, b.records + seconds * records_per_second_);
    b.bytes = std::min(bytes_per_second_, b.bytes + seconds * bytes_per_second_);
    b.updated = now;
  }
  auto need = static_cast<double>(bytes);
  if (b.records < 1.0 || (b.bytes < need && need <= bytes_per_second_)) return false;
  b.records -= 1.0;
  b.bytes -= std::min(need, bytes_per_second_);
  return true;
}

KinesisSink::KinesisSink(const Subscription& s, std::unique_ptr<aws::CredentialsProvider> creds,
                         const Clock& clock)
    : http_(http_options(s)),
      credentials_(std::move(creds)),
      client_(kinesis::KinesisClientOptions{s.region, s.endpoint}, http_, *credentials_, clock),
      stream_(kinesis::StreamRef::by_name(s.stream)),
      limiter_(s.delivery.shard_records_per_second, s.delivery.shard_bytes_per_second) {}

Status KinesisSink::prepare(TimestampMs now) {
  if (have_shards_ && now - shards_loaded_ < kShardMapLifetimeMs) return ok_status();
  auto shards = client_.list_shards(kinesis::ListShardsRequest{stream_, std::nullopt, {}, 0});
  if (!shards.ok()) {
    have_shards_ = false;
    return shards.take_error();
  }
  auto map = kinesis::make_shard_map(*shards);
  if (!map.ok()) return map.take_error();
  shards_ = std::move(map).value();
  have_shards_ = true;
  shards_loaded_ = now;
  return ok_status();
}

bool KinesisSink::admit(std::string_view partition_key, std::size_t bytes, TimestampMs now) {
  const kinesis::ShardRange* shard = shards_.find_for_partition_key(partition_key);
  if (!shard) return true;  // a gap (mid-reshard): let Kinesis decide
  return limiter_.take(shard->shard_id, bytes, now);
}

Result<std::vector<EntryOutcome>> KinesisSink::send(std::span<const OutgoingEntry> entries) {
  scratch_.clear();
  for (const OutgoingEntry& e : entries) scratch_.push_back({e.data, e.partition_key, {}});
  auto result = client_.put_records(stream_, scratch_);
  if (!result.ok()) {
    if (result.error().code == ErrorCode::kNotFound) have_shards_ = false;
    return result.take_error();
  }
  std::vector<EntryOutcome> out(entries.size());
  for (std::size_t i = 0; i < out.size() && i < result->records.size(); ++i) {
    const kinesis::PutRecordsResultEntry& r = result->records[i];
    out[i].ok = r.ok();
    if (!r.ok()) out[i].error = r.error_code + ": " + r.error_message;
  }
  for (std::size_t i = result->records.size(); i < out.size(); ++i) {
    out[i].error = "PutRecords answered fewer entries than were sent";
  }
  return out;
}

WebhookSink::WebhookSink(const Subscription& s)
    : http_(http_options(s)), url_(s.webhook_url), headers_(s.headers) {}

Result<std::vector<EntryOutcome>> WebhookSink::send(std::span<const OutgoingEntry> entries) {
  std::vector<EntryOutcome> out(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    aws::HttpRequest request;
    request.method = "POST";
    request.url = url_;
    request.headers = headers_;
    request.set_header("Content-Type", "application/json");
    request.body = std::string(entries[i].data);
    auto response = http_.send(request);
    if (!response.ok()) {
      // The rest of the batch is not tried: the endpoint is unreachable.
      for (std::size_t j = i; j < entries.size(); ++j) out[j].error = response.error().message;
      if (response.error().code == ErrorCode::kCancelled) return response.take_error();
      break;
    }
    if (response->status >= 200 && response->status < 300) {
      out[i].ok = true;
    } else {
      out[i].error = "webhook answered HTTP " + std::to_string(response->status);
    }
  }
  return out;
}

}  // namespace shoal::exports
