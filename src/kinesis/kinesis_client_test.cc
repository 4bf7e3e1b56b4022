// KinesisClient against a scripted HTTP server: the request format, response parsing, and every
// kind of bad answer (malformed, truncated, wrong type, oversized, AWS error bodies).
#include "kinesis/kinesis_client.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>

#include "kinesis/kinesis_error.h"
#include "tests/support/http_test_server.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::kinesis {
namespace {

using shoal::test::HttpTestServer;
using shoal::test::KinesisTestClient;
using shoal::test::TestHttpRequest;
using shoal::test::TestHttpResponse;
namespace json = boost::json;

TestHttpResponse amz_json(int status, std::string body) {
  return TestHttpResponse::text(status, std::move(body), "application/x-amz-json-1.1");
}

// A server answering every request with `respond`, recording what it received.
class ScriptedKinesis {
 public:
  explicit ScriptedKinesis(std::function<TestHttpResponse(const TestHttpRequest&)> respond)
      : server_([this, respond](const TestHttpRequest& request) {
          {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
          }
          return respond(request);
        }) {
    Status started = server_.start();
    EXPECT_TRUE(started.ok());
  }
  std::string endpoint() const { return server_.base_url(); }
  std::vector<TestHttpRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  json::object body_of(std::size_t i) { return json::parse(requests().at(i).body).as_object(); }

 private:
  std::mutex mutex_;
  std::vector<TestHttpRequest> requests_;
  HttpTestServer server_;
};

TEST(KinesisClientTest, SendsJson11SignedRequestToTheOperationTarget) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, R"({"StreamNames":["a"],"HasMoreStreams":false})");
  });
  KinesisTestClient k(server.endpoint(), "eu-west-1");
  auto names = k.client.list_streams();
  ASSERT_TRUE(names.ok()) << names.error().to_string();
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const TestHttpRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/");
  EXPECT_EQ(r.header("Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(r.header("X-Amz-Target"), "Kinesis_20131202.ListStreams");
  EXPECT_NE(r.header("X-Amz-Date"), "");
  std::string auth(r.header("Authorization"));
  EXPECT_EQ(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0), 0u) << auth;
  EXPECT_NE(auth.find("/eu-west-1/kinesis/aws4_request"), std::string::npos) << auth;
  EXPECT_NE(auth.find("x-amz-target"), std::string::npos) << auth;
  EXPECT_EQ(r.body, "{}");
}

TEST(KinesisClientTest, DefaultEndpointIsTheRegionalOne) {
  EXPECT_EQ(kinesis_endpoint_for_region("us-east-1"), "https://kinesis.us-east-1.amazonaws.com");
  EXPECT_EQ(kinesis_endpoint_for_region("cn-north-1"),
            "https://kinesis.cn-north-1.amazonaws.com.cn");
  test::FixedCredentialsProvider credentials;
  WallClock clock;
  aws::HttpClient http;
  KinesisClient client({"ap-southeast-2", ""}, http, credentials, clock);
  EXPECT_EQ(client.endpoint(), "https://kinesis.ap-southeast-2.amazonaws.com");
  KinesisClient overridden({"us-east-1", "http://127.0.0.1:4567/"}, http, credentials, clock);
  EXPECT_EQ(overridden.endpoint(), "http://127.0.0.1:4567");
}

