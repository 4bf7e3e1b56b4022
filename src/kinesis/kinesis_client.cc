#include "kinesis/kinesis_client.h"

#include <boost/json.hpp>

#include <cassert>
#include <cmath>
#include <cstdio>

#include "kinesis/base64.h"
#include "kinesis/kinesis_error.h"

namespace shoal::kinesis {
namespace {

namespace json = boost::json;

constexpr std::string_view kContentType = "application/x-amz-json-1.1";
constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";
constexpr std::size_t kMaxPutRecordsEntries = 500;
constexpr int kMaxListPages = 100000;  // a bound on pagination loops; far beyond any real stream

// Request bodies are written directly rather than through json::value: the PutRecords body is the
// producer's hot path, and AT_TIMESTAMP needs an exact "seconds.millis" number literal.
// Rationale for not using json::serialize there: it would allocate a value tree per record.
class JsonWriter {
 public:
  explicit JsonWriter(std::size_t reserve = 256) { out_.reserve(reserve); }

  JsonWriter& begin_object() {
    separate();
    out_.push_back('{');
    first_ = true;
    return *this;
  }
  JsonWriter& end_object() {
    out_.push_back('}');
    first_ = false;
    return *this;
  }
  JsonWriter& begin_object_key(std::string_view key) {
    write_key(key);
    out_.push_back('{');
    first_ = true;
    return *this;
  }
  JsonWriter& begin_array(std::string_view key) {
    write_key(key);
    out_.push_back('[');
    first_ = true;
    return *this;
  }
  JsonWriter& end_array() {
    out_.push_back(']');
    first_ = false;
    return *this;
  }
  JsonWriter& string(std::string_view key, std::string_view value) {
    write_key(key);
    write_string(value);
    return *this;
  }
  JsonWriter& base64(std::string_view key, std::string_view bytes) {
    write_key(key);
    out_.push_back('"');
    base64_encode_append(bytes, out_);
    out_.push_back('"');
    return *this;
  }
  JsonWriter& raw_number(std::string_view key, std::string_view literal) {
    write_key(key);
    out_.append(literal);
    return *this;
  }
  JsonWriter& boolean(std::string_view key, bool value) {
    return raw_number(key, value ? "true" : "false");
  }
  JsonWriter& stream(const StreamRef& ref) {
    return ref.arn.empty() ? string("StreamName", ref.name) : string("StreamARN", ref.arn);
  }
  std::string take() { return std::move(out_); }

 private:
  void separate() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  void write_key(std::string_view key) {
    separate();
    write_string(key);
    out_.push_back(':');
  }
  void write_string(std::string_view value) {
    out_.push_back('"');
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; i < value.size(); ++i) {
      const auto u = static_cast<unsigned char>(value[i]);
      if (u >= 0x20 && u != '"' && u != '\\') continue;
      out_.append(value.data() + run, i - run);
      run = i + 1;
      if (u == '"' || u == '\\') {
        out_.push_back('\\');
        out_.push_back(static_cast<char>(u));
      } else {
        char escaped[8];
        std::snprintf(escaped, sizeof(escaped), "\\u%04x", u);
        out_.append(escaped);
      }
    }
    out_.append(value.data() + run, value.size() - run);
    out_.push_back('"');
  }

  std::string out_;
  bool first_ = true;
};

std::string epoch_seconds_literal(TimestampMs t) {
  const bool negative = t < 0;
  const std::int64_t abs_ms = negative ? -t : t;
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%s%lld.%03lld", negative ? "-" : "",
                static_cast<long long>(abs_ms / 1000), static_cast<long long>(abs_ms % 1000));
  return buffer;
}

std::string_view shard_iterator_type_name(ShardIteratorType type) {
  switch (type) {
    case ShardIteratorType::kTrimHorizon: return "TRIM_HORIZON";
    case ShardIteratorType::kLatest: return "LATEST";
    case ShardIteratorType::kAtSequenceNumber: return "AT_SEQUENCE_NUMBER";
    case ShardIteratorType::kAfterSequenceNumber: return "AFTER_SEQUENCE_NUMBER";
    case ShardIteratorType::kAtTimestamp: return "AT_TIMESTAMP";
  }
  return "TRIM_HORIZON";
}

