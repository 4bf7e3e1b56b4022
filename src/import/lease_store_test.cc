#include "import/lease_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace shoal::import {
namespace {

namespace fs = std::filesystem;

class LeaseStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("shoal_lease_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    store_ = std::move(storage::Store::open(dir_.string(), {}).value());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  Lease lease(std::string shard, std::string owner, std::uint64_t counter) {
    Lease l;
    l.shard_id = std::move(shard);
    l.owner = std::move(owner);
    l.counter = counter;
    l.parents = {"p1", "p2"};
    l.starting_hash_key = "0";
    l.ending_hash_key = "99";
    l.start = {StartKind::kAtTimestamp, 1234};
    return l;
  }
  fs::path dir_;
  std::unique_ptr<storage::Store> store_;
};

TEST_F(LeaseStoreTest, CreatesOnceAndSurvivesReopening) {
  {
    RocksDbLeaseStore leases(*store_, "job1");
    EXPECT_TRUE(*leases.create(lease("s0", "", 0)));
    EXPECT_FALSE(*leases.create(lease("s0", "w", 5)));
    RocksDbLeaseStore other_job(*store_, "job2");
    EXPECT_TRUE(other_job.list()->empty());
  }
  RocksDbLeaseStore reopened(*store_, "job1");
  auto listed = reopened.list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0], lease("s0", "", 0));
}

TEST_F(LeaseStoreTest, UpdateIsConditionalOnTheCounter) {
  RocksDbLeaseStore leases(*store_, "job");
  ASSERT_TRUE(leases.create(lease("s0", "", 0)).ok());
  ASSERT_TRUE(leases.update(lease("s0", "a", 1), 0).ok());
  Status stale = leases.update(lease("s0", "b", 1), 0);  // b read counter 0 before a took it
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ((*leases.list())[0].owner, "a");
  EXPECT_EQ(leases.update(lease("nope", "a", 1), 0).error().code, ErrorCode::kNotFound);
}

TEST_F(LeaseStoreTest, FencedOffWorkerCannotBeginACheckpoint) {
  RocksDbLeaseStore leases(*store_, "job");
  ASSERT_TRUE(leases.create(lease("s0", "", 0)).ok());
  ASSERT_TRUE(leases.update(lease("s0", "a", 1), 0).ok());
  ASSERT_TRUE(leases.begin_checkpoint("s0", "a", 1).ok());
  leases.end_checkpoint("s0");
  ASSERT_TRUE(leases.update(lease("s0", "b", 2), 1).ok());  // b takes over
  Status fenced = leases.begin_checkpoint("s0", "a", 1);
  ASSERT_FALSE(fenced.ok());
  EXPECT_NE(fenced.error().message.find("fenced"), std::string::npos);
  EXPECT_FALSE(leases.begin_checkpoint("s0", "b", 1).ok());  // stale counter
  EXPECT_TRUE(leases.begin_checkpoint("s0", "b", 2).ok());
}

TEST_F(LeaseStoreTest, NoTakeoverWhileTheOwnersCheckpointIsInFlight) {
  RocksDbLeaseStore leases(*store_, "job");
  ASSERT_TRUE(leases.create(lease("s0", "a", 1)).ok());
  ASSERT_TRUE(leases.begin_checkpoint("s0", "a", 1).ok());
  Status busy = leases.update(lease("s0", "b", 2), 1);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kUnavailable);
  // The owner may still renew (its checkpoint was checked already).
  ASSERT_TRUE(leases.update(lease("s0", "a", 2), 1).ok());
  leases.end_checkpoint("s0");
  EXPECT_TRUE(leases.update(lease("s0", "b", 3), 2).ok());
}

TEST_F(LeaseStoreTest, WorkerIdIsStableAcrossRestarts) {
  auto first = load_or_create_worker_id(*store_);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->rfind("worker-", 0), 0u);
  store_.reset();
  store_ = std::move(storage::Store::open(dir_.string(), {}).value());
  EXPECT_EQ(*load_or_create_worker_id(*store_), *first);
}

TEST_F(LeaseStoreTest, DecodeRejectsGarbage) {
  EXPECT_FALSE(decode_lease("{").ok());
  EXPECT_FALSE(decode_lease(R"({"shard":"s"})").ok());
}

}  // namespace
}  // namespace shoal::import