TEST(KinesisClientTest, InvalidStreamNamesAreRejectedBeforeAnyCall) {
  ScriptedKinesis server([](const TestHttpRequest&) { return amz_json(200, "{}"); });
  KinesisTestClient k(server.endpoint());
  for (const std::string& bad : {std::string(""), std::string(129, 'a'), std::string("has space"),
                                 std::string("slash/name"), std::string("\xc3\xa9t\xc3\xa9")}) {
    Status created = k.client.create_stream({bad, 1, false});
    ASSERT_FALSE(created.ok()) << bad;
    EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
    auto described = k.client.describe_stream_summary(StreamRef::by_name(bad));
    EXPECT_FALSE(described.ok());
    std::string data = "x";
    auto put = k.client.put_record({StreamRef::by_name(bad), data, "pk", {}, {}});
    EXPECT_FALSE(put.ok());
  }
  EXPECT_TRUE(validate_stream_name(std::string(128, 'a')).ok());
  EXPECT_TRUE(validate_stream_name("a-b_c.D9").ok());
  auto bad_arn = k.client.describe_stream_summary(StreamRef::by_arn("not-an-arn"));
  EXPECT_FALSE(bad_arn.ok());
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST(KinesisClientTest, PutRecordsEncodesDataAsBase64AndReturnsResultsInOrder) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, R"({"FailedRecordCount":1,"Records":[
      {"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"},
      {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard shardId-000000000001 in stream s under account 000000000000."},
      {"SequenceNumber":"49590338271490256608559692538361571095921575989136588899","ShardId":"shardId-000000000002"}]})");
  });
  KinesisTestClient k(server.endpoint());
  const std::string binary("\x00\xff\x10\"\\", 5);
  std::vector<PutRecordsEntry> entries = {
      {binary, "pk-\"quoted\"", {}},
      {"second", "pk2", "170141183460469231731687303715884105728"},
      {"", "pk3", {}}};
  auto result = k.client.put_records(StreamRef::by_name("s"), entries);
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  EXPECT_EQ(result->failed_record_count, 1);
  ASSERT_EQ(result->records.size(), 3u);
  EXPECT_TRUE(result->records[0].ok());
  EXPECT_EQ(result->records[0].sequence_number,
            "49590338271490256608559692538361571095921575989136588898");
  EXPECT_EQ(result->records[0].shard_id, "shardId-000000000000");
  EXPECT_FALSE(result->records[1].ok());
  EXPECT_EQ(result->records[1].error_code, "ProvisionedThroughputExceededException");
  EXPECT_NE(result->records[1].error_message.find("Rate exceeded"), std::string::npos);
  EXPECT_TRUE(result->records[2].ok());
  EXPECT_EQ(result->records[2].shard_id, "shardId-000000000002");

  json::object body = server.body_of(0);
  EXPECT_EQ(body.at("StreamName").as_string(), "s");
  const json::array& records = body.at("Records").as_array();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].at("Data").as_string(), "AP8QIlw=");
  EXPECT_EQ(records[0].at("PartitionKey").as_string(), "pk-\"quoted\"");
  EXPECT_FALSE(records[0].as_object().contains("ExplicitHashKey"));
  EXPECT_EQ(records[1].at("ExplicitHashKey").as_string(),
            "170141183460469231731687303715884105728");
  EXPECT_EQ(records[2].at("Data").as_string(), "");
}

TEST(KinesisClientTest, PutRecordsRejectsAResultCountThatDoesNotMatchTheRequest) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, R"({"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"s"}]})");
  });
  KinesisTestClient k(server.endpoint());
  std::vector<PutRecordsEntry> entries = {{"a", "1", {}}, {"b", "2", {}}};
  auto result = k.client.put_records(StreamRef::by_name("s"), entries);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kCorruption);
  EXPECT_NE(result.error().message.find("1 results for 2 records"), std::string::npos);
}

