#pragma once
// Sinks: where a subscription's messages go. KinesisSink sends PutRecords batches and keeps each
// shard under its write limits (token buckets from the shard map); WebhookSink POSTs each message.
// A sink belongs to one Deliverer and is called from its thread only.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "core/clock.h"
#include "core/result.h"
#include "export/subscription.h"
#include "kinesis/kinesis_client.h"
#include "kinesis/shard_map.h"

namespace shoal::exports {

struct OutgoingEntry {
  std::string_view partition_key;
  std::string_view data;
};

// One entry's answer: accepted, or the error (kept as the message's last error).
struct EntryOutcome {
  bool ok = false;
  std::string error;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Readies the sink (loads the shard map); an error counts as a failed attempt of the batch.
  virtual Status prepare(TimestampMs now) = 0;
  // Whether an entry of `bytes` (data plus key) under `partition_key` may be sent now; takes
  // its share of the rate limit when it may.
  virtual bool admit(std::string_view partition_key, std::size_t bytes, TimestampMs now) = 0;
  // Sends entries; per-entry outcomes in order, or an error for the whole call.
  virtual Result<std::vector<EntryOutcome>> send(std::span<const OutgoingEntry> entries) = 0;
  virtual std::size_t max_batch_records() const = 0;
  // Ends in-flight and future requests (shutdown).
  virtual void cancel() = 0;
};

// Token buckets (records and bytes per second, one second of burst) per shard. Time from the
// caller. Not thread-safe.
class ShardRateLimiter {
 public:
  ShardRateLimiter(double records_per_second, double bytes_per_second)
      : records_per_second_(records_per_second), bytes_per_second_(bytes_per_second) {}
  bool take(const std::string& shard_id, std::size_t bytes, TimestampMs now);

 private:
  struct Bucket {
    double records = 0;
    double bytes = 0;
    TimestampMs updated = 0;
    bool fresh = true;
  };
  double records_per_second_;
  double bytes_per_second_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

// Borrows nothing: owns its HTTP client, credentials and Kinesis client.
class KinesisSink final : public Sink {
 public:
  KinesisSink(const Subscription& subscription, std::unique_ptr<aws::CredentialsProvider> creds,
              const Clock& clock);
  Status prepare(TimestampMs now) override;
  bool admit(std::string_view partition_key, std::size_t bytes, TimestampMs now) override;
  Result<std::vector<EntryOutcome>> send(std::span<const OutgoingEntry> entries) override;
  std::size_t max_batch_records() const override { return 500; }
  void cancel() override { http_.cancel_all(); }

 private:
  aws::HttpClient http_;
  std::unique_ptr<aws::CredentialsProvider> credentials_;
  kinesis::KinesisClient client_;
  kinesis::StreamRef stream_;
  kinesis::ShardMap shards_;
  bool have_shards_ = false;
  TimestampMs shards_loaded_ = 0;
  ShardRateLimiter limiter_;
  std::vector<kinesis::PutRecordsEntry> scratch_;
};

class WebhookSink final : public Sink {
 public:
  explicit WebhookSink(const Subscription& subscription);
  Status prepare(TimestampMs) override { return ok_status(); }
  bool admit(std::string_view, std::size_t, TimestampMs) override { return true; }
  Result<std::vector<EntryOutcome>> send(std::span<const OutgoingEntry> entries) override;
  std::size_t max_batch_records() const override { return 50; }
  void cancel() override { http_.cancel_all(); }

 private:
  aws::HttpClient http_;
  std::string url_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace shoal::exports
