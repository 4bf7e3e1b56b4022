#include "tests/support/kinesis_fault_proxy.h"

#include <boost/json.hpp>

#include <algorithm>
#include <vector>

#include "aws/http_client.h"
#include "aws/sigv4.h"
#include "kinesis/shard_map.h"

namespace shoal::test {
namespace {

namespace json = boost::json;

constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";
constexpr std::size_t kMaxRememberedIterators = 100000;

std::string stream_name_of(const json::object& body) {
  if (const json::value* name = body.if_contains("StreamName"); name && name->is_string()) {
    return std::string(name->get_string());
  }
  if (const json::value* arn = body.if_contains("StreamARN"); arn && arn->is_string()) {
    std::string_view text = arn->get_string();
    auto at = text.find(":stream/");
    if (at != std::string_view::npos) return std::string(text.substr(at + 8));
  }
  return "";
}

// Decoded length of padded base64 text, without decoding it.
std::size_t base64_decoded_size(std::string_view text) {
  std::size_t size = text.size() / 4 * 3;
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() > 1 && text[text.size() - 2] == '=') --size;
  return size;
}

// Kinesis answers signature problems with its own codes, not STS/S3 ones.
TestHttpResponse signature_refusal(const Error& error) {
  std::string_view message = error.message;
  auto colon = message.find(": ");
  std::string_view code = message.substr(0, colon);
  std::string_view text = colon == std::string_view::npos ? message : message.substr(colon + 2);
  if (code == "MissingAuthenticationToken") {
    return kinesis_error_response(400, "MissingAuthenticationTokenException", text);
  }
  if (code == "IncompleteSignature") {
    return kinesis_error_response(400, "IncompleteSignatureException", text);
  }
  if (code == "InvalidClientTokenId") {
    return kinesis_error_response(400, "UnrecognizedClientException", text);
  }
  if (code == "RequestTimeTooSkewed") {
    return kinesis_error_response(400, "InvalidSignatureException",
                                  "Signature expired: " + std::string(text));
  }
  return kinesis_error_response(400, "InvalidSignatureException", text);
}

}  // namespace

TestHttpResponse kinesis_error_response(int status, std::string_view aws_code,
                                        std::string_view message) {
  json::object body;
  body["__type"] = aws_code;
  body["message"] = message;
  return TestHttpResponse::text(status, json::serialize(body), "application/x-amz-json-1.1");
}

struct KinesisFaultProxy::StreamShards {
  kinesis::ShardMap map;
};

KinesisFaultProxy::KinesisFaultProxy(std::string upstream, const Clock& clock,
                                     std::string account_id)
    : upstream_(std::move(upstream)),
      clock_(clock),
      account_id_(std::move(account_id)),
      http_(std::make_unique<aws::HttpClient>()),
      server_([this](const TestHttpRequest& request) { return handle(request); }) {}

KinesisFaultProxy::~KinesisFaultProxy() { stop(); }

Status KinesisFaultProxy::start() { return server_.start(); }
void KinesisFaultProxy::stop() { server_.stop(); }
std::string KinesisFaultProxy::endpoint() const { return server_.base_url(); }

void KinesisFaultProxy::set_throttle(std::optional<ShardThrottle> throttle) {
  std::lock_guard lock(mutex_);
  throttle_ = throttle;
  buckets_.clear();
}

void KinesisFaultProxy::set_fail_every_nth_entry(int n) {
  std::lock_guard lock(mutex_);
  fail_every_nth_entry_ = n;
  entry_counter_ = 0;
}

void KinesisFaultProxy::fail_next_requests(int count, int status, std::string aws_code,
                                           std::string operation) {
  std::lock_guard lock(mutex_);
  fail_count_ = count;
  fail_status_ = status;
  fail_code_ = std::move(aws_code);
  fail_operation_ = std::move(operation);
}

void KinesisFaultProxy::reset_next_requests(int count, std::string operation) {
  std::lock_guard lock(mutex_);
  reset_count_ = count;
  reset_operation_ = std::move(operation);
}

