// The Consumer against kinesalite (and the fault proxy in front of it): start positions, KPL
// aggregation by aws-kinesis-agg, gzip, dead letters and their replay, throttling and 500s,
// expired iterators, split and merge while importing, fencing and lease failover. Skipped with
// a message when node or node_modules are missing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <random>

#include "import/dead_letters.h"
#include "import/import_job.h"
#include "import/import_test_util.h"
#include "import/record_decoder.h"
#include "kinesis/aggregation.h"
#include "kinesis/base64.h"
#include "kinesis/kinesis_error.h"
#include "tests/support/kinesis_emulator.h"
#include "tests/support/kinesis_fault_proxy.h"
#include "tests/support/kinesis_test_env.h"

namespace shoal::import {
namespace {

using shoal::test::KinesisEmulator;
using shoal::test::KinesisFaultProxy;
using shoal::test::KinesisTestClient;
using shoal::test::unique_stream_name;
using namespace shoal::import::testing;
using namespace std::chrono_literals;

std::string event_json(const std::string& user, int n, TimestampMs ts = 1'700'000'000'000) {
  return "{\"user_id\":\"" + user + "\",\"n\":" + std::to_string(n) +
         ",\"ts\":" + std::to_string(ts) + "}";
}

class ImportKinesaliteTest : public ::testing::Test {
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
    k_ = std::make_unique<KinesisTestClient>(emulator_->endpoint());
    bed_ = std::make_unique<EngineBed>(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    consumers_.clear();
    bed_.reset();
    proxy_.reset();
  }

  std::string create_stream(int shards) {
    std::string name = unique_stream_name("imp");
    Status created = k_->client.create_stream({name, shards, false});
    EXPECT_TRUE(created.ok()) << created.error().to_string();
    for (int i = 0; i < 200; ++i) {
      auto s = k_->client.describe_stream_summary(kinesis::StreamRef::by_name(name));
      if (s.ok() && s->stream_status == "ACTIVE") break;
      std::this_thread::sleep_for(20ms);
    }
    return name;
  }

  // Puts `data` records with partition key = user; returns the number put.
  void put(const std::string& stream,
           const std::vector<std::pair<std::string, std::string>>& records) {
    for (std::size_t at = 0; at < records.size(); at += 500) {
      std::vector<kinesis::PutRecordsEntry> entries;
      for (std::size_t i = at; i < std::min(records.size(), at + 500); ++i) {
        entries.push_back({records[i].second, records[i].first, {}});
      }
      auto result = k_->client.put_records(kinesis::StreamRef::by_name(stream), entries);
      ASSERT_TRUE(result.ok()) << result.error().to_string();
      ASSERT_EQ(result->failed_record_count, 0);
    }
  }

  // `events_per_user` events for each of `users` users, n = 1..events_per_user in order.
  // With first_n > 1: the events numbered first_n..events_per_user only.
  std::vector<std::pair<std::string, std::string>> events(const std::string& prefix, int users,
                                                          int events_per_user, int first_n = 1) {
    std::vector<std::pair<std::string, std::string>> out;
    for (int n = first_n; n <= events_per_user; ++n) {
      for (int u = 0; u < users; ++u) {
        std::string user = prefix + std::to_string(u);
        out.emplace_back(user, event_json(user, n));
      }
    }
    return out;
  }
  std::vector<std::string> user_names(const std::string& prefix, int users) {
    std::vector<std::string> out;
    for (int u = 0; u < users; ++u) out.push_back(prefix + std::to_string(u));
    return out;
  }

  ConsumerOptions options(const std::string& stream, std::string worker = "worker-a") {
    ConsumerOptions o;
    o.job_id = "job-" + stream;
    o.target_stream = "events";
    o.stream = kinesis::StreamRef::by_name(stream);
    o.decode.timestamp_field = "ts";
    o.worker_id = std::move(worker);
    o.failover_time = 1000ms;
    o.discovery_interval = 300ms;
    o.min_poll_interval = 200ms;
    o.max_idle_interval = 400ms;
    o.throttle_backoff = 100ms;
    o.error_backoff = 50ms;
    o.max_backoff = 400ms;
    o.error_after = 20s;
    o.tick = 20ms;
    return o;
  }

