// Jobs: runners start with running jobs, stop on pause/delete/failure/stop_all, report counters
// that add up across restarts, and a runner that fails on its own thread is retired safely.
#include "http/jobs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "http/json_records.h"

namespace shoal::http {
namespace {

namespace fs = std::filesystem;

// A runner with a thread, like a real one: it counts "ticks" until stopped, and on request fails
// from its own thread.
class TickingRunner final : public JobRunner {
 public:
  TickingRunner(JobEvents events, std::atomic<int>& live, bool fail_at_once)
      : events_(std::move(events)), live_(live) {
    ++live_;
    ticks_ = 3;  // before the thread, so counters are exact whenever it is stopped
    thread_ = std::thread([this, fail_at_once] {
      if (fail_at_once) {
        events_.fail("the stream is gone");
        return;
      }
      while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  ~TickingRunner() override {
    stop_ = true;
    thread_.join();
    --live_;
  }
  std::map<std::string, std::uint64_t> counters() const override {
    return {{"ticks", ticks_.load()}};
  }
  std::map<std::string, std::uint64_t> gauges() const override { return {{"lag_ms", 7}}; }

 private:
  JobEvents events_;
  std::atomic<int>& live_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> ticks_{0};
  std::thread thread_;
};

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("shoal-jobs-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open();
  }
  void TearDown() override {
    jobs_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    jobs_.reset();
    store_.reset();
    auto store = storage::Store::open(dir_.string(), {});
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store.value());
    jobs_ = std::make_unique<Jobs>(*store_, clock_);
    Workflow workflow;
    workflow.name = "ticker";
    workflow.validate = [](const Job&) { return ok_status(); };
    workflow.start = [this](const Job& job, JobEvents events)
        -> Result<std::unique_ptr<JobRunner>> {
      if (job.name == "refused") return make_error(ErrorCode::kInvalidArgument, "bad stream");
      return std::unique_ptr<JobRunner>(
          std::make_unique<TickingRunner>(std::move(events), live_, job.name == "failing"));
    };
    workflow.forget = [this](const Job& job) {
      forgotten_.push_back(job.id);
      return ok_status();
    };
    jobs_->add_workflow(workflow);
    ASSERT_TRUE(jobs_->load().ok());
  }
  Job create(const std::string& name) {
    Job job;
    job.workflow = "ticker";
    job.name = name;
    auto created = jobs_->create(job, clock_.now_ms());
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? created.value() : Job{};
  }
  // Waits (bounded) until the job leaves `running`.
  JobState settle(const std::string& id) {
    for (int i = 0; i < 2000; ++i) {
      auto job = jobs_->get(id);
      if (job && job->state != JobState::kRunning) return job->state;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return JobState::kRunning;
  }

  fs::path dir_;
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Jobs> jobs_;
  std::atomic<int> live_{0};
  std::vector<std::string> forgotten_;
};

TEST_F(JobsTest, ARunnerRunsWhileTheJobRunsAndItsCountersAddUpAcrossRestarts) {
  Job job = create("clicks");
  EXPECT_EQ(live_.load(), 1);
  for (int i = 0; i < 2000 && jobs_->get(job.id)->counters["ticks"] != 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(jobs_->get(job.id)->counters["ticks"], 3u);
  EXPECT_EQ(jobs_->get(job.id)->gauges["lag_ms"], 7u);
  ASSERT_TRUE(jobs_->pause(job.id, clock_.now_ms()).ok());
  EXPECT_EQ(live_.load(), 0);
  EXPECT_EQ(jobs_->get(job.id)->counters["ticks"], 3u);  // kept after the runner went
  EXPECT_TRUE(jobs_->get(job.id)->gauges.empty());        // a gauge is live only, never summed
  EXPECT_EQ(jobs_->get(job.id)->counters.count("lag_ms"), 0u);
  ASSERT_TRUE(jobs_->resume(job.id, clock_.now_ms()).ok());
  EXPECT_EQ(live_.load(), 1);
  jobs_->stop_all();
  EXPECT_EQ(live_.load(), 0);
  open();  // a restart: the job is still running and starts again
  EXPECT_EQ(live_.load(), 0);
  jobs_->start_all(clock_.now_ms());
  EXPECT_EQ(live_.load(), 1);
  auto again = jobs_->get(job.id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state, JobState::kRunning);
  for (int i = 0; i < 2000 && jobs_->get(job.id)->counters["ticks"] != 9; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(jobs_->get(job.id)->counters["ticks"], 9u);  // 3 + 3 stored, 3 live
  ASSERT_TRUE(jobs_->remove(job.id).ok());
  EXPECT_EQ(live_.load(), 0);
  ASSERT_EQ(forgotten_.size(), 1u);
  EXPECT_EQ(forgotten_[0], job.id);
}

TEST_F(JobsTest, ARunnerThatFailsOnItsOwnThreadPutsTheJobInErrorAndIsRetired) {
  Job job = create("failing");
  EXPECT_EQ(settle(job.id), JobState::kError);
  EXPECT_EQ(jobs_->get(job.id)->error, "the stream is gone");
  EXPECT_EQ(jobs_->get(job.id)->counters["ticks"], 3u);
  // The retired runner is destroyed by the next call from another thread.
  EXPECT_FALSE(jobs_->pause(job.id, clock_.now_ms()).ok());
  EXPECT_EQ(live_.load(), 0);
  open();
  EXPECT_EQ(jobs_->get(job.id)->state, JobState::kError);  // a failure survives a restart
}

TEST_F(JobsTest, AStartThatIsRefusedPutsTheJobInErrorWithTheMessage) {
  Job job = create("refused");
  auto stored = jobs_->get(job.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, JobState::kError);
  EXPECT_EQ(stored->error, "bad stream");
  EXPECT_EQ(live_.load(), 0);
}

TEST_F(JobsTest, RemovingAnAuthorizationStopsTheJobsThatUseIt) {
  Job job;
  job.workflow = "ticker";
  job.name = "with-auth";
  job.auth_ids = {"a1"};
  auto created = jobs_->create(job, clock_.now_ms());
  ASSERT_TRUE(created.ok());
  Job other = create("no-auth");
  EXPECT_EQ(live_.load(), 2);
  ASSERT_TRUE(jobs_->authorization_removed("a1", clock_.now_ms()).ok());
  EXPECT_EQ(live_.load(), 1);
  EXPECT_EQ(jobs_->get(created->id)->state, JobState::kError);
  EXPECT_EQ(jobs_->get(other.id)->state, JobState::kRunning);
}

}  // namespace
}  // namespace shoal::http

namespace shoal::http {
namespace {

TEST_F(JobsTest, ACorruptStoredJobIsReportedAtLoad) {
  storage::Batch batch;
  batch.put(json_record_key(storage::RecordType::kJob, "broken"), "{not json");
  ASSERT_TRUE(store_->write(batch).ok());
  Status loaded = jobs_->load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(loaded.error().message, "a stored job is corrupt");
}

}  // namespace
}  // namespace shoal::http
