#include "import/consumer.h"

#include <algorithm>
#include <set>

#include "import/dead_letters.h"
#include "kinesis/aggregation.h"
#include "kinesis/kinesis_error.h"
#include "model/json.h"

namespace shoal::import {

using Steady = std::chrono::steady_clock;

std::string iam_action(std::string_view operation) { return "kinesis:" + std::string(operation); }

struct Consumer::Counters {
  std::atomic<std::uint64_t> records_read{0}, bytes_read{0}, events_applied{0}, dead_lettered{0},
      get_records_calls{0}, throttles{0}, transient_errors{0}, iterator_resets{0},
      pages_committed{0}, fenced_checkpoints{0}, backpressure_waits{0}, leases_taken{0},
      leases_stolen{0}, leases_lost{0}, shards_finished{0};
};

struct Consumer::ShardWorker {
  Lease lease;                            // as taken; counter tracks renewals
  std::atomic<std::uint64_t> counter{0};  // the lease counter this worker holds now
  std::atomic<bool> stop{false};
  std::atomic<bool> exited{false};
  std::atomic<bool> finished{false};  // its SHARD_END checkpoint is committed
  std::atomic<bool> lost{false};
  std::thread thread;
  mutable std::mutex status_mutex;
  ShardStatus status;  // guarded by status_mutex
};

// One GetRecords page on its way into the engine.
struct Consumer::Page {
  std::vector<kinesis::Record> records;
  std::vector<std::uint32_t> record_of_event;  // events[i] came from records[record_of_event[i]]
  std::vector<DecodedEvent> events;
  std::vector<DeadLetter> dead;
  Checkpoint checkpoint;
  // Filled on the engine thread.
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  bool fenced = false;
  bool pinned = false;
  Status commit = ok_status();
  std::uint64_t applied = 0;
  std::uint64_t dead_lettered = 0;
};

Consumer::Consumer(ConsumerOptions options, kinesis::KinesisClient& client, LeaseStore& leases,
                   const storage::Store& store, engine::Partition& partition, const Clock& clock,
                   FatalHandler fatal)
    : options_(std::move(options)),
      client_(client),
      leases_(leases),
      store_(store),
      partition_(partition),
      clock_(clock),
      fatal_(std::move(fatal)),
      counters_(std::make_unique<Counters>()) {}

Consumer::~Consumer() { abandon(); }

Status Consumer::start() {
  if (options_.worker_id.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the consumer needs a worker id");
  }
  {
    std::lock_guard lock(wait_mutex_);
    stopping_ = false;
  }
  coordinator_ = std::thread([this] { run_coordinator(); });
  return ok_status();
}

void Consumer::stop() { stop_threads(true); }
void Consumer::abandon() { stop_threads(false); }

void Consumer::stop_threads(bool release) {
  {
    std::lock_guard lock(wait_mutex_);
    stopping_ = true;
  }
  wait_cv_.notify_all();
  if (coordinator_.joinable()) coordinator_.join();
  for (auto& [id, worker] : workers_) worker->stop = true;
  wait_cv_.notify_all();
  reap(release, true);
}

bool Consumer::wait_until(ShardWorker* worker, Steady::time_point deadline) {
  std::unique_lock lock(wait_mutex_);
  wait_cv_.wait_until(lock, deadline, [&] { return stopping_ || (worker && worker->stop.load()); });
  return !(stopping_ || (worker && worker->stop.load()));
}

void Consumer::report_fatal(std::string message) {
  if (fatal_reported_.exchange(true)) return;
  if (fatal_) fatal_(std::move(message));
}

std::chrono::milliseconds Consumer::backoff(std::chrono::milliseconds base, int failures) {
  // Full jitter over an exponential ceiling (xorshift: no shared random source needed).
  std::uint64_t x = jitter_state_.load();
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  jitter_state_.store(x);
  std::int64_t ceiling = base.count();
  for (int i = 1; i < failures && ceiling < options_.max_backoff.count(); ++i) ceiling *= 2;
  ceiling = std::min<std::int64_t>(ceiling, options_.max_backoff.count());
  std::int64_t half = ceiling / 2;
  return std::chrono::milliseconds(
      half + static_cast<std::int64_t>(
                 x % static_cast<std::uint64_t>(std::max<std::int64_t>(1, ceiling - half + 1))));
}

// The job's message for a failed call: permissions name the IAM action.
static std::string describe_failure(std::string_view operation, const Error& error,
                                    const kinesis::StreamRef& stream, std::string_view region) {
  std::string name = stream.name.empty() ? stream.arn : stream.name;
  if (error.code == ErrorCode::kPermissionDenied) {
    return "the credentials may not call " + iam_action(operation) + " on stream '" + name +
           "' (grant " + iam_action(operation) + " in the IAM policy): " + error.message;
  }
  if (error.code == ErrorCode::kUnauthenticated) {
    return "Kinesis refused the credentials for " + std::string(operation) + " on stream '" + name +
           "': " + error.message;
  }
  if (error.code == ErrorCode::kNotFound) {
    // The usual cause besides a typo: the job's region is not the stream's.
    return "stream '" + name + "' was not found in region " + std::string(region) + " (" +
           std::string(operation) + "; check the stream name and the job's region): " +
           error.message;
  }
  return std::string(operation) + " on stream '" + name + "' keeps failing: " + error.message;
}

static bool is_fatal(const Error& error) {
  return error.code == ErrorCode::kPermissionDenied || error.code == ErrorCode::kUnauthenticated ||
         error.code == ErrorCode::kInvalidArgument;
}

// --- coordinator ---

void Consumer::run_coordinator() {
  for (;;) {
    TimestampMs now = clock_.now_ms();
    if (rediscover_.exchange(false) && discovered_) next_discovery_ms_ = now;
    if (now >= next_discovery_ms_) {
      Status found = discover(!discovered_);
      if (found.ok()) {
        discovered_ = true;
        discovery_failures_ = 0;
        discovery_failing_since_ = 0;
        next_discovery_ms_ = now + options_.discovery_interval.count();
      } else {
        if (is_fatal(found.error())) {
          report_fatal(
              describe_failure("ListShards", found.error(), options_.stream, client_.region()));
          return;
        }
        if (discovery_failing_since_ == 0) discovery_failing_since_ = now;
        if (now - discovery_failing_since_ > options_.error_after.count()) {
          report_fatal(
              describe_failure("ListShards", found.error(), options_.stream, client_.region()));
          return;
        }
        ++counters_->transient_errors;
        next_discovery_ms_ = now + backoff(options_.error_backoff, ++discovery_failures_).count();
      }
    }
    if (discovered_) {
      if (now >= next_renew_ms_ && !renewals_paused_) {
        renew();
        next_renew_ms_ = now + std::max<std::int64_t>(1, options_.failover_time.count() / 3);
      }
      reap(true, false);
      take();
    }
    if (!wait_until(nullptr, Steady::now() + options_.tick)) return;
  }
}

Status Consumer::discover(bool first) {
  kinesis::ListShardsRequest request;
  request.stream = options_.stream;
  SHOAL_ASSIGN_OR_RETURN(std::vector<kinesis::Shard> shards, client_.list_shards(request));
  SHOAL_ASSIGN_OR_RETURN(std::vector<Lease> existing, leases_.list());
  // The job's start position applies to the shards of its first discovery; shards that appear
  // later are children of known shards and start at their beginning.
  bool initial = first && existing.empty();
  for (const kinesis::Shard& shard : shards) {
    Lease lease;
    lease.shard_id = shard.shard_id;
    if (!shard.parent_shard_id.empty()) lease.parents.push_back(shard.parent_shard_id);
    if (!shard.adjacent_parent_shard_id.empty()) {
      lease.parents.push_back(shard.adjacent_parent_shard_id);
    }
    lease.starting_hash_key = shard.starting_hash_key;
    lease.ending_hash_key = shard.ending_hash_key;
    if (initial) {
      lease.start = options_.start;
      // LATEST: what closed shards held is history; their open descendants start at LATEST.
      if (options_.start.kind == StartKind::kLatest && !shard.open()) lease.finished = true;
    } else {
      lease.start.kind = StartKind::kTrimHorizon;
    }
    SHOAL_ASSIGN_OR_RETURN(bool created, leases_.create(lease));
    (void)created;
  }
  return ok_status();
}

void Consumer::renew() {
  for (auto& [id, worker] : workers_) {
    if (worker->exited || worker->lost) continue;
    Lease lease = worker->lease;
    std::uint64_t expected = worker->counter.load();
    lease.counter = expected + 1;
    Status renewed = leases_.update(lease, expected);
    if (renewed.ok()) {
      worker->counter = expected + 1;
      worker->lease.counter = expected + 1;
    } else if (renewed.error().code == ErrorCode::kFailedPrecondition ||
               renewed.error().code == ErrorCode::kNotFound) {
      worker->lost = true;
      worker->stop = true;
      ++counters_->leases_lost;
      wait_cv_.notify_all();
    }
  }
}

void Consumer::reap(bool release, bool all) {
  for (auto it = workers_.begin(); it != workers_.end();) {
    ShardWorker& worker = *it->second;
    // Rationale: the coordinator joins only exited workers, so that a worker finishing a slow
    // call after losing its lease does not hold up the renewal of the others.
    if (!worker.exited && !(all && worker.stop)) {
      ++it;
      continue;
    }
    if (worker.thread.joinable()) worker.thread.join();
    if (!worker.lost && (release || worker.finished)) {
      Lease lease = worker.lease;
      std::uint64_t expected = worker.counter.load();
      lease.owner.clear();
      lease.counter = expected + 1;
      if (worker.finished) lease.finished = true;
      (void)leases_.update(lease, expected);  // lost meanwhile: the new owner decides
    }
    std::lock_guard lock(workers_mutex_);
    it = workers_.erase(it);
  }
}

void Consumer::take() {
  auto listed = leases_.list();
  if (!listed.ok()) return;
  const std::vector<Lease>& leases = *listed;
  TimestampMs now = clock_.now_ms();
  std::map<std::string, const Lease*> by_shard;
  for (const Lease& lease : leases) by_shard[lease.shard_id] = &lease;
  std::set<std::string> live_owners{options_.worker_id};
  std::size_t unfinished = 0;
  auto expired = [&](const Lease& lease) {
    auto& seen = observed_[lease.shard_id];
    if (seen.changed_ms == 0 || seen.counter != lease.counter) {
      seen.counter = lease.counter;
      seen.changed_ms = now;
    }
    return now - seen.changed_ms >= options_.failover_time.count();
  };
  std::vector<const Lease*> candidates;
  std::map<std::string, std::vector<const Lease*>> held_by_others;  // live owners' leases
  for (const Lease& lease : leases) {
    bool is_expired = expired(lease);
    if (lease.finished) continue;
    ++unfinished;
    if (!lease.owner.empty() && !is_expired) {
      live_owners.insert(lease.owner);
      // (A lease this worker still runs a stopping worker for is not stealable.)
      if (lease.owner != options_.worker_id && workers_.count(lease.shard_id) == 0) {
        held_by_others[lease.owner].push_back(&lease);
      }
    }
    if (workers_.count(lease.shard_id) != 0) continue;
    if (lease.owner.empty() || lease.owner == options_.worker_id || is_expired) {
      candidates.push_back(&lease);
    }
  }
  auto parent_finished = [&](const std::string& parent) {
    auto it = by_shard.find(parent);
    if (it == by_shard.end()) return true;  // trimmed or never seen: nothing left to read
    if (it->second->finished) return true;
    auto checkpoint = read_checkpoint(store_, options_.job_id, parent);
    return checkpoint.ok() && checkpoint->has_value() && (*checkpoint)->shard_end;
  };
  std::size_t target = (unfinished + live_owners.size() - 1) / live_owners.size();
  std::size_t owned = workers_.size();
  for (const Lease* lease : candidates) {
    // A restarted worker reclaims its own leases at once, whatever the target.
    bool own = lease->owner == options_.worker_id;
    if (!own && owned >= target) continue;
    if (!std::all_of(lease->parents.begin(), lease->parents.end(), parent_finished)) continue;
    Lease taken = *lease;
    taken.owner = options_.worker_id;
    taken.counter = lease->counter + 1;
    if (!leases_.update(taken, lease->counter).ok()) continue;
    ++counters_->leases_taken;
    start_worker(taken);
    ++owned;
  }
  if (owned < target) steal(held_by_others, target, parent_finished);
}

void Consumer::steal(const std::map<std::string, std::vector<const Lease*>>& held_by_others,
                     std::size_t target,
                     const std::function<bool(const std::string&)>& parent_finished) {
  // The KCL's balancing: nothing free is left and this worker holds fewer than its share, so it
  // takes one lease from the most loaded live worker if that one holds more than the share. One
  // per pass, and only from a worker above the target, so the workers converge and never swap a
  // lease back and forth. The victim learns it at its next renewal; until then the fence refuses
  // its checkpoints (a page it applies after the steal is refused, not committed).
  const std::vector<const Lease*>* most = nullptr;
  for (const auto& [owner, held] : held_by_others) {
    if (!most || held.size() > most->size()) most = &held;
  }
  if (!most || most->size() <= target) return;
  // The victim's last shard in id order: deterministic, and the same one on every pass until
  // the steal succeeds (it may be refused while that shard's checkpoint is in flight).
  const Lease* lease = *std::max_element(
      most->begin(), most->end(),
      [](const Lease* a, const Lease* b) { return a->shard_id < b->shard_id; });
  if (!std::all_of(lease->parents.begin(), lease->parents.end(), parent_finished)) return;
  Lease taken = *lease;
  taken.owner = options_.worker_id;
  taken.counter = lease->counter + 1;
  if (!leases_.update(taken, lease->counter).ok()) return;  // renewed or busy: next pass
  ++counters_->leases_taken;
  ++counters_->leases_stolen;
  start_worker(taken);
}

void Consumer::start_worker(const Lease& taken) {
  auto worker = std::make_unique<ShardWorker>();
  worker->lease = taken;
  worker->counter = taken.counter;
  worker->status.shard_id = taken.shard_id;
  ShardWorker* raw = worker.get();
  {
    std::lock_guard lock(workers_mutex_);
    workers_.emplace(taken.shard_id, std::move(worker));
  }
  raw->thread = std::thread([this, raw] {
    run_worker(*raw);
    raw->exited = true;
  });
}

// --- shard worker ---

void Consumer::run_worker(ShardWorker& worker) {
  const std::string& shard_id = worker.lease.shard_id;
  RecordDecoder decoder(options_.decode);
  HashRange range = make_hash_range(worker.lease.starting_hash_key, worker.lease.ending_hash_key);
  std::optional<Checkpoint> checkpoint;
  for (int attempt = 1;; ++attempt) {
    auto read = read_checkpoint(store_, options_.job_id, shard_id);
    if (read.ok()) {
      checkpoint = *read;
      break;
    }
    if (!wait_until(&worker, Steady::now() + backoff(options_.error_backoff, attempt))) return;
  }
  if (checkpoint && checkpoint->shard_end) {
    worker.finished = true;
    return;
  }
  std::optional<std::string> iterator;
  auto next_call = Steady::now();
  auto idle = options_.min_poll_interval;
  int failures = 0;
  TimestampMs failing_since = 0;
  auto set_position = [&](const Checkpoint& cp) {
    std::lock_guard lock(worker.status_mutex);
    worker.status.position = cp.shard_end ? "SHARD_END" : cp.sequence_number;
  };
  if (checkpoint) set_position(*checkpoint);

  // A failed call: fatal, or retried with backoff (and fatal after error_after).
  auto failed = [&](std::string_view operation, const Error& error) -> bool {
    TimestampMs now = clock_.now_ms();
    if (is_fatal(error)) {
      report_fatal(describe_failure(operation, error, options_.stream, client_.region()));
      return false;
    }
    if (failing_since == 0) failing_since = now;
    if (now - failing_since > options_.error_after.count()) {
      report_fatal(describe_failure(operation, error, options_.stream, client_.region()));
      return false;
    }
    ++failures;
    bool throttled = error.code == ErrorCode::kResourceExhausted;
    if (throttled) {
      ++counters_->throttles;
      std::lock_guard lock(worker.status_mutex);
      ++worker.status.throttles;
    } else {
      ++counters_->transient_errors;
    }
    next_call = Steady::now() +
                backoff(throttled ? options_.throttle_backoff : options_.error_backoff, failures);
    return true;
  };

  while (!worker.stop) {
    if (!wait_until(&worker, next_call)) return;
    if (!iterator) {
      kinesis::GetShardIteratorRequest request;
      request.stream = options_.stream;
      request.shard_id = shard_id;
      if (checkpoint) {
        request.type = kinesis::ShardIteratorType::kAfterSequenceNumber;
        request.starting_sequence_number = checkpoint->sequence_number;
      } else {
        switch (worker.lease.start.kind) {
          case StartKind::kTrimHorizon:
            request.type = kinesis::ShardIteratorType::kTrimHorizon;
            break;
          case StartKind::kLatest:
            request.type = kinesis::ShardIteratorType::kLatest;
            break;
          case StartKind::kAtTimestamp:
            request.type = kinesis::ShardIteratorType::kAtTimestamp;
            request.timestamp = worker.lease.start.timestamp;
            break;
        }
      }
      auto got = client_.get_shard_iterator(request);
      if (!got.ok()) {
        if (!failed("GetShardIterator", got.error())) return;
        continue;
      }
      iterator = std::move(*got);
    }
    auto result = client_.get_records(*iterator, options_.get_records_limit);
    auto received = Steady::now();
    ++counters_->get_records_calls;
    auto called = Steady::now();
    next_call = called + options_.min_poll_interval;
    if (!result.ok()) {
      if (kinesis::has_aws_error_code(result.error(), "ExpiredIteratorException")) {
        // Re-acquire from the last committed position (the checkpoint) or the start.
        ++counters_->iterator_resets;
        {
          std::lock_guard lock(worker.status_mutex);
          ++worker.status.iterator_resets;
        }
        iterator.reset();
        continue;
      }
      if (!failed("GetRecords", result.error())) return;
      continue;
    }
    failures = 0;
    failing_since = 0;
    kinesis::GetRecordsResult& got = *result;
    bool end = !got.next_shard_iterator.has_value();
    bool idle_page = got.records.empty();
    std::uint64_t bytes = 0;
    for (const kinesis::Record& r : got.records) bytes += r.data.size() + r.partition_key.size();
    counters_->records_read += got.records.size();
    counters_->bytes_read += bytes;
    {
      std::lock_guard lock(worker.status_mutex);
      worker.status.millis_behind_latest = got.millis_behind_latest;
      worker.status.records_read += got.records.size();
    }
    if (!got.records.empty() || end) {
      auto page = std::make_shared<Page>();
      for (std::uint32_t i = 0; i < got.records.size(); ++i) {
        decoder.decode(shard_id, got.records[i], range, page->events, page->dead);
        page->record_of_event.resize(page->events.size(), i);
      }
      if (end) {
        page->checkpoint.shard_end = true;
      } else {
        const kinesis::Record& last = got.records.back();
        page->checkpoint.sequence_number = last.sequence_number;
        std::uint32_t sub = 0;
        for (const DecodedEvent& e : page->events) {
          if (e.position.sequence_number == last.sequence_number) {
            sub = std::max(sub, e.position.sub_sequence);
          }
        }
        for (const DeadLetter& d : page->dead) {
          if (d.position.sequence_number == last.sequence_number) {
            sub = std::max(sub, d.position.sub_sequence);
          }
        }
        page->checkpoint.sub_sequence = sub;
      }
      page->records = std::move(got.records);
      Checkpoint next_checkpoint = page->checkpoint;
      if (!commit_page(worker, page)) return;
      record_latency(Steady::now() - received);
      checkpoint = next_checkpoint;
      set_position(next_checkpoint);
      if (end) {
        worker.finished = true;
        ++counters_->shards_finished;
        rediscover_ = true;
        wait_cv_.notify_all();
        return;
      }
    }
    iterator = std::move(got.next_shard_iterator);
    if (idle_page && got.millis_behind_latest == 0) {
      idle = std::min(idle * 2, options_.max_idle_interval);
      next_call = called + idle;
    } else {
      idle = options_.min_poll_interval;
    }
  }
}

bool Consumer::commit_page(ShardWorker& worker, std::shared_ptr<Page> page) {
  const std::string shard_id = worker.lease.shard_id;
  LeaseStore& leases = leases_;
  const std::string owner = options_.worker_id;
  const std::string job_id = options_.job_id;
  const std::string target = options_.target_stream;
  const Clock& clock = clock_;
  std::atomic<std::uint64_t>& counter = worker.counter;
  for (int attempt = 0;; ++attempt) {
    {
      std::lock_guard lock(page->mutex);
      page->done = false;
      page->fenced = false;
    }
    auto work = [page, &leases, &counter, &clock, shard_id, owner, job_id,
                 target](engine::Engine& engine) {
      if (!leases.begin_checkpoint(shard_id, owner, counter.load()).ok()) {
        page->fenced = true;
        return;
      }
      page->pinned = true;
      TimestampMs now = clock.now_ms();
      for (std::size_t i = 0; i < page->events.size(); ++i) {
        DecodedEvent& event = page->events[i];
        const std::size_t n = page->events.size();
        engine::EventOutcome outcome;
        try {
          const DecodedEvent* next = i + 1 < n ? &page->events[i + 1] : nullptr;
          engine.look_ahead(target, next ? &next->data : nullptr, next ? next->ts : 0,
                            i + 2 < n ? &page->events[i + 2].data : nullptr);
          outcome = engine.apply_event(target, event.data, event.ts);
        } catch (const std::exception& e) {
          // Rationale: the page must stay whole (its checkpoint is staged below), so a failure
          // inside the engine dead-letters the event instead of leaving the page half applied.
          outcome.applied = false;
          outcome.reason = std::string("internal error: ") + e.what();
        }
        if (outcome.applied) {
          ++page->applied;
          continue;
        }
        // Not mappable: keep the (sub-)record's payload so a fixed mapping can replay it.
        const kinesis::Record& record = page->records[page->record_of_event[i]];
        DeadLetter letter{shard_id,    event.position,       outcome.reason,
                          record.data, record.partition_key, record.approximate_arrival_timestamp,
                          now};
        if (auto subs = kinesis::deaggregate(record.data);
            subs.ok() && subs->has_value() && event.position.sub_sequence < (*subs)->size()) {
          letter.data = (**subs)[event.position.sub_sequence].data;
          letter.partition_key = (**subs)[event.position.sub_sequence].partition_key;
        }
        engine.stage_put(dead_letter_key(job_id, letter), encode_dead_letter(letter));
        ++page->dead_lettered;
      }
      for (DeadLetter& letter : page->dead) {
        letter.dead_lettered_ms = now;
        engine.stage_put(dead_letter_key(job_id, letter), encode_dead_letter(letter));
        ++page->dead_lettered;
      }
      engine.stage_put(checkpoint_key(job_id, shard_id), encode_checkpoint(page->checkpoint));
    };
    auto done = [page, &leases, shard_id](const Status& status) {
      std::lock_guard lock(page->mutex);
      page->commit = status;
      // Rationale: a failed commit keeps the staged writes for the next one, so the fence stays
      // up until a commit succeeds (the worker flushes below).
      if (page->pinned && status.ok()) {
        leases.end_checkpoint(shard_id);
        page->pinned = false;
      }
      page->done = true;
      page->cv.notify_all();
    };
    Status submitted = partition_.submit(work, done);
    if (!submitted.ok()) {
      // Back-pressure (queue full) or the engine not running: wait and retry, never drop.
      ++counters_->backpressure_waits;
      if (!wait_until(&worker, Steady::now() + std::chrono::milliseconds(10))) return false;
      continue;
    }
    {
      std::unique_lock lock(page->mutex);
      page->cv.wait(lock, [&] { return page->done; });
    }
    if (page->fenced) {
      ++counters_->fenced_checkpoints;
      // A renewal may have raced the check; retry only while the store says the lease is ours.
      auto listed = leases_.list();
      bool still_ours = false;
      if (listed.ok()) {
        for (const Lease& lease : *listed) {
          if (lease.shard_id == shard_id && lease.owner == owner &&
              lease.counter == worker.counter.load()) {
            still_ours = true;
          }
        }
      }
      if (!still_ours || worker.stop || attempt > 3) {
        worker.lost = true;
        worker.stop = true;
        ++counters_->leases_lost;
        return false;
      }
      continue;
    }
    // Applied. If the commit failed the changes stay staged in the engine: flush until one
    // commits, then lift the fence.
    while (!page->commit.ok()) {
      auto flushed = std::make_shared<Page>();
      auto flush_done = [flushed](const Status& status) {
        std::lock_guard lock(flushed->mutex);
        flushed->commit = status;
        flushed->done = true;
        flushed->cv.notify_all();
      };
      if (!partition_.submit([](engine::Engine&) {}, flush_done).ok()) {
        if (!wait_until(&worker, Steady::now() + std::chrono::milliseconds(50))) return false;
        continue;
      }
      std::unique_lock lock(flushed->mutex);
      flushed->cv.wait(lock, [&] { return flushed->done; });
      if (flushed->commit.ok()) {
        std::lock_guard page_lock(page->mutex);
        page->commit = ok_status();
        if (page->pinned) {
          leases_.end_checkpoint(shard_id);
          page->pinned = false;
        }
      } else if (!wait_until(&worker, Steady::now() + std::chrono::milliseconds(50))) {
        return false;
      }
    }
    counters_->events_applied += page->applied;
    counters_->dead_lettered += page->dead_lettered;
    ++counters_->pages_committed;
    std::lock_guard lock(worker.status_mutex);
    worker.status.events_applied += page->applied;
    worker.status.dead_lettered += page->dead_lettered;
    return true;
  }
}

void Consumer::record_latency(Steady::duration latency) {
  std::lock_guard lock(latency_mutex_);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  std::uint32_t sample = static_cast<std::uint32_t>(std::min<std::int64_t>(us, UINT32_MAX));
  if (latencies_us_.size() < kMaxLatencySamples) {
    latencies_us_.push_back(sample);
  } else {
    latencies_us_[latency_next_++ % kMaxLatencySamples] = sample;
  }
}

std::chrono::microseconds Consumer::page_latency_percentile(double q) const {
  std::vector<std::uint32_t> samples;
  {
    std::lock_guard lock(latency_mutex_);
    samples = latencies_us_;
  }
  if (samples.empty()) return std::chrono::microseconds(0);
  std::size_t at = std::min(samples.size() - 1,
                            static_cast<std::size_t>(q * static_cast<double>(samples.size())));
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(at),
                   samples.end());
  return std::chrono::microseconds(samples[at]);
}

