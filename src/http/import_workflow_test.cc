// The kinesis_import workflow end to end: the real server, POST /api/work, a kinesalite stream,
// profiles at /api/entity, job counters, dead letters listed and replayed over HTTP. Plus the
// config validation (messages name the field).
#include "http/import_workflow.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "http/api.h"
#include "http/server.h"
#include "import/checkpoint.h"
#include "import/dead_letters.h"
#include "import/lease_store.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::http {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kAdmin = "test-admin-key-0123456789";

Job job_with(std::string config, std::vector<std::string> auth_ids = {}) {
  Job job;
  job.id = "j1";
  job.workflow = kImportWorkflow;
  job.name = "import";
  job.config_json = std::move(config);
  job.auth_ids = std::move(auth_ids);
  return job;
}

std::string config_error(std::string config, std::vector<std::string> auth_ids = {}) {
  auto parsed = parse_import_config(job_with(std::move(config), std::move(auth_ids)));
  return parsed.ok() ? "" : parsed.error().message;
}

TEST(ImportConfigTest, ParsesEverySetting) {
  auto parsed = parse_import_config(job_with(
      R"({"stream":"events","kinesis_stream":"clicks","region":"eu-west-1",
          "endpoint":"http://127.0.0.1:4567","start_position":"AT_TIMESTAMP",
          "start_timestamp":"2026-11-23T10:00:00Z","timestamp_field":"ts",
          "max_record_bytes":2048,"failover_ms":5000,"error_after_ms":60000,
          "discovery_interval_ms":30000,"get_records_limit":500,"max_idle_ms":1000})"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->region, "eu-west-1");
  EXPECT_EQ(parsed->endpoint, "http://127.0.0.1:4567");
  EXPECT_EQ(parsed->consumer.job_id, "j1");
  EXPECT_EQ(parsed->consumer.target_stream, "events");
  EXPECT_EQ(parsed->consumer.stream.name, "clicks");
  EXPECT_EQ(parsed->consumer.start.kind, import::StartKind::kAtTimestamp);
  EXPECT_EQ(parsed->consumer.start.timestamp, 1795428000000);
  EXPECT_EQ(parsed->consumer.decode.timestamp_field, "ts");
  EXPECT_EQ(parsed->consumer.decode.max_record_bytes, 2048u);
  EXPECT_EQ(parsed->consumer.failover_time, 5000ms);
  EXPECT_EQ(parsed->consumer.error_after, 60000ms);
  EXPECT_EQ(parsed->consumer.get_records_limit, 500);
}

TEST(ImportConfigTest, ErrorsNameTheField) {
  EXPECT_NE(config_error(R"({"kinesis_stream":"c"})").find("config.stream"), std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e"})").find("config.kinesis_stream"), std::string::npos);
  EXPECT_NE(
      config_error(R"({"stream":"e","kinesis_stream":"bad name!"})").find("config.kinesis_stream"),
      std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e","kinesis_stream":"c","start_position":"EARLIEST"})")
                .find("config.start_position"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e","kinesis_stream":"c","start_position":"AT_TIMESTAMP"})")
                .find("config.start_timestamp"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e","kinesis_stream":"c","failover_ms":"x"})")
                .find("config.failover_ms"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e","kinesis_stream":"c","get_records_limit":20000})")
                .find("config.get_records_limit"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e","kinesis_stream":"c","region":"Mars 1"})")
                .find("config.region"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e","kinesis_stream":"c","shards":4})").find("config.shards"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e","kinesis_stream":"c","aws_access_key_id":"AKID"})")
                .find("aws_secret_access_key"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"stream":"e","kinesis_stream":"c"})", {"a", "b"}).find("auth_ids"),
            std::string::npos);
  EXPECT_EQ(
      config_error(R"({"stream":"e","kinesis_stream_arn":"arn:aws:kinesis:us-east-1:1:stream/c"})"),
      "");
  // A stream ARN of another region than the job's: both named.
  std::string mismatch = config_error(
      R"({"stream":"e","region":"us-east-1","kinesis_stream_arn":"arn:aws:kinesis:eu-west-1:1:stream/c"})");
  EXPECT_NE(mismatch.find("eu-west-1"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("config.region is us-east-1"), std::string::npos) << mismatch;
  EXPECT_EQ(config_error(R"({"stream":"e","region":"eu-west-1",)"
                         R"("kinesis_stream_arn":"arn:aws:kinesis:eu-west-1:1:stream/c"})"),
            "");
}

