#pragma once
// Exporter: the node's trigger export. Holds the subscriptions (records kSubscription), fans the
// triggers of every engine commit out into per-subscription outboxes inside that commit's batch
// (commit_observer(), on the engine thread), runs one Deliverer per subscription, walks
// backfills at a bounded rate through Partition work items, and keeps the dead-letter lists.
// Construction does no I/O and starts nothing; load() reads the store, start() starts threads,
// stop() joins them (call it before the Partition stops). Other methods are thread-safe unless
// they say "engine thread".
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/engine.h"
#include "engine/partition.h"
#include "export/dead_letter.h"
#include "export/deliverer.h"
#include "export/sink.h"
#include "export/subscription.h"
#include "storage/store.h"

namespace shoal::exports {

using SinkFactory = std::function<Result<std::unique_ptr<Sink>>(const Subscription&)>;

struct ExporterOptions {
  double backfill_profiles_per_second = 5000;
  std::int64_t backfill_interval_ms = 100;  // one backfill step per subscription per interval
  DelivererHooks hooks;                     // tests
};

struct SubscriptionStatus {
  Subscription subscription;
  DelivererStats delivery;
  BackfillState backfill;
  std::string state;  // running, paused, backfilling, error
  std::string error;  // the last delivery error while state is error
};

struct DeadLetterEntry {
  std::uint64_t sequence = 0;
  DeadLetter letter;
};

class Exporter {
 public:
  Exporter(storage::Store& store, const Clock& clock, SinkFactory sinks,
           ExporterOptions options = {});
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Reads the stored subscriptions and the export sequence. Before the partition starts.
  Status load();
  // For EngineOptions::commit_observer.
  engine::CommitObserver commit_observer();
  // For the Partition's TriggerSink: wakes the deliverers and acknowledges the engine's global
  // trigger log (the observer has already copied those triggers into the outboxes).
  engine::Partition::TriggerSink trigger_sink();
  // Starts the deliverers and the backfill thread; `partition` runs backfill steps and
  // subscription changes. The partition must be running.
  void start(engine::Partition& partition);
  // Joins every thread; undelivered messages stay in the outboxes.
  void stop();

  // Creates a subscription: resolves its segments (ids or slugs; kInvalidArgument naming
  // "segment_ids" for an unknown one), assigns the id, stores it atomically with the batch
  // and starts its deliverer (and backfill). Engine thread.
  Result<Subscription> create(engine::Engine& engine, Subscription subscription);
  // Creates through the partition and waits for the commit (not from the engine thread).
  Result<Subscription> create_and_wait(Subscription subscription);
  // Stops delivery, removes the subscription, its outbox and dead letters. Not the engine thread.
  Status remove(std::string_view id);
  Status set_paused(std::string_view id, bool paused);

  std::vector<SubscriptionStatus> list() const;
  std::optional<SubscriptionStatus> get(std::string_view id) const;
  std::optional<SubscriptionStatus> find_by_job(std::string_view job_id) const;
  Result<std::vector<DeadLetterEntry>> dead_letters(std::string_view id, std::size_t limit) const;
  // Re-queues every dead letter of the subscription at the end of its outbox. Returns the count.
  Result<std::size_t> replay_dead_letters(std::string_view id);
  // Messages waiting in the subscription's outbox (a store scan).
  Result<std::uint64_t> outbox_size(std::string_view id) const;

 private:
  struct Entry {
    Subscription subscription;
    BackfillState backfill;
    std::unordered_set<std::uint64_t> live_during_backfill;  // engine thread
    std::unique_ptr<Deliverer> deliverer;
  };
  Status observe(const engine::Engine& engine, const std::vector<engine::Trigger>& triggers,
                 storage::Batch& batch);
  std::unique_ptr<Deliverer> make_deliverer(const Subscription& subscription);
  void backfill_loop();
  // One bounded step of `id`'s backfill (engine thread). Returns true while more remains.
  bool backfill_step(engine::Engine& engine, const std::string& id, std::size_t budget);
  SubscriptionStatus status_of(const Entry& entry) const;
  // Runs `work` on the engine thread and waits for its commit.
  Status run_on_engine(std::function<Status(engine::Engine&)> work);

  storage::Store& store_;
  const Clock& clock_;
  SinkFactory sinks_;
  ExporterOptions options_;
  std::atomic<engine::Partition*> partition_{nullptr};

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;
  bool started_ = false;
  std::uint64_t next_sequence_ = 1;  // engine thread (and load)
  std::atomic<std::uint64_t> acknowledged_{0};
  std::atomic<bool> ack_queued_{false};

  std::mutex backfill_mutex_;
  std::condition_variable backfill_wake_;
  bool stopping_ = false;
  std::thread backfill_thread_;
};

}  // namespace shoal::exports