void KinesisFaultProxy::set_response_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  delay_ = delay;
}

void KinesisFaultProxy::set_iterator_lifetime(std::optional<std::chrono::milliseconds> lifetime) {
  std::lock_guard lock(mutex_);
  iterator_lifetime_ = lifetime;
}

void KinesisFaultProxy::set_signature_check(std::optional<SignatureCheck> check) {
  std::lock_guard lock(mutex_);
  signature_check_ = std::move(check);
}

void KinesisFaultProxy::set_denied_operations(std::set<std::string> operations) {
  std::lock_guard lock(mutex_);
  denied_operations_ = std::move(operations);
}

void KinesisFaultProxy::forget_shard_maps() {
  std::lock_guard lock(mutex_);
  shard_maps_.clear();
}

FaultProxyCounters KinesisFaultProxy::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

TestHttpResponse KinesisFaultProxy::handle(const TestHttpRequest& request) {
  std::string_view target = request.header("X-Amz-Target");
  const std::string operation =
      target.substr(0, kTargetPrefix.size()) == kTargetPrefix
          ? std::string(target.substr(kTargetPrefix.size()))
          : std::string();
  std::chrono::milliseconds delay{0};
  std::optional<SignatureCheck> check;
  {
    std::lock_guard lock(mutex_);
    ++counters_.requests;
    delay = delay_;
    check = signature_check_;
  }
  auto respond = [&](TestHttpResponse response) {
    response.delay = delay;
    return response;
  };

  if (check) {
    aws::sigv4::VerifyOptions verify;
    verify.access_key_id = check->access_key_id;
    verify.secret_access_key = check->secret_access_key;
    verify.region = check->region;
    verify.service = "kinesis";
    verify.session_token = check->session_token;
    verify.now = clock_.now_ms();
    Status verified = aws::sigv4::verify(request.method, request.target,
                                         aws::HttpHeaders(request.headers.begin(),
                                                          request.headers.end()),
                                         request.body, verify);
    if (!verified.ok()) {
      std::lock_guard lock(mutex_);
      ++counters_.signatures_refused;
      return respond(signature_refusal(verified.error()));
    }
  }

  {
    std::lock_guard lock(mutex_);
    if (denied_operations_.count(operation) != 0) {
      ++counters_.access_denied;
      return respond(kinesis_error_response(
          400, "AccessDeniedException",
          "User: arn:aws:iam::" + account_id_ +
              ":user/shoal-test is not authorized to perform: kinesis:" + operation +
              " because no identity-based policy allows the kinesis:" + operation + " action"));
    }
    if (reset_count_ > 0 && (reset_operation_.empty() || reset_operation_ == operation)) {
      --reset_count_;
      ++counters_.injected_faults;
      TestHttpResponse reset;
      reset.reset = true;
      return respond(reset);
    }
    if (fail_count_ > 0 && (fail_operation_.empty() || fail_operation_ == operation)) {
      --fail_count_;
      ++counters_.injected_faults;
      return respond(kinesis_error_response(
          fail_status_, fail_code_,
          fail_code_ == "InternalFailure" ? "Internal service failure." : "Injected fault."));
    }
  }

  if (operation == "PutRecords" || operation == "PutRecord") {
    return respond(handle_put_records(request, operation));
  }
  if (operation == "GetRecords") return respond(handle_get_records(request));
  TestHttpResponse response = forward(request, request.body);
  if (operation == "GetShardIterator" && response.status == 200) remember_iterators(response.body);
  return respond(std::move(response));
}