ImportCounters Consumer::counters() const {
  ImportCounters out;
  const Counters& c = *counters_;
  out.records_read = c.records_read;
  out.bytes_read = c.bytes_read;
  out.events_applied = c.events_applied;
  out.dead_lettered = c.dead_lettered;
  out.get_records_calls = c.get_records_calls;
  out.throttles = c.throttles;
  out.transient_errors = c.transient_errors;
  out.iterator_resets = c.iterator_resets;
  out.pages_committed = c.pages_committed;
  out.fenced_checkpoints = c.fenced_checkpoints;
  out.backpressure_waits = c.backpressure_waits;
  out.leases_taken = c.leases_taken;
  out.leases_stolen = c.leases_stolen;
  out.leases_lost = c.leases_lost;
  out.shards_finished = c.shards_finished;
  std::lock_guard lock(workers_mutex_);
  for (const auto& [id, worker] : workers_) {
    if (worker->exited) continue;
    ++out.shards_owned;
    std::lock_guard status_lock(worker->status_mutex);
    out.millis_behind_latest = std::max<std::uint64_t>(
        out.millis_behind_latest,
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, worker->status.millis_behind_latest)));
  }
  return out;
}

std::vector<ShardStatus> Consumer::shards() const {
  std::vector<ShardStatus> out;
  std::lock_guard lock(workers_mutex_);
  for (const auto& [id, worker] : workers_) {
    std::lock_guard status_lock(worker->status_mutex);
    out.push_back(worker->status);
  }
  return out;
}

}  // namespace shoal::import
