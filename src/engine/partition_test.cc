#include "engine/partition.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>

#include "model/json.h"

namespace shoal::engine {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMs kT = 1700000000000;
constexpr TimestampMs kDay = 86400000;
constexpr const char* kMapping =
    "SELECT user_id, plan, _ts AS last_seen KIND date FROM events INTO user BY user_id";

model::Value parse(std::string_view json) {
  model::JsonParser parser;
  return *parser.parse(json);
}

class PartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("shoal_partition_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto store = storage::Store::open(dir_.string(), {});
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
  }
  void TearDown() override {
    partition_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void start(PartitionOptions options = {}) {
    EngineOptions engine_options;
    engine_options.synchronous_segment_builds = false;
    partition_ = std::make_unique<Partition>(
        *store_, engine_options, clock_, options, [this](const std::vector<Trigger>& triggers) {
          std::lock_guard lock(mutex_);
          for (const Trigger& t : triggers) triggers_.push_back(t);
          sink_changed_.notify_all();
        });
    ASSERT_TRUE(partition_->start().ok());
  }

  // Runs `work` on the engine thread and waits for its commit.
  Status run(Partition::Work work) {
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    Status queued =
        partition_->submit(std::move(work), [promise](const Status& s) { promise->set_value(s); });
    if (!queued.ok()) return queued;
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return make_error(ErrorCode::kTimeout, "no commit");
    }
    return future.get();
  }

  bool wait_for_triggers(std::size_t count) {
    std::unique_lock lock(mutex_);
    return sink_changed_.wait_for(lock, std::chrono::seconds(10),
                                  [&] { return triggers_.size() >= count; });
  }

  fs::path dir_;
  ManualClock clock_{kT};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Partition> partition_;
  std::mutex mutex_;
  std::condition_variable sink_changed_;
  std::vector<Trigger> triggers_;
};

TEST_F(PartitionTest, CompletesAnItemOnlyAfterItsChangesAreCommitted) {
  start();
  ASSERT_TRUE(run([](Engine& engine) { ASSERT_TRUE(engine.set_mapping(kMapping).ok()); }).ok());
  bool applied = false;
  ASSERT_TRUE(run([&](Engine& engine) {
                applied = engine.apply_event("events", parse(R"({"user_id":"u1","plan":"pro"})"),
                                             kT).applied;
              }).ok());
  EXPECT_TRUE(applied);
  // An engine opened on the store behind the running one's back (what a restart after kill -9
  // sees): the profile is already there, from the command log.
  Engine restarted(*store_, {});
  ASSERT_TRUE(restarted.open().ok());
  EXPECT_EQ(restarted.counters().log_records_replayed, 2u);  // the mapping, then the event
  auto profile = restarted.find_profile("user_id", "u1");
  ASSERT_TRUE(profile.ok());
  ASSERT_NE(*profile, nullptr);
  EXPECT_EQ((*profile)->field("plan")->value.as_string(), "pro");
}

TEST_F(PartitionTest, FiresTimersWhenTheWallClockPassesThemWithoutInput) {
  start();
  ASSERT_TRUE(run([](Engine& engine) {
                ASSERT_TRUE(engine.set_mapping(kMapping).ok());
                auto batch = engine.register_segments({"FILTER last_seen > \"now-7d\" ALIAS active"});
                ASSERT_TRUE(batch.outcomes[0].result.ok());
                engine.apply_event("events", parse(R"({"user_id":"u1"})"), kT);
              }).ok());
  ASSERT_TRUE(wait_for_triggers(1));
  clock_.advance(8 * kDay);
  ASSERT_TRUE(wait_for_triggers(2));
  std::lock_guard lock(mutex_);
  EXPECT_EQ(triggers_[0].event, TriggerEvent::kEnter);
  EXPECT_EQ(triggers_[1].event, TriggerEvent::kExit);
  EXPECT_EQ(triggers_[1].ts, kT + 7 * kDay);
}