TEST(KinesisClientTest, PutRecordsValidatesCountKeysAndHashKeysLocally) {
  ScriptedKinesis server([](const TestHttpRequest&) { return amz_json(200, "{}"); });
  KinesisTestClient k(server.endpoint());
  std::vector<PutRecordsEntry> none;
  EXPECT_FALSE(k.client.put_records(StreamRef::by_name("s"), none).ok());
  std::vector<PutRecordsEntry> too_many(501, PutRecordsEntry{"d", "k", {}});
  EXPECT_FALSE(k.client.put_records(StreamRef::by_name("s"), too_many).ok());
  std::vector<PutRecordsEntry> empty_key = {{"d", "", {}}};
  EXPECT_FALSE(k.client.put_records(StreamRef::by_name("s"), empty_key).ok());
  std::string long_key(257, 'k');
  std::vector<PutRecordsEntry> key_too_long = {{"d", long_key, {}}};
  EXPECT_FALSE(k.client.put_records(StreamRef::by_name("s"), key_too_long).ok());
  std::vector<PutRecordsEntry> bad_hash = {
      {"d", "k", "340282366920938463463374607431768211456"}};
  auto rejected = k.client.put_records(StreamRef::by_name("s"), bad_hash);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.error().message.find("ExplicitHashKey"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST(KinesisClientTest, GetRecordsDecodesDataTimestampsAndChildShards) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, R"({"Records":[
      {"SequenceNumber":"495903382714902566085596925383615710959215759891365888981234567890123456789","ApproximateArrivalTimestamp":1700000000.123,"Data":"aGVsbG8=","PartitionKey":"pk"},
      {"SequenceNumber":"7","ApproximateArrivalTimestamp":1700000001,"Data":"","PartitionKey":"\u00e9","EncryptionType":"KMS"}],
      "NextShardIterator":null,"MillisBehindLatest":1234,
      "ChildShards":[{"ShardId":"shardId-000000000002","ParentShards":["shardId-000000000000","shardId-000000000001"],
        "HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"340282366920938463463374607431768211455"}}]})");
  });
  KinesisTestClient k(server.endpoint());
  auto result = k.client.get_records("iterator-1", 25);
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  ASSERT_EQ(result->records.size(), 2u);
  EXPECT_EQ(result->records[0].sequence_number,
            "495903382714902566085596925383615710959215759891365888981234567890123456789");
  EXPECT_EQ(result->records[0].approximate_arrival_timestamp, 1700000000123);
  EXPECT_EQ(result->records[0].data, "hello");
  EXPECT_EQ(result->records[0].partition_key, "pk");
  EXPECT_EQ(result->records[1].approximate_arrival_timestamp, 1700000001000);
  EXPECT_EQ(result->records[1].partition_key, "\xc3\xa9");
  EXPECT_EQ(result->records[1].encryption_type, "KMS");
  EXPECT_FALSE(result->next_shard_iterator.has_value());
  EXPECT_EQ(result->millis_behind_latest, 1234);
  ASSERT_EQ(result->child_shards.size(), 1u);
  EXPECT_EQ(result->child_shards[0].shard_id, "shardId-000000000002");
  EXPECT_EQ(result->child_shards[0].parent_shards.size(), 2u);
  EXPECT_EQ(result->child_shards[0].ending_hash_key, "340282366920938463463374607431768211455");
  json::object body = server.body_of(0);
  EXPECT_EQ(body.at("ShardIterator").as_string(), "iterator-1");
  EXPECT_EQ(body.at("Limit").as_int64(), 25);
}