TestHttpResponse KinesisFaultProxy::forward(const TestHttpRequest& request,
                                            const std::string& body) {
  aws::HttpRequest upstream;
  upstream.method = request.method;
  upstream.url = upstream_ + request.target;
  for (const auto& [name, value] : request.headers) {
    if (aws::header_name_equals(name, "Host") || aws::header_name_equals(name, "Content-Length") ||
        aws::header_name_equals(name, "Connection") ||
        aws::header_name_equals(name, "Transfer-Encoding") ||
        aws::header_name_equals(name, "Expect")) {
      continue;
    }
    upstream.headers.emplace_back(name, value);
  }
  upstream.body = body;
  {
    std::lock_guard lock(mutex_);
    ++counters_.forwarded_requests;
  }
  auto sent = http_->send(upstream);
  if (!sent.ok()) {
    return kinesis_error_response(503, "ServiceUnavailable",
                                  "fault proxy: upstream failed: " + sent.error().message);
  }
  TestHttpResponse response;
  response.status = sent->status;
  std::string_view content_type = sent->header("Content-Type");
  if (!content_type.empty()) response.headers.emplace_back("Content-Type", std::string(content_type));
  response.body = std::move(sent->body);
  return response;
}

Result<std::shared_ptr<const KinesisFaultProxy::StreamShards>> KinesisFaultProxy::shards_of(
    const std::string& stream_name) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = shard_maps_.find(stream_name); it != shard_maps_.end()) return it->second;
  }
  std::vector<kinesis::ShardRange> ranges;
  std::string next_token;
  for (int page = 0; page < 1000; ++page) {
    json::object body;
    if (next_token.empty()) {
      body["StreamName"] = stream_name;
    } else {
      body["NextToken"] = next_token;
    }
    aws::HttpRequest list;
    list.method = "POST";
    list.url = upstream_ + "/";
    // The emulators check only that these are present.
    list.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                    {"X-Amz-Target", "Kinesis_20131202.ListShards"},
                    {"X-Amz-Date", "20200101T000000Z"},
                    {"Authorization",
                     "AWS4-HMAC-SHA256 Credential=AKIDFAULTPROXY/20200101/us-east-1/kinesis/"
                     "aws4_request, SignedHeaders=host, Signature=00"}};
    list.body = json::serialize(body);
    auto sent = http_->send(list);
    if (!sent.ok()) return sent.take_error();
    if (sent->status != 200) {
      return make_error(ErrorCode::kUnavailable, "fault proxy: ListShards " + stream_name +
                                                     ": HTTP " + std::to_string(sent->status) +
                                                     " " + sent->body);
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(sent->body, ec);
    if (ec || !parsed.is_object()) {
      return make_error(ErrorCode::kCorruption, "fault proxy: ListShards answer is not JSON");
    }
    for (const json::value& s : parsed.at("Shards").as_array()) {
      const json::object& shard = s.as_object();
      if (shard.at("SequenceNumberRange").as_object().contains("EndingSequenceNumber")) continue;
      const json::object& range = shard.at("HashKeyRange").as_object();
      auto start = kinesis::parse_hash_key(range.at("StartingHashKey").as_string());
      auto end = kinesis::parse_hash_key(range.at("EndingHashKey").as_string());
      if (!start.ok() || !end.ok()) {
        return make_error(ErrorCode::kCorruption, "fault proxy: bad hash key range");
      }
      ranges.push_back({std::string(shard.at("ShardId").as_string()), *start, *end});
    }
    const json::value* token = parsed.as_object().if_contains("NextToken");
    if (token == nullptr || !token->is_string()) break;
    next_token = std::string(token->get_string());
  }
  SHOAL_ASSIGN_OR_RETURN(kinesis::ShardMap map, kinesis::ShardMap::build(std::move(ranges)));
  auto shards = std::make_shared<const StreamShards>(StreamShards{std::move(map)});
  std::lock_guard lock(mutex_);
  shard_maps_[stream_name] = shards;
  return std::shared_ptr<const StreamShards>(shards);
}

