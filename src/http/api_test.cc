// Integration tests: the real server on a free loopback port, a real store in a temporary
// directory, real HTTP through libcurl.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "http/api.h"
#include "http/server.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::http {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr TimestampMs kT = 1700000000000;
constexpr const char* kAdmin = "test-admin-key-0123456789";
constexpr const char* kMapping =
    "SELECT user_id, email, plan, toint(age) AS age KIND int FROM events INTO user BY user_id OR "
    "email";

struct Reply {
  long status = 0;
  std::string body;
  json::value json() const {
    json::error_code ec;
    json::value v = json::parse(body, ec);
    return ec ? json::value() : v;
  }
};

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("shoal_api_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    start();
  }
  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }

  void start() {
    auto store = storage::Store::open(dir_.string(), {});
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    keys_ = std::make_unique<ApiKeys>(*store_);
    ASSERT_TRUE(keys_->load().ok());
    ASSERT_TRUE(ensure_admin_key(*keys_, kAdmin, kT).ok());
    engine::EngineOptions engine_options;
    engine_options.synchronous_segment_builds = false;
    partition_ = std::make_unique<engine::Partition>(*store_, engine_options, clock_,
                                                     engine::PartitionOptions{}, nullptr);
    ASSERT_TRUE(partition_->start().ok());
    auto master = load_master_key((dir_ / "master.key").string(), "");
    ASSERT_TRUE(master.ok()) << master.error().message;
    authorizations_ = std::make_unique<Authorizations>(*store_, master->key);
    ASSERT_TRUE(authorizations_->load().ok());
    jobs_ = std::make_unique<Jobs>(*store_, clock_);
    jobs_->add_workflow(Workflow{.name = "test_import",
                                 .description = "a workflow for tests",
                                 .validate = [](const Job& job) {
                                   return job.name.empty()
                                              ? Status(make_error(ErrorCode::kInvalidArgument,
                                                                  "name is required"))
                                              : ok_status();
                                 },
                                 .start = {},
                                 .forget = {}});
    ASSERT_TRUE(jobs_->load().ok());
    api_ = std::make_unique<Api>(*partition_, *keys_, *store_, clock_, api_options_,
                                 authorizations_.get(), jobs_.get());
    ServerOptions options;
    options.port = 0;
    options.max_body_bytes = 64 * 1024;
    server_ = std::make_unique<Server>(options, [this](Request request, Responder respond) {
      api_->handle(std::move(request), std::move(respond));
    });
    ASSERT_TRUE(server_->start().ok());
  }

  void stop() {
    if (server_) server_->stop();
    if (partition_) partition_->stop();
    server_.reset();
    api_.reset();
    authorizations_.reset();
    jobs_.reset();
    partition_.reset();
    keys_.reset();
    store_.reset();
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& key = kAdmin, const std::string& content_type = "") {
    Reply reply;
    CURL* curl = curl_easy_init();
    std::string url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
    curl_slist* headers = nullptr;
    if (!key.empty()) headers = curl_slist_append(headers, ("Authorization: " + key).c_str());
    if (!content_type.empty()) {
      headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
    }
    if (!body.empty() || method == "POST" || method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
    CURLcode rc = curl_easy_perform(curl);
    EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return reply;
  }

  // Mapping + one segment + events for u1 (pro) and u2 (free).
  void seed() {
    ASSERT_EQ(call("POST", "/api/query", kMapping).status, 201);
    ASSERT_EQ(call("POST", "/api/segment", R"(FILTER plan == "pro" ALIAS pro)").status, 201);
    Reply r = call("POST", "/collect/json/events",
                   "{\"user_id\":\"u1\",\"plan\":\"pro\",\"age\":\"41\"}\n"
                   "{\"user_id\":\"u2\",\"plan\":\"free\"}\n");
    ASSERT_EQ(r.status, 200) << r.body;
  }

  json::value data(const Reply& reply) { return reply.json().at("data"); }

  fs::path dir_;
  ManualClock clock_{kT};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ApiKeys> keys_;
  std::unique_ptr<engine::Partition> partition_;
  std::unique_ptr<Authorizations> authorizations_;
  std::unique_ptr<Jobs> jobs_;
  ApiOptions api_options_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
};