TEST(KinesisClientTest, GetShardIteratorSendsTypeSequenceNumberAndTimestamp) {
  ScriptedKinesis server(
      [](const TestHttpRequest&) { return amz_json(200, R"({"ShardIterator":"it"})"); });
  KinesisTestClient k(server.endpoint());
  GetShardIteratorRequest at_seq{StreamRef::by_name("s"), "shardId-000000000000",
                                 ShardIteratorType::kAfterSequenceNumber,
                                 "49590338271490256608559692538361571095921575989136588898", 0};
  ASSERT_TRUE(k.client.get_shard_iterator(at_seq).ok());
  GetShardIteratorRequest at_time{StreamRef::by_arn("arn:aws:kinesis:us-east-1:123456789012:stream/s"),
                                  "shardId-000000000000", ShardIteratorType::kAtTimestamp, "",
                                  1700000000123};
  auto it = k.client.get_shard_iterator(at_time);
  ASSERT_TRUE(it.ok());
  EXPECT_EQ(*it, "it");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body,
            R"({"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AFTER_SEQUENCE_NUMBER","StartingSequenceNumber":"49590338271490256608559692538361571095921575989136588898"})");
  EXPECT_EQ(requests[1].body,
            R"({"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1700000000.123})");
  GetShardIteratorRequest bad_seq{StreamRef::by_name("s"), "shardId-000000000000",
                                  ShardIteratorType::kAtSequenceNumber, "12x", 0};
  EXPECT_FALSE(k.client.get_shard_iterator(bad_seq).ok());
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(KinesisClientTest, ListShardsFollowsNextTokenWithoutRepeatingTheStreamName) {
  ScriptedKinesis server([](const TestHttpRequest& request) {
    json::object body = json::parse(request.body).as_object();
    auto shard = [](int i) {
      return R"({"ShardId":"shardId-00000000000)" + std::to_string(i) +
             R"(","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"340282366920938463463374607431768211455"},"SequenceNumberRange":{"StartingSequenceNumber":"1"}})";
    };
    if (!body.contains("NextToken")) {
      return amz_json(200, R"({"Shards":[)" + shard(0) + "," + shard(1) + R"(],"NextToken":"page2"})");
    }
    if (body.at("NextToken").as_string() == "page2") {
      return amz_json(200, R"({"Shards":[)" + shard(2) + R"(],"NextToken":"page3"})");
    }
    return amz_json(200, R"({"Shards":[)" + shard(3) + R"(]})");
  });
  KinesisTestClient k(server.endpoint());
  ListShardsRequest request{StreamRef::by_name("s"), ShardFilter{ShardFilterType::kAtLatest, "", {}},
                            "", 2};
  auto shards = k.client.list_shards(request);
  ASSERT_TRUE(shards.ok()) << shards.error().to_string();
  ASSERT_EQ(shards->size(), 4u);
  EXPECT_EQ((*shards)[3].shard_id, "shardId-000000000003");
  EXPECT_TRUE((*shards)[3].open());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].body,
            R"({"StreamName":"s","ShardFilter":{"Type":"AT_LATEST"},"MaxResults":2})");
  EXPECT_EQ(requests[1].body, R"({"NextToken":"page2","MaxResults":2})");
  EXPECT_EQ(requests[2].body, R"({"NextToken":"page3","MaxResults":2})");
}

TEST(KinesisClientTest, ListStreamsFollowsHasMoreStreams) {
  ScriptedKinesis server([](const TestHttpRequest& request) {
    json::object body = json::parse(request.body).as_object();
    if (!body.contains("NextToken")) {
      return amz_json(200, R"({"StreamNames":["a","b"],"HasMoreStreams":true,"NextToken":"t1"})");
    }
    return amz_json(200, R"({"StreamNames":["c"],"HasMoreStreams":false})");
  });
  KinesisTestClient k(server.endpoint());
  auto names = k.client.list_streams();
  ASSERT_TRUE(names.ok()) << names.error().to_string();
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(KinesisClientTest, HashKeysAndSequenceNumbersAreValidatedOnReceipt) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, R"({"Shards":[{"ShardId":"s0","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"340282366920938463463374607431768211456"},"SequenceNumberRange":{"StartingSequenceNumber":"1"}}]})");
  });
  KinesisTestClient k(server.endpoint());
  auto shards = k.client.list_shards({StreamRef::by_name("s"), {}, "", 0});
  ASSERT_FALSE(shards.ok());
  EXPECT_EQ(shards.error().code, ErrorCode::kCorruption);
  EXPECT_NE(shards.error().message.find("EndingHashKey"), std::string::npos);
  EXPECT_NE(shards.error().message.find("2^128-1"), std::string::npos);
}

TEST(KinesisClientTest, AwsErrorBodyBecomesTypedErrorWithCodeAndMessage) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(400, R"({"__type":"com.amazonaws.kinesis.v20131202#ResourceNotFoundException","message":"Stream nope under account 000000000000 not found."})");
  });
  KinesisTestClient k(server.endpoint());
  auto summary = k.client.describe_stream_summary(StreamRef::by_name("nope"));
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(aws_error_code(summary.error()), "ResourceNotFoundException");
  EXPECT_NE(summary.error().message.find("Stream nope under account 000000000000 not found."),
            std::string::npos);
  EXPECT_NE(summary.error().message.find("DescribeStreamSummary"), std::string::npos);
}

