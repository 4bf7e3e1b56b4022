#pragma once
// Engine: event -> mapping -> identity -> profile -> segments -> triggers, for one node's
// partitions, as a function of (state, input, now). The caller moves the clock (advance_to);
// the engine never reads a clock itself. Single-threaded: one thread owns an Engine.
//
// Durability is a command log plus checkpoints. Every call that changes state (an event, a
// clock move, an admin operation, a build step) is recorded as a command; commit() writes the
// commands since the last commit as one log record, atomically with the triggers they produced,
// the input positions and staged writes, and only then releases the triggers. A checkpoint
// writes the state itself (every profile, identity and timer changed since the last one) and
// erases the log it covers. open() loads the last checkpoint and re-runs the log's commands:
// the engine is deterministic, so that rebuilds exactly the state of the last commit. Triggers
// re-emitted by that re-run were committed the first time and are dropped.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "engine/id_table.h"
#include "engine/identity_cache.h"
#include "engine/timer_queue.h"
#include "mapping/mapping.h"
#include "model/merge.h"
#include "model/profile.h"
#include "segment/catalog.h"
#include "storage/codec.h"
#include "storage/store.h"

namespace shoal::engine {

enum class TriggerEvent : std::uint8_t { kEnter, kExit };
enum class TriggerReason : std::uint8_t { kEval, kMerged, kDeleted };

std::string_view trigger_event_name(TriggerEvent event);
std::string_view trigger_reason_name(TriggerReason reason);

// One enter or exit of one profile in one segment.
struct Trigger {
  std::uint64_t sequence = 0;  // outbox order
  TimestampMs ts = 0;
  model::ProfileId profile;
  model::SegmentOrdinal segment;
  // The segment's id and slug when it was emitted (a segment removed since: its ordinal as id,
  // an empty slug).
  std::shared_ptr<const segment::SegmentLabel> label;
  TriggerEvent event = TriggerEvent::kEnter;
  TriggerReason reason = TriggerReason::kEval;
  TimestampMs entered_ms = 0;  // when the profile entered (== ts for an enter)
  // The profile's identities at that moment, shared by the triggers emitted while they did not
  // change (copying them into each trigger was ~5% of the engine); null means none.
  std::shared_ptr<const std::vector<model::Identity>> identity_snapshot;
  std::uint64_t change_counter = 0;  // the profile's, when the trigger was emitted

  const std::vector<model::Identity>& identities() const;
  const std::string& segment_id() const;
  const std::string& slug() const;