  Consumer& start_consumer(ConsumerOptions o, kinesis::KinesisClient* client = nullptr,
                           LeaseStore* leases = nullptr) {
    if (leases == nullptr) {
      if (!leases_) leases_ = std::make_unique<RocksDbLeaseStore>(*bed_->store, o.job_id);
      leases = leases_.get();
    }
    consumers_.push_back(std::make_unique<Consumer>(std::move(o), client ? *client : k_->client,
                                                    *leases, *bed_->store, *bed_->partition,
                                                    bed_->clock, [this](std::string message) {
                                                      std::lock_guard lock(fatal_mutex_);
                                                      fatal_ = message;
                                                    }));
    EXPECT_TRUE(consumers_.back()->start().ok());
    return *consumers_.back();
  }

  // Waits until every user has `events` events applied.
  bool wait_for_counts(const std::vector<std::string>& users, std::int64_t events,
                       std::chrono::milliseconds timeout = 20s) {
    return wait_for(
        [&] {
          auto profiles = bed_->profiles(users);
          if (profiles.size() != users.size()) return false;
          for (auto& [user, values] : profiles) {
            if (values[0] < events) return false;
          }
          return true;
        },
        timeout);
  }

  // Every user has exactly `events` events, total = sum 1..events, last_n = events.
  void expect_exact(const std::vector<std::string>& users, std::int64_t events) {
    auto profiles = bed_->profiles(users);
    ASSERT_EQ(profiles.size(), users.size());
    for (auto& [user, values] : profiles) {
      EXPECT_EQ(values[0], events) << user;
      EXPECT_EQ(values[1], events * (events + 1) / 2) << user;
      EXPECT_EQ(values[2], events) << user << " (per-key order)";
    }
  }

  // The fatal message, if any, and the first consumer's counters (for failure messages).
  std::string fatal() {
    std::string out;
    {
      std::lock_guard lock(fatal_mutex_);
      out = fatal_;
    }
    if (!consumers_.empty()) {
      for (const auto& [k, v] : counter_map(consumers_.front()->counters())) {
        out += " " + k + "=" + std::to_string(v);
      }
      auto profiles = bed_->profiles({"u0", "t0", "r0", "f0", "c0"});
      for (auto& [u, v] : profiles) {
        out += " " + u + "=" + std::to_string(v[0]) + "/" + std::to_string(v[1]) + "/" +
               std::to_string(v[2]);
      }
      out += " engine events_in=" + std::to_string(bed_->partition->stats().engine.events_in) +
             " applied=" + std::to_string(bed_->partition->stats().engine.events_applied);
    }
    return out;
  }
  std::string fatal_message() {
    std::lock_guard lock(fatal_mutex_);
    return fatal_;
  }