TEST_F(ApiTest, CollectReportsCountsAndRejectedLinesAfterCommit) {
  ASSERT_EQ(call("POST", "/api/query", kMapping).status, 201);
  Reply r = call("POST", "/collect/json/events",
                 "{\"user_id\":\"u1\",\"plan\":\"pro\"}\n"
                 "{\"user_id\": oops}\n"
                 "\n"
                 "{\"plan\":\"no identity\"}\n"
                 "[1,2]\n");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value d = data(r);
  EXPECT_EQ(r.json().at("message").as_string(), "success");
  EXPECT_EQ(d.at("message_count").to_number<int>(), 4);
  EXPECT_EQ(d.at("rejected_count").to_number<int>(), 3);
  EXPECT_EQ(d.at("applied_count").to_number<int>(), 1);
  const json::array& rejections = d.at("rejections").as_array();
  ASSERT_EQ(rejections.size(), 3u);
  EXPECT_EQ(rejections[0].at("line").to_number<int>(), 2);
  EXPECT_EQ(rejections[1].at("line").to_number<int>(), 4);
  EXPECT_EQ(rejections[2].at("line").to_number<int>(), 5);
  // Acknowledged means committed: the profile is in the store now.
  EXPECT_EQ(call("GET", "/api/entity/user/user_id/u1").status, 200);
}

TEST_F(ApiTest, CollectAcceptsAnArrayAnObjectATimestampFieldAndDryRun) {
  ASSERT_EQ(call("POST", "/api/query", kMapping).status, 201);
  Reply array = call("POST", "/collect/json/events",
                     R"([{"user_id":"a","ts":"2023-11-14T22:13:20Z"},{"user_id":"b"}])");
  EXPECT_EQ(data(array).at("applied_count").to_number<int>(), 2);
  Reply object = call("POST", "/collect/json/events?timestamp_field=ts",
                      "{\n  \"user_id\": \"c\",\n  \"ts\": \"yesterday\"\n}");
  EXPECT_EQ(data(object).at("rejected_count").to_number<int>(), 1);
  Reply dry = call("POST", "/collect/json/events?dryrun=true", R"({"user_id":"d"})");
  EXPECT_TRUE(data(dry).at("dryrun").as_bool());
  EXPECT_EQ(call("GET", "/api/entity/user/user_id/d").status, 404);
  Reply malformed = call("POST", "/collect/json/events", "{\"user_id\":\n{{{\n");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.json().at("message").as_string().find("line 1"), json::string::npos)
      << malformed.body;
}

TEST_F(ApiTest, EntityShowsFieldsAndMembershipsAndDeleteForgetsTheProfile) {
  seed();
  Reply r = call("GET", "/api/entity/user/user_id/u1");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value profile = data(r);
  EXPECT_EQ(profile.at("plan").as_string(), "pro");
  EXPECT_EQ(profile.at("age").to_number<int>(), 41);
  ASSERT_EQ(profile.at("_segments").as_array().size(), 1u);
  EXPECT_EQ(profile.at("_segments").at(0).at("slug").as_string(), "pro");
  EXPECT_EQ(profile.at("_segments").at(0).at("enter").as_string(), "2023-11-14T22:13:20.000Z");
  Reply selected = call("GET", "/api/entity/user/user_id/u1?fields=plan");
  EXPECT_FALSE(data(selected).as_object().contains("age"));
  EXPECT_TRUE(data(selected).as_object().contains("plan"));
  EXPECT_EQ(call("DELETE", "/api/entity/user/user_id/u1").status, 200);
  EXPECT_EQ(call("GET", "/api/entity/user/user_id/u1").status, 404);
  EXPECT_EQ(call("DELETE", "/api/entity/user/user_id/u1").status, 404);
  EXPECT_EQ(data(call("GET", "/api/segment/pro/sizes")).at("size").to_number<int>(), 0);
}