std::string_view shard_filter_type_name(ShardFilterType type) {
  switch (type) {
    case ShardFilterType::kAfterShardId: return "AFTER_SHARD_ID";
    case ShardFilterType::kAtTrimHorizon: return "AT_TRIM_HORIZON";
    case ShardFilterType::kFromTrimHorizon: return "FROM_TRIM_HORIZON";
    case ShardFilterType::kAtLatest: return "AT_LATEST";
    case ShardFilterType::kAtTimestamp: return "AT_TIMESTAMP";
    case ShardFilterType::kFromTimestamp: return "FROM_TIMESTAMP";
  }
  return "AT_LATEST";
}

// ---- Response reading ----------------------------------------------------------------------

// Reads one operation's response object; every failure names the operation and the field.
class ResponseReader {
 public:
  explicit ResponseReader(std::string_view op) : op_(op) {}
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  Error malformed(std::string_view what) const {
    return make_error(ErrorCode::kCorruption,
                      "Kinesis " + std::string(op_) + ": malformed response: " + std::string(what));
  }

  // Parses `body` into the reader's arena; the result lives until the next parse() or the
  // reader's end. Rationale: one arena per response instead of an allocation per key and value,
  // and the value is built in place (assigning a parsed value to one with other storage would
  // copy the whole tree).
  Result<const json::object*> parse(std::string_view body) {
    boost::system::error_code ec;
    value_ = nullptr;  // drops the previous page, which lives in the arena
    arena_.release();
    value_ = json::parse(body, ec, json::storage_ptr(&arena_));
    if (ec) {
      return malformed("the body is not JSON (" + ec.message() + "); it starts " +
                       excerpt(body));
    }
    if (!value_.is_object()) return malformed("the body is not a JSON object");
    return &value_.get_object();
  }

  Result<std::string> string(const json::object& obj, std::string_view key, bool required) const {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) return malformed("'" + std::string(key) + "' is missing");
      return std::string();
    }
    if (!v->is_string()) return malformed("'" + std::string(key) + "' is not a string");
    return std::string(v->get_string());
  }

  Result<std::string> sequence_number(const json::object& obj, std::string_view key,
                                      bool required) const {
    SHOAL_ASSIGN_OR_RETURN(std::string value, string(obj, key, required));
    if (!value.empty()) {
      if (Status valid = validate_sequence_number(value); !valid.ok()) {
        return malformed("'" + std::string(key) + "': " + valid.error().message);
      }
    }
    return value;
  }

  Result<std::string> hash_key(const json::object& obj, std::string_view key) const {
    SHOAL_ASSIGN_OR_RETURN(std::string value, string(obj, key, true));
    if (auto parsed = parse_hash_key(value); !parsed.ok()) {
      return malformed("'" + std::string(key) + "': " + parsed.error().message);
    }
    return value;
  }

  Result<std::int64_t> integer(const json::object& obj, std::string_view key,
                               bool required) const {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) return malformed("'" + std::string(key) + "' is missing");
      return std::int64_t{0};
    }
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    return malformed("'" + std::string(key) + "' is not an integer");
  }

  // Epoch seconds with a fraction (a JSON number) -> milliseconds.
  Result<TimestampMs> epoch_seconds(const json::object& obj, std::string_view key,
                                    bool required) const {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) return malformed("'" + std::string(key) + "' is missing");
      return TimestampMs{0};
    }
    if (v->is_int64()) return v->get_int64() * 1000;
    if (v->is_uint64()) return static_cast<TimestampMs>(v->get_uint64()) * 1000;
    if (v->is_double() && std::isfinite(v->get_double()) && std::fabs(v->get_double()) < 1e15) {
      return static_cast<TimestampMs>(std::llround(v->get_double() * 1000.0));
    }
    return malformed("'" + std::string(key) + "' is not a timestamp in epoch seconds");
  }

  Result<const json::array*> array(const json::object& obj, std::string_view key,
                                   bool required) const {
    static const json::array kEmpty;
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) return malformed("'" + std::string(key) + "' is missing");
      return &kEmpty;
    }
    if (!v->is_array()) return malformed("'" + std::string(key) + "' is not an array");
    return &v->get_array();
  }

  Result<const json::object*> object(const json::value& v, std::string_view what) const {
    if (!v.is_object()) return malformed(std::string(what) + " is not an object");
    return &v.get_object();
  }

  Result<const json::object*> member_object(const json::object& obj, std::string_view key) const {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr) return malformed("'" + std::string(key) + "' is missing");
    return object(*v, "'" + std::string(key) + "'");
  }

  static std::string excerpt(std::string_view body) {
    constexpr std::size_t kShown = 80;
    std::string out = "'";
    for (char c : body.substr(0, kShown)) {
      out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
    }
    if (body.size() > kShown) out += "...";
    out += "'";
    if (body.empty()) return "empty";
    return "with " + out;
  }

 private:
  std::string_view op_;
  json::monotonic_resource arena_{16 * 1024};
  json::value value_ = json::value(json::storage_ptr(&arena_));
};