  static KinesisEmulator* emulator_;
  std::unique_ptr<KinesisTestClient> k_;
  std::unique_ptr<EngineBed> bed_;
  std::unique_ptr<RocksDbLeaseStore> leases_;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  std::unique_ptr<KinesisFaultProxy> proxy_;
  std::mutex fatal_mutex_;
  std::string fatal_;
};

KinesisEmulator* ImportKinesaliteTest::emulator_ = nullptr;

TEST_F(ImportKinesaliteTest, TrimHorizonImportsEveryEventExactlyOnce) {
  std::string stream = create_stream(2);
  put(stream, events("u", 20, 5));
  Consumer& consumer = start_consumer(options(stream));
  ASSERT_TRUE(wait_for_counts(user_names("u", 20), 5)) << fatal();
  // Keep polling a while: nothing is applied twice.
  std::this_thread::sleep_for(500ms);
  expect_exact(user_names("u", 20), 5);
  ImportCounters c = consumer.counters();
  EXPECT_EQ(c.events_applied, 100u);
  EXPECT_EQ(c.records_read, 100u);
  EXPECT_EQ(c.shards_owned, 2u);
  EXPECT_EQ(c.dead_lettered, 0u);
  EXPECT_EQ(fatal_message(), "");
  // Both shards have a committed checkpoint.
  for (const char* shard : {"shardId-000000000000", "shardId-000000000001"}) {
    auto cp = read_checkpoint(*bed_->store, "job-" + stream, shard);
    ASSERT_TRUE(cp.ok());
    EXPECT_TRUE(cp->has_value()) << shard;
  }
}

TEST_F(ImportKinesaliteTest, NeverCallsGetRecordsMoreThanFiveTimesASecondPerShard) {
  std::string stream = create_stream(2);
  put(stream, events("p", 20, 3));  // 60 records, read one per call: the shards stay busy
  ConsumerOptions o = options(stream);
  o.get_records_limit = 1;
  auto started = std::chrono::steady_clock::now();
  Consumer& consumer = start_consumer(o);
  std::this_thread::sleep_for(2000ms);
  std::uint64_t calls = consumer.counters().get_records_calls;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // Each shard: at most one call at once, then one per 200 ms.
  EXPECT_LE(static_cast<double>(calls), 2 * (seconds * 5 + 1)) << calls << " calls in " << seconds;
  EXPECT_GE(calls, 12u) << "a busy shard is read again after 200 ms";
  EXPECT_LT(consumer.counters().events_applied, 60u);
}

TEST_F(ImportKinesaliteTest, LatestSkipsWhatWasThereBefore) {
  std::string stream = create_stream(1);
  put(stream, events("old", 5, 1));
  ConsumerOptions o = options(stream);
  o.start = {StartKind::kLatest, 0};
  Consumer& consumer = start_consumer(o);
  ASSERT_TRUE(wait_for([&] { return consumer.counters().get_records_calls > 0; }, 10s));
  put(stream, events("new", 5, 2));
  ASSERT_TRUE(wait_for_counts(user_names("new", 5), 2)) << fatal();
  expect_exact(user_names("new", 5), 2);
  EXPECT_TRUE(bed_->profiles(user_names("old", 5)).empty());
}

TEST_F(ImportKinesaliteTest, AtTimestampStartsAtThatInstant) {
  std::string stream = create_stream(1);
  put(stream, events("before", 5, 1));
  std::this_thread::sleep_for(1100ms);
  TimestampMs at = WallClock().now_ms();
  std::this_thread::sleep_for(1100ms);
  put(stream, events("after", 5, 3));
  ConsumerOptions o = options(stream);
  o.start = {StartKind::kAtTimestamp, at};
  start_consumer(o);
  ASSERT_TRUE(wait_for_counts(user_names("after", 5), 3)) << fatal();
  expect_exact(user_names("after", 5), 3);
  EXPECT_TRUE(bed_->profiles(user_names("before", 5)).empty());
}

// Aggregates `records` with tests/support/kinesis_agg_tool.js (the aws-kinesis-agg package).
std::vector<std::pair<std::string, std::string>> aggregate_with_node(
    const std::vector<std::pair<std::string, std::string>>& records, std::size_t per_record) {
  namespace json = boost::json;
  json::array jobs;
  for (std::size_t at = 0; at < records.size(); at += per_record) {
    json::array items;
    for (std::size_t i = at; i < std::min(records.size(), at + per_record); ++i) {
      items.push_back(json::object{{"partitionKey", records[i].first},
                                   {"data", kinesis::base64_encode(records[i].second)}});
    }
    jobs.push_back(json::object{{"op", "aggregate"}, {"records", std::move(items)}});
  }
  std::string root = test::resolve_source_dir("");
  std::string in = ::testing::TempDir() + "/agg_in_" + std::to_string(::getpid()) + ".json";
  std::ofstream(in) << json::serialize(jobs);
  std::string command = "node '" + root + "/tests/support/kinesis_agg_tool.js' < '" + in + "'";
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[65536];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    ::pclose(pipe);
  }
  std::remove(in.c_str());
  std::vector<std::pair<std::string, std::string>> out;
  json::error_code ec;
  json::value parsed = json::parse(output, ec);
  if (ec || !parsed.is_array()) return out;
  for (const json::value& v : parsed.as_array()) {
    const json::object& o = v.as_object();
    out.emplace_back(json::value_to<std::string>(o.at("partitionKey")),
                     *kinesis::base64_decode(json::value_to<std::string>(o.at("data"))));
  }
  return out;
}

TEST_F(ImportKinesaliteTest, ImportsKplAggregatedRecordsFromAwsKinesisAgg) {
  std::string stream = create_stream(2);
  // As the KPL does, aggregate the records predicted for one shard together (2 shards: the
  // lower and upper halves of the hash space).
  auto plain = events("agg", 30, 2);
  std::vector<std::pair<std::string, std::string>> lower, upper;
  HashRange lower_half = make_hash_range("0", "170141183460469231731687303715884105727");
  for (auto& r : plain) {
    (lower_half.contains(kinesis::hash_partition_key(r.first)) ? lower : upper).push_back(r);
  }
  auto aggregated = aggregate_with_node(lower, 20);
  auto upper_aggregated = aggregate_with_node(upper, 20);
  aggregated.insert(aggregated.end(), upper_aggregated.begin(), upper_aggregated.end());
  ASSERT_EQ(aggregated.size(), (lower.size() + 19) / 20 + (upper.size() + 19) / 20)
      << "kinesis_agg_tool.js failed";
  ASSERT_TRUE(kinesis::is_aggregated_record(aggregated[0].second));
  put(stream, aggregated);
  Consumer& consumer = start_consumer(options(stream));
  ASSERT_TRUE(wait_for_counts(user_names("agg", 30), 2)) << fatal();
  std::this_thread::sleep_for(300ms);
  // Each aggregated record lands on one shard; no sub-record is applied twice or lost.
  expect_exact(user_names("agg", 30), 2);
  EXPECT_EQ(consumer.counters().records_read, aggregated.size());
}

TEST_F(ImportKinesaliteTest, GzipAndBadRecordsAreDeadLetteredAndReplayableAfterFixingTheMapping) {
  std::string stream = create_stream(1);
  std::vector<std::pair<std::string, std::string>> records = {
      {"g", gzip(event_json("gz1", 1) + "\n" + event_json("gz2", 1))},
      {"x", "this is not json"},
      {"y", "{\"email\":\"nobody@example.com\",\"n\":1}"},
      {"z", "{\"user_id\":\"bad\xff\xfe\",\"n\":1}"},
      {"w", event_json("ok", 1)},
  };
  put(stream, records);
  Consumer& consumer = start_consumer(options(stream));
  ASSERT_TRUE(wait_for(
      [&] {
        return consumer.counters().events_applied == 3 && consumer.counters().dead_lettered == 3;
      },
      15s))
      << fatal();
  expect_exact({"gz1", "gz2", "ok"}, 1);
  auto letters = list_dead_letters(*bed_->store, "job-" + stream, "", 100);
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 3u);
  std::map<std::string, std::string> reasons;
  for (const auto& e : *letters) reasons[e.letter.data] = e.letter.reason;
  EXPECT_NE(reasons["this is not json"].find("not JSON"), std::string::npos);
  EXPECT_NE(reasons["{\"email\":\"nobody@example.com\",\"n\":1}"].find("identities"),
            std::string::npos);
  EXPECT_NE(reasons["{\"user_id\":\"bad\xff\xfe\",\"n\":1}"].find("UTF-8"), std::string::npos);
  for (const auto& e : *letters) {
    EXPECT_EQ(e.letter.shard_id, "shardId-000000000000");
    EXPECT_FALSE(e.letter.position.sequence_number.empty());
  }
  // Fix the mapping (email is an identity too), replay: that letter applies and is removed.
  RecordDecoder decoder({"ts", 10u << 20});
  auto outcome = on_engine<ReplayOutcome>(*bed_->partition, [&](engine::Engine& e) {
    EXPECT_TRUE(e.set_mapping("SELECT user_id, email, count(*) AS events, sum(n) AS total, n AS "
                              "last_n FROM events INTO user BY user_id OR email")
                    .ok());
    return replay_dead_letters(e, "events", decoder, *letters, 0);
  });
  EXPECT_EQ(outcome.replayed, 1u);
  EXPECT_EQ(outcome.still_failing, 2u);
  auto left = list_dead_letters(*bed_->store, "job-" + stream, "", 100);
  ASSERT_EQ(left->size(), 2u);
  auto found = on_engine<bool>(*bed_->partition, [](engine::Engine& e) {
    auto p = e.find_profile("email", "nobody@example.com");
    return p.ok() && *p != nullptr;
  });
  EXPECT_TRUE(found);
}

