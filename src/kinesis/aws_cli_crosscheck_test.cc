// Cross-check with a real client: records shoal writes are read back by the AWS CLI, and records
// the AWS CLI writes are read by shoal, through kinesalite (and the SigV4-checking fault proxy,
// so the CLI's signatures are verified too). Skipped with a message when `aws` is not on PATH.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "kinesis/base64.h"
#include "kinesis/kinesis_client.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_fault_proxy.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::kinesis {
namespace {

namespace json = boost::json;
using shoal::test::KinesisEmulator;
using shoal::test::KinesisFaultProxy;
using shoal::test::KinesisTestClient;

bool aws_cli_on_path() {
  const char* path_env = std::getenv("PATH");
  if (path_env == nullptr) return false;
  std::stringstream dirs(path_env);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((std::filesystem::path(dir) / "aws").c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs the AWS CLI with dummy credentials (the test's known key pair) and no user config.
CommandResult run_aws(const std::string& endpoint, const std::string& arguments) {
  const std::string command =
      "env -u AWS_SESSION_TOKEN -u AWS_PROFILE AWS_ACCESS_KEY_ID=" +
      std::string(test::kTestAccessKeyId) +
      " AWS_SECRET_ACCESS_KEY=" + shell_quote(test::kTestSecretAccessKey) +
      " AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true"
      " AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="
      " aws --endpoint-url " + endpoint + " --output json " + arguments;  // stderr goes to the test log
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class AwsCliCrossCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!aws_cli_on_path()) GTEST_SKIP() << "the AWS CLI (aws) is not on PATH";
    if (std::string reason = KinesisEmulator::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
    ASSERT_TRUE(emulator_.start().ok()) << emulator_.output();
    proxy_ = std::make_unique<KinesisFaultProxy>(emulator_.endpoint(), clock_);
    ASSERT_TRUE(proxy_->start().ok());
    proxy_->set_signature_check(test::SignatureCheck{test::kTestAccessKeyId,
                                                     test::kTestSecretAccessKey, "us-east-1", ""});
    k_ = std::make_unique<KinesisTestClient>(proxy_->endpoint());
    CommandResult version = run_aws(proxy_->endpoint(), "--version");
    cli_v2_ = version.output.rfind("aws-cli/2.", 0) == 0;
    stream_ = test::unique_stream_name("cli");
    ASSERT_TRUE(k_->client.create_stream({stream_, 1, false}).ok());
  }

  // Every record of shard 0 as the CLI reads it: (data bytes, partition key).
  std::vector<std::pair<std::string, std::string>> cli_read_all() {
    std::vector<std::pair<std::string, std::string>> out;
    CommandResult it = run_aws(proxy_->endpoint(),
                               "kinesis get-shard-iterator --stream-name " + stream_ +
                                   " --shard-id shardId-000000000000 --shard-iterator-type "
                                   "TRIM_HORIZON");
    EXPECT_EQ(it.exit_code, 0) << it.output;
    if (it.exit_code != 0) return out;
    std::string iterator(json::parse(it.output).at("ShardIterator").as_string());
    CommandResult records = run_aws(proxy_->endpoint(),
                                    "kinesis get-records --shard-iterator " + shell_quote(iterator));
    EXPECT_EQ(records.exit_code, 0) << records.output;
    if (records.exit_code != 0) return out;
    const json::value parsed = json::parse(records.output);
    for (const json::value& r : parsed.at("Records").as_array()) {
      auto data = base64_decode(r.at("Data").as_string());
      EXPECT_TRUE(data.ok());
      out.emplace_back(data.ok() ? *data : "", std::string(r.at("PartitionKey").as_string()));
    }
    return out;
  }

  KinesisEmulator emulator_;
  WallClock clock_;
  std::unique_ptr<KinesisFaultProxy> proxy_;
  std::unique_ptr<KinesisTestClient> k_;
  bool cli_v2_ = false;
  std::string stream_;
};

TEST_F(AwsCliCrossCheckTest, RecordsShoalWritesAreReadBackByTheCli) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  std::vector<std::pair<std::string, std::string>> written = {
      {"{\"event\":\"page_view\",\"user\":\"u1\"}", "u1"},
      {binary, "binary-key"},
      {"caf\xc3\xa9", "\xc3\xa9t\xc3\xa9"}};
  ASSERT_TRUE(k_->client.put_record({StreamRef::by_name(stream_), written[0].first,
                                     written[0].second, {}, {}})
                  .ok());
  std::vector<PutRecordsEntry> entries = {{written[1].first, written[1].second, {}},
                                          {written[2].first, written[2].second, {}}};
  auto put = k_->client.put_records(StreamRef::by_name(stream_), entries);
  ASSERT_TRUE(put.ok()) << put.error().to_string();
  EXPECT_EQ(put->failed_record_count, 0);
  EXPECT_EQ(cli_read_all(), written);
  EXPECT_EQ(proxy_->counters().signatures_refused, 0u);
}

TEST_F(AwsCliCrossCheckTest, RecordsTheCliWritesAreReadByShoal) {
  // CLI v1 base64-encodes --data itself; v2 expects base64 unless told otherwise.
  const std::string binary_format = cli_v2_ ? " --cli-binary-format raw-in-base64-out" : "";
  CommandResult one = run_aws(proxy_->endpoint(),
                              "kinesis put-record --stream-name " + stream_ +
                                  " --partition-key cli-key --data " +
                                  shell_quote("{\"from\":\"aws cli\",\"n\":1}") + binary_format);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  std::string cli_sequence(json::parse(one.output).at("SequenceNumber").as_string());
  CommandResult two = run_aws(proxy_->endpoint(),
                              "kinesis put-record --stream-name " + stream_ +
                                  " --partition-key " + shell_quote("cl\xc3\xa9") + " --data " +
                                  shell_quote("second record") + binary_format);
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_EQ(proxy_->counters().signatures_refused, 0u) << "the proxy refused the CLI's SigV4";

  auto it = k_->client.get_shard_iterator({StreamRef::by_name(stream_), "shardId-000000000000",
                                           ShardIteratorType::kTrimHorizon, "", 0});
  ASSERT_TRUE(it.ok()) << it.error().to_string();
  auto records = k_->client.get_records(*it);
  ASSERT_TRUE(records.ok()) << records.error().to_string();
  ASSERT_EQ(records->records.size(), 2u);
  EXPECT_EQ(records->records[0].data, "{\"from\":\"aws cli\",\"n\":1}");
  EXPECT_EQ(records->records[0].partition_key, "cli-key");
  EXPECT_EQ(records->records[0].sequence_number, cli_sequence);
  EXPECT_EQ(records->records[1].data, "second record");
  EXPECT_EQ(records->records[1].partition_key, "cl\xc3\xa9");
}

}  // namespace
}  // namespace shoal::kinesis