bool is_json_content_type(std::string_view value) {
  auto semicolon = value.find(';');
  std::string_view type = value.substr(0, semicolon);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  auto lower_equals = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      char c = a[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != b[i]) return false;
    }
    return true;
  };
  return lower_equals(type, "application/x-amz-json-1.1") ||
         lower_equals(type, "application/x-amz-json-1.0") || lower_equals(type, "application/json");
}

Error error_from_response(std::string_view op, const aws::HttpResponse& response) {
  // AWS and both emulators: {"__type": "[ns#]Code", "message": "..."}. Some services spell it
  // "Message"; the code may also arrive in the x-amzn-ErrorType header.
  std::string code;
  std::string message;
  boost::system::error_code ec;
  json::value parsed = json::parse(response.body, ec);
  if (!ec && parsed.is_object()) {
    const json::object& obj = parsed.get_object();
    if (const json::value* type = obj.if_contains("__type"); type && type->is_string()) {
      code = std::string(strip_error_type_prefix(type->get_string()));
    }
    for (std::string_view key : {"message", "Message"}) {
      if (const json::value* m = obj.if_contains(key); m && m->is_string()) {
        message = std::string(m->get_string());
        break;
      }
    }
  }
  if (code.empty()) {
    if (std::string_view header = response.header("x-amzn-ErrorType"); !header.empty()) {
      code = std::string(strip_error_type_prefix(header));
    }
  }
  if (code.empty()) {
    // No AWS error body: a proxy, a load balancer or a size limit answered.
    const int status = response.status;
    std::string what = "HTTP " + std::to_string(status) + " without an AWS error body (" +
                       ResponseReader::excerpt(response.body) + ")";
    ErrorCode category = status >= 500   ? ErrorCode::kUnavailable
                         : status == 413 ? ErrorCode::kInvalidArgument
                         : status == 429 ? ErrorCode::kResourceExhausted
                         : status == 403 ? ErrorCode::kPermissionDenied
                                         : ErrorCode::kInvalidArgument;
    if (status == 413) what += ": the request body is too large for the endpoint";
    return make_error(category, "Kinesis " + std::string(op) + ": " + what);
  }
  return make_aws_error(op, code, message, response.status);
}

Result<Shard> read_shard(const ResponseReader& r, const json::value& v) {
  SHOAL_ASSIGN_OR_RETURN(const json::object* obj, r.object(v, "a shard"));
  Shard shard;
  SHOAL_ASSIGN_OR_RETURN(shard.shard_id, r.string(*obj, "ShardId", true));
  SHOAL_ASSIGN_OR_RETURN(shard.parent_shard_id, r.string(*obj, "ParentShardId", false));
  SHOAL_ASSIGN_OR_RETURN(shard.adjacent_parent_shard_id,
                         r.string(*obj, "AdjacentParentShardId", false));
  SHOAL_ASSIGN_OR_RETURN(const json::object* range, r.member_object(*obj, "HashKeyRange"));
  SHOAL_ASSIGN_OR_RETURN(shard.starting_hash_key, r.hash_key(*range, "StartingHashKey"));
  SHOAL_ASSIGN_OR_RETURN(shard.ending_hash_key, r.hash_key(*range, "EndingHashKey"));
  SHOAL_ASSIGN_OR_RETURN(const json::object* seq, r.member_object(*obj, "SequenceNumberRange"));
  SHOAL_ASSIGN_OR_RETURN(shard.starting_sequence_number,
                         r.sequence_number(*seq, "StartingSequenceNumber", true));
  SHOAL_ASSIGN_OR_RETURN(shard.ending_sequence_number,
                         r.sequence_number(*seq, "EndingSequenceNumber", false));
  return shard;
}

Status validate_stream_ref(const StreamRef& stream) {
  if (!stream.arn.empty() && !stream.name.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "give either a stream name or a stream ARN, not both");
  }
  if (!stream.arn.empty()) {
    if (stream.arn.rfind("arn:", 0) != 0 || stream.arn.find(":stream/") == std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "stream ARN '" + stream.arn +
                            "' is not of the form arn:<partition>:kinesis:<region>:<account>:"
                            "stream/<name>");
    }
    return validate_stream_name(stream.arn.substr(stream.arn.find(":stream/") + 8));
  }
  return validate_stream_name(stream.name);
}