TEST_F(ImportKinesaliteTest, RidesOutThrottlingAnd500s) {
  std::string stream = create_stream(2);
  ManualClock proxy_clock(WallClock().now_ms());
  proxy_ = std::make_unique<KinesisFaultProxy>(emulator_->endpoint(), proxy_clock);
  ASSERT_TRUE(proxy_->start().ok());
  KinesisTestClient via_proxy(proxy_->endpoint());
  put(stream, events("t", 10, 4));
  // (The proxy holds one whole-request fault at a time: inject them in turn.)
  proxy_->fail_next_requests(3, 500, "InternalFailure", "GetShardIterator");
  Consumer& consumer = start_consumer(options(stream), &via_proxy.client);
  ASSERT_TRUE(wait_for_counts(user_names("t", 10), 4)) << fatal();
  proxy_->fail_next_requests(4, 400, "ProvisionedThroughputExceededException", "GetRecords");
  put(stream, events("t", 10, 5, 5));
  ASSERT_TRUE(wait_for_counts(user_names("t", 10), 5)) << fatal();
  proxy_->fail_next_requests(3, 500, "InternalFailure", "GetRecords");
  put(stream, events("t", 10, 6, 6));
  ASSERT_TRUE(wait_for_counts(user_names("t", 10), 6)) << fatal();
  std::this_thread::sleep_for(300ms);
  expect_exact(user_names("t", 10), 6);
  ImportCounters c = consumer.counters();
  EXPECT_GE(c.throttles, 1u);
  EXPECT_GE(c.transient_errors, 1u);
  EXPECT_EQ(c.events_applied, 60u);
  EXPECT_GE(proxy_->counters().injected_faults, 10u);
  EXPECT_EQ(fatal_message(), "");
}

