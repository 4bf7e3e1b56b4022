#include "export/deliverer.h"

#include <algorithm>
#include <unordered_set>
#include <utility>

#include "export/dead_letter.h"
#include "export/message.h"

namespace shoal::exports {
namespace {

// How long a round waits when nothing can be sent and nothing says when that changes.
constexpr std::int64_t kIdleWaitMs = 200;
// How long to wait when every ready message's shard is out of tokens.
constexpr std::int64_t kRateWaitMs = 10;
// Ready messages a round gathers per record a call may take.
constexpr std::size_t kCandidatesPerRecord = 4;

}  // namespace

Deliverer::Deliverer(storage::Store& store, const Clock& clock, Subscription subscription,
                     std::unique_ptr<Sink> sink, DelivererHooks hooks)
    : store_(store),
      clock_(clock),
      subscription_(std::move(subscription)),
      sink_(std::move(sink)),
      hooks_(std::move(hooks)),
      next_key_(outbox_prefix(subscription_.id)),
      paused_(subscription_.paused) {}

Deliverer::~Deliverer() { stop(); }

void Deliverer::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void Deliverer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sink_) sink_->cancel();
  if (thread_.joinable()) thread_.join();
}

void Deliverer::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_.notify_all();
}

void Deliverer::set_paused(bool paused) {
  {
    std::lock_guard lock(mutex_);
    if (paused_ && !paused) retry_now_ = true;
    paused_ = paused;
  }
  wake_.notify_all();
}

DelivererStats Deliverer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Deliverer::run() {
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    std::int64_t wait_ms = round(clock_.now_ms());
    if (crashed_.load()) return;
    std::unique_lock lock(mutex_);
    stats_.pending = pending_.size();
    if (stopping_) return;
    if (wait_ms > 0) {
      wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                     [&] { return stopping_ || notified_; });
    }
    // Backfill steps and dead-letter replays commit without a notification: look every round.
    outbox_may_have_more_ = true;
    notified_ = false;
  }
}

Status Deliverer::refill(TimestampMs now) {
  std::size_t room = subscription_.delivery.window > pending_.size()
                         ? subscription_.delivery.window - pending_.size()
                         : 0;
  if (room == 0 || !outbox_may_have_more_) return ok_status();
  std::string prefix = outbox_prefix(subscription_.id);
  std::size_t loaded = 0;
  std::string last;
  Status status = store_.scan_from(prefix, next_key_, [&](std::string_view key,
                                                          std::string_view value) {
    std::string_view partition_key, message;
    RetryState retry;
    Pending p;
    p.key = std::string(key);
    p.loaded_ms = now;
    if (decode_outbox_entry(value, partition_key, message, &retry)) {
      p.partition_key = std::string(partition_key);
      p.data = std::string(message);
      // Failed before a restart: its count and age go on (it is due at once).
      p.attempts = retry.attempts;
      p.first_failure_ms = retry.first_failure_ms;
      p.last_error = std::move(retry.last_error);
    } else {
      p.partition_key = "corrupt";
      p.last_error = "outbox entry is corrupt";
      p.attempts = subscription_.delivery.max_attempts;  // straight to the dead letters
    }
    pending_.emplace(sequence_of_key(key), std::move(p));
    last = std::string(key);
    return ++loaded < room;
  });
  if (!last.empty()) next_key_ = last + '\0';
  if (loaded < room) outbox_may_have_more_ = false;
  return status;
}

void Deliverer::record_error(const std::string& error, TimestampMs now) {
  std::lock_guard lock(mutex_);
  if (stats_.last_error.empty()) stats_.error_since_ms = now;
  stats_.last_error = error;
  stats_.last_error_ms = now;
}

