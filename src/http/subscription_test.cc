// /api/subscription and the kinesis_export workflow end to end: the real server on a loopback
// port, a real store, kinesalite. The seed's subscription: collect an event, the profile enters
// the audience, the record is read back (GetRecords, and the AWS CLI when it is on PATH) and
// checked against the message's schema and shape.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <regex>
#include <thread>

#include "export/exporter.h"
#include "http/api.h"
#include "http/export_workflow.h"
#include "http/server.h"
#include "kinesis/base64.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::http {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr TimestampMs kT = 1700000000000;
constexpr const char* kAdmin = "test-admin-key-0123456789";

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

bool aws_cli_on_path() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((fs::path(dir) / "aws").c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string run_aws(const std::string& endpoint, const std::string& arguments, int& exit_code) {
  std::string command =
      "env -u AWS_SESSION_TOKEN -u AWS_PROFILE AWS_ACCESS_KEY_ID=" +
      std::string(test::kTestAccessKeyId) + " AWS_SECRET_ACCESS_KEY='" +
      test::kTestSecretAccessKey +
      "' AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null "
      "AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER= aws --endpoint-url " +
      endpoint + " --output json " + arguments;
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  int status = ::pclose(pipe);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Checks a message against the JSON Schema in docs/triggers.md, by hand: required members,
// their types, RFC 3339 nanosecond times, and no member outside the schema.
void expect_matches_schema(const json::value& message) {
  static const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z)");
  ASSERT_TRUE(message.is_object());
  const json::object& o = message.as_object();
  EXPECT_EQ(o.size(), 4u);
  ASSERT_TRUE(o.contains("data") && o.at("data").is_object());
  ASSERT_TRUE(o.contains("id") && o.at("id").is_string());
  EXPECT_TRUE(std::regex_match(std::string(o.at("id").as_string()), std::regex("[0-9a-f]{32}")));
  ASSERT_TRUE(o.contains("subscription_id") && o.at("subscription_id").is_string());
  ASSERT_TRUE(o.contains("timestamp") && o.at("timestamp").is_string());
  EXPECT_TRUE(std::regex_match(std::string(o.at("timestamp").as_string()), rfc3339));
  const json::object& data = o.at("data").as_object();
  ASSERT_TRUE(data.contains("_modified"));
  EXPECT_TRUE(std::regex_match(std::string(data.at("_modified").as_string()), rfc3339));
  ASSERT_TRUE(data.contains("segment_events") && data.at("segment_events").is_array());
  ASSERT_FALSE(data.at("segment_events").as_array().empty());
  for (const json::value& e : data.at("segment_events").as_array()) {
    const json::object& ev = e.as_object();
    EXPECT_EQ(ev.size(), 5u);
    EXPECT_TRUE(ev.at("id").is_string());
    EXPECT_TRUE(ev.at("slug").is_string());
    std::string event(ev.at("event").as_string());
    EXPECT_TRUE(event == "enter" || event == "exit") << event;
    EXPECT_TRUE(std::regex_match(std::string(ev.at("enter").as_string()), rfc3339));
    EXPECT_TRUE(std::regex_match(std::string(ev.at("exit").as_string()), rfc3339));
  }
}

class SubscriptionApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::KinesisEmulator::unavailable_reason().empty()) return;
    emulator_ = new test::KinesisEmulator();
    Status started = emulator_->start();
    ASSERT_TRUE(started.ok()) << started.error().to_string();
  }
  static void TearDownTestSuite() {
    delete emulator_;
    emulator_ = nullptr;
  }
  void SetUp() override {
    if (std::string reason = test::KinesisEmulator::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
    dir_ = fs::temp_directory_path() /
           ("shoal_subscription_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    direct_ = std::make_unique<test::KinesisTestClient>(emulator_->endpoint());
    start();
  }
  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }

  // The order of `shoal serve`.
  void start() {
    store_ = std::move(storage::Store::open(dir_.string(), {})).value();
    keys_ = std::make_unique<ApiKeys>(*store_);
    ASSERT_TRUE(keys_->load().ok());
    ASSERT_TRUE(ensure_admin_key(*keys_, kAdmin, kT).ok());
    auto master = load_master_key((dir_ / "master.key").string(), "");
    ASSERT_TRUE(master.ok());
    authorizations_ = std::make_unique<Authorizations>(*store_, master->key);
    ASSERT_TRUE(authorizations_->load().ok());
    wiring_ = std::make_unique<ExportWiring>(authorizations_.get(), "");
    exporter_ = std::make_unique<exports::Exporter>(*store_, clock_, wiring_->sink_factory());
    ASSERT_TRUE(exporter_->load().ok());
    engine::EngineOptions engine_options;
    engine_options.synchronous_segment_builds = false;
    engine_options.commit_observer = exporter_->commit_observer();
    partition_ = std::make_unique<engine::Partition>(*store_, engine_options, clock_,
                                                     engine::PartitionOptions{},
                                                     exporter_->trigger_sink());
    ASSERT_TRUE(partition_->start().ok());
    exporter_->start(*partition_);
    jobs_ = std::make_unique<Jobs>(*store_, clock_);
    // A delivery error becomes the job's after 300 ms here (10 s by default).
    jobs_->add_workflow(wiring_->workflow(*exporter_, clock_, ExportJobOptions{300, 20}));
    ASSERT_TRUE(jobs_->load().ok());
    jobs_->start_all(clock_.now_ms());
    api_ = std::make_unique<Api>(*partition_, *keys_, *store_, clock_, ApiOptions{},
                                 authorizations_.get(), jobs_.get());
    api_->set_exporter(exporter_.get());
    ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<Server>(options, [this](Request request, Responder respond) {
      api_->handle(std::move(request), std::move(respond));
    });
    ASSERT_TRUE(server_->start().ok());
  }
  void stop() {
    if (server_) server_->stop();
    if (jobs_) jobs_->stop_all();
    if (exporter_) exporter_->stop();
    if (partition_) partition_->stop();
    server_.reset();
    api_.reset();
    jobs_.reset();
    exporter_.reset();
    partition_.reset();
    wiring_.reset();
    authorizations_.reset();
    keys_.reset();
    store_.reset();
  }

  std::pair<long, json::value> call(const std::string& method, const std::string& path,
                                    const std::string& body = "") {
    std::string reply;
    long status = 0;
    CURL* curl = curl_easy_init();
    std::string url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
    curl_slist* headers = curl_slist_append(nullptr, (std::string("Authorization: ") + kAdmin).c_str());
    if (!body.empty() || method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    EXPECT_EQ(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    json::error_code ec;
    json::value v = json::parse(reply, ec);
    return {status, ec ? json::value(reply) : v};
  }

  std::string create_stream() {
    std::string name = test::unique_stream_name("lytics_triggers_stream");
    EXPECT_TRUE(direct_->client.create_stream({name, 1, false}).ok());
    for (int i = 0; i < 200; ++i) {
      auto s = direct_->client.describe_stream_summary(kinesis::StreamRef::by_name(name));
      if (s.ok() && s->stream_status == "ACTIVE") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return name;
  }

  std::string keys_authorization() {
    auto [status, body] = call("POST", "/api/auth",
                               std::string(R"({"method":"keys","label":"t","config":{"access_key":")") +
                                   test::kTestAccessKeyId + R"(","secret_key":")" +
                                   test::kTestSecretAccessKey + R"("}})");
    EXPECT_EQ(status, 201);
    return std::string(body.at("data").at("id").as_string());
  }

  std::vector<kinesis::Record> read_stream(const std::string& stream, std::size_t count) {
    std::vector<kinesis::Record> out;
    for (int attempt = 0; attempt < 300 && out.size() < count; ++attempt) {
      out.clear();
      kinesis::GetShardIteratorRequest request;
      request.stream = kinesis::StreamRef::by_name(stream);
      request.shard_id = "shardId-000000000000";
      request.type = kinesis::ShardIteratorType::kTrimHorizon;
      auto it = direct_->client.get_shard_iterator(request);
      if (!it.ok()) break;
      auto records = direct_->client.get_records(*it, 1000);
      if (records.ok()) out = records->records;
      if (out.size() < count) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return out;
  }

  static test::KinesisEmulator* emulator_;
  fs::path dir_;
  WallClock clock_;
  std::unique_ptr<test::KinesisTestClient> direct_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ApiKeys> keys_;
  std::unique_ptr<Authorizations> authorizations_;
  std::unique_ptr<ExportWiring> wiring_;
  std::unique_ptr<exports::Exporter> exporter_;
  std::unique_ptr<engine::Partition> partition_;
  std::unique_ptr<Jobs> jobs_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
};

test::KinesisEmulator* SubscriptionApiTest::emulator_ = nullptr;

TEST_F(SubscriptionApiTest, TheSeedsSubscriptionDeliversTheSeedsMessageToKinesis) {
  ASSERT_EQ(call("POST", "/api/query",
                 "SELECT user_id, email, plan FROM web INTO user BY user_id OR email").first, 201);
  ASSERT_EQ(call("POST", "/api/segment", R"(FILTER plan == "pro" ALIAS demo_segment)").first, 201);
  std::string stream = create_stream();
  std::string auth = keys_authorization();
  auto [status, created] = call("POST", "/api/subscription",
                                R"({"name":"kinesis_subscription","channel":"kinesis","stream":")" +
                                    stream + R"(","region":"us-east-1","identifier_field":"user_id",)"
                                    R"("segment_ids":["demo_segment"],"auth_id":")" + auth +
                                    R"(","endpoint":")" + emulator_->endpoint() + R"("})");
  ASSERT_EQ(status, 201) << json::serialize(created);
  std::string id(created.at("data").at("id").as_string());
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(created.at("data").at("state").as_string(), "running");
  ASSERT_EQ(call("POST", "/collect/json/web",
                 R"({"user_id":"user123","email":"[email protected]","plan":"pro"})").first, 200);
  auto records = read_stream(stream, 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].partition_key, "user123");
  json::value message = json::parse(records[0].data);
  expect_matches_schema(message);
  EXPECT_EQ(message.at("subscription_id").as_string(), id);
  const json::object& data = message.at("data").as_object();
  EXPECT_EQ(data.at("user_id").as_string(), "user123");
  EXPECT_EQ(data.at("email").as_string(), "[email protected]");
  EXPECT_EQ(data.at("plan").as_string(), "pro");
  const json::object& event = data.at("segment_events").as_array()[0].as_object();
  EXPECT_EQ(event.at("slug").as_string(), "demo_segment");
  EXPECT_EQ(event.at("event").as_string(), "enter");
  EXPECT_EQ(event.at("enter").as_string(), message.at("timestamp").as_string());
  EXPECT_EQ(event.at("exit").as_string().subview().substr(0, 4), "2099");
  auto [seg_status, segment] = call("GET", "/api/segment/demo_segment");
  if (seg_status == 200 && segment.at("data").is_object() &&
      segment.at("data").as_object().contains("id")) {
    EXPECT_EQ(event.at("id").as_string(), segment.at("data").at("id").as_string());
  }
  // The same record through the AWS CLI.
  if (!aws_cli_on_path()) {
    std::cout << "[  NOTE    ] the AWS CLI (aws) is not on PATH: CLI read-back skipped\n";
  } else {
    int code = -1;
    std::string it = run_aws(emulator_->endpoint(),
                             "kinesis get-shard-iterator --stream-name " + stream +
                                 " --shard-id shardId-000000000000 --shard-iterator-type TRIM_HORIZON",
                             code);
    ASSERT_EQ(code, 0) << it;
    std::string iterator(json::parse(it).at("ShardIterator").as_string());
    std::string got = run_aws(emulator_->endpoint(), "kinesis get-records --shard-iterator '" +
                                                         iterator + "'", code);
    ASSERT_EQ(code, 0) << got;
    json::value cli_reply = json::parse(got);
    const json::array& cli_records = cli_reply.at("Records").as_array();
    ASSERT_EQ(cli_records.size(), 1u);
    auto decoded = kinesis::base64_decode(std::string(cli_records[0].at("Data").as_string()));
    ASSERT_TRUE(decoded.ok());
    json::value cli_message = json::parse(*decoded);
    expect_matches_schema(cli_message);
    EXPECT_EQ(cli_message, message);
    EXPECT_EQ(cli_records[0].at("PartitionKey").as_string(), "user123");
  }
  // Listed, fetched, and deleted.
  auto [list_status, list] = call("GET", "/api/subscription");
  ASSERT_EQ(list_status, 200);
  ASSERT_EQ(list.at("data").as_array().size(), 1u);
  auto [get_status, got] = call("GET", "/api/subscription/" + id);
  ASSERT_EQ(get_status, 200);
  for (int i = 0; i < 100 && got.at("data").at("stats").at("sent").to_number<std::int64_t>() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    got = call("GET", "/api/subscription/" + id).second;
  }
  EXPECT_EQ(got.at("data").at("stats").at("sent").to_number<std::int64_t>(), 1);
  EXPECT_EQ(call("GET", "/api/subscription/" + id + "/deadletter").second.at("data").as_array().size(),
            0u);
  EXPECT_EQ(call("DELETE", "/api/subscription/" + id).first, 200);
  EXPECT_EQ(call("GET", "/api/subscription/" + id).first, 404);
}

