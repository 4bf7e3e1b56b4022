// The engine's command log and the checkpoint's own record (see engine.h and README.md).
//
// A log record is a format byte followed by commands, each an op byte and its arguments:
//   'A' svarint now                 advance_to
//   'C'                             close_millisecond
//   'E' bytes stream, svarint ts, value    apply_event
//   'M' bytes text                  set_mapping
//   'S' varint n, n x bytes text    register_segments
//   'B' varint max_profiles         build_step
//   'F' bytes field, bytes value, bytes name   delete_field
//   'D' bytes field, bytes value    delete_profile
//   'R' bytes alias                 remove_segment
//   'Q' bytes stream                remove_mapping
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "core/bitmap.h"
#include "core/varint.h"
#include "engine/engine.h"

namespace shoal::engine {
namespace {

constexpr std::uint8_t kLogFormat = 1;
constexpr std::uint8_t kCheckpointFormat = 1;

Error corrupt_log(std::uint64_t seq, std::string_view what) {
  return make_error(ErrorCode::kCorruption,
                    "command log record " + std::to_string(seq) + " is corrupt: " +
                        std::string(what));
}

}  // namespace

// A checkpoint written in the background. At its instant (a commit boundary) the engine moved
// its dirty sets here and marked the changed profiles (`in_flight`, `awaiting_encode`, their
// `checkpoint_slot`); the writer thread then encodes those profiles and writes the batch while
// the engine goes on. A profile the engine is about to use is claimed first: if the writer has
// not encoded it yet, the engine encodes it itself, as it was at the checkpoint's instant. Each
// queue slot's state makes every profile encoded exactly once, by one of the two, without a
// lock the engine would wait on while the writer (at nice 19) is descheduled holding it: the
// engine waits only when it wants the very profile the writer is encoding. Everything goes
// back to the engine's dirty sets if the write fails.
struct Engine::InflightCheckpoint {
  enum SlotState : int { kAwaiting, kWriterEncoding, kEngineEncoding, kEncoded };
  // The writer's work list, ascending by id. A profile's node stays put (eviction skips
  // in_flight ones; a merge or deletion claims the profile before erasing it), but the writer
  // dereferences an entry only after it took the slot from kAwaiting.
  std::vector<std::pair<std::uint64_t, CachedProfile*>> queue;
  std::unique_ptr<std::atomic<int>[]> states;  // per queue slot
  // Encoded by the writer: its profiles' puts (in id order, after the deletes), their ids and
  // new timer keys.
  storage::Batch writes;
  std::size_t writes_reserve = 0;  // bytes to reserve for `writes` (made by the writer)
  std::vector<std::uint64_t> profiles;
  std::vector<TimerKey> timer_keys;
  // Encoded by the engine (claimed); the writer appends them once every slot is kEncoded.
  storage::Batch claimed_writes;
  std::vector<std::uint64_t> claimed_profiles;
  std::vector<TimerKey> claimed_timer_keys;
  storage::Batch meta;  // counters, sizes, checkpoint record
  std::unordered_set<std::uint64_t> deleted;
  std::unordered_map<std::string, std::optional<model::ProfileId>> identities;
  std::vector<TimerKey> deleted_timer_keys;
  std::map<std::uint32_t, std::optional<std::string>> segments;
  std::map<std::string, std::optional<std::string>, std::less<>> mappings;
  std::uint64_t previous_first_log_seq = 0;  // the log it covers starts here
  std::uint64_t log_end_seq = 0;             // and ends before this record
  std::size_t log_bytes = 0;                 // and has this many bytes
  std::uint64_t log_erase_from = 0;          // it erases from unerased_log_seq_ at the boundary
  bool log_erased = false;                   // set by the writer before `done`
  std::uint64_t profile_watermark = 0;       // next_profile_id_ at the boundary