Status validate_explicit_hash_key(std::string_view key) {
  if (key.empty()) return ok_status();
  if (auto parsed = parse_hash_key(key); !parsed.ok()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ExplicitHashKey: " + parsed.error().message);
  }
  return ok_status();
}

Status validate_partition_key(std::string_view key) {
  // The service counts Unicode characters (1..256); bytes bound that from above by 4x.
  std::size_t characters = 0;
  for (char c : key) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++characters;
  }
  if (characters < 1 || characters > 256) {
    return make_error(ErrorCode::kInvalidArgument,
                      "partition key must have 1 to 256 characters, has " +
                          std::to_string(characters));
  }
  return ok_status();
}

}  // namespace

// ---- Public helpers ------------------------------------------------------------------------

Status validate_stream_name(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return make_error(ErrorCode::kInvalidArgument,
                      "stream name must have 1 to 128 characters, has " +
                          std::to_string(name.size()));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return make_error(ErrorCode::kInvalidArgument,
                        "stream name '" + std::string(name) +
                            "' may contain only letters, digits, '_', '.' and '-'");
    }
  }
  return ok_status();
}

Result<ShardMap> make_shard_map(const std::vector<Shard>& shards) {
  std::vector<ShardRange> ranges;
  for (const Shard& shard : shards) {
    if (!shard.open()) continue;
    SHOAL_ASSIGN_OR_RETURN(HashKey start, parse_hash_key(shard.starting_hash_key));
    SHOAL_ASSIGN_OR_RETURN(HashKey end, parse_hash_key(shard.ending_hash_key));
    ranges.push_back({shard.shard_id, start, end});
  }
  return ShardMap::build(std::move(ranges));
}

std::string kinesis_endpoint_for_region(std::string_view region) {
  std::string endpoint = "https://kinesis." + std::string(region) + ".amazonaws.com";
  if (region.rfind("cn-", 0) == 0) endpoint += ".cn";
  return endpoint;
}

// ---- KinesisClient -------------------------------------------------------------------------

KinesisClient::KinesisClient(KinesisClientOptions options, aws::HttpClient& http,
                             aws::CredentialsProvider& credentials, const Clock& clock,
                             aws::RetryPolicy* retry_policy, aws::Sleeper* sleeper)
    : region_(options.region),
      endpoint_(options.endpoint.empty() ? kinesis_endpoint_for_region(options.region)
                                         : options.endpoint),
      http_(http),
      credentials_(credentials),
      clock_(clock),
      signer_(options.region, "kinesis"),
      retry_policy_(retry_policy),
      sleeper_(sleeper) {
  assert((retry_policy_ == nullptr) == (sleeper_ == nullptr));
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
}

Result<std::string> KinesisClient::call(std::string_view operation, std::string body) {
  aws::HttpRequest request;
  request.method = "POST";
  request.url = endpoint_ + "/";
  request.headers.reserve(6);
  request.headers.emplace_back("Content-Type", std::string(kContentType));
  request.headers.emplace_back("X-Amz-Target",
                               std::string(kTargetPrefix) + std::string(operation));
  request.body = std::move(body);
  AttemptOutcome outcome;
  if (retry_policy_ == nullptr) return attempt(operation, request, outcome);
  return aws::run_with_retries<std::string>(
      *retry_policy_, *sleeper_,
      [&] {
        outcome = AttemptOutcome{};
        return attempt(operation, request, outcome);
      },
      [&](const Result<std::string>& result) {
        if (result.ok()) return aws::RetryClass::kNone;
        if (outcome.transport_error) return aws::classify_transport_error(*outcome.transport_error);
        if (outcome.http_status != 0) {
          return aws::classify_aws_error(outcome.http_status, outcome.aws_code);
        }
        return aws::RetryClass::kNone;  // credentials or an unreadable 200: retrying won't help
      });
}