void Deliverer::fail(Pending& p, const std::string& error, TimestampMs now,
                     storage::Batch& batch, std::vector<std::uint64_t>& dead) {
  const DeliveryOptions& d = subscription_.delivery;
  ++p.attempts;
  if (p.first_failure_ms == 0) p.first_failure_ms = now;
  p.last_error = error;
  {
    std::lock_guard lock(mutex_);
    ++stats_.failed_attempts;
  }
  bool too_old = d.max_age_ms > 0 && now - p.first_failure_ms >= d.max_age_ms;
  if (p.attempts >= d.max_attempts || too_old) {
    DeadLetter letter{p.partition_key, p.data, p.last_error, p.attempts, now};
    std::string value;
    encode_dead_letter(letter, value);
    std::uint64_t seq = sequence_of_key(p.key);
    batch.erase(p.key);
    batch.put(dead_letter_key(subscription_.id, seq), value);
    dead.push_back(seq);
    return;
  }
  // The attempts are stored with the message, so a restart resumes its count and age.
  std::string value;
  encode_outbox_entry(p.partition_key, p.data,
                      RetryState{p.attempts, p.first_failure_ms, p.last_error}, value);
  batch.put(p.key, value);
  // Exponential backoff with a jitter of up to half the delay, derived from the sequence so
  // that it needs no random source and spreads retries of one batch.
  int shift = static_cast<int>(std::min<std::uint32_t>(p.attempts - 1, 20));
  std::int64_t delay = std::min(d.backoff_max_ms, d.backoff_base_ms << shift);
  std::uint64_t h = sequence_of_key(p.key) * 0x9E3779B97F4A7C15ull;
  delay = delay / 2 + static_cast<std::int64_t>((h >> 33) % static_cast<std::uint64_t>(delay / 2 + 1));
  p.not_before = now + delay;
}

void Deliverer::erase_delivered(const std::vector<std::uint64_t>& accepted,
                                storage::Batch& batch) const {
  // `accepted` is in sequence order. A run of accepted messages that are neighbours in
  // `pending_` has no other live message between them in the store: `pending_` holds every
  // live outbox key below `next_key_` (keys are only added above it, by the engine's commits in
  // sequence order, and only this thread erases them). So each run costs one range tombstone
  // instead of one tombstone per message. Outbox keys have one length, so key + '\0' is the
  // first key after `key`.
  std::size_t i = 0;
  while (i < accepted.size()) {
    auto first = pending_.find(accepted[i]);
    auto last = first;
    std::size_t j = i;
    while (j + 1 < accepted.size()) {
      auto next = std::next(last);
      if (next == pending_.end() || next->first != accepted[j + 1]) break;
      last = next;
      ++j;
    }
    if (first == last) {
      batch.erase(first->second.key);
    } else {
      batch.erase_range(first->second.key, last->second.key + '\0');
    }
    i = j + 1;
  }
}