bool KinesisFaultProxy::take_tokens(const std::string& stream_name, const std::string& shard_id,
                                    double bytes) {
  // Caller holds mutex_.
  const ShardThrottle& t = *throttle_;
  const TimestampMs now = clock_.now_ms();
  const double record_capacity = t.records_per_second * t.burst_seconds;
  const double byte_capacity = t.bytes_per_second * t.burst_seconds;
  auto [it, added] = buckets_.try_emplace(stream_name + "/" + shard_id);
  ShardBucket& bucket = it->second;
  if (added) {
    bucket = ShardBucket{record_capacity, byte_capacity, now};
  } else if (now > bucket.updated) {
    const double seconds = static_cast<double>(now - bucket.updated) / 1000.0;
    bucket.records = std::min(record_capacity, bucket.records + seconds * t.records_per_second);
    bucket.bytes = std::min(byte_capacity, bucket.bytes + seconds * t.bytes_per_second);
    bucket.updated = now;
  }
  if (bucket.records < 1.0 || bucket.bytes < bytes) return false;
  bucket.records -= 1.0;
  bucket.bytes -= bytes;
  return true;
}

TestHttpResponse KinesisFaultProxy::handle_put_records(const TestHttpRequest& request,
                                                       const std::string& operation) {
  boost::system::error_code ec;
  json::value parsed = json::parse(request.body, ec);
  if (ec || !parsed.is_object()) return forward(request, request.body);  // let upstream refuse it
  json::object& body = parsed.as_object();
  const std::string stream_name = stream_name_of(body);
  const bool batch = operation == "PutRecords";

  std::vector<json::object*> entries;
  if (batch) {
    json::value* records = body.if_contains("Records");
    if (records == nullptr || !records->is_array()) return forward(request, request.body);
    for (json::value& e : records->as_array()) {
      if (!e.is_object()) return forward(request, request.body);
      entries.push_back(&e.as_object());
    }
  } else {
    entries.push_back(&body);
  }

  bool throttling = false;
  {
    std::lock_guard lock(mutex_);
    throttling = throttle_.has_value();
  }
  std::shared_ptr<const StreamShards> shards;
  if (throttling) {
    auto found = shards_of(stream_name);
    if (!found.ok()) return forward(request, request.body);  // e.g. no such stream
    shards = *found;
  }

  // Decide each entry: "" = accepted, else the error code.
  struct Refusal {
    std::string code;
    std::string message;
  };
  std::vector<std::optional<Refusal>> refusals(entries.size());
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const json::object& e = *entries[i];
      ++entry_counter_;
      if (fail_every_nth_entry_ > 0 &&
          entry_counter_ % static_cast<std::uint64_t>(fail_every_nth_entry_) == 0) {
        refusals[i] = Refusal{"InternalFailure", "Internal service failure."};
        ++counters_.entries_failed;
        continue;
      }
      if (throttle_ && shards) {
        const json::value* pk = e.if_contains("PartitionKey");
        const json::value* data = e.if_contains("Data");
        const json::value* ehk = e.if_contains("ExplicitHashKey");
        if (pk == nullptr || !pk->is_string() || data == nullptr || !data->is_string()) continue;
        kinesis::HashKey hash = kinesis::hash_partition_key(pk->get_string());
        if (ehk != nullptr && ehk->is_string()) {
          if (auto parsed_ehk = kinesis::parse_hash_key(ehk->get_string()); parsed_ehk.ok()) {
            hash = *parsed_ehk;
          }
        }
        const kinesis::ShardRange* shard = shards->map.find(hash);
        if (shard == nullptr) continue;
        const double bytes = static_cast<double>(base64_decoded_size(data->get_string()) +
                                                 pk->get_string().size());
        if (!take_tokens(stream_name, shard->shard_id, bytes)) {
          refusals[i] = Refusal{"ProvisionedThroughputExceededException",
                                "Rate exceeded for shard " + shard->shard_id + " in stream " +
                                    stream_name + " under account " + account_id_ + "."};
          ++counters_.entries_throttled;
        }
      }
    }
    for (const auto& refusal : refusals) {
      if (!refusal) ++counters_.entries_accepted;
    }
  }

  if (!batch) {
    if (refusals[0]) {
      return kinesis_error_response(refusals[0]->code == "InternalFailure" ? 500 : 400,
                                    refusals[0]->code, refusals[0]->message);
    }
    return forward(request, request.body);
  }

  const bool any_refused =
      std::any_of(refusals.begin(), refusals.end(), [](const auto& r) { return r.has_value(); });
  if (!any_refused) return forward(request, request.body);

  // Forward only the accepted entries, then merge the answers back in request order.
  json::array accepted;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!refusals[i]) accepted.push_back(*entries[i]);
  }
  json::array upstream_results;
  std::string encryption_type = "NONE";
  std::int64_t upstream_failed = 0;
  if (!accepted.empty()) {
    json::object rewritten = body;
    rewritten["Records"] = std::move(accepted);
    TestHttpResponse answer = forward(request, json::serialize(rewritten));
    if (answer.status != 200) return answer;
    json::value upstream = json::parse(answer.body, ec);
    if (ec || !upstream.is_object() || !upstream.as_object().contains("Records")) return answer;
    upstream_results = upstream.as_object().at("Records").as_array();
    if (const json::value* type = upstream.as_object().if_contains("EncryptionType");
        type && type->is_string()) {
      encryption_type = std::string(type->get_string());
    }
    if (const json::value* failed = upstream.as_object().if_contains("FailedRecordCount");
        failed && failed->is_int64()) {
      upstream_failed = failed->get_int64();
    }
  }
  json::array merged;
  std::size_t next = 0;
  std::int64_t failed = upstream_failed;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (refusals[i]) {
      json::object entry;
      entry["ErrorCode"] = refusals[i]->code;
      entry["ErrorMessage"] = refusals[i]->message;
      merged.push_back(std::move(entry));
      ++failed;
    } else if (next < upstream_results.size()) {
      merged.push_back(upstream_results[next++]);
    }
  }
  json::object out;
  out["FailedRecordCount"] = failed;
  out["Records"] = std::move(merged);
  out["EncryptionType"] = encryption_type;
  return TestHttpResponse::text(200, json::serialize(out), "application/x-amz-json-1.1");
}