  // Stable: a hash of (profile, segment id, event, ts, change counter). Computed on demand:
  // most triggers are never exported, and hashing them all cost ~5% of the engine.
  std::string id() const;
};

// The trigger's stable id: 32 hex characters hashed from (profile, segment id, event, ts,
// change counter), so a resend carries the same id.
std::string make_trigger_id(model::ProfileId profile, std::string_view segment_id,
                            TriggerEvent event, TimestampMs ts, std::uint64_t change_counter);

// The trigger as one JSON line (replay's output format).
std::string trigger_to_json(const Trigger& trigger);

// The outbox is a trigger log: each commit writes its triggers as one record keyed by the first
// trigger's sequence (one RocksDB write per commit, not per trigger). These encode and decode
// such a record; decoding checks every length. The record keeps the segment's ordinal and the
// change counter, not the segment id, slug or trigger id: Engine::read_outbox fills those in.
void encode_trigger_batch(const std::vector<Trigger>& triggers, std::size_t begin,
                          std::size_t end, std::string& out);
Result<std::vector<Trigger>> decode_trigger_batch(std::string_view bytes);

struct IdentityLimit {
  std::string field;
  std::size_t max_values = 1;
};

class Engine;

// Called by Engine::commit on the engine thread with the triggers this commit emits, before the
// batch is written: it may add writes to the batch (they commit atomically with the state that
// produced the triggers: e.g. per-subscription export outboxes) and read the cached profiles
// (Engine::cached_profile). An error fails the commit (retried with the next one).
using CommitObserver =
    std::function<Status(const Engine& engine, const std::vector<Trigger>& triggers,
                         storage::Batch& batch)>;

struct EngineOptions {
  model::MergeOptions merge;
  // Replay evaluates a newly registered segment over every profile when the millisecond
  // closes; the server builds it in the background through build_step().
  bool synchronous_segment_builds = true;
  // Memory bounds: after a commit, the least recently used clean profiles (and a share of the
  // identity index cache) are dropped beyond these; they are read back when needed. The
  // profile cache is bounded in bytes (approximately: sampled profile footprints, see
  // model::footprint, plus the cache's own per-entry overhead) and, when non-zero, in count.
  std::size_t profile_cache_bytes = std::size_t{1} << 30;
  std::size_t max_cached_profiles = 0;
  std::size_t max_cached_identities = 1'000'000;
  std::vector<IdentityLimit> identity_limits;
  storage::PartitionId partition = 0;
  CommitObserver commit_observer;  // optional
  // false: every commit is a checkpoint (writes the changed state itself, no log).
  bool command_log = true;
  // Each commit's triggers are also written to the global trigger log (`O` records, read with
  // read_outbox, removed by acknowledge_through). The server turns it off: every export
  // subscription keeps its own outbox, which the commit observer fills in the same batch.
  bool trigger_log = true;
  // commit() checkpoints by itself when the log since the last checkpoint exceeds this many
  // bytes (bounds the re-run after a crash) or this many profiles wait to be written (they
  // cannot be evicted from memory until then). 0 for the latter: half the profile cache.
  std::size_t checkpoint_log_bytes = 64u << 20;
  std::size_t checkpoint_dirty_profiles = 0;
  // Checkpoints started by commit() are encoded and written by a background thread while the
  // engine goes on (a checkpoint of 100k profiles is a ~50 MB batch: writing it inline held
  // every caller for half a second); a profile the engine is about to use is encoded first, as
  // it was. When the profiles changed since reach the dirty bound while one is still in
  // flight, commit() waits for it (memory bound). false: written inline.
  bool background_checkpoints = true;
};

struct EngineCounters {
  std::uint64_t events_in = 0;
  std::uint64_t events_applied = 0;
  std::uint64_t events_without_mapping = 0;
  std::uint64_t events_where_rejected = 0;
  std::uint64_t events_without_identity = 0;
  std::uint64_t fields_dropped = 0;
  std::uint64_t identities_dropped_by_limit = 0;
  std::uint64_t profiles_created = 0;
  std::uint64_t profiles_merged = 0;
  std::uint64_t profiles_deleted = 0;
  std::uint64_t triggers = 0;
  std::uint64_t evaluations = 0;
  std::uint64_t commits = 0;
  std::uint64_t store_writes = 0;  // keys put or deleted by commits
  std::uint64_t store_bytes = 0;   // bytes of those batches
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpoint_failures = 0;  // background writes that failed (retried by the next)
  std::uint64_t log_records = 0;       // command-log records written
  std::uint64_t log_bytes = 0;         // their bytes
  std::uint64_t log_records_replayed = 0;  // by open(), after a crash
  std::uint64_t eviction_passes = 0;       // scans of the profile cache for profiles to drop
};

// What happened to one event: applied (possibly with dropped fields), or why it was not.
struct EventOutcome {
  bool applied = false;
  std::string reason;                       // when not applied
  std::vector<std::string> warnings;        // dropped fields, identities dropped by a limit
  model::ProfileId profile;                 // when applied
};

class Engine {
 public:
  Engine(storage::Store& store, EngineOptions options);
  ~Engine();  // waits for a checkpoint in flight
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads the last checkpoint (segments, mappings, counters, timers, open builds) and re-runs
  // the command log written after it.
  Status open();

  // Registers or replaces the mapping of its stream (takes effect for the next event).
  Result<const mapping::Mapping*> set_mapping(std::string_view text);
  const mapping::Mapping* mapping_for(std::string_view stream) const;
  std::vector<const mapping::Mapping*> mappings() const;

