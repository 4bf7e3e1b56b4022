// The webhook channel end to end below HTTP: a real store and Partition, the exporter's commit
// observer and deliverer, WebhookSink POSTing to a real HTTP server on 127.0.0.1
// (tests/support/http_test_server.h). Bounded waits only.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "export/exporter.h"
#include "model/json.h"
#include "tests/support/http_test_server.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::exports {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr const char* kMapping = "SELECT user_id, plan FROM events INTO user BY user_id";

// What the webhook server received, and what it answers.
struct Endpoint {
  std::mutex mutex;
  std::vector<test::TestHttpRequest> requests;
  std::vector<int> answers;  // statuses answered in turn; the last one repeats
  test::TestHttpResponse handle(const test::TestHttpRequest& request) {
    std::lock_guard lock(mutex);
    requests.push_back(request);
    int status = answers.empty() ? 200 : answers[std::min(requests.size(), answers.size()) - 1];
    return test::TestHttpResponse::text(status, status < 300 ? "ok" : "nope");
  }
  std::vector<test::TestHttpRequest> received() {
    std::lock_guard lock(mutex);
    return requests;
  }
};

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("shoal_webhook_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    server_ = std::make_unique<test::HttpTestServer>(
        [this](const test::TestHttpRequest& r) { return endpoint_.handle(r); });
    ASSERT_TRUE(server_->start().ok());
    auto store = storage::Store::open(dir_.string(), {});
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    exporter_ = std::make_unique<Exporter>(
        *store_, wall_, [this](const Subscription& s) -> Result<std::unique_ptr<Sink>> {
          if (s.channel == Channel::kWebhook) return std::unique_ptr<Sink>(new WebhookSink(s));
          return std::unique_ptr<Sink>(
              new KinesisSink(s, std::make_unique<test::FixedCredentialsProvider>(), wall_));
        });
    ASSERT_TRUE(exporter_->load().ok());
    engine::EngineOptions engine_options;
    engine_options.synchronous_segment_builds = false;
    engine_options.commit_observer = exporter_->commit_observer();
    partition_ = std::make_unique<engine::Partition>(*store_, engine_options, wall_,
                                                     engine::PartitionOptions{},
                                                     exporter_->trigger_sink());
    ASSERT_TRUE(partition_->start().ok());
    exporter_->start(*partition_);
    ASSERT_TRUE(run([](engine::Engine& e) -> Status {
                  auto m = e.set_mapping(kMapping);
                  if (!m.ok()) return m.take_error();
                  for (const auto& o : e.register_segments({"FILTER plan == \"pro\" ALIAS pro"})
                                           .outcomes) {
                    if (!o.result.ok()) return o.result.error();
                  }
                  return ok_status();
                }).ok());
  }
  void TearDown() override {
    if (exporter_) exporter_->stop();
    if (partition_) partition_->stop();
    exporter_.reset();
    partition_.reset();
    store_.reset();
    if (server_) server_->stop();
    fs::remove_all(dir_);
  }

  Status run(std::function<Status(engine::Engine&)> work) {
    auto result = std::make_shared<Status>();
    auto done = std::make_shared<std::promise<Status>>();
    auto future = done->get_future();
    Status queued = partition_->submit(
        [result, work](engine::Engine& engine) { *result = work(engine); },
        [result, done](const Status& committed) {
          done->set_value(committed.ok() ? *result : committed);
        });
    if (!queued.ok()) return queued;
    return future.get();
  }

  void collect(const std::string& json_text) {
    ASSERT_TRUE(run([json_text](engine::Engine& e) -> Status {
                  model::JsonParser parser;
                  auto v = parser.parse(json_text);
                  if (!v.ok()) return v.take_error();
                  auto outcome = e.apply_event("events", *v, e.now());
                  if (!outcome.applied) {
                    return make_error(ErrorCode::kInvalidArgument, outcome.reason);
                  }
                  return ok_status();
                }).ok());
  }

  Subscription webhook(std::uint32_t max_attempts = 50) {
    Subscription s;
    s.name = "hook";
    s.channel = Channel::kWebhook;
    s.webhook_url = server_->base_url() + "/hooks/shoal?team=growth";
    s.headers = {{"X-Api-Key", "secret-123"}, {"X-Team", "growth"}};
    s.identifier_field = "user_id";
    s.segment_ids = {"pro"};
    s.delivery.linger_ms = 5;
    s.delivery.backoff_base_ms = 10;
    s.delivery.backoff_max_ms = 40;
    s.delivery.max_attempts = max_attempts;
    s.delivery.request_timeout_ms = 5000;
    return s;
  }

  // Waits (bounded) until the server has received `count` requests.
  std::vector<test::TestHttpRequest> wait_requests(std::size_t count) {
    for (int i = 0; i < 500; ++i) {
      auto received = endpoint_.received();
      if (received.size() >= count) return received;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return endpoint_.received();
  }

  std::vector<DeadLetterEntry> wait_dead_letters(const std::string& id, std::size_t count) {
    std::vector<DeadLetterEntry> letters;
    for (int i = 0; i < 500; ++i) {
      auto got = exporter_->dead_letters(id, 100);
      if (got.ok()) letters = *got;
      if (letters.size() >= count) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return letters;
  }

  fs::path dir_;
  WallClock wall_;
  Endpoint endpoint_;
  std::unique_ptr<test::HttpTestServer> server_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Exporter> exporter_;
  std::unique_ptr<engine::Partition> partition_;
};

TEST_F(WebhookTest, A2xxAnswerDeliversTheKinesisMessageWithTheConfiguredHeaders) {
  if (std::string reason = test::KinesisEmulator::unavailable_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  test::KinesisEmulator emulator;
  ASSERT_TRUE(emulator.start().ok());
  test::KinesisTestClient direct(emulator.endpoint());
  std::string stream = test::unique_stream_name("webhook");
  ASSERT_TRUE(direct.client.create_stream({stream, 1, false}).ok());
  for (int i = 0; i < 200; ++i) {
    auto s = direct.client.describe_stream_summary(kinesis::StreamRef::by_name(stream));
    if (s.ok() && s->stream_status == "ACTIVE") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  Subscription to_kinesis = webhook();
  to_kinesis.name = "stream";
  to_kinesis.channel = Channel::kKinesis;
  to_kinesis.stream = stream;
  to_kinesis.region = "us-east-1";
  to_kinesis.endpoint = emulator.endpoint();
  auto hook = exporter_->create_and_wait(webhook());
  ASSERT_TRUE(hook.ok()) << hook.error().message;
  auto kinesis = exporter_->create_and_wait(to_kinesis);
  ASSERT_TRUE(kinesis.ok()) << kinesis.error().message;

  endpoint_.answers = {204};
  collect(R"({"user_id":"w1","plan":"pro"})");
  auto received = wait_requests(1);
  ASSERT_EQ(received.size(), 1u);
  const test::TestHttpRequest& post = received[0];
  EXPECT_EQ(post.method, "POST");
  EXPECT_EQ(post.target, "/hooks/shoal?team=growth");
  EXPECT_EQ(post.header("X-Api-Key"), "secret-123");
  EXPECT_EQ(post.header("X-Team"), "growth");
  EXPECT_EQ(post.header("Content-Type"), "application/json");

  // The Kinesis record of the same profile change: the same message but for subscription_id.
  std::vector<kinesis::Record> records;
  for (int i = 0; i < 400 && records.empty(); ++i) {
    kinesis::GetShardIteratorRequest from_start;
    from_start.stream = kinesis::StreamRef::by_name(stream);
    from_start.shard_id = "shardId-000000000000";
    from_start.type = kinesis::ShardIteratorType::kTrimHorizon;
    auto it = direct.client.get_shard_iterator(from_start);
    ASSERT_TRUE(it.ok());
    auto got = direct.client.get_records(*it, 100);
    if (got.ok()) records = got->records;
    if (records.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(records.size(), 1u);
  json::object from_hook = json::parse(post.body).as_object();
  json::object from_stream = json::parse(records[0].data).as_object();
  EXPECT_EQ(from_hook.at("subscription_id").as_string(), hook->id);
  EXPECT_EQ(from_stream.at("subscription_id").as_string(), kinesis->id);
  from_hook.erase("subscription_id");
  from_stream.erase("subscription_id");
  EXPECT_EQ(json::serialize(from_hook), json::serialize(from_stream));
  EXPECT_EQ(from_hook.at("data").at("segment_events").as_array()[0].at("event").as_string(),
            "enter");

  // Accepted: counted once, nothing left in the outbox, no further POST.
  for (int i = 0; i < 200 && exporter_->get(hook->id)->delivery.sent < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(exporter_->get(hook->id)->delivery.sent, 1u);
  EXPECT_EQ(exporter_->outbox_size(hook->id).value(), 0u);
  EXPECT_EQ(endpoint_.received().size(), 1u);
  exporter_->stop();  // before the emulator goes away
}

TEST_F(WebhookTest, A5xxIsRetriedWithTheSameBodyUntilA2xx) {
  endpoint_.answers = {500, 503, 200};
  auto hook = exporter_->create_and_wait(webhook());
  ASSERT_TRUE(hook.ok()) << hook.error().message;
  collect(R"({"user_id":"w2","plan":"pro"})");
  auto received = wait_requests(3);
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[1].body, received[0].body);
  EXPECT_EQ(received[2].body, received[0].body);
  for (int i = 0; i < 200 && exporter_->get(hook->id)->delivery.sent < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  SubscriptionStatus status = *exporter_->get(hook->id);
  EXPECT_EQ(status.delivery.sent, 1u);
  EXPECT_EQ(status.delivery.failed_attempts, 2u);
  EXPECT_EQ(status.state, "running");  // the error cleared with the success
  EXPECT_EQ(exporter_->outbox_size(hook->id).value(), 0u);
  EXPECT_TRUE(exporter_->dead_letters(hook->id, 10)->empty());
}

TEST_F(WebhookTest, ANon2xxAnswerIsRetriedThenDeadLetteredAndReplayable) {
  endpoint_.answers = {404};
  auto hook = exporter_->create_and_wait(webhook(/*max_attempts=*/3));
  ASSERT_TRUE(hook.ok()) << hook.error().message;
  collect(R"({"user_id":"w3","plan":"pro"})");
  auto letters = wait_dead_letters(hook->id, 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].letter.attempts, 3u);
  EXPECT_EQ(letters[0].letter.error, "webhook answered HTTP 404");
  EXPECT_EQ(letters[0].letter.partition_key, "w3");
  auto received = endpoint_.received();
  ASSERT_EQ(received.size(), 3u);  // three attempts, then no more
  EXPECT_EQ(letters[0].letter.message, received[0].body);
  SubscriptionStatus status = *exporter_->get(hook->id);
  EXPECT_EQ(status.delivery.dead_lettered, 1u);
  EXPECT_EQ(status.state, "error");
  EXPECT_EQ(status.error, "webhook answered HTTP 404");
  EXPECT_EQ(exporter_->outbox_size(hook->id).value(), 0u);

  // The endpoint is fixed: a replay sends the same message again, and it is accepted.
  {
    std::lock_guard lock(endpoint_.mutex);
    endpoint_.answers.assign(4, 200);
  }
  auto replayed = exporter_->replay_dead_letters(hook->id);
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(*replayed, 1u);
  received = wait_requests(4);
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[3].body, received[0].body);
  for (int i = 0; i < 200 && exporter_->get(hook->id)->delivery.sent < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(exporter_->get(hook->id)->delivery.sent, 1u);
  EXPECT_TRUE(exporter_->dead_letters(hook->id, 10)->empty());
}

}  // namespace
}  // namespace shoal::exports
