#pragma once
// KinesisFaultProxy: an HTTP proxy in front of a Kinesis emulator that adds what the emulators
// lack, so clients can be tested against real Kinesis behaviour:
//  - per-shard write throttling (token buckets of records/s and bytes/s) with real PutRecords
//    partial failures: refused entries are not forwarded (so not stored), the request is rewritten
//    to the accepted subset, and the answers are merged back in request order;
//  - InternalFailure on every Nth PutRecords entry (deterministic partial failures);
//  - whole-request faults for the next N requests: an HTTP status with an AWS error body, a TCP
//    reset, a delay;
//  - iterator expiry: GetRecords with an iterator older than a lifetime (by the injected clock)
//    gets ExpiredIteratorException;
//  - SigV4 verification against a known secret and region, refused as Kinesis does;
//  - AccessDeniedException for chosen operations (a policy lacking one permission).
// Time comes from an injected Clock, so throttling and expiry tests are exact.
// Threading: the knobs and counters are thread-safe and apply to requests that arrive after the
// call; the proxy serves each connection on its own thread.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "tests/support/http_test_server.h"

namespace shoal::aws {
class HttpClient;
}

namespace shoal::test {

struct ShardThrottle {
  double records_per_second = 1000;
  double bytes_per_second = 1 << 20;  // data plus partition key, as Kinesis counts
  // Bucket capacity in seconds of rate; a shard starts with a full bucket.
  double burst_seconds = 1.0;
};

struct SignatureCheck {
  std::string access_key_id;
  std::string secret_access_key;
  std::string region = "us-east-1";
  std::string session_token;  // when set, X-Amz-Security-Token must equal it
};

struct FaultProxyCounters {
  std::uint64_t requests = 0;
  std::uint64_t forwarded_requests = 0;
  std::uint64_t entries_accepted = 0;    // PutRecord(s) entries forwarded upstream
  std::uint64_t entries_throttled = 0;   // refused with ProvisionedThroughputExceededException
  std::uint64_t entries_failed = 0;      // refused with InternalFailure
  std::uint64_t injected_faults = 0;     // whole-request faults (status, reset)
  std::uint64_t signatures_refused = 0;
  std::uint64_t access_denied = 0;
  std::uint64_t iterators_expired = 0;
};

class KinesisFaultProxy {
 public:
  // `upstream` is the emulator's base URL ("http://127.0.0.1:<port>"). Borrows `clock`.
  KinesisFaultProxy(std::string upstream, const Clock& clock, std::string account_id = "000000000000");
  ~KinesisFaultProxy();
  KinesisFaultProxy(const KinesisFaultProxy&) = delete;
  KinesisFaultProxy& operator=(const KinesisFaultProxy&) = delete;

  Status start();
  void stop();
  std::string endpoint() const;  // "http://127.0.0.1:<port>"

  // Throttles every shard's writes; std::nullopt turns throttling off. Resets the buckets.
  void set_throttle(std::optional<ShardThrottle> throttle);
  // Every Nth PutRecord(s) entry (counted across requests) fails with InternalFailure; 0 = off.
  void set_fail_every_nth_entry(int n);
  // The next `count` requests (of `operation`, or of any when empty) get `status` with an AWS
  // error body of `aws_code`.
  void fail_next_requests(int count, int status = 500, std::string aws_code = "InternalFailure",
                          std::string operation = "");
  // The next `count` requests (of `operation`, or any) are answered with a TCP reset.
  void reset_next_requests(int count, std::string operation = "");
  // Every answer waits this long first (0 = none).
  void set_response_delay(std::chrono::milliseconds delay);
  // Iterators handed out through the proxy expire this long after they were issued (by the
  // clock); std::nullopt = never (the emulator's own 5 minutes still apply).
  void set_iterator_lifetime(std::optional<std::chrono::milliseconds> lifetime);
  // Verifies every request's SigV4 signature; std::nullopt = no check.
  void set_signature_check(std::optional<SignatureCheck> check);
  // Operations ("PutRecords", ...) answered with AccessDeniedException.
  void set_denied_operations(std::set<std::string> operations);
  // Forgets cached shard maps (after a reshard).
  void forget_shard_maps();

  FaultProxyCounters counters() const;

 private:
  struct ShardBucket {
    double records = 0;
    double bytes = 0;
    TimestampMs updated = 0;
  };
  struct StreamShards;

  TestHttpResponse handle(const TestHttpRequest& request);
  TestHttpResponse forward(const TestHttpRequest& request, const std::string& body);
  TestHttpResponse handle_put_records(const TestHttpRequest& request, const std::string& operation);
  TestHttpResponse handle_get_records(const TestHttpRequest& request);
  void remember_iterators(const std::string& response_body);
  Result<std::shared_ptr<const StreamShards>> shards_of(const std::string& stream_name);
  // Takes one entry's tokens from its shard's bucket; false when the shard is over its limit.
  bool take_tokens(const std::string& stream_name, const std::string& shard_id, double bytes);

  std::string upstream_;
  const Clock& clock_;
  std::string account_id_;
  std::unique_ptr<aws::HttpClient> http_;
  HttpTestServer server_;

  mutable std::mutex mutex_;
  std::optional<ShardThrottle> throttle_;
  std::map<std::string, ShardBucket> buckets_;  // by "<stream>/<shard>"
  int fail_every_nth_entry_ = 0;
  std::uint64_t entry_counter_ = 0;
  int fail_count_ = 0;
  int fail_status_ = 500;
  std::string fail_code_;
  std::string fail_operation_;
  int reset_count_ = 0;
  std::string reset_operation_;
  std::chrono::milliseconds delay_{0};
  std::optional<std::chrono::milliseconds> iterator_lifetime_;
  std::map<std::string, TimestampMs> iterator_issued_;
  std::optional<SignatureCheck> signature_check_;
  std::set<std::string> denied_operations_;
  std::map<std::string, std::shared_ptr<const StreamShards>> shard_maps_;
  FaultProxyCounters counters_;
};

// The AWS-style JSON error answer {"__type": code, "message": message}.
TestHttpResponse kinesis_error_response(int status, std::string_view aws_code,
                                        std::string_view message);

}  // namespace shoal::test