  // Registers or replaces segments at the current instant and starts building them over the
  // existing profiles: synchronously when the millisecond closes (replay), or in steps
  // (build_step) so that ingestion is not stalled. Profiles that change meanwhile are evaluated
  // for the new segments as usual.
  segment::BatchResult register_segments(const std::vector<std::string>& texts);
  const segment::Catalog& catalog() const { return catalog_; }

  struct BuildProgress {
    std::uint64_t done = 0;
    std::uint64_t total = 0;
  };
  // Evaluates up to `max_profiles` existing profiles of the oldest unfinished build at the
  // current instant (members enter now). Returns the number evaluated; 0 when nothing is left.
  Result<std::size_t> build_step(std::size_t max_profiles);
  // Progress of the build that covers `ordinal`, or nullopt when it is not being built.
  std::optional<BuildProgress> segment_build_progress(model::SegmentOrdinal ordinal) const;
  // Exact number of current members.
  std::uint64_t segment_size(model::SegmentOrdinal ordinal) const;
  // Profiles that exist now.
  std::uint64_t profile_count() const { return profile_count_; }

  // Moves the clock forward to `now`: closes the open millisecond, then fires every timer due
  // before `now` at its own instant. A `now` earlier than the current instant is clamped.
  void advance_to(TimestampMs now);
  // Closes the open millisecond: evaluates the profiles changed in it and timers due at it.
  void close_millisecond();
  TimestampMs now() const { return now_; }

  // Applies one event of `stream` at the current instant. `event_ts` is the event's own time.
  EventOutcome apply_event(std::string_view stream, const model::Value& data,
                           TimestampMs event_ts);
  // Look-ahead for callers that apply a batch of events of `stream`: before applying one, they
  // pass the next two (nullptr past the end), and the cache misses of those events' first
  // reads overlap this one. The data of the one after next starts loading (parsed on another
  // thread, it is not in this core's cache: its first reads were ~5% of the engine thread);
  // the next one's identities are mapped from its data (loaded by then) and the identity-index
  // slots they are looked up in start loading. A hint: it changes nothing.
  void look_ahead(std::string_view stream, const model::Value* next, TimestampMs next_ts,
                  const model::Value* after_next);
  // Removes one field from the profile that holds identity (field, value).
  Status delete_field(std::string_view identity_field, std::string_view identity_value,
                      std::string_view field);
  // Deletes the profile that holds identity (field, value): it exits every segment (reason
  // `deleted`) and its identities are freed.
  Status delete_profile(std::string_view identity_field, std::string_view identity_value);

  // The profile holding identity (field, value), or nullptr.
  Result<const model::Profile*> find_profile(std::string_view field, std::string_view value);

  // Writes for the next commit's batch, atomic with the engine's changes (an import's source
  // positions and dead letters, say). A failed commit keeps them for the next one.
  void stage_put(std::string key, std::string value);
  void stage_erase(std::string key);
  // The profile `id` if it is in memory (every profile a pending trigger names is, during a
  // commit observer's call, except deleted ones), else nullptr.
  const model::Profile* cached_profile(model::ProfileId id) const;

  // Makes every change since the last commit durable, with the triggers they produced and
  // `positions` (source -> position bytes), in one atomic batch (a command-log record, or a
  // checkpoint when one is due); then appends those triggers to `released`.
  Status commit(std::vector<Trigger>& released,
                const std::vector<std::pair<std::string, std::string>>& positions = {});
  // commit(), then a checkpoint written before this returns (after the one in flight, if any):
  // the state itself is in the store and the log is erased. For stopping, tests and replay.
  // With background checkpoints on, it is the background writer's (as files), waited for.
  Status checkpoint(std::vector<Trigger>& released,
                    const std::vector<std::pair<std::string, std::string>>& positions = {});
  // Makes the next commit() start a checkpoint (the server asks every few seconds).
  void request_checkpoint() { checkpoint_requested_ = true; }
  // True when commit() would start a checkpoint (requested, or a log or dirty-profile bound
  // reached).
  bool checkpoint_due() const;
  // Deletes the outbox records whose triggers all have sequence <= `sequence` (delivered).
  Status acknowledge_through(std::uint64_t sequence);
  // Committed, unacknowledged triggers with sequence > `after`, in order, at most `limit`.
  Result<std::vector<Trigger>> read_outbox(std::uint64_t after, std::size_t limit) const;