Result<std::string> KinesisClient::attempt(std::string_view operation, aws::HttpRequest& request,
                                           AttemptOutcome& outcome) {
  const TimestampMs now = clock_.now_ms();
  auto credentials = credentials_.get(now);
  if (!credentials.ok()) {
    return credentials.take_error().with_context("Kinesis " + std::string(operation) +
                                                 ": credentials");
  }
  signer_.sign(request, *credentials, now);  // replaces an earlier attempt's signature

  auto sent = http_.send(request);
  if (!sent.ok()) {
    outcome.transport_error = sent.error();
    return sent.take_error().with_context("Kinesis " + std::string(operation));
  }
  aws::HttpResponse& response = *sent;
  outcome.http_status = response.status;
  if (response.status != 200) {
    Error error = error_from_response(operation, response);
    outcome.aws_code = std::string(aws_error_code(error));
    return error;
  }
  if (!is_json_content_type(response.header("Content-Type"))) {
    std::string_view type = response.header("Content-Type");
    return make_error(ErrorCode::kCorruption,
                      "Kinesis " + std::string(operation) +
                          ": the response's Content-Type is '" + std::string(type) +
                          "', not application/x-amz-json-1.1; is the endpoint " + endpoint_ +
                          " a Kinesis endpoint?");
  }
  return std::move(response.body);
}

Result<std::vector<std::string>> KinesisClient::list_streams() {
  static constexpr std::string_view kOp = "ListStreams";
  ResponseReader r(kOp);
  std::vector<std::string> names;
  std::string next_token;
  for (int page = 0; page < kMaxListPages; ++page) {
    JsonWriter w;
    w.begin_object();
    if (!next_token.empty()) {
      w.string("NextToken", next_token);
    } else if (!names.empty()) {
      // Emulators without NextToken paginate by ExclusiveStartStreamName.
      w.string("ExclusiveStartStreamName", names.back());
    }
    w.end_object();
    SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));
    SHOAL_ASSIGN_OR_RETURN(const json::object* obj, r.parse(body));
    SHOAL_ASSIGN_OR_RETURN(const json::array* stream_names, r.array(*obj, "StreamNames", true));
    for (const json::value& v : *stream_names) {
      if (!v.is_string()) return r.malformed("'StreamNames' holds a non-string");
      names.emplace_back(v.get_string());
    }
    const json::value* more = obj->if_contains("HasMoreStreams");
    if (more == nullptr || !more->is_bool()) return r.malformed("'HasMoreStreams' is missing");
    SHOAL_ASSIGN_OR_RETURN(next_token, r.string(*obj, "NextToken", false));
    if (!more->get_bool()) return names;
    if (stream_names->empty() && next_token.empty()) {
      return r.malformed("HasMoreStreams is true but the page is empty and has no NextToken");
    }
  }
  return r.malformed("more than 100000 pages");
}

Result<std::vector<Shard>> KinesisClient::list_shards(const ListShardsRequest& request) {
  static constexpr std::string_view kOp = "ListShards";
  SHOAL_RETURN_IF_ERROR(validate_stream_ref(request.stream));
  if (request.max_results < 0 || request.max_results > 10000) {
    return make_error(ErrorCode::kInvalidArgument, "ListShards max_results must be 0..10000");
  }
  ResponseReader r(kOp);
  std::vector<Shard> shards;
  std::string next_token;
  for (int page = 0; page < kMaxListPages; ++page) {
    JsonWriter w;
    w.begin_object();
    if (next_token.empty()) {
      // NextToken cannot be combined with StreamName, ExclusiveStartShardId or the filter.
      w.stream(request.stream);
      if (!request.exclusive_start_shard_id.empty()) {
        w.string("ExclusiveStartShardId", request.exclusive_start_shard_id);
      }
      if (request.filter) {
        w.begin_object_key("ShardFilter");
        w.string("Type", shard_filter_type_name(request.filter->type));
        if (!request.filter->shard_id.empty()) w.string("ShardId", request.filter->shard_id);
        if (request.filter->timestamp) {
          w.raw_number("Timestamp", epoch_seconds_literal(*request.filter->timestamp));
        }
        w.end_object();
      }
    } else {
      w.string("NextToken", next_token);
      // kinesis-mock wants the stream on every page when StreamARN is used; AWS accepts it.
      if (!request.stream.arn.empty()) w.stream(request.stream);
    }
    if (request.max_results > 0) {
      w.raw_number("MaxResults", std::to_string(request.max_results));
    }
    w.end_object();
    SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));
    SHOAL_ASSIGN_OR_RETURN(const json::object* obj, r.parse(body));
    SHOAL_ASSIGN_OR_RETURN(const json::array* page_shards, r.array(*obj, "Shards", true));
    for (const json::value& v : *page_shards) {
      SHOAL_ASSIGN_OR_RETURN(Shard shard, read_shard(r, v));
      shards.push_back(std::move(shard));
    }
    SHOAL_ASSIGN_OR_RETURN(next_token, r.string(*obj, "NextToken", false));
    if (next_token.empty()) return shards;
  }
  return r.malformed("more than 100000 pages");
}