struct Reply {
  long status = 0;
  std::string body;
  json::value data() const {
    json::error_code ec;
    json::value v = json::parse(body, ec);
    return ec || !v.is_object() || !v.as_object().contains("data") ? json::value() : v.at("data");
  }
};

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class ImportWorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string reason = test::KinesisEmulator::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
    ASSERT_TRUE(emulator_.start().ok()) << emulator_.output();
    dir_ = fs::temp_directory_path() / ("shoal_import_workflow_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    start();
  }
  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }
  void start() {
    store_ = std::move(storage::Store::open(dir_.string(), {}).value());
    keys_ = std::make_unique<ApiKeys>(*store_);
    ASSERT_TRUE(keys_->load().ok());
    ASSERT_TRUE(ensure_admin_key(*keys_, kAdmin, clock_.now_ms()).ok());
    partition_ = std::make_unique<engine::Partition>(*store_, engine::EngineOptions{}, clock_,
                                                     engine::PartitionOptions{}, nullptr);
    ASSERT_TRUE(partition_->start().ok());
    auto master = load_master_key((dir_ / "master.key").string(), "");
    ASSERT_TRUE(master.ok());
    authorizations_ = std::make_unique<Authorizations>(*store_, master->key);
    ASSERT_TRUE(authorizations_->load().ok());
    jobs_ = std::make_unique<Jobs>(*store_, clock_);
    add_import_workflow(*jobs_, *partition_, *store_, authorizations_.get(), clock_);
    ASSERT_TRUE(jobs_->load().ok());
    jobs_->start_all(clock_.now_ms());
    api_ = std::make_unique<Api>(*partition_, *keys_, *store_, clock_, ApiOptions{},
                                 authorizations_.get(), jobs_.get());
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
    if (partition_) partition_->stop();
    server_.reset();
    api_.reset();
    jobs_.reset();
    authorizations_.reset();
    partition_.reset();
    keys_.reset();
    store_.reset();
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "") {
    Reply reply;
    CURL* curl = curl_easy_init();
    std::string url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
    curl_slist* headers =
        curl_slist_append(nullptr, (std::string("Authorization: ") + kAdmin).c_str());
    if (!body.empty() || method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
    EXPECT_EQ(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return reply;
  }

  // Polls GET `path` (every 50 ms, at most 20 s) until it answers `status`.
  Reply poll(const std::string& path, long status) {
    Reply r;
    for (int i = 0; i < 400; ++i) {
      r = call("GET", path);
      if (r.status == status) return r;
      std::this_thread::sleep_for(50ms);
    }
    return r;
  }

  test::KinesisEmulator emulator_;
  fs::path dir_;
  WallClock clock_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ApiKeys> keys_;
  std::unique_ptr<engine::Partition> partition_;
  std::unique_ptr<Authorizations> authorizations_;
  std::unique_ptr<Jobs> jobs_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
};

TEST_F(ImportWorkflowTest, EventsInKinesaliteBecomeProfilesAndDeadLettersReplayOverHttp) {
  test::KinesisTestClient kinesis(emulator_.endpoint());
  std::string stream = test::unique_stream_name("clicks");
  ASSERT_TRUE(kinesis.client.create_stream({stream, 2, false}).ok());
  std::this_thread::sleep_for(100ms);
  std::vector<std::string> data = {
      R"({"user_id":"u1","plan":"pro","ts":"2026-11-23T10:00:00Z"})",
      R"({"user_id":"u2","plan":"free","ts":"2026-11-23T10:00:01Z"})",
      R"({"email":"x@example.com","plan":"pro"})",
      "not json at all",
  };
  std::vector<std::string> keys;  // PutRecordsEntry holds views: the keys must outlive the call
  for (std::size_t i = 0; i < data.size(); ++i) keys.push_back("pk" + std::to_string(i));
  std::vector<kinesis::PutRecordsEntry> entries;
  for (std::size_t i = 0; i < data.size(); ++i) entries.push_back({data[i], keys[i], {}});
  ASSERT_TRUE(kinesis.client.put_records(kinesis::StreamRef::by_name(stream), entries).ok());

  ASSERT_EQ(
      call("POST", "/api/query", "SELECT user_id, plan FROM events INTO user BY user_id").status,
      201);
  Reply auth =
      call("POST", "/api/auth",
           R"({"method":"keys","config":{"access_key":"AKIDEXAMPLE","secret_key":"secret"}})");
  ASSERT_EQ(auth.status, 201) << auth.body;
  std::string auth_id(auth.data().at("id").as_string());
  Reply bad = call("POST", "/api/work",
                   R"({"workflow":"kinesis_import","name":"clicks","config":{"stream":"events"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("config.kinesis_stream"), std::string::npos) << bad.body;
  json::object body{{"workflow", "kinesis_import"},
                    {"name", "clicks"},
                    {"config", json::object{{"stream", "events"},
                                            {"kinesis_stream", stream},
                                            {"endpoint", emulator_.endpoint()},
                                            {"timestamp_field", "ts"},
                                            {"failover_ms", 1000}}},
                    {"auth_ids", json::array{json::value(auth_id)}}};
  Reply created = call("POST", "/api/work", json::serialize(body));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string job_id(created.data().at("id").as_string());

  Reply u1 = poll("/api/entity/user/user_id/u1", 200);
  ASSERT_EQ(u1.status, 200) << u1.body;
  EXPECT_NE(u1.body.find("\"plan\":\"pro\""), std::string::npos) << u1.body;
  EXPECT_EQ(poll("/api/entity/user/user_id/u2", 200).status, 200);

  // The two bad records are dead-lettered with their reasons; the job keeps running.
  Reply letters;
  for (int i = 0; i < 200; ++i) {
    letters = call("GET", "/api/work/" + job_id + "/deadletter");
    if (letters.status == 200 && letters.data().at("dead_letters").as_array().size() == 2) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(letters.status, 200) << letters.body;
  ASSERT_EQ(letters.data().at("dead_letters").as_array().size(), 2u) << letters.body;
  EXPECT_NE(letters.body.find("not JSON"), std::string::npos) << letters.body;
  EXPECT_NE(letters.body.find("identities"), std::string::npos) << letters.body;
  Reply paged = call("GET", "/api/work/" + job_id + "/deadletter?limit=1");
  ASSERT_EQ(paged.status, 200);
  std::string next(paged.data().at("next").as_string());
  Reply second = call("GET", "/api/work/" + job_id + "/deadletter?limit=1&after=" + next);
  ASSERT_EQ(second.data().at("dead_letters").as_array().size(), 1u) << second.body;
  EXPECT_NE(second.data().at("dead_letters").at(0).at("cursor"),
            paged.data().at("dead_letters").at(0).at("cursor"));

  Reply job = call("GET", "/api/work/" + job_id);
  ASSERT_EQ(job.status, 200);
  EXPECT_EQ(job.data().at("state").as_string(), "running") << job.body;
  EXPECT_EQ(job.data().at("counters").at("events_applied").to_number<std::uint64_t>(), 2u);
  EXPECT_EQ(job.data().at("counters").at("dead_lettered").to_number<std::uint64_t>(), 2u);

  // Fix the mapping (email is an identity too) and replay: one applies, one still fails.
  ASSERT_EQ(call("POST", "/api/query",
                 "SELECT user_id, email, plan FROM events INTO user BY user_id OR email")
                .status,
            200);  // replaced
  Reply replayed = call("POST", "/api/work/" + job_id + "/deadletter/_replay");
  ASSERT_EQ(replayed.status, 200) << replayed.body;
  EXPECT_EQ(replayed.data().at("replayed").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(replayed.data().at("still_failing").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(poll("/api/entity/user/email/x@example.com", 200).status, 200);
  EXPECT_EQ(call("GET", "/api/work/" + job_id + "/deadletter")
                .data()
                .at("dead_letters")
                .as_array()
                .size(),
            1u);
  Reply shards = call("GET", "/api/work/" + job_id + "/shards");
  ASSERT_EQ(shards.status, 200) << shards.body;
  json::value shard_list = shards.data();
  ASSERT_EQ(shard_list.as_array().size(), 2u) << shards.body;
  std::uint64_t records = 0;
  int with_position = 0;
  for (const json::value& shard : shard_list.as_array()) {
    records += shard.at("records_read").to_number<std::uint64_t>();
  }
  EXPECT_EQ(records, 4u) << shards.body;
  for (const json::value& shard : shard_list.as_array()) {
    EXPECT_FALSE(shard.at("owner").as_string().empty()) << shards.body;
    EXPECT_TRUE(shard.as_object().contains("millis_behind_latest")) << shards.body;
    if (!shard.at("position").as_string().empty()) ++with_position;
  }
  EXPECT_GE(with_position, 1) << shards.body;  // the shards that got records have a checkpoint
  Reply metrics = call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("shoal_job_events_applied"), std::string::npos);
  EXPECT_NE(metrics.body.find("# TYPE shoal_job_millis_behind_latest gauge"), std::string::npos)
      << metrics.body;
  Reply live = call("GET", "/api/work/" + job_id);
  json::value live_job = live.data();  // kept: at() returns references into it
  EXPECT_GE(live_job.at("gauges").at("shards_owned").to_number<std::uint64_t>(), 1u) << live.body;
  // Deleting the job removes its leases, checkpoints and dead letters.
  EXPECT_EQ(call("DELETE", "/api/work/" + job_id).status, 200);
  EXPECT_EQ(call("GET", "/api/work/" + job_id + "/deadletter").status, 404);
  for (const std::string& prefix :
       {import::dead_letter_prefix(job_id), import::lease_prefix(job_id),
        import::checkpoint_prefix(job_id)}) {
    int left = 0;
    ASSERT_TRUE(store_
                    ->scan(prefix,
                           [&](std::string_view, std::string_view) {
                             ++left;
                             return true;
                           })
                    .ok());
    EXPECT_EQ(left, 0) << "records left under a prefix of the deleted job";
  }
}

TEST_F(ImportWorkflowTest, AMissingStreamPutsTheJobInErrorWithTheMessage) {
  json::object body{{"workflow", "kinesis_import"},
                    {"name", "missing"},
                    {"config", json::object{{"stream", "events"},
                                            {"kinesis_stream", "no-such-stream"},
                                            {"endpoint", emulator_.endpoint()},
                                            {"aws_access_key_id", "AKIDEXAMPLE"},
                                            {"aws_secret_access_key", "secret"},
                                            {"error_after_ms", 300}}}};
  Reply created = call("POST", "/api/work", json::serialize(body));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string job_id(created.data().at("id").as_string());
  Reply job;
  for (int i = 0; i < 200; ++i) {
    job = call("GET", "/api/work/" + job_id);
    if (job.data().at("state").as_string() == "error") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(job.data().at("state").as_string(), "error") << job.body;
  EXPECT_NE(job.body.find("no-such-stream"), std::string::npos) << job.body;
}

}  // namespace
}  // namespace shoal::http