  const EngineCounters& counters() const { return counters_; }
  // What the cached profiles hold in memory, summed (a full scan of the cache: for benchmarks
  // and diagnostics, not per request). `profiles` is the number cached.
  struct CacheFootprint {
    std::size_t profiles = 0;
    model::ProfileFootprint bytes;
  };
  CacheFootprint cache_footprint() const;
  std::size_t cached_profiles() const { return profiles_.size(); }
  // How many profiles the cache keeps: the count bound, or the byte budget divided by the
  // sampled bytes per cached profile, whichever is smaller.
  std::size_t profile_cache_limit() const { return profile_cache_limit_; }

  // --- queries and operations for the server (implemented in engine_queries.cc) ---
  struct MemberPage {
    std::vector<model::Profile> profiles;
    std::optional<model::ProfileId> next;  // continue after this id; absent at the end
  };
  // Members of `ordinal` with ids above `after`, in id order: at most `limit` of them, looking
  // at no more than `max_examined` profiles (then `next` says where to go on).
  Result<MemberPage> segment_members(model::SegmentOrdinal ordinal, model::ProfileId after,
                                     std::size_t limit, std::size_t max_examined);
  // Removes a segment: its members exit now (reason eval) and its text leaves the store.
  // kNotFound; kFailedPrecondition while another segment INCLUDEs it.
  Status remove_segment(std::string_view alias);
  // Removes the mapping of `stream` (its events are then not applied). kNotFound.
  Status remove_mapping(std::string_view stream);
  // --- end of server section ---

 private:
  // A timer-index key as (due, profile id): pairs sort as the keys do (storage::timer_key), and
  // keeping one costs no allocation (the key's 19 bytes do not fit a string's inline buffer;
  // one was made and freed per fired timer). Written out as keys by the checkpoint.
  using TimerKey = TimerQueue::Entry;
  struct CachedProfile {
    model::Profile profile;
    TimestampMs committed_key_due = model::kNoTime;  // profile.timer_key_due as stored
    std::uint64_t last_used = 0;                      // for eviction
    bool in_store = false;
    bool in_flight = false;  // in the background checkpoint: kept in memory until it lands
    bool awaiting_encode = false;  // in it, and the engine has not claimed it yet
    bool dirty = false;  // changed since the last checkpoint began: its id is in dirty_list_
    std::uint32_t checkpoint_slot = 0;  // its place in the checkpoint's queue while awaiting
  };
  // A changed profile goes into the next checkpoint (a flag on the hot profile, not a lookup in
  // a set of ids: that set's hashing was ~3% of the engine thread).
  void mark_dirty(CachedProfile& cached) {
    if (cached.dirty) return;
    cached.dirty = true;
    dirty_list_.push_back(cached.profile.id.value);
  }
  // The dirty profiles still cached, ascending by id (flags and list unchanged).
  std::vector<std::pair<std::uint64_t, CachedProfile*>> sorted_dirty_profiles();
  // What must be re-evaluated for a profile when the millisecond closes.
  struct PendingEval {
    bool all = false;
    // The segments reading a changed field, as a bitmap over ordinals (core/bitmap.h): a
    // field's readers are OR-ed in a word at a time, where appending their ordinals to a list
    // and marking them in a bitmap later took ~1,200 instructions an event.
    std::vector<std::uint64_t> segment_bits;
  };

