#pragma once
// Partition: the loop that owns one Engine on its own thread. Other threads submit work items
// (collected events, queries, admin operations) as closures run on that thread; the loop takes
// what is queued (bounded in count and time), moves the engine to the wall clock, runs the items,
// commits once, and only then completes every item (so an acknowledged event survives kill -9)
// and hands the released triggers to the sink. It also fires timers when no input arrives and
// runs background segment builds between batches. submit() is thread-safe; the constructor does
// no I/O and starts no thread (start() does).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "engine/engine.h"

namespace shoal::engine {

struct PartitionOptions {
  // The longest a submitted item waits for the batch it joins to be committed.
  std::chrono::milliseconds commit_interval{5};
  std::size_t max_batch_items = 4096;   // items run between two commits
  std::size_t queue_capacity = 65536;   // submit() refuses beyond this (back-pressure)
  std::chrono::milliseconds idle_wakeup{50};  // timers fire at least this often with no input
  std::size_t build_step_profiles = 2000;     // profiles a background build evaluates per step
  // A commit at least this long after the last checkpoint starts one (the engine also does when
  // its log or its unwritten profiles grow too large; stop() writes a last one).
  // Longer: fewer profile writes; shorter: a shorter log to re-run after a crash.
  std::chrono::milliseconds checkpoint_interval{5000};
};

// Counters published after every commit, readable from any thread.
struct PartitionStats {
  EngineCounters engine;
  std::uint64_t profiles = 0;
  std::uint64_t batches = 0;
  std::uint64_t items = 0;
  std::uint64_t commit_failures = 0;
  std::uint64_t queue_depth = 0;
  std::vector<std::pair<std::string, std::uint64_t>> segment_sizes;  // (alias, members)
};

class Partition {
 public:
  // Runs on the engine thread inside a batch; its effects are committed with the batch.
  using Work = std::function<void(Engine&)>;
  // Runs on the engine thread after the batch's commit, with the commit's outcome.
  using Done = std::function<void(const Status&)>;
  // Receives the triggers a commit released, on the engine thread.
  using TriggerSink = std::function<void(const std::vector<Trigger>&)>;

  Partition(storage::Store& store, EngineOptions engine_options, const Clock& clock,
            PartitionOptions options, TriggerSink sink);
  ~Partition();  // stops the loop if it runs
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  // Opens the engine (loads its state) and starts the loop's thread.
  Status start();
  // Queues `work`; `done` follows the commit. kResourceExhausted when the queue is full,
  // kUnavailable when the partition is not running.
  Status submit(Work work, Done done);
  // Runs the queued items, commits, and stops the thread. Later submits are refused.
  void stop();

  PartitionStats stats() const;
  bool running() const;

 private:
  struct Item {
    Work work;
    Done done;
  };
  void run();
  // One turn of the loop: run `items`, commit, complete them.
  // `final`: the last batch before the loop stops (commits as a checkpoint).
  void run_batch(std::vector<Item>& items, bool final = false);
  void publish_stats(std::size_t items);

  storage::Store& store_;
  EngineOptions engine_options_;
  const Clock& clock_;
  PartitionOptions options_;
  TriggerSink sink_;
  std::unique_ptr<Engine> engine_;  // touched only by the loop's thread once started

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool running_ = false;
  bool stopping_ = false;
  std::thread thread_;
  PartitionStats stats_;  // guarded by mutex_
  std::vector<Trigger> released_;
  EngineCounters committed_counters_;  // the engine's counters at the last commit
  std::chrono::steady_clock::time_point last_checkpoint_;
};

}  // namespace shoal::engine