TEST_F(SubscriptionApiTest, ValidationErrorsNameTheFieldAndARoleArnGetsAnExternalId) {
  ASSERT_EQ(call("POST", "/api/segment", R"(FILTER plan == "pro" ALIAS pro)").first, 201);
  auto message = [&](const std::string& body) {
    auto [status, reply] = call("POST", "/api/subscription", body);
    EXPECT_EQ(status, 400) << json::serialize(reply);
    return std::string(reply.at("message").as_string());
  };
  EXPECT_EQ(message(R"({"stream":"a b","region":"us-east-1","segment_ids":["pro"]})").rfind("stream:", 0), 0u);
  EXPECT_EQ(message(R"({"stream":"s","region":"moon","segment_ids":["pro"]})").rfind("region:", 0), 0u);
  EXPECT_EQ(message(R"({"stream":"s","region":"us-east-1","segment_ids":["gone"]})").rfind("segment_ids:", 0), 0u);
  auto [status, created] = call("POST", "/api/subscription",
                                R"({"name":"r","stream":"s","region":"us-west-2","segment_ids":["pro"],)"
                                R"("role_arn":"arn:aws:iam::111111111:role/LyticsWriteToKinesis"})");
  ASSERT_EQ(status, 201) << json::serialize(created);
  std::string external_id(created.at("data").at("external_id").as_string());
  EXPECT_EQ(external_id.size(), 32u);
  std::string auth_id(created.at("data").at("auth_id").as_string());
  // The same role again reuses the stored authorization and its ExternalId.
  auto [again_status, again] = call("POST", "/api/subscription",
                                    R"({"name":"r2","stream":"s","region":"us-west-2","segment_ids":["pro"],)"
                                    R"("role_arn":"arn:aws:iam::111111111:role/LyticsWriteToKinesis"})");
  ASSERT_EQ(again_status, 201);
  EXPECT_EQ(again.at("data").at("auth_id").as_string(), auth_id);
  EXPECT_EQ(again.at("data").at("external_id").as_string(), external_id);
  EXPECT_EQ(call("GET", "/api/auth").second.at("data").as_array().size(), 1u);
}