  Result<CachedProfile*> load_profile(model::ProfileId id);
  std::shared_ptr<const segment::SegmentLabel> segment_label(model::SegmentOrdinal ordinal) const;
  Result<std::optional<model::ProfileId>> lookup_identity(std::string_view field,
                                                          std::string_view value);
  Status ensure_all_profiles_loaded();
  // Ids of the existing profiles in [from, end), ascending, at most `limit` of them (stored
  // ones and those only in memory); `more` when the limit cut the list short.
  Status profile_ids(std::uint64_t from, std::uint64_t end, std::size_t limit,
                     std::vector<std::uint64_t>& ids, bool& more);
  void evict_if_needed();
  CachedProfile& create_profile();
  void merge_into(CachedProfile& survivor, CachedProfile& absorbed);
  // Queues a profile for evaluation when the millisecond closes: the segments that read one of
  // `changed_fields`, or all of them.
  void mark_pending(model::ProfileId id, const std::vector<std::string_view>& changed_fields,
                    bool all);
  // The segments to evaluate for a profile: those reading a changed field, those whose timer
  // is due, or all of them.
  void collect_segments(const model::Profile& profile, const PendingEval* pending, TimestampMs at,
                        std::vector<model::SegmentOrdinal>& out) const;
  void evaluate_profile(CachedProfile& cached, const std::vector<model::SegmentOrdinal>& segments,
                        TimestampMs at);
  void emit(const model::Profile& profile, model::SegmentOrdinal ordinal, TriggerEvent event,
            TriggerReason reason, TimestampMs at, TimestampMs entered_ms);
  void fire_timers_before(TimestampMs limit);
  // Orders the triggers emitted since index `start` by (ts, profile creation, segment
  // registration) and renumbers their sequences in that order.
  void order_triggers_from(std::size_t start);
  // Keeps the timer index at or before the profile's next timer: a new key only when the next
  // timer moved earlier than the live key (or there is none).
  void rekey_timer(CachedProfile& cached);
  // A timer-index entry (due, id) came due. Returns the profile when one of its timers is due
  // now; otherwise cleans up (stale or orphaned key) and returns nullptr.
  CachedProfile* take_due_timer(TimestampMs due, std::uint64_t id);
  // Called as each due timer is taken: starts fetching, in stages, what the next few timers'
  // evaluations read first (at 1M profiles each is a chain of cache misses: table slot, profile,
  // its fields and lists), so those misses overlap this evaluation instead of stalling theirs.
  void prefetch_next_due_profiles();
  void set_identity(std::string_view field, std::string_view value,
                    std::optional<model::ProfileId> id);
  void touch(CachedProfile& cached);