std::int64_t Deliverer::round(TimestampMs now) {
  bool retry_now = false;
  {
    std::lock_guard lock(mutex_);
    if (paused_) return kIdleWaitMs;
    retry_now = std::exchange(retry_now_, false);
  }
  if (retry_now) {
    for (auto& [seq, p] : pending_) p.not_before = 0;
  }
  if (Status s = refill(now); !s.ok()) {
    record_error(s.error().message, now);
    return kIdleWaitMs;
  }
  if (pending_.empty()) return kIdleWaitMs;
  const DeliveryOptions& d = subscription_.delivery;
  std::size_t max_records = std::min(d.max_batch_records, sink_->max_batch_records());

  // Pass 1: the first message of every key, if it is due; oversized ones go to the dead letters.
  // Rationale for the bound: a call takes at most max_records, so looking further than a few
  // calls' worth (spare candidates for shards out of tokens) only costs time; without it every
  // round walked and hashed the whole window (20,000 messages for a 500-record call).
  const std::size_t enough = max_records * kCandidatesPerRecord;
  std::unordered_set<std::string_view> seen;
  seen.reserve(std::min(pending_.size(), enough * 2));
  std::vector<std::uint64_t> ready;
  TimestampMs oldest = INT64_MAX;
  TimestampMs next_retry = INT64_MAX;
  storage::Batch batch;
  std::vector<std::uint64_t> dead;
  for (auto& [seq, p] : pending_) {
    if (ready.size() >= enough) break;
    if (!seen.insert(p.partition_key).second) continue;
    if (p.attempts >= d.max_attempts) {  // corrupt
      fail(p, p.last_error, now, batch, dead);
      continue;
    }
    if (p.data.size() + p.partition_key.size() > d.max_record_bytes) {
      p.attempts = d.max_attempts - 1;
      fail(p, "message of " + std::to_string(p.data.size()) + " bytes exceeds max_record_bytes",
           now, batch, dead);
      continue;
    }
    if (p.not_before > now) {
      next_retry = std::min(next_retry, p.not_before);
      continue;
    }
    ready.push_back(seq);
    oldest = std::min(oldest, p.loaded_ms);
  }
  auto settle = [&] {
    if (batch.count() > 0) {
      Status written = store_.write(batch);
      if (!written.ok()) record_error(written.error().message, now);
    }
    for (std::uint64_t seq : dead) pending_.erase(seq);
    std::lock_guard lock(mutex_);
    stats_.dead_lettered += dead.size();
  };
  if (ready.empty()) {
    settle();
    return next_retry == INT64_MAX ? kIdleWaitMs : std::max<std::int64_t>(1, next_retry - now);
  }
  if (ready.size() < max_records && now - oldest < d.linger_ms) {
    settle();
    std::int64_t wait = d.linger_ms - (now - oldest);
    if (next_retry != INT64_MAX) wait = std::min(wait, next_retry - now);
    return std::max<std::int64_t>(1, wait);
  }

  // Pass 2: fill the batch within the call's limits and the shards' rates.
  std::vector<std::uint64_t> chosen;
  std::vector<OutgoingEntry> entries;
  Status prepared = sink_->prepare(now);
  if (!prepared.ok()) {
    std::string error = prepared.error().message;
    for (std::size_t i = 0; i < ready.size() && i < max_records; ++i) {
      fail(pending_.at(ready[i]), error, now, batch, dead);
    }
    record_error(error, now);
    settle();
    {
      std::lock_guard lock(mutex_);
      ++stats_.calls;
    }
    return std::max<std::int64_t>(1, d.backoff_base_ms);
  }
  std::size_t bytes = 0;
  bool rate_limited = false;
  for (std::uint64_t seq : ready) {
    Pending& p = pending_.at(seq);
    std::size_t size = p.data.size() + p.partition_key.size();
    if (chosen.size() >= max_records || bytes + size > d.max_batch_bytes) break;
    if (!sink_->admit(p.partition_key, size, now)) {
      rate_limited = true;
      continue;
    }
    bytes += size;
    chosen.push_back(seq);
    entries.push_back({p.partition_key, p.data});
  }
  if (chosen.empty()) {
    settle();
    return rate_limited ? kRateWaitMs : kIdleWaitMs;
  }
  auto outcomes = sink_->send(entries);
  {
    std::lock_guard lock(mutex_);
    ++stats_.calls;
  }
  std::vector<std::uint64_t> accepted;
  bool any_failed = false;
  if (!outcomes.ok()) {
    if (outcomes.error().code == ErrorCode::kCancelled) return kIdleWaitMs;  // stopping
    std::string error = outcomes.error().message;
    for (std::uint64_t seq : chosen) fail(pending_.at(seq), error, now, batch, dead);
    record_error(error, now);
    any_failed = true;
  } else {
    std::string first_error;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      Pending& p = pending_.at(chosen[i]);
      if ((*outcomes)[i].ok) {
        accepted.push_back(chosen[i]);
      } else {
        any_failed = true;
        if (first_error.empty()) first_error = (*outcomes)[i].error;
        fail(p, (*outcomes)[i].error, now, batch, dead);
      }
    }
    if (!first_error.empty()) record_error(first_error, now);
  }
  if (!accepted.empty() && hooks_.crash_after_send) {
    std::vector<std::string> messages;
    for (std::uint64_t seq : accepted) messages.push_back(pending_.at(seq).data);
    if (hooks_.crash_after_send(messages)) {
      crashed_.store(true);
      return 0;
    }
  }
  erase_delivered(accepted, batch);
  settle();
  for (std::uint64_t seq : accepted) pending_.erase(seq);
  {
    std::lock_guard lock(mutex_);
    stats_.sent += accepted.size();
    if (!any_failed) {
      stats_.last_error.clear();
      stats_.error_since_ms = 0;
    }
  }
  if (any_failed && accepted.empty()) return std::max<std::int64_t>(1, d.backoff_base_ms);
  return 0;
}

}  // namespace shoal::exports
