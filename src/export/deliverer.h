#pragma once
// Deliverer: sends one subscription's outbox (records kExportOutbox, in sequence order) through
// its Sink, on its own thread. Batches up to the sink's and the subscription's limits, waits up
// to `linger_ms` for a fuller batch, sends at most one message per partition key per call and
// none of a key while an earlier one of that key is waiting for a retry (so per-key order holds
// across retries), retries failed entries only with exponential backoff, erases a message once
// the destination accepted it (a range delete per run of accepted neighbours), stores a failed
// message's attempts with it (a restart resumes them), and moves it to the dead-letter list
// (kExportDeadLetter) after `max_attempts` or `max_age_ms`. The constructor starts nothing;
// start() starts the thread, stop() joins it. notify() and the accessors are thread-safe.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "export/sink.h"
#include "export/subscription.h"
#include "storage/store.h"

namespace shoal::exports {

struct DelivererStats {
  std::uint64_t sent = 0;           // messages the destination accepted
  std::uint64_t failed_attempts = 0;  // entries refused or lost with their call
  std::uint64_t dead_lettered = 0;
  std::uint64_t calls = 0;
  std::uint64_t pending = 0;        // messages held in memory, not yet accepted
  std::string last_error;           // empty once a call succeeds again
  TimestampMs last_error_ms = 0;
  TimestampMs error_since_ms = 0;   // when last_error became non-empty (0 while it is empty)
};

// Test hooks: simulate a crash between the destination's acceptance and the erase.
struct DelivererHooks {
  // Called after a successful call, before its messages are erased; returning true ends the
  // loop right there (the messages stay in the outbox, as after kill -9).
  std::function<bool(const std::vector<std::string>& accepted_messages)> crash_after_send;
};

class Deliverer {
 public:
  Deliverer(storage::Store& store, const Clock& clock, Subscription subscription,
            std::unique_ptr<Sink> sink, DelivererHooks hooks = {});
  ~Deliverer();  // stop()
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  void start();
  void stop();
  // New messages may have been committed.
  void notify();
  // Un-pausing also makes every waiting message due at once (a resumed job retries now).
  void set_paused(bool paused);
  DelivererStats stats() const;
  bool crashed() const { return crashed_.load(); }

 private:
  struct Pending {
    std::string key;  // store key
    std::string partition_key;
    std::string data;
    TimestampMs loaded_ms = 0;
    TimestampMs not_before = 0;
    TimestampMs first_failure_ms = 0;
    std::uint32_t attempts = 0;
    std::string last_error;
  };
  void run();
  Status refill(TimestampMs now);
  // One round: choose, send, settle. Returns how long to wait before the next round (0 = go on).
  std::int64_t round(TimestampMs now);
  void fail(Pending& p, const std::string& error, TimestampMs now, storage::Batch& batch,
            std::vector<std::uint64_t>& dead);
  void record_error(const std::string& error, TimestampMs now);
  // Erases the accepted messages (sequences in order), one range delete per run of neighbours.
  void erase_delivered(const std::vector<std::uint64_t>& accepted, storage::Batch& batch) const;

  storage::Store& store_;
  const Clock& clock_;
  Subscription subscription_;
  std::unique_ptr<Sink> sink_;
  DelivererHooks hooks_;

  std::map<std::uint64_t, Pending> pending_;  // by outbox sequence
  std::string next_key_;                      // refill resumes here
  bool outbox_may_have_more_ = true;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool notified_ = false;
  bool stopping_ = false;
  bool paused_ = false;
  bool retry_now_ = false;  // set by un-pausing; the next round clears every backoff
  std::thread thread_;
  DelivererStats stats_;  // guarded by mutex_
  std::atomic<bool> crashed_{false};
};

}  // namespace shoal::exports
