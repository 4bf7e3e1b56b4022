// The fault proxy (tests/support/kinesis_fault_proxy.h) in front of kinesalite, driven by the
// KinesisClient: each fault is observed as a client sees it, and what reaches the emulator is
// checked by reading the stream back directly.
#include "tests/support/kinesis_fault_proxy.h"

#include <gtest/gtest.h>

#include <set>

#include "kinesis/kinesis_client.h"
#include "kinesis/kinesis_error.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::kinesis {
namespace {

using shoal::test::KinesisEmulator;
using shoal::test::KinesisFaultProxy;
using shoal::test::KinesisTestClient;
using shoal::test::ShardThrottle;
using shoal::test::SignatureCheck;
using shoal::test::unique_stream_name;

class FaultProxyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!KinesisEmulator::unavailable_reason().empty()) return;
    emulator_ = new KinesisEmulator();
    Status started = emulator_->start();
    ASSERT_TRUE(started.ok()) << started.error().to_string();
  }
  static void TearDownTestSuite() {
    delete emulator_;
    emulator_ = nullptr;
  }
  void SetUp() override {
    if (std::string reason = KinesisEmulator::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
    ASSERT_NE(emulator_, nullptr);
    proxy_ = std::make_unique<KinesisFaultProxy>(emulator_->endpoint(), proxy_clock_);
    ASSERT_TRUE(proxy_->start().ok());
    direct_ = std::make_unique<KinesisTestClient>(emulator_->endpoint());
    via_proxy_ = std::make_unique<KinesisTestClient>(proxy_->endpoint());
  }

  StreamRef create_stream(int shards) {
    std::string name = unique_stream_name("fault");
    EXPECT_TRUE(direct_->client.create_stream({name, shards, false}).ok());
    StreamRef ref = StreamRef::by_name(name);
    for (int i = 0; i < 200; ++i) {
      auto s = direct_->client.describe_stream_summary(ref);
      if (s.ok() && s->stream_status == "ACTIVE") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return ref;
  }

  // Every record's data in the stream, read directly from the emulator.
  std::multiset<std::string> stored_data(const StreamRef& ref) {
    std::multiset<std::string> data;
    auto shards = direct_->client.list_shards({ref, {}, "", 0});
    EXPECT_TRUE(shards.ok());
    if (!shards.ok()) return data;
    for (const Shard& shard : *shards) {
      auto it = direct_->client.get_shard_iterator(
          {ref, shard.shard_id, ShardIteratorType::kTrimHorizon, "", 0});
      EXPECT_TRUE(it.ok());
      if (!it.ok()) continue;
      auto page = direct_->client.get_records(*it);
      EXPECT_TRUE(page.ok());
      if (!page.ok()) continue;
      for (const Record& r : page->records) data.insert(r.data);
    }
    return data;
  }

  static KinesisEmulator* emulator_;
  ManualClock proxy_clock_{WallClock().now_ms()};
  std::unique_ptr<KinesisFaultProxy> proxy_;
  std::unique_ptr<KinesisTestClient> direct_;
  std::unique_ptr<KinesisTestClient> via_proxy_;
};

KinesisEmulator* FaultProxyTest::emulator_ = nullptr;

TEST_F(FaultProxyTest, ThrottlesEachShardAndStoresOnlyAcceptedEntries) {
  StreamRef ref = create_stream(2);
  auto shards = direct_->client.list_shards({ref, {}, "", 0});
  ASSERT_TRUE(shards.ok());
  auto map = make_shard_map(*shards);
  ASSERT_TRUE(map.ok());
  proxy_->set_throttle(ShardThrottle{5, 1 << 20, 1.0});

  std::vector<std::string> keys;
  std::vector<PutRecordsEntry> entries;
  for (int i = 0; i < 30; ++i) keys.push_back("key-" + std::to_string(i));
  for (const std::string& key : keys) entries.push_back({key, key, {}});
  auto result = via_proxy_->client.put_records(ref, entries);
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  ASSERT_EQ(result->records.size(), 30u);

  // Per shard, the first 5 entries (in request order) pass and the rest are throttled.
  std::map<std::string, int> seen_per_shard;
  std::multiset<std::string> accepted;
  int throttled = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string shard = map->find_for_partition_key(keys[i])->shard_id;
    const int position = seen_per_shard[shard]++;
    const PutRecordsResultEntry& entry = result->records[i];
    if (position < 5) {
      ASSERT_TRUE(entry.ok()) << i << ": " << entry.error_code;
      EXPECT_EQ(entry.shard_id, shard);
      accepted.insert(keys[i]);
    } else {
      ASSERT_EQ(entry.error_code, "ProvisionedThroughputExceededException") << i;
      EXPECT_EQ(entry.error_message, "Rate exceeded for shard " + shard + " in stream " +
                                         ref.name + " under account 000000000000.");
      ++throttled;
    }
  }
  EXPECT_EQ(result->failed_record_count, throttled);
  EXPECT_EQ(accepted.size(), 10u);
  EXPECT_EQ(stored_data(ref), accepted);

  // A second later each bucket holds 5 records again.
  proxy_clock_.advance(1000);
  std::vector<PutRecordsEntry> again(entries.begin(), entries.begin() + 20);
  auto refilled = via_proxy_->client.put_records(ref, again);
  ASSERT_TRUE(refilled.ok());
  EXPECT_EQ(20 - refilled->failed_record_count, 10);
  EXPECT_EQ(proxy_->counters().entries_accepted, 20u);
}