struct ErrorCase {
  int status;
  const char* type;
  ErrorCode expected;
  const char* hint;  // expected in the message
};

TEST(KinesisClientTest, ErrorCodesMapToCategoriesWithHints) {
  const ErrorCase cases[] = {
      {400, "ProvisionedThroughputExceededException", ErrorCode::kResourceExhausted, "Rate"},
      {400, "LimitExceededException", ErrorCode::kResourceExhausted, "Rate"},
      {400, "KMSThrottlingException", ErrorCode::kResourceExhausted, "Rate"},
      {500, "InternalFailure", ErrorCode::kUnavailable, "Rate"},
      {400, "AccessDeniedException", ErrorCode::kPermissionDenied, "Rate"},
      {400, "ExpiredTokenException", ErrorCode::kUnauthenticated, "session token has expired"},
      {400, "RequestTimeTooSkewed", ErrorCode::kUnauthenticated, "clock differs"},
      {400, "InvalidSignatureException", ErrorCode::kUnauthenticated, "secret access key"},
      {400, "UnrecognizedClientException", ErrorCode::kUnauthenticated, "access key id"},
      {400, "ExpiredIteratorException", ErrorCode::kFailedPrecondition, "expire after 5 minutes"},
      {400, "ResourceInUseException", ErrorCode::kFailedPrecondition, "Rate"},
      {400, "KMSDisabledException", ErrorCode::kFailedPrecondition, "Rate"},
      {400, "ValidationException", ErrorCode::kInvalidArgument, "Rate"},
      {400, "InvalidArgumentException", ErrorCode::kInvalidArgument, "Rate"},
      {503, "SomethingNew", ErrorCode::kUnavailable, "Rate"},
  };
  for (const ErrorCase& c : cases) {
    ScriptedKinesis server([&](const TestHttpRequest&) {
      return amz_json(c.status, std::string(R"({"__type":")") + c.type +
                                    R"(","message":"Rate or whatever"})");
    });
    KinesisTestClient k(server.endpoint());
    auto iterator = k.client.get_shard_iterator(
        {StreamRef::by_name("s"), "shardId-000000000000", ShardIteratorType::kLatest, "", 0});
    ASSERT_FALSE(iterator.ok()) << c.type;
    EXPECT_EQ(iterator.error().code, c.expected) << c.type << ": " << iterator.error().message;
    EXPECT_EQ(aws_error_code(iterator.error()), c.type);
    EXPECT_NE(iterator.error().message.find(c.hint), std::string::npos)
        << iterator.error().message;
  }
}

TEST(KinesisClientTest, OkWithNonJsonBodyIsACorruptionError) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, "<html>Service temporarily moved</html>");
  });
  KinesisTestClient k(server.endpoint());
  auto names = k.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kCorruption);
  EXPECT_NE(names.error().message.find("not JSON"), std::string::npos) << names.error().message;
  EXPECT_NE(names.error().message.find("<html>"), std::string::npos);
  EXPECT_EQ(aws_error_code(names.error()), "");
}

TEST(KinesisClientTest, TruncatedJsonIsACorruptionError) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, R"({"StreamNames":["a","b"],"HasMoreStr)");
  });
  KinesisTestClient k(server.endpoint());
  auto names = k.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kCorruption);
}

TEST(KinesisClientTest, BodyCutShortOfContentLengthIsATransportError) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    TestHttpResponse response =
        amz_json(200, R"({"StreamNames":["a","b","c","d"],"HasMoreStreams":false})");
    response.truncate_body = 10;
    return response;
  });
  KinesisTestClient k(server.endpoint());
  auto names = k.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kUnavailable) << names.error().to_string();
  EXPECT_NE(names.error().message.find("Kinesis ListStreams"), std::string::npos);
}