TEST_F(PartitionTest, BuildsANewSegmentOverExistingProfilesInTheBackground) {
  PartitionOptions options;
  options.build_step_profiles = 7;
  start(options);
  ASSERT_TRUE(run([](Engine& engine) {
                ASSERT_TRUE(engine.set_mapping(kMapping).ok());
                for (int i = 0; i < 50; ++i) {
                  std::string json = R"({"user_id":"u)" + std::to_string(i) + R"(","plan":")" +
                                     (i % 2 ? "pro" : "free") + "\"}";
                  engine.apply_event("events", parse(json), kT);
                }
              }).ok());
  ASSERT_TRUE(run([](Engine& engine) {
                ASSERT_TRUE(engine.register_segments({"FILTER plan == \"pro\" ALIAS pro"})
                                .outcomes[0]
                                .result.ok());
              }).ok());
  ASSERT_TRUE(wait_for_triggers(25));
  std::uint64_t size = 0;
  ASSERT_TRUE(run([&](Engine& engine) {
                size = engine.segment_size(engine.catalog().find("pro")->ordinal);
              }).ok());
  EXPECT_EQ(size, 25u);
}

TEST_F(PartitionTest, StopCommitsQueuedItemsAndRefusesLaterOnes) {
  start();
  std::atomic<int> completed = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(partition_
                    ->submit(
                        [i](Engine& engine) {
                          if (i == 0) {
                            ASSERT_TRUE(engine.set_mapping(kMapping).ok());
                          }
                          engine.apply_event(
                              "events",
                              parse(R"({"user_id":"u)" + std::to_string(i) + "\"}"), kT);
                        },
                        [&](const Status& s) {
                          if (s.ok()) ++completed;
                        })
                    .ok());
  }
  partition_->stop();
  EXPECT_EQ(completed.load(), 100);
  EXPECT_EQ(partition_->submit([](Engine&) {}, nullptr).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(partition_->stats().engine.events_applied, 100u);
}

// A clean stop ends with a checkpoint: the store holds every profile and no command log, so the
// next start replays nothing.
TEST_F(PartitionTest, StopEndsWithACheckpointSoTheNextStartReplaysNothing) {
  PartitionOptions options;
  options.checkpoint_interval = std::chrono::hours(1);  // no periodic checkpoint meanwhile
  start(options);
  ASSERT_TRUE(run([](Engine& engine) { ASSERT_TRUE(engine.set_mapping(kMapping).ok()); }).ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(run([i](Engine& engine) {
                  engine.apply_event("events",
                                     parse(R"({"user_id":"u)" + std::to_string(i) + "\"}"), kT);
                }).ok());
  }
  auto count = [&](std::string_view prefix) {
    std::size_t n = 0;
    EXPECT_TRUE(store_->scan(prefix, [&](std::string_view, std::string_view) {
      ++n;
      return true;
    }).ok());
    return n;
  };
  EXPECT_GE(count("C"), 20u);  // committed as log records so far
  partition_->stop();
  EXPECT_EQ(count("C"), 0u);
  partition_.reset();

  Engine reopened(*store_, EngineOptions{});
  ASSERT_TRUE(reopened.open().ok());
  EXPECT_EQ(reopened.counters().log_records_replayed, 0u);
  for (int i = 0; i < 20; ++i) {
    auto profile = reopened.find_profile("user_id", "u" + std::to_string(i));
    ASSERT_TRUE(profile.ok());
    EXPECT_NE(*profile, nullptr) << "u" << i;
  }
}

TEST_F(PartitionTest, RefusesWorkBeyondTheQueueCapacity) {
  PartitionOptions options;
  options.queue_capacity = 2;
  start(options);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_TRUE(partition_->submit([released](Engine&) { released.wait(); }, nullptr).ok());
  // The loop may already have taken the first item; fill the queue until it refuses.
  Status last = ok_status();
  for (int i = 0; i < 4 && last.ok(); ++i) last = partition_->submit([](Engine&) {}, nullptr);
  release.set_value();
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.error().code, ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace shoal::engine