TEST_F(ImportKinesaliteTest, ReacquiresAnExpiredIteratorFromTheCheckpoint) {
  std::string stream = create_stream(1);
  ManualClock proxy_clock(WallClock().now_ms());
  proxy_ = std::make_unique<KinesisFaultProxy>(emulator_->endpoint(), proxy_clock);
  ASSERT_TRUE(proxy_->start().ok());
  proxy_->set_iterator_lifetime(std::chrono::milliseconds(60000));
  KinesisTestClient via_proxy(proxy_->endpoint());
  put(stream, events("e", 5, 1));
  Consumer& consumer = start_consumer(options(stream), &via_proxy.client);
  ASSERT_TRUE(wait_for_counts(user_names("e", 5), 1)) << fatal();
  proxy_clock.advance(120000);  // every iterator handed out so far is now expired
  put(stream, events("e", 5, 2, 2));
  ASSERT_TRUE(wait_for_counts(user_names("e", 5), 2)) << fatal();
  std::this_thread::sleep_for(300ms);
  expect_exact(user_names("e", 5), 2);
  EXPECT_GE(consumer.counters().iterator_resets, 1u);
  EXPECT_GE(proxy_->counters().iterators_expired, 1u);
}

TEST_F(ImportKinesaliteTest, SplitAndMergeWhileImportingLoseNothingAndKeepPerKeyOrder) {
  std::string stream = create_stream(2);
  const int users = 40;
  auto names = user_names("r", users);
  Consumer& consumer = start_consumer(options(stream));
  int n = 0;
  auto put_round = [&] {
    ++n;
    std::vector<std::pair<std::string, std::string>> round;
    for (const std::string& user : names) round.emplace_back(user, event_json(user, n));
    put(stream, round);
  };
  put_round();
  put_round();
  ASSERT_TRUE(wait_for_counts(names, 1)) << fatal();
  // Split shard 0 in the middle of its range, while events keep arriving.
  auto split = k_->client.call(
      "SplitShard", "{\"StreamName\":\"" + stream +
                        "\",\"ShardToSplit\":\"shardId-000000000000\",\"NewStartingHashKey\":\"" +
                        "85070591730234615865843651857942052864\"}");
  ASSERT_TRUE(split.ok()) << split.error().to_string();
  put_round();
  put_round();
  std::this_thread::sleep_for(300ms);
  // Merge the two children of the split (shards 2 and 3).
  auto merge = k_->client.call(
      "MergeShards", "{\"StreamName\":\"" + stream +
                         "\",\"ShardToMerge\":\"shardId-000000000002\",\"AdjacentShardToMerge\":"
                         "\"shardId-000000000003\"}");
  ASSERT_TRUE(merge.ok()) << merge.error().to_string();
  put_round();
  put_round();
  ASSERT_TRUE(wait_for_counts(names, n, 30s)) << fatal();
  std::this_thread::sleep_for(500ms);
  expect_exact(names, n);
  ImportCounters c = consumer.counters();
  EXPECT_EQ(c.events_applied, static_cast<std::uint64_t>(users * n));
  EXPECT_GE(c.shards_finished, 3u);  // shard 0, then its children 2 and 3
  auto cp = read_checkpoint(*bed_->store, "job-" + stream, "shardId-000000000000");
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_TRUE((*cp)->shard_end);
}