TEST(KinesisClientTest, WrongContentTypeIsRejected) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return TestHttpResponse::text(200, R"({"StreamNames":[],"HasMoreStreams":false})",
                                  "text/html");
  });
  KinesisTestClient k(server.endpoint());
  auto names = k.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kCorruption);
  EXPECT_NE(names.error().message.find("Content-Type is 'text/html'"), std::string::npos)
      << names.error().message;
}

TEST(KinesisClientTest, OversizedResponseIsResourceExhausted) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    std::string names;
    for (int i = 0; i < 5000; ++i) names += (i ? ",\"" : "\"") + std::string(100, 'a') + "\"";
    return amz_json(200, R"({"StreamNames":[)" + names + R"(],"HasMoreStreams":false})");
  });
  aws::HttpClientOptions options = KinesisTestClient::default_http_options();
  options.max_response_bytes = 64 * 1024;
  KinesisTestClient k(server.endpoint(), "us-east-1", options);
  auto names = k.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kResourceExhausted) << names.error().to_string();
}

TEST(KinesisClientTest, ErrorStatusWithoutAwsBodyNamesTheStatus) {
  ScriptedKinesis server([](const TestHttpRequest& request) {
    if (request.header("X-Amz-Target") == "Kinesis_20131202.PutRecords") {
      return TestHttpResponse::text(413, "", "text/plain");
    }
    return TestHttpResponse::text(502, "<html>Bad Gateway</html>", "text/html");
  });
  KinesisTestClient k(server.endpoint());
  auto names = k.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(names.error().message.find("HTTP 502"), std::string::npos);
  std::vector<PutRecordsEntry> entries = {{"d", "k", {}}};
  auto put = k.client.put_records(StreamRef::by_name("s"), entries);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(put.error().message.find("too large"), std::string::npos);
}

TEST(KinesisClientTest, SlowResponseTimesOut) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    TestHttpResponse response = amz_json(200, R"({"StreamNames":[],"HasMoreStreams":false})");
    response.delay = std::chrono::milliseconds(3000);
    return response;
  });
  aws::HttpClientOptions options = KinesisTestClient::default_http_options();
  options.request_timeout = std::chrono::milliseconds(300);
  KinesisTestClient k(server.endpoint(), "us-east-1", options);
  auto names = k.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kTimeout) << names.error().to_string();
}

TEST(KinesisClientTest, CredentialFailureIsReportedWithoutCallingTheService) {
  ScriptedKinesis server([](const TestHttpRequest&) { return amz_json(200, "{}"); });
  KinesisTestClient k(server.endpoint());
  k.credentials.fail_with(make_error(ErrorCode::kUnauthenticated, "no credentials found"));
  auto names = k.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(names.error().message.find("no credentials found"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST(KinesisClientTest, SessionTokenIsSentAndSigned) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, R"({"StreamNames":[],"HasMoreStreams":false})");
  });
  test::FixedCredentialsProvider credentials(
      {test::kTestAccessKeyId, test::kTestSecretAccessKey, "SESSIONTOKEN", std::nullopt});
  WallClock clock;
  aws::HttpClient http;
  KinesisClient client({"us-east-1", server.endpoint()}, http, credentials, clock);
  ASSERT_TRUE(client.list_streams().ok());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].header("X-Amz-Security-Token"), "SESSIONTOKEN");
  EXPECT_NE(requests[0].header("Authorization").find("x-amz-security-token"),
            std::string_view::npos);
}

TEST(KinesisErrorTest, AwsErrorCodeIsEmptyForClientSideErrors) {
  EXPECT_EQ(aws_error_code(make_error(ErrorCode::kTimeout, "Kinesis PutRecords: timed out")), "");
  EXPECT_EQ(aws_error_code(make_error(ErrorCode::kNotFound, "ResourceNotFoundException: x")),
            "ResourceNotFoundException");
  EXPECT_EQ(strip_error_type_prefix("a.b#Code"), "Code");
  EXPECT_EQ(strip_error_type_prefix("Code:http://internal.amazon.com/x"), "Code");
}

}  // namespace
}  // namespace shoal::kinesis