Result<StreamSummary> KinesisClient::describe_stream_summary(const StreamRef& stream) {
  static constexpr std::string_view kOp = "DescribeStreamSummary";
  SHOAL_RETURN_IF_ERROR(validate_stream_ref(stream));
  JsonWriter w;
  w.begin_object().stream(stream).end_object();
  SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));
  ResponseReader r(kOp);
  SHOAL_ASSIGN_OR_RETURN(const json::object* obj, r.parse(body));
  SHOAL_ASSIGN_OR_RETURN(const json::object* d, r.member_object(*obj, "StreamDescriptionSummary"));
  StreamSummary s;
  SHOAL_ASSIGN_OR_RETURN(s.stream_name, r.string(*d, "StreamName", true));
  SHOAL_ASSIGN_OR_RETURN(s.stream_arn, r.string(*d, "StreamARN", true));
  SHOAL_ASSIGN_OR_RETURN(s.stream_status, r.string(*d, "StreamStatus", true));
  if (const json::value* mode = d->if_contains("StreamModeDetails"); mode && mode->is_object()) {
    SHOAL_ASSIGN_OR_RETURN(s.stream_mode, r.string(mode->get_object(), "StreamMode", false));
  }
  SHOAL_ASSIGN_OR_RETURN(s.retention_period_hours, r.integer(*d, "RetentionPeriodHours", false));
  SHOAL_ASSIGN_OR_RETURN(s.stream_creation_timestamp,
                         r.epoch_seconds(*d, "StreamCreationTimestamp", false));
  SHOAL_ASSIGN_OR_RETURN(s.encryption_type, r.string(*d, "EncryptionType", false));
  SHOAL_ASSIGN_OR_RETURN(s.open_shard_count, r.integer(*d, "OpenShardCount", false));
  SHOAL_ASSIGN_OR_RETURN(s.consumer_count, r.integer(*d, "ConsumerCount", false));
  return s;
}

Result<std::string> KinesisClient::get_shard_iterator(const GetShardIteratorRequest& request) {
  static constexpr std::string_view kOp = "GetShardIterator";
  SHOAL_RETURN_IF_ERROR(validate_stream_ref(request.stream));
  if (request.shard_id.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "GetShardIterator needs a shard id");
  }
  JsonWriter w;
  w.begin_object().stream(request.stream);
  w.string("ShardId", request.shard_id);
  w.string("ShardIteratorType", shard_iterator_type_name(request.type));
  if (request.type == ShardIteratorType::kAtSequenceNumber ||
      request.type == ShardIteratorType::kAfterSequenceNumber) {
    if (Status valid = validate_sequence_number(request.starting_sequence_number); !valid.ok()) {
      return valid.take_error().with_context("GetShardIterator StartingSequenceNumber");
    }
    w.string("StartingSequenceNumber", request.starting_sequence_number);
  } else if (request.type == ShardIteratorType::kAtTimestamp) {
    w.raw_number("Timestamp", epoch_seconds_literal(request.timestamp));
  }
  w.end_object();
  SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));
  ResponseReader r(kOp);
  SHOAL_ASSIGN_OR_RETURN(const json::object* obj, r.parse(body));
  return r.string(*obj, "ShardIterator", true);
}