TEST_F(SubscriptionApiTest, TheKinesisExportWorkflowReachesTheSameSubscription) {
  ASSERT_EQ(call("POST", "/api/query",
                 "SELECT user_id, plan FROM web INTO user BY user_id").first, 201);
  ASSERT_EQ(call("POST", "/api/segment", R"(FILTER plan == "pro" ALIAS pro)").first, 201);
  std::string stream = create_stream();
  std::string auth = keys_authorization();
  EXPECT_EQ(call("POST", "/api/work", R"({"workflow":"kinesis_export","name":"bad","config":{"stream":"s"}})").first,
            400);
  auto [status, job] = call("POST", "/api/work",
                            R"({"workflow":"kinesis_export","name":"triggers","auth_ids":[")" + auth +
                                R"("],"config":{"audiences":["pro"],"stream_region":"us-east-1","stream":")" +
                                stream + R"(","user_identifier_field":"user_id","export_fields":["plan"],)"
                                R"("endpoint":")" + emulator_->endpoint() + R"("}})");
  ASSERT_EQ(status, 201) << json::serialize(job);
  ASSERT_EQ(call("POST", "/collect/json/web", R"({"user_id":"w1","plan":"pro"})").first, 200);
  auto records = read_stream(stream, 1);
  ASSERT_EQ(records.size(), 1u);
  json::value message = json::parse(records[0].data);
  expect_matches_schema(message);
  EXPECT_FALSE(message.at("data").as_object().contains("user_id"));
  EXPECT_EQ(message.at("data").at("plan").as_string(), "pro");
  auto [list_status, list] = call("GET", "/api/subscription");
  ASSERT_EQ(list.at("data").as_array().size(), 1u);
  EXPECT_EQ(list.at("data").as_array()[0].at("job_id").as_string(), job.at("data").at("id").as_string());
  // Deleting the job removes its subscription.
  std::string job_id(job.at("data").at("id").as_string());
  EXPECT_EQ(call("DELETE", "/api/work/" + job_id).first, 200);
  EXPECT_EQ(call("GET", "/api/subscription").second.at("data").as_array().size(), 0u);
}