  std::thread writer;
  std::atomic<bool> done{false};
  Status status;  // set by the writer before `done`
  std::size_t written_count = 0, written_bytes = 0;
};

Engine::Engine(storage::Store& store, EngineOptions options)
    : store_(store), options_(std::move(options)) {
  update_profile_cache_limit();
}

Engine::~Engine() { (void)finish_background_checkpoint(/*wait=*/true); }

void Engine::mark_checkpointed() {
  dirty_list_.clear();
  deleted_profiles_.clear();
  deleted_timer_keys_.clear();
  dirty_identities_.clear();
  dirty_segments_.clear();
  dirty_mappings_.clear();
  sizes_dirty_ = false;
  first_log_seq_ = next_log_seq_;
  log_bytes_ = 0;
  allow_eviction_pass();
}

bool Engine::deleted_since_checkpoint(std::uint64_t id) const {
  return deleted_profiles_.count(id) || (inflight_ && inflight_->deleted.count(id));
}

bool Engine::identity_unwritten(const std::string& cache_key) const {
  return dirty_identities_.count(cache_key) ||
         (inflight_ && inflight_->identities.count(cache_key));
}

void Engine::start_background_checkpoint() {
  auto c = std::make_unique<InflightCheckpoint>();
  // Key order: see append_state_deletes.
  const std::vector<std::pair<std::uint64_t, CachedProfile*>> dirty = sorted_dirty_profiles();
  append_checkpoint_meta(c->meta);  // the counters and clock of this instant
  c->deleted = std::move(deleted_profiles_);
  c->identities = std::move(dirty_identities_);
  c->deleted_timer_keys = std::move(deleted_timer_keys_);
  c->segments = std::move(dirty_segments_);
  c->mappings = std::move(dirty_mappings_);
  c->previous_first_log_seq = first_log_seq_;
  c->log_end_seq = next_log_seq_;
  c->log_erase_from = unerased_log_seq_;
  c->log_bytes = log_bytes_;
  c->profile_watermark = next_profile_id_;
  // Sized from the last checkpoint's bytes per profile: hundreds of megabytes built by
  // doubling were copied twice over and faulted in anew. Allocated by the writer, in its own
  // arena: the engine thread's keeps what it frees (ADR 5), and these blocks are not its own.
  c->writes_reserve = static_cast<std::size_t>(static_cast<double>(dirty.size()) *
                                               checkpoint_bytes_per_profile_ * 1.1);
  // The writer's list; the engine keeps these profiles in memory until the checkpoint lands.
  c->queue.reserve(dirty.size());
  c->profiles.reserve(dirty.size());
  c->states = std::make_unique<std::atomic<int>[]>(dirty.size());  // all kAwaiting (0)
  for (const auto& [id, node] : dirty) {
    CachedProfile& cached = *node;
    cached.dirty = false;
    cached.in_flight = true;
    cached.awaiting_encode = true;
    cached.checkpoint_slot = static_cast<std::uint32_t>(c->queue.size());
    c->queue.emplace_back(id, &cached);
  }
  // The list's other entries are profiles merged or deleted since they changed.
  mark_checkpointed();
  checkpoint_requested_ = false;
  inflight_ = std::move(c);
  InflightCheckpoint* checkpoint = inflight_.get();
  const storage::PartitionId partition = options_.partition;
  storage::Store* store = &store_;
  checkpoint->writer = std::thread([checkpoint, store, partition] {
    using Slot = InflightCheckpoint;
    InflightCheckpoint& job = *checkpoint;
    // Lowest priority: on a small machine the checkpoint should take longer rather than take
    // the CPU from the engine thread and the server's I/O threads (Linux nice is per thread).
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
    job.writes = storage::Batch(job.writes_reserve);
    // Deletes first: a key deleted and put again since the last checkpoint must end up put.
    append_state_deletes(job.writes, partition, job.deleted, job.deleted_timer_keys);
    std::string buffer;
    for (std::size_t i = 0; i < job.queue.size(); ++i) {
      std::atomic<int>& state = job.states[i];
      int expected = Slot::kAwaiting;
      if (!state.compare_exchange_strong(expected, Slot::kWriterEncoding,
                                         std::memory_order_acquire)) {
        continue;  // the engine claimed it
      }
      const auto& [id, cached] = job.queue[i];
      encode_profile_writes(*cached, partition, buffer, job.writes, job.timer_keys);
      cached->committed_key_due = cached->profile.timer_key_due;
      job.profiles.push_back(id);
      state.store(Slot::kEncoded, std::memory_order_release);
      state.notify_all();
    }
    // The engine's claims in progress finish; after that it no longer touches claimed_*.
    for (std::size_t i = 0; i < job.queue.size(); ++i) {
      std::atomic<int>& state = job.states[i];
      for (int seen = state.load(std::memory_order_acquire); seen != Slot::kEncoded;
           seen = state.load(std::memory_order_acquire)) {
        state.wait(seen, std::memory_order_acquire);
      }
    }
    storage::Batch& batch = job.writes;
    batch.append(job.claimed_writes);
    job.timer_keys.insert(job.timer_keys.end(),
                          std::make_move_iterator(job.claimed_timer_keys.begin()),
                          std::make_move_iterator(job.claimed_timer_keys.end()));
    append_timer_keys(batch, partition, job.timer_keys);
    append_index_writes(batch, partition, job.identities, job.segments, job.mappings);
    batch.append(job.meta);
    // As SST files added whole, through no memtable: the checkpoint's tens of megabytes do
    // not hold the commits' WAL writes behind theirs (at nice 19 that took up to half a
    // second), are not inserted into a skip list only to be flushed, nor go to disk twice. A
    // crash before they are added loses the checkpoint whole: the next start re-runs the log
    // from the previous checkpoint. The log it covers is erased after it landed (the next
    // start erases what a crash left of it: erase_covered_log).
    job.status = store->write_as_files(batch);
    if (job.status.ok()) {
      storage::Batch erasure;
      append_log_erasure(erasure, job.log_erase_from, job.log_end_seq);
      job.log_erased = erasure.count() == 0 || store->write(erasure).ok();
    }
    job.written_count = batch.count();
    job.written_bytes = batch.bytes();
    batch = storage::Batch();  // hand the memory back here, not on the engine thread
    job.claimed_writes = storage::Batch();
    job.done.store(true, std::memory_order_release);
  });
}

void Engine::encode_if_awaited(CachedProfile& cached) {
  using Slot = InflightCheckpoint;
  cached.awaiting_encode = false;
  InflightCheckpoint& c = *inflight_;
  std::atomic<int>& state = c.states[cached.checkpoint_slot];
  int seen = Slot::kAwaiting;
  if (!state.compare_exchange_strong(seen, Slot::kEngineEncoding, std::memory_order_acquire)) {
    // The writer has it: it reads the profile until it is encoded.
    for (; seen != Slot::kEncoded; seen = state.load(std::memory_order_acquire)) {
      state.wait(seen, std::memory_order_acquire);
    }
    return;
  }
  encode_profile_writes(cached, options_.partition, encode_buffer_, c.claimed_writes,
                        c.claimed_timer_keys);
  cached.committed_key_due = cached.profile.timer_key_due;
  c.claimed_profiles.push_back(cached.profile.id.value);
  state.store(Slot::kEncoded, std::memory_order_release);
  state.notify_all();
}

Status Engine::finish_background_checkpoint(bool wait) {
  if (!inflight_) return ok_status();
  if (!wait && !inflight_->done.load(std::memory_order_acquire)) return ok_status();
  inflight_->writer.join();
  std::unique_ptr<InflightCheckpoint> c = std::move(inflight_);
  const bool ok = c->status.ok();
  c->profiles.insert(c->profiles.end(), c->claimed_profiles.begin(), c->claimed_profiles.end());
  for (std::uint64_t id : c->profiles) {
    CachedProfile* cached = profiles_.find(id);
    if (!cached) continue;  // merged or deleted since: in deleted_profiles_
    cached->in_flight = false;
    cached->awaiting_encode = false;
    if (ok) {
      cached->in_store = true;
    } else {
      cached->committed_key_due = model::kNoTime;  // its timer key is written again
      mark_dirty(*cached);
    }
  }
  if (ok) {
    ++counters_.checkpoints;
    counters_.store_writes += c->written_count;
    counters_.store_bytes += c->written_bytes;
    if (!c->profiles.empty()) {
      checkpoint_bytes_per_profile_ = static_cast<double>(c->written_bytes) /
                                      static_cast<double>(c->profiles.size());
    }
    checkpoint_profile_id_ = c->profile_watermark;
    if (c->log_erased) unerased_log_seq_ = c->log_end_seq;  // else the next checkpoint does
    allow_eviction_pass();  // its profiles may be dropped now
    return ok_status();
  }
  // The next checkpoint writes all of it again, and erases the log from where this one would
  // have: nothing is lost, the log is only longer.
  ++counters_.checkpoint_failures;
  deleted_profiles_.insert(c->deleted.begin(), c->deleted.end());
  for (auto& [key, id] : c->identities) dirty_identities_.try_emplace(key, id);
  deleted_timer_keys_.insert(deleted_timer_keys_.end(), c->deleted_timer_keys.begin(),
                             c->deleted_timer_keys.end());
  for (auto& [ordinal, text] : c->segments) dirty_segments_.try_emplace(ordinal, text);
  for (auto& [stream, text] : c->mappings) dirty_mappings_.try_emplace(stream, text);
  sizes_dirty_ = true;
  first_log_seq_ = c->previous_first_log_seq;
  log_bytes_ += c->log_bytes;
  return c->status;
}

void Engine::log_command(char op, std::initializer_list<std::string_view> texts) {
  if (commands_.empty()) commands_.push_back(static_cast<char>(kLogFormat));
  commands_.push_back(op);
  for (std::string_view text : texts) put_bytes(commands_, text);
}

void Engine::log_advance(TimestampMs now) {
  log_command('A', {});
  put_svarint(commands_, now);
}

void Engine::log_event(std::string_view stream, const model::Value& data, TimestampMs event_ts) {
  log_command('E', {stream});
  put_svarint(commands_, event_ts);
  storage::encode_value(data, commands_);
}

void Engine::log_register(const std::vector<std::string>& texts) {
  log_command('S', {});
  put_varint(commands_, texts.size());
  for (const std::string& text : texts) put_bytes(commands_, text);
}

void Engine::log_build_step(std::size_t max_profiles) {
  log_command('B', {});
  put_varint(commands_, max_profiles);
}

Status Engine::run_log_record(std::string_view record) {
  ByteReader in(record);
  std::uint8_t format = 0;
  if (!in.byte(format) || format != kLogFormat) {
    return make_error(ErrorCode::kCorruption, "unknown format");
  }
  auto truncated = [](char op) {
    return make_error(ErrorCode::kCorruption,
                      std::string("truncated command '") + op + "'");
  };
  while (!in.done()) {
    std::uint8_t op_byte = 0;
    in.byte(op_byte);
    const char op = static_cast<char>(op_byte);
    // The outcomes are those the first run had (the engine is deterministic); they were
    // reported then.
    switch (op) {
      case 'A': {
        std::int64_t now = 0;
        if (!in.svarint(now)) return truncated(op);
        advance_to(now);
        break;
      }
      case 'C':
        close_millisecond();
        break;
      case 'E': {
        std::string_view stream;
        std::int64_t ts = 0;
        if (!in.bytes(stream) || !in.svarint(ts)) return truncated(op);
        std::string_view rest = in.rest();
        const std::size_t before = rest.size();
        auto data = storage::decode_value(rest);
        if (!data.ok()) return data.take_error().with_context("an event");
        in.skip(before - rest.size());
        (void)apply_event(stream, *data, ts);
        break;
      }
      case 'M': {
        std::string_view text;
        if (!in.bytes(text)) return truncated(op);
        (void)set_mapping(text);
        break;
      }
      case 'S': {
        std::uint64_t n = 0;
        if (!in.varint(n) || n > in.remaining()) return truncated(op);
        std::vector<std::string> texts(n);
        for (std::string& text : texts) {
          if (!in.bytes(text)) return truncated(op);
        }
        (void)register_segments(texts);
        break;
      }
      case 'B': {
        std::uint64_t max_profiles = 0;
        if (!in.varint(max_profiles)) return truncated(op);
        (void)build_step(max_profiles);
        break;
      }
      case 'F': {
        std::string_view field, value, name;
        if (!in.bytes(field) || !in.bytes(value) || !in.bytes(name)) return truncated(op);
        (void)delete_field(field, value, name);
        break;
      }
      case 'D': {
        std::string_view field, value;
        if (!in.bytes(field) || !in.bytes(value)) return truncated(op);
        (void)delete_profile(field, value);
        break;
      }
      case 'R': {
        std::string_view alias;
        if (!in.bytes(alias)) return truncated(op);
        (void)remove_segment(alias);
        break;
      }
      case 'Q': {
        std::string_view stream;
        if (!in.bytes(stream)) return truncated(op);
        (void)remove_mapping(stream);
        break;
      }
      default:
        return make_error(ErrorCode::kCorruption,
                          "unknown command byte " + std::to_string(op_byte));
    }
  }
  return ok_status();
}

Status Engine::erase_covered_log() {
  const std::string prefix(1, static_cast<char>(storage::RecordType::kCommandLog));
  const std::string end = storage::command_log_key(first_log_seq_);
  storage::Batch erasure;
  SHOAL_RETURN_IF_ERROR(store_.scan(prefix, [&](std::string_view key, std::string_view) {
    if (key >= end) return false;
    erasure.erase(key);
    return true;
  }));
  if (erasure.count() > 0) SHOAL_RETURN_IF_ERROR(store_.write(erasure));
  unerased_log_seq_ = first_log_seq_;
  return ok_status();
}

Status Engine::replay_log() {
  const EngineCounters before = counters_;  // counters count this process's new work only
  std::uint64_t replayed = 0;
  Status run_status;
  replaying_ = true;
  std::string prefix(1, static_cast<char>(storage::RecordType::kCommandLog));
  Status scanned = store_.scan_from(
      prefix, storage::command_log_key(first_log_seq_),
      [&](std::string_view key, std::string_view value) {
        if (key.size() != 9) {
          run_status = make_error(ErrorCode::kCorruption, "a command log key is malformed");
          return false;
        }
        std::uint64_t seq = storage::read_u64_be(key.substr(1));
        if (seq != next_log_seq_) {
          run_status = corrupt_log(seq, "the log has a gap before it");
          return false;
        }
        Status ran = run_log_record(value);
        if (!ran.ok()) {
          run_status = corrupt_log(seq, ran.error().message);
          return false;
        }
        next_log_seq_ = seq + 1;
        log_bytes_ += value.size();
        ++replayed;
        return true;
      });
  replaying_ = false;
  SHOAL_RETURN_IF_ERROR(scanned);
  SHOAL_RETURN_IF_ERROR(run_status);
  // Every trigger of a logged command was committed with its log record the first time.
  unreleased_.clear();
  counters_ = before;
  counters_.log_records_replayed = replayed;
  return ok_status();
}

std::string Engine::encode_checkpoint_state() const {
  std::string out;
  out.push_back(static_cast<char>(kCheckpointFormat));
  put_svarint(out, now_);
  out.push_back(millisecond_open_ ? 1 : 0);
  put_varint(out, catalog_.next_ordinal());
  put_varint(out, next_log_seq_);  // the first record of the next tail
  put_varint(out, pending_.size());
  for (const auto& [id, pending] : pending_) {
    put_varint(out, id.value);
    out.push_back(pending.all ? 1 : 0);
    std::vector<std::uint32_t> ordinals;  // ascending
    bitmap_for_each(pending.segment_bits, [&](std::uint32_t o) { ordinals.push_back(o); });
    put_varint(out, ordinals.size());
    for (std::uint32_t ordinal : ordinals) put_varint(out, ordinal);
  }
  put_varint(out, builds_.size());
  for (const SegmentBuild& build : builds_) {
    put_varint(out, build.segments.size());
    for (model::SegmentOrdinal ordinal : build.segments) put_varint(out, ordinal.value);
    put_varint(out, build.next_id);
    put_varint(out, build.end_id);
    put_varint(out, build.progress.done);
    put_varint(out, build.progress.total);
  }
  return out;
}

Status Engine::restore_checkpoint_state(std::string_view bytes) {
  auto corrupt = [] {
    return make_error(ErrorCode::kCorruption, "the engine's checkpoint record is corrupt");
  };
  ByteReader in(bytes);
  std::uint8_t format = 0, open = 0;
  std::int64_t now = 0;
  std::uint64_t next_ordinal = 0, log_seq = 0, n_pending = 0, n_builds = 0;
  if (!in.byte(format) || format != kCheckpointFormat || !in.svarint(now) || !in.byte(open) ||
      !in.varint(next_ordinal) || next_ordinal > UINT32_MAX || !in.varint(log_seq) ||
      !in.varint(n_pending) || n_pending > in.remaining()) {
    return corrupt();
  }
  auto read_ordinals = [&](std::vector<model::SegmentOrdinal>& out) {
    std::uint64_t n = 0;
    if (!in.varint(n) || n > in.remaining()) return false;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t ordinal = 0;
      if (!in.varint(ordinal) || ordinal > UINT32_MAX) return false;
      out.push_back(model::SegmentOrdinal{static_cast<std::uint32_t>(ordinal)});
    }
    return true;
  };
  std::map<model::ProfileId, PendingEval> pending;
  for (std::uint64_t i = 0; i < n_pending; ++i) {
    std::uint64_t id = 0;
    std::uint8_t all = 0;
    PendingEval eval;
    std::vector<model::SegmentOrdinal> ordinals;
    if (!in.varint(id) || !in.byte(all) || !read_ordinals(ordinals)) return corrupt();
    eval.all = all != 0;
    for (model::SegmentOrdinal ordinal : ordinals) bitmap_set(eval.segment_bits, ordinal.value);
    pending[model::ProfileId{id}] = std::move(eval);
  }
  if (!in.varint(n_builds) || n_builds > in.remaining()) return corrupt();
  std::vector<SegmentBuild> builds(n_builds);
  for (SegmentBuild& build : builds) {
    if (!read_ordinals(build.segments) || !in.varint(build.next_id) ||
        !in.varint(build.end_id) || !in.varint(build.progress.done) ||
        !in.varint(build.progress.total)) {
      return corrupt();
    }
  }
  if (!in.done()) return corrupt();
  now_ = now;
  millisecond_open_ = open != 0;
  catalog_.restore_next_ordinal(static_cast<std::uint32_t>(next_ordinal));
  first_log_seq_ = next_log_seq_ = log_seq;
  builds_ = std::move(builds);
  pending_ = std::move(pending);
  // Closing the millisecond evaluates only profiles in memory (as they always are while
  // pending in a running engine).
  for (const auto& [id, eval] : pending_) SHOAL_RETURN_IF_ERROR(load_profile(id));
  return ok_status();
}

}  // namespace shoal::engine
