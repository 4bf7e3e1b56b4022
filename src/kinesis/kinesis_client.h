#pragma once
// KinesisClient: the Kinesis Data Streams API over JSON 1.1 (POST /, X-Amz-Target
// Kinesis_20131202.<Op>), signed with SigV4 for service "kinesis". One call per method, no
// hidden state besides the borrowed transport; the list_* methods follow NextToken to the end.
// Sequence numbers and hash keys stay decimal strings (validated on receipt); record Data is raw
// bytes here and base64 on the wire. Errors: see kinesis/kinesis_error.h.
// With a RetryPolicy, each call is retried as the AWS SDKs' standard mode does (transport errors,
// 5xx, InternalFailure, throttling); every attempt is signed afresh. A PutRecords answer with
// failed entries is a success here: resending those entries is the producer's job.
// Threading: every method may be called from any thread at once if the HttpClient, the
// CredentialsProvider and the Sleeper allow it (shoal's do). The client borrows them all.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/result.h"
#include "kinesis/shard_map.h"

namespace shoal::kinesis {

struct KinesisClientOptions {
  std::string region = "us-east-1";
  // Empty: https://kinesis.<region>.amazonaws.com (.com.cn in China). Otherwise the base URL of
  // an emulator or private endpoint, e.g. "http://127.0.0.1:4567".
  std::string endpoint;
};

// A stream named by StreamName or by StreamARN (exactly one is set).
struct StreamRef {
  std::string name;
  std::string arn;

  static StreamRef by_name(std::string name) { return {std::move(name), {}}; }
  static StreamRef by_arn(std::string arn) { return {{}, std::move(arn)}; }
};

// Checks `[a-zA-Z0-9_.-]{1,128}`.
Status validate_stream_name(std::string_view name);

struct Shard {
  std::string shard_id;
  std::string parent_shard_id;           // empty when none
  std::string adjacent_parent_shard_id;  // empty when none
  std::string starting_hash_key;         // decimal
  std::string ending_hash_key;           // decimal
  std::string starting_sequence_number;
  std::string ending_sequence_number;  // set once the shard is closed

  bool open() const { return ending_sequence_number.empty(); }
};

// A ShardMap over the open shards of `shards`.
Result<ShardMap> make_shard_map(const std::vector<Shard>& shards);

enum class ShardFilterType {
  kAfterShardId,
  kAtTrimHorizon,
  kFromTrimHorizon,
  kAtLatest,
  kAtTimestamp,
  kFromTimestamp,
};

struct ShardFilter {
  ShardFilterType type = ShardFilterType::kAtLatest;
  std::string shard_id;                  // for kAfterShardId
  std::optional<TimestampMs> timestamp;  // for kAtTimestamp, kFromTimestamp
};

struct ListShardsRequest {
  StreamRef stream;
  std::optional<ShardFilter> filter;
  std::string exclusive_start_shard_id;
  int max_results = 0;  // per page, 1..10000; 0 = the service default
};

struct StreamSummary {
  std::string stream_name;
  std::string stream_arn;
  std::string stream_status;  // CREATING, DELETING, ACTIVE, UPDATING
  std::string stream_mode;    // PROVISIONED, ON_DEMAND; empty when not reported
  std::int64_t retention_period_hours = 0;
  TimestampMs stream_creation_timestamp = 0;
  std::string encryption_type;
  std::int64_t open_shard_count = 0;
  std::int64_t consumer_count = 0;
};

enum class ShardIteratorType {
  kTrimHorizon,
  kLatest,
  kAtSequenceNumber,
  kAfterSequenceNumber,
  kAtTimestamp,
};

struct GetShardIteratorRequest {
  StreamRef stream;
  std::string shard_id;
  ShardIteratorType type = ShardIteratorType::kTrimHorizon;
  std::string starting_sequence_number;  // for kAtSequenceNumber, kAfterSequenceNumber
  TimestampMs timestamp = 0;             // for kAtTimestamp
};

struct Record {
  std::string sequence_number;
  TimestampMs approximate_arrival_timestamp = 0;
  std::string data;  // decoded bytes
  std::string partition_key;
  std::string encryption_type;  // empty when not reported
};

struct ChildShard {
  std::string shard_id;
  std::vector<std::string> parent_shards;
  std::string starting_hash_key;
  std::string ending_hash_key;
};

struct GetRecordsResult {
  std::vector<Record> records;
  std::optional<std::string> next_shard_iterator;  // none once a closed shard is read to its end
  std::int64_t millis_behind_latest = 0;
  std::vector<ChildShard> child_shards;
};

struct PutRecordRequest {
  StreamRef stream;
  std::string_view data;
  std::string_view partition_key;
  std::string_view explicit_hash_key;            // decimal; empty = MD5 of the partition key
  std::string_view sequence_number_for_ordering;  // empty = none
};

struct PutRecordResult {
  std::string shard_id;
  std::string sequence_number;
  std::string encryption_type;
};

// One entry of a PutRecords call. Views: the caller keeps the bytes alive during the call.
struct PutRecordsEntry {
  std::string_view data;
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // decimal; empty = MD5 of the partition key
};

// The outcome of one entry, in request order: a sequence number and shard, or an error code
// (ProvisionedThroughputExceededException or InternalFailure) and message.
struct PutRecordsResultEntry {
  std::string shard_id;
  std::string sequence_number;
  std::string error_code;
  std::string error_message;