namespace shoal::kinesis {
namespace {

// Records the delays instead of sleeping.
class RecordingSleeper final : public aws::Sleeper {
 public:
  bool sleep_for(std::chrono::milliseconds delay) override {
    delays.push_back(delay);
    return true;
  }
  std::vector<std::chrono::milliseconds> delays;
};

struct RetryingClient {
  explicit RetryingClient(const std::string& endpoint)
      : random(42),
        policy(aws::RetryOptions{}, clock, random),
        client({"us-east-1", endpoint}, http, credentials, clock, &policy, &sleeper) {}
  test::FixedCredentialsProvider credentials;
  ManualClock clock{1700000000000};
  aws::SeededRandom random;
  RecordingSleeper sleeper;
  aws::RetryPolicy policy;
  aws::HttpClient http;
  KinesisClient client;
};

TEST(KinesisClientRetryTest, RetriesInternalFailureAndSignsEachAttempt) {
  std::atomic<int> calls{0};
  ScriptedKinesis server([&](const TestHttpRequest&) {
    if (++calls <= 2) {
      return amz_json(500, R"({"__type":"InternalFailure","message":"Internal service failure."})");
    }
    return amz_json(200, R"({"StreamNames":["s"],"HasMoreStreams":false})");
  });
  RetryingClient r(server.endpoint());
  auto names = r.client.list_streams();
  ASSERT_TRUE(names.ok()) << names.error().to_string();
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const TestHttpRequest& request : requests) {
    EXPECT_EQ(request.body, "{}");
    EXPECT_EQ(request.header("Authorization").substr(0, 16), "AWS4-HMAC-SHA256");
  }
  EXPECT_EQ(r.sleeper.delays.size(), 2u);
}

TEST(KinesisClientRetryTest, ThrottlingGivesUpAfterMaxAttemptsKeepingTheCode) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(400, R"({"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for shard shardId-000000000000."})");
  });
  RetryingClient r(server.endpoint());
  std::string data = "d";
  auto put = r.client.put_record({StreamRef::by_name("s"), data, "k", {}, {}});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(aws_error_code(put.error()), "ProvisionedThroughputExceededException");
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(KinesisClientRetryTest, ValidationAndAccessErrorsAreNotRetried) {
  for (const char* type : {"ValidationException", "AccessDeniedException",
                           "ResourceNotFoundException", "ExpiredIteratorException"}) {
    ScriptedKinesis server([&](const TestHttpRequest&) {
      return amz_json(400, std::string(R"({"__type":")") + type + R"(","message":"no"})");
    });
    RetryingClient r(server.endpoint());
    EXPECT_FALSE(r.client.list_streams().ok());
    EXPECT_EQ(server.requests().size(), 1u) << type;
    EXPECT_TRUE(r.sleeper.delays.empty());
  }
}

TEST(KinesisClientRetryTest, ConnectionResetIsRetried) {
  std::atomic<int> calls{0};
  ScriptedKinesis server([&](const TestHttpRequest&) {
    TestHttpResponse response = amz_json(200, R"({"StreamNames":[],"HasMoreStreams":false})");
    if (++calls == 1) response.reset = true;
    return response;
  });
  RetryingClient r(server.endpoint());
  auto names = r.client.list_streams();
  ASSERT_TRUE(names.ok()) << names.error().to_string();
  EXPECT_EQ(calls.load(), 2);
}

TEST(KinesisClientRetryTest, PartialPutRecordsFailureIsNotRetriedByTheClient) {
  ScriptedKinesis server([](const TestHttpRequest&) {
    return amz_json(200, R"({"FailedRecordCount":1,"Records":[{"ErrorCode":"InternalFailure","ErrorMessage":"Internal Service Failure"}]})");
  });
  RetryingClient r(server.endpoint());
  std::vector<PutRecordsEntry> entries = {{"d", "k", {}}};
  auto result = r.client.put_records(StreamRef::by_name("s"), entries);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->records[0].error_code, "InternalFailure");
  EXPECT_EQ(server.requests().size(), 1u);
}

}  // namespace
}  // namespace shoal::kinesis