TEST_F(SubscriptionApiTest, AnExportJobWhoseStreamIsMissingShowsTheErrorAndResumingRetries) {
  ASSERT_EQ(call("POST", "/api/query",
                 "SELECT user_id, plan FROM web INTO user BY user_id").first, 201);
  ASSERT_EQ(call("POST", "/api/segment", R"(FILTER plan == "pro" ALIAS pro)").first, 201);
  std::string auth = keys_authorization();
  std::string stream = test::unique_stream_name("not_created_yet");
  auto [status, job] = call("POST", "/api/work",
                            R"({"workflow":"kinesis_export","name":"missing","auth_ids":[")" +
                                auth + R"("],"config":{"audiences":["pro"],"stream_region":)"
                                R"("us-east-1","user_identifier_field":"user_id","stream":")" + stream +
                                R"(","endpoint":")" +
                                emulator_->endpoint() + R"("}})");
  ASSERT_EQ(status, 201) << json::serialize(job);
  std::string job_id(job.at("data").at("id").as_string());
  ASSERT_EQ(call("POST", "/collect/json/web", R"({"user_id":"m1","plan":"pro"})").first, 200);

  // The deliverer cannot load the stream's shards: the job enters `error` with the reason.
  json::value seen;
  for (int i = 0; i < 500; ++i) {
    seen = call("GET", "/api/work/" + job_id).second.at("data");
    if (seen.at("state").as_string() == "error") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(seen.at("state").as_string(), "error") << json::serialize(seen);
  std::string error(seen.at("error").as_string());
  EXPECT_NE(error.find("delivery to the subscription's destination is failing"), std::string::npos)
      << error;
  EXPECT_NE(error.find(stream), std::string::npos) << error;  // the emulator names the stream
  // The job's error lists beside the other jobs, and the message waits in the outbox.
  bool listed = false;
  json::value jobs = call("GET", "/api/work").second;
  for (const json::value& j : jobs.at("data").as_array()) {
    if (j.at("id").as_string() == job_id) listed = j.at("state").as_string() == "error";
  }
  EXPECT_TRUE(listed);
  auto subscription = exporter_->find_by_job(job_id);
  ASSERT_TRUE(subscription.has_value());
  EXPECT_EQ(exporter_->outbox_size(subscription->subscription.id).value(), 1u);

  // The stream is created; resuming retries at once and the message arrives.
  ASSERT_TRUE(direct_->client.create_stream({stream, 1, false}).ok());
  for (int i = 0; i < 200; ++i) {
    auto s = direct_->client.describe_stream_summary(kinesis::StreamRef::by_name(stream));
    if (s.ok() && s->stream_status == "ACTIVE") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  auto [resumed, resumed_job] = call("POST", "/api/work/" + job_id + "/resume");
  ASSERT_EQ(resumed, 200) << json::serialize(resumed_job);
  EXPECT_EQ(resumed_job.at("data").at("state").as_string(), "running");
  auto records = read_stream(stream, 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].partition_key, "m1");
  // Delivering again, the job stays running (the old error does not fail the new runner).
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  json::value running = call("GET", "/api/work/" + job_id).second;  // kept: at() refers into it
  EXPECT_EQ(running.at("data").at("state").as_string(), "running");
  // The subscription's delivery totals are live gauges, not counters summed at every pause.
  EXPECT_EQ(running.at("data").at("gauges").at("sent").to_number<std::uint64_t>(), 1u)
      << json::serialize(running);
  EXPECT_TRUE(running.at("data").at("counters").as_object().empty()) << json::serialize(running);
}

}  // namespace
}  // namespace shoal::http