TEST_F(ApiTest, KeysAreRequiredAndRolesLimitRoutes) {
  EXPECT_EQ(call("GET", "/api/segment", "", "").status, 401);
  EXPECT_EQ(call("GET", "/api/segment", "", "not-a-key").status, 401);
  EXPECT_EQ(call("GET", std::string("/api/segment?access_token=") + kAdmin, "", "").status, 200);
  Reply created = call("POST", "/api/keys", R"({"name":"loader","role":"data"})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string token(data(created).at("token").as_string());
  std::string id(data(created).at("id").as_string());
  EXPECT_EQ(call("GET", "/api/segment", "", token).status, 403);
  EXPECT_EQ(call("POST", "/collect/json/events", R"({"user_id":"x"})", token).status, 200);
  Reply list = call("GET", "/api/keys");
  EXPECT_EQ(data(list).as_array().size(), 2u);
  EXPECT_EQ(list.body.find(token), std::string::npos);  // tokens are never listed
  EXPECT_EQ(call("DELETE", "/api/keys/" + id).status, 200);
  EXPECT_EQ(call("POST", "/collect/json/events", R"({"user_id":"x"})", token).status, 401);
  std::string admin_id(data(call("GET", "/api/keys")).at(0).at("id").as_string());
  EXPECT_EQ(call("DELETE", "/api/keys/" + admin_id).status, 409);  // the last admin key
  EXPECT_EQ(call("GET", "/healthz", "", "").status, 200);
}

TEST_F(ApiTest, UnknownRoutesWrongMethodsAndLargeBodiesGetClearAnswers) {
  Reply missing = call("GET", "/api/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json().at("status").to_number<int>(), 404);
  Reply wrong = call("PATCH", "/api/segment");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_NE(wrong.body.find("GET, POST"), std::string::npos) << wrong.body;
  Reply large = call("POST", "/collect/json/events", std::string(100 * 1024, ' '));
  EXPECT_EQ(large.status, 413);
  EXPECT_EQ(call("GET", "/healthz", "", "").status, 200);  // still serving
}

TEST_F(ApiTest, InvalidSegmentAndMappingTextIsA400WithLineAndColumn) {
  Reply segment = call("POST", "/api/segment", "FILTER plan == ALIAS x");
  EXPECT_EQ(segment.status, 400);
  EXPECT_NE(segment.body.find("line 1, col"), std::string::npos) << segment.body;
  Reply validate = call("POST", "/api/segment/validate", "FILTER AND (a > 1");
  EXPECT_EQ(validate.status, 400);
  EXPECT_NE(validate.body.find("line 1, col"), std::string::npos) << validate.body;
  EXPECT_EQ(call("POST", "/api/segment/validate", "FILTER a > 1 ALIAS ok").status, 200);
  Reply mapping = call("POST", "/api/query", "SELECT user_id FROM events INTO user BY");
  EXPECT_EQ(mapping.status, 400);
  EXPECT_NE(mapping.body.find("line 1, col"), std::string::npos) << mapping.body;
  Reply no_slug = call("POST", "/api/segment", "FILTER a > 1");
  EXPECT_EQ(no_slug.status, 400);
}

TEST_F(ApiTest, SegmentLifecycleWithSizesScanAndDelete) {
  ASSERT_EQ(call("POST", "/api/query", kMapping).status, 201);
  std::string events;
  for (int i = 0; i < 5; ++i) events += R"({"user_id":"p)" + std::to_string(i) + R"(","plan":"pro"})" "\n";
  events += R"({"user_id":"f","plan":"free"})";
  ASSERT_EQ(call("POST", "/collect/json/events", events).status, 200);
  Reply created = call("POST", "/api/segment",
                       R"({"name":"Pro users","slug_name":"pro","segment_ql":"FILTER plan == \"pro\"","description":"paying"})",
                       kAdmin, "application/json");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(data(created).at("id").as_string());
  // The build runs in the background; wait for it through the API.
  for (int i = 0; i < 200; ++i) {
    json::value sizes = data(call("GET", "/api/segment/" + id + "/sizes"));
    if (!sizes.as_object().contains("building") && sizes.at("size").to_number<int>() == 5) break;
  }
  Reply got = call("GET", "/api/segment/pro");
  EXPECT_EQ(data(got).at("name").as_string(), "Pro users");
  EXPECT_EQ(data(got).at("description").as_string(), "paying");
  EXPECT_EQ(data(got).at("size").to_number<int>(), 5);
  std::vector<std::string> seen;
  std::string start;
  for (int page = 0; page < 5; ++page) {
    Reply r = call("GET", "/api/segment/pro/scan?limit=2" + (start.empty() ? "" : "&start=" + start));
    ASSERT_EQ(r.status, 200) << r.body;
    json::value page_json = r.json();
    for (const json::value& p : page_json.at("data").as_array()) {
      seen.emplace_back(p.at("user_id").at(0).as_string());
    }
    if (page_json.at("_next").is_null()) break;
    start = std::string(page_json.at("_next").as_string());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4"}));
  EXPECT_EQ(data(call("GET", "/api/segment")).as_array().size(), 1u);
  Reply updated = call("PUT", "/api/segment/pro", R"(FILTER plan == "free")");
  EXPECT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(call("PUT", "/api/segment/pro", R"(FILTER plan == "free" ALIAS other)").status, 400);
  EXPECT_EQ(call("DELETE", "/api/segment/" + id).status, 200);
  EXPECT_EQ(call("GET", "/api/segment/pro").status, 404);
  EXPECT_EQ(data(call("GET", "/api/entity/user/user_id/f")).at("_segments").as_array().size(), 0u);
}

TEST_F(ApiTest, QueriesAreListedValidatedTestedAndDeleted) {
  ASSERT_EQ(call("POST", "/api/query", kMapping).status, 201);
  Reply list = call("GET", "/api/query");
  ASSERT_EQ(data(list).as_array().size(), 1u);
  EXPECT_EQ(data(list).at(0).at("from").as_string(), "events");
  EXPECT_EQ(call("POST", "/api/query/_validate", kMapping).status, 200);
  Reply tested = call("POST", "/api/query/_test?user_id=u9&age=7", kMapping);
  ASSERT_EQ(tested.status, 200) << tested.body;
  EXPECT_EQ(data(tested).at("identities").at("user_id").at(0).as_string(), "u9");
  EXPECT_EQ(data(tested).at("fields").at("age").to_number<int>(), 7);
  EXPECT_EQ(call("DELETE", "/api/query/events").status, 200);
  EXPECT_EQ(call("GET", "/api/query/events").status, 404);
  Reply collected = call("POST", "/collect/json/events", R"({"user_id":"u1"})");
  EXPECT_EQ(data(collected).at("rejected_count").to_number<int>(), 1);
}

TEST_F(ApiTest, StateSegmentsMappingsAndKeysSurviveARestart) {
  seed();
  Reply created = call("POST", "/api/keys", R"({"name":"loader","role":"data"})");
  std::string token(data(created).at("token").as_string());
  stop();
  start();
  EXPECT_EQ(call("GET", "/api/query/events").status, 200);
  EXPECT_EQ(data(call("GET", "/api/segment/pro/sizes")).at("size").to_number<int>(), 1);
  Reply profile = call("GET", "/api/entity/user/user_id/u1");
  ASSERT_EQ(profile.status, 200);
  EXPECT_EQ(data(profile).at("_segments").at(0).at("slug").as_string(), "pro");
  EXPECT_EQ(call("POST", "/collect/json/events", R"({"user_id":"u3"})", token).status, 200);
}

TEST_F(ApiTest, MetricsExposeEngineAndHttpSeries) {
  seed();
  Reply metrics = call("GET", "/metrics", "", "");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("shoal_events_applied_total 2"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("shoal_segment_size{slug=\"pro\"} 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("shoal_http_requests_total{route=\"/collect/json/{stream}\","
                              "status=\"200\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("shoal_http_request_seconds_bucket"), std::string::npos);
}

TEST_F(ApiTest, AuthorizationSecretsAreWriteOnlyAndEncryptedAtRest) {
  // A canary: scripts/check-test-logs fails the test run if it appears in any test's output.
  const std::string secret = "shoal-canary-secret/K7MDENG/bPxRfiCYEXAMPLEKEY";
  Reply created = call("POST", "/api/auth",
                       R"({"provider":"aws","method":"keys","label":"prod","config":{"access_key":"AKIAIOSFODNN7EXAMPLE","secret_key":")" +
                           secret + R"("}})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(data(created).at("id").as_string());
  EXPECT_EQ(created.body.find(secret), std::string::npos);
  EXPECT_EQ(created.body.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos);
  Reply list = call("GET", "/api/auth");
  EXPECT_EQ(data(list).as_array().size(), 1u);
  EXPECT_EQ(list.body.find(secret), std::string::npos);
  EXPECT_EQ(call("GET", "/api/auth/" + id).body.find(secret), std::string::npos);
  // Nothing in the store holds the secret in clear.
  ASSERT_TRUE(store_
                  ->scan("", [&](std::string_view, std::string_view value) {
                    EXPECT_EQ(value.find(secret), std::string_view::npos);
                    EXPECT_EQ(value.find("AKIAIOSFODNN7EXAMPLE"), std::string_view::npos);
                    return true;
                  })
                  .ok());
  EXPECT_EQ(fs::status(dir_ / "master.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // The secret opens after a restart (same master key), not under another key.
  stop();
  start();
  aws::HttpClient http;
  auto provider = authorizations_->credentials(id, http, "us-east-1", "");
  ASSERT_TRUE(provider.ok()) << provider.error().message;
  auto credentials = (*provider)->get(kT);
  ASSERT_TRUE(credentials.ok());
  EXPECT_EQ(credentials->secret_access_key, secret);
  MasterKey other;
  other.bytes.fill(7);
  Authorizations foreign(*store_, other);
  ASSERT_TRUE(foreign.load().ok());
  EXPECT_EQ(foreign.credentials(id, http, "us-east-1", "").error().code, ErrorCode::kCorruption);
  EXPECT_EQ(call("DELETE", "/api/auth/" + id).status, 200);
  EXPECT_EQ(call("GET", "/api/auth/" + id).status, 404);
}

TEST_F(ApiTest, JobsPauseResumeSurviveARestartAndStopWhenTheirAuthorizationGoes) {
  Reply auth = call("POST", "/api/auth",
                    R"({"method":"keys","config":{"access_key":"AKIDEXAMPLE","secret_key":"shoal-canary-secret-2"}})");
  std::string auth_id(data(auth).at("id").as_string());
  EXPECT_EQ(call("POST", "/api/work", R"({"workflow":"nope","name":"x"})").status, 400);
  EXPECT_EQ(call("POST", "/api/work", R"({"workflow":"test_import"})").status, 400);
  Reply created = call("POST", "/api/work",
                       R"({"workflow":"test_import","name":"clicks","config":{"stream":"clicks"},"auth_ids":[")" +
                           auth_id + R"("]})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(data(created).at("id").as_string());
  EXPECT_EQ(data(created).at("state").as_string(), "running");
  EXPECT_EQ(data(call("POST", "/api/work/" + id + "/pause")).at("state").as_string(), "paused");
  EXPECT_EQ(call("POST", "/api/work/" + id + "/pause").status, 409);
  std::string metrics = call("GET", "/metrics", "", "").body;
  EXPECT_NE(metrics.find("shoal_job_up{job=\"" + id +
                         "\",workflow=\"test_import\",name=\"clicks\",state=\"paused\"} 1"),
            std::string::npos)
      << metrics;
  stop();
  start();
  Reply after = call("GET", "/api/work/" + id);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(data(after).at("state").as_string(), "paused");
  EXPECT_EQ(data(after).at("config").at("stream").as_string(), "clicks");
  EXPECT_EQ(data(call("POST", "/api/work/" + id + "/resume")).at("state").as_string(), "running");
  ASSERT_EQ(call("DELETE", "/api/auth/" + auth_id).status, 200);
  Reply stopped = call("GET", "/api/work/" + id);
  EXPECT_EQ(data(stopped).at("state").as_string(), "error");
  EXPECT_NE(data(stopped).at("error").as_string().find("deleted"), json::string::npos);
  EXPECT_EQ(data(call("GET", "/api/work")).as_array().size(), 1u);
  EXPECT_EQ(call("DELETE", "/api/work/" + id).status, 200);
  EXPECT_EQ(call("GET", "/api/work/" + id).status, 404);
}

