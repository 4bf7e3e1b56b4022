#include "tests/support/kinesis_null_sink.h"

#include <boost/json.hpp>

#include <cstdio>
#include <vector>

#include "tests/support/kinesis_fault_proxy.h"

namespace shoal::test {
namespace {

namespace json = boost::json;

constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";
constexpr std::string_view kContentType = "application/x-amz-json-1.1";
// Sequence numbers look like Kinesis's 56-digit ones: a fixed prefix and a growing counter.
constexpr std::string_view kSequencePrefix = "495903382714902566085596925383615710";

std::string shard_id_for(int index) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "shardId-%012d", index);
  return buffer;
}

TestHttpResponse amz_json(std::string body) {
  return TestHttpResponse::text(200, std::move(body), std::string(kContentType));
}

}  // namespace

KinesisNullSink::KinesisNullSink(int shard_count)
    : server_([this](const TestHttpRequest& request) { return handle(request); }) {
  if (shard_count < 1) shard_count = 1;
  std::vector<kinesis::ShardRange> ranges;
  const kinesis::Uint128 max = kinesis::HashKey::max().value;
  const kinesis::Uint128 width = max / static_cast<kinesis::Uint128>(shard_count);
  for (int i = 0; i < shard_count; ++i) {
    const kinesis::Uint128 start = width * static_cast<kinesis::Uint128>(i);
    const kinesis::Uint128 end = i == shard_count - 1 ? max : start + width - 1;
    ranges.push_back({shard_id_for(i), kinesis::HashKey{start}, kinesis::HashKey{end}});
  }
  auto built = kinesis::ShardMap::build(std::move(ranges));
  if (built.ok()) shards_ = std::move(*built);
}

KinesisNullSink::~KinesisNullSink() { stop(); }

Status KinesisNullSink::start() { return server_.start(); }
void KinesisNullSink::stop() { server_.stop(); }

void KinesisNullSink::append_entry_result(std::string_view partition_key,
                                          std::string_view explicit_hash_key, std::string& out) {
  kinesis::HashKey hash = kinesis::hash_partition_key(partition_key);
  if (!explicit_hash_key.empty()) {
    if (auto parsed = kinesis::parse_hash_key(explicit_hash_key); parsed.ok()) hash = *parsed;
  }
  const kinesis::ShardRange* shard = shards_.find(hash);
  char sequence[32];
  std::snprintf(sequence, sizeof(sequence), "%020llu",
                static_cast<unsigned long long>(sequence_.fetch_add(1, std::memory_order_relaxed)));
  out += R"({"SequenceNumber":")";
  out += kSequencePrefix;
  out += sequence;
  out += R"(","ShardId":")";
  out += shard != nullptr ? shard->shard_id : shard_id_for(0);
  out += R"("})";
}

TestHttpResponse KinesisNullSink::handle(const TestHttpRequest& request) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  std::string_view target = request.header("X-Amz-Target");
  if (target.substr(0, kTargetPrefix.size()) != kTargetPrefix) {
    return kinesis_error_response(400, "UnknownOperationException", "");
  }
  const std::string_view operation = target.substr(kTargetPrefix.size());
  boost::system::error_code ec;
  json::value parsed = json::parse(request.body, ec);
  if (ec || !parsed.is_object()) {
    return kinesis_error_response(400, "SerializationException", "Malformed request body");
  }
  const json::object& body = parsed.as_object();
  auto string_field = [](const json::object& obj, std::string_view key) -> std::string_view {
    const json::value* v = obj.if_contains(key);
    return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
  };

  if (operation == "PutRecords") {
    const json::value* records = body.if_contains("Records");
    if (records == nullptr || !records->is_array() || records->as_array().empty() ||
        records->as_array().size() > 500) {
      return kinesis_error_response(400, "ValidationException",
                                    "1 validation error detected: Value at 'records' failed to "
                                    "satisfy constraint: Member must have length between 1 and "
                                    "500");
    }
    std::string out;
    out.reserve(32 + records->as_array().size() * 100);
    out += R"({"FailedRecordCount":0,"Records":[)";
    bool first = true;
    for (const json::value& entry : records->as_array()) {
      if (!entry.is_object()) {
        return kinesis_error_response(400, "SerializationException", "Malformed record");
      }
      if (!first) out += ',';
      first = false;
      append_entry_result(string_field(entry.as_object(), "PartitionKey"),
                          string_field(entry.as_object(), "ExplicitHashKey"), out);
    }
    out += R"(],"EncryptionType":"NONE"})";
    records_.fetch_add(records->as_array().size(), std::memory_order_relaxed);
    return amz_json(std::move(out));
  }
  if (operation == "PutRecord") {
    std::string out;
    append_entry_result(string_field(body, "PartitionKey"), string_field(body, "ExplicitHashKey"),
                        out);
    out.insert(out.size() - 1, R"(,"EncryptionType":"NONE")");
    records_.fetch_add(1, std::memory_order_relaxed);
    return amz_json(std::move(out));
  }
  const std::string name(string_field(body, "StreamName"));
  if (operation == "ListShards") {
    json::array shards;
    for (const kinesis::ShardRange& range : shards_.shards()) {
      json::object shard;
      shard["ShardId"] = range.shard_id;
      shard["HashKeyRange"] = {{"StartingHashKey", kinesis::format_hash_key(range.starting_hash_key)},
                               {"EndingHashKey", kinesis::format_hash_key(range.ending_hash_key)}};
      shard["SequenceNumberRange"] = {
          {"StartingSequenceNumber", std::string(kSequencePrefix) + "00000000000000000000"}};
      shards.push_back(std::move(shard));
    }
    json::object out;
    out["Shards"] = std::move(shards);
    return amz_json(json::serialize(out));
  }
  if (operation == "DescribeStreamSummary") {
    json::object summary;
    summary["StreamName"] = name;
    summary["StreamARN"] = "arn:aws:kinesis:us-east-1:000000000000:stream/" + name;
    summary["StreamStatus"] = "ACTIVE";
    summary["StreamModeDetails"] = {{"StreamMode", "PROVISIONED"}};
    summary["RetentionPeriodHours"] = 24;
    summary["StreamCreationTimestamp"] = 1700000000;
    summary["EncryptionType"] = "NONE";
    summary["OpenShardCount"] = shards_.shards().size();
    summary["ConsumerCount"] = 0;
    json::object out;
    out["StreamDescriptionSummary"] = std::move(summary);
    return amz_json(json::serialize(out));
  }
  return kinesis_error_response(400, "UnknownOperationException",
                                "The null sink answers PutRecord(s), ListShards and "
                                "DescribeStreamSummary only");
}

}  // namespace shoal::test