  // --- command log (engine_log.cc) ---
  // True when a public call must be logged: logging is on, the call is not nested in another
  // logged call, and open() is not re-running the log.
  bool recording() const { return options_.command_log && !replaying_ && call_depth_ == 0; }
  // Marks a public call in progress, so that the calls it makes are not logged again.
  struct CallScope {
    explicit CallScope(Engine& engine) : engine_(engine) { ++engine_.call_depth_; }
    ~CallScope() { --engine_.call_depth_; }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;
    Engine& engine_;
  };
  void log_command(char op, std::initializer_list<std::string_view> texts);
  void log_advance(TimestampMs now);
  void log_event(std::string_view stream, const model::Value& data, TimestampMs event_ts);
  void log_register(const std::vector<std::string>& texts);
  void log_build_step(std::size_t max_profiles);
  // Runs the commands of one log record (open(), after a crash).
  Status run_log_record(std::string_view record);
  // Re-runs the log written after the last checkpoint.
  Status replay_log();
  // Erases log records the last checkpoint covers that are still stored (a background
  // checkpoint erases its log after it landed; a crash in between leaves them).
  Status erase_covered_log();
  // The checkpoint's own record: clock, open millisecond, segment builds, next ordinal.
  std::string encode_checkpoint_state() const;
  Status restore_checkpoint_state(std::string_view bytes);
  // Puts every change since the last checkpoint into `batch` (deletes first).
  void write_state(storage::Batch& batch);
  // The pieces of a checkpoint's batch, in this order. The static ones read only their
  // arguments, so the background writer can run them on sets moved out of the engine. Each
  // piece puts its keys in ascending order: RocksDB's memtable inserts a key next to the one
  // before it cheaply, and a random order made the skip-list searches most of the writer's work.
  static void append_state_deletes(storage::Batch& batch, storage::PartitionId partition,
                                   const std::unordered_set<std::uint64_t>& deleted_profiles,
                                   std::vector<TimerKey>& deleted_timer_keys);
  // Puts the profile; its new timer-index key (if any) goes to `timer_keys`, written after all
  // the profiles by append_timer_keys.
  void encode_profile_writes(const CachedProfile& cached, storage::Batch& batch,
                             std::vector<TimerKey>& timer_keys);
  // The same for any thread: `buffer` is scratch space.
  static void encode_profile_writes(const CachedProfile& cached, storage::PartitionId partition,
                                    std::string& buffer, storage::Batch& batch,
                                    std::vector<TimerKey>& timer_keys);
  static void append_timer_keys(storage::Batch& batch, storage::PartitionId partition,
                                std::vector<TimerKey>& timer_keys);
  static void append_index_writes(
      storage::Batch& batch, storage::PartitionId partition,
      const std::unordered_map<std::string, std::optional<model::ProfileId>>& identities,
      const std::map<std::uint32_t, std::optional<std::string>>& segments,
      const std::map<std::string, std::optional<std::string>, std::less<>>& mappings);
  // The counters and the checkpoint's own record. A checkpoint also erases the log it covers,
  // [first_seq, end_seq): append_log_erasure.
  void append_checkpoint_meta(storage::Batch& batch);
  static void append_log_erasure(storage::Batch& batch, std::uint64_t first_seq,
                                 std::uint64_t end_seq);
  // A profile the checkpoint in flight has yet to encode is about to be used: encode it now, as
  // it was at the checkpoint's instant.
  void snapshot_for_checkpoint(CachedProfile& cached) {
    if (cached.awaiting_encode) encode_if_awaited(cached);
  }
  void encode_if_awaited(CachedProfile& cached);
  // The commit's own batch: a log record (or, for a checkpoint, the state), the triggers,
  // positions, staged writes and the observer's writes.
  Status write_commit(std::vector<Trigger>& released,
                      const std::vector<std::pair<std::string, std::string>>& positions,
                      bool as_checkpoint);
  // Everything that was dirty is now in the store: clear the dirty sets.
  void mark_checkpointed();
  // Starts writing the state as of now on a background thread (after a log commit).
  void start_background_checkpoint();
  // Takes in the background checkpoint's outcome once it is written (wait: until it is).
  // Returns the checkpoint's write status (ok when none was in flight or it is not done).
  Status finish_background_checkpoint(bool wait);
  // Deleted since the last completed checkpoint (the store may still hold it).
  bool deleted_since_checkpoint(std::uint64_t id) const;
  // An identity-index change that no completed checkpoint has written yet.
  bool identity_unwritten(const std::string& cache_key) const;

  storage::Store& store_;
  EngineOptions options_;
  segment::Catalog catalog_;
  std::map<std::string, std::unique_ptr<mapping::Mapping>, std::less<>> mappings_;
  mapping::MappedEvent mapped_;  // reused per event
  mapping::MappedEvent lookahead_;  // look_ahead's

  TimestampMs now_ = INT64_MIN;
  bool millisecond_open_ = false;
  std::uint64_t next_profile_id_ = 1;
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_trigger_seq_ = 1;
  std::uint64_t use_clock_ = 0;