Result<GetRecordsResult> KinesisClient::get_records(std::string_view shard_iterator, int limit,
                                                    std::string_view stream_arn) {
  static constexpr std::string_view kOp = "GetRecords";
  if (shard_iterator.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "GetRecords needs a shard iterator");
  }
  if (limit < 0 || limit > 10000) {
    return make_error(ErrorCode::kInvalidArgument, "GetRecords limit must be 0..10000");
  }
  JsonWriter w;
  w.begin_object().string("ShardIterator", shard_iterator);
  if (limit > 0) w.raw_number("Limit", std::to_string(limit));
  if (!stream_arn.empty()) w.string("StreamARN", stream_arn);
  w.end_object();
  SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));
  ResponseReader r(kOp);
  SHOAL_ASSIGN_OR_RETURN(const json::object* obj, r.parse(body));
  GetRecordsResult result;
  SHOAL_ASSIGN_OR_RETURN(const json::array* records, r.array(*obj, "Records", true));
  result.records.reserve(records->size());
  for (const json::value& v : *records) {
    SHOAL_ASSIGN_OR_RETURN(const json::object* rec, r.object(v, "a record"));
    Record record;
    SHOAL_ASSIGN_OR_RETURN(record.sequence_number, r.sequence_number(*rec, "SequenceNumber", true));
    SHOAL_ASSIGN_OR_RETURN(record.approximate_arrival_timestamp,
                           r.epoch_seconds(*rec, "ApproximateArrivalTimestamp", false));
    SHOAL_ASSIGN_OR_RETURN(std::string data, r.string(*rec, "Data", true));
    auto decoded = base64_decode(data);
    if (!decoded.ok()) {
      return r.malformed("record " + record.sequence_number + " Data: " +
                         decoded.error().message);
    }
    record.data = std::move(*decoded);
    SHOAL_ASSIGN_OR_RETURN(record.partition_key, r.string(*rec, "PartitionKey", true));
    SHOAL_ASSIGN_OR_RETURN(record.encryption_type, r.string(*rec, "EncryptionType", false));
    result.records.push_back(std::move(record));
  }
  SHOAL_ASSIGN_OR_RETURN(std::string next, r.string(*obj, "NextShardIterator", false));
  if (!next.empty()) result.next_shard_iterator = std::move(next);
  SHOAL_ASSIGN_OR_RETURN(result.millis_behind_latest, r.integer(*obj, "MillisBehindLatest", false));
  SHOAL_ASSIGN_OR_RETURN(const json::array* children, r.array(*obj, "ChildShards", false));
  for (const json::value& v : *children) {
    SHOAL_ASSIGN_OR_RETURN(const json::object* c, r.object(v, "a child shard"));
    ChildShard child;
    SHOAL_ASSIGN_OR_RETURN(child.shard_id, r.string(*c, "ShardId", true));
    SHOAL_ASSIGN_OR_RETURN(const json::array* parents, r.array(*c, "ParentShards", false));
    for (const json::value& p : *parents) {
      if (!p.is_string()) return r.malformed("'ParentShards' holds a non-string");
      child.parent_shards.emplace_back(p.get_string());
    }
    SHOAL_ASSIGN_OR_RETURN(const json::object* range, r.member_object(*c, "HashKeyRange"));
    SHOAL_ASSIGN_OR_RETURN(child.starting_hash_key, r.hash_key(*range, "StartingHashKey"));
    SHOAL_ASSIGN_OR_RETURN(child.ending_hash_key, r.hash_key(*range, "EndingHashKey"));
    result.child_shards.push_back(std::move(child));
  }
  return result;
}

Result<PutRecordResult> KinesisClient::put_record(const PutRecordRequest& request) {
  static constexpr std::string_view kOp = "PutRecord";
  SHOAL_RETURN_IF_ERROR(validate_stream_ref(request.stream));
  SHOAL_RETURN_IF_ERROR(validate_partition_key(request.partition_key));
  SHOAL_RETURN_IF_ERROR(validate_explicit_hash_key(request.explicit_hash_key));
  if (!request.sequence_number_for_ordering.empty()) {
    SHOAL_RETURN_IF_ERROR(validate_sequence_number(request.sequence_number_for_ordering));
  }
  JsonWriter w(request.data.size() * 4 / 3 + 256);
  w.begin_object().stream(request.stream);
  w.base64("Data", request.data);
  w.string("PartitionKey", request.partition_key);
  if (!request.explicit_hash_key.empty()) w.string("ExplicitHashKey", request.explicit_hash_key);
  if (!request.sequence_number_for_ordering.empty()) {
    w.string("SequenceNumberForOrdering", request.sequence_number_for_ordering);
  }
  w.end_object();
  SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));
  ResponseReader r(kOp);
  SHOAL_ASSIGN_OR_RETURN(const json::object* obj, r.parse(body));
  PutRecordResult result;
  SHOAL_ASSIGN_OR_RETURN(result.shard_id, r.string(*obj, "ShardId", true));
  SHOAL_ASSIGN_OR_RETURN(result.sequence_number, r.sequence_number(*obj, "SequenceNumber", true));
  SHOAL_ASSIGN_OR_RETURN(result.encryption_type, r.string(*obj, "EncryptionType", false));
  return result;
}