TestHttpResponse KinesisFaultProxy::handle_get_records(const TestHttpRequest& request) {
  boost::system::error_code ec;
  json::value parsed = json::parse(request.body, ec);
  if (!ec && parsed.is_object()) {
    const json::value* iterator = parsed.as_object().if_contains("ShardIterator");
    if (iterator && iterator->is_string()) {
      std::lock_guard lock(mutex_);
      auto it = iterator_issued_.find(std::string(iterator->get_string()));
      const TimestampMs now = clock_.now_ms();
      if (iterator_lifetime_ && it != iterator_issued_.end() &&
          now - it->second > iterator_lifetime_->count()) {
        ++counters_.iterators_expired;
        return kinesis_error_response(
            400, "ExpiredIteratorException",
            "Iterator expired. The iterator was created at time " + std::to_string(it->second) +
                " while right now it is " + std::to_string(now) +
                " which is further in the future than the tolerated delay of " +
                std::to_string(iterator_lifetime_->count()) + " milliseconds.");
      }
    }
  }
  TestHttpResponse response = forward(request, request.body);
  if (response.status == 200) remember_iterators(response.body);
  return response;
}

void KinesisFaultProxy::remember_iterators(const std::string& response_body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(response_body, ec);
  if (ec || !parsed.is_object()) return;
  const TimestampMs now = clock_.now_ms();
  std::lock_guard lock(mutex_);
  if (iterator_issued_.size() > kMaxRememberedIterators) iterator_issued_.clear();
  for (const char* key : {"ShardIterator", "NextShardIterator"}) {
    if (const json::value* v = parsed.as_object().if_contains(key); v && v->is_string()) {
      iterator_issued_.emplace(std::string(v->get_string()), now);
    }
  }
}

}  // namespace shoal::test