  bool ok() const { return error_code.empty(); }
};

struct PutRecordsResult {
  std::int64_t failed_record_count = 0;
  std::vector<PutRecordsResultEntry> records;  // one per request entry, same order
  std::string encryption_type;
};

struct CreateStreamRequest {
  std::string stream_name;
  int shard_count = 1;     // provisioned mode
  bool on_demand = false;  // ON_DEMAND mode (shard_count ignored)
};

class KinesisClient {
 public:
  // Borrows every argument; constructing does no I/O. Without `retry_policy` (and `sleeper`,
  // which must then be given too) every call is attempted once.
  KinesisClient(KinesisClientOptions options, aws::HttpClient& http,
                aws::CredentialsProvider& credentials, const Clock& clock,
                aws::RetryPolicy* retry_policy = nullptr, aws::Sleeper* sleeper = nullptr);

  const std::string& endpoint() const { return endpoint_; }
  const std::string& region() const { return region_; }

  // Every stream name of the account and region (all pages).
  Result<std::vector<std::string>> list_streams();
  // Every shard of the stream (all pages), filtered by `request.filter` when set.
  Result<std::vector<Shard>> list_shards(const ListShardsRequest& request);
  Result<StreamSummary> describe_stream_summary(const StreamRef& stream);
  Result<std::string> get_shard_iterator(const GetShardIteratorRequest& request);
  // `limit` 0 = the service default (10,000); `stream_arn` is optional, sent when not empty.
  Result<GetRecordsResult> get_records(std::string_view shard_iterator, int limit = 0,
                                       std::string_view stream_arn = {});
  Result<PutRecordResult> put_record(const PutRecordRequest& request);
  // 1..500 entries. A 200 with failed entries is a success here: see each entry's ok().
  Result<PutRecordsResult> put_records(const StreamRef& stream,
                                       std::span<const PutRecordsEntry> entries);
  Status create_stream(const CreateStreamRequest& request);
  Status delete_stream(const StreamRef& stream, bool enforce_consumer_deletion = false);

  // One signed call: `body` is the JSON request; returns the raw 200 response body. Exposed for
  // operations this client does not wrap (tests use it for MergeShards, SplitShard, ...).
  Result<std::string> call(std::string_view operation, std::string body);

 private:
  // What the last attempt ended with, for the retry classification.
  struct AttemptOutcome {
    int http_status = 0;      // 0 when no response arrived
    std::string aws_code;     // from the error body, when there was one
    std::optional<Error> transport_error;
  };
  Result<std::string> attempt(std::string_view operation, aws::HttpRequest& request,
                              AttemptOutcome& outcome);

  std::string region_;
  std::string endpoint_;
  std::string host_;
  aws::HttpClient& http_;
  aws::CredentialsProvider& credentials_;
  const Clock& clock_;
  aws::SigV4Signer signer_;
  aws::RetryPolicy* retry_policy_;
  aws::Sleeper* sleeper_;
};

// The default endpoint for `region`.
std::string kinesis_endpoint_for_region(std::string_view region);

}  // namespace shoal::kinesis