TEST_F(ApiTest, RoleAuthorizationGetsAGeneratedExternalId) {
  Reply created = call("POST", "/api/auth",
                       R"({"method":"role","label":"delegated","config":{"role_arn":"arn:aws:iam::123456789012:role/ShoalKinesis"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(data(created).at("config").at("external_id").as_string().size(), 32u);
  EXPECT_EQ(call("POST", "/api/auth", R"({"method":"role","config":{"role_arn":"nope"}})").status,
            400);
  EXPECT_EQ(call("POST", "/api/auth", R"({"method":"keys","config":{}})").status, 400);
}

TEST_F(ApiTest, ListsKinesisStreamsAndTestsAnAuthorizationAgainstTheEmulator) {
  std::string reason = test::KinesisEmulator::unavailable_reason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  test::KinesisEmulator emulator;
  ASSERT_TRUE(emulator.start().ok()) << emulator.output();
  test::KinesisTestClient kinesis(emulator.endpoint());
  kinesis::CreateStreamRequest create;
  create.stream_name = "clicks";
  ASSERT_TRUE(kinesis.client.create_stream(create).ok());
  stop();
  api_options_.kinesis_endpoint = emulator.endpoint();
  start();
  Reply created = call("POST", "/api/auth",
                       R"({"method":"keys","config":{"access_key":"AKIDEXAMPLE","secret_key":"secret"}})");
  std::string id(data(created).at("id").as_string());
  Reply tested = call("POST", "/api/auth/" + id + "/_test");
  ASSERT_EQ(tested.status, 200) << tested.body;
  EXPECT_TRUE(data(tested).at("ok").as_bool()) << tested.body;
  Reply streams = call("GET", "/api/aws/kinesis/streams?auth=" + id + "&region=us-east-1");
  ASSERT_EQ(streams.status, 200) << streams.body;
  EXPECT_EQ(data(streams).at(0).as_string(), "clicks");
  EXPECT_EQ(call("GET", "/api/aws/kinesis/streams?auth=unknown").status, 404);
}

}  // namespace
}  // namespace shoal::http