TEST_F(ImportKinesaliteTest, AFencedOffWorkerCannotCheckpoint) {
  std::string stream = create_stream(1);
  put(stream, events("f", 5, 1));
  Consumer& a = start_consumer(options(stream, "worker-a"));
  ASSERT_TRUE(wait_for_counts(user_names("f", 5), 1)) << fatal();
  a.pause_renewals(true);  // a stalls: its lease expires
  Consumer& b = start_consumer(options(stream, "worker-b"));
  ASSERT_TRUE(wait_for([&] { return b.counters().leases_taken >= 1; }, 5s));
  // Both now read the shard; only b may checkpoint what arrives.
  put(stream, events("f", 5, 2, 2));
  ASSERT_TRUE(wait_for_counts(user_names("f", 5), 2)) << fatal();
  ASSERT_TRUE(wait_for([&] { return a.counters().fenced_checkpoints >= 1; }, 5s));
  std::this_thread::sleep_for(500ms);
  expect_exact(user_names("f", 5), 2);
  EXPECT_EQ(a.counters().events_applied, 5u);
  EXPECT_EQ(b.counters().events_applied, 5u);
}

TEST_F(ImportKinesaliteTest, AnotherWorkerTakesOverACrashedWorkersShardsWithinTheFailoverTime) {
  std::string stream = create_stream(2);
  put(stream, events("c", 10, 1));
  Consumer& a = start_consumer(options(stream, "worker-a"));
  ASSERT_TRUE(wait_for_counts(user_names("c", 10), 1)) << fatal();
  a.abandon();  // crashed: its leases stay with it
  auto crashed = std::chrono::steady_clock::now();
  Consumer& b = start_consumer(options(stream, "worker-b"));
  ASSERT_TRUE(wait_for([&] { return b.counters().shards_owned == 2; }, 5s));
  auto took = std::chrono::steady_clock::now() - crashed;
  // failover_time is 1 s; allow the coordinator's tick and scheduling.
  EXPECT_LT(took, 2500ms);
  put(stream, events("c", 10, 2, 2));
  ASSERT_TRUE(wait_for_counts(user_names("c", 10), 2)) << fatal();
  std::this_thread::sleep_for(300ms);
  expect_exact(user_names("c", 10), 2);
}

