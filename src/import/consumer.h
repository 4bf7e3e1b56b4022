#pragma once
// Consumer: reads one import job's Kinesis stream into the engine, exactly once in effect.
// A coordinator thread discovers shards (ListShards, at start and periodically), keeps a lease
// per shard in a LeaseStore, renews the leases it holds, takes free and expired ones (parents
// finished first) and runs one ShardWorker thread per held lease. A worker polls GetRecords
// (<= 5 calls/s, adaptive idle time, backoff on throttling and errors), decodes the records
// (record_decoder.h) and submits each page to the engine::Partition as one Work that checks the
// lease (LeaseStore::begin_checkpoint), applies the events, and stages the dead letters and the
// checkpoint into the same commit. See src/import/README.md for the argument.
// Threading: start/stop/abandon from one owner thread; counters() and shards() from any thread.
// The constructor does no I/O and starts no thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "engine/partition.h"
#include "import/checkpoint.h"
#include "import/lease_store.h"
#include "import/record_decoder.h"
#include "kinesis/kinesis_client.h"
#include "storage/store.h"

namespace shoal::import {

struct ConsumerOptions {
  std::string job_id;
  std::string target_stream;  // the shoal stream the events are applied to
  kinesis::StreamRef stream;
  StartPosition start;
  DecodeOptions decode;
  std::string worker_id;  // stable across restarts (load_or_create_worker_id)
  // A lease whose counter has not moved for this long (on the local clock) may be taken.
  std::chrono::milliseconds failover_time{10000};
  std::chrono::milliseconds discovery_interval{60000};
  // Between two GetRecords calls of one shard: Kinesis allows 5 per second per shard.
  std::chrono::milliseconds min_poll_interval{200};
  // An idle shard is polled less often, doubling up to this.
  std::chrono::milliseconds max_idle_interval{2000};
  std::chrono::milliseconds throttle_backoff{1000};  // first wait after a throttle, doubling
  std::chrono::milliseconds error_backoff{200};      // first wait after a transient error
  std::chrono::milliseconds max_backoff{30000};
  // Failures that last longer than this (retried meanwhile) put the job in error.
  std::chrono::milliseconds error_after{300000};
  int get_records_limit = 10000;
  std::chrono::milliseconds tick{50};  // the coordinator's granularity
};

struct ImportCounters {
  std::uint64_t records_read = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t events_applied = 0;
  std::uint64_t dead_lettered = 0;
  std::uint64_t get_records_calls = 0;
  std::uint64_t throttles = 0;
  std::uint64_t transient_errors = 0;
  std::uint64_t iterator_resets = 0;
  std::uint64_t pages_committed = 0;
  std::uint64_t fenced_checkpoints = 0;
  std::uint64_t backpressure_waits = 0;
  std::uint64_t leases_taken = 0;   // free, expired, own or stolen
  std::uint64_t leases_stolen = 0;  // from a live worker holding more than its share
  std::uint64_t leases_lost = 0;
  std::uint64_t shards_finished = 0;
  std::uint64_t shards_owned = 0;          // now
  std::uint64_t millis_behind_latest = 0;  // now: the largest of the owned shards
};

struct ShardStatus {
  std::string shard_id;
  std::string position;  // the last committed sequence number, "SHARD_END", or empty
  std::int64_t millis_behind_latest = 0;
  std::uint64_t records_read = 0;
  std::uint64_t events_applied = 0;
  std::uint64_t dead_lettered = 0;
  std::uint64_t throttles = 0;
  std::uint64_t iterator_resets = 0;
};

class Consumer {
 public:
  using FatalHandler = std::function<void(std::string message)>;

  // Borrows everything; `store` is the engine's (checkpoints are read from it). `fatal` is
  // called at most once, from a consumer thread, when the job cannot go on.
  Consumer(ConsumerOptions options, kinesis::KinesisClient& client, LeaseStore& leases,
           const storage::Store& store, engine::Partition& partition, const Clock& clock,
           FatalHandler fatal);
  ~Consumer();  // abandon()
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  Status start();
  // Clean stop: workers finish their page in flight; held leases are released.
  void stop();
  // As a crash would: threads stop (after a page in flight commits), leases are kept and expire.
  void abandon();
  // Test hook: a stalled worker stops renewing its leases (another worker then takes them).
  void pause_renewals(bool paused) { renewals_paused_ = paused; }

  ImportCounters counters() const;
  std::vector<ShardStatus> shards() const;
  // The q-quantile (0..1) of the time from a GetRecords response to the commit of its events
  // and checkpoint (so of the triggers they produced), over the last 100,000 pages.
  std::chrono::microseconds page_latency_percentile(double q) const;
  const std::string& worker_id() const { return options_.worker_id; }

 private:
  struct Counters;
  struct ShardWorker;
  struct Page;

  void run_coordinator();
  Status discover(bool first);
  void renew();
  void take();
  // Takes one lease from the most loaded live worker when it holds more than `target`.
  void steal(const std::map<std::string, std::vector<const Lease*>>& held_by_others,
             std::size_t target, const std::function<bool(const std::string&)>& parent_finished);
  void start_worker(const Lease& taken);
  // Joins the workers that exited (`all`: every stopped one) and releases or finishes leases.
  void reap(bool release, bool all);
  void stop_threads(bool release);
  void run_worker(ShardWorker& worker);
  // Submits `page` and waits for its commit. Returns false when the worker must stop (lease
  // lost or shutdown).
  bool commit_page(ShardWorker& worker, std::shared_ptr<Page> page);
  // Waits until `deadline` (steady clock) or a stop; false when stopping.
  bool wait_until(ShardWorker* worker, std::chrono::steady_clock::time_point deadline);
  void report_fatal(std::string message);
  void record_latency(std::chrono::steady_clock::duration latency);
  std::chrono::milliseconds backoff(std::chrono::milliseconds base, int failures);

  ConsumerOptions options_;
  kinesis::KinesisClient& client_;
  LeaseStore& leases_;
  const storage::Store& store_;
  engine::Partition& partition_;
  const Clock& clock_;
  FatalHandler fatal_;

  std::unique_ptr<Counters> counters_;
  std::atomic<bool> renewals_paused_{false};
  std::atomic<bool> fatal_reported_{false};
  std::atomic<bool> rediscover_{false};  // a shard ended: list the shards now (its children)
  std::atomic<std::uint64_t> jitter_state_{0x9e3779b97f4a7c15ull};

  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;
  bool stopping_ = false;  // guarded by wait_mutex_
  std::thread coordinator_;

  // Coordinator state (its thread only, and the owner after it is joined).
  std::map<std::string, std::unique_ptr<ShardWorker>> workers_;
  struct Observed {
    std::uint64_t counter = 0;
    TimestampMs changed_ms = 0;
  };
  std::map<std::string, Observed> observed_;
  bool discovered_ = false;
  TimestampMs next_discovery_ms_ = 0;
  TimestampMs next_renew_ms_ = 0;
  TimestampMs discovery_failing_since_ = 0;
  int discovery_failures_ = 0;
  mutable std::mutex workers_mutex_;  // guards workers_ for shards()
  static constexpr std::size_t kMaxLatencySamples = 100'000;
  mutable std::mutex latency_mutex_;
  std::vector<std::uint32_t> latencies_us_;  // guarded by latency_mutex_
  std::size_t latency_next_ = 0;             // guarded by latency_mutex_
};

// The IAM action an operation needs ("kinesis:GetRecords").
std::string iam_action(std::string_view operation);

}  // namespace shoal::import