TEST_F(FaultProxyTest, ThrottlesByBytesIncludingThePartitionKey) {
  StreamRef ref = create_stream(1);
  proxy_->set_throttle(ShardThrottle{1000, 100, 1.0});
  std::string data(45, 'd');  // 45 + 5-byte key = 50 bytes: two fit in 100
  std::vector<PutRecordsEntry> entries(3, PutRecordsEntry{data, "key-0", {}});
  auto result = via_proxy_->client.put_records(ref, entries);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->records[0].ok());
  EXPECT_TRUE(result->records[1].ok());
  EXPECT_EQ(result->records[2].error_code, "ProvisionedThroughputExceededException");
}

TEST_F(FaultProxyTest, ThrottledPutRecordIsAWholeCallError) {
  StreamRef ref = create_stream(1);
  proxy_->set_throttle(ShardThrottle{1, 1 << 20, 1.0});
  ASSERT_TRUE(via_proxy_->client.put_record({ref, "first", "k", {}, {}}).ok());
  auto second = via_proxy_->client.put_record({ref, "second", "k", {}, {}});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(aws_error_code(second.error()), "ProvisionedThroughputExceededException");
  EXPECT_EQ(stored_data(ref), std::multiset<std::string>{"first"});
}

TEST_F(FaultProxyTest, FailsEveryNthEntryWithInternalFailure) {
  StreamRef ref = create_stream(1);
  proxy_->set_fail_every_nth_entry(3);
  std::vector<std::string> data;
  for (int i = 0; i < 7; ++i) data.push_back("entry-" + std::to_string(i));
  std::vector<PutRecordsEntry> entries;
  for (const std::string& d : data) entries.push_back({d, "k", {}});
  auto result = via_proxy_->client.put_records(ref, entries);
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  EXPECT_EQ(result->failed_record_count, 2);
  std::multiset<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    if (i == 2 || i == 5) {
      EXPECT_EQ(result->records[i].error_code, "InternalFailure") << i;
      EXPECT_EQ(result->records[i].error_message, "Internal service failure.");
    } else {
      EXPECT_TRUE(result->records[i].ok()) << i;
      expected.insert(data[i]);
    }
  }
  EXPECT_EQ(stored_data(ref), expected);
}

TEST_F(FaultProxyTest, InjectedHttp500IsTransientAndRetried) {
  StreamRef ref = create_stream(1);
  proxy_->fail_next_requests(1, 500, "InternalFailure", "PutRecord");
  auto failed = via_proxy_->client.put_record({ref, "x", "k", {}, {}});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(aws_error_code(failed.error()), "InternalFailure");
  EXPECT_TRUE(via_proxy_->client.put_record({ref, "y", "k", {}, {}}).ok());

  // With a retry policy the same fault is invisible to the caller.
  proxy_->fail_next_requests(2, 503, "ServiceUnavailable", "");
  struct NoSleep final : aws::Sleeper {
    bool sleep_for(std::chrono::milliseconds) override { return true; }
  } sleeper;
  aws::SeededRandom random(7);
  aws::RetryPolicy policy({}, via_proxy_->clock, random);
  KinesisClient retrying({"us-east-1", proxy_->endpoint()}, via_proxy_->http,
                         via_proxy_->credentials, via_proxy_->clock, &policy, &sleeper);
  EXPECT_TRUE(retrying.put_record({ref, "z", "k", {}, {}}).ok());
  EXPECT_EQ(stored_data(ref), (std::multiset<std::string>{"y", "z"}));
}

TEST_F(FaultProxyTest, ConnectionResetIsATransportError) {
  proxy_->reset_next_requests(1);
  auto names = via_proxy_->client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kUnavailable) << names.error().to_string();
  EXPECT_TRUE(via_proxy_->client.list_streams().ok());
  EXPECT_EQ(proxy_->counters().injected_faults, 1u);
}

TEST_F(FaultProxyTest, SlowResponsesHitTheClientTimeout) {
  proxy_->set_response_delay(std::chrono::milliseconds(2000));
  aws::HttpClientOptions options = KinesisTestClient::default_http_options();
  options.request_timeout = std::chrono::milliseconds(200);
  KinesisTestClient impatient(proxy_->endpoint(), "us-east-1", options);
  auto names = impatient.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kTimeout) << names.error().to_string();
  proxy_->set_response_delay(std::chrono::milliseconds(0));
}