  IdTable<CachedProfile> profiles_;
  // Identity index cache: "field\0value" -> profile id (nullopt = known absent, pending delete).
  IdentityCache identities_;
  std::string identity_key_buffer_;  // lookup_identity's key
  // Every identity of this partition is in identities_ (none in the store at open, none
  // evicted since): a lookup that misses the cache needs no store read.
  bool identity_cache_complete_ = false;
  std::vector<std::uint64_t> scratch_due_ids_;  // fire_timers_before's
  mutable std::vector<std::uint64_t> scratch_marks_;  // collect_segments' bitmap, all zero between calls
  std::map<model::ProfileId, PendingEval> pending_;  // ordered: evaluation order = creation order
  // A segment build: the profiles that existed at registration (ids below end_id), evaluated
  // for `segments` in id order from `next_id`.
  struct SegmentBuild {
    std::vector<model::SegmentOrdinal> segments;
    std::uint64_t next_id = 1;
    std::uint64_t end_id = 1;
    BuildProgress progress;
  };
  std::vector<SegmentBuild> builds_;
  std::unordered_map<std::uint32_t, std::uint64_t> segment_sizes_;
  bool sizes_dirty_ = false;
  std::uint64_t profile_count_ = 0;
  std::vector<model::SegmentOrdinal> scratch_segments_;
  std::vector<segment::SegmentAnswer> scratch_answers_;
  // evaluate_profile's decoded membership and timer lists, old and new, and its encoder; reused.
  std::vector<model::OrdinalTime> scratch_old_members_;
  std::vector<model::OrdinalTime> scratch_new_members_;
  std::vector<model::OrdinalTime> scratch_old_timers_;
  std::vector<model::OrdinalTime> scratch_new_timers_;
  model::OrdinalTimes::Builder scratch_list_builder_;
  // Cache sizes above which the next eviction pass runs, when the last one could not get under
  // the limit (0: the limit itself). See evict_if_needed.
  std::size_t evict_profiles_above_ = 0;
  // The profile cache's bound in count (from the options and the sampled bytes per profile).
  std::size_t profile_cache_limit_ = 0;
  double sampled_profile_bytes_ = 0;
  std::size_t sample_slot_ = 0;  // where the next footprint sample starts in profiles_
  std::uint64_t events_at_footprint_sample_ = 0;
  void update_profile_cache_limit();
  std::size_t evict_identities_above_ = 0;
  // A checkpoint made cached profiles droppable: the next commit may run a pass at once.
  void allow_eviction_pass() { evict_profiles_above_ = evict_identities_above_ = 0; }
  std::size_t dirty_profile_bound() const;
  std::vector<std::string_view> scratch_fields_;
  std::vector<std::optional<model::ProfileId>> scratch_found_ids_;  // apply_event's
  std::vector<std::size_t> field_hints_;  // apply_event's: per mapped field, its last index

  TimerQueue timers_;  // (due, profile id)

  // Uncommitted changes.
  // Ids of the profiles marked dirty (a merged or deleted one's id may linger: skipped).
  std::vector<std::uint64_t> dirty_list_;
  // Reused by commit(): a fresh batch regrew (and page-faulted) its buffer to the commit's size
  // every time; reuse took 16% off the export observer's CPU (BENCHMARKS.md "export").
  storage::Batch commit_batch_;
  std::string encode_buffer_;  // reused by encode_profile_writes
  std::unordered_set<std::uint64_t> deleted_profiles_;
  std::vector<TimerKey> deleted_timer_keys_;
  std::unordered_map<std::string, std::optional<model::ProfileId>> dirty_identities_;
  // Segment and mapping texts to put (or erase: nullopt) at the next checkpoint.
  std::map<std::uint32_t, std::optional<std::string>> dirty_segments_;
  std::map<std::string, std::optional<std::string>, std::less<>> dirty_mappings_;
  std::vector<Trigger> unreleased_;
  std::vector<std::pair<std::string, std::optional<std::string>>> staged_writes_;
  // Committed outbox records: (first sequence, last sequence), oldest first.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> outbox_records_;

  // Command log: the commands since the last commit, and the log records since the last
  // checkpoint ([first_log_seq_, next_log_seq_), log_bytes_ bytes).
  std::string commands_;
  bool replaying_ = false;
  int call_depth_ = 0;
  std::uint64_t first_log_seq_ = 1;
  std::uint64_t next_log_seq_ = 1;
  // Records below this one are erased. Those from here to first_log_seq_ are covered by a
  // checkpoint that landed but may still be stored (a background checkpoint erases its log in
  // a write of its own, which can fail): the next checkpoint erases them too.
  std::uint64_t unerased_log_seq_ = 1;
  std::size_t log_bytes_ = 0;
  // Profiles with ids from here on were created after the last completed checkpoint (only in
  // memory; store scans stop here, so their results do not depend on when a background
  // checkpoint lands).
  std::uint64_t checkpoint_profile_id_ = 1;
  bool checkpoint_requested_ = false;
  // The checkpoint being written in the background: what it covers, to undo on failure.
  struct InflightCheckpoint;
  std::unique_ptr<InflightCheckpoint> inflight_;
  double checkpoint_bytes_per_profile_ = 0;  // the last background checkpoint's, to size the next

  EngineCounters counters_;
};

}  // namespace shoal::engine