TEST_F(ImportKinesaliteTest, ALateWorkerStealsItsShareFromABusyOneWithoutLosingAnEvent) {
  std::string stream = create_stream(5);
  std::vector<std::string> users = user_names("w", 40);
  put(stream, events("w", 40, 1));
  Consumer& a = start_consumer(options(stream, "worker-a"));
  ASSERT_TRUE(wait_for_counts(users, 1)) << fatal();
  ASSERT_EQ(a.counters().shards_owned, 5u);
  Consumer& b = start_consumer(options(stream, "worker-b"));
  put(stream, events("w", 40, 2, 2));  // arrives while the leases move
  // Shares of 5 over 2 workers: b steals one lease per pass until a holds no more than 3.
  ASSERT_TRUE(wait_for([&] {
    return a.counters().shards_owned == 3 && b.counters().shards_owned == 2;
  }, 10s)) << "a owns " << a.counters().shards_owned << ", b owns " << b.counters().shards_owned
           << "; " << fatal();
  put(stream, events("w", 40, 3, 3));
  ASSERT_TRUE(wait_for_counts(users, 3)) << fatal();
  // Several renewal periods later nothing has moved back (a at 3 is not above its share).
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(a.counters().shards_owned, 3u);
  EXPECT_EQ(b.counters().shards_owned, 2u);
  EXPECT_EQ(b.counters().leases_stolen, 2u);
  EXPECT_EQ(a.counters().leases_stolen, 0u);
  EXPECT_EQ(a.counters().leases_lost, 2u);
  expect_exact(users, 3);
  EXPECT_EQ(a.counters().events_applied + b.counters().events_applied, 120u);
}

TEST_F(ImportKinesaliteTest, ARestartedWorkerReclaimsItsOwnLeasesAtOnce) {
  std::string stream = create_stream(2);
  put(stream, events("s", 10, 1));
  Consumer& a = start_consumer(options(stream, "worker-a"));
  ASSERT_TRUE(wait_for_counts(user_names("s", 10), 1)) << fatal();
  a.abandon();
  ConsumerOptions o = options(stream, "worker-a");
  o.failover_time = 60s;  // others would wait a minute; the same identity does not
  Consumer& again = start_consumer(o);
  ASSERT_TRUE(wait_for([&] { return again.counters().shards_owned == 2; }, 2s));
  put(stream, events("s", 10, 2, 2));
  ASSERT_TRUE(wait_for_counts(user_names("s", 10), 2)) << fatal();
  expect_exact(user_names("s", 10), 2);
}

TEST_F(ImportKinesaliteTest, AMissingStreamAndAMissingPermissionAreJobErrors) {
  ConsumerOptions o = options("no-such-stream-" + std::to_string(::getpid()));
  o.error_after = 300ms;
  start_consumer(o);
  ASSERT_TRUE(wait_for([&] { return !fatal_message().empty(); }, 10s));
  EXPECT_NE(fatal_message().find("was not found"), std::string::npos) << fatal();
  consumers_.clear();
  {
    std::lock_guard lock(fatal_mutex_);
    fatal_.clear();
  }
  std::string stream = create_stream(1);
  ManualClock proxy_clock(WallClock().now_ms());
  proxy_ = std::make_unique<KinesisFaultProxy>(emulator_->endpoint(), proxy_clock);
  ASSERT_TRUE(proxy_->start().ok());
  proxy_->set_denied_operations({"GetRecords"});
  KinesisTestClient via_proxy(proxy_->endpoint());
  leases_.reset();
  start_consumer(options(stream), &via_proxy.client);
  ASSERT_TRUE(wait_for([&] { return !fatal_message().empty(); }, 10s));
  EXPECT_NE(fatal_message().find("kinesis:GetRecords"), std::string::npos) << fatal();
}

TEST_F(ImportKinesaliteTest, AStreamDeletedWhileBeingReadIsAJobErrorAndKeepsThePosition) {
  std::string stream = create_stream(1);
  put(stream, events("d", 5, 1));
  ConsumerOptions o = options(stream);
  o.error_after = 500ms;
  start_consumer(o);
  ASSERT_TRUE(wait_for_counts(user_names("d", 5), 1)) << fatal();
  ASSERT_TRUE(k_->client.delete_stream(kinesis::StreamRef::by_name(stream)).ok());
  ASSERT_TRUE(wait_for([&] { return !fatal_message().empty(); }, 10s));
  EXPECT_NE(fatal_message().find(stream), std::string::npos) << fatal_message();
  auto cp = read_checkpoint(*bed_->store, "job-" + stream, "shardId-000000000000");
  ASSERT_TRUE(cp.ok() && cp->has_value());  // the committed position is kept
  expect_exact(user_names("d", 5), 1);
}

}  // namespace
}  // namespace shoal::import