TEST_F(FaultProxyTest, IteratorsExpireAfterTheirLifetime) {
  StreamRef ref = create_stream(1);
  ASSERT_TRUE(direct_->client.put_record({ref, "r", "k", {}, {}}).ok());
  proxy_->set_iterator_lifetime(std::chrono::milliseconds(300000));
  auto it = via_proxy_->client.get_shard_iterator(
      {ref, "shardId-000000000000", ShardIteratorType::kTrimHorizon, "", 0});
  ASSERT_TRUE(it.ok());
  auto page = via_proxy_->client.get_records(*it);
  ASSERT_TRUE(page.ok()) << page.error().to_string();
  ASSERT_TRUE(page->next_shard_iterator.has_value());

  proxy_clock_.advance(300001);
  auto expired = via_proxy_->client.get_records(*page->next_shard_iterator);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(aws_error_code(expired.error()), "ExpiredIteratorException");
  EXPECT_NE(expired.error().message.find("tolerated delay of 300000 milliseconds"),
            std::string::npos);

  auto fresh = via_proxy_->client.get_shard_iterator(
      {ref, "shardId-000000000000", ShardIteratorType::kAfterSequenceNumber,
       page->records.at(0).sequence_number, 0});
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(via_proxy_->client.get_records(*fresh).ok());
}

class SignedFaultProxyTest : public FaultProxyTest {
 protected:
  void SetUp() override {
    FaultProxyTest::SetUp();
    if (IsSkipped()) return;
    proxy_clock_.set(WallClock().now_ms());
    proxy_->set_signature_check(
        SignatureCheck{test::kTestAccessKeyId, test::kTestSecretAccessKey, "us-east-1", ""});
  }
};

TEST_F(SignedFaultProxyTest, AcceptsCorrectlySignedRequests) {
  StreamRef ref = create_stream(1);
  ASSERT_TRUE(via_proxy_->client.put_record({ref, "signed", "k", {}, {}}).ok());
  std::vector<PutRecordsEntry> entries = {{"batch", "k\xc3\xa9", {}}};
  ASSERT_TRUE(via_proxy_->client.put_records(ref, entries).ok());
  EXPECT_EQ(proxy_->counters().signatures_refused, 0u);
}

TEST_F(SignedFaultProxyTest, RefusesAWrongSecret) {
  test::FixedCredentialsProvider wrong({test::kTestAccessKeyId, "not-the-secret", "", std::nullopt});
  KinesisClient client({"us-east-1", proxy_->endpoint()}, via_proxy_->http, wrong,
                       via_proxy_->clock);
  auto names = client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(aws_error_code(names.error()), "InvalidSignatureException");
  EXPECT_EQ(proxy_->counters().signatures_refused, 1u);
}

TEST_F(SignedFaultProxyTest, RefusesACredentialScopeForAnotherRegion) {
  KinesisTestClient wrong_region(proxy_->endpoint(), "eu-west-1");
  auto names = wrong_region.client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(aws_error_code(names.error()), "InvalidSignatureException");
  EXPECT_NE(names.error().message.find("Credential should be scoped to a valid region"),
            std::string::npos)
      << names.error().message;
}

TEST_F(SignedFaultProxyTest, RefusesASkewedClockWithAClockHint) {
  ManualClock skewed(WallClock().now_ms() - 10 * 60 * 1000);
  KinesisClient client({"us-east-1", proxy_->endpoint()}, via_proxy_->http,
                       via_proxy_->credentials, skewed);
  auto names = client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(names.error().message.find("Signature expired"), std::string::npos);
  EXPECT_NE(names.error().message.find("clock differs"), std::string::npos);
}

TEST_F(SignedFaultProxyTest, RefusesAnUnexpectedSessionToken) {
  proxy_->set_signature_check(SignatureCheck{test::kTestAccessKeyId, test::kTestSecretAccessKey,
                                             "us-east-1", "EXPECTEDTOKEN"});
  test::FixedCredentialsProvider other_token(
      {test::kTestAccessKeyId, test::kTestSecretAccessKey, "OTHERTOKEN", std::nullopt});
  KinesisClient client({"us-east-1", proxy_->endpoint()}, via_proxy_->http, other_token,
                       via_proxy_->clock);
  auto names = client.list_streams();
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(aws_error_code(names.error()), "UnrecognizedClientException");
}

TEST_F(FaultProxyTest, DeniesChosenOperationsOnly) {
  StreamRef ref = create_stream(1);
  proxy_->set_denied_operations({"PutRecords"});
  std::vector<PutRecordsEntry> entries = {{"d", "k", {}}};
  auto denied = via_proxy_->client.put_records(ref, entries);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(aws_error_code(denied.error()), "AccessDeniedException");
  EXPECT_NE(denied.error().message.find("kinesis:PutRecords"), std::string::npos);
  EXPECT_TRUE(via_proxy_->client.put_record({ref, "single", "k", {}, {}}).ok());
  EXPECT_TRUE(via_proxy_->client.list_shards({ref, {}, "", 0}).ok());
  EXPECT_EQ(stored_data(ref), std::multiset<std::string>{"single"});
}

}  // namespace
}  // namespace shoal::kinesis