Result<PutRecordsResult> KinesisClient::put_records(const StreamRef& stream,
                                                    std::span<const PutRecordsEntry> entries) {
  static constexpr std::string_view kOp = "PutRecords";
  SHOAL_RETURN_IF_ERROR(validate_stream_ref(stream));
  if (entries.empty() || entries.size() > kMaxPutRecordsEntries) {
    return make_error(ErrorCode::kInvalidArgument,
                      "PutRecords takes 1 to 500 records, got " + std::to_string(entries.size()));
  }
  std::size_t estimate = 128;
  for (const PutRecordsEntry& e : entries) {
    SHOAL_RETURN_IF_ERROR(validate_partition_key(e.partition_key));
    SHOAL_RETURN_IF_ERROR(validate_explicit_hash_key(e.explicit_hash_key));
    estimate += (e.data.size() + 2) / 3 * 4 + e.partition_key.size() + e.explicit_hash_key.size() +
                64;
  }
  JsonWriter w(estimate);
  w.begin_object().stream(stream).begin_array("Records");
  for (const PutRecordsEntry& e : entries) {
    w.begin_object();
    w.base64("Data", e.data);
    w.string("PartitionKey", e.partition_key);
    if (!e.explicit_hash_key.empty()) w.string("ExplicitHashKey", e.explicit_hash_key);
    w.end_object();
  }
  w.end_array().end_object();
  SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));

  ResponseReader r(kOp);
  SHOAL_ASSIGN_OR_RETURN(const json::object* obj, r.parse(body));
  PutRecordsResult result;
  SHOAL_ASSIGN_OR_RETURN(result.failed_record_count, r.integer(*obj, "FailedRecordCount", false));
  SHOAL_ASSIGN_OR_RETURN(result.encryption_type, r.string(*obj, "EncryptionType", false));
  SHOAL_ASSIGN_OR_RETURN(const json::array* records, r.array(*obj, "Records", true));
  if (records->size() != entries.size()) {
    return r.malformed(std::to_string(records->size()) + " results for " +
                       std::to_string(entries.size()) + " records");
  }
  result.records.reserve(records->size());
  std::int64_t failed = 0;
  for (const json::value& v : *records) {
    SHOAL_ASSIGN_OR_RETURN(const json::object* rec, r.object(v, "a result entry"));
    PutRecordsResultEntry entry;
    SHOAL_ASSIGN_OR_RETURN(entry.error_code, r.string(*rec, "ErrorCode", false));
    if (entry.error_code.empty()) {
      SHOAL_ASSIGN_OR_RETURN(entry.shard_id, r.string(*rec, "ShardId", true));
      SHOAL_ASSIGN_OR_RETURN(entry.sequence_number,
                             r.sequence_number(*rec, "SequenceNumber", true));
    } else {
      ++failed;
      SHOAL_ASSIGN_OR_RETURN(entry.error_message, r.string(*rec, "ErrorMessage", false));
    }
    result.records.push_back(std::move(entry));
  }
  if (failed != result.failed_record_count) {
    return r.malformed("FailedRecordCount is " + std::to_string(result.failed_record_count) +
                       " but " + std::to_string(failed) + " entries carry an ErrorCode");
  }
  return result;
}

Status KinesisClient::create_stream(const CreateStreamRequest& request) {
  static constexpr std::string_view kOp = "CreateStream";
  SHOAL_RETURN_IF_ERROR(validate_stream_name(request.stream_name));
  JsonWriter w;
  w.begin_object().string("StreamName", request.stream_name);
  if (request.on_demand) {
    w.begin_object_key("StreamModeDetails").string("StreamMode", "ON_DEMAND").end_object();
  } else {
    if (request.shard_count < 1) {
      return make_error(ErrorCode::kInvalidArgument, "CreateStream needs at least one shard");
    }
    w.raw_number("ShardCount", std::to_string(request.shard_count));
  }
  w.end_object();
  SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));
  (void)body;
  return ok_status();
}

Status KinesisClient::delete_stream(const StreamRef& stream, bool enforce_consumer_deletion) {
  static constexpr std::string_view kOp = "DeleteStream";
  SHOAL_RETURN_IF_ERROR(validate_stream_ref(stream));
  JsonWriter w;
  w.begin_object().stream(stream);
  if (enforce_consumer_deletion) w.boolean("EnforceConsumerDeletion", true);
  w.end_object();
  SHOAL_ASSIGN_OR_RETURN(std::string body, call(kOp, w.take()));
  (void)body;
  return ok_status();
}

}  // namespace shoal::kinesis
