#include "engine/partition.h"

#include <exception>
#include <utility>

#include "core/thread_arena.h"

namespace shoal::engine {

Partition::Partition(storage::Store& store, EngineOptions engine_options, const Clock& clock,
                     PartitionOptions options, TriggerSink sink)
    : store_(store),
      engine_options_(std::move(engine_options)),
      clock_(clock),
      options_(options),
      sink_(std::move(sink)) {}

Partition::~Partition() { stop(); }

Status Partition::start() {
  std::lock_guard lock(mutex_);
  if (running_) return make_error(ErrorCode::kFailedPrecondition, "partition already running");
  engine_ = std::make_unique<Engine>(store_, engine_options_);
  SHOAL_RETURN_IF_ERROR(engine_->open());
  engine_->advance_to(clock_.now_ms());
  last_checkpoint_ = std::chrono::steady_clock::now();
  running_ = true;
  stopping_ = false;
  stats_.engine = engine_->counters();
  stats_.profiles = engine_->profile_count();
  thread_ = std::thread([this] { run(); });
  return ok_status();
}

Status Partition::submit(Work work, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (!running_ || stopping_) {
      return make_error(ErrorCode::kUnavailable, "the engine is not running");
    }
    if (queue_.size() >= options_.queue_capacity) {
      return make_error(ErrorCode::kResourceExhausted,
                        "the engine's queue is full; retry shortly");
    }
    queue_.push_back(Item{std::move(work), std::move(done)});
  }
  wake_.notify_one();
  return ok_status();
}

void Partition::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
}

bool Partition::running() const {
  std::lock_guard lock(mutex_);
  return running_ && !stopping_;
}

PartitionStats Partition::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Partition::run() {
  // The engine's heap is bounded by its caches and reuses what it frees: an arena that keeps
  // freed pages spares it the page faults and split huge pages of purging (core/thread_arena.h).
  use_retaining_arena();
  std::vector<Item> items;
  bool building = true;  // a restart may resume builds; the first step tells
  for (;;) {
    bool stop_now = false;
    {
      std::unique_lock lock(mutex_);
      if (queue_.empty() && !stopping_ && !building) {
        wake_.wait_for(lock, options_.idle_wakeup,
                       [&] { return !queue_.empty() || stopping_; });
      }
      while (!queue_.empty() && items.size() < options_.max_batch_items) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stop_now = stopping_ && queue_.empty();
    }
    run_batch(items);
    items.clear();
    auto built = engine_->build_step(options_.build_step_profiles);
    building = built.ok() && built.value() > 0;
    if (stop_now) {
      run_batch(items, /*final=*/true);  // commits what the last build step changed
      return;
    }
  }
}

void Partition::run_batch(std::vector<Item>& items, bool final) {
  engine_->advance_to(clock_.now_ms());
  std::vector<Status> outcomes(items.size());
  const auto deadline = std::chrono::steady_clock::now() + options_.commit_interval;
  std::size_t ran = 0;
  // Group commit: keep taking items that arrive while the batch runs, up to the interval.
  for (;;) {
    for (; ran < items.size(); ++ran) {
      try {
        items[ran].work(*engine_);
      } catch (const std::exception& e) {
        outcomes.resize(items.size());
        outcomes[ran] = make_error(ErrorCode::kInternal, e.what());
      }
    }
    if (items.size() >= options_.max_batch_items ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::lock_guard lock(mutex_);
    if (queue_.empty()) break;
    while (!queue_.empty() && items.size() < options_.max_batch_items) {
      items.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  outcomes.resize(items.size());
  // Evaluate this millisecond's changes before writing them, so the committed memberships
  // match the committed data.
  engine_->close_millisecond();
  const EngineCounters& after = engine_->counters();
  // Timers and build steps change state without items.
  bool changed = !items.empty() || after.evaluations != committed_counters_.evaluations ||
                 after.triggers != committed_counters_.triggers;
  if (!changed && !final) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_checkpoint_ >= options_.checkpoint_interval) {
    engine_->request_checkpoint();  // this commit starts it; written in the background
    last_checkpoint_ = now;
  }
  released_.clear();
  // The last one is written before the loop ends, so a restart re-runs no log.
  Status committed = final ? engine_->checkpoint(released_) : engine_->commit(released_);
  if (committed.ok()) {
    committed_counters_ = engine_->counters();
  } else {
    std::lock_guard lock(mutex_);
    ++stats_.commit_failures;
  }
  // Before the completions: whoever got an answer sees its effects in stats() (metrics).
  publish_stats(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Status& outcome = committed.ok() ? outcomes[i] : committed;
    if (items[i].done) items[i].done(outcome);
  }
  if (!released_.empty() && sink_) sink_(released_);
}

void Partition::publish_stats(std::size_t items) {
  std::vector<std::pair<std::string, std::uint64_t>> sizes;
  for (model::SegmentOrdinal ordinal : engine_->catalog().ordinals()) {
    if (const segment::Segment* seg = engine_->catalog().get(ordinal)) {
      sizes.emplace_back(seg->alias, engine_->segment_size(ordinal));
    }
  }
  std::lock_guard lock(mutex_);
  stats_.engine = engine_->counters();
  stats_.profiles = engine_->profile_count();
  ++stats_.batches;
  stats_.items += items;
  stats_.queue_depth = queue_.size();
  stats_.segment_sizes = std::move(sizes);
}

}  // namespace shoal::engine
